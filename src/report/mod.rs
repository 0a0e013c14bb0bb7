//! Presentation: every result (plan, policy findings, drift, progress) is computed as data
//! elsewhere and turned into text here, with colour only when the caller's style allows it.

pub mod apply;
pub mod destroy;
pub mod drift;
pub mod outputs;
pub mod plan;
pub mod policy;
pub mod progress;

use serde::Serialize;

use crate::error::Error;

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

/// Any result as pretty JSON with a final newline.
pub fn json<T: Serialize>(command: &'static str, value: &T) -> Result<String, Error> {
    let mut text = serde_json::to_string_pretty(value).map_err(|err| Error::SerializeReport {
        command,
        message: err.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}
