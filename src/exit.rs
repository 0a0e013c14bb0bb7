//! Exit codes, defined once. Commands return an [`Outcome`]; only `main` turns it into a code.

use std::process::ExitCode;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success, no changes, no drift.
    Success,
    /// `plan --detailed-exitcode` found changes, or `drift` found drift.
    ChangesPending,
    /// An error-level policy rule failed.
    PolicyViolation,
}

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const CHANGES_PENDING: u8 = 2;
pub const POLICY_VIOLATION: u8 = 3;

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => SUCCESS,
            Outcome::ChangesPending => CHANGES_PENDING,
            Outcome::PolicyViolation => POLICY_VIOLATION,
        }
    }
}

pub fn code_of(result: &Result<Outcome, Error>) -> ExitCode {
    ExitCode::from(match result {
        Ok(outcome) => outcome.code(),
        Err(_) => FAILURE,
    })
}
