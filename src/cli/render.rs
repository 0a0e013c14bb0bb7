use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::{Console, PolicyCacheArgs, policy_gate_cached, write_out};
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;
use crate::render::{self, Format};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[arg(long)]
    pub env: String,

    /// Only this stack (its dependencies are still checked).
    #[arg(long)]
    pub stack: Option<String>,

    #[arg(long, value_enum, default_value = "yaml")]
    pub format: Format,

    /// Write `<DIR>/<env>/<stack>.<format>` instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub cache: PolicyCacheArgs,
}

pub fn run(project: &Project, args: &RenderArgs, console: &mut Console) -> Result<Outcome, Error> {
    let rendered = project.render(&args.env)?;
    if policy_gate_cached(project, &rendered, &args.cache.cache(project), console)? {
        return Ok(Outcome::PolicyViolation);
    }
    let out = &mut *console.out;
    let selected = rendered.select(args.stack.as_deref(), project.stacks_dir())?;
    match &args.out {
        Some(dir) => {
            let dir = dir.join(&rendered.environment.name);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            for stack in selected {
                let path = dir.join(format!("{}.{}", stack.name, args.format.extension()));
                let text = render::to_text(&stack.name, &stack.template, args.format)?;
                std::fs::write(&path, text).map_err(|source| Error::Write {
                    path: path.clone(),
                    source,
                })?;
                write_out(out, &format!("wrote {}\n", path.display()))?;
            }
        }
        None => print(&selected, args.format, out)?,
    }
    Ok(Outcome::Success)
}

/// One stack prints as its template; several print as a YAML stream or a JSON object by stack name.
fn print(
    stacks: &[&crate::project::RenderedStack],
    format: Format,
    out: &mut dyn Write,
) -> Result<(), Error> {
    match (format, stacks) {
        (_, [one]) => write_out(out, &render::to_text(&one.name, &one.template, format)?),
        (Format::Yaml, many) => {
            for stack in many {
                write_out(out, &format!("---\n# {}\n", stack.stack_name))?;
                write_out(out, &render::to_text(&stack.name, &stack.template, format)?)?;
            }
            Ok(())
        }
        (Format::Json, many) => {
            let all: serde_json::Map<String, serde_json::Value> = many
                .iter()
                .map(|s| (s.stack_name.clone(), render::template_value(&s.template)))
                .collect();
            write_out(
                out,
                &render::value_to_text("all", &serde_json::Value::Object(all), format)?,
            )
        }
    }
}
