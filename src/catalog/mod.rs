//! Everything strata knows about each AWS resource type, in one place: which property changes
//! replace the resource, whether and how it is tagged, whether it holds data, which properties are
//! read-only or write-only, its primary identifier, and which live reader checks it for drift.
//!
//! Derived from CloudFormation's resource provider schemas (`schemas.json`, extracted from the
//! pinned cfn-lint by `scripts/extract-schemas.py`), plus one commented overlay of hand-written
//! facts (`overlay.yaml`). Both are embedded at build time and parsed once. A type that is not in
//! the catalog is an error wherever it appears: there is no default to fall back on.

mod validate;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

pub use crate::model::change::Replacement;
pub use validate::{PathDisplay, Problem, Segment};

const SCHEMAS: &str = include_str!("schemas.json");
const OVERLAY: &str = include_str!("overlay.yaml");

/// How a resource type carries tags, per its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tagging {
    /// `Tags: [{Key, Value}, ...]`.
    TagsList,
    /// `Tags: {key: value, ...}` (SSM parameters, API Gateway v2).
    TagsMap,
    /// `TagSpecifications: [{ResourceType, Tags: [...]}]` (launch templates).
    TagSpecifications,
    NotTaggable,
}

/// strata's live readers for drift (`src/drift/checks`), one per kind of live object it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftReader {
    Vpc,
    Subnet,
    RouteTable,
    Route,
    InternetGateway,
    GatewayAttachment,
    NatGateway,
    ElasticIp,
    EipAssociation,
    SecurityGroup,
    /// A rule declared as its own resource: compared as part of its group, not on its own.
    SecurityGroupRule,
    Instance,
    DbInstance,
    Bucket,
    Queue,
    Function,
    EventSourceMapping,
    Table,
    Topic,
    /// An API Gateway v2 stage, read by its API's id and its name.
    ApiStage,
    FlowLog,
    KmsKey,
}

/// One resource type as strata knows it.
#[derive(Debug)]
pub struct ResourceType {
    pub name: String,
    /// Replacing or removing it loses data: needs `--allow-replace`, and explicit deletion policies.
    pub stateful: bool,
    pub tagging: Tagging,
    /// The property that, when true, makes AWS refuse to delete the resource.
    pub deletion_protection: Option<String>,
    pub drift: Option<DriftReader>,
    /// Properties naming the resource (the physical id), from the schema's `primaryIdentifier`.
    pub primary_identifier: Vec<String>,
    /// Property paths whose change replaces the resource, always or under conditions.
    replacing: Vec<(Vec<String>, Replacement)>,
    /// Top-level properties updated in place with an interruption, and what that means.
    interruptions: BTreeMap<String, String>,
    read_only: Vec<Vec<String>>,
    write_only: Vec<Vec<String>>,
    /// The schema's `properties`, `definitions`, `required`, for validating raw resources.
    schema: Value,
}

/// The effect of changing a property, and why strata predicts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayReplacement {
    pub property: String,
    pub effect: Replacement,
    pub reason: String,
}

#[derive(Debug)]
pub struct Catalog {
    types: BTreeMap<String, ResourceType>,
    overlay_replacements: BTreeMap<String, Vec<OverlayReplacement>>,
    lambda_runtimes: BTreeMap<String, RuntimeLifecycle>,
    /// cfn-lint version the schemas were extracted from.
    pub cfn_lint: String,
}

/// A resource type the catalog does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "resource type `{0}` is not in strata's resource catalog; add it to src/catalog/overlay.yaml and run scripts/extract-schemas.py --write (see CONTRIBUTING.md)"
)]
pub struct UnknownType(pub String);

/// The catalog, parsed on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // Embedded at build time and checked by the tests; not user or AWS data.
        Catalog::parse(SCHEMAS, OVERLAY).expect("the embedded resource catalog is valid")
    })
}

/// The type named `name`, or an error saying how to add it.
pub fn require(name: &str) -> Result<&'static ResourceType, UnknownType> {
    catalog()
        .get(name)
        .ok_or_else(|| UnknownType(name.to_owned()))
}

/// The type named `name`, if strata knows it.
pub fn lookup(name: &str) -> Option<&'static ResourceType> {
    catalog().get(name)
}

/// Whether replacing or removing a resource of this type loses data. A type strata does not know
/// (one a deployed stack holds that this version no longer renders) is treated as holding data:
/// never the permissive answer.
pub fn is_stateful(name: &str) -> bool {
    lookup(name).is_none_or(|t| t.stateful)
}

