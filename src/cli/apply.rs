use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;

use crate::apply::{self, ApplyOptions, guard};
use crate::aws::cloudformation::CloudFormation;
use crate::aws::logs_sdk::SdkLogGroups;
use crate::aws::{AwsClients, SdkAccountFacts, SdkArtifacts, SdkCloudFormation, once};
use crate::cli::{
    AwsOptions, Console, confirm, connect, ctrl_c, policy_gate, runtime, until_interrupted,
    write_out,
};
use crate::error::Error;
use crate::exit::Outcome;
use crate::plan::{self, Plan, removal, saved::SavedPlan};
use crate::project::Project;
use crate::watch::{self, Running};

/// What `apply --json` prints: the plan that was applied, and what happened to each stack.
#[derive(serde::Serialize)]
struct ApplyDocument<'a> {
    #[serde(flatten)]
    report: &'a apply::ApplyReport,
    plan: &'a Plan,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[arg(long)]
    pub env: String,

    /// Only this stack; its dependencies must already exist.
    #[arg(long, conflicts_with = "plan")]
    pub stack: Option<String>,

    /// Do not ask for confirmation (required without a terminal unless --plan is given).
    #[arg(long)]
    pub yes: bool,

    /// Apply a plan saved by `strata plan --out` (the reviewed one); refused if anything changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Accept replacing or removing this resource that holds data (a stateful type of the catalog: DB instance, bucket, queue, table, secret, key, log group); repeatable.
    #[arg(long, value_name = "LOGICAL_ID", num_args = 1.., action = clap::ArgAction::Append)]
    pub allow_replace: Vec<String>,

    /// Accept deleting this stack, deployed but without a stack definition any more (short name, e.g. `bastion`, or the stack name); repeatable. The stateful guard still applies to its resources.
    #[arg(long, value_name = "STACK", num_args = 1.., action = clap::ArgAction::Append)]
    pub allow_remove: Vec<String>,

    /// Print the outcome as JSON (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    project: &Project,
    args: &ApplyArgs,
    aws: &AwsOptions,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    rendered.select(args.stack.as_deref(), project.stacks_dir())?;
    let saved = args.plan.as_deref().map(SavedPlan::read).transpose()?;
    if policy_gate(project, &rendered, console)? {
        return Ok(Outcome::PolicyViolation);
    }
    let allowed: BTreeSet<String> = args.allow_replace.iter().cloned().collect();
    let allowed_removals: BTreeSet<String> = args.allow_remove.iter().cloned().collect();
    let options = ApplyOptions {
        termination_protection: rendered.environment.settings.termination_protection,
        wait: watch::FOLLOW,
        allow_replace: allowed.clone(),
    };
    let runtime = runtime()?;
    let clients = runtime.block_on(connect(&rendered.environment, aws))?;
    let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
    let artifacts = SdkArtifacts::new(&clients);
    let facts = SdkAccountFacts::new(&clients);

    let plan = match (&saved, &args.plan) {
        (Some(saved), Some(path)) => runtime.block_on(guard::check_saved_plan(
            &cloudformation,
            &rendered,
            &saved.plan,
            path,
        ))?,
        _ => runtime.block_on(plan::plan(
            &cloudformation,
            &facts,
            &rendered,
            args.stack.as_deref(),
        ))?,
    };
    // With --json, stdout carries the one JSON document; the plan people read goes to stderr.
    let plan_text = crate::report::plan::render(&plan, console.style);
    write_out(
        if args.json { console.err } else { console.out },
        &plan_text,
    )?;
    for unused in guard::unused_allowances(&plan, &allowed) {
        write_out(
            console.err,
            &format!(
                "note: --allow-replace {unused} matches no resource this plan replaces or removes\n"
            ),
        )?;
    }
    for unused in removal::unused_allowances(&plan.removals, &allowed_removals) {
        write_out(
            console.err,
            &format!("note: --allow-remove {unused} matches no stack this plan removes\n"),
        )?;
    }
    if !plan.has_changes() && !options.termination_protection {
        let mut report = apply::ApplyReport::unchanged(&plan);
        // Nothing for CloudFormation to do, but an environment deployed before strata set log
        // retentions (or one whose retention was changed by hand) gets them here.
        retain_logs(&runtime, &clients, &cloudformation, &rendered, &mut report)?;
        if args.json {
            write_document(console, &report, &plan)?;
        } else {
            for change in &report.log_retention {
                let line = crate::report::apply::retention_line(change);
                write_out(console.out, &format!("{line}\n"))?;
            }
        }
        return Ok(Outcome::Success);
    }
    let approved = guard::check_replacements(&plan, &allowed)
        .and_then(|()| removal::check_removals(&plan.removals, &allowed_removals, &allowed))
        .and_then(|()| {
            if args.yes || saved.is_some() || !plan.has_changes() {
                Ok(())
            } else {
                confirm(
                    console,
                    &format!(
                        "Apply these changes to {} (account {}, region {})?",
                        plan.environment, plan.account_id, plan.region
                    ),
                    "apply",
                    true,
                )
            }
        });
    if let Err(refusal) = approved {
        // A fresh plan's change sets are of no use to anyone once refused.
        if saved.is_none() {
            runtime.block_on(discard_change_sets(&cloudformation, &plan));
        }
        return Err(refusal);
    }

    let progress = console.progress();
    let running = Running::new(progress.as_ref());
    let mut report = runtime.block_on(until_interrupted(
        apply::removal::execute(
            &cloudformation,
            &artifacts,
            &rendered,
            &plan,
            &options,
            &running,
        ),
        ctrl_c(),
        &running,
        format!("strata apply --env {}", plan.environment),
    ))?;
    drop(running);
    drop(progress);
    retain_logs(&runtime, &clients, &cloudformation, &rendered, &mut report)?;
    if args.json {
        write_document(console, &report, &plan)?;
    } else {
        write_out(console.out, "\n")?;
        write_out(
            console.out,
            &crate::report::apply::render(&report, console.style),
        )?;
    }
    let not_applied = report.not_applied();
    if not_applied.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(Error::ApplyFailed {
            environment: report.environment.clone(),
            stacks: not_applied,
        })
    }
}

