//! The components of the reference platform as pure functions of an environment:
//! a stack definition plus an environment becomes one CloudFormation template.

pub mod api;
pub mod bastion;
pub mod crosscheck;
pub mod database;
pub mod functions;
pub mod kms;
pub mod log_group;
pub mod network;
pub mod raw;
pub mod storage;
pub mod tables;
pub mod topics;

use std::collections::BTreeMap;
use std::path::Path;

use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog::{self, PathDisplay, Segment};
use crate::config::Environment;
use crate::diagnostic::Diagnostic;
use crate::model::{DuplicateId, Output, Parameter, Resource, Template, intrinsics};
use crate::naming;

/// One stack definition file (`stacks/<name>.yaml`) after handlebars has filled in the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackDefinition {
    pub description: String,
    #[serde(default)]
    pub network: Option<network::NetworkComponent>,
    #[serde(default)]
    pub database: Option<database::DatabaseComponent>,
    #[serde(default)]
    pub bastion: Option<bastion::BastionComponent>,
    #[serde(default)]
    pub queues: Vec<storage::QueueComponent>,
    #[serde(default)]
    pub buckets: Vec<storage::BucketComponent>,
    #[serde(default)]
    pub topics: Vec<topics::TopicComponent>,
    #[serde(default)]
    pub tables: Vec<tables::TableComponent>,
    /// Where this stack's function code is uploaded (a bucket of another stack).
    #[serde(default)]
    pub artifacts: Option<functions::ArtifactLocation>,
    #[serde(default)]
    pub functions: Vec<functions::FunctionComponent>,
    /// HTTP APIs routing to this stack's functions.
    #[serde(default)]
    pub apis: Vec<api::HttpApiComponent>,
    /// Where this stack's buckets write their server access logs (a log bucket of the stack).
    #[serde(default)]
    pub access_logs: storage::AccessLogs,
    /// Plain CloudFormation resources (logical id -> `Type`, `Properties`, ...) for what no
    /// component covers; rendered as written after the components.
    #[serde(default)]
    pub resources: BTreeMap<String, raw::RawResource>,
    /// Plain CloudFormation outputs (name -> `Description`, `Value`, `Export`).
    #[serde(default)]
    pub outputs: BTreeMap<String, raw::RawOutput>,
    /// Explicit, reasoned exceptions to policy rules; printed in every policy report.
    #[serde(default)]
    pub waivers: Vec<WaiverDefinition>,
}

/// "Resource X may fail rule R, because ...".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverDefinition {
    /// Logical id of a resource in this stack.
    pub resource: String,
    /// Name of a rule in `policies/*.guard`.
    pub rule: String,
    /// Why the exception is acceptable; required and shown in every report.
    pub reason: String,
}

impl StackDefinition {
    fn is_empty(&self) -> bool {
        self.network.is_none()
            && self.database.is_none()
            && self.bastion.is_none()
            && self.queues.is_empty()
            && self.buckets.is_empty()
            && self.topics.is_empty()
            && self.tables.is_empty()
            && self.functions.is_empty()
            && self.apis.is_empty()
            && self.resources.is_empty()
    }
}

/// Everything a component needs besides its own settings.
pub struct StackContext<'a> {
    pub environment: &'a Environment,
    /// Short stack name (`network`), the stem of the definition file.
    pub stack: &'a str,
    pub file: &'a Path,
    /// The definition as rendered by handlebars, to locate fields by line.
    pub source: &'a str,
    pub templates: &'a Handlebars<'static>,
    /// Where function code is packaged, once per directory for all environments.
    pub packages: &'a crate::package::Packages,
}

