//! What to read from AWS (ids by resource type, gathered across all checked stacks) and what was read: one
//! batched call per resource type, all types at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::AwsError;
use crate::aws::live::{
    Address, ApiStage, Bucket, DbInstance, EventSourceMapping, FlowLog, Function, Instance,
    InternetGateway, Key, LiveResources, NatGateway, Queue, RouteTable, SecurityGroup, StageId,
    Subnet, Table, Topic, Vpc,
};
use crate::catalog::DriftReader;

/// The kinds of live object strata reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LiveKind {
    Vpc,
    Subnet,
    RouteTable,
    InternetGateway,
    NatGateway,
    Address,
    SecurityGroup,
    Instance,
    DbInstance,
    Bucket,
    Queue,
    Function,
    EventSourceMapping,
    Table,
    Topic,
    FlowLog,
    Key,
}

impl LiveKind {
    /// The live object a drift reader compares a resource with, when it reads one by the resource's
    /// own physical id (routes, attachments and separate rules are checked through other objects).
    pub fn of_reader(reader: DriftReader) -> Option<LiveKind> {
        Some(match reader {
            DriftReader::Vpc => LiveKind::Vpc,
            DriftReader::Subnet => LiveKind::Subnet,
            DriftReader::RouteTable => LiveKind::RouteTable,
            DriftReader::InternetGateway => LiveKind::InternetGateway,
            DriftReader::NatGateway => LiveKind::NatGateway,
            DriftReader::ElasticIp => LiveKind::Address,
            DriftReader::SecurityGroup => LiveKind::SecurityGroup,
            DriftReader::Instance => LiveKind::Instance,
            DriftReader::DbInstance => LiveKind::DbInstance,
            DriftReader::Bucket => LiveKind::Bucket,
            DriftReader::Queue => LiveKind::Queue,
            DriftReader::Function => LiveKind::Function,
            DriftReader::EventSourceMapping => LiveKind::EventSourceMapping,
            DriftReader::Table => LiveKind::Table,
            DriftReader::Topic => LiveKind::Topic,
            DriftReader::FlowLog => LiveKind::FlowLog,
            DriftReader::KmsKey => LiveKind::Key,
            // A stage is named by two ids ([`LiveQuery::add_stage`]).
            DriftReader::Route
            | DriftReader::GatewayAttachment
            | DriftReader::EipAssociation
            | DriftReader::SecurityGroupRule
            | DriftReader::ApiStage => return None,
        })
    }

    /// The live object a CloudFormation resource type's physical id names, if strata checks that
    /// type (the catalog says which reader does).
    pub fn of_resource_type(resource_type: &str) -> Option<LiveKind> {
        crate::catalog::lookup(resource_type)?
            .drift
            .and_then(LiveKind::of_reader)
    }
}

/// Ids to read, per kind; sets, so a resource referenced from several places is read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveQuery {
    ids: BTreeMap<LiveKind, BTreeSet<String>>,
    stages: BTreeSet<StageId>,
}

impl LiveQuery {
    pub fn add(&mut self, kind: LiveKind, id: impl Into<String>) {
        let id = id.into();
        if !id.is_empty() {
            self.ids.entry(kind).or_default().insert(id);
        }
    }

    pub fn ids(&self, kind: LiveKind) -> Vec<String> {
        self.ids
            .get(&kind)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn add_stage(&mut self, stage: StageId) {
        self.stages.insert(stage);
    }

    pub fn stages(&self) -> Vec<StageId> {
        self.stages.iter().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.values().all(BTreeSet::is_empty) && self.stages.is_empty()
    }
}

/// Everything read, keyed by id. An id asked for and absent here does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    pub vpcs: BTreeMap<String, Vpc>,
    pub subnets: BTreeMap<String, Subnet>,
    pub route_tables: BTreeMap<String, RouteTable>,
    pub internet_gateways: BTreeMap<String, InternetGateway>,
    pub nat_gateways: BTreeMap<String, NatGateway>,
    pub addresses: Vec<Address>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub instances: BTreeMap<String, Instance>,
    /// Keyed by lower-case identifier (RDS identifiers are case-insensitive).
    pub db_instances: BTreeMap<String, DbInstance>,
    pub buckets: BTreeMap<String, Bucket>,
    pub queues: BTreeMap<String, Queue>,
    /// By function name.
    pub functions: BTreeMap<String, Function>,
    /// By mapping UUID.
    pub event_source_mappings: BTreeMap<String, EventSourceMapping>,
    /// By table name.
    pub tables: BTreeMap<String, Table>,
    /// By topic ARN.
    pub topics: BTreeMap<String, Topic>,
    pub api_stages: BTreeMap<StageId, ApiStage>,
    pub flow_logs: BTreeMap<String, FlowLog>,
    pub keys: BTreeMap<String, Key>,
}

