//! The pure part of the live checks: from declared templates and the stacks' physical ids, which live objects
//! to read ([`query`]); from what was read, what drifted ([`compare`]).

use std::collections::BTreeMap;

use super::checks::{self, Ctx, SeparateRule, Verdict};
use super::live::{LiveKind, LiveQuery, LiveState};
use super::resolve::{AttributeSource, Resolver, partition};
use super::{ResourceDrift, ResourceStatus, Severity, StackDrift};
use crate::aws::cloudformation::StackResource;
use crate::model::Template;
use crate::project::RenderedStack;

/// A stack as CloudFormation has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedStack {
    pub status: String,
    pub resources: Vec<StackResource>,
}

pub struct StackInput<'a> {
    pub rendered: &'a RenderedStack,
    /// `None` when the stack does not exist (or is only a change-set shell).
    pub deployed: Option<DeployedStack>,
    /// Whether this stack is reported on (all stacks are read, for rules other stacks declare).
    pub checked: bool,
}

pub struct Inputs<'a> {
    pub region: String,
    pub account_id: String,
    /// Export name -> value.
    pub exports: BTreeMap<String, String>,
    pub stacks: Vec<StackInput<'a>>,
}

impl StackInput<'_> {
    fn physical_ids(&self) -> BTreeMap<String, String> {
        self.deployed
            .iter()
            .flat_map(|d| &d.resources)
            .filter_map(|r| Some((r.logical_id.clone(), r.physical_id.clone()?)))
            .collect()
    }
}

/// `Fn::GetAtt` answered from live snapshots (and, for attributes that are the physical id, from that alone).
pub struct LiveAttributes<'a> {
    pub template: &'a Template,
    pub physical_ids: &'a BTreeMap<String, String>,
    pub live: &'a LiveState,
    pub region: &'a str,
}

impl AttributeSource for LiveAttributes<'_> {
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let resource_type = self.template.resources.get(logical_id)?.resource_type;
        let physical = self.physical_ids.get(logical_id)?;
        let live = self.live;
        match (resource_type, attribute) {
            ("AWS::EC2::SecurityGroup", "GroupId")
            | ("AWS::EC2::Subnet", "SubnetId")
            | ("AWS::EC2::VPC", "VpcId")
            | ("AWS::SQS::Queue", "QueueUrl") => Some(physical.clone()),
            ("AWS::EC2::SecurityGroup", "VpcId") => {
                live.security_groups.get(physical)?.vpc_id.clone()
            }
            ("AWS::EC2::EIP", "AllocationId") => live.address(physical)?.allocation_id.clone(),
            ("AWS::EC2::EIP", "PublicIp") => live.address(physical)?.public_ip.clone(),
            ("AWS::EC2::VPC", "CidrBlock") => live.vpcs.get(physical)?.cidr_block.clone(),
            ("AWS::EC2::Subnet", "AvailabilityZone") => {
                live.subnets.get(physical)?.availability_zone.clone()
            }
            ("AWS::EC2::Instance", "PublicIp") => live.instances.get(physical)?.public_ip.clone(),
            ("AWS::SQS::Queue", "Arn") => live
                .queues
                .get(physical)?
                .attributes
                .get("QueueArn")
                .cloned(),
            ("AWS::SQS::Queue", "QueueName") => {
                let arn = live.queues.get(physical)?.attributes.get("QueueArn")?;
                arn.rsplit(':').next().map(str::to_owned)
            }
            ("AWS::S3::Bucket", "Arn") => {
                Some(format!("arn:{}:s3:::{physical}", partition(self.region)))
            }
            ("AWS::RDS::DBInstance", "Endpoint.Address") => {
                live.db_instance(physical)?.endpoint_address.clone()
            }
            ("AWS::RDS::DBInstance", "Endpoint.Port") => {
                live.db_instance(physical)?.port.map(|p| p.to_string())
            }
            _ => None,
        }
    }
}

/// Calls `each` with a resolver for every stack that has deployed resources.
fn with_resolvers<'a>(
    inputs: &'a Inputs<'a>,
    live: &'a LiveState,
    mut each: impl FnMut(&'a StackInput<'a>, &Resolver<'_>),
) {
    for stack in &inputs.stacks {
        if stack.deployed.is_none() {
            continue;
        }
        let physical_ids = stack.physical_ids();
        let attributes = LiveAttributes {
            template: &stack.rendered.template,
            physical_ids: &physical_ids,
            live,
            region: &inputs.region,
        };
        let resolver = Resolver {
            stack_name: &stack.rendered.stack_name,
            region: &inputs.region,
            account_id: &inputs.account_id,
            physical_ids: &physical_ids,
            exports: &inputs.exports,
            attributes: &attributes,
        };
        each(stack, &resolver);
    }
}

