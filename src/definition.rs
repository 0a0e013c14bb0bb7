//! Stack definition files (`stacks/*.yaml`) and the handlebars templates beside them.
//! A definition is rendered with the environment's values (strict: a missing variable is an
//! error), then parsed into the typed [`StackDefinition`].

use std::path::{Path, PathBuf};

use handlebars::{Handlebars, RenderError, RenderErrorReason, TemplateError, handlebars_helper};

use crate::config::{Environment, yaml_files};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::stacks::StackDefinition;
use crate::yaml;

/// Extension of the handlebars templates that components render (e.g. bastion user data).
const TEMPLATE_EXTENSION: &str = "hbs";

#[derive(Debug, Clone)]
pub struct DefinitionFile {
    pub name: String,
    pub path: PathBuf,
}

/// The `stacks/` directory: its definitions and a handlebars registry holding all its templates.
pub struct StackDir {
    pub dir: PathBuf,
    pub files: Vec<DefinitionFile>,
    pub templates: Handlebars<'static>,
    /// Function code packaged so far (see [`crate::package::Packages`]).
    pub packages: crate::package::Packages,
}

impl StackDir {
    pub fn open(dir: &Path) -> Result<StackDir, Error> {
        let files: Vec<DefinitionFile> = yaml_files(dir)?
            .into_iter()
            .map(|(name, path)| DefinitionFile { name, path })
            .collect();
        if files.is_empty() {
            return Err(Error::NothingFound {
                what: "stack definitions (*.yaml)",
                dir: dir.to_path_buf(),
            });
        }
        let mut templates = registry();
        for file in &files {
            let text = yaml::read_file(&file.path)?;
            templates
                .register_template_string(&template_key(&file.path), text)
                .map_err(|err| syntax_diagnostic(&file.path, &err))?;
        }
        for path in template_files(dir)? {
            let text = yaml::read_file(&path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            templates
                .register_template_string(&name, text)
                .map_err(|err| syntax_diagnostic(&path, &err))?;
        }
        Ok(StackDir {
            dir: dir.to_path_buf(),
            files,
            templates,
            packages: crate::package::Packages::default(),
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.files.iter().map(|f| f.name.clone()).collect()
    }

    /// Renders a definition with the environment's values and parses it; also returns the
    /// rendered text, which later checks locate fields in.
    pub fn instantiate(
        &self,
        file: &DefinitionFile,
        environment: &Environment,
    ) -> Result<(StackDefinition, String), Diagnostic> {
        let text = self
            .templates
            .render(&template_key(&file.path), &environment.values)
            .map_err(|err| render_diagnostic(&file.path, &err, Some(&environment.name)))?;
        let definition = yaml::parse_typed(&file.path, &text).map_err(|mut diagnostic| {
            diagnostic.message =
                format!("{} (environment {})", diagnostic.message, environment.name);
            diagnostic
        })?;
        Ok((definition, text))
    }

    /// Renders one of the `*.hbs` templates (e.g. bastion user data) with component data.
    pub fn render_template(
        templates: &Handlebars<'static>,
        dir_hint: &Path,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<String, Diagnostic> {
        if !templates.has_template(name) {
            return Err(Diagnostic::new(
                dir_hint,
                "",
                format!(
                    "template `{name}` not found; templates live beside the stack definitions as *.{TEMPLATE_EXTENSION}"
                ),
            ));
        }
        templates
            .render(name, data)
            .map_err(|err| render_diagnostic(Path::new(name), &err, None))
    }
}

/// Strict handlebars with no HTML escaping (output is YAML or shell) and a `json` helper
/// that writes lists and maps as inline YAML.
fn registry() -> Handlebars<'static> {
    handlebars_helper!(json: |value: Json| serde_json::to_string(value).unwrap_or_default());
    let mut templates = Handlebars::new();
    templates.set_strict_mode(true);
    templates.register_escape_fn(handlebars::no_escape);
    templates.register_helper("json", Box::new(json));
    templates
}

fn template_key(path: &Path) -> String {
    path.display().to_string()
}

fn template_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let found = crate::dir::files(dir, &[TEMPLATE_EXTENSION]).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(found.into_iter().map(|f| f.path).collect())
}

fn syntax_diagnostic(path: &Path, err: &TemplateError) -> Diagnostic {
    Diagnostic::new(path, "", format!("template syntax error: {}", err.reason()))
        .at_line(err.pos().map(|(line, _)| line))
}

/// `environment`, when known, is named in the message: the same definition renders once per environment.
fn render_diagnostic(path: &Path, err: &RenderError, environment: Option<&str>) -> Diagnostic {
    let label = environment
        .map(|name| format!(" (environment {name})"))
        .unwrap_or_default();
    let message = match err.reason() {
        RenderErrorReason::MissingVariable(Some(variable)) => format!(
            "`{{{{{variable}}}}}` names a value that does not exist{label}; templates are strict, so every variable must be defined"
        ),
        other => format!("{other}{label}"),
    };
    Diagnostic::new(path, "", message).at_line(err.line_no)
}
