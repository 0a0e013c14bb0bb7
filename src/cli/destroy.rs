use clap::Args;
use serde::Serialize;

use crate::aws::SdkCloudFormation;
use crate::cli::{
    AwsOptions, Console, confirm, connect, ctrl_c, runtime, until_interrupted, write_out,
};
use crate::destroy::{self, DestroyPlan, DestroyReport};
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;
use crate::watch::{self, Running};

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[arg(long)]
    pub env: String,

    /// Do not ask for confirmation (required without a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Print what was deleted and kept as JSON (the plan and progress go to stderr).
    #[arg(long)]
    pub json: bool,
}

/// What `destroy --json` prints: the stacks it was to delete, in order, and what it deleted and kept.
#[derive(Serialize)]
struct DestroyDocument<'a> {
    #[serde(flatten)]
    report: &'a DestroyReport,
    stacks: &'a [destroy::StackToDelete],
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
        if args.json { console.err } else { console.out },
        &crate::report::destroy::render_plan(&plan, console.style),
    )?;
    if plan.stacks.is_empty() {
        if args.json {
            let nothing = DestroyReport {
                environment: plan.environment.clone(),
                deleted: Vec::new(),
                kept: Vec::new(),
            };
            write_document(console, &nothing, &plan)?;
        }
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
    let running = Running::new(progress.as_ref());
    // Like apply: a stack whose delete started goes on being deleted; destroy run again waits for it.
    let report = runtime.block_on(until_interrupted(
        destroy::execute(&cloudformation, &plan, watch::FOLLOW, &running),
        ctrl_c(),
        &running,
        format!("strata destroy --env {}", plan.environment),
    ))?;
    drop(running);
    drop(progress);
    if args.json {
        write_document(console, &report, &plan)?;
    } else {
        write_out(
            console.out,
            &crate::report::destroy::render_report(&report, console.style),
        )?;
    }
    Ok(Outcome::Success)
}

fn write_document(
    console: &mut Console,
    report: &DestroyReport,
    plan: &DestroyPlan,
) -> Result<(), Error> {
    let document = DestroyDocument {
        report,
        stacks: &plan.stacks,
    };
    write_out(console.out, &crate::report::json("destroy", &document)?)
}
