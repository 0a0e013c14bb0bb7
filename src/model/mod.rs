//! CloudFormation templates as plain data: resources keyed by logical id, outputs, intrinsics.

pub mod change;
pub mod intrinsics;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// `DeletionPolicy`: what CloudFormation does with a resource's physical data when the resource
/// leaves the stack (stack deleted, or resource removed from the template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum DeletionPolicy {
    Delete,
    Retain,
    /// "RetainExceptOnCreate behaves like Retain for stack operations, except for the stack
    /// operation that initially created the resource. If the stack operation that created the
    /// resource is rolled back, CloudFormation deletes the resource." (CloudFormation Template
    /// Reference, DeletionPolicy attribute). A named resource kept after its own failed creation
    /// would make the next attempt fail with "already exists".
    RetainExceptOnCreate,
    Snapshot,
}

impl DeletionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionPolicy::Delete => "Delete",
            DeletionPolicy::Retain => "Retain",
            DeletionPolicy::RetainExceptOnCreate => "RetainExceptOnCreate",
            DeletionPolicy::Snapshot => "Snapshot",
        }
    }
}

/// `UpdateReplacePolicy`: what CloudFormation does with the old physical resource when an update
/// replaces it. It has no `RetainExceptOnCreate` (CloudFormation Template Reference,
/// UpdateReplacePolicy attribute: Delete, Retain, Snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum UpdateReplacePolicy {
    Delete,
    Retain,
    Snapshot,
}

impl UpdateReplacePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateReplacePolicy::Delete => "Delete",
            UpdateReplacePolicy::Retain => "Retain",
            UpdateReplacePolicy::Snapshot => "Snapshot",
        }
    }
}

/// Both policies of a stateful resource, always chosen together so neither is left to
/// CloudFormation's per-type default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub on_delete: DeletionPolicy,
    pub on_replace: UpdateReplacePolicy,
}

impl Lifecycle {
    /// The data goes with the resource (work in flight, replicas that hold nothing of their own).
    pub const DELETE: Lifecycle = Lifecycle {
        on_delete: DeletionPolicy::Delete,
        on_replace: UpdateReplacePolicy::Delete,
    };
    /// A final snapshot either way (databases).
    pub const SNAPSHOT: Lifecycle = Lifecycle {
        on_delete: DeletionPolicy::Snapshot,
        on_replace: UpdateReplacePolicy::Snapshot,
    };
    /// Kept when deleted or replaced, except when its own creation rolls back (buckets, secrets).
    pub const KEEP: Lifecycle = Lifecycle {
        on_delete: DeletionPolicy::RetainExceptOnCreate,
        on_replace: UpdateReplacePolicy::Retain,
    };
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// A type of the resource catalog (components name it; raw resources are checked against it).
    pub resource_type: &'static str,
    pub properties: Value,
    pub depends_on: Vec<String>,
    /// `DeletionPolicy` and `UpdateReplacePolicy`.
    pub lifecycle: Option<Lifecycle>,
}

impl Resource {
    pub fn new(resource_type: &'static str, properties: Value) -> Self {
        Resource {
            resource_type,
            properties,
            depends_on: Vec::new(),
            lifecycle: None,
        }
    }

    pub fn depends_on(mut self, logical_id: impl Into<String>) -> Self {
        self.depends_on.push(logical_id.into());
        self
    }

    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = Some(lifecycle);
        self
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("Type".into(), json!(self.resource_type));
        if !is_empty_object(&self.properties) {
            map.insert("Properties".into(), self.properties.clone());
        }
        if !self.depends_on.is_empty() {
            let mut ids = self.depends_on.clone();
            ids.sort();
            ids.dedup();
            map.insert("DependsOn".into(), json!(ids));
        }
        if let Some(lifecycle) = self.lifecycle {
            map.insert("DeletionPolicy".into(), json!(lifecycle.on_delete.as_str()));
            map.insert(
                "UpdateReplacePolicy".into(),
                json!(lifecycle.on_replace.as_str()),
            );
        }
        Value::Object(map)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub description: String,
    pub value: Value,
    /// Export name for other stacks' `Fn::ImportValue`.
    pub export: Option<String>,
}

/// A template parameter: a value the stack receives at create/update time instead of carrying it.
/// Fields follow the CloudFormation `Parameters` section (User Guide, "Parameters syntax").
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// `String`, `Number`, `CommaDelimitedList`, an AWS-specific type such as `AWS::EC2::VPC::Id`, or
    /// an SSM parameter type such as `AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>`.
    pub parameter_type: String,
    pub description: String,
    pub default: Option<String>,
    /// Masked in DescribeStacks and the console.
    pub no_echo: bool,
    pub allowed_pattern: Option<String>,
    /// Filled in by strata from another stack's output when the stack is created or updated (never
    /// rendered): how values that change cross stacks without an export.
    pub from_output: Option<OutputReference>,
}

/// Output `output` of the stack defined in `stacks/<stack>.yaml` of the same environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutputReference {
    pub stack: String,
    pub output: String,
}

