//! The live-resource seam: what EC2, RDS, S3, SQS, KMS, Lambda, DynamoDB, SNS and API Gateway say exist, as plain
//! data snapshots.
//!
//! Every call takes the ids of one resource type and returns what is found, batched (EC2 describe calls take the
//! ids as a filter and are paginated; RDS DescribeDBInstances likewise) so that drift checks make one call per
//! resource type rather than one per resource. Ids that match nothing are simply absent from the answer: a
//! missing resource is data (drift), not an error. S3 and SQS have no batch reads; their adapters read bucket by
//! bucket and queue by queue, concurrently.
//!
//! Nothing here knows about templates or drift; [`crate::drift`] compares these snapshots with declarations.

use std::collections::BTreeMap;
use std::future::Future;

use super::error::AwsError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub cidr_block: Option<String>,
    pub state: Option<String>,
    /// DescribeVpcAttribute `enableDnsSupport`.
    pub dns_support: Option<bool>,
    /// DescribeVpcAttribute `enableDnsHostnames`.
    pub dns_hostnames: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: Option<String>,
    pub cidr_block: Option<String>,
    pub availability_zone: Option<String>,
    pub map_public_ip_on_launch: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: Option<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// IPv4 or IPv6 destination CIDR (or prefix list id).
    pub destination: String,
    /// Gateway, NAT gateway, instance, ... whichever the route points at.
    pub target: Option<String>,
    /// `active` or `blackhole`.
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGateway {
    pub id: String,
    /// VPC ids it is attached to (state `available`/`attached`).
    pub attached_vpcs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGateway {
    pub id: String,
    /// `pending`, `available`, `deleting`, `deleted`, `failed`.
    pub state: Option<String>,
    pub subnet_id: Option<String>,
    pub allocation_ids: Vec<String>,
    pub public_ips: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub public_ip: Option<String>,
    pub allocation_id: Option<String>,
    pub instance_id: Option<String>,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: Option<String>,
    pub ingress: Vec<SecurityGroupRule>,
    pub egress: Vec<SecurityGroupRule>,
}

/// One permission with one source: AWS groups sources under a protocol/port pair, strata compares them one by one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecurityGroupRule {
    /// As EC2 reports it: `tcp`, `udp`, `icmp`, `-1`, or a protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: RuleSource,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleSource {
    Ipv4(String),
    Ipv6(String),
    Group(String),
    PrefixList(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: Option<String>,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Metadata options `HttpTokens`: `required` is IMDSv2 only.
    pub http_tokens: Option<String>,
    pub public_ip: Option<String>,
    /// Detailed monitoring: `enabled`, `disabled`, `pending`, `disabling`.
    pub monitoring: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbInstance {
    pub identifier: String,
    pub status: Option<String>,
    pub class: Option<String>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub allocated_storage: Option<i32>,
    pub storage_type: Option<String>,
    pub storage_encrypted: Option<bool>,
    pub multi_az: Option<bool>,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_period: Option<i32>,
    pub deletion_protection: Option<bool>,
    /// Identifier (or ARN, across regions) of the instance this one replicates from.
    pub replica_source: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    pub port: Option<i32>,
    pub endpoint_address: Option<String>,
    /// Enhanced monitoring interval in seconds (0: off).
    pub monitoring_interval: Option<i32>,
    pub performance_insights_enabled: Option<bool>,
    pub performance_insights_kms_key_id: Option<String>,
    pub performance_insights_retention_period: Option<i32>,
    pub iam_database_authentication_enabled: Option<bool>,
    /// Log types exported to CloudWatch Logs.
    pub enabled_cloudwatch_logs_exports: Vec<String>,
}

/// A value read from a per-resource API that may be unreadable at this endpoint (an unexpected response, an
/// operation it does not implement, or no permission): the check is skipped and the report says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    Value(T),
    Unreadable {
        operation: &'static str,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// Default encryption rules; empty when none is configured.
    pub encryption: Observed<Vec<EncryptionRule>>,
    /// `Enabled`, `Suspended`, or `None` for a bucket that never had versioning.
    pub versioning: Observed<Option<String>>,
    /// All `false` when the bucket has no public-access-block configuration.
    pub public_access_block: Observed<PublicAccessBlock>,
    /// Server access logging: the destination bucket, `None` when logging is off.
    pub logging: Observed<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionRule {
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub url: String,
    /// Every attribute, as SQS spells them (`QueueArn`, `RedrivePolicy`, `VisibilityTimeout`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// A Lambda function's configuration as ListFunctions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub memory_size: Option<i32>,
    pub timeout: Option<i32>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// Names only: values may be secrets and are never read into a report.
    pub environment_variable_names: Vec<String>,
    pub log_group: Option<String>,
}

/// A Lambda event source mapping as GetEventSourceMapping reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceMapping {
    /// The mapping's UUID (CloudFormation's physical id of a mapping).
    pub uuid: String,
    /// The function's ARN (the mapping may have been declared with its name).
    pub function_arn: Option<String>,
    pub event_source_arn: Option<String>,
    pub batch_size: Option<i32>,
    pub maximum_batching_window_seconds: Option<i32>,
    /// `Creating`, `Enabling`, `Enabled`, `Disabling`, `Disabled`, `Updating` or `Deleting`.
    pub state: Option<String>,
    /// `ReportBatchItemFailures`, or none.
    pub function_response_types: Vec<String>,
}

/// An SNS topic: GetTopicAttributes plus ListSubscriptionsByTopic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub arn: String,
    /// The KMS key the topic is encrypted with, as it was given (`alias/aws/sns`, a key id or an
    /// ARN); `None` for an unencrypted topic.
    pub kms_master_key_id: Option<String>,
    /// Every subscription, confirmed or pending.
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscription {
    /// As SNS spells it: `sqs`, `lambda`, `https`, `email`, ...
    pub protocol: String,
    /// The queue's or function's ARN, the URL, the address.
    pub endpoint: String,
}

/// An API Gateway v2 stage is named only within its API: GetStage takes both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageId {
    pub api_id: String,
    pub stage_name: String,
}

/// An HTTP API stage as GetStage reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiStage {
    pub id: StageId,
    pub auto_deploy: Option<bool>,
    /// The log group receiving access logs; `None` when access logging is off.
    pub access_log_destination: Option<String>,
    pub access_log_format: Option<String>,
    /// The stage's default route settings (`None` when not set: the account's limits apply).
    pub throttling_burst_limit: Option<i32>,
    pub throttling_rate_limit: Option<f64>,
}

