//! Reading YAML into typed values with errors that name the file, the field path and the line.

use std::path::Path;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

use crate::catalog::Segment;

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

/// Marks the error a [`Find`] raises where the path ends; any other error means "not found".
const FOUND: &str = "\u{0}strata-found";

/// The line of the value at `path` (a mapping key's own line for a key), found by walking the
/// document with serde_yaml, whose errors carry the position of the node being read.
pub fn line_of(text: &str, path: &[Segment]) -> Option<usize> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let found = Find { path }.deserialize(deserializer);
    match found {
        Err(err) if err.to_string().contains(FOUND) => err.location().map(|l| l.line()),
        _ => None,
    }
}

struct Find<'p> {
    path: &'p [Segment],
}

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.path.first() {
            None => deserializer.deserialize_any(Found),
            Some(Segment::Key(_)) => deserializer.deserialize_map(self),
            Some(Segment::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(wanted), rest)) = self.path.split_first() else {
            return Ok(());
        };
        let seed = KeySeed {
            wanted,
            last: rest.is_empty(),
        };
        while let Some(matched) = map.next_key_seed(seed)? {
            if matched {
                return map.next_value_seed(Find { path: rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(wanted), rest)) = self.path.split_first() else {
            return Ok(());
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Find { path: rest }).map(drop)
    }

    // A scalar where the path goes deeper: the path does not exist.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A mapping key: `true` when it is the wanted one (and the path goes on), the found-error when it
/// is the wanted one and the path ends there.
#[derive(Clone, Copy)]
struct KeySeed<'a> {
    wanted: &'a str,
    last: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match (key == self.wanted, self.last) {
            (true, true) => Err(E::custom(FOUND)),
            (matched, _) => Ok(matched),
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<bool, E> {
        self.visit_str(&value.to_string())
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<bool, E> {
        self.visit_str(&value.to_string())
    }
}

/// Fails on whatever value it meets, so the error carries that value's position.
struct Found;

impl<'de> Visitor<'de> for Found {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

/// YAML as JSON, with CloudFormation's short-form tags (`!Ref X`, `!GetAtt a.b`, `!Sub ...`) in
/// their long form.
pub fn to_json(value: serde_yaml::Value) -> Result<serde_json::Value, String> {
    crate::aws::cloudformation::yaml_to_json(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Segment {
        Segment::Key(name.to_owned())
    }

    const TEXT: &str = "description: x\nresources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BilingMode: PAY_PER_REQUEST\n      KeySchema:\n        - AttributeName: id\n          KeyType: HASH\n        - AttributeName: sk\n          KeyType: RANGE\n";

    #[test]
    fn keys_and_list_items_are_found_on_their_lines() {
        let at = |path: &[Segment]| line_of(TEXT, path);
        assert_eq!(at(&[key("description")]), Some(1));
        assert_eq!(at(&[key("resources"), key("Table")]), Some(3));
        let properties = [key("resources"), key("Table"), key("Properties")];
        assert_eq!(at(&properties), Some(5));
        let mut path = properties.to_vec();
        path.push(key("BilingMode"));
        assert_eq!(at(&path), Some(6));
        path.pop();
        path.extend([key("KeySchema"), Segment::Index(1), key("KeyType")]);
        assert_eq!(at(&path), Some(11));
    }

    #[test]
    fn a_path_that_does_not_exist_has_no_line() {
        assert_eq!(line_of(TEXT, &[key("nope")]), None);
        assert_eq!(line_of(TEXT, &[key("description"), key("deeper")]), None);
        assert_eq!(line_of("- a\n", &[key("a")]), None);
        assert_eq!(line_of(": :\n", &[key("a")]), None);
    }
}
