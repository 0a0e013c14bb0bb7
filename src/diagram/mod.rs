//! The architecture of a rendered environment as a diagram: stacks as boundaries, the VPC with one
//! column per availability zone (subnets, NAT gateways, route tables), security groups with who
//! may reach them on which port, database replication, bucket notifications, dead-letter queues,
//! and what functions use. Computed from the templates alone; every resource appears, small ones
//! (routes, associations, policies, addresses, profiles) inside the node of what they belong to.
//! Rendered as Mermaid, DOT ([`text`]) or SVG ([`svg`]); the same templates give the same bytes.

pub mod svg;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diff::StackDiff;
use crate::model::change::ChangeAction;
use crate::project::RenderedEnvironment;

/// A resource: `(stack, logical id)`.
pub type Key = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    Added,
    Changed,
    Replaced,
}

impl Mark {
    pub fn name(self) -> &'static str {
        match self {
            Mark::Added => "added",
            Mark::Changed => "changed",
            Mark::Replaced => "replaced",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique, safe in Mermaid and DOT: `network_Vpc`.
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    /// Resources drawn inside this one: (logical id, type).
    pub folded: Vec<(String, String)>,
    /// A short fact: CIDR, instance class, port.
    pub detail: Option<String>,
    pub mark: Option<Mark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// Network traffic allowed or routed (security group rules, routes).
    Traffic,
    Replication,
    /// Events and messages (notifications, dead letters, triggers).
    Event,
    /// Placement and membership (in a subnet, in a security group).
    Placement,
    /// A function or API using a resource.
    Uses,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    pub kind: EdgeKind,
}

/// A boundary: a stack, the VPC, an availability zone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub id: String,
    pub label: String,
    /// Node ids directly inside.
    pub nodes: Vec<String>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub title: String,
    pub nodes: BTreeMap<String, Node>,
    /// Stacks in dependency order, plus nodes outside every stack (allowed networks).
    pub groups: Vec<Group>,
    pub outside: Vec<String>,
    pub edges: Vec<Edge>,
}

/// Types drawn inside another resource's node, and the property naming that resource (`None`: the
/// resource that refers to it).
const FOLDED: [(&str, Option<&str>); 16] = [
    ("AWS::EC2::Route", Some("RouteTableId")),
    ("AWS::EC2::SubnetRouteTableAssociation", Some("SubnetId")),
    ("AWS::EC2::VPCGatewayAttachment", Some("InternetGatewayId")),
    ("AWS::EC2::EIP", None),
    ("AWS::EC2::LaunchTemplate", None),
    ("AWS::IAM::InstanceProfile", None),
    ("AWS::IAM::Role", None),
    ("AWS::S3::BucketPolicy", Some("Bucket")),
    ("AWS::SQS::QueuePolicy", Some("Queues")),
    ("AWS::SNS::TopicPolicy", Some("Topics")),
    (
        "AWS::SecretsManager::SecretTargetAttachment",
        Some("SecretId"),
    ),
    ("AWS::Lambda::Permission", Some("FunctionName")),
    ("AWS::Lambda::EventSourceMapping", Some("FunctionName")),
    ("AWS::KMS::Alias", Some("TargetKeyId")),
    ("AWS::EC2::SecurityGroupIngress", Some("GroupId")),
    ("AWS::EC2::SecurityGroupEgress", Some("GroupId")),
];

/// Where a resource is drawn: its own node, or inside another's.
fn folded_owner_property(resource_type: &str) -> Option<Option<&'static str>> {
    FOLDED
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map(|(_, property)| *property)
}

struct Resource<'a> {
    key: Key,
    resource_type: &'a str,
    properties: &'a Value,
}

/// One stack's template as the diagram reads it.
#[derive(Debug, Clone)]
pub struct StackTemplate {
    /// Short name (`network`).
    pub stack: String,
    /// Canonical JSON of the template.
    pub template: Value,
    /// Parameters strata fills in from another stack's output: parameter -> (stack, output).
    pub from_outputs: BTreeMap<String, (String, String)>,
}