/// Whether replacing or removing this resource (given its template `Properties`) loses data. A read
/// replica (`SourceDBInstanceIdentifier` set) is a read-only copy of its source: it holds nothing the
/// source lacks, and RDS cannot even keep a final snapshot of one (RDS API Reference,
/// DeleteDBInstance, `SkipFinalSnapshot`: "If you delete a read replica or an RDS Custom instance, you
/// must enable this setting"). So changing the replica count needs no `--allow-replace`.
pub fn holds_data(name: &str, properties: Option<&Value>) -> bool {
    let replica = name == "AWS::RDS::DBInstance"
        && properties.is_some_and(|p| p.get("SourceDBInstanceIdentifier").is_some());
    is_stateful(name) && !replica
}

/// The `DeletionPolicy` that applies to a resource as declared in a template: its own, or CloudFormation's
/// default, which is `Delete` except that "the default policy is `Snapshot` for `AWS::RDS::DBCluster` resources
/// and for `AWS::RDS::DBInstance` resources that don't specify the `DBClusterIdentifier` property"
/// (CloudFormation Template Reference, DeletionPolicy attribute).
pub fn deletion_policy(resource: &Value) -> &str {
    if let Some(policy) = resource.get("DeletionPolicy").and_then(Value::as_str) {
        return policy;
    }
    let in_cluster = resource
        .pointer("/Properties/DBClusterIdentifier")
        .is_some();
    match resource.get("Type").and_then(Value::as_str) {
        Some("AWS::RDS::DBCluster") => "Snapshot",
        Some("AWS::RDS::DBInstance") if !in_cluster => "Snapshot",
        _ => "Delete",
    }
}

/// The deletion-protection property (the catalog's `deletion_protection`) that is on in `resource`
/// as a template declares it (`Type`, `Properties`): AWS refuses to delete such a resource.
pub fn protection_on(resource: &Value) -> Option<&'static str> {
    let resource_type = resource.get("Type").and_then(Value::as_str)?;
    protection_in(resource_type, resource.get("Properties")?)
}

/// [`protection_on`] for a resource of `resource_type` with these `Properties`.
pub fn protection_in(resource_type: &str, properties: &Value) -> Option<&'static str> {
    let property = lookup(resource_type)?.deletion_protection.as_deref()?;
    properties
        .get(property)
        .is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"))
        .then_some(property)
}

/// A deletion under this policy leaves the resource in place (`RetainExceptOnCreate` retains it on every
/// operation but the one that created it).
pub fn policy_retains(policy: &str) -> bool {
    matches!(policy, "Retain" | "RetainExceptOnCreate")
}

#[derive(Deserialize)]
struct SchemaFile {
    cfn_lint: String,
    lambda_runtimes: BTreeMap<String, RuntimeLifecycle>,
    types: BTreeMap<String, Value>,
}

