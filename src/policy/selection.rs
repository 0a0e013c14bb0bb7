//! The project's rule files as a set: which ones an environment applies and at what level, whether
//! the environment names files that do not exist, and whether a stack's waivers name a real
//! resource and rule with a reason. Evaluation itself is [`super::evaluate`].

use std::collections::BTreeMap;
use std::path::Path;

use super::{Level, PolicyError, PolicyReport, RuleFile, TemplateInput, Waiver};
use crate::config::{Environment, PolicyLevel};
use crate::diagnostic::Diagnostic;
use crate::model::Template;
use crate::stacks::{StackContext, WaiverDefinition};

/// The rule files of `policies/`, syntax-checked, and which file defines each rule.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub files: Vec<RuleFile>,
    /// Rule name -> the rule file (stem) defining it.
    pub rules: BTreeMap<String, String>,
}

impl PolicySet {
    /// Reads and syntax-checks every `*.guard` file of `dir`; no directory is no policies.
    pub fn load(dir: &Path) -> Result<PolicySet, PolicyError> {
        let files = if dir.is_dir() {
            super::load_rule_files(dir)?
        } else {
            Vec::new()
        };
        super::check_syntax(&files)?;
        let mut rules = BTreeMap::new();
        for file in &files {
            for rule in super::rule_names(file)? {
                rules.insert(rule, file.name.clone());
            }
        }
        Ok(PolicySet { files, rules })
    }

    /// The rule files `environment` applies, with their levels.
    pub fn selection(&self, environment: &Environment) -> Vec<(RuleFile, Level)> {
        self.files
            .iter()
            .filter_map(|file| match environment.settings.policies.get(&file.name) {
                Some(PolicyLevel::Error) => Some((file.clone(), Level::Error)),
                Some(PolicyLevel::Warn) => Some((file.clone(), Level::Warn)),
                Some(PolicyLevel::Off) | None => None,
            })
            .collect()
    }

    /// Evaluates the environment's rule files over `templates` (stack name, template JSON), with
    /// the stacks' waivers.
    pub fn check(
        &self,
        environment: &Environment,
        templates: &[TemplateInput<'_>],
        waivers: &[Waiver],
    ) -> Result<PolicyReport, PolicyError> {
        let evaluation = super::Evaluation {
            files: self.selection(environment),
            templates: templates.to_vec(),
            waivers: waivers.to_vec(),
        };
        Ok(self
            .check_all(std::slice::from_ref(&evaluation))?
            .pop()
            .unwrap_or_default())
    }

    /// Evaluates several environments' templates in one pass (`validate` of every environment): each rule
    /// file is parsed and run once over all the templates that select it. The files were syntax-checked
    /// when the set was loaded.
    pub fn check_all(
        &self,
        evaluations: &[super::Evaluation<'_>],
    ) -> Result<Vec<PolicyReport>, PolicyError> {
        super::evaluate_checked(evaluations)
    }

    /// Rule files the environment sets a level for that `policies/` does not have.
    pub fn unknown_files(&self, environment: &Environment) -> Vec<Diagnostic> {
        let known: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
        environment
            .settings
            .policies
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .map(|name| {
                let field = format!("policies.{name}");
                let file = environment
                    .origins
                    .file_of(&field)
                    .unwrap_or(&environment.file);
                Diagnostic::new(
                    file,
                    field,
                    format!(
                        "no rule file policies/{name}.guard; rule files: {}",
                        known.join(", ")
                    ),
                )
            })
            .collect()
    }

    /// Checks each waiver names a resource of the stack and a known rule, with a reason.
    pub fn waivers(
        &self,
        definitions: &[WaiverDefinition],
        ctx: &StackContext,
        template: &Template,
        problems: &mut Vec<Diagnostic>,
    ) -> Vec<Waiver> {
        let mut waivers = Vec::new();
        for (index, waiver) in definitions.iter().enumerate() {
            let field = format!("waivers[{index}]");
            if !template.resources.contains_key(&waiver.resource) {
                let ids: Vec<&str> = template.resources.keys().map(String::as_str).collect();
                problems.push(ctx.diagnostic(
                    &format!("{field}.resource"),
                    format!(
                        "no resource `{}` in this stack; resources: {}",
                        waiver.resource,
                        ids.join(", ")
                    ),
                ));
            } else if !self.rules.contains_key(&waiver.rule) {
                problems.push(ctx.diagnostic(
                    &format!("{field}.rule"),
                    format!("no rule `{}` in policies/", waiver.rule),
                ));
            } else if waiver.reason.trim().is_empty() {
                problems.push(ctx.diagnostic(
                    &format!("{field}.reason"),
                    "a waiver needs a written reason",
                ));
            } else {
                waivers.push(Waiver {
                    stack: ctx.stack.to_string(),
                    logical_id: waiver.resource.clone(),
                    rule: waiver.rule.clone(),
                    reason: waiver.reason.trim().to_string(),
                });
            }
        }
        waivers
    }
}
