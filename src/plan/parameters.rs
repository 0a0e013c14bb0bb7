//! Values a stack receives as template parameters, and what their changes do to its resources.
//!
//! Two kinds: outputs of other stacks of the environment ([`crate::stacks::StackContext::stack_output`]:
//! endpoints and lists that change with the environment, which CloudFormation would refuse to change as
//! exports in use), and SSM-typed parameters whose default names a Parameter Store entry (the bastion's
//! image). strata fills in the first kind itself, as Sceptre's `stack_output` resolver does: from the
//! upstream stack's outputs, read when the dependent is planned and again when it is applied. When this plan
//! changes the upstream in a way that can change the output, the value is only known once the upstream has
//! applied: the plan says so, predicts which resources the value reaches, and apply re-plans the dependent
//! with the value then read. SSM-typed parameters are left to CloudFormation (it resolves them on every
//! create, update and change set); strata reads the entry too, so that the plan can say what changes.
//!
//! Neither the emulator nor a parameter-only change set names the resources a parameter reaches (moto
//! reports no changes at all for one), so the effect is predicted here from which resource properties
//! reference the parameter and whether those properties force replacement.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aws::cloudformation::{CloudFormation, StackDescription};
use crate::aws::{AccountFacts, AwsError};
use crate::catalog::{self, holds_data};
use crate::error::Error;
use crate::plan::diff::PropertyChange;
use crate::plan::{
    ChangeAction, Replacement, ReplacementSource, ResourceChange, StackAction, StackPlan,
};
use crate::project::{RenderedEnvironment, RenderedStack};
use crate::render::template_value;

