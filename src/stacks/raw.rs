//! Plain CloudFormation resources and outputs declared beside the components, for what no
//! component covers. Rendered as written, after the components; checked offline against the
//! type's CloudFormation schema (from the resource catalog), so an unknown property or a value of
//! the wrong type is reported with its file, line and field before anything reaches AWS. The rest
//! of strata treats them like any other resource: policies, replacement prediction, the stateful
//! guard.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::catalog::{self, PathDisplay, Segment};
use crate::diagnostic::Diagnostic;
use crate::model::{DeletionPolicy, Lifecycle, Output, Resource, Template, UpdateReplacePolicy};
use crate::stacks::StackContext;
use crate::yaml;

/// One entry under `resources:` (logical id -> resource), spelled as in a CloudFormation template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    #[serde(rename = "Type")]
    pub resource_type: String,
    #[serde(rename = "Properties", default)]
    pub properties: Option<serde_yaml::Value>,
    #[serde(rename = "DependsOn", default)]
    pub depends_on: Option<OneOrMany>,
    #[serde(rename = "DeletionPolicy", default)]
    pub deletion_policy: Option<DeletionPolicy>,
    #[serde(rename = "UpdateReplacePolicy", default)]
    pub update_replace_policy: Option<UpdateReplacePolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn ids(&self) -> Vec<String> {
        match self {
            OneOrMany::One(id) => vec![id.clone()],
            OneOrMany::Many(ids) => ids.clone(),
        }
    }
}

/// One entry under `outputs:` (name -> output).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    #[serde(rename = "Description", default)]
    pub description: String,
    #[serde(rename = "Value")]
    pub value: serde_yaml::Value,
    #[serde(rename = "Export", default)]
    pub export: Option<RawExport>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    #[serde(rename = "Name")]
    pub name: String,
}

/// CloudFormation's rule for logical ids: "alphanumeric (A-Za-z0-9) and unique within the template"
/// (CloudFormation User Guide, Resources section, Logical ID), at most 255 characters.
fn valid_logical_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

pub fn build(
    resources: &BTreeMap<String, RawResource>,
    outputs: &BTreeMap<String, RawOutput>,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    for (id, raw) in resources {
        if let Err(mut found) = build_resource(id, raw, ctx, template) {
            problems.append(&mut found);
        }
    }
    // DependsOn may name any resource of the stack, components' included, so it is checked last.
    for (id, raw) in resources {
        for (index, target) in raw.depends_on.iter().flat_map(OneOrMany::ids).enumerate() {
            if !template.resources.contains_key(&target) {
                let mut path = resource_path(id);
                path.push(Segment::Key("DependsOn".into()));
                if matches!(raw.depends_on, Some(OneOrMany::Many(_))) {
                    path.push(Segment::Index(index));
                }
                problems.push(
                    ctx.diagnostic_at(&path, format!("`{target}` is not a resource of this stack")),
                );
            }
        }
    }
    for (name, raw) in outputs {
        let mut path = vec![Segment::Key("outputs".into()), Segment::Key(name.clone())];
        if !valid_logical_id(name) {
            problems.push(ctx.diagnostic_at(
                &path,
                "an output name is letters and digits only (A-Za-z0-9)",
            ));
            continue;
        }
        path.push(Segment::Key("Value".into()));
        let value = match yaml::to_json(raw.value.clone()) {
            Ok(value) => value,
            Err(reason) => {
                problems.push(ctx.diagnostic_at(&path, reason));
                continue;
            }
        };
        let output = Output {
            description: raw.description.clone(),
            value,
            export: raw.export.as_ref().map(|e| e.name.clone()),
        };
        if let Err(problem) = ctx.add_output(template, &format!("outputs.{name}"), name, output) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn resource_path(id: &str) -> Vec<Segment> {
    vec![
        Segment::Key("resources".into()),
        Segment::Key(id.to_owned()),
    ]
}

fn build_resource(
    id: &str,
    raw: &RawResource,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let at = |tail: &[Segment]| {
        let mut path = resource_path(id);
        path.extend_from_slice(tail);
        path
    };
    if !valid_logical_id(id) {
        return Err(vec![ctx.diagnostic_at(
            &at(&[]),
            "a logical id is letters and digits only (A-Za-z0-9)",
        )]);
    }
    let type_field = [Segment::Key("Type".into())];
    let resource_type = catalog::require(&raw.resource_type)
        .map_err(|err| vec![ctx.diagnostic_at(&at(&type_field), err.to_string())])?;
    let properties_field = Segment::Key("Properties".into());
    let properties = match &raw.properties {
        None => serde_json::Value::Object(Default::default()),
        Some(value) => yaml::to_json(value.clone()).map_err(|reason| {
            vec![ctx.diagnostic_at(&at(std::slice::from_ref(&properties_field)), reason)]
        })?,
    };
    let problems: Vec<Diagnostic> = resource_type
        .validate(&properties)
        .into_iter()
        .map(|problem| {
            let mut path = vec![properties_field.clone()];
            path.extend(problem.path);
            // A missing property has no line of its own: point at the mapping that lacks it.
            let located = if raw.properties.is_some() {
                at(&path)
            } else {
                at(&[])
            };
            ctx.diagnostic_at(&located, problem.message)
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    // Both policies or neither, as for components: neither is left to a per-type default alone.
    let lifecycle = match (raw.deletion_policy, raw.update_replace_policy) {
        (Some(on_delete), Some(on_replace)) => Some(Lifecycle {
            on_delete,
            on_replace,
        }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(vec![ctx.diagnostic_at(
                &at(&[]),
                "set both DeletionPolicy and UpdateReplacePolicy, or neither",
            )]);
        }
    };
    let resource = Resource {
        resource_type: resource_type.name.as_str(),
        properties,
        depends_on: raw
            .depends_on
            .as_ref()
            .map(OneOrMany::ids)
            .unwrap_or_default(),
        lifecycle,
    };
    ctx.add(template, &PathDisplay(&at(&[])).to_string(), id, resource)
        .map_err(|problem| vec![problem])
}