impl StackContext<'_> {
    pub fn project(&self) -> &str {
        &self.environment.settings.project
    }

    pub fn account_id(&self) -> &str {
        &self.environment.settings.account_id
    }

    pub fn zones(&self) -> &[String] {
        &self.environment.settings.availability_zones
    }

    pub fn export_name(&self, stack: &str, output: &str) -> String {
        naming::export_name(self.project(), &self.environment.name, stack, output)
    }

    /// A `Name`-like prefix for human-facing names: `photofeed-dev`.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.project(), self.environment.name)
    }

    /// [`tags`](Self::tags) as a `{key: value}` map, for types whose schema tags that way
    /// (API Gateway v2, SSM parameters).
    pub fn tag_map(&self, name: Option<&str>) -> Value {
        let mut map = serde_json::Map::new();
        if let Value::Array(tags) = self.tags(name) {
            for tag in tags {
                if let (Some(key), Some(value)) = (tag["Key"].as_str(), tag.get("Value")) {
                    map.insert(key.to_owned(), value.clone());
                }
            }
        }
        Value::Object(map)
    }

    /// The strata tags plus the environment's own, sorted by key; `name` adds a `Name` tag.
    pub fn tags(&self, name: Option<&str>) -> Value {
        let mut tags = self.environment.tags();
        if let Some(name) = name {
            tags.insert("Name".into(), format!("{}-{name}", self.prefix()));
        }
        Value::Array(
            tags.into_iter()
                .map(|(key, value)| json!({ "Key": key, "Value": value }))
                .collect(),
        )
    }

    /// An id another stack exports (`Fn::ImportValue`), or this stack's own output when `stack` is this
    /// one. Only for values that never change while both stacks live (VPC, subnet and security group
    /// ids); anything else goes through [`stack_output`](Self::stack_output).
    pub fn link(
        &self,
        template: &Template,
        stack: &str,
        output: &str,
        field: &str,
    ) -> Result<Value, Diagnostic> {
        if stack != self.stack {
            return Ok(intrinsics::import_value(&self.export_name(stack, output)));
        }
        template
            .outputs
            .get(output)
            .map(|found| found.value.clone())
            .ok_or_else(|| {
                self.diagnostic(
                    field,
                    format!("this stack has no output `{output}`; define the component that provides it before this one"),
                )
            })
    }

    /// A value another stack outputs that may change over the environment's life (an endpoint, a list of
    /// replicas): received as a stack parameter that strata resolves from `stack`'s outputs each time this
    /// stack is created or updated, so the upstream stays free to change it. CloudFormation refuses to
    /// update or delete an export another stack imports ("Export ... cannot be updated as it is in use by
    /// ..."; User Guide, `Fn::ImportValue`: "You can't modify or remove an output value that is referenced
    /// by another stack"), which is why [`link`](Self::link) is only for ids that never change. When
    /// `stack` is this one, the output's value itself.
    pub fn stack_output(
        &self,
        template: &mut Template,
        stack: &str,
        output: &str,
        field: &str,
    ) -> Result<Value, Diagnostic> {
        if stack == self.stack {
            return self.link(template, stack, output, field);
        }
        let name = format!("{}{output}", naming::pascal_case(stack));
        let wanted = Parameter::from_output(stack, output);
        match template.parameters.get(&name) {
            Some(existing) if existing == &wanted => {}
            _ => self.add_parameter(template, field, &name, wanted)?,
        }
        Ok(intrinsics::reference(&name))
    }

    /// An output for people and for [`stack_output`](Self::stack_output), not exported.
    pub fn output(&self, description: &str, value: Value) -> Output {
        Output {
            description: description.to_string(),
            value,
            export: None,
        }
    }

    /// An output exported under `{project}-{env}-{stack}-{name}`: only for ids that never change while
    /// the environment lives (VPC, subnets, security groups), see [`stack_output`](Self::stack_output).
    pub fn exported(&self, description: &str, value: Value, name: &str) -> Output {
        Output {
            description: description.to_string(),
            value,
            export: Some(self.export_name(self.stack, name)),
        }
    }

    pub fn diagnostic(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(
            self.file,
            field,
            format!("{} (environment {})", message.into(), self.environment.name),
        )
    }

    /// A problem at `path` in the definition, with the line it is on when it can be found.
    pub fn diagnostic_at(&self, path: &[Segment], message: impl Into<String>) -> Diagnostic {
        self.diagnostic(&PathDisplay(path).to_string(), message)
            .at_line(crate::yaml::line_of(self.source, path))
    }

    fn duplicate(&self, field: &str, err: DuplicateId) -> Diagnostic {
        self.diagnostic(field, err.to_string())
    }

    /// Adds a resource; a clash of logical ids is reported against `field`.
    pub fn add(
        &self,
        template: &mut Template,
        field: &str,
        id: &str,
        resource: Resource,
    ) -> Result<(), Diagnostic> {
        template
            .add(id, resource)
            .map_err(|err| self.duplicate(field, err))
    }

    pub fn add_parameter(
        &self,
        template: &mut Template,
        field: &str,
        name: &str,
        parameter: Parameter,
    ) -> Result<(), Diagnostic> {
        template
            .parameter(name, parameter)
            .map_err(|err| self.duplicate(field, err))
    }

    pub fn add_output(
        &self,
        template: &mut Template,
        field: &str,
        name: &str,
        output: Output,
    ) -> Result<(), Diagnostic> {
        template
            .output(name, output)
            .map_err(|err| self.duplicate(field, err))
    }

    /// A component's name and ARN as exported outputs (`{Base}{Kind}Name`, `{Base}{Kind}Arn`): ids
    /// that never change, which other stacks import (a bucket's name, a table's ARN).
    pub fn add_name_and_arn_outputs(
        &self,
        template: &mut Template,
        field: &str,
        id: &str,
        kind: &str,
        name: &str,
    ) -> Result<(), Diagnostic> {
        let base = format!("{}{kind}", naming::pascal_case(name));
        let what = kind.to_lowercase();
        for (output, description, value) in [
            (
                format!("{base}Name"),
                format!("Name of the {name} {what}"),
                intrinsics::reference(id),
            ),
            (
                format!("{base}Arn"),
                format!("ARN of the {name} {what}"),
                intrinsics::get_att(id, "Arn"),
            ),
        ] {
            self.add_output(
                template,
                field,
                &output,
                self.exported(&description, value, &output),
            )?;
        }
        Ok(())
    }
}

