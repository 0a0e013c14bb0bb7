//! Command line: clap structures and one file per subcommand. Commands write to an injected
//! writer and return an [`Outcome`], so tests run them without spawning a process.

mod render;
mod validate;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::exit::{self, Outcome};
use crate::project::Project;

#[derive(Debug, Parser)]
#[command(name = "strata", version, about = "Typed stack definitions for AWS: render, check, plan, apply, drift", long_about = None)]
pub struct Cli {
    /// Project root holding environments/, stacks/ and policies/.
    #[arg(long, global = true, env = "STRATA_ROOT", default_value = ".")]
    pub root: PathBuf,

    /// Never colour output (also NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// More detail (repeatable).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check environments and stack definitions offline (no AWS calls).
    Validate(validate::ValidateArgs),
    /// Print or write the CloudFormation templates of an environment.
    Render(render::RenderArgs),
}

/// Presentation settings every command shares.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn detect(no_color: bool) -> Style {
        let disabled = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !disabled && std::io::stdout().is_terminal(),
        }
    }
}

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome, Error> {
    let style = Style::detect(cli.no_color);
    let project = Project::open(&cli.root)?;
    match cli.command {
        Command::Validate(args) => validate::run(&project, &args, style, out),
        Command::Render(args) => render::run(&project, &args, out),
    }
}

/// The binary's whole life: parse, run, report one error, exit with the defined code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Usage errors exit 1 like any other error; 2 means "changes pending" here.
            return ExitCode::from(if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            });
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out);
    let _ = out.flush();
    if let Err(err) = &result {
        report_error(err);
    }
    exit::code_of(&result)
}

fn report_error(err: &Error) {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let label = if color {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    let _ = writeln!(stderr.lock(), "{label}: {err}");
}

/// Writes to the command's output; a closed pipe (`strata render | head`) is not an error worth a report.
pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Error> {
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Write {
            path: PathBuf::from("<stdout>"),
            source,
        }),
    }
}