/// One Lambda runtime identifier's lifecycle, as the pinned cfn-lint ships it (its copy of the Lambda
/// Developer Guide's runtime table, "Supported runtimes" and "Deprecated runtimes"). Dates are ISO
/// `YYYY-MM-DD`, so they compare as text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeLifecycle {
    /// From this day Lambda applies no more security patches and gives no technical support.
    pub deprecated: String,
    /// From this day Lambda refuses to create functions with the runtime (unknown: not scheduled).
    #[serde(rename = "create-block")]
    pub create_block: Option<String>,
    #[serde(rename = "update-block")]
    pub update_block: Option<String>,
    /// The identifier to move to.
    pub successor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayEntry {
    stateful: bool,
    #[serde(default)]
    deletion_protection: Option<String>,
    #[serde(default)]
    drift: Option<DriftReader>,
    #[serde(default)]
    replacement: BTreeMap<String, OverlayEffect>,
    #[serde(default)]
    interruptions: BTreeMap<String, OverlayInterruption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayInterruption {
    shown: String,
    /// The citation; read by people reviewing the overlay, not by strata.
    #[allow(dead_code)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayEffect {
    effect: Replacement,
    reason: String,
}

impl Catalog {
    fn parse(schemas: &str, overlay: &str) -> Result<Catalog, String> {
        let file: SchemaFile =
            serde_json::from_str(schemas).map_err(|err| format!("schemas.json: {err}"))?;
        let overlay: BTreeMap<String, OverlayEntry> =
            serde_yaml::from_str(overlay).map_err(|err| format!("overlay.yaml: {err}"))?;
        let mut types = BTreeMap::new();
        let mut overlay_replacements = BTreeMap::new();
        for (name, entry) in overlay {
            let schema = file.types.get(&name).ok_or_else(|| {
                format!("{name} is in overlay.yaml but not in schemas.json: run scripts/extract-schemas.py --write")
            })?;
            let mut replacing: Vec<(Vec<String>, Replacement)> = Vec::new();
            for (key, effect) in [
                ("createOnlyProperties", Replacement::Always),
                ("conditionalCreateOnlyProperties", Replacement::Conditional),
            ] {
                replacing.extend(pointers(schema, key).into_iter().map(|p| (p, effect)));
            }
            let mut overlaid = Vec::new();
            for (property, effect) in entry.replacement {
                replacing.push((vec![property.clone()], effect.effect));
                overlaid.push(OverlayReplacement {
                    property,
                    effect: effect.effect,
                    reason: effect.reason,
                });
            }
            overlay_replacements.insert(name.clone(), overlaid);
            let resource_type = ResourceType {
                name: name.clone(),
                stateful: entry.stateful,
                tagging: tagging_of(schema),
                deletion_protection: entry.deletion_protection,
                drift: entry.drift,
                primary_identifier: pointers(schema, "primaryIdentifier")
                    .into_iter()
                    .filter_map(|p| p.first().cloned())
                    .collect(),
                replacing,
                interruptions: entry
                    .interruptions
                    .into_iter()
                    .map(|(property, interruption)| (property, interruption.shown))
                    .collect(),
                read_only: pointers(schema, "readOnlyProperties"),
                write_only: pointers(schema, "writeOnlyProperties"),
                schema: schema.clone(),
            };
            types.insert(name, resource_type);
        }
        if let Some(extra) = file.types.keys().find(|name| !types.contains_key(*name)) {
            return Err(format!(
                "{extra} is in schemas.json but not in overlay.yaml: run scripts/extract-schemas.py --write"
            ));
        }
        Ok(Catalog {
            types,
            overlay_replacements,
            lambda_runtimes: file.lambda_runtimes,
            cfn_lint: file.cfn_lint,
        })
    }

    pub fn get(&self, name: &str) -> Option<&ResourceType> {
        self.types.get(name)
    }

    pub fn types(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    /// The lifecycle of Lambda runtime `identifier` (`python3.13`), if Lambda has ever offered it.
    pub fn lambda_runtime(&self, identifier: &str) -> Option<&RuntimeLifecycle> {
        self.lambda_runtimes.get(identifier)
    }

    /// Every runtime identifier not deprecated on `today` (`YYYY-MM-DD`), sorted.
    pub fn current_lambda_runtimes(&self, today: &str) -> Vec<&str> {
        self.lambda_runtimes
            .iter()
            .filter(|(_, lifecycle)| lifecycle.deprecated.as_str() > today)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The overlay's replacement facts for `name`, with their reasons.
    pub fn overlay_replacements(&self, name: &str) -> &[OverlayReplacement] {
        self.overlay_replacements
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// `/properties/A/*/B` -> `["A", "*", "B"]`, for the pointers listed under `key`.
fn pointers(schema: &Value, key: &str) -> Vec<Vec<String>> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|pointer| pointer.strip_prefix("/properties/"))
                .map(|rest| rest.split('/').map(str::to_owned).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn tagging_of(schema: &Value) -> Tagging {
    let tagging = schema.get("tagging");
    let taggable = tagging
        .and_then(|t| t.get("taggable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let tag_property = tagging
        .and_then(|t| t.get("tagProperty"))
        .and_then(Value::as_str);
    let property = |name: &str| schema.get("properties").and_then(|p| p.get(name));
    if taggable && tag_property == Some("/properties/Tags") {
        let kind = property("Tags").and_then(|tags| tags.get("type"));
        return match kind.and_then(Value::as_str) {
            Some("object") => Tagging::TagsMap,
            _ => Tagging::TagsList,
        };
    }
    if property("TagSpecifications").is_some() {
        Tagging::TagSpecifications
    } else {
        Tagging::NotTaggable
    }
}

/// A property path as the plan shows it (`RedrivePolicy.maxReceiveCount`, `Ingress[1].CidrIp`) in
/// the schema's terms: list positions become `*`.
fn schema_path(path: &[Segment]) -> Vec<&str> {
    path.iter()
        .map(|segment| match segment {
            Segment::Key(key) => key.as_str(),
            Segment::Index(_) => "*",
        })
        .collect()
}

fn starts_with(path: &[&str], prefix: &[String]) -> bool {
    prefix.len() <= path.len() && prefix.iter().zip(path).all(|(a, b)| a == b)
}

impl ResourceType {
    /// The effect of changing the value at `path` (inside the resource's properties).
    ///
    /// A change inside a replacing property has that property's effect. A change of a whole value
    /// that contains a replacing part (a list that grew, say) may or may not touch that part:
    /// conditional at most.
    pub fn replacement(&self, path: &[Segment]) -> Replacement {
        let path = schema_path(path);
        self.replacing
            .iter()
            .map(|(pointer, effect)| {
                if starts_with(&path, pointer) {
                    *effect
                } else if pointer.len() > path.len()
                    && path.iter().zip(pointer).all(|(a, b)| a == b)
                {
                    (*effect).min(Replacement::Conditional)
                } else {
                    Replacement::Never
                }
            })
            .max()
            .unwrap_or(Replacement::Never)
    }

    /// What an in-place change of the property at `path` (`UserData`, `Tags[0].Value`) does to the
    /// running resource, when the resource reference says it interrupts it.
    pub fn interruption(&self, path: &str) -> Option<&str> {
        let property = path.split(['.', '[']).next().unwrap_or(path);
        self.interruptions.get(property).map(String::as_str)
    }

    /// The effect of changing top-level property `property`.
    pub fn property_replacement(&self, property: &str) -> Replacement {
        self.replacement(&[Segment::Key(property.to_owned())])
    }

    /// AWS never returns the value (a password, code to deploy): drift cannot compare it.
    pub fn is_write_only(&self, path: &[Segment]) -> bool {
        let path = schema_path(path);
        self.write_only.iter().any(|p| starts_with(&path, p))
    }

    /// AWS sets the value (an ARN, a generated id): a template cannot declare it.
    pub fn is_read_only(&self, path: &[Segment]) -> bool {
        let path = schema_path(path);
        self.read_only.iter().any(|p| starts_with(&path, p))
    }

    /// Every property the schema declares, sorted.
    pub fn property_names(&self) -> Vec<&str> {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|map| map.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Checks a raw resource's `Properties` against the schema: unknown properties, properties
    /// AWS sets itself, missing required ones, values of the wrong type. Intrinsic functions are
    /// accepted wherever a value is.
    pub fn validate(&self, properties: &Value) -> Vec<Problem> {
        validate::properties(self, properties)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<Segment> {
        vec![Segment::Key(name.to_owned())]
    }

    #[test]
    fn the_embedded_catalog_parses_and_agrees_with_its_overlay() {
        let catalog = Catalog::parse(SCHEMAS, OVERLAY).unwrap();
        assert!(catalog.get("AWS::DynamoDB::Table").is_some());
        assert!(catalog.types().count() >= 49);
    }

    #[test]
    fn identity_properties_force_replacement() {
        let effect = |t: &str, p: &str| require(t).unwrap().property_replacement(p);
        assert_eq!(effect("AWS::EC2::VPC", "CidrBlock"), Replacement::Always);
        assert_eq!(
            effect("AWS::RDS::DBInstance", "DBName"),
            Replacement::Always
        );
        assert_eq!(effect("AWS::S3::Bucket", "BucketName"), Replacement::Always);
        assert_eq!(effect("AWS::SQS::Queue", "FifoQueue"), Replacement::Always);
        assert_eq!(
            effect("AWS::DynamoDB::Table", "TableName"),
            Replacement::Always
        );
    }

    #[test]
    fn tuning_properties_update_in_place() {
        let effect = |t: &str, p: &str| require(t).unwrap().property_replacement(p);
        assert_eq!(
            effect("AWS::RDS::DBInstance", "DBInstanceClass"),
            Replacement::Never
        );
        assert_eq!(
            effect("AWS::SQS::Queue", "VisibilityTimeout"),
            Replacement::Never
        );
        assert_eq!(
            effect("AWS::EC2::SecurityGroup", "SecurityGroupIngress"),
            Replacement::Never
        );
        // From the overlay: an engine version can only go up in place.
        assert_eq!(
            effect("AWS::RDS::DBInstance", "EngineVersion"),
            Replacement::Conditional
        );
        // From the schema's conditionalCreateOnlyProperties.
        assert_eq!(
            effect("AWS::DynamoDB::Table", "KeySchema"),
            Replacement::Conditional
        );
    }

    #[test]
    fn nested_paths_inherit_or_hint_at_replacement() {
        let vpc = require("AWS::EC2::VPC").unwrap();
        // createOnly /properties/VpcEncryptionControl: a change inside it replaces.
        let inside = vec![
            Segment::Key("VpcEncryptionControl".into()),
            Segment::Key("Mode".into()),
        ];
        assert_eq!(vpc.replacement(&inside), Replacement::Always);
        let instance = require("AWS::EC2::Instance").unwrap();
        // conditional /properties/BlockDeviceMappings; a list position is `*`.
        let device = vec![
            Segment::Key("BlockDeviceMappings".into()),
            Segment::Index(0),
            Segment::Key("DeviceName".into()),
        ];
        assert_eq!(instance.replacement(&device), Replacement::Conditional);
        assert!(instance.is_write_only(&[
            Segment::Key("BlockDeviceMappings".into()),
            Segment::Index(2),
            Segment::Key("NoDevice".into()),
        ]));
    }

    #[test]
    fn tagging_styles_come_from_the_schemas() {
        let tagging = |t: &str| require(t).unwrap().tagging;
        assert_eq!(tagging("AWS::SQS::Queue"), Tagging::TagsList);
        assert_eq!(tagging("AWS::SSM::Parameter"), Tagging::TagsMap);
        assert_eq!(tagging("AWS::ApiGatewayV2::Api"), Tagging::TagsMap);
        assert_eq!(
            tagging("AWS::EC2::LaunchTemplate"),
            Tagging::TagSpecifications
        );
        assert_eq!(tagging("AWS::IAM::InstanceProfile"), Tagging::NotTaggable);
        assert_eq!(tagging("AWS::EC2::Route"), Tagging::NotTaggable);
    }

    #[test]
    fn read_only_write_only_and_identifiers() {
        let db = require("AWS::RDS::DBInstance").unwrap();
        assert!(db.is_write_only(&key("MasterUserPassword")));
        assert!(db.is_read_only(&key("DbiResourceId")));
        assert!(!db.is_read_only(&key("DBInstanceClass")));
        assert_eq!(db.primary_identifier, ["DBInstanceIdentifier"]);
        assert!(db.stateful);
        assert_eq!(
            db.deletion_protection.as_deref(),
            Some("DeletionProtection")
        );
    }

    /// Issue 10, finding 7: a user-data change reaches the bastion through a stop and start.
    #[test]
    fn in_place_updates_that_interrupt_are_named() {
        let instance = catalog().get("AWS::EC2::Instance").unwrap();
        assert!(
            instance
                .interruption("UserData")
                .unwrap()
                .contains("stops and starts")
        );
        assert!(instance.interruption("InstanceType").is_some());
        assert_eq!(instance.interruption("Tags[0].Value"), None);
        // The schema lists UserData as conditionally create-only: an instance that cannot be
        // stopped (instance-store root) is replaced instead. The overlay adds no certainty.
        assert_eq!(
            instance.property_replacement("UserData"),
            Replacement::Conditional
        );
    }

    #[test]
    fn unknown_types_are_errors_and_count_as_stateful() {
        let err = require("AWS::Made::Up").unwrap_err();
        assert!(
            err.to_string().contains("src/catalog/overlay.yaml"),
            "{err}"
        );
        assert!(is_stateful("AWS::Made::Up"));
        assert!(!is_stateful("AWS::EC2::Route"));
        assert!(is_stateful("AWS::DynamoDB::Table"));
    }

    #[test]
    fn overlay_and_schemas_must_list_the_same_types() {
        let err = Catalog::parse(SCHEMAS, "AWS::Made::Up:\n  stateful: false\n").unwrap_err();
        assert!(err.contains("AWS::Made::Up is in overlay.yaml"), "{err}");
        let err = Catalog::parse(SCHEMAS, "AWS::SQS::Queue:\n  stateful: true\n").unwrap_err();
        assert!(
            err.contains("in schemas.json but not in overlay.yaml"),
            "{err}"
        );
        let err = Catalog::parse(SCHEMAS, "AWS::SQS::Queue: {}\n").unwrap_err();
        assert!(
            err.contains("stateful"),
            "statefulness is never defaulted: {err}"
        );
    }
}
