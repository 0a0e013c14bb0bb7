//! Reading YAML into typed values with errors that name the file, the field path and the line.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::Diagnostic;
use crate::error::Error;

pub fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses YAML text into an untyped value; a syntax error names the file and line.
pub fn parse_value(file: &Path, text: &str) -> Result<serde_yaml::Value, Diagnostic> {
    serde_yaml::from_str(text).map_err(|err| {
        let line = err.location().map(|l| l.line());
        Diagnostic::new(file, "", format!("invalid YAML: {}", strip_location(&err))).at_line(line)
    })
}

/// Parses YAML text straight into `T`, keeping the field path and line of the first mismatch.
pub fn parse_typed<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let field = field_path(err.path());
        let inner = err.into_inner();
        let line = inner.location().map(|l| l.line());
        Diagnostic::new(file, field, strip_location(&inner)).at_line(line)
    })
}

/// Converts an already merged value into `T`; the caller maps the field path to the file it came from.
pub fn from_value<T: DeserializeOwned>(value: serde_yaml::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let field = field_path(err.path());
        (field, strip_location(err.inner()))
    })
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." { String::new() } else { text }
}

/// serde_yaml appends " at line X column Y" and may prefix the path; we report both separately.
fn strip_location(err: &serde_yaml::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text,
    };
    // serde_yaml prefixes nested errors with their path ("a.b: ..."), which we already report.
    match text.split_once(": ") {
        Some((prefix, rest))
            if !prefix.contains(' ') && !prefix.is_empty() && prefix != "invalid type" =>
        {
            rest.to_string()
        }
        _ => text,
    }
}
