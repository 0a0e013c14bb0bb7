//! Offline review of a change: the templates rendered from the working tree against those rendered
//! from another git revision, resource by resource and property by property, with the same
//! property diff and replacement prediction as `plan` ([`crate::plan::diff`], the resource catalog).
//! No AWS call: everything comes from the two renders.
//!
//! What the diff lists is what the templates say differently, plus what a changed parameter reaches (a
//! value strata fills in from another stack's output that the change can change, or an SSM-typed
//! parameter naming another entry), predicted as `plan` predicts it. A resource that changes only because
//! one it refers to is replaced (CloudFormation's "Dynamic" evaluation) is not listed: `plan` shows those
//! from the change set.

pub mod revision;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::holds_data;
use crate::model::change::{ChangeAction, Replacement};
use crate::plan::diff::{PropertyChange, predicted_replacement, resource_changes};
use crate::plan::parameters::{
    ParameterSource, ParameterValue, PlannedParameter, merge_effects, parameter_effects, references,
};
use crate::plan::{ReplacementSource, ResourceChange};
use crate::project::{RenderedEnvironment, RenderedStack};
pub use revision::Revision;

/// Template sections besides `Resources` whose changes a reviewer should see (they change what a
/// stack exports or asks for, not a resource).
const SECTIONS: [&str; 3] = ["Description", "Parameters", "Outputs"];

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentDiff {
    pub environment: String,
    /// The revision the working tree is compared with.
    pub against: Revision,
    /// Stacks of the working tree in dependency order, then the ones only the revision has.
    pub stacks: Vec<StackDiff>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackDiffAction {
    /// Only the working tree has the stack.
    Create,
    /// Only the revision has it.
    Delete,
    Update,
    NoChanges,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackDiff {
    pub stack: String,
    pub stack_name: String,
    pub action: StackDiffAction,
    /// Parameters whose value this change can change (strata fills them in from another stack's
    /// output, or they name a Parameter Store entry): their effects are among `changes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<PlannedParameter>,
    /// Resource changes, in the plan's order (action, then logical id).
    pub changes: Vec<ResourceChange>,
    /// Changes outside `Resources`: `Outputs.VpcId.Value`, `Parameters...`, `Description`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub template: Vec<PropertyChange>,
}

impl StackDiff {
    pub fn has_changes(&self) -> bool {
        self.action != StackDiffAction::NoChanges
    }
}

impl EnvironmentDiff {
    pub fn has_changes(&self) -> bool {
        self.stacks.iter().any(StackDiff::has_changes)
    }

    pub fn changes(&self) -> impl Iterator<Item = &ResourceChange> {
        self.stacks.iter().flat_map(|s| &s.changes)
    }
}

/// The difference from `old` (the revision's render; `None` when the environment does not exist
/// there) to `new` (the working tree's).
pub fn compare(
    old: Option<&RenderedEnvironment>,
    new: &RenderedEnvironment,
    against: Revision,
) -> EnvironmentDiff {
    let old_stacks: &[RenderedStack] = old.map(|o| o.stacks.as_slice()).unwrap_or_default();
    let find = |name: &str| old_stacks.iter().find(|s| s.name == name);
    // In dependency order, so that an upstream's changes are known when its dependents' parameters
    // are judged.
    let mut stacks: Vec<StackDiff> = Vec::new();
    for stack in &new.stacks {
        let mut diff = stack_diff(find(&stack.name), Some(stack));
        if let Some(before) = find(&stack.name) {
            let parameters = changed_parameters(before, stack, &stacks, old_stacks, &new.stacks);
            let effects = parameter_effects(stack, &parameters);
            if !effects.is_empty() {
                merge_effects(&mut diff.changes, effects);
                for change in &mut diff.changes {
                    change.replacement = change
                        .replacement
                        .max(predicted_replacement(&change.properties));
                }
                diff.action = StackDiffAction::Update;
            }
            diff.parameters = parameters;
        }
        stacks.push(diff);
    }
    // Removed stacks are deleted dependents first: the reverse of the revision's order.
    for stack in old_stacks.iter().rev() {
        if !new.stacks.iter().any(|s| s.name == stack.name) {
            stacks.push(stack_diff(Some(stack), None));
        }
    }
    EnvironmentDiff {
        environment: new.environment.name.clone(),
        against,
        stacks,
    }
}

/// The parameters of `new` whose value the change can change, as `plan` shows them. Offline, no value is
/// known: a stack-output parameter changes when its upstream's change can change that output (the
/// output's definition changes, or a resource it names is added, removed or replaced), and an SSM-typed
/// parameter when it names another Parameter Store entry.
fn changed_parameters(
    old: &RenderedStack,
    new: &RenderedStack,
    upstream_diffs: &[StackDiff],
    old_stacks: &[RenderedStack],
    new_stacks: &[RenderedStack],
) -> Vec<PlannedParameter> {
    let mut changed = Vec::new();
    for (name, parameter) in &new.template.parameters {
        let before = old.template.parameters.get(name);
        if let Some(source) = &parameter.from_output {
            let output_of = |stacks: &[RenderedStack]| {
                stacks
                    .iter()
                    .find(|s| s.name == source.stack)
                    .and_then(|s| s.template.outputs.get(&source.output))
                    .map(|o| o.value.clone())
            };
            let (old_value, new_value) = (output_of(old_stacks), output_of(new_stacks));
            let named = new_value.as_ref().map(references).unwrap_or_default();
            let upstream_changes = upstream_diffs
                .iter()
                .find(|d| d.stack == source.stack)
                .map(|d| d.changes.as_slice())
                .unwrap_or_default();
            let changes_output = old_value != new_value
                || before.and_then(|b| b.from_output.as_ref()) != Some(source)
                || upstream_changes.iter().any(|change| {
                    named.contains(&change.logical_id)
                        && (!change.action.changes_existing() || change.replaces())
                });
            if changes_output {
                changed.push(PlannedParameter {
                    name: name.clone(),
                    source: ParameterSource::StackOutput {
                        stack: source.stack.clone(),
                        output: source.output.clone(),
                    },
                    deployed: Some("(value today)".into()),
                    value: ParameterValue::AfterApply {
                        after: source.stack.clone(),
                        now: None,
                    },
                });
            }
        } else if parameter.is_ssm_typed()
            && let Some(path) = &parameter.default
        {
            let old_path = before
                .filter(|b| b.is_ssm_typed())
                .and_then(|b| b.default.as_ref());
            if old_path != Some(path) {
                changed.push(PlannedParameter {
                    name: name.clone(),
                    source: ParameterSource::Ssm { path: path.clone() },
                    deployed: old_path.map(|old| format!("(the value of {old})")),
                    value: ParameterValue::Known {
                        value: format!("(the value of {path})"),
                    },
                });
            }
        }
    }
    changed
}

fn stack_diff(old: Option<&RenderedStack>, new: Option<&RenderedStack>) -> StackDiff {
    let value =
        |stack: Option<&RenderedStack>| stack.map(|s| crate::render::template_value(&s.template));
    let (old_value, new_value) = (value(old), value(new));
    let changes = template_changes(old_value.as_ref(), new_value.as_ref());
    let template = section_changes(old_value.as_ref(), new_value.as_ref());
    let action = match (old, new) {
        (None, _) => StackDiffAction::Create,
        (_, None) => StackDiffAction::Delete,
        _ if changes.is_empty() && template.is_empty() => StackDiffAction::NoChanges,
        _ => StackDiffAction::Update,
    };
    // One of the two is always there.
    let named = new.or(old);
    StackDiff {
        stack: named.map(|s| s.name.clone()).unwrap_or_default(),
        stack_name: named.map(|s| s.stack_name.clone()).unwrap_or_default(),
        action,
        parameters: Vec::new(),
        changes,
        template,
    }
}

fn resources(template: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    template
        .and_then(|t| t.get("Resources"))
        .and_then(Value::as_object)
}

fn resource_type(resource: &Value) -> &str {
    resource
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Every resource that differs between two templates, as the plan would show it with a predicted
/// replacement. A logical id whose type changed is replaced: CloudFormation cannot update a
/// resource into another type.
pub fn template_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<ResourceChange> {
    let (before, after) = (resources(old), resources(new));
    let ids: BTreeSet<&String> = before
        .into_iter()
        .chain(after)
        .flat_map(|map| map.keys())
        .collect();
    let mut changes: Vec<ResourceChange> = ids
        .into_iter()
        .filter_map(|id| {
            let old = before.and_then(|r| r.get(id));
            let new = after.and_then(|r| r.get(id));
            resource_change(id, old, new)
        })
        .collect();
    changes.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
    changes
}

fn resource_change(id: &str, old: Option<&Value>, new: Option<&Value>) -> Option<ResourceChange> {
    let change = |action, resource_type: &str, properties: Vec<PropertyChange>| ResourceChange {
        action,
        logical_id: id.to_string(),
        resource_type: resource_type.to_string(),
        physical_id: None,
        replacement: if action.changes_existing() {
            predicted_replacement(&properties)
        } else {
            Replacement::Never
        },
        replacement_source: ReplacementSource::Predicted,
        stateful: holds_data(resource_type, new.or(old).and_then(|r| r.get("Properties"))),
        properties,
        deletion_protection: old
            .filter(|_| action.changes_existing())
            .and_then(crate::catalog::protection_on)
            .map(str::to_owned),
    };
    match (old, new) {
        (None, Some(new)) => Some(change(ChangeAction::Add, resource_type(new), Vec::new())),
        (Some(old), None) => Some(change(ChangeAction::Remove, resource_type(old), Vec::new())),
        (Some(old), Some(new)) if old != new => {
            let new_type = resource_type(new);
            let mut properties = Vec::new();
            if resource_type(old) != new_type {
                properties.push(PropertyChange {
                    path: "Type".into(),
                    before: old.get("Type").cloned(),
                    after: new.get("Type").cloned(),
                    replacement: Replacement::Always,
                    parameter: None,
                });
            }
            properties.extend(resource_changes(new_type, Some(old), Some(new)));
            Some(change(ChangeAction::Modify, new_type, properties))
        }
        _ => None,
    }
}

/// Changes of the template sections outside `Resources`, each at its path.
fn section_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<PropertyChange> {
    let section = |template: Option<&Value>, name: &str| {
        template.and_then(|t| t.get(name)).cloned().map(|value| {
            // Wrapped as a resource's properties, so the plan's property diff walks it.
            serde_json::json!({ "Properties": { name: value } })
        })
    };
    SECTIONS
        .iter()
        .flat_map(|name| {
            // Not a resource type: no catalog entry, and no replacement either.
            resource_changes("", section(old, name).as_ref(), section(new, name).as_ref())
                .into_iter()
                .map(|change| PropertyChange {
                    replacement: Replacement::Never,
                    ..change
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(resources: Value) -> Value {
        json!({ "Resources": resources })
    }

    #[test]
    fn added_removed_and_modified_resources_are_found_with_their_replacement() {
        let old = template(json!({
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.10.0.0/16"}},
            "Gone": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Same": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
        }));
        let new = template(json!({
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.11.0.0/16"}},
            "Same": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
            "Fresh": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }));
        let changes = template_changes(Some(&old), Some(&new));
        let summary: Vec<(char, &str, Replacement)> = changes
            .iter()
            .map(|c| (c.action.symbol(), c.logical_id.as_str(), c.replacement))
            .collect();
        assert_eq!(
            summary,
            [
                ('+', "Fresh", Replacement::Never),
                ('~', "Vpc", Replacement::Always),
                ('-', "Gone", Replacement::Never),
            ]
        );
        assert!(changes[0].stateful, "a bucket holds data");
        assert_eq!(changes[1].properties[0].path, "CidrBlock");
    }

    #[test]
    fn a_changed_type_replaces_the_resource() {
        let old = template(json!({"Thing": {"Type": "AWS::SQS::Queue", "Properties": {}}}));
        let new = template(json!({"Thing": {"Type": "AWS::SNS::Topic", "Properties": {}}}));
        let changes = template_changes(Some(&old), Some(&new));
        assert_eq!(changes[0].properties[0].path, "Type");
        assert_eq!(changes[0].replacement, Replacement::Always);
    }

    #[test]
    fn output_changes_are_reported_outside_the_resources() {
        let old = json!({"Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}}}});
        let new = json!({"Outputs": {"VpcId": {"Value": {"Ref": "Vpc2"}}}});
        let changes = section_changes(Some(&old), Some(&new));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "Outputs.VpcId.Value");
        assert_eq!(changes[0].replacement, Replacement::Never);
    }
}
