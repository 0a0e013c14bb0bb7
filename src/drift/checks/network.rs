//! VPC, subnets, routing, gateways and Elastic IPs.

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict, text_or_null};
use crate::drift::normalize::Kind;

fn text(value: &Option<String>) -> Option<Value> {
    value.as_ref().map(|v| Value::String(v.clone()))
}

pub fn vpc(ctx: &Ctx) -> Verdict {
    let Some(vpc) = ctx.live.vpcs.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(ctx, "CidrBlock", text(&vpc.cidr_block), Kind::Text);
    // AWS defaults: DNS resolution on, DNS hostnames off (for VPCs that are not the default VPC).
    diffs.property_or(
        ctx,
        "EnableDnsSupport",
        json!(true),
        vpc.dns_support.map(Value::Bool),
        Kind::Bool,
    );
    diffs.property_or(
        ctx,
        "EnableDnsHostnames",
        json!(false),
        vpc.dns_hostnames.map(Value::Bool),
        Kind::Bool,
    );
    diffs.verdict()
}

pub fn subnet(ctx: &Ctx) -> Verdict {
    let Some(subnet) = ctx.live.subnets.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(ctx, "VpcId", text(&subnet.vpc_id), Kind::Text);
    diffs.property(ctx, "CidrBlock", text(&subnet.cidr_block), Kind::Text);
    diffs.property(
        ctx,
        "AvailabilityZone",
        text(&subnet.availability_zone),
        Kind::Text,
    );
    diffs.property_or(
        ctx,
        "MapPublicIpOnLaunch",
        json!(false),
        subnet.map_public_ip_on_launch.map(Value::Bool),
        Kind::Bool,
    );
    diffs.verdict()
}

pub fn route_table(ctx: &Ctx) -> Verdict {
    let Some(table) = ctx.live.route_tables.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(ctx, "VpcId", text(&table.vpc_id), Kind::Text);
    diffs.verdict()
}

/// The properties that name a route's target, in the order AWS reports one.
const ROUTE_TARGETS: [&str; 7] = [
    "NatGatewayId",
    "GatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
];

/// A route is checked inside its route table: present, pointing at the declared target, not a blackhole, and —
/// for a NAT target — at a NAT gateway that exists and is available.
pub fn route(ctx: &Ctx) -> Verdict {
    let (Some(table_id), Some(destination)) = (
        ctx.declared("RouteTableId"),
        ctx.declared("DestinationCidrBlock")
            .or_else(|| ctx.declared("DestinationIpv6CidrBlock")),
    ) else {
        return Diffs::default().verdict();
    };
    let (Some(table_id), Some(destination)) = (table_id.as_str(), destination.as_str()) else {
        return Diffs::default().verdict();
    };
    let Some(table) = ctx.live.route_tables.get(table_id) else {
        return Verdict::Deleted;
    };
    let Some(live) = table
        .routes
        .iter()
        .find(|r| r.destination.eq_ignore_ascii_case(destination))
    else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    for target in ROUTE_TARGETS {
        diffs.property(
            ctx,
            target,
            Some(text_or_null(live.target.as_deref())),
            Kind::Text,
        );
    }
    if live.state.as_deref() == Some("blackhole") {
        diffs.compare(
            "State",
            json!("active"),
            Some(json!("blackhole")),
            Kind::Text,
        );
    }
    if let Some(nat_id) = ctx
        .declared("NatGatewayId")
        .and_then(|v| v.as_str().map(str::to_owned))
    {
        let state = ctx
            .live
            .nat_gateways
            .get(&nat_id)
            .and_then(|nat| nat.state.clone());
        diffs.compare(
            "NatGatewayId.State",
            json!("available"),
            Some(state.map_or(json!("(no such NAT gateway)"), Value::String)),
            Kind::Text,
        );
    }
    diffs.verdict()
}

pub fn internet_gateway(ctx: &Ctx) -> Verdict {
    if ctx.live.internet_gateways.contains_key(ctx.physical_id) {
        Diffs::default().verdict()
    } else {
        Verdict::Deleted
    }
}

/// The gateway named is attached to the VPC named.
pub fn gateway_attachment(ctx: &Ctx) -> Verdict {
    let mut diffs = Diffs::default();
    let gateway = ctx
        .declared("InternetGatewayId")
        .and_then(|id| ctx.live.internet_gateways.get(id.as_str()?).cloned());
    if let (Some(gateway), Some(vpc)) = (gateway, ctx.declared("VpcId")) {
        let attached = vpc
            .as_str()
            .and_then(|vpc| gateway.attached_vpcs.iter().find(|a| a.as_str() == vpc));
        diffs.compare(
            "VpcId",
            vpc.clone(),
            Some(text_or_null(attached.map(String::as_str))),
            Kind::Text,
        );
    }
    diffs.verdict()
}

