//! One check per resource type: the declared resource (resolved) against its live snapshot.
//!
//! A check compares only what is declared (plus the few defaults AWS applies for certain), and skips what it
//! cannot resolve or read: every reported difference must be real.

mod application;
mod compute;
mod database;
mod keys;
mod network;
mod security_group;
mod storage;

use serde_json::Value;

use super::live::{LiveKind, LiveState};
use super::normalize::{self, Kind};
use super::resolve::Resolver;
use super::{Difference, Severity, Source};
use crate::aws::live::StageId;
use crate::catalog::{self, DriftReader, Segment};
use crate::model::{Resource, Template};

pub use security_group::{SeparateRule, separate_rule};

/// Everything a check may look at.
pub struct Ctx<'a> {
    pub logical_id: &'a str,
    pub physical_id: &'a str,
    pub resource: &'a Resource,
    /// The declaring stack's whole template (a launch template the instance names, say).
    pub template: &'a Template,
    pub resolver: &'a Resolver<'a>,
    pub live: &'a LiveState,
    /// Security group rules declared as resources of their own, environment-wide.
    pub separate_rules: &'a [SeparateRule],
}

impl Ctx<'_> {
    /// A declared property, resolved; `None` when absent or not resolvable.
    pub fn declared(&self, name: &str) -> Option<Value> {
        self.resolver.resolve(self.resource.properties.get(name)?)
    }
}

/// A property that could not be read from AWS, so was not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    pub property: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Deleted,
    Checked {
        differences: Vec<Difference>,
        unchecked: Vec<Unchecked>,
    },
}

/// Collects the differences of one resource.
#[derive(Default)]
pub struct Diffs {
    differences: Vec<Difference>,
    unchecked: Vec<Unchecked>,
}

impl Diffs {
    /// Compares the declared property `name` (if declared and resolvable) with `actual` (if AWS reported it;
    /// `Some(Value::Null)` means AWS reports it absent).
    ///
    /// A property the type's schema marks write-only is never compared: AWS does not return it, so
    /// any difference would be invented.
    pub fn property(&mut self, ctx: &Ctx, name: &str, actual: Option<Value>, kind: Kind) {
        let write_only = catalog::lookup(ctx.resource.resource_type)
            .is_some_and(|t| t.is_write_only(&[Segment::Key(name.to_owned())]));
        if !write_only {
            self.read_from_service(ctx, name, actual, kind);
        }
    }

    /// Like [`Diffs::property`], for a property the schema marks write-only (CloudFormation's read
    /// handler does not return it) that the service's own API does return, so it can be compared.
    pub fn read_from_service(&mut self, ctx: &Ctx, name: &str, actual: Option<Value>, kind: Kind) {
        if let Some(expected) = ctx.declared(name) {
            self.compare(name, expected, actual, kind);
        }
    }

    /// Like [`Diffs::property`], with the value AWS applies when the property is not declared.
    pub fn property_or(
        &mut self,
        ctx: &Ctx,
        name: &str,
        default: Value,
        actual: Option<Value>,
        kind: Kind,
    ) {
        let expected = match ctx.resource.properties.get(name) {
            None => Some(default),
            Some(_) => ctx.declared(name),
        };
        if let Some(expected) = expected {
            self.compare(name, expected, actual, kind);
        }
    }

    /// Compares an explicit expected value at `path`.
    pub fn compare(&mut self, path: &str, expected: Value, actual: Option<Value>, kind: Kind) {
        let Some(actual) = actual else {
            return;
        };
        if !normalize::same(kind, &expected, &actual) {
            let severity = normalize::severity(path, &actual);
            self.push(path, expected, actual, severity);
        }
    }

    pub fn push(&mut self, path: &str, expected: Value, actual: Value, severity: Severity) {
        self.differences.push(Difference {
            path: path.to_owned(),
            expected,
            actual,
            severity,
            sources: vec![Source::Live],
        });
    }

    pub fn unchecked(&mut self, property: &str, reason: String) {
        self.unchecked.push(Unchecked {
            property: property.to_owned(),
            reason,
        });
    }

    pub fn verdict(self) -> Verdict {
        Verdict::Checked {
            differences: self.differences,
            unchecked: self.unchecked,
        }
    }
}

/// The reader that checks a resource of this type on its own, as the catalog says; `None` for
/// types only CloudFormation's drift detection covers, and for separate security group rules
/// (compared as part of their group).
pub fn checked_by(resource_type: &str) -> Option<DriftReader> {
    catalog::lookup(resource_type)?
        .drift
        .filter(|reader| *reader != DriftReader::SecurityGroupRule)
}