impl StackTemplate {
    /// The templates of a rendered environment, in its stacks' dependency order.
    pub fn of(rendered: &RenderedEnvironment) -> Vec<StackTemplate> {
        rendered
            .stacks
            .iter()
            .map(|s| StackTemplate {
                stack: s.name.clone(),
                template: crate::render::template_value(&s.template),
                from_outputs: s
                    .template
                    .output_references()
                    .map(|(name, source)| {
                        (name.clone(), (source.stack.clone(), source.output.clone()))
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The templates of an environment, with references resolved across stacks: exports, and
/// parameters strata fills in from another stack's outputs.
struct Model<'a> {
    resources: Vec<Resource<'a>>,
    /// export name -> (stack, output value)
    exports: BTreeMap<String, (String, &'a Value)>,
    /// (stack, output name) -> output value
    outputs: BTreeMap<(String, String), &'a Value>,
    /// (stack, parameter) -> (stack, output) it is filled in from
    from_outputs: BTreeMap<(String, String), (String, String)>,
}

static EMPTY: Value = Value::Null;

impl<'a> Model<'a> {
    fn new(templates: &'a [StackTemplate]) -> Model<'a> {
        let mut resources = Vec::new();
        let mut exports = BTreeMap::new();
        let mut outputs = BTreeMap::new();
        let mut from_outputs = BTreeMap::new();
        for StackTemplate {
            stack,
            template,
            from_outputs: parameters,
        } in templates
        {
            if let Some(map) = template.get("Resources").and_then(Value::as_object) {
                for (id, resource) in map {
                    resources.push(Resource {
                        key: (stack.clone(), id.clone()),
                        resource_type: resource
                            .get("Type")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                        properties: resource.get("Properties").unwrap_or(&EMPTY),
                    });
                }
            }
            if let Some(map) = template.get("Outputs").and_then(Value::as_object) {
                for (name, output) in map {
                    let Some(value) = output.get("Value") else {
                        continue;
                    };
                    outputs.insert((stack.clone(), name.clone()), value);
                    if let Some(export) = output.pointer("/Export/Name").and_then(Value::as_str) {
                        exports.insert(export.to_string(), (stack.clone(), value));
                    }
                }
            }
            for (parameter, source) in parameters {
                from_outputs.insert((stack.clone(), parameter.clone()), source.clone());
            }
        }
        Model {
            resources,
            exports,
            outputs,
            from_outputs,
        }
    }

    /// The output value a stack-output parameter is filled in with: (its stack, the value).
    fn parameter_source(&self, stack: &str, parameter: &str) -> Option<(&str, &'a Value)> {
        let (upstream, output) = self
            .from_outputs
            .get(&(stack.to_string(), parameter.to_string()))?;
        let value = self.outputs.get(&(upstream.clone(), output.clone()))?;
        Some((upstream.as_str(), *value))
    }

    /// The stack-output parameter a value is a `Ref` to, if it is one.
    fn parameter_ref<'v>(&self, stack: &str, value: &'v Value) -> Option<&'v str> {
        let name = value.as_object()?.get("Ref")?.as_str()?;
        self.parameter_source(stack, name).map(|_| name)
    }

    fn get(&self, key: &Key) -> Option<&Resource<'a>> {
        self.resources.iter().find(|r| &r.key == key)
    }

    /// The resource a value refers to: `Ref`, `Fn::GetAtt`, or an `Fn::ImportValue` of an export
    /// whose value is one of those.
    fn target(&self, stack: &str, value: &Value) -> Option<Key> {
        let map = value.as_object()?;
        let key = |id: &str| {
            let key = (stack.to_string(), id.to_string());
            self.get(&key).map(|_| key)
        };
        if let Some(id) = map.get("Ref").and_then(Value::as_str) {
            return key(id);
        }
        if let Some(attribute) = map.get("Fn::GetAtt") {
            let id = match attribute {
                Value::Array(parts) => parts.first().and_then(Value::as_str),
                Value::String(text) => text.split('.').next(),
                _ => None,
            };
            return id.and_then(key);
        }
        if let Some(name) = map.get("Fn::ImportValue").and_then(Value::as_str) {
            let (exporter, value) = self.exports.get(name)?;
            return self.target(exporter, value);
        }
        None
    }

    /// Every resource a value refers to, anywhere inside it; a stack-output parameter refers to what
    /// that output's value refers to in its stack.
    fn targets(&self, stack: &str, value: &Value, found: &mut Vec<Key>) {
        if let Some(key) = self.target(stack, value) {
            found.push(key);
            return;
        }
        if let Some(name) = self.parameter_ref(stack, value)
            && let Some((upstream, output)) = self.parameter_source(stack, name)
        {
            self.targets(upstream, output, found);
            return;
        }
        // `Fn::Sub` names resources inside its text: `${Id}` and `${Id.Attribute}` (an HTTP API
        // route's `integrations/${Integration}`).
        let substituted = match value.get("Fn::Sub") {
            Some(Value::String(text)) => Some(text.as_str()),
            Some(Value::Array(parts)) => parts.first().and_then(Value::as_str),
            _ => None,
        };
        for name in substituted.map(sub_names).into_iter().flatten() {
            let key = (stack.to_string(), name.to_string());
            if self.get(&key).is_some() {
                found.push(key);
            }
        }
        match value {
            Value::Object(map) => map.values().for_each(|v| self.targets(stack, v, found)),
            Value::Array(items) => items.iter().for_each(|v| self.targets(stack, v, found)),
            _ => {}
        }
    }

    /// The stack-output parameters a value refers to, anywhere inside it (`Fn::Sub` bindings included).
    fn parameters_in<'v>(&self, stack: &str, value: &'v Value, found: &mut BTreeSet<&'v str>) {
        if let Some(name) = self.parameter_ref(stack, value) {
            found.insert(name);
            return;
        }
        match value {
            Value::Object(map) => map
                .values()
                .for_each(|v| self.parameters_in(stack, v, found)),
            Value::Array(items) => items
                .iter()
                .for_each(|v| self.parameters_in(stack, v, found)),
            _ => {}
        }
    }

    fn refers(&self, resource: &Resource, property: &str) -> Vec<Key> {
        let mut found = Vec::new();
        if let Some(value) = resource.properties.get(property) {
            self.targets(&resource.key.0, value, &mut found);
        }
        found
    }
}

/// The logical ids an `Fn::Sub` text names (`${Id}`, `${Id.Attribute}`; not `${AWS::Region}`, not
/// the literal `${!Text}`).
fn sub_names(text: &str) -> Vec<&str> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(inside, _)| inside))
        .filter(|inside| !inside.starts_with('!') && !inside.contains("::"))
        .map(|inside| inside.split('.').next().unwrap_or(inside))
        .collect()
}

