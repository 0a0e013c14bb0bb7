use clap::Args;

use crate::aws::SdkCloudFormation;
use crate::aws::drift_detection_sdk::SdkDriftDetection;
use crate::aws::live_sdk::SdkLiveResources;
use crate::aws::logs_sdk::SdkLogGroups;
use crate::cli::{AwsOptions, Console, connect, runtime, write_out};
use crate::drift;
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[arg(long)]
    pub env: String,

    /// Only this stack.
    #[arg(long)]
    pub stack: Option<String>,

    /// Print the drift report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 without drift, 2 with drift (a scheduled CI job fails on it), 1 on error.
pub fn run(
    project: &Project,
    args: &DriftArgs,
    aws: &AwsOptions,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    rendered.select(args.stack.as_deref(), project.stacks_dir())?;
    let report = runtime()?.block_on(async {
        let clients = connect(&rendered.environment, aws).await?;
        drift::detect(
            &SdkCloudFormation::new(clients.cloudformation.clone()),
            &SdkDriftDetection::new(clients.cloudformation.clone()),
            &SdkLiveResources::new(&clients),
            &SdkLogGroups::new(&clients),
            &rendered,
            args.stack.as_deref(),
        )
        .await
    })?;
    let text = if args.json {
        crate::report::json("drift", &report)?
    } else {
        crate::report::drift::render(&report, console.style)
    };
    write_out(console.out, &text)?;
    Ok(if report.has_drift() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
