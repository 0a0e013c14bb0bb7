//! The typed shape of an environment file after `extends` has been merged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything one environment (dev, staging, prod) says about the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSettings {
    /// Short lowercase project name; prefixes stack, export and bucket names.
    pub project: String,
    /// The 12-digit AWS account this environment lives in; plan and apply refuse any other.
    pub account_id: String,
    pub region: String,
    /// Exactly three zones of `region`, named explicitly so templates stay reviewable.
    pub availability_zones: Vec<String>,
    /// Stacks get CloudFormation termination protection (production): `destroy` refuses them and a
    /// stray DeleteStack fails.
    #[serde(default)]
    pub termination_protection: bool,
    /// Extra tags on every taggable resource and every stack.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    // Settings of the platform's components. Each is optional, so a project without a VPC or a
    // database (examples/notes-service) needs none of it; a stack definition that reads an absent
    // one fails rendering by name (handlebars strict mode: `network.vpc_cidr` not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bastion: Option<BastionSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<QueueDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<BucketDefaults>,
    /// Rule files of `policies/` (by file stem) this environment applies, and at what level.
    /// Files not listed are not applied.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyLevel>,
    /// Free-form values that only stack definitions read, so a new bucket setting needs no Rust change.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    pub vpc_cidr: String,
    pub nat: NatMode,
    pub public_subnet_prefix: u8,
    pub private_subnet_prefix: u8,
    /// Days CloudWatch Logs keeps the VPC's flow logs (all traffic).
    pub flow_log_retention_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatMode {
    /// One NAT gateway in the first zone; cheaper, but private subnets lose egress if that zone fails.
    Single,
    /// One NAT gateway per zone; each private route table uses its own zone's.
    PerAz,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: u32,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub port: u16,
    pub master_username: String,
    pub name: String,
    pub replicas: ReplicaSettings,
    /// Enhanced monitoring: seconds between OS metric samples (1, 5, 10, 15, 30 or 60), on the
    /// primary and every replica, through a monitoring role the stack creates. 0 turns it off.
    pub monitoring_interval_seconds: u32,
    /// Days Performance Insights keeps its data: 7 (free), a multiple of 31 up to 713, or 731.
    pub performance_insights_retention_days: u32,
    /// Connections may authenticate with IAM database tokens as well as passwords.
    pub iam_authentication: bool,
    /// The key that encrypts Performance Insights data.
    pub encryption_key: KeyChoice,
    /// Days CloudWatch Logs keeps the `postgresql` and `upgrade` logs every instance exports. Their
    /// groups are RDS's, not the stack's: `apply` sets the retention (src/log_retention.rs).
    pub log_retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSettings {
    pub count: u32,
    pub instance_class: String,
    /// Each replica is a Multi-AZ deployment with a standby of its own.
    pub multi_az: bool,
    /// RDS refuses to delete a replica while this is on.
    pub deletion_protection: bool,
}

/// Which KMS key encrypts a resource's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyChoice {
    /// The service's AWS managed key (`aws/rds`, `aws/s3`, ...) or its own managed encryption
    /// (SSE-S3, SSE-SQS): no key to pay for, but its policy cannot be read or narrowed.
    AwsManaged,
    /// A KMS key the stack creates and owns, rotated yearly, whose key policy says who may use it.
    CustomerManaged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BastionSettings {
    pub instance_type: String,
    /// `amazon-linux-2023` (the latest, for the instance type's architecture), a pinned AMI id of
    /// the region (`ami-...`) or an SSM parameter path (`/...`).
    pub image: String,
    /// CIDRs allowed to reach the bastion on port 22; empty means no SSH ingress (SSM only).
    #[serde(default)]
    pub allowed_cidrs: Vec<String>,
    /// CloudWatch metrics every minute instead of every five.
    pub detailed_monitoring: bool,
    /// EC2 refuses to terminate the instance through the API until this is turned off.
    pub termination_protection: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDefaults {
    pub visibility_timeout_seconds: u32,
    pub message_retention_seconds: u32,
    pub max_receive_count: u32,
    /// SSE-SQS, or a KMS key of the stack per queue (shared with its dead-letter queue).
    pub encryption_key: KeyChoice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketDefaults {
    /// SSE-S3, or SSE-KMS with a KMS key of the stack shared by its buckets.
    pub encryption_key: KeyChoice,
    /// Days the stack's access log bucket keeps server access logs.
    pub access_log_retention_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLevel {
    /// A failing rule blocks render, plan and apply (exit code 3).
    Error,
    /// A failing rule is reported but does not block.
    Warn,
    /// The rule file is not applied (lets an environment switch off what its base enables).
    Off,
}