pub fn nat_gateway(ctx: &Ctx) -> Verdict {
    let Some(nat) = ctx.live.nat_gateways.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let state = nat.state.as_deref().unwrap_or_default();
    if matches!(state, "deleted" | "deleting") {
        return Verdict::Deleted;
    }
    let mut diffs = Diffs::default();
    // `pending` is a NAT gateway on its way to `available`, not drift.
    if state != "pending" {
        diffs.compare("State", json!("available"), Some(json!(state)), Kind::Text);
    }
    diffs.property(ctx, "SubnetId", text(&nat.subnet_id), Kind::Text);
    if let Some(Value::String(allocation)) = ctx.declared("AllocationId") {
        let actual = if nat.allocation_ids.contains(&allocation) {
            json!(allocation)
        } else {
            json!(nat.allocation_ids.join(","))
        };
        diffs.compare("AllocationId", json!(allocation), Some(actual), Kind::Text);
    }
    diffs.verdict()
}

pub fn elastic_ip(ctx: &Ctx) -> Verdict {
    let Some(address) = ctx.live.address(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(ctx, "Domain", text(&address.domain), Kind::Text);
    diffs.property(
        ctx,
        "InstanceId",
        Some(text_or_null(address.instance_id.as_deref())),
        Kind::Text,
    );
    diffs.verdict()
}

/// The Elastic IP named (by allocation id or address) is associated with the instance named.
pub fn eip_association(ctx: &Ctx) -> Verdict {
    let address = ctx
        .declared("AllocationId")
        .or_else(|| ctx.declared("EIP"))
        .and_then(|id| ctx.live.address(id.as_str()?).cloned());
    let mut diffs = Diffs::default();
    if let Some(address) = address {
        diffs.property(
            ctx,
            "InstanceId",
            Some(text_or_null(address.instance_id.as_deref())),
            Kind::Text,
        );
    }
    diffs.verdict()
}

/// A VPC flow log: still there (deleted, the VPC's traffic goes unrecorded: `[security]`), recording
/// the declared traffic of the declared resource into the declared destination.
pub fn flow_log(ctx: &Ctx) -> Verdict {
    let Some(log) = ctx.live.flow_logs.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property(ctx, "ResourceId", text(&log.resource_id), Kind::Text);
    diffs.property(ctx, "TrafficType", text(&log.traffic_type), Kind::Text);
    // AWS::EC2::FlowLog, LogDestinationType: "Default: cloud-watch-logs".
    diffs.property_or(
        ctx,
        "LogDestinationType",
        json!("cloud-watch-logs"),
        text(&log.log_destination_type),
        Kind::Text,
    );
    diffs.property(ctx, "LogGroupName", text(&log.log_group_name), Kind::Text);
    diffs.property(
        ctx,
        "LogDestination",
        text(&log.log_destination),
        Kind::Text,
    );
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Case, differences};
    use crate::aws::live::{NatGateway, Route, RouteTable, Subnet};
    use crate::drift::Severity;

    fn subnet(map_public: Option<bool>) -> Subnet {
        Subnet {
            id: "subnet-1".into(),
            vpc_id: Some("vpc-1".into()),
            cidr_block: Some("10.0.0.0/24".into()),
            availability_zone: Some("eu-west-1a".into()),
            map_public_ip_on_launch: map_public,
        }
    }

    #[test]
    fn subnet_public_ip_mapping_defaults_to_off() {
        let declared = json!({"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "eu-west-1a"});
        let mut case = Case::new("AWS::EC2::Subnet", declared).physical("Vpc", "vpc-1");
        case.live
            .subnets
            .insert("subnet-1".into(), subnet(Some(false)));
        assert_eq!(differences(&case, "subnet-1"), vec![]);

        case.live
            .subnets
            .insert("subnet-1".into(), subnet(Some(true)));
        let found = differences(&case, "subnet-1");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "MapPublicIpOnLaunch");
        assert_eq!(found[0].severity, Severity::Security);
    }

    #[test]
    fn subnet_of_another_zone_and_cidr_is_drift_and_unknown_is_not() {
        let declared = json!({"CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1b", "MapPublicIpOnLaunch": true});
        let mut case = Case::new("AWS::EC2::Subnet", declared);
        // AWS did not say whether it maps public IPs: not compared.
        case.live.subnets.insert("subnet-1".into(), subnet(None));
        let paths: Vec<String> = differences(&case, "subnet-1")
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert_eq!(paths, ["CidrBlock", "AvailabilityZone"]);
    }

    fn table(target: &str, state: &str) -> RouteTable {
        RouteTable {
            id: "rtb-1".into(),
            vpc_id: Some("vpc-1".into()),
            routes: vec![
                Route {
                    destination: "10.0.0.0/16".into(),
                    target: Some("local".into()),
                    state: Some("active".into()),
                },
                Route {
                    destination: "0.0.0.0/0".into(),
                    target: Some(target.into()),
                    state: Some(state.into()),
                },
            ],
        }
    }

    fn nat(state: &str) -> NatGateway {
        NatGateway {
            id: "nat-1".into(),
            state: Some(state.into()),
            subnet_id: Some("subnet-1".into()),
            allocation_ids: vec!["eipalloc-1".into()],
            public_ips: vec!["203.0.113.9".into()],
        }
    }

    fn nat_route_case() -> Case {
        Case::new(
            "AWS::EC2::Route",
            json!({"RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": "Nat"}}),
        )
        .physical("Table", "rtb-1")
        .physical("Nat", "nat-1")
    }

    #[test]
    fn default_route_to_an_available_nat_is_in_sync() {
        let mut case = nat_route_case();
        case.live
            .route_tables
            .insert("rtb-1".into(), table("nat-1", "active"));
        case.live
            .nat_gateways
            .insert("nat-1".into(), nat("available"));
        assert_eq!(differences(&case, "rtb-1|0.0.0.0/0"), vec![]);
    }

    #[test]
    fn default_route_through_a_deleted_nat_is_a_blackhole() {
        let mut case = nat_route_case();
        case.live
            .route_tables
            .insert("rtb-1".into(), table("nat-1", "blackhole"));
        case.live
            .nat_gateways
            .insert("nat-1".into(), nat("deleted"));
        let found = differences(&case, "rtb-1|0.0.0.0/0");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["State", "NatGatewayId.State"]);
        assert_eq!(found[1].actual, json!("deleted"));
    }

    #[test]
    fn default_route_to_another_target_is_drift() {
        let mut case = nat_route_case();
        case.live
            .route_tables
            .insert("rtb-1".into(), table("igw-9", "active"));
        case.live
            .nat_gateways
            .insert("nat-1".into(), nat("available"));
        let found = differences(&case, "x");
        assert_eq!(found[0].path, "NatGatewayId");
        assert_eq!(found[0].expected, json!("nat-1"));
        assert_eq!(found[0].actual, json!("igw-9"));
    }

    #[test]
    fn a_missing_default_route_or_nat_is_deleted() {
        let mut case = nat_route_case();
        let mut without = table("nat-1", "active");
        without.routes.pop();
        case.live.route_tables.insert("rtb-1".into(), without);
        assert!(super::super::testing::is_deleted(&case, "x"));

        let case = Case::new("AWS::EC2::NatGateway", json!({"SubnetId": "subnet-1"}));
        assert!(super::super::testing::is_deleted(&case, "nat-1"));
        let mut case = Case::new("AWS::EC2::NatGateway", json!({"SubnetId": "subnet-1"}));
        case.live
            .nat_gateways
            .insert("nat-1".into(), nat("deleted"));
        assert!(super::super::testing::is_deleted(&case, "nat-1"));
    }

    fn flow_log(traffic: &str) -> crate::aws::live::FlowLog {
        crate::aws::live::FlowLog {
            id: "fl-1".into(),
            resource_id: Some("vpc-1".into()),
            traffic_type: Some(traffic.into()),
            log_destination_type: Some("cloud-watch-logs".into()),
            log_group_name: Some("app-dev-network-FlowLogGroup".into()),
            log_destination: Some(
                "arn:aws:logs:eu-west-1:111111111111:log-group:app-dev-network-FlowLogGroup".into(),
            ),
        }
    }

    fn flow_log_case() -> Case {
        Case::new(
            "AWS::EC2::FlowLog",
            json!({"ResourceId": {"Ref": "Vpc"}, "ResourceType": "VPC", "TrafficType": "ALL",
                   "LogGroupName": {"Ref": "FlowLogGroup"},
                   "DeliverLogsPermissionArn": {"Fn::GetAtt": ["FlowLogRole", "Arn"]}}),
        )
        .physical("Vpc", "vpc-1")
        .physical("FlowLogGroup", "app-dev-network-FlowLogGroup")
    }

    /// Issue 14: a flow log deleted out of band is [security] drift; one that records less too.
    #[test]
    fn a_flow_log_deleted_or_narrowed_is_security_drift() {
        let mut case = flow_log_case();
        case.live.flow_logs.insert("fl-1".into(), flow_log("ALL"));
        assert_eq!(differences(&case, "fl-1"), vec![]);

        case.live
            .flow_logs
            .insert("fl-1".into(), flow_log("REJECT"));
        let found = differences(&case, "fl-1");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "TrafficType");
        assert_eq!(found[0].severity, Severity::Security);

        assert!(super::super::testing::is_deleted(&flow_log_case(), "fl-1"));
        assert_eq!(
            crate::drift::normalize::deleted_severity("AWS::EC2::FlowLog"),
            Severity::Security
        );
    }

    #[test]
    fn nat_gateway_keeps_its_elastic_ip() {
        let mut case = Case::new(
            "AWS::EC2::NatGateway",
            json!({"SubnetId": "subnet-1", "AllocationId": "eipalloc-2"}),
        );
        case.live
            .nat_gateways
            .insert("nat-1".into(), nat("available"));
        let found = differences(&case, "nat-1");
        assert_eq!(found[0].path, "AllocationId");
        assert_eq!(found[0].actual, json!("eipalloc-1"));
    }
}
