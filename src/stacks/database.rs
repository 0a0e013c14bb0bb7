//! PostgreSQL primary, its read replicas and their subnet group, and the Secrets Manager secret that
//! generates and keeps the master password.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::KeyChoice;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, join, reference, sub};
use crate::model::{Lifecycle, Output, Resource, Template};
use crate::stacks::{StackContext, kms, network, service_trust_policy};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseComponent {
    /// The stack whose network component provides subnets and security groups.
    pub network_stack: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: u32,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub port: u16,
    pub master_username: String,
    pub database_name: String,
    pub replicas: Replicas,
    /// Enhanced monitoring interval on every instance; 0 turns it off.
    pub monitoring_interval_seconds: u32,
    pub performance_insights_retention_days: u32,
    pub iam_authentication: bool,
    /// The key of the Performance Insights data.
    pub encryption_key: KeyChoice,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    pub count: u32,
    pub instance_class: String,
    pub multi_az: bool,
    pub deletion_protection: bool,
}

pub const PRIMARY: &str = "DatabasePrimary";
pub const SUBNET_GROUP: &str = "DatabaseSubnetGroup";
pub const MASTER_SECRET: &str = "DatabaseMasterSecret";
const MASTER_SECRET_ATTACHMENT: &str = "DatabaseMasterSecretAttachment";
pub const MASTER_SECRET_OUTPUT: &str = "MasterUserSecretArn";
const MONITORING_ROLE: &str = "DatabaseMonitoringRole";
const KEY: &str = "DatabaseKey";

/// The logs RDS for PostgreSQL can export: "RDS for PostgreSQL - postgresql | upgrade" (RDS API
/// reference, CloudwatchLogsExportConfiguration). `iam-db-auth-error` exists for newer versions
/// only and is left out.
pub const LOG_EXPORTS: [&str; 2] = ["postgresql", "upgrade"];

/// Enhanced monitoring intervals: "Valid Values: 0 | 1 | 5 | 10 | 15 | 30 | 60" (RDS API
/// reference, CreateDBInstance and CreateDBInstanceReadReplica, MonitoringInterval).
pub const MONITORING_INTERVALS: [u32; 7] = [0, 1, 5, 10, 15, 30, 60];

pub fn check_monitoring_interval(seconds: u32) -> Result<(), String> {
    if MONITORING_INTERVALS.contains(&seconds) {
        Ok(())
    } else {
        Err(format!(
            "is {seconds}, RDS samples enhanced monitoring every 1, 5, 10, 15, 30 or 60 seconds (0 turns it off)"
        ))
    }
}

/// Performance Insights retention: "7; month * 31, where month is a number of months from 1-23;
/// 731" (RDS API reference, CreateDBInstance, PerformanceInsightsRetentionPeriod: "If you specify
/// a retention period that isn't valid, such as 94, Amazon RDS issues an error").
pub fn check_performance_insights_retention(days: u32) -> Result<(), String> {
    let months = days / 31;
    if days == 7 || days == 731 || (days.is_multiple_of(31) && (1..=23).contains(&months)) {
        Ok(())
    } else {
        Err(format!(
            "is {days}, Performance Insights keeps 7 days (free), a number of months times 31 (31 to 713) or 731 days"
        ))
    }
}

/// Characters the generated master password leaves out. RDS refuses three (AWS::RDS::DBInstance,
/// MasterUserPassword: "can include any printable ASCII character except "/", """, or "@"") and
/// Secrets Manager adds a space only with `IncludeSpace`, excluded here too. The others would need
/// escaping wherever the password travels: `'` and `` ` `` and `\` in shells and SQL, `:`, `?`, `#`,
/// `%` and `&` in `postgresql://user:password@host/db?...` connection URIs.
const PASSWORD_EXCLUDED_CHARACTERS: &str = "/@\" '`\\:?#%&";
/// PostgreSQL master passwords may have 8 to 128 characters (AWS::RDS::DBInstance,
/// MasterUserPassword); 32 of the ~80 remaining characters give ample entropy.
const PASSWORD_LENGTH: u32 = 32;

pub const WRITER_ENDPOINT_OUTPUT: &str = "WriterEndpoint";
pub const READER_ENDPOINTS_OUTPUT: &str = "ReaderEndpoints";
pub const PORT_OUTPUT: &str = "Port";

