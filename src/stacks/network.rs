//! VPC over three zones: public and private subnets, internet gateway, NAT, route tables and
//! the three security groups (app, database, bastion).

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cidr;
use crate::config::NatMode;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub};
use crate::model::{Resource, Template};
use crate::stacks::{StackContext, log_group, service_trust_policy};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkComponent {
    pub vpc_cidr: String,
    pub public_subnet_prefix: u8,
    pub private_subnet_prefix: u8,
    pub nat: NatMode,
    /// Port the database group admits from the app and bastion groups.
    pub database_port: u16,
    /// Sources allowed to SSH to the bastion; empty means no SSH ingress at all.
    #[serde(default)]
    pub bastion_ssh_cidrs: Vec<String>,
    /// VPC flow logs (all traffic) into a CloudWatch Logs group of the stack, kept this many days.
    #[serde(default = "default_flow_log_retention")]
    pub flow_log_retention_days: u32,
}

fn default_flow_log_retention() -> u32 {
    90
}

const FLOW_LOG: &str = "VpcFlowLog";
const FLOW_LOG_GROUP: &str = "VpcFlowLogGroup";
const FLOW_LOG_ROLE: &str = "VpcFlowLogRole";

pub const VPC: &str = "Vpc";
pub const APP_SG: &str = "AppSecurityGroup";
pub const DATABASE_SG: &str = "DatabaseSecurityGroup";
pub const BASTION_SG: &str = "BastionSecurityGroup";

/// Output names other stacks import.
pub fn public_subnet_output(zone: usize) -> String {
    format!("PublicSubnet{}Id", zone + 1)
}
pub fn private_subnet_output(zone: usize) -> String {
    format!("PrivateSubnet{}Id", zone + 1)
}
pub const APP_SG_OUTPUT: &str = "AppSecurityGroupId";
pub const DATABASE_SG_OUTPUT: &str = "DatabaseSecurityGroupId";
pub const BASTION_SG_OUTPUT: &str = "BastionSecurityGroupId";

fn public_subnet(zone: usize) -> String {
    format!("PublicSubnet{}", zone + 1)
}
fn private_subnet(zone: usize) -> String {
    format!("PrivateSubnet{}", zone + 1)
}
fn nat_gateway(zone: usize) -> String {
    format!("NatGateway{}", zone + 1)
}

