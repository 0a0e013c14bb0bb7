//! Command line: clap structures and one file per subcommand. Commands write to an injected
//! writer and return an [`Outcome`], so tests run them without spawning a process.

mod apply;
mod completions;
mod destroy;
mod diff;
mod drift;
mod graph;
mod outputs;
mod plan;
mod render;
mod validate;

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::aws::{AwsClients, AwsSettings, RetrySettings};
use crate::config::Environment;
use crate::error::Error;
use crate::exit::{self, Outcome};
use crate::policy::ReportCache;
use crate::project::{Project, RenderedEnvironment};
use crate::report::Style;
use crate::report::progress::{PlainProgress, TerminalProgress};
use crate::watch::Progress;

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

    /// AWS endpoint to talk to instead of the public one (e.g. a local emulator).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Named AWS profile (SSO, assumed roles, static keys) from the shared config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// How to reach AWS, from the global options.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check environments and stack definitions offline (no AWS calls).
    Validate(validate::ValidateArgs),
    /// Print or write the CloudFormation templates of an environment.
    Render(render::RenderArgs),
    /// Show what apply would change, through CloudFormation change sets.
    Plan(plan::PlanArgs),
    /// Bring an environment to what its definitions describe (plan, confirm, execute in order).
    Apply(apply::ApplyArgs),
    /// Print what the deployed stacks offer: endpoints, addresses, names, URLs, secret ARNs.
    Outputs(outputs::OutputsArgs),
    /// Delete an environment's stacks, dependents first.
    Destroy(destroy::DestroyArgs),
    /// Compare the working tree's templates with a git revision's, offline (exit 2 on differences).
    Diff(diff::DiffArgs),
    /// Draw the environment's architecture from its templates (Mermaid, DOT or SVG), offline.
    Graph(graph::GraphArgs),
    /// Compare live AWS resources with what the environment declares (exit 2 on drift).
    Drift(drift::DriftArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(completions::CompletionsArgs),
}

impl Command {
    /// Asked for JSON: stdout must then carry exactly one JSON document, whatever happens.
    fn wants_json(&self) -> bool {
        match self {
            Command::Validate(args) => args.json,
            Command::Plan(args) => args.json,
            Command::Apply(args) => args.json,
            Command::Outputs(args) => args.json,
            Command::Destroy(args) => args.json,
            Command::Drift(args) => args.json,
            Command::Diff(args) => args.json,
            Command::Render(_) | Command::Completions(_) | Command::Graph(_) => false,
        }
    }
}

/// Where a command writes and reads: results to `out`, reports about the run (policy findings,
/// progress, questions) to `err`, answers from `input`. Injected, so commands run in-process in tests.
pub struct Console<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut (dyn Write + Send),
    /// Where answers to questions come from (stdin for the binary).
    pub input: &'a mut dyn BufRead,
    /// Style of `out`.
    pub style: Style,
    /// Style of `err` (either stream may be redirected on its own).
    pub err_style: Style,
    /// A person is at a terminal (stdin and stderr): questions can be asked and progress redrawn.
    pub interactive: bool,
}

impl Console<'_> {
    /// Progress of stack operations: redrawn in place at a terminal, plain timestamped lines on
    /// `err` otherwise (CI logs, tests).
    pub fn progress(&mut self) -> Box<dyn Progress + '_> {
        if self.interactive {
            Box::new(TerminalProgress::new(self.err_style))
        } else {
            Box::new(PlainProgress::new(&mut *self.err, self.err_style))
        }
    }
}

/// Colour only on a terminal, and never with `--no-color` or a non-empty `NO_COLOR`.
fn style_for(no_color: bool, terminal: bool) -> Style {
    let disabled = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        color: terminal && !disabled,
    }
}

pub fn run(cli: Cli, console: &mut Console) -> Result<Outcome, Error> {
    // Completions describe the command line, not a project: they work anywhere.
    if let Command::Completions(args) = &cli.command {
        return completions::run(args, console);
    }
    let project = Project::open(&cli.root)?;
    let aws = AwsOptions {
        endpoint_url: cli.endpoint_url,
        profile: cli.profile,
    };
    match cli.command {
        Command::Validate(args) => validate::run(&project, &args, console),
        Command::Render(args) => render::run(&project, &args, console),
        Command::Plan(args) => plan::run(&project, &args, &aws, console),
        Command::Apply(args) => apply::run(&project, &args, &aws, console),
        Command::Outputs(args) => outputs::run(&project, &args, &aws, console),
        Command::Destroy(args) => destroy::run(&project, &args, &aws, console),
        Command::Drift(args) => drift::run(&project, &args, &aws, console),
        Command::Diff(args) => diff::run(&project, &args, console),
        Command::Graph(args) => graph::run(&project, &args, console),
        Command::Completions(args) => completions::run(&args, console),
    }
}

