use std::path::PathBuf;

use clap::Args;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::{SdkAccountFacts, SdkCloudFormation};
use crate::cli::{AwsOptions, Console, connect, policy_gate, runtime, write_out};
use crate::cost;
use crate::error::Error;
use crate::exit::Outcome;
use crate::plan::{self, Plan, StackAction, saved::SavedPlan};
use crate::project::{Project, RenderedEnvironment};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub env: String,

    /// Only this stack; its dependencies must already exist.
    #[arg(long)]
    pub stack: Option<String>,

    /// Save the plan for `strata apply --plan` (CI: plan on the pull request, apply on merge).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,

    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(
    project: &Project,
    args: &PlanArgs,
    aws: &AwsOptions,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    rendered.select(args.stack.as_deref(), project.stacks_dir())?;
    // Policies gate the plan before any AWS call.
    if policy_gate(project, &rendered, console)? {
        return Ok(Outcome::PolicyViolation);
    }
    let (plan, deployed) = runtime()?.block_on(async {
        let clients = connect(&rendered.environment, aws).await?;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        let facts = SdkAccountFacts::new(&clients);
        let plan = plan::plan(&cloudformation, &facts, &rendered, args.stack.as_deref()).await?;
        let deployed = deployed_templates(&cloudformation, &rendered, &plan).await?;
        Ok::<_, Error>((plan, deployed))
    })?;
    if args.json {
        write_out(console.out, &crate::report::json("plan", &plan)?)?;
    } else {
        write_out(
            console.out,
            &crate::report::plan::render(&plan, console.style),
        )?;
        let planned: Vec<(String, serde_json::Value)> = rendered
            .stacks
            .iter()
            .filter(|s| plan.stacks.iter().any(|p| p.stack == s.name))
            .map(|s| (s.name.clone(), crate::render::template_value(&s.template)))
            .collect();
        let (name, region) = (&plan.environment, &plan.region);
        let change = cost::change(
            cost::estimate(name, region, &deployed),
            cost::estimate(name, region, &planned),
        );
        write_out(
            console.out,
            &format!(
                "\n{}",
                crate::report::cost::render_change(&change, console.style)
            ),
        )?;
    }
    if let Some(path) = &args.out {
        SavedPlan::new(plan.clone()).write(path)?;
        if !args.json {
            write_out(
                console.out,
                &format!(
                    "Saved plan to {} (environment {}, for `apply --plan {}`)\n",
                    path.display(),
                    plan.environment,
                    path.display()
                ),
            )?;
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// The templates the planned stacks have now (short name, template), for the cost estimate before
/// the change: a stack without changes has its rendered template, a stack to create none, and a stack
/// the plan removes the template it is deployed with.
async fn deployed_templates<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
    plan: &Plan,
) -> Result<Vec<(String, serde_json::Value)>, Error> {
    let mut templates = Vec::new();
    for stack in &plan.stacks {
        let template = match stack.action {
            StackAction::Create | StackAction::Recreate => continue,
            StackAction::Update => cloudformation.get_template(&stack.stack_name).await?,
            StackAction::NoChanges => {
                match rendered.stacks.iter().find(|s| s.name == stack.stack) {
                    Some(same) => crate::render::template_value(&same.template),
                    None => continue,
                }
            }
        };
        templates.push((stack.stack.clone(), template));
    }
    for removal in &plan.removals {
        let stack = &removal.deletion;
        let template = cloudformation.get_template(&stack.stack_name).await?;
        templates.push((stack.stack.clone(), template));
    }
    Ok(templates)
}
