use clap::Args;

use crate::aws::SdkCloudFormation;
use crate::cli::{AwsOptions, Console, connect, runtime, write_out};
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;

#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[arg(long)]
    pub env: String,

    /// Print the outputs as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    project: &Project,
    args: &OutputsArgs,
    aws: &AwsOptions,
    console: &mut Console,
) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    let outputs = runtime()?.block_on(async {
        let clients = connect(&rendered.environment, aws).await?;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        crate::outputs::collect(&cloudformation, &rendered).await
    })?;
    let text = if args.json {
        crate::report::json("outputs", &outputs)?
    } else {
        crate::report::outputs::render(&outputs, console.style)
    };
    write_out(console.out, &text)?;
    Ok(Outcome::Success)
}