/// The trust policy of a role that the AWS service `service` (`ec2.amazonaws.com`) assumes,
/// with `condition` (aws:SourceAccount, aws:SourceArn) narrowing who may act through it.
pub fn service_trust_policy(service: &str, condition: Option<Value>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
    });
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// Builds the template of one stack. Components are placed in a fixed order so a stack holding
/// several of them can refer to the outputs of the earlier ones.
pub fn build(
    definition: &StackDefinition,
    ctx: &StackContext,
) -> Result<Template, Vec<Diagnostic>> {
    if definition.is_empty() {
        return Err(vec![ctx.diagnostic(
            "",
            "defines no components; add one of network, database, bastion, queues, buckets, topics, tables, functions, apis, resources",
        )]);
    }
    let mut template = Template {
        description: definition.description.clone(),
        ..Template::default()
    };
    if let Some(component) = &definition.network {
        network::build(component, ctx, &mut template)?;
    }
    if let Some(component) = &definition.database {
        database::build(component, ctx, &mut template)?;
    }
    if let Some(component) = &definition.bastion {
        bastion::build(component, ctx, &mut template)?;
    }
    storage::build(
        storage::StorageComponents {
            queues: &definition.queues,
            buckets: &definition.buckets,
            topics: &definition.topics,
            functions: &definition.functions,
            access_logs: &definition.access_logs,
        },
        ctx,
        &mut template,
    )?;
    tables::build(&definition.tables, ctx, &mut template)?;
    functions::build(
        &definition.functions,
        definition.artifacts.as_ref(),
        ctx,
        &mut template,
    )?;
    api::build(&definition.apis, &definition.functions, ctx, &mut template)?;
    raw::build(
        &definition.resources,
        &definition.outputs,
        ctx,
        &mut template,
    )?;
    known_types(&template, ctx)?;
    Ok(template)
}

/// Every resource's type must be in the resource catalog: what strata does not know about a type
/// (whether it holds data, what replaces it) it must not guess.
fn known_types(template: &Template, ctx: &StackContext) -> Result<(), Vec<Diagnostic>> {
    let unknown: Vec<Diagnostic> = template
        .resources
        .iter()
        .filter_map(|(logical_id, resource)| {
            let err = catalog::require(resource.resource_type).err()?;
            Some(ctx.diagnostic(
                "",
                format!("stack `{}`, resource `{logical_id}`: {err}", ctx.stack),
            ))
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(unknown)
    }
}
