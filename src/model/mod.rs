//! CloudFormation templates as plain data: resources keyed by logical id, outputs, intrinsics.

pub mod intrinsics;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// What CloudFormation does with a resource's physical data when the resource is deleted or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainPolicy {
    Delete,
    Retain,
    Snapshot,
}

impl RetainPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RetainPolicy::Delete => "Delete",
            RetainPolicy::Retain => "Retain",
            RetainPolicy::Snapshot => "Snapshot",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub resource_type: &'static str,
    pub properties: Value,
    pub depends_on: Vec<String>,
    /// Applied as both `DeletionPolicy` and `UpdateReplacePolicy`: data must survive either way.
    pub retain: Option<RetainPolicy>,
}

impl Resource {
    pub fn new(resource_type: &'static str, properties: Value) -> Self {
        Resource {
            resource_type,
            properties,
            depends_on: Vec::new(),
            retain: None,
        }
    }

    pub fn depends_on(mut self, logical_id: impl Into<String>) -> Self {
        self.depends_on.push(logical_id.into());
        self
    }

    pub fn retain(mut self, policy: RetainPolicy) -> Self {
        self.retain = Some(policy);
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
        if let Some(policy) = self.retain {
            map.insert("DeletionPolicy".into(), json!(policy.as_str()));
            map.insert("UpdateReplacePolicy".into(), json!(policy.as_str()));
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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub description: String,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, Output>,
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
        if self.resources.contains_key(&logical_id) {
            return Err(DuplicateId {
                kind: "resource",
                name: logical_id,
            });
        }
        self.resources.insert(logical_id, resource);
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
                map.insert("Description".into(), json!(output.description));
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
        template.insert("Resources".into(), Value::Object(resources));
        if !outputs.is_empty() {
            template.insert("Outputs".into(), Value::Object(outputs));
        }
        Value::Object(template)
    }

    /// Export names this template imports, in order of first use.
    pub fn imports(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect_imports(&self.to_value(), &mut found);
        let mut seen = std::collections::BTreeSet::new();
        found.retain(|name| seen.insert(name.clone()));
        found
    }

    pub fn exports(&self) -> impl Iterator<Item = (&String, &String)> {
        self.outputs
            .iter()
            .filter_map(|(name, output)| output.export.as_ref().map(|export| (name, export)))
    }
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
