//! Presentation: every result (plan, policy findings, drift, progress) is computed as data
//! elsewhere and turned into text here, with colour only when the caller's style allows it.

pub mod apply;
pub mod cost;
pub mod destroy;
pub mod diff;
pub mod drift;
pub mod outputs;
pub mod plan;
pub mod policy;
pub mod progress;

use serde::Serialize;

use crate::error::Error;

/// JSON Schema (draft 2020-12) of the plan document: `plan --json`, the `plan` of `apply --json`, the saved
/// plan file. Published beside the code that writes the document, so a change to one shows up next to the other;
/// tests validate what the commands print against it.
pub const PLAN_SCHEMA: &str = include_str!("schema/plan.schema.json");

/// JSON Schema (draft 2020-12) of the drift report, `drift --json`.
pub const DRIFT_SCHEMA: &str = include_str!("schema/drift.schema.json");

/// How to present output on this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    pub fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn bold_red(self, text: &str) -> String {
        self.paint("1;31", text)
    }
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The one JSON document of a `--json` command that failed before it had a result: `{"error": "..."}`.
pub fn error_document(message: &str) -> String {
    let mut text = serde_json::json!({ "error": message }).to_string();
    text.push('\n');
    text
}

/// Any result as pretty JSON with a final newline.
pub fn json<T: Serialize>(command: &'static str, value: &T) -> Result<String, Error> {
    let mut text = serde_json::to_string_pretty(value).map_err(|err| Error::SerializeReport {
        command,
        message: err.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}