/// A DynamoDB table: DescribeTable plus DescribeContinuousBackups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: Option<String>,
    /// `ENABLED`, `ENABLING`, `DISABLED`, ... (`None` when the table reports no SSE description).
    pub sse_status: Option<String>,
    pub deletion_protection: Option<bool>,
    pub point_in_time_recovery: Observed<bool>,
}

/// A VPC flow log as DescribeFlowLogs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLog {
    pub id: String,
    /// The VPC, subnet or interface whose traffic it records.
    pub resource_id: Option<String>,
    /// `ACCEPT`, `REJECT` or `ALL`.
    pub traffic_type: Option<String>,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`.
    pub log_destination_type: Option<String>,
    pub log_group_name: Option<String>,
    pub log_destination: Option<String>,
}

/// A KMS key: DescribeKey and GetKeyRotationStatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, `Unavailable`, ... (DescribeKey,
    /// which the key policy may not grant the caller).
    pub state: Observed<Option<String>>,
    /// Automatic yearly rotation; KMS answers it only for keys it can rotate (symmetric, enabled).
    pub rotation_enabled: Observed<bool>,
}

/// Batched reads of live resources. Each returns what exists among `ids`; order is not significant.
pub trait LiveResources: Send + Sync {
    fn vpcs(&self, ids: &[String]) -> impl Future<Output = Result<Vec<Vpc>, AwsError>> + Send;

    fn subnets(&self, ids: &[String])
    -> impl Future<Output = Result<Vec<Subnet>, AwsError>> + Send;

    fn route_tables(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<RouteTable>, AwsError>> + Send;

    fn internet_gateways(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<InternetGateway>, AwsError>> + Send;

    /// Deleted NAT gateways stay visible for a while with state `deleted`.
    fn nat_gateways(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<NatGateway>, AwsError>> + Send;

    /// `ids` are public IPs or allocation ids (`eipalloc-...`), as CloudFormation names Elastic IPs.
    fn addresses(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Address>, AwsError>> + Send;

    fn security_groups(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<SecurityGroup>, AwsError>> + Send;

    fn instances(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Instance>, AwsError>> + Send;

    fn db_instances(
        &self,
        identifiers: &[String],
    ) -> impl Future<Output = Result<Vec<DbInstance>, AwsError>> + Send;

    fn buckets(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Bucket>, AwsError>> + Send;

    fn queues(&self, urls: &[String]) -> impl Future<Output = Result<Vec<Queue>, AwsError>> + Send;

    /// By function name (CloudFormation's physical id of a function).
    fn functions(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Function>, AwsError>> + Send;

    /// By mapping UUID (CloudFormation's physical id of a mapping).
    fn event_source_mappings(
        &self,
        uuids: &[String],
    ) -> impl Future<Output = Result<Vec<EventSourceMapping>, AwsError>> + Send;

    fn tables(&self, names: &[String])
    -> impl Future<Output = Result<Vec<Table>, AwsError>> + Send;

    /// By topic ARN (CloudFormation's physical id of a topic).
    fn topics(&self, arns: &[String]) -> impl Future<Output = Result<Vec<Topic>, AwsError>> + Send;

    /// API Gateway has no batch read of stages across APIs: one GetStage per stage.
    fn api_stages(
        &self,
        stages: &[StageId],
    ) -> impl Future<Output = Result<Vec<ApiStage>, AwsError>> + Send;

    fn flow_logs(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<FlowLog>, AwsError>> + Send;

    /// `ids` are key ids (`1234abcd-...`), as CloudFormation names keys.
    fn keys(&self, ids: &[String]) -> impl Future<Output = Result<Vec<Key>, AwsError>> + Send;
}