impl Parameter {
    pub fn new(parameter_type: impl Into<String>, description: impl Into<String>) -> Self {
        Parameter {
            parameter_type: parameter_type.into(),
            description: description.into(),
            default: None,
            no_echo: false,
            allowed_pattern: None,
            from_output: None,
        }
    }

    /// A `String` parameter strata fills in with `output` of `stack`.
    pub fn from_output(stack: &str, output: &str) -> Self {
        Parameter {
            from_output: Some(OutputReference {
                stack: stack.to_owned(),
                output: output.to_owned(),
            }),
            ..Parameter::new(
                "String",
                format!("Output {output} of stack {stack}, passed in by strata at deploy time"),
            )
        }
    }

    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn no_echo(mut self) -> Self {
        self.no_echo = true;
        self
    }

    pub fn allowed_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.allowed_pattern = Some(pattern.into());
        self
    }

    /// An SSM parameter type (`AWS::SSM::Parameter::Value<...>`): CloudFormation reads the value from
    /// Systems Manager Parameter Store, by the name given as the parameter's value.
    pub fn is_ssm_typed(&self) -> bool {
        self.parameter_type
            .starts_with("AWS::SSM::Parameter::Value<")
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("Type".into(), json!(self.parameter_type));
        map.insert("Description".into(), json!(self.description));
        if let Some(default) = &self.default {
            map.insert("Default".into(), json!(default));
        }
        if self.no_echo {
            map.insert("NoEcho".into(), json!(true));
        }
        if let Some(pattern) = &self.allowed_pattern {
            map.insert("AllowedPattern".into(), json!(pattern));
        }
        Value::Object(map)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub description: String,
    pub parameters: BTreeMap<String, Parameter>,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, Output>,
    /// Files apply uploads before it creates or updates the stack, by object key (never rendered:
    /// the template names them by bucket and key).
    pub artifacts: BTreeMap<String, Artifact>,
}

/// A package a resource of the template deploys from S3 (a function's code): `apply` puts it at
/// `bucket`/`key` before the stack operation that needs it, unless the object is already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub bucket: String,
    /// The package's SHA-256 + `.zip`: the same code is the same object.
    pub key: String,
    pub package: crate::package::Package,
    /// Logical id of the resource that deploys it.
    pub function: String,
}

/// Two components tried to use the same logical id or output name in one stack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{name}` is defined twice in this stack")]
pub struct DuplicateId {
    pub kind: &'static str,
    pub name: String,
}

impl Template {
    pub fn add(
        &mut self,
        logical_id: impl Into<String>,
        resource: Resource,
    ) -> Result<(), DuplicateId> {
        let logical_id = logical_id.into();
        if self.resources.contains_key(&logical_id) || self.parameters.contains_key(&logical_id) {
            return Err(DuplicateId {
                kind: "resource",
                name: logical_id,
            });
        }
        self.resources.insert(logical_id, resource);
        Ok(())
    }

    /// Declares a parameter; a name may not also be a resource's logical id (they share `Ref`).
    pub fn parameter(
        &mut self,
        name: impl Into<String>,
        parameter: Parameter,
    ) -> Result<(), DuplicateId> {
        let name = name.into();
        if self.parameters.contains_key(&name) || self.resources.contains_key(&name) {
            return Err(DuplicateId {
                kind: "parameter",
                name,
            });
        }
        self.parameters.insert(name, parameter);
        Ok(())
    }

    pub fn output(&mut self, name: impl Into<String>, output: Output) -> Result<(), DuplicateId> {
        let name = name.into();
        if self.outputs.contains_key(&name) {
            return Err(DuplicateId {
                kind: "output",
                name,
            });
        }
        self.outputs.insert(name, output);
        Ok(())
    }

    /// The template as a JSON value; key order is made canonical by [`crate::render`].
    pub fn to_value(&self) -> Value {
        let resources: Map<String, Value> = self
            .resources
            .iter()
            .map(|(id, resource)| (id.clone(), resource.to_value()))
            .collect();
        let outputs: Map<String, Value> = self
            .outputs
            .iter()
            .map(|(name, output)| {
                let mut map = Map::new();
                if !output.description.is_empty() {
                    map.insert("Description".into(), json!(output.description));
                }
                map.insert("Value".into(), output.value.clone());
                if let Some(export) = &output.export {
                    map.insert("Export".into(), json!({ "Name": export }));
                }
                (name.clone(), Value::Object(map))
            })
            .collect();
        let mut template = Map::new();
        template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        template.insert("Description".into(), json!(self.description));
        if !self.parameters.is_empty() {
            let parameters: Map<String, Value> = self
                .parameters
                .iter()
                .map(|(name, parameter)| (name.clone(), parameter.to_value()))
                .collect();
            template.insert("Parameters".into(), Value::Object(parameters));
        }
        template.insert("Resources".into(), Value::Object(resources));
        if !outputs.is_empty() {
            template.insert("Outputs".into(), Value::Object(outputs));
        }
        Value::Object(template)
    }

