//! Environment files: reading, the `extends` chain, typing and validation -> a resolved [`Environment`].

pub mod environment;
pub mod merge;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::yaml;
pub use environment::*;
use merge::Origins;

/// Keys that describe the file itself and are never inherited.
const EXTENDS: &str = "extends";
const ABSTRACT: &str = "abstract";

/// A fully merged, typed and validated environment.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// The environment's own file.
    pub file: PathBuf,
    /// The files merged to build it, base first.
    pub chain: Vec<PathBuf>,
    pub settings: EnvironmentSettings,
    /// The merged values as handlebars sees them in stack definitions.
    pub values: serde_json::Value,
    pub origins: Origins,
}

/// Tags strata sets itself on every stack and taggable resource; environments may not redefine them.
pub const RESERVED_TAGS: [&str; 3] = ["project", "environment", "managed-by"];

impl Environment {
    /// strata's own tags plus the environment's, sorted by key.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.settings.tags.clone();
        let [project, environment, managed_by] = RESERVED_TAGS;
        tags.insert(project.into(), self.settings.project.clone());
        tags.insert(environment.into(), self.name.clone());
        tags.insert(managed_by.into(), "strata".into());
        tags
    }
}

/// The environments directory of a project.
#[derive(Debug, Clone)]
pub struct EnvironmentDir {
    pub dir: PathBuf,
    /// Files already parsed by this value: a fleet's environments all extend the same bases, which
    /// would otherwise be read and parsed once per environment.
    parsed: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, Value>>>,
}

impl EnvironmentDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EnvironmentDir {
            dir: dir.into(),
            parsed: Default::default(),
        }
    }

    fn file_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.yaml"))
    }

    /// Every environment that can be deployed (files not marked `abstract: true`), sorted by name.
    pub fn names(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        for (name, path) in yaml_files(&self.dir)? {
            let document = yaml::parse_value(&path, &yaml::read_file(&path)?)?;
            if !is_abstract(&document) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return Err(Error::NothingFound {
                what: "environment files (*.yaml)",
                dir: self.dir.clone(),
            });
        }
        Ok(names)
    }

    /// Loads `name`, following `extends` to its bases, and validates the result.
    pub fn load(&self, name: &str) -> Result<Environment, Error> {
        let file = self.file_of(name);
        if !file.is_file() {
            let available = self.names().unwrap_or_default();
            return Err(Error::UnknownEnvironment {
                name: name.to_string(),
                dir: self.dir.clone(),
                available,
            });
        }
        let document = self.parse(&file)?;
        if is_abstract(&document) {
            return Err(Diagnostic::new(
                &file,
                ABSTRACT,
                "this file is a shared base (abstract: true), not an environment to deploy",
            )
            .into());
        }
        let chain = self.chain(name)?;
        let mut origins = Origins::default();
        let mut merged = merge::empty();
        for (path, document) in &chain {
            merged = merge::merge(merged, own_values(document.clone()), path, &mut origins);
        }
        let settings: EnvironmentSettings =
            yaml::from_value(merged.clone()).map_err(|(field, message)| {
                let origin = origins.file_of(&field).unwrap_or(&file).to_path_buf();
                Diagnostic::new(&origin, field, message)
            })?;
        let environment = Environment {
            name: name.to_string(),
            file: file.clone(),
            chain: chain.into_iter().map(|(path, _)| path).collect(),
            values: handlebars_values(name, &merged, &file)?,
            settings,
            origins,
        };
        validate::environment(&environment)?;
        Ok(environment)
    }

    /// The files of `name` and its bases, base first; a loop or a missing base is an error.
    /// The YAML of `path`, read and parsed once per `EnvironmentDir` (files do not change during a
    /// command). A file that fails to parse is not remembered, so each use reports the error.
    fn parse(&self, path: &Path) -> Result<Value, Error> {
        if let Some(known) = self.parsed.lock().ok().and_then(|p| p.get(path).cloned()) {
            return Ok(known);
        }
        let document = yaml::parse_value(path, &yaml::read_file(path)?)?;
        if let Ok(mut parsed) = self.parsed.lock() {
            parsed.insert(path.to_path_buf(), document.clone());
        }
        Ok(document)
    }

    fn chain(&self, name: &str) -> Result<Vec<(PathBuf, Value)>, Error> {
        let mut chain: Vec<(PathBuf, Value)> = Vec::new();
        let mut next = Some(name.to_string());
        while let Some(current) = next {
            let path = self.file_of(&current);
            if chain.iter().any(|(seen, _)| seen == &path) {
                let mut names: Vec<String> = chain.iter().map(|(p, _)| stem(p)).collect();
                names.push(current);
                return Err(Diagnostic::new(
                    &chain[0].0,
                    EXTENDS,
                    format!("`extends` loops: {}", names.join(" -> ")),
                )
                .into());
            }
            if !path.is_file() {
                let (child, _) = chain.last().map(|(p, v)| (p.clone(), v)).unzip();
                let child = child.unwrap_or_else(|| path.clone());
                return Err(Diagnostic::new(
                    &child,
                    EXTENDS,
                    format!("extends `{current}`, but {} does not exist", path.display()),
                )
                .into());
            }
            let document = self.parse(&path)?;
            if !matches!(document, Value::Mapping(_)) {
                return Err(Diagnostic::new(&path, "", "expected a mapping of settings").into());
            }
            next = match document.get(EXTENDS) {
                None => None,
                Some(Value::String(parent)) => Some(parent.clone()),
                Some(_) => {
                    return Err(Diagnostic::new(
                        &path,
                        EXTENDS,
                        "must be the name of another environment file, e.g. `extends: base`",
                    )
                    .into());
                }
            };
            if !matches!(document.get(ABSTRACT), None | Some(Value::Bool(_))) {
                return Err(Diagnostic::new(&path, ABSTRACT, "must be true or false").into());
            }
            chain.push((path, document));
        }
        chain.reverse();
        Ok(chain)
    }
}

fn is_abstract(document: &Value) -> bool {
    matches!(document.get(ABSTRACT), Some(Value::Bool(true)))
}

fn own_values(mut document: Value) -> Value {
    if let Value::Mapping(map) = &mut document {
        map.remove(EXTENDS);
        map.remove(ABSTRACT);
    }
    document
}

/// Handlebars context of stack definitions: the merged settings plus the environment's name.
fn handlebars_values(name: &str, merged: &Value, file: &Path) -> Result<serde_json::Value, Error> {
    let mut values = serde_json::to_value(merged).map_err(|err| {
        Diagnostic::new(
            file,
            "",
            format!("values cannot be used in templates: {err}"),
        )
    })?;
    if let serde_json::Value::Object(map) = &mut values {
        map.insert(
            "environment".into(),
            serde_json::Value::String(name.to_string()),
        );
    }
    Ok(values)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `*.yaml` files of a directory as (stem, path), sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let found = crate::dir::files(dir, &["yaml", "yml"]).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(found.into_iter().map(|f| (f.stem, f.path)).collect())
}