/// Checks an engine version as an environment gives it: the major version alone (`"17"`) or a
/// pinned minor (`"17.6"`).
///
/// RDS accepts a major version alone (RDS User Guide, Supported PostgreSQL versions: "If a major
/// version is specified but a minor version is not, Amazon RDS defaults to a recent release of the
/// major version you have specified"; ModifyDBInstance, EngineVersion: "If you specify only a major
/// version, Amazon RDS updates the DB instance to the default minor version if the current minor
/// version is lower"), and retires minor versions over time, after which a pinned minor is refused
/// for new instances.
pub fn check_engine_version(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    if (1..=2).contains(&parts.len()) && parts.iter().all(numeric) {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a PostgreSQL engine version: give the major version alone (\"17\": RDS \
             applies minor upgrades) or pin a minor version (\"17.6\": you upgrade by editing it)"
        ))
    }
}

/// Whether RDS applies minor version upgrades itself (`AutoMinorVersionUpgrade`): yes for a major
/// version alone, which then stays true as the minor moves; no for a pinned minor, which
/// automatic upgrades would otherwise turn into drift.
pub fn follows_minor_releases(engine_version: &str) -> bool {
    !engine_version.contains('.')
}

const REPLICA_PREFIX: &str = "DatabaseReplica";

pub fn replica(index: u32) -> String {
    format!("{REPLICA_PREFIX}{}", index + 1)
}

/// Whether `logical_id` is one of [`replica`]'s.
pub fn is_replica(logical_id: &str) -> bool {
    logical_id
        .strip_prefix(REPLICA_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

pub fn build(
    component: &DatabaseComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    check(component, ctx)?;
    let field = "database";
    let net = &component.network_stack;
    let link = |output: &str, template: &Template| {
        ctx.link(template, net, output, "database.network_stack")
    };
    let subnets: Vec<Value> = (0..ctx.zones().len())
        .map(|zone| link(&network::private_subnet_output(zone), template))
        .collect::<Result<_, _>>()
        .map_err(|d| vec![d])?;
    let security_groups = vec![link(network::DATABASE_SG_OUTPUT, template).map_err(|d| vec![d])?];
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);
    let auto_minor_upgrade = follows_minor_releases(&component.engine_version);

    one(ctx.add(
        template,
        field,
        SUBNET_GROUP,
        Resource::new(
            "AWS::RDS::DBSubnetGroup",
            json!({
                "DBSubnetGroupDescription": format!("Private subnets of {}", ctx.prefix()),
                "SubnetIds": subnets,
                "Tags": ctx.tags(Some("database")),
            }),
        ),
    ))?;

    one(ctx.add(
        template,
        field,
        MASTER_SECRET,
        master_secret(component, ctx),
    ))?;

    let monitoring_role = if component.monitoring_interval_seconds > 0 {
        one(ctx.add(template, field, MONITORING_ROLE, monitoring_role(ctx)))?;
        Some(get_att(MONITORING_ROLE, "Arn"))
    } else {
        None
    };
    let insights_key = match component.encryption_key {
        KeyChoice::AwsManaged => None,
        KeyChoice::CustomerManaged => {
            one(ctx.add(
                template,
                field,
                KEY,
                kms::key(
                    ctx,
                    "Performance Insights data of the database",
                    "database",
                    vec![],
                ),
            ))?;
            Some(get_att(KEY, "Arn"))
        }
    };
    let security = Security {
        component,
        monitoring_role,
        insights_key,
    };

    let mut primary = Resource::new(
        "AWS::RDS::DBInstance",
        json!({
            "Engine": "postgres",
            "EngineVersion": component.engine_version,
            "DBInstanceClass": component.instance_class,
            "AllocatedStorage": component.storage_gb.to_string(),
            "StorageType": "gp3",
            "StorageEncrypted": true,
            "PubliclyAccessible": false,
            "MultiAZ": component.multi_az,
            "BackupRetentionPeriod": component.backup_retention_days,
            "DeletionProtection": component.deletion_protection,
            // Not ManageMasterUserPassword: RDS refuses read replicas of an instance whose
            // password it manages (see `master_secret`).
            "MasterUsername": component.master_username,
            "MasterUserPassword": master_password_reference(),
            "DBName": component.database_name,
            "Port": component.port.to_string(),
            "DBSubnetGroupName": reference(SUBNET_GROUP),
            "VPCSecurityGroups": security_groups,
            "CopyTagsToSnapshot": true,
            "AutoMinorVersionUpgrade": auto_minor_upgrade,
            "Tags": ctx.tags(Some("primary")),
        }),
    )
    .lifecycle(Lifecycle::SNAPSHOT);
    security.apply(&mut primary);
    one(ctx.add(template, field, PRIMARY, primary))?;

    // Adds the primary's host, port and engine to the secret, so that the secret alone is enough to
    // connect (and to turn on rotation later). "A single secret resource can only have one target
    // attached to it" (CloudFormation reference, AWS::SecretsManager::SecretTargetAttachment).
    one(ctx.add(
        template,
        field,
        MASTER_SECRET_ATTACHMENT,
        Resource::new(
            "AWS::SecretsManager::SecretTargetAttachment",
            json!({
                "SecretId": reference(MASTER_SECRET),
                "TargetId": reference(PRIMARY),
                "TargetType": "AWS::RDS::DBInstance",
            }),
        ),
    ))?;

    for index in 0..component.replicas.count {
        let logical_id = replica(index);
        // RDS cannot take a final snapshot of a replica; it holds no data the primary lacks.
        // Multi-AZ and deletion protection are replica settings of their own: CreateDBInstanceReadReplica
        // takes MultiAZ ("Specifies whether the read replica is in a Multi-AZ deployment") and
        // DeletionProtection (RDS API reference, CreateDBInstanceReadReplica), and neither is among
        // the properties CloudFormation forbids with SourceDBInstanceIdentifier (AWS::RDS::DBInstance,
        // SourceDBInstanceIdentifier: DBName, MasterUsername, MasterUserPassword, BackupRetentionPeriod, ...).
        let mut resource = Resource::new(
            "AWS::RDS::DBInstance",
            json!({
                "SourceDBInstanceIdentifier": reference(PRIMARY),
                "Port": component.port.to_string(),
                "DBInstanceClass": component.replicas.instance_class,
                "StorageType": "gp3",
                "PubliclyAccessible": false,
                "VPCSecurityGroups": security_groups,
                "CopyTagsToSnapshot": true,
                "AutoMinorVersionUpgrade": auto_minor_upgrade,
                "Tags": ctx.tags(Some(&format!("replica-{}", index + 1))),
            }),
        )
        .lifecycle(Lifecycle::DELETE);
        // Only when on: replicas deployed before issue 14 carry neither, and MultiAZ is a
        // conditionally create-only property (AWS::RDS::DBInstance schema), so writing an
        // explicit `false` would plan them as possible replacements for no change.
        if component.replicas.multi_az {
            resource.properties["MultiAZ"] = json!(true);
        }
        if component.replicas.deletion_protection {
            resource.properties["DeletionProtection"] = json!(true);
        }
        security.apply(&mut resource);
        one(ctx.add(template, field, &logical_id, resource))?;
    }

    outputs(component, ctx, template).map_err(|d| vec![d])
}

/// The monitoring, insight and logging settings every instance (primary and replicas) carries.
struct Security<'a> {
    component: &'a DatabaseComponent,
    /// ARN of the enhanced monitoring role, when monitoring is on.
    monitoring_role: Option<Value>,
    /// ARN of the customer-managed key of Performance Insights; `None` for `aws/rds`.
    insights_key: Option<Value>,
}