/// A parameter of the planned stack that strata resolves or observes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedParameter {
    pub name: String,
    #[serde(flatten)]
    pub source: ParameterSource,
    /// The value the deployed stack holds (resolved value for SSM-typed parameters); absent for a stack or
    /// parameter that does not exist yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed: Option<String>,
    pub value: ParameterValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ParameterSource {
    /// Output `output` of stack `stack` (short name), filled in by strata.
    StackOutput { stack: String, output: String },
    /// The Parameter Store entry an SSM-typed parameter names; CloudFormation resolves it.
    Ssm { path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ParameterValue {
    /// The value now, which the plan's change set uses.
    Known { value: String },
    /// Stack `after` (short name) changes in this plan in a way that can change this output: the value is
    /// read once it has applied, and the dependent re-planned with it. `now` is what it outputs today (the
    /// value the plan's change set uses); absent when it does not have the output yet.
    AfterApply {
        after: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<String>,
    },
}

impl PlannedParameter {
    /// The value may differ from the deployed one.
    pub fn may_change(&self) -> bool {
        match &self.value {
            ParameterValue::Known { value } => self.deployed.as_deref() != Some(value.as_str()),
            ParameterValue::AfterApply { .. } => true,
        }
    }

    /// The stack whose apply this value waits for.
    pub fn waits_for(&self) -> Option<&str> {
        match &self.value {
            ParameterValue::AfterApply { after, .. } => Some(after),
            ParameterValue::Known { .. } => None,
        }
    }

    /// Filled in by strata (rather than resolved by CloudFormation).
    pub fn is_stack_output(&self) -> bool {
        matches!(self.source, ParameterSource::StackOutput { .. })
    }

    /// What the plan's change set was made with: the known value, or the upstream's current output.
    pub fn planned_value(&self) -> Option<&str> {
        match &self.value {
            ParameterValue::Known { value } => Some(value),
            ParameterValue::AfterApply { now, .. } => now.as_deref(),
        }
    }
}

/// An upstream stack as far as its dependents' parameters care.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub rendered: RenderedStack,
    /// Its plan, when this plan covers it; `None` when only a dependent is planned (`--stack`).
    pub plan: Option<StackPlan>,
    pub deployed: Option<StackDescription>,
    /// Its deployed template (canonical JSON), when it was read for the plan.
    pub deployed_template: Option<Value>,
}

impl Upstream {
    /// Whether this plan can change the value of `output`: the stack is created, the output's definition
    /// changes, or a resource it refers to is added, removed or (possibly) replaced.
    fn changes_output(&self, output: &str) -> bool {
        let Some(plan) = &self.plan else {
            return false;
        };
        match plan.action {
            StackAction::NoChanges => false,
            StackAction::Create | StackAction::Recreate => true,
            StackAction::Update => {
                let new = template_value(&self.rendered.template);
                let definition = |template: &Value| {
                    template
                        .get("Outputs")
                        .and_then(|o| o.get(output))
                        .and_then(|o| o.get("Value"))
                        .cloned()
                };
                let new_definition = definition(&new);
                if self.deployed_template.as_ref().and_then(definition) != new_definition {
                    return true;
                }
                let referenced = new_definition.map(|d| references(&d)).unwrap_or_default();
                plan.changes.iter().any(|change| {
                    referenced.contains(&change.logical_id)
                        && (!change.action.changes_existing() || change.replaces())
                })
            }
        }
    }

    fn output_now(&self, output: &str) -> Option<String> {
        self.deployed
            .as_ref()
            .and_then(|d| d.outputs.get(output))
            .map(|o| o.value.clone())
    }
}

/// The parameters of `stack` that strata fills in or observes, with their values as this plan sees them.
pub async fn plan_parameters<F: AccountFacts>(
    facts: &F,
    stack: &RenderedStack,
    deployed: Option<&StackDescription>,
    upstreams: &BTreeMap<String, Upstream>,
) -> Result<Vec<PlannedParameter>, Error> {
    let deployed_value = |name: &str| deployed.and_then(|d| d.parameters.get(name).cloned());
    let mut planned = Vec::new();
    for (name, parameter) in &stack.template.parameters {
        if let Some(source) = &parameter.from_output {
            let upstream = upstreams
                .get(&source.stack)
                .ok_or_else(|| Error::UpstreamOutput {
                    stack: stack.stack_name.clone(),
                    upstream: source.stack.clone(),
                    output: source.output.clone(),
                    reason: "that stack is not part of this environment".into(),
                })?;
            let value = if upstream.changes_output(&source.output) {
                ParameterValue::AfterApply {
                    after: source.stack.clone(),
                    now: upstream.output_now(&source.output),
                }
            } else {
                let value = upstream.output_now(&source.output).ok_or_else(|| {
                    Error::UpstreamOutput {
                        stack: stack.stack_name.clone(),
                        upstream: upstream.rendered.stack_name.clone(),
                        output: source.output.clone(),
                        reason: match &upstream.deployed {
                            None => "that stack is not deployed; apply it first (or the whole environment)".into(),
                            Some(_) => "the deployed stack has no such output; apply it first".into(),
                        },
                    }
                })?;
                ParameterValue::Known { value }
            };
            planned.push(PlannedParameter {
                name: name.clone(),
                source: ParameterSource::StackOutput {
                    stack: source.stack.clone(),
                    output: source.output.clone(),
                },
                deployed: deployed_value(name),
                value,
            });
        } else if parameter.is_ssm_typed()
            && let Some(entry) = &parameter.default
        {
            let value =
                facts
                    .ssm_parameter(entry)
                    .await?
                    .ok_or_else(|| Error::SsmParameterMissing {
                        stack: stack.stack_name.clone(),
                        parameter: name.clone(),
                        entry: entry.clone(),
                    })?;
            planned.push(PlannedParameter {
                name: name.clone(),
                source: ParameterSource::Ssm {
                    path: entry.clone(),
                },
                deployed: deployed_value(name),
                value: ParameterValue::Known { value },
            });
        }
    }
    Ok(planned)
}

/// The values strata passes for the stack-output parameters; `None` when one has no value yet (its upstream
/// does not output it before this plan applies), so no change set can be made now.
pub fn change_set_values(parameters: &[PlannedParameter]) -> Option<BTreeMap<String, String>> {
    parameters
        .iter()
        .filter(|p| p.is_stack_output())
        .map(|p| p.planned_value().map(|v| (p.name.clone(), v.to_owned())))
        .collect()
}

/// What each stack-output parameter's upstream outputs now, by parameter name (`None`: it does not, or the
/// upstream does not exist).
pub async fn current_values<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
    parameters: &[PlannedParameter],
) -> Result<BTreeMap<String, Option<String>>, AwsError> {
    let mut outputs: BTreeMap<&str, Option<StackDescription>> = BTreeMap::new();
    let mut values = BTreeMap::new();
    for parameter in parameters {
        let ParameterSource::StackOutput { stack, output } = &parameter.source else {
            continue;
        };
        let Some(upstream) = rendered.stacks.iter().find(|s| &s.name == stack) else {
            values.insert(parameter.name.clone(), None);
            continue;
        };
        if !outputs.contains_key(upstream.stack_name.as_str()) {
            let described = cloudformation.describe_stack(&upstream.stack_name).await?;
            outputs.insert(&upstream.stack_name, described);
        }
        let value = outputs
            .get(upstream.stack_name.as_str())
            .and_then(Option::as_ref)
            .and_then(|d| d.outputs.get(output))
            .map(|o| o.value.clone());
        values.insert(parameter.name.clone(), value);
    }
    Ok(values)
}