pub fn build(
    component: &NetworkComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = "network";
    let vpc_cidr = cidr::parse_vpc_cidr(&component.vpc_cidr)
        .map_err(|err| vec![ctx.diagnostic("network.vpc_cidr", err.to_string())])?;
    let zones = ctx.zones().to_vec();
    let plan = cidr::plan_subnets(
        vpc_cidr,
        zones.len(),
        component.public_subnet_prefix,
        component.private_subnet_prefix,
    )
    .map_err(|err| vec![ctx.diagnostic(field, err.to_string())])?;
    let ssh_sources = ssh_sources(component, ctx)?;
    log_group::check_retention(component.flow_log_retention_days)
        .map_err(|m| vec![ctx.diagnostic("network.flow_log_retention_days", m)])?;
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);

    let mut add = |id: &str, resource: Resource| one(ctx.add(template, field, id, resource));
    add(
        VPC,
        Resource::new(
            "AWS::EC2::VPC",
            json!({
                "CidrBlock": vpc_cidr.to_string(),
                "EnableDnsHostnames": true,
                "EnableDnsSupport": true,
                "Tags": ctx.tags(Some("vpc")),
            }),
        ),
    )?;
    add(
        "InternetGateway",
        Resource::new(
            "AWS::EC2::InternetGateway",
            json!({
                "Tags": ctx.tags(Some("igw")),
            }),
        ),
    )?;
    add(
        "InternetGatewayAttachment",
        Resource::new(
            "AWS::EC2::VPCGatewayAttachment",
            json!({
                "InternetGatewayId": reference("InternetGateway"),
                "VpcId": reference(VPC),
            }),
        ),
    )?;
    add(
        "PublicRouteTable",
        Resource::new(
            "AWS::EC2::RouteTable",
            json!({
                "VpcId": reference(VPC),
                "Tags": ctx.tags(Some("public")),
            }),
        ),
    )?;
    add(
        "PublicDefaultRoute",
        Resource::new(
            "AWS::EC2::Route",
            json!({
                "RouteTableId": reference("PublicRouteTable"),
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": reference("InternetGateway"),
            }),
        )
        .depends_on("InternetGatewayAttachment"),
    )?;

    for (zone, az) in zones.iter().enumerate() {
        let n = zone + 1;
        add(
            &public_subnet(zone),
            Resource::new(
                "AWS::EC2::Subnet",
                json!({
                    "VpcId": reference(VPC),
                    "AvailabilityZone": az,
                    "CidrBlock": plan.public[zone].to_string(),
                    "MapPublicIpOnLaunch": true,
                    "Tags": ctx.tags(Some(&format!("public-{az}"))),
                }),
            ),
        )?;
        add(
            &format!("PublicSubnet{n}RouteTableAssociation"),
            Resource::new(
                "AWS::EC2::SubnetRouteTableAssociation",
                json!({
                    "RouteTableId": reference("PublicRouteTable"),
                    "SubnetId": reference(&public_subnet(zone)),
                }),
            ),
        )?;
        add(
            &private_subnet(zone),
            Resource::new(
                "AWS::EC2::Subnet",
                json!({
                    "VpcId": reference(VPC),
                    "AvailabilityZone": az,
                    "CidrBlock": plan.private[zone].to_string(),
                    "MapPublicIpOnLaunch": false,
                    "Tags": ctx.tags(Some(&format!("private-{az}"))),
                }),
            ),
        )?;
        add(
            &format!("PrivateRouteTable{n}"),
            Resource::new(
                "AWS::EC2::RouteTable",
                json!({
                    "VpcId": reference(VPC),
                    "Tags": ctx.tags(Some(&format!("private-{az}"))),
                }),
            ),
        )?;
        add(
            &format!("PrivateSubnet{n}RouteTableAssociation"),
            Resource::new(
                "AWS::EC2::SubnetRouteTableAssociation",
                json!({
                    "RouteTableId": reference(&format!("PrivateRouteTable{n}")),
                    "SubnetId": reference(&private_subnet(zone)),
                }),
            ),
        )?;
        let nat_zone = match component.nat {
            NatMode::Single => 0,
            NatMode::PerAz => zone,
        };
        add(
            &format!("PrivateDefaultRoute{n}"),
            Resource::new(
                "AWS::EC2::Route",
                json!({
                    "RouteTableId": reference(&format!("PrivateRouteTable{n}")),
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "NatGatewayId": reference(&nat_gateway(nat_zone)),
                }),
            ),
        )?;
    }

    let nat_zones = match component.nat {
        NatMode::Single => 1,
        NatMode::PerAz => zones.len(),
    };
    for (zone, az) in zones.iter().enumerate().take(nat_zones) {
        let eip = format!("{}Eip", nat_gateway(zone));
        add(
            &eip,
            Resource::new(
                "AWS::EC2::EIP",
                json!({
                    "Domain": "vpc",
                    "Tags": ctx.tags(Some(&format!("nat-{az}"))),
                }),
            )
            .depends_on("InternetGatewayAttachment"),
        )?;
        add(
            &nat_gateway(zone),
            Resource::new(
                "AWS::EC2::NatGateway",
                json!({
                    "AllocationId": get_att(&eip, "AllocationId"),
                    "SubnetId": reference(&public_subnet(zone)),
                    "Tags": ctx.tags(Some(&format!("nat-{az}"))),
                }),
            ),
        )?;
    }

    for (id, resource) in flow_log(component, ctx) {
        add(id, resource)?;
    }

    add(
        APP_SG,
        security_group(
            ctx,
            "app",
            "Application compute in the private subnets",
            vec![],
        ),
    )?;
    let database_ingress = [(APP_SG, "app"), (BASTION_SG, "bastion")]
        .iter()
        .map(|(group, label)| {
            json!({
                "IpProtocol": "tcp",
                "FromPort": component.database_port,
                "ToPort": component.database_port,
                "SourceSecurityGroupId": reference(group),
                "Description": format!("Database from the {label} group"),
            })
        })
        .collect();
    add(
        DATABASE_SG,
        security_group(
            ctx,
            "database",
            "Databases: reachable only from the app and bastion groups",
            database_ingress,
        ),
    )?;
    let bastion_ingress = ssh_sources
        .iter()
        .map(|source| {
            let (key, cidr) = match source {
                IpNet::V4(net) => ("CidrIp", net.to_string()),
                IpNet::V6(net) => ("CidrIpv6", net.to_string()),
            };
            json!({
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                key: cidr,
                "Description": "SSH from an allowed network",
            })
        })
        .collect();
    add(
        BASTION_SG,
        security_group(
            ctx,
            "bastion",
            "Bastion host: SSH only from the allowed networks",
            bastion_ingress,
        ),
    )?;

    outputs(ctx, template, zones.len()).map_err(|d| vec![d])
}