    /// Export names this template imports, in order of first use.
    pub fn imports(&self) -> Vec<String> {
        // The template's own values in rendering order (parameters hold no intrinsic functions),
        // walked in place rather than through a rendered copy of the whole template.
        let mut found = Vec::new();
        for resource in self.resources.values() {
            collect_imports(&resource.properties, &mut found);
        }
        for output in self.outputs.values() {
            collect_imports(&output.value, &mut found);
        }
        first_uses(found)
    }

    /// Parameters strata fills in from other stacks' outputs, by parameter name.
    pub fn output_references(&self) -> impl Iterator<Item = (&String, &OutputReference)> {
        self.parameters
            .iter()
            .filter_map(|(name, parameter)| parameter.from_output.as_ref().map(|r| (name, r)))
    }

    pub fn exports(&self) -> impl Iterator<Item = (&String, &String)> {
        self.outputs
            .iter()
            .filter_map(|(name, output)| output.export.as_ref().map(|export| (name, export)))
    }
}

/// Export names a template (as JSON, rendered or deployed) imports with a literal `Fn::ImportValue`, in order of
/// first use.
pub fn imports_in(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_imports(template, &mut found);
    first_uses(found)
}

fn first_uses(mut found: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    found.retain(|name| seen.insert(name.clone()));
    found
}

fn collect_imports(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "Fn::ImportValue"
                    && let Value::String(name) = inner
                {
                    found.push(name.clone());
                }
                collect_imports(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_imports(item, found)),
        _ => {}
    }
}

fn is_empty_object(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk over the model finds what a walk over the rendered template finds, in the same order.
    #[test]
    fn imports_of_the_model_are_those_of_the_rendered_template() {
        let mut template = Template::default();
        let import = |name: &str| json!({ "Fn::ImportValue": name });
        template
            .add(
                "B",
                Resource::new(
                    "AWS::SQS::Queue",
                    json!({ "Tags": [{ "Key": "k", "Value": import("second") }], "X": import("first") }),
                ),
            )
            .unwrap();
        template
            .add(
                "A",
                Resource::new(
                    "AWS::SQS::Queue",
                    json!({ "Q": [import("third"), import("second")] }),
                ),
            )
            .unwrap();
        template.outputs.insert(
            "Out".into(),
            Output {
                description: String::new(),
                value: import("fourth"),
                export: None,
            },
        );
        assert_eq!(template.imports(), imports_in(&template.to_value()));
        assert_eq!(template.imports(), ["third", "second", "first", "fourth"]);
    }

    #[test]
    fn a_template_without_parameters_renders_no_parameters_section() {
        let mut template = Template::default();
        template
            .add("Queue", Resource::new("AWS::SQS::Queue", json!({})))
            .unwrap();
        assert!(template.to_value().get("Parameters").is_none());
    }

    #[test]
    fn parameters_render_with_only_the_fields_they_set() {
        let mut template = Template::default();
        template
            .parameter(
                "BastionImageId",
                Parameter::new(
                    "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                    "Bastion image",
                )
                .default_value(
                    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                ),
            )
            .unwrap();
        template
            .parameter(
                "Token",
                Parameter::new("String", "A secret")
                    .no_echo()
                    .allowed_pattern("[a-z]+"),
            )
            .unwrap();
        let value = crate::render::template_value(&template);
        assert_eq!(
            value["Parameters"],
            json!({
                "BastionImageId": {
                    "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                    "Description": "Bastion image",
                    "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                },
                "Token": {
                    "Type": "String",
                    "Description": "A secret",
                    "NoEcho": true,
                    "AllowedPattern": "[a-z]+",
                },
            })
        );
        assert!(template.parameters["BastionImageId"].is_ssm_typed());
        let text = crate::render::value_to_text("s", &value, crate::render::Format::Yaml).unwrap();
        let at = |key: &str| text.find(key).unwrap();
        assert!(at("Description:") < at("Parameters:") && at("Parameters:") < at("Resources:"));
    }

    #[test]
    fn a_parameter_may_not_share_a_name_with_a_resource() {
        let mut template = Template::default();
        template
            .add("Thing", Resource::new("AWS::SQS::Queue", json!({})))
            .unwrap();
        let err = template
            .parameter("Thing", Parameter::new("String", "clash"))
            .unwrap_err();
        assert_eq!(err.kind, "parameter");
        template
            .parameter("Other", Parameter::new("String", "fine"))
            .unwrap();
        assert!(
            template
                .add("Other", Resource::new("AWS::SQS::Queue", json!({})))
                .is_err()
        );
    }

    #[test]
    fn deletion_and_update_replace_policies_are_rendered_separately() {
        let bucket = Resource::new("AWS::S3::Bucket", json!({})).lifecycle(Lifecycle::KEEP);
        let value = bucket.to_value();
        assert_eq!(value["DeletionPolicy"], "RetainExceptOnCreate");
        assert_eq!(value["UpdateReplacePolicy"], "Retain");
        let queue = Resource::new("AWS::SQS::Queue", json!({})).to_value();
        assert!(
            queue.get("DeletionPolicy").is_none() && queue.get("UpdateReplacePolicy").is_none()
        );
    }
}