/// Asks on the terminal; only `yes` proceeds. Without a terminal the command must have been told.
pub(crate) fn confirm(
    console: &mut Console,
    question: &str,
    command: &'static str,
    accepts_plan: bool,
) -> Result<(), Error> {
    if !console.interactive {
        return Err(Error::ConfirmationRequired {
            command,
            accepts_plan,
        });
    }
    write_out(
        console.err,
        &format!("\n{question}\nOnly 'yes' is accepted: "),
    )?;
    let _ = console.err.flush();
    let mut answer = String::new();
    console
        .input
        .read_line(&mut answer)
        .map_err(|source| Error::Read {
            path: PathBuf::from("<stdin>"),
            source,
        })?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

/// The policy cache of the offline commands (`validate`, `render`; see `policy::cache`). `plan` and
/// `apply` always evaluate afresh: a result read from disk may colour an offline report but never
/// gate a change to AWS.
#[derive(Debug, clap::Args)]
pub struct PolicyCacheArgs {
    /// Where policy results of unchanged rule files and templates are kept between runs
    /// [default: .strata/cache under the project root].
    #[arg(long, env = "STRATA_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Evaluate every rule file on every template, reading and writing no stored results.
    #[arg(long)]
    pub no_cache: bool,
}

impl PolicyCacheArgs {
    pub fn cache(&self, project: &Project) -> ReportCache {
        if self.no_cache {
            return ReportCache::disabled();
        }
        ReportCache::at(
            self.cache_dir
                .clone()
                .unwrap_or_else(|| project.root.join(".strata").join("cache")),
        )
    }
}

/// The gate in front of a change to AWS (`plan`, `apply`): every rule file evaluated afresh, never
/// a stored result. See [`policy_gate_cached`].
pub(crate) fn policy_gate(
    project: &Project,
    rendered: &RenderedEnvironment,
    console: &mut Console,
) -> Result<bool, Error> {
    policy_gate_cached(project, rendered, &ReportCache::disabled(), console)
}

/// Evaluates the environment's policies (reusing what `cache` holds: offline commands only) and
/// prints any finding to `err`; `true` when an error-level rule failed and the command must stop
/// before doing anything else.
pub(crate) fn policy_gate_cached(
    project: &Project,
    rendered: &RenderedEnvironment,
    cache: &ReportCache,
    console: &mut Console,
) -> Result<bool, Error> {
    let (mut reports, _) = project.check_policies_cached(std::slice::from_ref(rendered), cache)?;
    let report = reports.pop().unwrap_or_default();
    let text = crate::report::policy::render(&rendered.environment.name, &report, console.style);
    write_out(console.err, &text)?;
    if report.has_errors() {
        write_out(
            console.err,
            &format!(
                "refusing to continue: error-level policy rules fail in {}\n",
                rendered.environment.name
            ),
        )?;
    }
    Ok(report.has_errors())
}

/// Runs `work` until it ends or `interrupt` (Ctrl-C) comes first. Stopping strata does not stop CloudFormation:
/// an interrupted run says which stack operations go on and the command that resumes (it waits for them).
pub(crate) async fn until_interrupted<T>(
    work: impl std::future::Future<Output = Result<T, Error>>,
    interrupt: impl std::future::Future,
    running: &crate::watch::Running<'_>,
    resume: String,
) -> Result<T, Error> {
    // Biased, interrupt first: its first poll installs the Ctrl-C handler before the work's first poll
    // starts anything. Unbiased, select! may poll the work first, and a Ctrl-C between the work's first
    // output and the handler's installation would kill strata without saying what keeps running.
    tokio::select! {
        biased;
        _ = interrupt => Err(Error::Interrupted {
            command: resume,
            running: running.operations(),
        }),
        result = work => result,
    }
}

/// Ctrl-C, or never when the signal handler cannot be installed (the run is then not interruptible this way).
pub(crate) async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A runtime for commands that talk to AWS.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Clients for the environment's region, after checking the credentials belong to the
/// environment's account (STS GetCallerIdentity) so nothing touches the wrong account.
pub(crate) async fn connect(
    environment: &Environment,
    options: &AwsOptions,
) -> Result<AwsClients, Error> {
    let mut settings = AwsSettings::new(environment.settings.region.clone());
    settings.endpoint_url = options.endpoint_url.clone();
    settings.profile = options.profile.clone();
    // The standard AWS variable; our explicit retry configuration would otherwise hide it.
    if let Some(attempts) = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        settings.retry = RetrySettings::Standard {
            max_attempts: attempts,
        };
    }
    let clients = AwsClients::load(&settings).await;
    let actual = crate::aws::caller_account(&clients.sts).await?;
    if actual != environment.settings.account_id {
        return Err(Error::AccountMismatch {
            environment: environment.name.clone(),
            expected: environment.settings.account_id.clone(),
            actual,
        });
    }
    Ok(clients)
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
    let style = style_for(cli.no_color, std::io::stdout().is_terminal());
    let error_style = style_for(cli.no_color, std::io::stderr().is_terminal());
    let json = cli.command.wants_json();
    let stdout = std::io::stdout();
    let mut out = Counted {
        inner: stdout.lock(),
        written: 0,
    };
    let mut err = std::io::stderr();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut console = Console {
        out: &mut out,
        err: &mut err,
        input: &mut input,
        style,
        err_style: error_style,
        interactive,
    };
    let result = run(cli, &mut console);
    // A command that stopped before its result (bad input, AWS refused, policy) still prints one document.
    if json && out.written == 0 {
        let failure = match &result {
            Err(err) => Some(err.to_string()),
            Ok(Outcome::PolicyViolation) => Some(
                "refusing to continue: error-level policy rules fail; the findings are on stderr"
                    .to_owned(),
            ),
            Ok(_) => None,
        };
        if let Some(message) = failure {
            let _ = write_out(&mut out, &crate::report::error_document(&message));
        }
    }
    let _ = out.flush();
    if let Err(err) = &result {
        report_error(err, error_style);
    }
    exit::code_of(&result)
}