pub fn check(reader: DriftReader, ctx: &Ctx) -> Verdict {
    match reader {
        DriftReader::Vpc => network::vpc(ctx),
        DriftReader::Subnet => network::subnet(ctx),
        DriftReader::RouteTable => network::route_table(ctx),
        DriftReader::Route => network::route(ctx),
        DriftReader::InternetGateway => network::internet_gateway(ctx),
        DriftReader::GatewayAttachment => network::gateway_attachment(ctx),
        DriftReader::NatGateway => network::nat_gateway(ctx),
        DriftReader::ElasticIp => network::elastic_ip(ctx),
        DriftReader::EipAssociation => network::eip_association(ctx),
        DriftReader::SecurityGroup => security_group::security_group(ctx),
        DriftReader::Instance => compute::instance(ctx),
        DriftReader::DbInstance => database::db_instance(ctx),
        DriftReader::Bucket => storage::bucket(ctx),
        DriftReader::Queue => storage::queue(ctx),
        DriftReader::Function => application::function(ctx),
        DriftReader::EventSourceMapping => application::event_source_mapping(ctx),
        DriftReader::Table => application::table(ctx),
        DriftReader::Topic => application::topic(ctx),
        DriftReader::ApiStage => application::api_stage(ctx),
        DriftReader::FlowLog => network::flow_log(ctx),
        DriftReader::KmsKey => keys::kms_key(ctx),
        // Its rule is compared with the group's live rules by the group's check.
        DriftReader::SecurityGroupRule => Diffs::default().verdict(),
    }
}

/// Live objects a resource refers to beyond its own physical id (the route table a route lives in, the gateway
/// an attachment names), resolved without any live state.
pub fn references(resource: &Resource, resolver: &Resolver) -> Vec<(LiveKind, String)> {
    let properties = &resource.properties;
    let id = |name: &str| {
        properties
            .get(name)
            .and_then(|value| resolver.resolve_string(value))
    };
    let Some(reader) = catalog::lookup(resource.resource_type).and_then(|t| t.drift) else {
        return Vec::new();
    };
    let wanted: &[(&str, LiveKind)] = match reader {
        DriftReader::Route => &[
            ("RouteTableId", LiveKind::RouteTable),
            ("NatGatewayId", LiveKind::NatGateway),
        ],
        DriftReader::GatewayAttachment => &[("InternetGatewayId", LiveKind::InternetGateway)],
        DriftReader::EipAssociation => &[
            ("AllocationId", LiveKind::Address),
            ("EIP", LiveKind::Address),
        ],
        DriftReader::SecurityGroupRule => &[("GroupId", LiveKind::SecurityGroup)],
        DriftReader::Vpc
        | DriftReader::Subnet
        | DriftReader::RouteTable
        | DriftReader::InternetGateway
        | DriftReader::NatGateway
        | DriftReader::ElasticIp
        | DriftReader::SecurityGroup
        | DriftReader::Instance
        | DriftReader::DbInstance
        | DriftReader::Bucket
        | DriftReader::Queue
        | DriftReader::Function
        | DriftReader::EventSourceMapping
        | DriftReader::Table
        | DriftReader::Topic
        | DriftReader::ApiStage
        | DriftReader::FlowLog
        | DriftReader::KmsKey => &[],
    };
    wanted
        .iter()
        .filter_map(|(name, kind)| Some((*kind, id(name)?)))
        .collect()
}

/// The API Gateway v2 stage a declared stage is: its API's id (the declared `ApiId`, resolved: an
/// API's physical id is its id) and its name (the declared `StageName`, or the physical id, which
/// is the stage name: AWS::ApiGatewayV2::Stage, Ref). `None` for other types, and when the API's id
/// cannot be resolved.
pub fn stage_id(resource: &Resource, resolver: &Resolver, physical_id: &str) -> Option<StageId> {
    if checked_by(resource.resource_type) != Some(DriftReader::ApiStage) {
        return None;
    }
    let property = |name: &str| {
        resource
            .properties
            .get(name)
            .and_then(|value| resolver.resolve_string(value))
    };
    let stage_name = property("StageName")
        .or_else(|| Some(physical_id.to_owned()).filter(|id| !id.is_empty()))?;
    Some(StageId {
        api_id: property("ApiId")?,
        stage_name,
    })
}

/// Text as a JSON value, `null` when absent (AWS has no such value).
pub fn text_or_null(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.to_owned()))
}

#[cfg(test)]
pub(crate) mod testing;