/// The parameters as they stand once `values` (from [`current_values`]) are read: every stack-output value
/// known.
pub fn with_values(
    parameters: &[PlannedParameter],
    values: &BTreeMap<String, String>,
) -> Vec<PlannedParameter> {
    parameters
        .iter()
        .map(|parameter| match values.get(&parameter.name) {
            Some(value) if parameter.is_stack_output() => PlannedParameter {
                value: ParameterValue::Known {
                    value: value.clone(),
                },
                ..parameter.clone()
            },
            _ => parameter.clone(),
        })
        .collect()
}

/// Logical ids and parameter names `value` refers to: `Ref`, `Fn::GetAtt`, and `${Name}` / `${Name.Attr}`
/// inside `Fn::Sub` (a `${!Literal}` is not a reference).
pub fn references(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("Ref", Value::String(name)) => {
                            found.insert(name.clone());
                        }
                        ("Fn::GetAtt", Value::Array(parts)) => {
                            if let Some(Value::String(id)) = parts.first() {
                                found.insert(id.clone());
                            }
                        }
                        ("Fn::GetAtt", Value::String(path)) => {
                            found.insert(path.split('.').next().unwrap_or(path).to_owned());
                        }
                        ("Fn::Sub", Value::String(text)) => sub_names(text, found),
                        ("Fn::Sub", Value::Array(parts)) => {
                            let variables: BTreeSet<&str> = parts
                                .get(1)
                                .and_then(Value::as_object)
                                .map(|v| v.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            if let Some(Value::String(text)) = parts.first() {
                                let mut named = BTreeSet::new();
                                sub_names(text, &mut named);
                                found.extend(
                                    named
                                        .into_iter()
                                        .filter(|n| !variables.contains(n.as_str())),
                                );
                            }
                            if let Some(bindings) = parts.get(1) {
                                walk(bindings, found);
                            }
                            continue;
                        }
                        _ => {}
                    }
                    walk(inner, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    fn sub_names(text: &str, found: &mut BTreeSet<String>) {
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return;
            };
            let name = &after[..end];
            if !name.starts_with('!') {
                found.insert(name.split('.').next().unwrap_or(name).to_owned());
            }
            rest = &after[end + 1..];
        }
    }
    let mut found = BTreeSet::new();
    walk(value, &mut found);
    found
}

/// What the parameters that may change do to the stack's resources: each property referring to one is a
/// predicted modification, replacing when the property forces replacement.
pub fn parameter_effects(
    stack: &RenderedStack,
    parameters: &[PlannedParameter],
) -> Vec<ResourceChange> {
    let changing: Vec<&PlannedParameter> = parameters.iter().filter(|p| p.may_change()).collect();
    if changing.is_empty() {
        return Vec::new();
    }
    let mut effects = Vec::new();
    for (logical_id, resource) in &stack.template.resources {
        let Some(properties) = resource.properties.as_object() else {
            continue;
        };
        let mut changed = Vec::new();
        for (property, value) in properties {
            let referenced = references(value);
            for parameter in changing.iter().filter(|p| referenced.contains(&p.name)) {
                changed.push(PropertyChange {
                    path: property.clone(),
                    before: parameter.deployed.as_ref().map(|v| json!(v)),
                    after: Some(json!(match &parameter.value {
                        ParameterValue::Known { value } => value.clone(),
                        ParameterValue::AfterApply { after, .. } => {
                            format!("(known after {after} applies)")
                        }
                    })),
                    replacement: catalog::lookup(resource.resource_type)
                        .map_or(Replacement::Conditional, |t| {
                            t.property_replacement(property)
                        }),
                    parameter: Some(parameter.name.clone()),
                });
            }
        }
        if changed.is_empty() {
            continue;
        }
        effects.push(predicted_modification(logical_id, resource, changed));
    }
    effects.extend(cascade(stack, &effects));
    effects
}

fn predicted_modification(
    logical_id: &str,
    resource: &crate::model::Resource,
    changed: Vec<PropertyChange>,
) -> ResourceChange {
    ResourceChange {
        action: ChangeAction::Modify,
        logical_id: logical_id.to_owned(),
        resource_type: resource.resource_type.to_owned(),
        physical_id: None,
        replacement: changed
            .iter()
            .map(|c| c.replacement)
            .max()
            .unwrap_or(Replacement::Never),
        replacement_source: ReplacementSource::Predicted,
        stateful: holds_data(resource.resource_type, Some(&resource.properties)),
        properties: changed,
        // The template is the deployed one (only a parameter value changes), so its protection is
        // the deployed resource's.
        deletion_protection: crate::catalog::protection_in(
            resource.resource_type,
            &resource.properties,
        )
        .map(str::to_owned),
    }
}