/// Gives the log groups RDS created for the exported logs of the stacks now deployed as planned
/// (unchanged or applied) the environment's retention (src/log_retention.rs).
fn retain_logs(
    runtime: &tokio::runtime::Runtime,
    clients: &AwsClients,
    cloudformation: &SdkCloudFormation,
    rendered: &crate::project::RenderedEnvironment,
    report: &mut apply::ApplyReport,
) -> Result<(), Error> {
    let deployed: Vec<String> = report
        .stacks
        .iter()
        .filter(|s| {
            matches!(
                s.outcome,
                apply::StackOutcome::Unchanged | apply::StackOutcome::Succeeded { .. }
            )
        })
        .map(|s| s.stack.clone())
        .collect();
    report.log_retention = runtime.block_on(crate::log_retention::apply(
        cloudformation,
        &SdkLogGroups::new(clients),
        rendered,
        &deployed,
    ))?;
    Ok(())
}

fn write_document(
    console: &mut Console,
    report: &apply::ApplyReport,
    plan: &Plan,
) -> Result<(), Error> {
    let document = ApplyDocument { report, plan };
    write_out(console.out, &crate::report::json("apply", &document)?)
}

/// Best effort: a change set left behind is harmless, so failing to delete one is not reported.
async fn discard_change_sets<C: CloudFormation>(cloudformation: &C, plan: &Plan) {
    for stack in &plan.stacks {
        if let Some(change_set) = &stack.change_set_id {
            let _ = once::delete_change_set(cloudformation, &stack.stack_name, change_set).await;
        }
    }
}
