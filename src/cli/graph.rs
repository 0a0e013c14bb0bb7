use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::{Console, diff::render_both, write_out};
use crate::diagram;
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    /// Renders in GitHub pull requests, issues and job summaries.
    Mermaid,
    /// Graphviz.
    Dot,
    /// Laid out by strata (layout-rs), no Graphviz needed.
    Svg,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(long)]
    pub env: String,

    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    pub format: DiagramFormat,

    /// Write the diagram to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Mark what changed since this git revision: added, changed and replaced resources.
    #[arg(long, value_name = "GIT_REF")]
    pub against: Option<String>,
}

pub fn run(project: &Project, args: &GraphArgs, console: &mut Console) -> Result<Outcome, Error> {
    let diagram = match &args.against {
        Some(reference) => {
            let (new, old, revision) = render_both(project, &args.env, Some(reference))?;
            let diff = crate::diff::compare(old.as_ref(), &new, revision);
            diagram::build(&new, Some(&diff.stacks))
        }
        None => diagram::build(&project.render(&args.env)?, None),
    };
    let text = match args.format {
        DiagramFormat::Mermaid => diagram::text::mermaid(&diagram),
        DiagramFormat::Dot => diagram::text::dot(&diagram),
        DiagramFormat::Svg => diagram::svg::svg(&diagram),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?,
        None => write_out(console.out, &text)?,
    }
    Ok(Outcome::Success)
}
