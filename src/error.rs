//! The library's error type: one variant per boundary, each with the context a user needs.

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Input that parsed or loaded but is wrong; every problem found is listed.
    #[error("{}", format_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),

    #[error("unknown environment `{name}`; environments in {}: {}", dir.display(), list(available))]
    UnknownEnvironment {
        name: String,
        dir: PathBuf,
        available: Vec<String>,
    },

    #[error("unknown stack `{name}`; stacks in {}: {}", dir.display(), list(available))]
    UnknownStack {
        name: String,
        dir: PathBuf,
        available: Vec<String>,
    },

    #[error("no {what} found in {}", dir.display())]
    NothingFound { what: &'static str, dir: PathBuf },

    #[error("stacks depend on each other in a cycle: {}", cycle.join(" -> "))]
    StackCycle { cycle: Vec<String> },

    #[error("cannot serialise the template of stack `{stack}`: {message}")]
    SerializeTemplate { stack: String, message: String },

    /// A command's result could not be written as JSON (`--json`).
    #[error("cannot serialise the {command} report as JSON: {message}")]
    SerializeReport {
        command: &'static str,
        message: String,
    },

    #[error("cannot write the plan file {}: {message}", path.display())]
    SerializePlan { path: PathBuf, message: String },

    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),

    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),

    #[error(
        "refusing to touch environment `{environment}`: it belongs to account {expected}, but the credentials in use are for account {actual}. Use credentials (or --profile) for account {expected}"
    )]
    AccountMismatch {
        environment: String,
        expected: String,
        actual: String,
    },

    #[error("stack {stack} is {status}: {hint}")]
    StackNeedsRecovery {
        stack: String,
        status: String,
        hint: String,
    },

    #[error("stack {stack} receives output {output} of stack {upstream}, but {reason}")]
    UpstreamOutput {
        stack: String,
        upstream: String,
        output: String,
        reason: String,
    },

    #[error(
        "stack {stack}: parameter {parameter} reads Systems Manager parameter `{entry}`, which does not exist in this region"
    )]
    SsmParameterMissing {
        stack: String,
        parameter: String,
        entry: String,
    },

    /// Settings the account or region refuses, found by the read-only checks before any change set.
    #[error("{}", format_preflight(environment, problems))]
    Preflight {
        environment: String,
        problems: Vec<crate::preflight::Problem>,
    },

    #[error("saved plan {} cannot be applied: {reason}. Run `strata plan --out` again", path.display())]
    StalePlan { path: PathBuf, reason: String },

    #[error(
        "refusing to apply: the plan destroys data\n{}\nEach of these loses the data it holds. If that is intended, name it: --allow-replace <LOGICAL_ID> (repeatable). Nothing was executed",
        bullets(changes)
    )]
    ReplacementRefused { changes: Vec<String> },

    #[error(
        "refusing to apply: the plan replaces resources AWS refuses to delete\n{}\nCloudFormation would create each replacement, fail to delete the protected original in the update's cleanup, report the update complete and leave the original running outside the stack. Turn its protection off first (an instance: aws ec2 modify-instance-attribute --instance-id <ID> --no-disable-api-termination), then name it: --allow-replace <LOGICAL_ID>. Nothing was executed",
        bullets(changes)
    )]
    ProtectedReplacementRefused { changes: Vec<String> },

    #[error(
        "refusing to apply: the plan removes stacks that have no definition any more\n{}\nNothing was executed",
        bullets(refusals)
    )]
    RemovalRefused { refusals: Vec<String> },

    #[error(
        "{command} changes AWS and needs confirmation, but there is no terminal to ask on: pass --yes{}",
        if *.accepts_plan { " (or apply a reviewed plan with --plan FILE)" } else { "" }
    )]
    ConfirmationRequired {
        command: &'static str,
        accepts_plan: bool,
    },

    #[error("cancelled; nothing was changed")]
    Cancelled,

    #[error("interrupted: {}", interrupted(running, command))]
    Interrupted {
        command: String,
        /// The stack operations still running (`deleting photofeed-dev-storage`).
        running: Vec<String>,
    },

    #[error("apply of environment {environment} failed: {}. Fix the cause shown above and run apply again", stacks.join(", "))]
    ApplyFailed {
        environment: String,
        stacks: Vec<String>,
    },

    #[error("refusing to destroy environment {environment}:\n{}", bullets(reasons))]
    DestroyRefused {
        environment: String,
        reasons: Vec<String>,
    },

    #[error("destroy of environment {environment} failed at {stack}: {reason}")]
    DestroyFailed {
        environment: String,
        stack: String,
        reason: String,
    },

    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),

    /// Reading another revision of the project (`diff --against`, `graph --against`).
    #[error("git {command}: {message}")]
    Git { command: String, message: String },

    /// The other revision of the project does not render.
    #[error("the project at {reference} ({commit}) does not render: {source}")]
    RevisionInvalid {
        reference: String,
        commit: String,
        source: Box<Error>,
    },
}

fn interrupted(running: &[String], command: &str) -> String {
    match running {
        [] => format!("no stack operation was running. Run `{command}` again to carry on"),
        [one] => format!(
            "{one} keeps running in CloudFormation (stopping strata does not stop it). Run `{command}` again: it waits for it and carries on from there"
        ),
        many => format!(
            "{} keep running in CloudFormation (stopping strata does not stop them). Run `{command}` again: it waits for them and carries on from there",
            many.join(", ")
        ),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("  - {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_preflight(environment: &str, problems: &[crate::preflight::Problem]) -> String {
    let mut text = format!(
        "environment {environment} asks for what the account cannot give (checked before any change set; nothing was changed):"
    );
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(&problem.to_string());
    }
    text
}

fn format_diagnostics(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [one] => one.to_string(),
        many => {
            let mut text = format!("{} problems found:", many.len());
            for diagnostic in many {
                text.push_str("\n  - ");
                text.push_str(&diagnostic.to_string());
            }
            text
        }
    }
}

impl From<Vec<Diagnostic>> for Error {
    fn from(diagnostics: Vec<Diagnostic>) -> Self {
        Error::Invalid(diagnostics)
    }
}

impl From<Diagnostic> for Error {
    fn from(diagnostic: Diagnostic) -> Self {
        Error::Invalid(vec![diagnostic])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
