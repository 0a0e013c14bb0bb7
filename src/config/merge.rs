//! The `extends` merge rule: maps merge key by key, scalars and lists replace.
//! Each leaf remembers the file that set it so errors and `validate --show-origin` can name it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

/// For every leaf path (`network.nat`, `bastion.allowed_cidrs`), the file whose value won.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origins(BTreeMap<String, PathBuf>);

impl Origins {
    /// The file that set `path` or the nearest enclosing value that was set as a whole (a list).
    pub fn file_of(&self, path: &str) -> Option<&Path> {
        let mut candidate = path;
        loop {
            if let Some(file) = self.0.get(candidate) {
                return Some(file);
            }
            match candidate.rfind(['.', '[']) {
                Some(index) => candidate = &candidate[..index],
                None => return None,
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &PathBuf)> {
        self.0.iter()
    }
}

/// Merges `overlay` onto `base` and records the leaves `overlay` set as coming from `file`.
pub fn merge(base: Value, overlay: Value, file: &Path, origins: &mut Origins) -> Value {
    merge_at("", base, overlay, file, origins)
}

fn merge_at(path: &str, base: Value, overlay: Value, file: &Path, origins: &mut Origins) -> Value {
    match (base, overlay) {
        (Value::Mapping(mut base_map), Value::Mapping(overlay_map)) => {
            for (key, overlay_value) in overlay_map {
                let child = child_path(path, &key);
                let merged = match base_map.remove(&key) {
                    Some(base_value) => merge_at(&child, base_value, overlay_value, file, origins),
                    None => {
                        record(&child, &overlay_value, file, origins);
                        overlay_value
                    }
                };
                base_map.insert(key, merged);
            }
            Value::Mapping(base_map)
        }
        (_, overlay) => {
            forget(path, origins);
            record(path, &overlay, file, origins);
            overlay
        }
    }
}

fn record(path: &str, value: &Value, file: &Path, origins: &mut Origins) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            for (key, child) in map {
                record(&child_path(path, key), child, file, origins);
            }
        }
        _ => {
            origins.0.insert(path.to_string(), file.to_path_buf());
        }
    }
}

/// A replaced value drops the origins of whatever the base had beneath it.
fn forget(path: &str, origins: &mut Origins) {
    let nested = format!("{path}.");
    origins
        .0
        .retain(|key, _| key != path && !key.starts_with(&nested));
}

fn child_path(parent: &str, key: &Value) -> String {
    let key = match key {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim().to_string())
            .unwrap_or_default(),
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// An empty mapping, the neutral element of the merge.
pub fn empty() -> Value {
    Value::Mapping(Mapping::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    fn merged(base: &str, overlay: &str) -> (Value, Origins) {
        let mut origins = Origins::default();
        let base = merge(empty(), yaml(base), Path::new("base.yaml"), &mut origins);
        let value = merge(base, yaml(overlay), Path::new("dev.yaml"), &mut origins);
        (value, origins)
    }

    #[test]
    fn maps_merge_key_by_key() {
        let (value, _) = merged("db: {class: small, port: 5432}", "db: {class: large}");
        assert_eq!(value, yaml("db: {class: large, port: 5432}"));
    }

    #[test]
    fn lists_replace_instead_of_appending() {
        let (value, _) = merged(
            "cidrs: [10.0.0.0/8, 192.168.0.0/16]",
            "cidrs: [172.16.0.0/12]",
        );
        assert_eq!(value, yaml("cidrs: [172.16.0.0/12]"));
    }

    #[test]
    fn scalars_replace_and_new_keys_are_added() {
        let (value, _) = merged("a: 1\nb: {c: 2}", "a: 3\nb: {d: 4}\ne: 5");
        assert_eq!(value, yaml("a: 3\nb: {c: 2, d: 4}\ne: 5"));
    }

    #[test]
    fn a_scalar_may_replace_a_map_and_the_other_way_round() {
        let (value, _) = merged("a: {b: 1}\nc: 2", "a: off\nc: {d: 3}");
        assert_eq!(value, yaml("a: off\nc: {d: 3}"));
    }

    #[test]
    fn origins_name_the_file_that_won() {
        let (_, origins) = merged(
            "db: {class: small, port: 5432}\ncidrs: [a]",
            "db: {class: large}",
        );
        assert_eq!(origins.file_of("db.class"), Some(Path::new("dev.yaml")));
        assert_eq!(origins.file_of("db.port"), Some(Path::new("base.yaml")));
        assert_eq!(origins.file_of("cidrs[0]"), Some(Path::new("base.yaml")));
        assert_eq!(origins.file_of("missing"), None);
    }

    #[test]
    fn replacing_a_map_forgets_its_old_leaves() {
        let (_, origins) = merged("a: {b: 1}", "a: off");
        assert_eq!(origins.file_of("a.b"), Some(Path::new("dev.yaml")));
        assert_eq!(origins.iter().count(), 1);
    }
}
