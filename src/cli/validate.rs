use std::io::Write;

use clap::Args;

use crate::cli::{Style, write_out};
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::Project;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environment to check; all environments when omitted.
    #[arg(long)]
    pub env: Option<String>,

    /// Print every setting with the file it came from.
    #[arg(long)]
    pub show_origin: bool,
}

pub fn run(
    project: &Project,
    args: &ValidateArgs,
    style: Style,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    let names = match &args.env {
        Some(name) => vec![name.clone()],
        None => project.environment_names()?,
    };
    let mut problems = Vec::new();
    for name in &names {
        match project.render(name) {
            Ok(rendered) => {
                let stacks: Vec<&str> = rendered.stacks.iter().map(|s| s.name.as_str()).collect();
                let ok = if style.color {
                    "\x1b[32mok\x1b[0m"
                } else {
                    "ok"
                };
                write_out(
                    out,
                    &format!(
                        "{ok} {name}: {} stacks ({}), {} resources\n",
                        stacks.len(),
                        stacks.join(" -> "),
                        rendered.resource_count()
                    ),
                )?;
                if args.show_origin {
                    for (path, file) in rendered.environment.origins.iter() {
                        write_out(out, &format!("   {path:<40} {}\n", file.display()))?;
                    }
                }
            }
            // Keep going so one run reports every broken environment.
            Err(Error::Invalid(mut found)) => problems.append(&mut found),
            Err(other) => return Err(other),
        }
    }
    if problems.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(Error::Invalid(problems))
    }
}
