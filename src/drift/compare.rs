//! The pure part of the live checks: from declared templates and the stacks' physical ids, which live objects
//! to read ([`query`]); from what was read, what drifted ([`compare`]).

use std::collections::BTreeMap;

use super::checks::{self, Ctx, SeparateRule, Verdict};
use super::live::{LiveKind, LiveQuery, LiveState};
use super::resolve::{AttributeSource, Resolver, partition};
use super::{ResourceDrift, ResourceStatus, Severity, Source, StackDrift};
use crate::aws::cloudformation::StackResource;
use crate::catalog::DriftReader;
use crate::model::Template;
use crate::project::RenderedStack;

/// A stack as CloudFormation has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedStack {
    pub status: String,
    pub resources: Vec<StackResource>,
    /// The stack's parameter values (resolved values for SSM-typed parameters).
    pub parameters: BTreeMap<String, String>,
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
    pub account_id: &'a str,
}

impl AttributeSource for LiveAttributes<'_> {
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let resource_type = self.template.resources.get(logical_id)?.resource_type;
        let physical = self.physical_ids.get(logical_id)?;
        let known = crate::catalog::lookup(resource_type)?;
        // The schema's primary identifier is what CloudFormation reports as the physical id.
        if known.primary_identifier == [attribute] {
            return Some(physical.clone());
        }
        // A log group's ARN is built from its name, the physical id (AWS::Logs::LogGroup, Fn::GetAtt
        // Arn: "arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*").
        if resource_type == "AWS::Logs::LogGroup" && attribute == "Arn" {
            let partition = crate::drift::resolve::partition(self.region);
            return Some(format!(
                "arn:{partition}:logs:{}:{}:log-group:{physical}:*",
                self.region, self.account_id
            ));
        }
        // A key's ARN is built from its id, the physical id (AWS::KMS::Key, Fn::GetAtt Arn:
        // "arn:aws:kms:us-west-2:123456789012:key/1234abcd-..."); no live read needed.
        if resource_type == "AWS::KMS::Key" && attribute == "Arn" {
            let partition = crate::drift::resolve::partition(self.region);
            return Some(format!(
                "arn:{partition}:kms:{}:{}:key/{physical}",
                self.region, self.account_id
            ));
        }
        let live = self.live;
        match (known.drift?, attribute) {
            // Ref gives the group id; the schema's identifier is `Id`, the same value.
            (DriftReader::SecurityGroup, "GroupId") => Some(physical.clone()),
            (DriftReader::SecurityGroup, "VpcId") => {
                live.security_groups.get(physical)?.vpc_id.clone()
            }
            (DriftReader::ElasticIp, "AllocationId") => {
                live.address(physical)?.allocation_id.clone()
            }
            (DriftReader::ElasticIp, "PublicIp") => live.address(physical)?.public_ip.clone(),
            (DriftReader::Vpc, "CidrBlock") => live.vpcs.get(physical)?.cidr_block.clone(),
            (DriftReader::Subnet, "AvailabilityZone") => {
                live.subnets.get(physical)?.availability_zone.clone()
            }
            (DriftReader::Instance, "PublicIp") => live.instances.get(physical)?.public_ip.clone(),
            (DriftReader::Queue, "Arn") => live
                .queues
                .get(physical)?
                .attributes
                .get("QueueArn")
                .cloned(),
            (DriftReader::Queue, "QueueName") => {
                let arn = live.queues.get(physical)?.attributes.get("QueueArn")?;
                arn.rsplit(':').next().map(str::to_owned)
            }
            (DriftReader::Bucket, "Arn") => {
                Some(format!("arn:{}:s3:::{physical}", partition(self.region)))
            }
            (DriftReader::DbInstance, "Endpoint.Address") => {
                live.db_instance(physical)?.endpoint_address.clone()
            }
            (DriftReader::DbInstance, "Endpoint.Port") => {
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
            account_id: &inputs.account_id,
        };
        let no_parameters = BTreeMap::new();
        let resolver = Resolver {
            stack_name: &stack.rendered.stack_name,
            region: &inputs.region,
            account_id: &inputs.account_id,
            physical_ids: &physical_ids,
            parameters: stack
                .deployed
                .as_ref()
                .map_or(&no_parameters, |d| &d.parameters),
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
            let physical = physical_ids.get(logical_id).map_or("", String::as_str);
            if let Some(stage) = checks::stage_id(resource, resolver, physical) {
                query.add_stage(stage);
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
        let Some(reader) = checks::checked_by(resource.resource_type) else {
            continue;
        };
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
        let verdict = checks::check(reader, &ctx);
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
            .unwrap_or(match status {
                ResourceStatus::Deleted => {
                    super::normalize::deleted_severity(ctx.resource.resource_type)
                }
                ResourceStatus::Modified => Severity::Normal,
            }),
        sources: vec![Source::Live],
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::aws::live::{RuleSource, SecurityGroup, SecurityGroupRule};
    use crate::model::Resource;

    fn rendered(name: &str, resources: Vec<(&str, Resource)>) -> RenderedStack {
        let mut template = Template::default();
        for (logical_id, resource) in resources {
            template.add(logical_id, resource).unwrap();
        }
        RenderedStack {
            name: name.into(),
            stack_name: format!("app-dev-{name}"),
            file: PathBuf::from(format!("stacks/{name}.yaml")),
            template,
            depends_on: Vec::new(),
            waivers: Vec::new(),
        }
    }

    fn deployed(resources: &[(&str, &str, &str)]) -> Option<DeployedStack> {
        Some(DeployedStack {
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::new(),
            resources: resources
                .iter()
                .map(|(logical_id, physical_id, resource_type)| StackResource {
                    logical_id: (*logical_id).into(),
                    physical_id: Some((*physical_id).into()),
                    resource_type: (*resource_type).into(),
                    status: "CREATE_COMPLETE".into(),
                    status_reason: None,
                })
                .collect(),
        })
    }

    fn inputs<'a>(stacks: Vec<StackInput<'a>>) -> Inputs<'a> {
        Inputs {
            region: "eu-west-1".into(),
            account_id: "111111111111".into(),
            exports: BTreeMap::from([("net-SgId".to_string(), "sg-1".to_string())]),
            stacks,
        }
    }

    fn group() -> Resource {
        Resource::new("AWS::EC2::SecurityGroup", json!({"GroupDescription": "x"}))
    }

    #[test]
    fn a_rule_another_stack_declares_is_not_an_extra_rule() {
        let network = rendered("network", vec![("Sg", group())]);
        let ingress = Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({"GroupId": {"Fn::ImportValue": "net-SgId"}, "IpProtocol": "tcp",
                   "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}),
        );
        let bastion = rendered("bastion", vec![("SshIn", ingress)]);
        let inputs = inputs(vec![
            StackInput {
                rendered: &network,
                deployed: deployed(&[("Sg", "sg-1", "AWS::EC2::SecurityGroup")]),
                checked: true,
            },
            StackInput {
                rendered: &bastion,
                deployed: deployed(&[("SshIn", "ssh-in", "AWS::EC2::SecurityGroupIngress")]),
                checked: false,
            },
        ]);
        let query = query(&inputs);
        assert_eq!(query.ids(LiveKind::SecurityGroup), ["sg-1"]);

        let rule = |source: &str, protocol: &str, port: Option<i32>| SecurityGroupRule {
            protocol: protocol.into(),
            from_port: port,
            to_port: port,
            source: RuleSource::Ipv4(source.into()),
        };
        let mut live = LiveState::default();
        live.security_groups.insert(
            "sg-1".into(),
            SecurityGroup {
                id: "sg-1".into(),
                vpc_id: None,
                ingress: vec![rule("10.0.0.0/8", "tcp", Some(22))],
                egress: vec![rule("0.0.0.0/0", "-1", None)],
            },
        );
        let (stacks, notes) = compare(&inputs, &live);
        assert_eq!(stacks.len(), 1, "only the checked stack is reported");
        assert_eq!(stacks[0].checked, 1);
        assert_eq!(stacks[0].resources, vec![]);
        assert_eq!(notes, Vec::<String>::new());
    }

    /// moto's CloudFormation skips every AWS::ApiGatewayV2 resource (tests/support/MOTO_NOTES.md,
    /// section 12), so the stage's check is shown here on the notes service's real template instead:
    /// the stage is read by the API's physical id and the stage's name, the access log group's ARN
    /// is resolved from its name, and a stage as rendered is in sync while changed throttling is not.
    #[test]
    fn the_notes_service_stage_is_read_by_its_apis_id_and_compared_as_rendered() {
        use crate::aws::live::{ApiStage, StageId};
        let project = crate::project::Project::open(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/notes-service"),
        )
        .unwrap();
        let environment = project.render("dev").unwrap();
        let service = environment
            .stacks
            .iter()
            .find(|s| s.name == "service")
            .unwrap();
        let declared = &service.template.resources["NotesApiStage"].properties;
        let logs = "/aws/vendedlogs/http-api/notes-dev-notes";
        let inputs = inputs(vec![StackInput {
            rendered: service,
            deployed: deployed(&[
                ("NotesApi", "a1b2c3d4e5", "AWS::ApiGatewayV2::Api"),
                ("NotesApiStage", "dev", "AWS::ApiGatewayV2::Stage"),
                ("NotesApiAccessLogs", logs, "AWS::Logs::LogGroup"),
            ]),
            checked: true,
        }]);
        let id = StageId {
            api_id: "a1b2c3d4e5".into(),
            stage_name: "dev".into(),
        };
        assert_eq!(query(&inputs).stages(), std::slice::from_ref(&id));

        let number = |key: &str| declared["DefaultRouteSettings"][key].as_f64().unwrap();
        let as_rendered = ApiStage {
            id: id.clone(),
            auto_deploy: Some(true),
            access_log_destination: Some(format!(
                "arn:aws:logs:eu-west-1:111111111111:log-group:{logs}"
            )),
            access_log_format: declared["AccessLogSettings"]["Format"]
                .as_str()
                .map(str::to_owned),
            throttling_burst_limit: Some(number("ThrottlingBurstLimit") as i32),
            throttling_rate_limit: Some(number("ThrottlingRateLimit")),
        };
        let mut live = LiveState::default();
        live.api_stages.insert(id.clone(), as_rendered.clone());
        let stage_drift = |live: &LiveState| {
            let (stacks, _) = compare(&inputs, live);
            stacks[0]
                .resources
                .iter()
                .filter(|r| r.logical_id == "NotesApiStage")
                .flat_map(|r| r.differences.iter().map(|d| d.path.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(stage_drift(&live), Vec::<String>::new());

        let mut throttled = as_rendered;
        throttled.throttling_rate_limit = Some(number("ThrottlingRateLimit") * 10.0);
        live.api_stages.insert(id, throttled);
        assert_eq!(
            stage_drift(&live),
            ["DefaultRouteSettings.ThrottlingRateLimit"]
        );
        live.api_stages.clear();
        let (stacks, _) = compare(&inputs, &live);
        let stage = stacks[0]
            .resources
            .iter()
            .find(|r| r.logical_id == "NotesApiStage")
            .unwrap();
        assert_eq!(stage.status, ResourceStatus::Deleted);
    }

    #[test]
    fn a_missing_stack_and_a_resource_missing_from_its_stack() {
        let network = rendered("network", vec![("Sg", group())]);
        let storage = rendered(
            "storage",
            vec![(
                "Queue",
                Resource::new("AWS::SQS::Queue", json!({"QueueName": "q"})),
            )],
        );
        let inputs = inputs(vec![
            StackInput {
                rendered: &network,
                deployed: deployed(&[]),
                checked: true,
            },
            StackInput {
                rendered: &storage,
                deployed: None,
                checked: true,
            },
        ]);
        assert!(query(&inputs).is_empty());
        let (stacks, notes) = compare(&inputs, &LiveState::default());
        assert_eq!(stacks[0].status.as_deref(), Some("CREATE_COMPLETE"));
        assert!(!stacks[0].has_drift());
        assert_eq!(stacks[1].status, None);
        assert!(stacks[1].has_drift());
        assert_eq!(
            notes,
            ["declared but not in the deployed stack (run `strata plan`): app-dev-network Sg"]
        );
    }
}
