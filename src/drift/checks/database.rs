//! RDS DB instances: size, engine, storage, protection settings, and that replicas still replicate.

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict, text_or_null};
use crate::drift::normalize::Kind;

pub fn db_instance(ctx: &Ctx) -> Verdict {
    let Some(db) = ctx.live.db_instance(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    if matches!(db.status.as_deref(), Some("deleting" | "deleted")) {
        return Verdict::Deleted;
    }
    let text = |value: &Option<String>| value.clone().map(Value::String);
    let flag = |value: Option<bool>| value.map(Value::Bool);
    let number = |value: Option<i32>| value.map(|n| json!(n));
    let mut diffs = Diffs::default();
    let properties = [
        ("DBInstanceClass", text(&db.class), Kind::Text),
        ("Engine", text(&db.engine), Kind::CaseInsensitive),
        (
            "EngineVersion",
            text(&db.engine_version),
            Kind::EngineVersion,
        ),
        (
            "AllocatedStorage",
            number(db.allocated_storage),
            Kind::Number,
        ),
        ("StorageType", text(&db.storage_type), Kind::CaseInsensitive),
        ("StorageEncrypted", flag(db.storage_encrypted), Kind::Bool),
        ("MultiAZ", flag(db.multi_az), Kind::Bool),
        (
            "PubliclyAccessible",
            flag(db.publicly_accessible),
            Kind::Bool,
        ),
        (
            "BackupRetentionPeriod",
            number(db.backup_retention_period),
            Kind::Number,
        ),
        (
            "DeletionProtection",
            flag(db.deletion_protection),
            Kind::Bool,
        ),
        ("Port", number(db.port), Kind::Number),
        (
            "VPCSecurityGroups",
            Some(json!(db.vpc_security_group_ids)),
            Kind::IdSet,
        ),
        // Monitoring, insights, authentication and log exports (issue 14): switched off or
        // re-keyed outside the stack, they are [security] drift (normalize::severity).
        (
            "MonitoringInterval",
            number(db.monitoring_interval),
            Kind::Number,
        ),
        (
            "EnablePerformanceInsights",
            flag(db.performance_insights_enabled),
            Kind::Bool,
        ),
        (
            "PerformanceInsightsRetentionPeriod",
            number(db.performance_insights_retention_period),
            Kind::Number,
        ),
        (
            "PerformanceInsightsKMSKeyId",
            text(&db.performance_insights_kms_key_id),
            Kind::Text,
        ),
        (
            "EnableIAMDatabaseAuthentication",
            flag(db.iam_database_authentication_enabled),
            Kind::Bool,
        ),
        (
            "EnableCloudwatchLogsExports",
            Some(json!(db.enabled_cloudwatch_logs_exports)),
            Kind::IdSet,
        ),
    ];
    // MasterUserPassword is write-only (its schema's writeOnlyProperties): RDS never reports it,
    // so it is never compared.
    for (name, actual, kind) in properties {
        diffs.property(ctx, name, actual, kind);
    }
    // Write-only in CloudFormation's schema, but RDS reports the link itself
    // (DescribeDBInstances ReadReplicaSourceDBInstanceIdentifier). A replica that was promoted (or
    // whose source was replaced) no longer names its source.
    diffs.read_from_service(
        ctx,
        "SourceDBInstanceIdentifier",
        Some(text_or_null(db.replica_source.as_deref())),
        Kind::Identifier,
    );
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::testing::{Case, differences, is_deleted};
    use crate::aws::live::DbInstance;
    use crate::drift::Severity;

    fn live(identifier: &str) -> DbInstance {
        DbInstance {
            identifier: identifier.into(),
            status: Some("available".into()),
            class: Some("db.t4g.micro".into()),
            engine: Some("postgres".into()),
            engine_version: Some("17.6".into()),
            allocated_storage: Some(20),
            storage_type: Some("gp3".into()),
            storage_encrypted: Some(true),
            multi_az: Some(false),
            publicly_accessible: Some(false),
            backup_retention_period: Some(1),
            deletion_protection: Some(false),
            replica_source: None,
            vpc_security_group_ids: vec!["sg-db".into()],
            port: Some(5432),
            endpoint_address: None,
            monitoring_interval: Some(60),
            performance_insights_enabled: Some(true),
            performance_insights_kms_key_id: Some(
                "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
            ),
            performance_insights_retention_period: Some(7),
            iam_database_authentication_enabled: Some(true),
            enabled_cloudwatch_logs_exports: vec!["upgrade".into(), "postgresql".into()],
        }
    }

    fn primary() -> Case {
        Case::new(
            "AWS::RDS::DBInstance",
            json!({
                "AllocatedStorage": "20", "BackupRetentionPeriod": 1, "DBInstanceClass": "db.t4g.micro",
                "DeletionProtection": false, "Engine": "postgres", "EngineVersion": "17",
                "MasterUsername": "feedadmin",
                "MasterUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:password}}"},
                "MultiAZ": false, "Port": "5432",
                "PubliclyAccessible": false, "StorageEncrypted": true, "StorageType": "GP3",
                "VPCSecurityGroups": [{"Fn::ImportValue": "net-DbSg"}],
                "DBSubnetGroupName": {"Ref": "Subnets"},
                "MonitoringInterval": 60, "MonitoringRoleArn": {"Fn::GetAtt": ["MonitoringRole", "Arn"]},
                "EnablePerformanceInsights": true, "PerformanceInsightsRetentionPeriod": 7,
                "PerformanceInsightsKMSKeyId": {"Fn::GetAtt": ["DatabaseKey", "Arn"]},
                "EnableIAMDatabaseAuthentication": true,
                "EnableCloudwatchLogsExports": ["postgresql", "upgrade"]
            }),
        )
        .export("net-DbSg", "sg-db")
        .declare("DatabaseKey", "AWS::KMS::Key", json!({}))
        .physical("DatabaseKey", "1234abcd-12ab-34cd-56ef-1234567890ab")
    }

    #[test]
    fn a_primary_as_declared_is_in_sync_after_normalisation() {
        let mut case = primary();
        case.live
            .db_instances
            .insert("app-primary".into(), live("App-Primary"));
        assert_eq!(differences(&case, "App-Primary"), vec![]);
    }

    #[test]
    fn resized_public_and_unencrypted_databases_are_drift() {
        let mut case = primary();
        let mut db = live("app-primary");
        db.class = Some("db.r6g.large".into());
        db.publicly_accessible = Some(true);
        db.storage_encrypted = Some(false);
        db.backup_retention_period = Some(0);
        case.live.db_instances.insert("app-primary".into(), db);
        let found: Vec<(String, Value, Severity)> = differences(&case, "app-primary")
            .into_iter()
            .map(|d| (d.path, d.actual, d.severity))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "DBInstanceClass".to_string(),
                    json!("db.r6g.large"),
                    Severity::Normal
                ),
                (
                    "StorageEncrypted".to_string(),
                    json!(false),
                    Severity::Security
                ),
                (
                    "PubliclyAccessible".to_string(),
                    json!(true),
                    Severity::Security
                ),
                (
                    "BackupRetentionPeriod".to_string(),
                    json!(0),
                    Severity::Normal
                ),
            ]
        );
    }

    /// Issue 14: monitoring off, insights off, log exports dropped and a different insights key
    /// are drift toward less visibility or another key holder, marked [security].
    #[test]
    fn monitoring_logging_and_key_changes_are_security_drift() {
        let mut case = primary();
        let mut db = live("app-primary");
        db.monitoring_interval = Some(0);
        db.performance_insights_enabled = Some(false);
        db.performance_insights_kms_key_id =
            Some("arn:aws:kms:eu-west-1:111111111111:key/other".into());
        db.enabled_cloudwatch_logs_exports = vec!["postgresql".into()];
        db.iam_database_authentication_enabled = Some(false);
        case.live.db_instances.insert("app-primary".into(), db);
        let found: Vec<(String, Severity)> = differences(&case, "app-primary")
            .into_iter()
            .map(|d| (d.path, d.severity))
            .collect();
        assert_eq!(
            found,
            [
                ("MonitoringInterval".to_string(), Severity::Security),
                ("EnablePerformanceInsights".to_string(), Severity::Security),
                (
                    "PerformanceInsightsKMSKeyId".to_string(),
                    Severity::Security
                ),
                (
                    "EnableIAMDatabaseAuthentication".to_string(),
                    Severity::Security
                ),
                (
                    "EnableCloudwatchLogsExports".to_string(),
                    Severity::Security
                ),
            ]
        );
    }

    #[test]
    fn a_promoted_replica_no_longer_replicates() {
        let mut case = Case::new(
            "AWS::RDS::DBInstance",
            json!({"DBInstanceClass": "db.t4g.micro", "SourceDBInstanceIdentifier": {"Ref": "Primary"}}),
        )
        .physical("Primary", "app-primary");
        let mut replica = live("app-replica");
        replica.replica_source = Some("arn:aws:rds:eu-west-1:111111111111:db:app-primary".into());
        case.live
            .db_instances
            .insert("app-replica".into(), replica.clone());
        assert_eq!(differences(&case, "app-replica"), vec![]);

        replica.replica_source = None;
        case.live.db_instances.insert("app-replica".into(), replica);
        let found = differences(&case, "app-replica");
        assert_eq!(found[0].path, "SourceDBInstanceIdentifier");
        assert_eq!(found[0].expected, json!("app-primary"));
        assert_eq!(found[0].actual, Value::Null);
    }

    #[test]
    fn a_deleted_or_deleting_instance_is_deleted() {
        let case = primary();
        assert!(is_deleted(&case, "app-primary"));
        let mut case = primary();
        let mut db = live("app-primary");
        db.status = Some("deleting".into());
        case.live.db_instances.insert("app-primary".into(), db);
        assert!(is_deleted(&case, "app-primary"));
    }
}
