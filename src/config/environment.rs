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
    pub network: NetworkSettings,
    pub database: DatabaseSettings,
    pub bastion: BastionSettings,
    pub queues: QueueDefaults,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSettings {
    pub count: u32,
    pub instance_class: String,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDefaults {
    pub visibility_timeout_seconds: u32,
    pub message_retention_seconds: u32,
    pub max_receive_count: u32,
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