impl LiveState {
    /// An Elastic IP by public IP or allocation id (CloudFormation uses either as its physical id).
    pub fn address(&self, id: &str) -> Option<&Address> {
        self.addresses
            .iter()
            .find(|a| a.public_ip.as_deref() == Some(id) || a.allocation_id.as_deref() == Some(id))
    }

    pub fn db_instance(&self, identifier: &str) -> Option<&DbInstance> {
        self.db_instances.get(&identifier.to_ascii_lowercase())
    }
}

fn keyed<K: Ord, T>(items: Vec<T>, key: impl Fn(&T) -> K) -> BTreeMap<K, T> {
    items.into_iter().map(|item| (key(&item), item)).collect()
}

/// Reads everything `query` names: every resource type concurrently, one batched call (set) per type.
pub async fn read<L: LiveResources>(live: &L, query: &LiveQuery) -> Result<LiveState, AwsError> {
    let ids = |kind| query.ids(kind);
    let stages = query.stages();
    let (vpc_ids, subnet_ids, table_ids, gateway_ids, nat_ids, address_ids) = (
        ids(LiveKind::Vpc),
        ids(LiveKind::Subnet),
        ids(LiveKind::RouteTable),
        ids(LiveKind::InternetGateway),
        ids(LiveKind::NatGateway),
        ids(LiveKind::Address),
    );
    let (
        group_ids,
        instance_ids,
        db_ids,
        bucket_names,
        queue_urls,
        function_names,
        mapping_uuids,
        table_names,
        topic_arns,
        flow_log_ids,
        key_ids,
    ) = (
        ids(LiveKind::SecurityGroup),
        ids(LiveKind::Instance),
        ids(LiveKind::DbInstance),
        ids(LiveKind::Bucket),
        ids(LiveKind::Queue),
        ids(LiveKind::Function),
        ids(LiveKind::EventSourceMapping),
        ids(LiveKind::Table),
        ids(LiveKind::Topic),
        ids(LiveKind::FlowLog),
        ids(LiveKind::Key),
    );
    let (
        vpcs,
        subnets,
        route_tables,
        internet_gateways,
        nat_gateways,
        addresses,
        security_groups,
        instances,
        db_instances,
        buckets,
        queues,
        functions,
        event_source_mappings,
        tables,
        topics,
        api_stages,
        flow_logs,
        keys,
    ) = tokio::try_join!(
        skip_empty(&vpc_ids, |ids| live.vpcs(ids)),
        skip_empty(&subnet_ids, |ids| live.subnets(ids)),
        skip_empty(&table_ids, |ids| live.route_tables(ids)),
        skip_empty(&gateway_ids, |ids| live.internet_gateways(ids)),
        skip_empty(&nat_ids, |ids| live.nat_gateways(ids)),
        skip_empty(&address_ids, |ids| live.addresses(ids)),
        skip_empty(&group_ids, |ids| live.security_groups(ids)),
        skip_empty(&instance_ids, |ids| live.instances(ids)),
        skip_empty(&db_ids, |ids| live.db_instances(ids)),
        skip_empty(&bucket_names, |ids| live.buckets(ids)),
        skip_empty(&queue_urls, |ids| live.queues(ids)),
        skip_empty(&function_names, |ids| live.functions(ids)),
        skip_empty(&mapping_uuids, |ids| live.event_source_mappings(ids)),
        skip_empty(&table_names, |ids| live.tables(ids)),
        skip_empty(&topic_arns, |ids| live.topics(ids)),
        skip_empty(&stages, |ids| live.api_stages(ids)),
        skip_empty(&flow_log_ids, |ids| live.flow_logs(ids)),
        skip_empty(&key_ids, |ids| live.keys(ids)),
    )?;
    Ok(LiveState {
        vpcs: keyed(vpcs, |v| v.id.clone()),
        subnets: keyed(subnets, |s| s.id.clone()),
        route_tables: keyed(route_tables, |t| t.id.clone()),
        internet_gateways: keyed(internet_gateways, |g| g.id.clone()),
        nat_gateways: keyed(nat_gateways, |n| n.id.clone()),
        addresses,
        security_groups: keyed(security_groups, |g| g.id.clone()),
        instances: keyed(instances, |i| i.id.clone()),
        db_instances: keyed(db_instances, |d| d.identifier.to_ascii_lowercase()),
        buckets: keyed(buckets, |b| b.name.clone()),
        queues: keyed(queues, |q| q.url.clone()),
        functions: keyed(functions, |f| f.name.clone()),
        event_source_mappings: keyed(event_source_mappings, |m| m.uuid.clone()),
        tables: keyed(tables, |t| t.name.clone()),
        topics: keyed(topics, |t| t.arn.clone()),
        api_stages: keyed(api_stages, |s| s.id.clone()),
        flow_logs: keyed(flow_logs, |f| f.id.clone()),
        keys: keyed(keys, |k| k.id.clone()),
    })
}