impl Security<'_> {
    fn apply(&self, instance: &mut Resource) {
        let properties = &mut instance.properties;
        let component = self.component;
        // Enhanced monitoring: "If MonitoringRoleArn is specified, then you must set
        // MonitoringInterval to a value other than 0" (RDS API reference, CreateDBInstance).
        properties["MonitoringInterval"] = json!(component.monitoring_interval_seconds);
        if let Some(role) = &self.monitoring_role {
            properties["MonitoringRoleArn"] = role.clone();
        }
        // Performance Insights data is always encrypted: "If you don't specify a value for
        // PerformanceInsightsKMSKeyId, then Amazon RDS uses your default KMS key" (aws/rds;
        // AWS::RDS::DBInstance, PerformanceInsightsKMSKeyId). Its console moved to CloudWatch
        // Database Insights (end of life July 31, 2026); "The Performance Insights API will
        // continue to exist with no changes" and retention is kept in its Standard mode (RDS User
        // Guide, Performance Insights, end-of-life notice).
        properties["EnablePerformanceInsights"] = json!(true);
        properties["PerformanceInsightsRetentionPeriod"] =
            json!(component.performance_insights_retention_days);
        if let Some(key) = &self.insights_key {
            properties["PerformanceInsightsKMSKeyId"] = key.clone();
        }
        properties["EnableIAMDatabaseAuthentication"] = json!(component.iam_authentication);
        // RDS creates the log groups `/aws/rds/instance/<identifier>/<log>` itself, without a
        // retention. The stack cannot create them first without naming the instances, and a name
        // on an instance deployed without one replaces it (DBInstanceIdentifier is create-only in
        // the AWS::RDS::DBInstance schema): see README, "Database logs".
        properties["EnableCloudwatchLogsExports"] = json!(LOG_EXPORTS);
    }
}