/// The live objects the checked stacks' declared resources name, by kind.
pub fn query(inputs: &Inputs) -> LiveQuery {
    let mut query = LiveQuery::default();
    let nothing_read = LiveState::default();
    with_resolvers(inputs, &nothing_read, |stack, resolver| {
        if !stack.checked {
            return;
        }
        let physical_ids = stack.physical_ids();
        for (logical_id, resource) in &stack.rendered.template.resources {
            if let (Some(kind), Some(physical)) = (
                LiveKind::of_resource_type(resource.resource_type),
                physical_ids.get(logical_id),
            ) {
                query.add(kind, physical.clone());
            }
            for (kind, id) in checks::references(resource, resolver) {
                query.add(kind, id);
            }
        }
    });
    query
}

/// Drift of every checked stack, and notes on what could not be checked.
pub fn compare(inputs: &Inputs, live: &LiveState) -> (Vec<StackDrift>, Vec<String>) {
    let separate_rules = separate_rules(inputs, live);
    let mut drifts: BTreeMap<String, StackDrift> = BTreeMap::new();
    let mut notes = Notes::default();
    with_resolvers(inputs, live, |stack, resolver| {
        if stack.checked {
            let drift = compare_stack(stack, resolver, live, &separate_rules, &mut notes);
            drifts.insert(stack.rendered.stack_name.clone(), drift);
        }
    });
    let stacks = inputs
        .stacks
        .iter()
        .filter(|s| s.checked)
        .map(|s| {
            drifts
                .remove(&s.rendered.stack_name)
                .unwrap_or_else(|| StackDrift {
                    stack: s.rendered.name.clone(),
                    stack_name: s.rendered.stack_name.clone(),
                    status: None,
                    checked: 0,
                    resources: Vec::new(),
                })
        })
        .collect();
    (stacks, notes.into_lines())
}

/// Security group rules declared as resources of their own, from every stack of the environment.
fn separate_rules(inputs: &Inputs, live: &LiveState) -> Vec<SeparateRule> {
    let mut rules = Vec::new();
    with_resolvers(inputs, live, |stack, resolver| {
        for (logical_id, resource) in &stack.rendered.template.resources {
            rules.extend(checks::separate_rule(logical_id, resource, resolver));
        }
    });
    rules
}

fn compare_stack(
    stack: &StackInput,
    resolver: &Resolver,
    live: &LiveState,
    separate_rules: &[SeparateRule],
    notes: &mut Notes,
) -> StackDrift {
    let deployed = stack.deployed.as_ref();
    let in_stack: BTreeMap<&str, &StackResource> = deployed
        .iter()
        .flat_map(|d| &d.resources)
        .map(|r| (r.logical_id.as_str(), r))
        .collect();
    let mut checked = 0;
    let mut resources = Vec::new();
    let template = &stack.rendered.template;
    for (logical_id, resource) in &template.resources {
        if !checks::is_checked(resource.resource_type) {
            continue;
        }
        let Some(deployed) = in_stack.get(logical_id.as_str()) else {
            notes.add(
                "declared but not in the deployed stack (run `strata plan`)",
                format!("{} {logical_id}", stack.rendered.stack_name),
            );
            continue;
        };
        let ctx = Ctx {
            logical_id,
            physical_id: deployed.physical_id.as_deref().unwrap_or_default(),
            resource,
            template,
            resolver,
            live,
            separate_rules,
        };
        let verdict = checks::check(&ctx);
        checked += 1;
        if let Some(drift) = resource_drift(&ctx, deployed, verdict, notes) {
            resources.push(drift);
        }
    }
    StackDrift {
        stack: stack.rendered.name.clone(),
        stack_name: stack.rendered.stack_name.clone(),
        status: deployed.map(|d| d.status.clone()),
        checked,
        resources,
    }
}

fn resource_drift(
    ctx: &Ctx,
    deployed: &StackResource,
    verdict: Verdict,
    notes: &mut Notes,
) -> Option<ResourceDrift> {
    let (status, differences) = match verdict {
        Verdict::Deleted => (ResourceStatus::Deleted, Vec::new()),
        Verdict::Checked {
            differences,
            unchecked,
        } => {
            for item in unchecked {
                notes.add(
                    &format!("{} not checked ({})", item.property, item.reason),
                    ctx.logical_id.to_owned(),
                );
            }
            if differences.is_empty() {
                return None;
            }
            (ResourceStatus::Modified, differences)
        }
    };
    Some(ResourceDrift {
        logical_id: ctx.logical_id.to_owned(),
        physical_id: deployed.physical_id.clone(),
        resource_type: deployed.resource_type.clone(),
        status,
        severity: differences
            .iter()
            .map(|d| d.severity)
            .max()
            .unwrap_or(Severity::Normal),
        differences,
    })
}

/// Notes grouped by what was not checked, so each reason is said once with everything it applies to.
#[derive(Default)]
struct Notes {
    by_topic: BTreeMap<String, Vec<String>>,
}

impl Notes {
    fn add(&mut self, topic: &str, subject: String) {
        self.by_topic
            .entry(topic.to_owned())
            .or_default()
            .push(subject);
    }

    fn into_lines(self) -> Vec<String> {
        self.by_topic
            .into_iter()
            .map(|(topic, subjects)| format!("{topic}: {}", subjects.join(", ")))
            .collect()
    }
}
