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
use crate::policy::{
    CacheUse, Evaluation, PolicyReport, PolicySet, ReportCache, TemplateInput, Waiver,
};
use crate::stacks::{self, StackContext, crosscheck};

pub struct Project {
    pub root: PathBuf,
    pub environments: EnvironmentDir,
    pub stacks: StackDir,
    /// Rule files of `policies/`, syntax-checked when the project opens.
    pub policies: PolicySet,
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
    /// Policy exceptions the stack definition declares.
    pub waivers: Vec<Waiver>,
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
        let policies = PolicySet::load(&root.join("policies"))?;
        Ok(Project {
            root: root.to_path_buf(),
            environments: EnvironmentDir::new(root.join("environments")),
            stacks: StackDir::open(&root.join("stacks"))?,
            policies,
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
            let (definition, source) = match self.stacks.instantiate(file, &environment) {
                Ok(instantiated) => instantiated,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let ctx = StackContext {
                environment: &environment,
                stack: &file.name,
                file: &file.path,
                source: &source,
                templates: &self.stacks.templates,
                packages: &self.stacks.packages,
            };
            match stacks::build(&definition, &ctx) {
                Ok(template) => {
                    let waivers =
                        self.policies
                            .waivers(&definition.waivers, &ctx, &template, &mut problems);
                    built.push((file, template, waivers));
                }
                Err(mut found) => problems.append(&mut found),
            }
        }
        problems.extend(self.policies.unknown_files(&environment));
        let views: Vec<crosscheck::StackView> = built
            .iter()
            .map(|(file, template, _)| crosscheck::StackView {
                name: &file.name,
                file: &file.path,
                template,
            })
            .collect();
        problems.extend(crosscheck::check(&views));
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }

        let nodes: Vec<StackNode> = built
            .iter()
            .map(|(file, template, _)| StackNode {
                name: &file.name,
                file: &file.path,
                template,
            })
            .collect();
        let dependencies = graph::dependencies(&nodes)?;
        let order = graph::order(&dependencies)?;
        let mut stacks = Vec::new();
        for name in order {
            if let Some(position) = built.iter().position(|(file, _, _)| file.name == name) {
                let (file, template, waivers) = built.swap_remove(position);
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
                    waivers,
                });
            }
        }
        Ok(RenderedEnvironment {
            environment,
            stacks,
        })
    }

    /// Evaluates the environment's rule files over all its templates, with the stacks' waivers.
    pub fn check_policies(&self, rendered: &RenderedEnvironment) -> Result<PolicyReport, Error> {
        Ok(self
            .check_policies_all(std::slice::from_ref(rendered))?
            .pop()
            .unwrap_or_default())
    }

    /// The policy reports of several environments, in order, from one evaluation pass over all their
    /// templates (each rule file is run once over every template that selects it).
    pub fn check_policies_all(
        &self,
        environments: &[RenderedEnvironment],
    ) -> Result<Vec<PolicyReport>, Error> {
        Ok(self
            .check_policies_cached(environments, &ReportCache::disabled())?
            .0)
    }

    /// [`Project::check_policies_all`], reusing the reports `cache` holds for unchanged rule files and
    /// templates (what `validate` does); also says how many reports were evaluated and reused.
    pub fn check_policies_cached(
        &self,
        environments: &[RenderedEnvironment],
        cache: &ReportCache,
    ) -> Result<(Vec<PolicyReport>, CacheUse), Error> {
        // Each template's JSON text, built on all cores; the value trees are dropped as they go.
        let texts: Vec<Vec<String>> = crate::parallel::map(environments, |rendered| {
            rendered
                .stacks
                .iter()
                .map(|s| crate::render::template_value(&s.template).to_string())
                .collect()
        });
        let evaluations: Vec<Evaluation> = environments
            .iter()
            .zip(texts)
            .map(|(rendered, texts)| Evaluation {
                files: self.policies.selection(&rendered.environment),
                templates: rendered
                    .stacks
                    .iter()
                    .zip(texts)
                    .map(|(stack, json)| TemplateInput {
                        stack: &stack.name,
                        json,
                    })
                    .collect(),
                waivers: rendered
                    .stacks
                    .iter()
                    .flat_map(|s| s.waivers.clone())
                    .collect::<Vec<Waiver>>(),
            })
            .collect();
        Ok(crate::policy::evaluate_cached(&evaluations, cache)?)
    }
}