fn node_id((stack, id): &Key) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!("{}_{}", clean(stack), clean(id))
}

fn text<'v>(value: &'v Value, name: &str) -> Option<&'v str> {
    value.get(name).and_then(Value::as_str)
}

/// The diagram of a rendered environment; `changes` (from `diff`) marks what a change adds,
/// changes or replaces.
pub fn build(rendered: &RenderedEnvironment, changes: Option<&[StackDiff]>) -> Diagram {
    let templates = StackTemplate::of(rendered);
    let title = format!(
        "{} {} ({})",
        rendered.environment.settings.project,
        rendered.environment.name,
        rendered.environment.settings.region
    );
    let mut diagram = from_templates(title, &templates);
    if let Some(changes) = changes {
        mark(&mut diagram, changes);
    }
    diagram
}

/// Marks the nodes a change touches; a folded resource's change marks the node it is drawn in.
fn mark(diagram: &mut Diagram, changes: &[StackDiff]) {
    for stack in changes {
        for change in &stack.changes {
            let mark = match change.action {
                ChangeAction::Add => Mark::Added,
                ChangeAction::Remove => continue,
                _ if change.replaces() => Mark::Replaced,
                _ => Mark::Changed,
            };
            let id = node_id(&(stack.stack.clone(), change.logical_id.clone()));
            let owner = diagram
                .nodes
                .values()
                .find(|n| {
                    n.id == id
                        || n.folded.iter().any(|(folded, _)| {
                            node_id(&(stack.stack.clone(), folded.clone())) == id
                        }) && n
                            .id
                            .starts_with(&node_id(&(stack.stack.clone(), String::new())))
                })
                .map(|n| n.id.clone());
            if let Some(owner) = owner
                && let Some(node) = diagram.nodes.get_mut(&owner)
            {
                // The strongest mark wins: replaced over changed; an added node stays added.
                let folded_change = node.id != id && mark == Mark::Added;
                let mark = if folded_change { Mark::Changed } else { mark };
                node.mark = Some(node.mark.map_or(mark, |m| m.max(mark)));
            }
        }
    }
}

