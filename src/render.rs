//! Templates to canonical text: keys sorted at every level, fixed indentation, a final newline.
//! The same inputs always give the same bytes, so snapshots and plan hashes are stable.

use serde_json::Value;

use crate::error::Error;
use crate::model::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// `value` with every object's keys sorted (maps keep insertion order otherwise), so that the same
/// template always serializes to the same bytes.
pub fn canonical(value: &Value) -> Value {
    let mut sorted = value.clone();
    sorted.sort_all_objects();
    sorted
}

/// The template as CloudFormation receives it, keys sorted in place: no second copy of the tree,
/// since a large fleet's validate spends much of its time here.
pub fn template_value(template: &Template) -> Value {
    let mut value = template.to_value();
    value.sort_all_objects();
    value
}

pub fn to_text(stack: &str, template: &Template, format: Format) -> Result<String, Error> {
    value_to_text(stack, &template_value(template), format)
}

pub fn value_to_text(stack: &str, value: &Value, format: Format) -> Result<String, Error> {
    let failed = |message: String| Error::SerializeTemplate {
        stack: stack.to_string(),
        message,
    };
    match format {
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(value).map_err(|e| failed(e.to_string()))?;
            text.push('\n');
            Ok(text)
        }
        Format::Yaml => serde_yaml::to_string(value).map_err(|e| failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let value = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": 3}});
        let text = value_to_text("s", &canonical(&value), Format::Json).unwrap();
        let a = text.find("\"a\"").unwrap();
        let b = text.find("\"b\"").unwrap();
        let y = text.find("\"y\"").unwrap();
        let z = text.find("\"z\"").unwrap();
        assert!(a < b && y < z, "{text}");
    }
}
