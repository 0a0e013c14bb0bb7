use clap::Args;

use crate::aws::SdkCloudFormation;
use crate::cli::{AwsOptions, Console, confirm, connect, runtime, write_out};
use crate::destroy;
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;
use crate::watch;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[arg(long)]
    pub env: String,

    /// Do not ask for confirmation (required without a terminal).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(
    project: &Project,
    args: &DestroyArgs,
    aws: &AwsOptions,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    let runtime = runtime()?;
    let clients = runtime.block_on(connect(&rendered.environment, aws))?;
    let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
    let plan = runtime.block_on(destroy::prepare(&cloudformation, &rendered))?;
    write_out(
        console.out,
        &crate::report::destroy::render_plan(&plan, console.style),
    )?;
    if plan.stacks.is_empty() {
        return Ok(Outcome::Success);
    }
    let reasons = destroy::refusals(&plan, &rendered);
    if !reasons.is_empty() {
        return Err(Error::DestroyRefused {
            environment: plan.environment.clone(),
            reasons,
        });
    }
    if !args.yes {
        confirm(
            console,
            &format!(
                "Destroy environment {} (account {}, region {})? This deletes {} stacks.",
                plan.environment,
                rendered.environment.settings.account_id,
                rendered.environment.settings.region,
                plan.stacks.len()
            ),
            "destroy",
            false,
        )?;
    }
    let progress = console.progress();
    let report = runtime.block_on(destroy::execute(
        &cloudformation,
        &plan,
        watch::FOLLOW,
        progress.as_ref(),
    ))?;
    drop(progress);
    write_out(
        console.out,
        &crate::report::destroy::render_report(&report, console.style),
    )?;
    Ok(Outcome::Success)
}