/// Flow logs of the whole VPC (every interface, accepted and rejected traffic) into a log group of
/// the stack with a retention, delivered by a role the flow logs service assumes (VPC User Guide,
/// Publish flow logs to CloudWatch Logs, IAM role: trust `vpc-flow-logs.amazonaws.com`, limited with
/// aws:SourceAccount and aws:SourceArn; permissions logs:CreateLogStream, logs:PutLogEvents,
/// logs:DescribeLogGroups, logs:DescribeLogStreams). AWS::EC2::FlowLog: "DeliverLogsPermissionArn
/// ... This parameter is required if the destination type is cloud-watch-logs".
fn flow_log(component: &NetworkComponent, ctx: &StackContext) -> Vec<(&'static str, Resource)> {
    let group = log_group::log_group(ctx, component.flow_log_retention_days, "flow-logs");
    let role = Resource::new(
        "AWS::IAM::Role",
        json!({
            "Description": format!("VPC flow log delivery of {}", ctx.prefix()),
            "AssumeRolePolicyDocument": service_trust_policy(
                "vpc-flow-logs.amazonaws.com",
                Some(json!({
                    "StringEquals": { "aws:SourceAccount": ctx.account_id() },
                    "ArnLike": { "aws:SourceArn": sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*") },
                })),
            ),
            "Policies": [{
                "PolicyName": "deliver-flow-logs",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    // The group's `Arn` attribute already ends in `:*` and so covers its streams
                    // ("arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*",
                    // AWS::Logs::LogGroup, Return values). DescribeLogGroups lists groups and is
                    // granted on "*", as in the VPC User Guide's example policy.
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            "Resource": get_att(FLOW_LOG_GROUP, "Arn"),
                        },
                        {
                            "Effect": "Allow",
                            "Action": "logs:DescribeLogGroups",
                            "Resource": "*",
                        },
                    ],
                },
            }],
            "Tags": ctx.tags(Some("flow-logs")),
        }),
    );
    let flow_log = Resource::new(
        "AWS::EC2::FlowLog",
        json!({
            "ResourceId": reference(VPC),
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": reference(FLOW_LOG_GROUP),
            "DeliverLogsPermissionArn": get_att(FLOW_LOG_ROLE, "Arn"),
            // 600 (10 minutes) is the default; 60 costs more ingestion for little gain here.
            "MaxAggregationInterval": 600,
            "Tags": ctx.tags(Some("vpc")),
        }),
    );
    vec![
        (FLOW_LOG_GROUP, group),
        (FLOW_LOG_ROLE, role),
        (FLOW_LOG, flow_log),
    ]
}

fn ssh_sources(
    component: &NetworkComponent,
    ctx: &StackContext,
) -> Result<Vec<IpNet>, Vec<Diagnostic>> {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (index, text) in component.bastion_ssh_cidrs.iter().enumerate() {
        match cidr::parse_source_cidr(text) {
            Ok(net) => sources.push(net),
            Err(err) => problems.push(ctx.diagnostic(
                &format!("network.bastion_ssh_cidrs[{index}]"),
                err.to_string(),
            )),
        }
    }
    sources.sort();
    sources.dedup();
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

/// A group with explicit allow-all egress: declaring AWS's default keeps drift checks exact.
fn security_group(
    ctx: &StackContext,
    role: &str,
    description: &str,
    ingress: Vec<Value>,
) -> Resource {
    let mut properties = json!({
        "GroupDescription": description,
        "VpcId": reference(VPC),
        "SecurityGroupEgress": [{
            "IpProtocol": "-1",
            "CidrIp": "0.0.0.0/0",
            "Description": "All outbound traffic",
        }],
        "Tags": ctx.tags(Some(role)),
    });
    if !ingress.is_empty() {
        properties["SecurityGroupIngress"] = Value::Array(ingress);
    }
    Resource::new("AWS::EC2::SecurityGroup", properties)
}

fn outputs(ctx: &StackContext, template: &mut Template, zones: usize) -> Result<(), Diagnostic> {
    let field = "network";
    let mut export = |name: &str, description: &str, value: Value| {
        ctx.add_output(
            template,
            field,
            name,
            ctx.exported(description, value, name),
        )
    };
    export("VpcId", "VPC id", reference(VPC))?;
    export("VpcCidr", "VPC CIDR block", get_att(VPC, "CidrBlock"))?;
    for zone in 0..zones {
        export(
            &public_subnet_output(zone),
            &format!("Public subnet of zone {}", zone + 1),
            reference(&public_subnet(zone)),
        )?;
        export(
            &private_subnet_output(zone),
            &format!("Private subnet of zone {}", zone + 1),
            reference(&private_subnet(zone)),
        )?;
    }
    export(
        APP_SG_OUTPUT,
        "Security group of application compute",
        get_att(APP_SG, "GroupId"),
    )?;
    export(
        DATABASE_SG_OUTPUT,
        "Security group of the databases",
        get_att(DATABASE_SG, "GroupId"),
    )?;
    export(
        BASTION_SG_OUTPUT,
        "Security group of the bastion host",
        get_att(BASTION_SG, "GroupId"),
    )?;
    Ok(())
}
