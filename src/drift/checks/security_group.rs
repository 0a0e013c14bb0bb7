//! Security group rules as sets: one rule per (protocol, ports, peer), declared inline on the group or as
//! `AWS::EC2::SecurityGroupIngress`/`Egress` resources anywhere in the environment. A live rule nobody declared is
//! drift (an extra ingress rule is security-relevant: it widens who may connect); a declared rule that is gone
//! is drift too.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict};
use crate::aws::live::{RuleSource, SecurityGroupRule};
use crate::drift::Severity;
use crate::drift::normalize::{self, Kind};
use crate::drift::resolve::Resolver;
use crate::model::Resource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn property(self) -> &'static str {
        match self {
            Direction::Ingress => "SecurityGroupIngress",
            Direction::Egress => "SecurityGroupEgress",
        }
    }
}

/// A rule after normalisation (protocol names, ports of all-traffic rules, IPv6 case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    protocol: String,
    from_port: Option<i64>,
    to_port: Option<i64>,
    peer: RuleSource,
}

/// A rule declared as a resource of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeparateRule {
    pub group_id: String,
    pub direction: Direction,
    /// `None` when some part of it could not be resolved.
    pub rule: Option<Rule>,
    pub declared_by: String,
}

/// The rule an `AWS::EC2::SecurityGroupIngress`/`Egress` resource declares, if it is one and its group is known.
pub fn separate_rule(
    logical_id: &str,
    resource: &Resource,
    resolver: &Resolver,
) -> Option<SeparateRule> {
    let direction = match resource.resource_type {
        "AWS::EC2::SecurityGroupIngress" => Direction::Ingress,
        "AWS::EC2::SecurityGroupEgress" => Direction::Egress,
        _ => return None,
    };
    let group_id = resolver.resolve_string(resource.properties.get("GroupId")?)?;
    Some(SeparateRule {
        group_id,
        direction,
        rule: declared_rule(&resource.properties, resolver, direction),
        declared_by: logical_id.to_owned(),
    })
}