/// Stdout, counting what was written (to know whether a JSON document was).
struct Counted<W: Write> {
    inner: W,
    written: usize,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.written += written;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn report_error(err: &Error, style: Style) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}: {err}",
        style.bold_red("error")
    );
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::watch::{NoProgress, Operation, ProgressEvent, Running};

    struct Buffers {
        out: Vec<u8>,
        err: Vec<u8>,
        input: std::io::Cursor<Vec<u8>>,
    }

    impl Buffers {
        fn new(input: &str) -> Buffers {
            Buffers {
                out: Vec::new(),
                err: Vec::new(),
                input: std::io::Cursor::new(input.as_bytes().to_vec()),
            }
        }

        fn console(&mut self, interactive: bool) -> Console<'_> {
            Console {
                out: &mut self.out,
                err: &mut self.err,
                input: &mut self.input,
                style: Style::PLAIN,
                err_style: Style::PLAIN,
                interactive,
            }
        }
    }

    #[test]
    fn confirmation_asks_on_the_console_and_reads_its_input() {
        let mut yes = Buffers::new("yes\n");
        assert!(confirm(&mut yes.console(true), "Apply?", "apply", true).is_ok());
        assert!(String::from_utf8_lossy(&yes.err).contains("Apply?\nOnly 'yes' is accepted: "));

        let mut no = Buffers::new("y\n");
        let refused = confirm(&mut no.console(true), "Apply?", "apply", true);
        assert!(matches!(refused, Err(Error::Cancelled)), "{refused:?}");

        let mut unattended = Buffers::new("yes\n");
        let refused = confirm(&mut unattended.console(false), "Destroy?", "destroy", false);
        assert!(matches!(
            refused,
            Err(Error::ConfirmationRequired {
                command: "destroy",
                ..
            })
        ));
        assert_eq!(
            unattended.input.position(),
            0,
            "nothing read without a terminal"
        );
    }

    #[test]
    fn progress_off_a_terminal_is_written_to_the_console() {
        let mut buffers = Buffers::new("");
        {
            let mut console = buffers.console(false);
            let progress = console.progress();
            progress.report(ProgressEvent::Note {
                stack: "photofeed-dev-storage".into(),
                message: "enabling termination protection".into(),
            });
        }
        let err = String::from_utf8_lossy(&buffers.err);
        assert!(
            err.contains("photofeed-dev-storage  enabling termination protection"),
            "{err}"
        );
    }

    #[test]
    fn a_command_runs_in_process_on_the_injected_console() {
        let mut buffers = Buffers::new("");
        let root = env!("CARGO_MANIFEST_DIR");
        let cli = Cli::try_parse_from(["strata", "--root", root, "validate", "--env", "dev"])
            .expect("arguments parse");
        let outcome = run(cli, &mut buffers.console(false)).expect("dev validates");
        assert_eq!(outcome, Outcome::Success);
        let out = String::from_utf8_lossy(&buffers.out);
        assert!(out.starts_with("ok dev: "), "{out}");
    }

    fn started(stack: &str) -> ProgressEvent {
        ProgressEvent::Started {
            stack: stack.into(),
            operation: Operation::Delete,
            resources: 3,
        }
    }

    #[tokio::test]
    async fn an_interrupted_run_names_what_cloudformation_keeps_doing_and_how_to_resume() {
        let running = Running::new(&NoProgress);
        let work = async {
            running.report(started("photofeed-dev-storage"));
            running.report(started("photofeed-dev-bastion"));
            running.report(ProgressEvent::Finished {
                stack: "photofeed-dev-bastion".into(),
                status: "DELETE_COMPLETE".into(),
                succeeded: true,
                elapsed: Duration::ZERO,
            });
            std::future::pending::<Result<(), Error>>().await
        };
        let interrupt = tokio::time::sleep(Duration::from_millis(20));
        let err = until_interrupted(work, interrupt, &running, "strata destroy --env dev".into())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "interrupted: deleting photofeed-dev-storage keeps running in CloudFormation (stopping strata does not stop it). Run `strata destroy --env dev` again: it waits for it and carries on from there"
        );
    }

    #[tokio::test]
    async fn a_run_that_ends_first_is_not_interrupted() {
        let running = Running::new(&NoProgress);
        let done = until_interrupted(
            async { Ok::<_, Error>(7) },
            std::future::pending::<()>(),
            &running,
            "strata apply --env dev".into(),
        )
        .await
        .unwrap();
        assert_eq!(done, 7);
    }
}