/// The role RDS assumes to publish enhanced monitoring metrics to CloudWatch Logs (RDS User
/// Guide, Setting up and enabling Enhanced Monitoring: trust `monitoring.rds.amazonaws.com`,
/// managed policy `AmazonRDSEnhancedMonitoringRole`).
fn monitoring_role(ctx: &StackContext) -> Resource {
    Resource::new(
        "AWS::IAM::Role",
        json!({
            "Description": format!("Enhanced monitoring of the {} databases", ctx.prefix()),
            "AssumeRolePolicyDocument": service_trust_policy("monitoring.rds.amazonaws.com", None),
            "ManagedPolicyArns": [sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")],
            "Tags": ctx.tags(Some("database-monitoring")),
        }),
    )
}

/// The master credentials: a Secrets Manager secret whose password Secrets Manager generates at
/// creation, so that no password exists in any file, template, plan or log.
///
/// Why not `ManageMasterUserPassword`: RDS User Guide, Password management with Amazon RDS and
/// AWS Secrets Manager, Limitations: managing the master password with Secrets Manager is not
/// supported for "Creating a read replica when the source DB or DB cluster manages credentials
/// with Secrets Manager" (all engines but RDS for SQL Server), and every environment has replicas.
///
/// The secret is kept when the stack is deleted or the secret replaced (`Lifecycle::KEEP`), as
/// long as the primary's final snapshot, whose master password it holds. Encrypted with the
/// account's default `aws/secretsmanager` key.
fn master_secret(component: &DatabaseComponent, ctx: &StackContext) -> Resource {
    let username = json!({ "username": component.master_username }).to_string();
    Resource::new(
        "AWS::SecretsManager::Secret",
        json!({
            "Description": format!(
                "Master user credentials of the {} PostgreSQL primary (password generated by Secrets Manager)",
                ctx.prefix()
            ),
            "GenerateSecretString": {
                "SecretStringTemplate": username,
                "GenerateStringKey": "password",
                "PasswordLength": PASSWORD_LENGTH,
                "ExcludeCharacters": PASSWORD_EXCLUDED_CHARACTERS,
                "IncludeSpace": false,
            },
            "Tags": ctx.tags(Some("database-master")),
        }),
    )
    .lifecycle(Lifecycle::KEEP)
}

/// `{{resolve:secretsmanager:<secret ARN>:SecretString:password}}`: CloudFormation reads the value
/// from Secrets Manager while it creates or updates the primary, and never shows or stores it
/// (CloudFormation User Guide, Get a secret or secret value from Secrets Manager with a dynamic
/// reference). The secret's `Ref` is its ARN.
pub fn master_password_reference() -> Value {
    sub(&format!(
        "{{{{resolve:secretsmanager:${{{MASTER_SECRET}}}:SecretString:password}}}}"
    ))
}

fn check(component: &DatabaseComponent, ctx: &StackContext) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    if let Err(message) = check_engine_version(&component.engine_version) {
        problems.push(ctx.diagnostic("database.engine_version", message));
    }
    if component.replicas.count == 0 {
        problems.push(ctx.diagnostic(
            "database.replicas.count",
            "is 0, must be at least 1: the platform serves reads from a read replica",
        ));
    }
    if let Err(message) = check_monitoring_interval(component.monitoring_interval_seconds) {
        problems.push(ctx.diagnostic("database.monitoring_interval_seconds", message));
    }
    if let Err(message) =
        check_performance_insights_retention(component.performance_insights_retention_days)
    {
        problems.push(ctx.diagnostic("database.performance_insights_retention_days", message));
    }
    if component.backup_retention_days == 0 {
        problems.push(ctx.diagnostic(
            "database.backup_retention_days",
            "is 0, must be at least 1: read replicas need automated backups on the primary",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn outputs(
    component: &DatabaseComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Diagnostic> {
    let field = "database";
    let readers: Vec<Value> = (0..component.replicas.count)
        .map(|index| get_att(&replica(index), "Endpoint.Address"))
        .collect();
    // Not exported: no other stack reads the credentials; `strata outputs` lists the ARN.
    ctx.add_output(
        template,
        field,
        MASTER_SECRET_OUTPUT,
        Output {
            description: "ARN of the Secrets Manager secret with the master user's credentials"
                .into(),
            value: reference(MASTER_SECRET),
            export: None,
        },
    )?;
    // Not exported: endpoints change whenever an instance is replaced and the reader list with the
    // replica count, and CloudFormation refuses to change an export another stack imports. Dependent
    // stacks receive these through `StackContext::stack_output` instead.
    let mut export = |name: &str, description: &str, value: Value| {
        ctx.add_output(template, field, name, ctx.output(description, value))
    };
    export(
        WRITER_ENDPOINT_OUTPUT,
        "Writer (primary) endpoint address",
        get_att(PRIMARY, "Endpoint.Address"),
    )?;
    export(
        PORT_OUTPUT,
        "Database port",
        get_att(PRIMARY, "Endpoint.Port"),
    )?;
    export(
        READER_ENDPOINTS_OUTPUT,
        "Read replica endpoint addresses, comma separated",
        join(",", readers.clone()),
    )?;
    for (index, reader) in readers.into_iter().enumerate() {
        let name = format!("ReaderEndpoint{}", index + 1);
        export(
            &name,
            &format!("Endpoint address of read replica {}", index + 1),
            reader,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS::RDS::DBInstance, MasterUserPassword: "The password for the master user. The password
    /// can include any printable ASCII character except "/", """, or "@"." ... "RDS for PostgreSQL:
    /// Must contain from 8 to 128 characters." The generated password must be one RDS accepts.
    #[test]
    fn the_generated_password_avoids_what_rds_refuses() {
        for refused in ['/', '"', '@', ' '] {
            assert!(
                PASSWORD_EXCLUDED_CHARACTERS.contains(refused),
                "{refused:?}"
            );
        }
        assert!((8..=128).contains(&PASSWORD_LENGTH));
    }

    /// CloudFormation User Guide, dynamic references to Secrets Manager:
    /// `{{resolve:secretsmanager:secret-id:SecretString:json-key}}`, with the secret's ARN (its
    /// `Ref`) as secret-id.
    #[test]
    fn the_primary_reads_the_password_through_a_dynamic_reference() {
        assert_eq!(
            master_password_reference(),
            json!({"Fn::Sub": "{{resolve:secretsmanager:${DatabaseMasterSecret}:SecretString:password}}"})
        );
    }

    /// RDS API reference, CreateDBInstance: MonitoringInterval "Valid Values: 0 | 1 | 5 | 10 | 15 |
    /// 30 | 60"; PerformanceInsightsRetentionPeriod 7, month * 31 (1-23 months) or 731, "such as
    /// 94 ... RDS issues an error".
    #[test]
    fn monitoring_and_insight_settings_are_ones_rds_accepts() {
        for ok in [0, 1, 5, 10, 15, 30, 60] {
            assert_eq!(check_monitoring_interval(ok), Ok(()));
        }
        for bad in [2, 20, 61, 300] {
            assert!(check_monitoring_interval(bad).is_err(), "{bad}");
        }
        for ok in [7, 31, 93, 341, 589, 713, 731] {
            assert_eq!(check_performance_insights_retention(ok), Ok(()), "{ok}");
        }
        for bad in [0, 1, 8, 30, 94, 744, 732] {
            assert!(check_performance_insights_retention(bad).is_err(), "{bad}");
        }
    }

    /// Issue 10, finding 6. RDS retires minor versions; a major version alone is accepted (RDS User
    /// Guide, Supported PostgreSQL versions: "If a major version is specified but a minor version is
    /// not, Amazon RDS defaults to a recent release of the major version you have specified"), and
    /// "For each RDS for PostgreSQL major version, one minor version is designated by RDS as the
    /// automatic upgrade version" (RDS User Guide, Automatic minor version upgrades for RDS for
    /// PostgreSQL). So "17" follows minor releases; "17.6" is a pin that must not be auto-upgraded
    /// under the template's feet.
    #[test]
    fn a_major_version_follows_minor_releases_and_a_pinned_minor_does_not() {
        assert_eq!(check_engine_version("17"), Ok(()));
        assert_eq!(check_engine_version("17.6"), Ok(()));
        assert!(follows_minor_releases("17"));
        assert!(!follows_minor_releases("17.6"));
        for bad in ["", "17.", "v17", "17.6.1.2", "latest", "17.x"] {
            let message = check_engine_version(bad).unwrap_err();
            assert!(message.contains("major version alone"), "{bad}: {message}");
        }
    }
}
