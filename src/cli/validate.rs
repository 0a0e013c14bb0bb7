use clap::Args;
use serde::Serialize;

use crate::cli::{Console, PolicyCacheArgs, write_out};
use crate::cost::Estimate;
use crate::error::Error;
use crate::exit::Outcome;
use crate::policy::PolicyReport;
use crate::project::Project;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environment to check; all environments when omitted.
    #[arg(long)]
    pub env: Option<String>,

    /// Print every setting with the file it came from.
    #[arg(long)]
    pub show_origin: bool,

    /// Print the results (stacks, resources, policy findings) as JSON.
    #[arg(long)]
    pub json: bool,

    /// Also estimate each environment's monthly cost (offline, from src/cost/prices.yaml).
    #[arg(long)]
    pub cost: bool,

    #[command(flatten)]
    pub cache: PolicyCacheArgs,
}

#[derive(Serialize)]
struct EnvironmentResult {
    environment: String,
    stacks: Vec<String>,
    resources: usize,
    policy: PolicyReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<Estimate>,
}

pub fn run(
    project: &Project,
    args: &ValidateArgs,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let names = match &args.env {
        Some(name) => vec![name.clone()],
        None => project.environment_names()?,
    };
    let mut problems = Vec::new();
    let mut environments = Vec::new();
    // Environments render independently: on all cores (a fleet of hundreds is otherwise mostly this).
    for rendered in crate::parallel::map(&names, |name| project.render(name)) {
        match rendered {
            Ok(rendered) => environments.push(rendered),
            // Keep going so one run reports every broken environment.
            Err(Error::Invalid(mut found)) => problems.append(&mut found),
            Err(other) => return Err(other),
        }
    }
    // One policy pass over every environment's templates: each rule file runs once over all of them.
    let (reports, _) = project.check_policies_cached(&environments, &args.cache.cache(project))?;
    let mut results = Vec::new();
    for (rendered, policy) in environments.iter().zip(reports) {
        let name = &rendered.environment.name;
        let result = EnvironmentResult {
            environment: name.clone(),
            stacks: rendered.stacks.iter().map(|s| s.name.clone()).collect(),
            resources: rendered.resource_count(),
            policy,
            cost: args
                .cost
                .then(|| crate::cost::estimate_environment(rendered)),
        };
        if !args.json {
            let style = console.style;
            let verdict = if result.policy.has_errors() {
                style.bold_red("policy violation")
            } else {
                style.green("ok")
            };
            let rules = project.policies.selection(&rendered.environment).len();
            write_out(
                console.out,
                &format!(
                    "{verdict} {name}: {} stacks ({}), {} resources, {rules} policy files\n",
                    result.stacks.len(),
                    result.stacks.join(" -> "),
                    result.resources,
                ),
            )?;
            write_out(
                console.out,
                &crate::report::policy::render(name, &result.policy, style),
            )?;
            if let Some(estimate) = &result.cost {
                write_out(console.out, &crate::report::cost::render(estimate, style))?;
            }
            if args.show_origin {
                for (path, file) in rendered.environment.origins.iter() {
                    write_out(console.out, &format!("   {path:<40} {}\n", file.display()))?;
                }
            }
        }
        results.push(result);
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if args.json {
        write_out(console.out, &crate::report::json("validate", &results)?)?;
    }
    if results.iter().any(|r| r.policy.has_errors()) {
        Ok(Outcome::PolicyViolation)
    } else {
        Ok(Outcome::Success)
    }
}