/// Resources that refer to one the effects may replace: a replacement has a new id (and endpoint), so
/// they change too, as CloudFormation lists them ("Dynamic" evaluation).
fn cascade(stack: &RenderedStack, effects: &[ResourceChange]) -> Vec<ResourceChange> {
    let mut found: Vec<ResourceChange> = Vec::new();
    loop {
        let replaced: BTreeSet<&str> = effects
            .iter()
            .chain(&found)
            .filter(|c| c.replaces())
            .map(|c| c.logical_id.as_str())
            .collect();
        let listed: BTreeSet<&str> = effects
            .iter()
            .chain(&found)
            .map(|c| c.logical_id.as_str())
            .collect();
        let mut more = Vec::new();
        for (logical_id, resource) in &stack.template.resources {
            if listed.contains(logical_id.as_str()) {
                continue;
            }
            let Some(properties) = resource.properties.as_object() else {
                continue;
            };
            let changed: Vec<PropertyChange> = properties
                .iter()
                .filter_map(|(property, value)| {
                    let cause = references(value)
                        .into_iter()
                        .find(|r| replaced.contains(r.as_str()))?;
                    Some(PropertyChange {
                        path: property.clone(),
                        before: None,
                        after: Some(json!(format!("(changes if {cause} is replaced)"))),
                        replacement: catalog::lookup(resource.resource_type)
                            .map_or(Replacement::Conditional, |t| {
                                t.property_replacement(property)
                            }),
                        parameter: None,
                    })
                })
                .collect();
            if !changed.is_empty() {
                more.push(predicted_modification(logical_id, resource, changed));
            }
        }
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}

/// Adds predicted effects to the changes AWS listed: a resource AWS lists keeps its entry (and its replacement
/// when AWS gave one) and gains the parameter-driven properties; one it does not list is added.
pub fn merge_effects(changes: &mut Vec<ResourceChange>, effects: Vec<ResourceChange>) {
    for effect in effects {
        match changes
            .iter_mut()
            .find(|c| c.logical_id == effect.logical_id)
        {
            Some(listed) if listed.action.changes_existing() => {
                for property in effect.properties {
                    if !listed.properties.contains(&property) {
                        listed.properties.push(property);
                    }
                }
                if listed.replacement_source == ReplacementSource::Predicted {
                    listed.replacement = listed.replacement.max(effect.replacement);
                }
            }
            // Added or removed anyway: the parameter changes nothing more.
            Some(_) => {}
            None => changes.push(effect),
        }
    }
    changes.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Parameter, Resource, Template};
    use std::path::PathBuf;

    fn known(name: &str, deployed: Option<&str>, value: &str) -> PlannedParameter {
        PlannedParameter {
            name: name.into(),
            source: ParameterSource::StackOutput {
                stack: "database".into(),
                output: "ReaderEndpoints".into(),
            },
            deployed: deployed.map(str::to_owned),
            value: ParameterValue::Known {
                value: value.into(),
            },
        }
    }

    fn bastion() -> RenderedStack {
        let mut template = Template::default();
        template
            .parameter(
                "DatabaseReaderEndpoints",
                Parameter::from_output("database", "ReaderEndpoints"),
            )
            .unwrap();
        template
            .parameter(
                "BastionImageId",
                Parameter::new("AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "image")
                    .default_value("/aws/service/x"),
            )
            .unwrap();
        template
            .add(
                "BastionInstance",
                Resource::new(
                    "AWS::EC2::Instance",
                    json!({
                        "ImageId": {"Ref": "BastionImageId"},
                        "InstanceType": "t3.micro",
                        "UserData": {"Fn::Base64": {"Fn::Sub": ["fwd ${R} ${!HOME}", {"R": {"Ref": "DatabaseReaderEndpoints"}}]}},
                    }),
                ),
            )
            .unwrap();
        RenderedStack {
            name: "bastion".into(),
            stack_name: "app-dev-bastion".into(),
            file: PathBuf::from("stacks/bastion.yaml"),
            template,
            depends_on: vec!["database".into()],
            waivers: vec![],
        }
    }

    #[test]
    fn references_see_refs_attributes_and_sub_variables_but_not_literals() {
        let value = json!({"Fn::Join": [",", [
            {"Ref": "A"},
            {"Fn::GetAtt": ["B", "Endpoint.Address"]},
            {"Fn::GetAtt": "C.Arn"},
            {"Fn::Sub": "${D} ${E.Arn} ${!F} ${AWS::Region}"},
            {"Fn::Sub": ["${G} ${H}", {"G": {"Ref": "I"}}]},
        ]]});
        let found: Vec<String> = references(&value).into_iter().collect();
        assert_eq!(found, ["A", "AWS::Region", "B", "C", "D", "E", "H", "I"]);
    }

    #[test]
    fn a_changed_output_reaches_the_properties_that_use_it() {
        let effects = parameter_effects(
            &bastion(),
            &[known("DatabaseReaderEndpoints", Some("r1"), "r1,r2")],
        );
        assert_eq!(effects.len(), 1);
        let change = &effects[0];
        assert_eq!(change.logical_id, "BastionInstance");
        // conditionalCreateOnlyProperties in the instance's schema: may be replaced.
        assert_eq!(change.replacement, Replacement::Conditional);
        assert_eq!(change.properties[0].path, "UserData");
        assert_eq!(change.properties[0].before, Some(json!("r1")));
        assert_eq!(change.properties[0].after, Some(json!("r1,r2")));
        assert_eq!(
            change.properties[0].parameter.as_deref(),
            Some("DatabaseReaderEndpoints")
        );
        assert!(
            parameter_effects(
                &bastion(),
                &[known("DatabaseReaderEndpoints", Some("r1"), "r1")]
            )
            .is_empty()
        );
    }

    #[test]
    fn a_new_image_replaces_the_instance_and_a_pending_value_is_said_to_be_pending() {
        let image = PlannedParameter {
            name: "BastionImageId".into(),
            source: ParameterSource::Ssm {
                path: "/aws/service/x".into(),
            },
            deployed: Some("ami-old".into()),
            value: ParameterValue::Known {
                value: "ami-new".into(),
            },
        };
        let pending = PlannedParameter {
            value: ParameterValue::AfterApply {
                after: "database".into(),
                now: Some("r1".into()),
            },
            ..known("DatabaseReaderEndpoints", Some("r1"), "")
        };
        let effects = parameter_effects(&bastion(), &[image, pending.clone()]);
        let change = &effects[0];
        assert_eq!(change.replacement, Replacement::Always);
        let paths: Vec<(&str, Replacement)> = change
            .properties
            .iter()
            .map(|p| (p.path.as_str(), p.replacement))
            .collect();
        assert_eq!(
            paths,
            [
                ("ImageId", Replacement::Always),
                ("UserData", Replacement::Conditional)
            ]
        );
        assert_eq!(
            change.properties[1].after,
            Some(json!("(known after database applies)"))
        );
        assert_eq!(pending.waits_for(), Some("database"));
        assert_eq!(pending.planned_value(), Some("r1"));
    }

    #[test]
    fn change_set_values_need_every_output_value_and_skip_ssm_entries() {
        let image = PlannedParameter {
            name: "BastionImageId".into(),
            source: ParameterSource::Ssm {
                path: "/aws/service/x".into(),
            },
            deployed: None,
            value: ParameterValue::Known {
                value: "ami-1".into(),
            },
        };
        let reader = known("DatabaseReaderEndpoints", None, "r1");
        assert_eq!(
            change_set_values(&[image.clone(), reader]),
            Some(BTreeMap::from([(
                "DatabaseReaderEndpoints".to_string(),
                "r1".to_string()
            )]))
        );
        let not_yet = PlannedParameter {
            value: ParameterValue::AfterApply {
                after: "database".into(),
                now: None,
            },
            ..known("DatabaseReaderEndpoints", None, "")
        };
        assert_eq!(change_set_values(&[image, not_yet]), None);
    }

    #[test]
    fn effects_join_what_aws_listed_and_keep_its_replacement() {
        let aws = ResourceChange {
            action: ChangeAction::Modify,
            logical_id: "BastionInstance".into(),
            resource_type: "AWS::EC2::Instance".into(),
            physical_id: Some("i-1".into()),
            replacement: Replacement::Never,
            replacement_source: ReplacementSource::Aws,
            stateful: false,
            properties: vec![],
            deletion_protection: None,
        };
        let mut changes = vec![aws];
        let effects = parameter_effects(
            &bastion(),
            &[known("DatabaseReaderEndpoints", Some("r1"), "r1,r2")],
        );
        merge_effects(&mut changes, effects);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].replacement_source, ReplacementSource::Aws);
        assert_eq!(changes[0].properties.len(), 1);
    }
}