/// No call at all for a type with no ids (an empty filter would match everything).
async fn skip_empty<'a, I, T, F, Fut>(ids: &'a [I], call: F) -> Result<Vec<T>, AwsError>
where
    F: FnOnce(&'a [I]) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, AwsError>>,
{
    if ids.is_empty() {
        Ok(Vec::new())
    } else {
        call(ids).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::live::{ApiStage, StageId};

    /// Answers only stages (the one reader moto cannot show: its CloudFormation skips every
    /// AWS::ApiGatewayV2 resource), the stages it holds among those asked for, and records the asks.
    #[derive(Default)]
    struct Stages {
        held: Vec<ApiStage>,
        asked: Mutex<Vec<Vec<StageId>>>,
    }

    macro_rules! nothing {
        ($($method:ident -> $item:ty),* $(,)?) => {
            $(async fn $method(&self, _: &[String]) -> Result<Vec<$item>, AwsError> {
                Ok(Vec::new())
            })*
        };
    }

    impl LiveResources for Stages {
        nothing!(
            vpcs -> Vpc, subnets -> Subnet, route_tables -> RouteTable,
            internet_gateways -> InternetGateway, nat_gateways -> NatGateway,
            addresses -> Address, security_groups -> SecurityGroup, instances -> Instance,
            db_instances -> DbInstance, buckets -> Bucket, queues -> Queue,
            functions -> Function, event_source_mappings -> EventSourceMapping,
            tables -> Table, topics -> Topic, flow_logs -> FlowLog, keys -> Key,
        );

        async fn api_stages(&self, stages: &[StageId]) -> Result<Vec<ApiStage>, AwsError> {
            self.asked.lock().unwrap().push(stages.to_vec());
            Ok(self
                .held
                .iter()
                .filter(|s| stages.contains(&s.id))
                .cloned()
                .collect())
        }
    }

    fn stage(api_id: &str, stage_name: &str) -> StageId {
        StageId {
            api_id: api_id.into(),
            stage_name: stage_name.into(),
        }
    }

    #[test]
    fn stages_are_read_in_one_call_by_api_and_name_and_keyed_so() {
        let held = ApiStage {
            id: stage("api1", "dev"),
            auto_deploy: Some(true),
            access_log_destination: None,
            access_log_format: None,
            throttling_burst_limit: Some(20),
            throttling_rate_limit: Some(10.0),
        };
        let live = Stages {
            held: vec![held.clone()],
            ..Stages::default()
        };
        let mut query = LiveQuery::default();
        query.add_stage(stage("api1", "dev"));
        query.add_stage(stage("api2", "dev"));
        query.add_stage(stage("api1", "dev"));
        assert!(!query.is_empty());
        let state = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(read(&live, &query))
            .unwrap();
        assert_eq!(
            *live.asked.lock().unwrap(),
            [vec![stage("api1", "dev"), stage("api2", "dev")]]
        );
        assert_eq!(
            state.api_stages,
            BTreeMap::from([(stage("api1", "dev"), held)])
        );

        // Nothing asked, nothing read.
        let idle = Stages::default();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(read(&idle, &LiveQuery::default()))
            .unwrap();
        assert!(idle.asked.lock().unwrap().is_empty());
    }
}