pub fn from_templates(title: String, templates: &[StackTemplate]) -> Diagram {
    let model = Model::new(templates);
    // Who refers to whom (for folding into the resource that refers).
    let mut referred_by: BTreeMap<Key, Vec<Key>> = BTreeMap::new();
    for resource in &model.resources {
        let mut found = Vec::new();
        model.targets(&resource.key.0, resource.properties, &mut found);
        for target in found {
            referred_by
                .entry(target)
                .or_default()
                .push(resource.key.clone());
        }
    }
    // Where each folded resource is drawn.
    let owner_of = |resource: &Resource| -> Option<Key> {
        let property = folded_owner_property(resource.resource_type)?;
        match property {
            Some(property) => model.refers(resource, property).into_iter().next(),
            None => referred_by
                .get(&resource.key)
                .and_then(|by| by.first().cloned()),
        }
    };
    let mut drawn_in: BTreeMap<Key, Key> = BTreeMap::new();
    for resource in &model.resources {
        let mut owner = owner_of(resource);
        // Follow chains (a role in a profile in an instance), never around a cycle.
        let mut seen = BTreeSet::from([resource.key.clone()]);
        while let Some(key) = owner.clone() {
            match model.get(&key) {
                Some(next) if folded_owner_property(next.resource_type).is_some() => {
                    if !seen.insert(key) {
                        owner = None;
                        break;
                    }
                    owner = owner_of(next);
                }
                _ => break,
            }
        }
        if let Some(owner) = owner {
            drawn_in.insert(resource.key.clone(), owner);
        }
    }

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for resource in &model.resources {
        if drawn_in.contains_key(&resource.key) {
            continue;
        }
        nodes.insert(
            node_id(&resource.key),
            Node {
                id: node_id(&resource.key),
                logical_id: resource.key.1.clone(),
                resource_type: resource.resource_type.to_string(),
                folded: Vec::new(),
                detail: detail(resource),
                mark: None,
            },
        );
    }
    for resource in &model.resources {
        if let Some(owner) = drawn_in.get(&resource.key)
            && let Some(node) = nodes.get_mut(&node_id(owner))
        {
            node.folded
                .push((resource.key.1.clone(), resource.resource_type.to_string()));
        }
    }
    // Edges are drawn between the nodes that show the resources.
    let shown = |key: &Key| node_id(drawn_in.get(key).unwrap_or(key));
    let mut edges: BTreeSet<Edge> = BTreeSet::new();
    let mut outside: BTreeSet<String> = BTreeSet::new();
    let mut external: BTreeMap<String, Node> = BTreeMap::new();
    let mut edge = |from: String, to: String, label: &str, kind: EdgeKind| {
        if from != to {
            edges.insert(Edge {
                from,
                to,
                label: label.to_string(),
                kind,
            });
        }
    };
    for resource in &model.resources {
        let me = shown(&resource.key);
        let properties = resource.properties;
        match resource.resource_type {
            "AWS::RDS::DBInstance" => {
                for source in model.refers(resource, "SourceDBInstanceIdentifier") {
                    edge(
                        shown(&source),
                        me.clone(),
                        "replicates to",
                        EdgeKind::Replication,
                    );
                }
                for group in model.refers(resource, "DBSubnetGroupName") {
                    edge(me.clone(), shown(&group), "in", EdgeKind::Placement);
                }
            }
            "AWS::EC2::EIP" => {
                for instance in model.refers(resource, "InstanceId") {
                    edge(
                        me.clone(),
                        shown(&instance),
                        "attached to",
                        EdgeKind::Placement,
                    );
                }
            }
            "AWS::RDS::DBSubnetGroup" => {
                for subnet in model.refers(resource, "SubnetIds") {
                    edge(me.clone(), shown(&subnet), "spans", EdgeKind::Placement);
                }
            }
            "AWS::EC2::SecurityGroup" | "AWS::EC2::SecurityGroupIngress" => {
                let (rules, target) = if resource.resource_type == "AWS::EC2::SecurityGroup" {
                    let rules = properties
                        .get("SecurityGroupIngress")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    (rules, Some(me.clone()))
                } else {
                    let group = model.refers(resource, "GroupId").first().map(&shown);
                    (vec![properties.clone()], group)
                };
                let Some(target) = target else { continue };
                for rule in rules {
                    let port = port_label(&rule);
                    let mut sources = Vec::new();
                    if let Some(group) = rule.get("SourceSecurityGroupId") {
                        model.targets(&resource.key.0, group, &mut sources);
                    }
                    for source in sources {
                        edge(shown(&source), target.clone(), &port, EdgeKind::Traffic);
                    }
                    for cidr in ["CidrIp", "CidrIpv6"].iter().filter_map(|k| text(&rule, k)) {
                        let id = format!("cidr_{}", cidr.replace(['.', '/', ':'], "_"));
                        external.entry(id.clone()).or_insert_with(|| Node {
                            id: id.clone(),
                            logical_id: cidr.to_string(),
                            resource_type: "allowed network".into(),
                            folded: Vec::new(),
                            detail: None,
                            mark: None,
                        });
                        outside.insert(id.clone());
                        edge(id, target.clone(), &port, EdgeKind::Traffic);
                    }
                }
            }
            "AWS::EC2::Route" => {
                let destination = text(properties, "DestinationCidrBlock").unwrap_or("route");
                for table in model.refers(resource, "RouteTableId") {
                    for via in [
                        "NatGatewayId",
                        "GatewayId",
                        "TransitGatewayId",
                        "VpcPeeringConnectionId",
                    ] {
                        for target in model.refers(resource, via) {
                            edge(
                                shown(&table),
                                shown(&target),
                                destination,
                                EdgeKind::Traffic,
                            );
                        }
                    }
                }
            }
            "AWS::EC2::SubnetRouteTableAssociation" => {
                for table in model.refers(resource, "RouteTableId") {
                    edge(me.clone(), shown(&table), "routes by", EdgeKind::Traffic);
                }
            }
            "AWS::S3::Bucket" => {
                let configurations = properties.get("NotificationConfiguration");
                for (list, target) in [
                    ("QueueConfigurations", "Queue"),
                    ("LambdaConfigurations", "Function"),
                    ("TopicConfigurations", "Topic"),
                ] {
                    let entries = configurations
                        .and_then(|c| c.get(list))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for entry in entries {
                        let event = text(&entry, "Event").unwrap_or("notifies");
                        if let Some(key) = entry
                            .get(target)
                            .and_then(|t| model.target(&resource.key.0, t))
                        {
                            edge(me.clone(), shown(&key), event, EdgeKind::Event);
                        }
                    }
                }
            }
            "AWS::SQS::Queue" => {
                if let Some(dlq) = properties
                    .pointer("/RedrivePolicy/deadLetterTargetArn")
                    .and_then(|t| model.target(&resource.key.0, t))
                {
                    edge(me.clone(), shown(&dlq), "dead letters", EdgeKind::Event);
                }
            }
            "AWS::Lambda::EventSourceMapping" => {
                for source in model.refers(resource, "EventSourceArn") {
                    edge(shown(&source), me.clone(), "triggers", EdgeKind::Event);
                }
            }
            "AWS::SNS::Topic" => {
                // Inline subscriptions (strata's topics subscribe their queues this way).
                let subscriptions = properties
                    .get("Subscription")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for subscription in subscriptions {
                    if let Some(key) = subscription
                        .get("Endpoint")
                        .and_then(|t| model.target(&resource.key.0, t))
                    {
                        edge(me.clone(), shown(&key), "delivers to", EdgeKind::Event);
                    }
                }
            }
            "AWS::SNS::Subscription" => {
                for topic in model.refers(resource, "TopicArn") {
                    for target in model.refers(resource, "Endpoint") {
                        edge(
                            shown(&topic),
                            shown(&target),
                            "delivers to",
                            EdgeKind::Event,
                        );
                    }
                }
            }
            kind if kind.starts_with("AWS::Lambda::Function")
                || kind.starts_with("AWS::ApiGateway")
                || kind.starts_with("AWS::StepFunctions") =>
            {
                // Everything it refers to, but its role (drawn inside) and its network placement.
                for (name, value) in properties.as_object().into_iter().flatten() {
                    if name == "VpcConfig" || name == "Role" || name == "Tags" {
                        continue;
                    }
                    let mut found = Vec::new();
                    model.targets(&resource.key.0, value, &mut found);
                    for target in found {
                        edge(me.clone(), shown(&target), "uses", EdgeKind::Uses);
                    }
                }
            }
            _ => {}
        }
        // A value another stack's output fills in (the bastion's database endpoints): what it names.
        let mut parameters = BTreeSet::new();
        model.parameters_in(&resource.key.0, properties, &mut parameters);
        for parameter in parameters {
            let mut found = Vec::new();
            if let Some((upstream, output)) = model.parameter_source(&resource.key.0, parameter) {
                model.targets(upstream, output, &mut found);
            }
            for target in found {
                edge(
                    me.clone(),
                    shown(&target),
                    &format!("uses {parameter}"),
                    EdgeKind::Uses,
                );
            }
        }
        // Placement in a subnet and membership of security groups, for every type that has them.
        if !matches!(
            resource.resource_type,
            "AWS::EC2::NatGateway"
                | "AWS::EC2::SubnetRouteTableAssociation"
                | "AWS::RDS::DBSubnetGroup"
        ) {
            let mut subnets = model.refers(resource, "SubnetId");
            if let Some(ids) = properties.get("VpcConfig").and_then(|c| c.get("SubnetIds")) {
                model.targets(&resource.key.0, ids, &mut subnets);
            }
            for subnet in subnets {
                edge(me.clone(), shown(&subnet), "in", EdgeKind::Placement);
            }
        }
        let mut groups = Vec::new();
        for property in ["SecurityGroupIds", "VPCSecurityGroups", "SecurityGroups"] {
            groups.extend(model.refers(resource, property));
        }
        if let Some(config) = properties
            .get("VpcConfig")
            .and_then(|c| c.get("SecurityGroupIds"))
        {
            model.targets(&resource.key.0, config, &mut groups);
        }
        for group in groups {
            edge(me.clone(), shown(&group), "member of", EdgeKind::Placement);
        }
    }
    // A function's reference through a parameter is drawn once, named by the parameter.
    let named: BTreeSet<(String, String)> = edges
        .iter()
        .filter(|e| e.label.starts_with("uses "))
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    edges.retain(|e| !(e.label == "uses" && named.contains(&(e.from.clone(), e.to.clone()))));
    let groups = layout_groups(&model, templates, &nodes, &edges);
    nodes.extend(external);
    Diagram {
        title,
        nodes,
        groups,
        outside: outside.into_iter().collect(),
        edges: edges.into_iter().collect(),
    }
}

