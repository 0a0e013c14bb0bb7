//! Errors of the policy boundary. Every variant names the rule file it concerns.

use std::path::PathBuf;

use thiserror::Error;

/// Where in a rule file a syntax error was detected (1-based, as cfn-guard reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("cannot read policy directory {}: {source}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read rule file {}: {source}", path.display())]
    ReadRuleFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The rule file does not parse. `position` is absent only if cfn-guard's message carried none.
    #[error("{}{}: syntax error in rule file: {detail}", path.display(), position.map(|p| format!(":{p}")).unwrap_or_default())]
    Syntax {
        rule_file: String,
        path: PathBuf,
        position: Option<Position>,
        detail: String,
    },

    /// Two rule files (or one file twice) define the same rule name. Names must be unique because
    /// waivers and findings identify a rule by name alone.
    #[error("rule {rule} is defined in both {} and {}", first.display(), second.display())]
    DuplicateRule {
        rule: String,
        first: PathBuf,
        second: PathBuf,
    },

    /// cfn-guard refused or failed to evaluate a rule file against a template. This is usually a
    /// rule that parses but cannot be evaluated (e.g. an undefined variable).
    #[error("rule file {rule_file} could not be evaluated against stack {stack}: {detail}")]
    Evaluation {
        rule_file: String,
        stack: String,
        detail: String,
    },

    /// cfn-guard's structured output did not have the shape this module understands.
    #[error("rule file {rule_file}: unexpected cfn-guard output for stack {stack}: {detail}")]
    UnexpectedOutput {
        rule_file: String,
        stack: String,
        detail: String,
    },

    #[error("cannot read rule test file {} for rule file {rule_file}: {source}", path.display())]
    ReadTestFile {
        rule_file: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("rule test file {} for rule file {rule_file} is invalid: {detail}", path.display())]
    InvalidTestFile {
        rule_file: String,
        path: PathBuf,
        detail: String,
    },

    /// cfn-guard's test command could not run the rule file's tests.
    #[error("tests of rule file {rule_file} could not run: {detail}")]
    TestRun { rule_file: String, detail: String },
}