/// `6` and `tcp` are the same protocol; `-1` and `all` both mean every protocol.
fn protocol(text: &str) -> String {
    match text.to_ascii_lowercase().as_str() {
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "58" => "icmpv6".to_owned(),
        "all" | "-1" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

fn rule(protocol_text: &str, from: Option<i64>, to: Option<i64>, peer: RuleSource) -> Rule {
    let protocol = protocol(protocol_text);
    // Ports mean nothing for all-traffic rules; AWS reports them absent or -1.
    let (from_port, to_port) = if protocol == "-1" {
        (None, None)
    } else {
        (from, to)
    };
    let peer = match peer {
        RuleSource::Ipv6(cidr) => RuleSource::Ipv6(cidr.to_ascii_lowercase()),
        other => other,
    };
    Rule {
        protocol,
        from_port,
        to_port,
        peer,
    }
}

fn declared_rule(properties: &Value, resolver: &Resolver, direction: Direction) -> Option<Rule> {
    let text = |name: &str| {
        properties
            .get(name)
            .and_then(|value| resolver.resolve_string(value))
    };
    let port = |name: &str| -> Option<Option<i64>> {
        match properties.get(name) {
            None => Some(None),
            Some(value) => Some(Some(normalize::number(&resolver.resolve(value)?)? as i64)),
        }
    };
    let (group, prefix_list) = match direction {
        Direction::Ingress => ("SourceSecurityGroupId", "SourcePrefixListId"),
        Direction::Egress => ("DestinationSecurityGroupId", "DestinationPrefixListId"),
    };
    let peer = if let Some(cidr) = text("CidrIp") {
        RuleSource::Ipv4(cidr)
    } else if let Some(cidr) = text("CidrIpv6") {
        RuleSource::Ipv6(cidr)
    } else if let Some(id) = text(group) {
        RuleSource::Group(id)
    } else {
        RuleSource::PrefixList(text(prefix_list)?)
    };
    Some(rule(
        &text("IpProtocol")?,
        port("FromPort")?,
        port("ToPort")?,
        peer,
    ))
}

fn live_rule(live: &SecurityGroupRule) -> Rule {
    rule(
        &live.protocol,
        live.from_port.map(i64::from),
        live.to_port.map(i64::from),
        live.source.clone(),
    )
}

/// `tcp 22 from 0.0.0.0/0`, `all traffic to 0.0.0.0/0`.
fn describe(rule: &Rule, direction: Direction) -> String {
    let what = match (rule.protocol.as_str(), rule.from_port, rule.to_port) {
        ("-1", _, _) => "all traffic".to_owned(),
        (protocol, Some(from), Some(to)) if from == to => format!("{protocol} {from}"),
        (protocol, Some(from), Some(to)) => format!("{protocol} {from}-{to}"),
        (protocol, _, _) => protocol.to_owned(),
    };
    let peer = match &rule.peer {
        RuleSource::Ipv4(peer)
        | RuleSource::Ipv6(peer)
        | RuleSource::Group(peer)
        | RuleSource::PrefixList(peer) => peer,
    };
    let preposition = match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    format!("{what} {preposition} {peer}")
}

/// What the environment declares for this group in one direction: (rule, path to report it under), and whether
/// every declared rule could be resolved (if not, a live rule cannot be called extra).
fn expected_rules(ctx: &Ctx, direction: Direction) -> (Vec<(Rule, String)>, bool) {
    let mut rules = Vec::new();
    let mut complete = true;
    let property = direction.property();
    match ctx.resource.properties.get(property) {
        Some(Value::Array(declared)) => {
            for item in declared {
                match ctx
                    .resolver
                    .resolve(item)
                    .and_then(|item| declared_rule(&item, ctx.resolver, direction))
                {
                    Some(rule) => rules.push((rule, property.to_owned())),
                    None => complete = false,
                }
            }
        }
        Some(_) => complete = false,
        // With no egress declared, AWS keeps the default rule: all traffic to anywhere (IPv4).
        None if direction == Direction::Egress => rules.push((
            rule("-1", None, None, RuleSource::Ipv4("0.0.0.0/0".to_owned())),
            property.to_owned(),
        )),
        None => {}
    }
    for separate in ctx
        .separate_rules
        .iter()
        .filter(|s| s.group_id == ctx.physical_id && s.direction == direction)
    {
        match &separate.rule {
            Some(rule) => rules.push((
                rule.clone(),
                format!("{property}[{}]", separate.declared_by),
            )),
            None => complete = false,
        }
    }
    (rules, complete)
}

fn compare_rules(
    diffs: &mut Diffs,
    ctx: &Ctx,
    direction: Direction,
    live_rules: &[SecurityGroupRule],
) {
    let live: BTreeSet<Rule> = live_rules.iter().map(live_rule).collect();
    let (expected, complete) = expected_rules(ctx, direction);
    for (rule, path) in &expected {
        if !live.contains(rule) {
            diffs.push(
                path,
                json!(describe(rule, direction)),
                Value::Null,
                Severity::Normal,
            );
        }
    }
    if !complete {
        return;
    }
    let declared: BTreeSet<&Rule> = expected.iter().map(|(rule, _)| rule).collect();
    for rule in live.iter().filter(|rule| !declared.contains(rule)) {
        let severity = match direction {
            Direction::Ingress => Severity::Security,
            Direction::Egress => Severity::Normal,
        };
        diffs.push(
            direction.property(),
            Value::Null,
            json!(describe(rule, direction)),
            severity,
        );
    }
}

pub fn security_group(ctx: &Ctx) -> Verdict {
    let Some(group) = ctx.live.security_groups.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(
        ctx,
        "VpcId",
        group.vpc_id.clone().map(Value::String),
        Kind::Text,
    );
    compare_rules(&mut diffs, ctx, Direction::Ingress, &group.ingress);
    compare_rules(&mut diffs, ctx, Direction::Egress, &group.egress);
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Case, differences, is_deleted};
    use super::*;
    use crate::aws::live::SecurityGroup;

    fn live_rule(
        protocol: &str,
        from: Option<i32>,
        to: Option<i32>,
        source: RuleSource,
    ) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            source,
        }
    }

    fn world() -> RuleSource {
        RuleSource::Ipv4("0.0.0.0/0".into())
    }

    fn group(ingress: Vec<SecurityGroupRule>, egress: Vec<SecurityGroupRule>) -> SecurityGroup {
        SecurityGroup {
            id: "sg-db".into(),
            vpc_id: Some("vpc-1".into()),
            ingress,
            egress,
        }
    }

    /// The database group as declared: 5432 from the app group (same stack), all egress.
    fn database_group() -> Case {
        Case::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1", "Description": "all"}],
                "SecurityGroupIngress": [{
                    "IpProtocol": "tcp", "FromPort": 5432, "ToPort": "5432",
                    "SourceSecurityGroupId": {"Fn::GetAtt": ["App", "GroupId"]}
                }]
            }),
        )
        .declare("App", "AWS::EC2::SecurityGroup", json!({}))
        .physical("App", "sg-app")
        .physical("Vpc", "vpc-1")
    }

    fn in_sync_rules() -> (Vec<SecurityGroupRule>, Vec<SecurityGroupRule>) {
        (
            // EC2 reports the protocol by number here, ports as numbers: still the declared rule.
            vec![live_rule(
                "6",
                Some(5432),
                Some(5432),
                RuleSource::Group("sg-app".into()),
            )],
            vec![live_rule("-1", Some(-1), Some(-1), world())],
        )
    }

    #[test]
    fn declared_rules_in_any_spelling_are_in_sync() {
        let mut case = database_group();
        let (ingress, egress) = in_sync_rules();
        case.live
            .security_groups
            .insert("sg-db".into(), group(ingress, egress));
        assert_eq!(differences(&case, "sg-db"), vec![]);
    }

    #[test]
    fn an_extra_world_ingress_rule_is_security_drift() {
        let mut case = database_group();
        let (mut ingress, egress) = in_sync_rules();
        ingress.push(live_rule("tcp", Some(22), Some(22), world()));
        case.live
            .security_groups
            .insert("sg-db".into(), group(ingress, egress));
        let found = differences(&case, "sg-db");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "SecurityGroupIngress");
        assert_eq!(found[0].expected, Value::Null);
        assert_eq!(found[0].actual, json!("tcp 22 from 0.0.0.0/0"));
        assert_eq!(found[0].severity, Severity::Security);
    }

    #[test]
    fn a_missing_rule_is_drift() {
        let mut case = database_group();
        let (_, egress) = in_sync_rules();
        case.live
            .security_groups
            .insert("sg-db".into(), group(vec![], egress));
        let found = differences(&case, "sg-db");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].expected, json!("tcp 5432 from sg-app"));
        assert_eq!(found[0].actual, Value::Null);
        assert_eq!(found[0].severity, Severity::Normal);
    }

    #[test]
    fn undeclared_egress_means_the_default_all_traffic_rule() {
        let mut case = Case::new("AWS::EC2::SecurityGroup", json!({"GroupDescription": "x"}));
        case.live.security_groups.insert(
            "sg-db".into(),
            group(vec![], vec![live_rule("-1", None, None, world())]),
        );
        assert_eq!(differences(&case, "sg-db"), vec![]);
    }

    #[test]
    fn rules_declared_as_separate_resources_count() {
        let mut case = Case::new("AWS::EC2::SecurityGroup", json!({"GroupDescription": "x"}));
        let ingress = Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({"GroupId": "sg-db", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIpv6": "2001:DB8::/32"}),
        );
        let physical = Default::default();
        let exports = Default::default();
        let resolver = Resolver {
            stack_name: "other",
            region: "eu-west-1",
            account_id: "1",
            physical_ids: &physical,
            parameters: &Default::default(),
            exports: &exports,
            attributes: &crate::drift::resolve::NoAttributes,
        };
        case.separate_rules
            .extend(separate_rule("DbFromLab", &ingress, &resolver));
        let egress = vec![live_rule("-1", None, None, world())];
        case.live
            .security_groups
            .insert("sg-db".into(), group(vec![], egress.clone()));
        let found = differences(&case, "sg-db");
        assert_eq!(found[0].path, "SecurityGroupIngress[DbFromLab]");

        let ingress = vec![live_rule(
            "tcp",
            Some(5432),
            Some(5432),
            RuleSource::Ipv6("2001:db8::/32".into()),
        )];
        case.live
            .security_groups
            .insert("sg-db".into(), group(ingress, egress));
        assert_eq!(differences(&case, "sg-db"), vec![]);
    }

    #[test]
    fn unresolvable_declarations_never_make_live_rules_extra() {
        let mut case = Case::new(
            "AWS::EC2::SecurityGroup",
            json!({"SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                "SourceSecurityGroupId": {"Fn::ImportValue": "unknown-export"}}]}),
        );
        let egress = vec![live_rule("-1", None, None, world())];
        let ingress = vec![live_rule(
            "tcp",
            Some(1),
            Some(1),
            RuleSource::Group("sg-x".into()),
        )];
        case.live
            .security_groups
            .insert("sg-db".into(), group(ingress, egress));
        assert_eq!(differences(&case, "sg-db"), vec![]);
    }

    #[test]
    fn a_deleted_group_is_deleted() {
        assert!(is_deleted(&database_group(), "sg-db"));
    }
}