fn port_label(rule: &Value) -> String {
    let protocol = rule
        .get("IpProtocol")
        .map(|p| match p {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "tcp".into());
    if protocol == "-1" {
        return "all traffic".into();
    }
    let port = |name: &str| {
        rule.get(name)
            .map(|v| v.to_string().trim_matches('"').to_string())
    };
    match (port("FromPort"), port("ToPort")) {
        (Some(from), Some(to)) if from == to => format!("{protocol} {from}"),
        (Some(from), Some(to)) => format!("{protocol} {from}-{to}"),
        _ => protocol,
    }
}

/// The fact worth reading on a node.
fn detail(resource: &Resource) -> Option<String> {
    let p = resource.properties;
    let literal = |name: &str| {
        p.get(name).and_then(|v| match v {
            Value::String(text) => Some(text.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    };
    match resource.resource_type {
        "AWS::EC2::VPC" | "AWS::EC2::Subnet" => literal("CidrBlock"),
        "AWS::EC2::Instance" => literal("InstanceType"),
        "AWS::RDS::DBInstance" => {
            let class = literal("DBInstanceClass")?;
            let role = if p.get("SourceDBInstanceIdentifier").is_some() {
                "read replica"
            } else if literal("MultiAZ").as_deref() == Some("true") {
                "primary, Multi-AZ"
            } else {
                "primary"
            };
            Some(format!("{class}, {role}"))
        }
        "AWS::SQS::Queue" => literal("QueueName"),
        "AWS::Lambda::Function" => literal("Runtime"),
        _ => None,
    }
}

/// Stacks as boundaries in dependency order; in the stack that holds the VPC, the VPC with one
/// column per availability zone holding that zone's subnets, what sits in them and their route
/// tables.
fn layout_groups(
    model: &Model,
    templates: &[StackTemplate],
    nodes: &BTreeMap<String, Node>,
    edges: &BTreeSet<Edge>,
) -> Vec<Group> {
    let mut zone_of: BTreeMap<String, String> = BTreeMap::new();
    let mut vpc_of: BTreeMap<String, String> = BTreeMap::new();
    for resource in &model.resources {
        let id = node_id(&resource.key);
        if !nodes.contains_key(&id) {
            continue;
        }
        if resource.resource_type == "AWS::EC2::Subnet"
            && let Some(zone) = text(resource.properties, "AvailabilityZone")
        {
            zone_of.insert(id.clone(), zone.to_string());
        }
        if let Some(vpc) = model.refers(resource, "VpcId").first()
            && vpc.0 == resource.key.0
        {
            vpc_of.insert(id, node_id(vpc));
        }
    }
    // What sits in a subnet of the same stack (NAT gateways) joins its zone; a route table joins
    // the zone of the subnets it routes when they are all in one.
    for resource in &model.resources {
        let id = node_id(&resource.key);
        if !nodes.contains_key(&id) || zone_of.contains_key(&id) {
            continue;
        }
        if let Some(subnet) = model.refers(resource, "SubnetId").first()
            && subnet.0 == resource.key.0
            && let Some(zone) = zone_of.get(&node_id(subnet)).cloned()
        {
            zone_of.insert(id, zone);
        }
    }
    for node in nodes
        .values()
        .filter(|n| n.resource_type == "AWS::EC2::RouteTable")
    {
        let zones: BTreeSet<&String> = edges
            .iter()
            .filter(|e| e.to == node.id && e.label == "routes by")
            .filter_map(|e| zone_of.get(&e.from))
            .collect();
        if zones.len() == 1 {
            let zone = zones.into_iter().next().cloned().unwrap_or_default();
            zone_of.insert(node.id.clone(), zone);
        }
    }
    templates
        .iter()
        .map(|StackTemplate { stack, .. }| {
            let mut group = Group {
                id: format!("stack_{}", node_id(&(stack.clone(), String::new()))),
                label: format!("stack {stack}"),
                ..Group::default()
            };
            let mine: Vec<&Node> = nodes
                .values()
                .filter(|n| n.id.starts_with(&node_id(&(stack.clone(), String::new()))))
                .collect();
            let mut vpcs: BTreeMap<String, Group> = BTreeMap::new();
            for node in mine.iter().filter(|n| n.resource_type == "AWS::EC2::VPC") {
                vpcs.insert(
                    node.id.clone(),
                    Group {
                        id: format!("vpc_{}", node.id),
                        label: format!("VPC {}", node.logical_id),
                        nodes: vec![node.id.clone()],
                        groups: Vec::new(),
                    },
                );
            }
            for node in mine.iter().filter(|n| n.resource_type != "AWS::EC2::VPC") {
                let vpc = vpc_of
                    .get(&node.id)
                    .or_else(|| {
                        vpcs.keys()
                            .next()
                            .filter(|_| zone_of.contains_key(&node.id))
                    })
                    .cloned();
                match (vpc.and_then(|v| vpcs.get_mut(&v)), zone_of.get(&node.id)) {
                    (Some(vpc), Some(zone)) => {
                        let zone_id = format!("{}_{}", vpc.id, zone.replace('-', "_"));
                        match vpc.groups.iter_mut().find(|g| g.id == zone_id) {
                            Some(column) => column.nodes.push(node.id.clone()),
                            None => vpc.groups.push(Group {
                                id: zone_id,
                                label: format!("availability zone {zone}"),
                                nodes: vec![node.id.clone()],
                                groups: Vec::new(),
                            }),
                        }
                    }
                    (Some(vpc), None) => vpc.nodes.push(node.id.clone()),
                    (None, _) => group.nodes.push(node.id.clone()),
                }
            }
            for vpc in vpcs.values_mut() {
                vpc.groups.sort_by(|a, b| a.id.cmp(&b.id));
            }
            group.groups = vpcs.into_values().collect();
            group
        })
        .collect()
}

/// The label of a node: logical id, type, detail, mark, and what is drawn inside it.
pub fn label_lines(node: &Node) -> Vec<String> {
    let mut lines = vec![node.logical_id.clone(), short_type(&node.resource_type)];
    if let Some(detail) = &node.detail {
        lines.push(detail.clone());
    }
    if let Some(mark) = node.mark {
        lines.push(format!("[{}]", mark.name()));
    }
    for (id, resource_type) in &node.folded {
        lines.push(format!("+ {id} ({})", short_type(resource_type)));
    }
    lines
}

/// `AWS::EC2::NatGateway` -> `EC2 NatGateway`.
fn short_type(resource_type: &str) -> String {
    resource_type
        .strip_prefix("AWS::")
        .unwrap_or(resource_type)
        .replace("::", " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack(name: &str, template: Value) -> StackTemplate {
        StackTemplate {
            stack: name.into(),
            template,
            from_outputs: BTreeMap::new(),
        }
    }

    fn templates() -> Vec<StackTemplate> {
        vec![
            stack(
                "network",
                json!({"Resources": {
                    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
                    "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "AvailabilityZone": "eu-west-1a"}},
                    "Db": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": {"Ref": "App"}},
                        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "203.0.113.0/24"}]}},
                    "App": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "Vpc"}}},
                },
                "Outputs": {"Sg": {"Value": {"Ref": "Db"}, "Export": {"Name": "net-Db"}}}}),
            ),
            stack(
                "database",
                json!({"Resources": {
                    "Primary": {"Type": "AWS::RDS::DBInstance", "Properties": {"VPCSecurityGroups": [{"Fn::ImportValue": "net-Db"}]}},
                    "Replica": {"Type": "AWS::RDS::DBInstance", "Properties": {"SourceDBInstanceIdentifier": {"Ref": "Primary"}}},
                    "Secret": {"Type": "AWS::SecretsManager::Secret"},
                    "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {"SecretId": {"Ref": "Secret"}, "TargetId": {"Ref": "Primary"}}},
                },
                "Outputs": {
                    "WriterEndpoint": {"Value": {"Fn::GetAtt": ["Primary", "Endpoint.Address"]}},
                    "ReaderEndpoints": {"Value": {"Fn::Join": [",", [{"Fn::GetAtt": ["Replica", "Endpoint.Address"]}]]}},
                }}),
            ),
        ]
    }

    #[test]
    fn a_parameter_filled_from_another_stacks_output_points_at_what_that_output_names() {
        let mut all = templates();
        all.push(StackTemplate {
            stack: "bastion".into(),
            template: json!({
                "Parameters": {
                    "Writer": {"Type": "String"},
                    "Readers": {"Type": "String"},
                    "Image": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/aws/service/x"},
                },
                "Resources": {"Host": {"Type": "AWS::EC2::Instance", "Properties": {
                    "ImageId": {"Ref": "Image"},
                    "UserData": {"Fn::Base64": {"Fn::Sub": ["${W} ${R}", {"W": {"Ref": "Writer"}, "R": {"Ref": "Readers"}}]}},
                }}},
            }),
            from_outputs: BTreeMap::from([
                ("Writer".to_string(), ("database".to_string(), "WriterEndpoint".to_string())),
                ("Readers".to_string(), ("database".to_string(), "ReaderEndpoints".to_string())),
            ]),
        });
        let diagram = from_templates("t".into(), &all);
        let from_host: Vec<(&str, &str)> = diagram
            .edges
            .iter()
            .filter(|e| e.from == "bastion_Host")
            .map(|e| (e.to.as_str(), e.label.as_str()))
            .collect();
        assert_eq!(
            from_host,
            [
                ("database_Primary", "uses Writer"),
                ("database_Replica", "uses Readers"),
            ]
        );
    }

    #[test]
    fn the_application_tier_draws_routes_functions_tables_and_topic_deliveries() {
        let all = vec![StackTemplate {
            stack: "app".into(),
            template: json!({"Resources": {
                "Queue": {"Type": "AWS::SQS::Queue"},
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Subscription": [
                    {"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}},
                ]}},
                "Table": {"Type": "AWS::DynamoDB::Table"},
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
                }},
                "Api": {"Type": "AWS::ApiGatewayV2::Api"},
                "Integration": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                    "ApiId": {"Ref": "Api"}, "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]},
                }},
                "Route": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                    "ApiId": {"Ref": "Api"}, "Target": {"Fn::Sub": "integrations/${Integration}"},
                }},
                "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                    "FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                }},
            }}),
            from_outputs: BTreeMap::new(),
        }];
        let diagram = from_templates("t".into(), &all);
        for node in ["app_Topic", "app_Table", "app_Fn", "app_Api", "app_Route"] {
            assert!(
                diagram.nodes.contains_key(node),
                "{node}: {:?}",
                diagram.nodes.keys()
            );
        }
        let edges: BTreeSet<(&str, &str, &str)> = diagram
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str()))
            .collect();
        for wanted in [
            ("app_Topic", "app_Queue", "delivers to"),
            ("app_Fn", "app_Table", "uses"),
            ("app_Route", "app_Integration", "uses"),
            ("app_Integration", "app_Fn", "uses"),
            ("app_Queue", "app_Fn", "triggers"),
        ] {
            assert!(edges.contains(&wanted), "{wanted:?} in {edges:?}");
        }
        assert_eq!(
            sub_names("arn:${AWS::Partition}:x:${Api}/${Stage.Name}/${!Literal}"),
            ["Api", "Stage"]
        );
    }

    #[test]
    fn references_across_stacks_become_edges_and_small_resources_fold() {
        let diagram = from_templates("t".into(), &templates());
        let edges: Vec<(&str, &str, &str)> = diagram
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str()))
            .collect();
        assert!(
            edges.contains(&("network_App", "network_Db", "tcp 5432")),
            "{edges:?}"
        );
        assert!(
            edges.contains(&("cidr_203_0_113_0_24", "network_Db", "tcp 22")),
            "{edges:?}"
        );
        assert!(
            edges.contains(&("database_Primary", "network_Db", "member of")),
            "{edges:?}"
        );
        assert!(
            edges.contains(&("database_Primary", "database_Replica", "replicates to")),
            "{edges:?}"
        );
        let secret = &diagram.nodes["database_Secret"];
        assert_eq!(
            secret.folded,
            [(
                "Attachment".to_string(),
                "AWS::SecretsManager::SecretTargetAttachment".to_string()
            )]
        );
        assert!(!diagram.nodes.contains_key("database_Attachment"));
        let network = &diagram.groups[0];
        assert_eq!(network.groups[0].label, "VPC Vpc");
        assert_eq!(
            network.groups[0].groups[0].label,
            "availability zone eu-west-1a"
        );
        assert_eq!(network.groups[0].groups[0].nodes, ["network_SubnetA"]);
    }
}
