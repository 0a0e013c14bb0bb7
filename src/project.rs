//! A strata project on disk (`environments/`, `stacks/`, `policies/`) and the pipeline that turns
//! one environment into ordered, rendered stacks: files -> typed config -> templates -> order.

use std::path::{Path, PathBuf};

use crate::config::{Environment, EnvironmentDir};
use crate::definition::StackDir;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::graph::{self, StackNode};
use crate::model::Template;
use crate::naming;
use crate::stacks::{self, StackContext};

pub struct Project {
    pub root: PathBuf,
    pub environments: EnvironmentDir,
    pub stacks: StackDir,
}

/// One stack of one environment, ready to render, plan or apply.
#[derive(Debug, Clone)]
pub struct RenderedStack {
    /// Short name (`network`), the definition file's stem.
    pub name: String,
    /// CloudFormation stack name (`photofeed-dev-network`).
    pub stack_name: String,
    pub file: PathBuf,
    pub template: Template,
    /// Short names of the stacks this one imports from.
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RenderedEnvironment {
    pub environment: Environment,
    /// In dependency order.
    pub stacks: Vec<RenderedStack>,
}

impl RenderedEnvironment {
    pub fn stack(&self, name: &str, dir: &Path) -> Result<&RenderedStack, Error> {
        self.stacks
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::UnknownStack {
                name: name.to_string(),
                dir: dir.to_path_buf(),
                available: self.stacks.iter().map(|s| s.name.clone()).collect(),
            })
    }

    /// All stacks, or only `name` (still checked against the whole environment's graph).
    pub fn select(&self, name: Option<&str>, dir: &Path) -> Result<Vec<&RenderedStack>, Error> {
        match name {
            Some(name) => Ok(vec![self.stack(name, dir)?]),
            None => Ok(self.stacks.iter().collect()),
        }
    }

    pub fn resource_count(&self) -> usize {
        self.stacks.iter().map(|s| s.template.resources.len()).sum()
    }
}

impl Project {
    pub fn open(root: &Path) -> Result<Project, Error> {
        // Paths appear in every message; `stacks/x.yaml` reads better than `./stacks/x.yaml`.
        let root = if root == Path::new(".") {
            Path::new("")
        } else {
            root
        };
        Ok(Project {
            root: root.to_path_buf(),
            environments: EnvironmentDir::new(root.join("environments")),
            stacks: StackDir::open(&root.join("stacks"))?,
        })
    }

    pub fn stacks_dir(&self) -> &Path {
        &self.stacks.dir
    }

    pub fn environment_names(&self) -> Result<Vec<String>, Error> {
        self.environments.names()
    }

    /// Loads, validates and renders every stack of `environment`, in dependency order.
    /// Problems from all stacks are reported together.
    pub fn render(&self, environment: &str) -> Result<RenderedEnvironment, Error> {
        let environment = self.environments.load(environment)?;
        let mut built = Vec::new();
        let mut problems: Vec<Diagnostic> = Vec::new();
        for file in &self.stacks.files {
            let definition = match self.stacks.instantiate(file, &environment) {
                Ok(definition) => definition,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let ctx = StackContext {
                environment: &environment,
                stack: &file.name,
                file: &file.path,
                templates: &self.stacks.templates,
            };
            match stacks::build(&definition, &ctx) {
                Ok(template) => built.push((file, template)),
                Err(mut found) => problems.append(&mut found),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }

        let nodes: Vec<StackNode> = built
            .iter()
            .map(|(file, template)| StackNode {
                name: &file.name,
                file: &file.path,
                template,
            })
            .collect();
        let dependencies = graph::dependencies(&nodes)?;
        let order = graph::order(&dependencies)?;
        let mut stacks = Vec::new();
        for name in order {
            if let Some(position) = built.iter().position(|(file, _)| file.name == name) {
                let (file, template) = built.swap_remove(position);
                stacks.push(RenderedStack {
                    stack_name: naming::stack_name(
                        &environment.settings.project,
                        &environment.name,
                        &file.name,
                    ),
                    depends_on: dependencies
                        .get(&name)
                        .map(|d| d.iter().cloned().collect())
                        .unwrap_or_default(),
                    name,
                    file: file.path.clone(),
                    template,
                });
            }
        }
        Ok(RenderedEnvironment {
            environment,
            stacks,
        })
    }
}
