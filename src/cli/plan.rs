use std::path::PathBuf;

use clap::Args;

use crate::aws::{SdkAccountFacts, SdkCloudFormation};
use crate::cli::{AwsOptions, Console, connect, policy_gate, runtime, write_out};
use crate::error::Error;
use crate::exit::Outcome;
use crate::plan::{self, saved::SavedPlan};
use crate::project::Project;

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
    let plan = runtime()?.block_on(async {
        let clients = connect(&rendered.environment, aws).await?;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        let facts = SdkAccountFacts::new(&clients);
        plan::plan(&cloudformation, &facts, &rendered, args.stack.as_deref()).await
    })?;
    if args.json {
        write_out(console.out, &crate::report::json("plan", &plan)?)?;
    } else {
        write_out(
            console.out,
            &crate::report::plan::render(&plan, console.style),
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
