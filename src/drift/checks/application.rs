//! Lambda functions (configuration, VPC placement, environment variable names) and DynamoDB tables
//! (billing mode, point-in-time recovery, encryption, deletion protection).

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict};
use crate::aws::live::Observed;
use crate::drift::normalize::Kind;

/// A function as declared: memory, timeout, runtime and handler, the subnets and groups it runs in,
/// the names of its environment variables (never their values, which may be secrets), and its log
/// group. Lambda's defaults count when a property is not declared (AWS::Lambda::Function:
/// MemorySize "The default value is 128 MB", Timeout "The default is 3 seconds").
pub fn function(ctx: &Ctx) -> Verdict {
    let Some(function) = ctx.live.functions.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    let number = |value: Option<i32>| value.map(|n| json!(n));
    diffs.property_or(
        ctx,
        "MemorySize",
        json!(128),
        number(function.memory_size),
        Kind::Number,
    );
    diffs.property_or(
        ctx,
        "Timeout",
        json!(3),
        number(function.timeout),
        Kind::Number,
    );
    // Lambda always reports these; an answer without one is not read as "removed".
    let text = |value: &Option<String>| value.clone().map(Value::String);
    diffs.property(ctx, "Runtime", text(&function.runtime), Kind::Text);
    diffs.property(ctx, "Handler", text(&function.handler), Kind::Text);
    // Outside a VPC Lambda reports empty lists, so a function moved out of (or into) the private
    // subnets shows as a difference of both. A declared placement that cannot be resolved is skipped.
    let vpc = match ctx.resource.properties.get("VpcConfig") {
        None => Some(json!({})),
        Some(_) => ctx.declared("VpcConfig"),
    };
    if let Some(vpc) = vpc {
        for (key, actual) in [
            ("SubnetIds", &function.subnet_ids),
            ("SecurityGroupIds", &function.security_group_ids),
        ] {
            diffs.compare(
                &format!("VpcConfig.{key}"),
                vpc.get(key).cloned().unwrap_or_else(|| json!([])),
                Some(json!(actual)),
                Kind::IdSet,
            );
        }
    }
    let declared_names: Vec<String> = ctx
        .resource
        .properties
        .get("Environment")
        .and_then(|environment| environment.get("Variables"))
        .and_then(Value::as_object)
        .map(|variables| variables.keys().cloned().collect())
        .unwrap_or_default();
    diffs.compare(
        "Environment.Variables (names)",
        json!(declared_names),
        Some(json!(function.environment_variable_names)),
        Kind::IdSet,
    );
    if let Some(expected) = ctx
        .declared("LoggingConfig")
        .and_then(|c| c.get("LogGroup").cloned())
    {
        diffs.compare(
            "LoggingConfig.LogGroup",
            expected,
            text(&function.log_group),
            Kind::Text,
        );
    }
    diffs.verdict()
}

/// A table as declared. Billing mode defaults to `PROVISIONED` (AWS::DynamoDB::Table, BillingMode:
/// "If not specified, the default is PROVISIONED"), and DescribeTable leaves `BillingModeSummary`
/// out for a table that never was on demand, so an absent summary is `PROVISIONED`.
pub fn table(ctx: &Ctx) -> Verdict {
    let Some(table) = ctx.live.tables.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property_or(
        ctx,
        "BillingMode",
        json!("PROVISIONED"),
        Some(json!(
            table.billing_mode.as_deref().unwrap_or("PROVISIONED")
        )),
        Kind::Text,
    );
    diffs.property_or(
        ctx,
        "DeletionProtectionEnabled",
        json!(false),
        table.deletion_protection.map(|on| json!(on)),
        Kind::Bool,
    );
    // SSEEnabled true is KMS (`ENABLED`); false or absent is the AWS owned key, which DescribeTable
    // reports as no SSE description at all.
    let declared_sse = ctx
        .declared("SSESpecification")
        .and_then(|sse| sse.get("SSEEnabled").cloned())
        .unwrap_or(json!(false));
    let kms = matches!(table.sse_status.as_deref(), Some("ENABLED" | "ENABLING"));
    diffs.compare(
        "SSESpecification.SSEEnabled",
        declared_sse,
        Some(json!(kms)),
        Kind::Bool,
    );
    let declared_pitr = ctx
        .declared("PointInTimeRecoverySpecification")
        .and_then(|pitr| pitr.get("PointInTimeRecoveryEnabled").cloned())
        .unwrap_or(json!(false));
    match &table.point_in_time_recovery {
        Observed::Value(enabled) => diffs.compare(
            "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled",
            declared_pitr,
            Some(json!(enabled)),
            Kind::Bool,
        ),
        Observed::Unreadable { operation, reason } => diffs.unchecked(
            "PointInTimeRecoverySpecification",
            format!("{operation}: {reason}"),
        ),
    }
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Case, differences, is_deleted};
    use crate::aws::live::{Function, Observed, Table};

    fn feed_api() -> Case {
        Case::new(
            "AWS::Lambda::Function",
            json!({
                "FunctionName": "photofeed-dev-feedApi",
                "Runtime": "python3.13",
                "Handler": "handler.main",
                "MemorySize": 128,
                "Timeout": 10,
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Environment": {"Variables": {"PHOTOS_BUCKET": {"Fn::ImportValue": "s-PhotosBucketName"}}},
                "VpcConfig": {
                    "SubnetIds": [{"Fn::ImportValue": "n-Private1"}, {"Fn::ImportValue": "n-Private2"}],
                    "SecurityGroupIds": [{"Fn::ImportValue": "n-AppSg"}]
                },
                "LoggingConfig": {"LogGroup": {"Ref": "Logs"}}
            }),
        )
        .declare("Logs", "AWS::Logs::LogGroup", json!({"LogGroupName": "/aws/lambda/photofeed-dev-feedApi"}))
        .physical("Logs", "/aws/lambda/photofeed-dev-feedApi")
        .export("n-Private1", "subnet-1")
        .export("n-Private2", "subnet-2")
        .export("n-AppSg", "sg-app")
        .export("s-PhotosBucketName", "photos")
    }

    fn deployed() -> Function {
        Function {
            name: "photofeed-dev-feedApi".into(),
            runtime: Some("python3.13".into()),
            handler: Some("handler.main".into()),
            memory_size: Some(128),
            timeout: Some(10),
            subnet_ids: vec!["subnet-2".into(), "subnet-1".into()],
            security_group_ids: vec!["sg-app".into()],
            environment_variable_names: vec!["PHOTOS_BUCKET".into()],
            log_group: Some("/aws/lambda/photofeed-dev-feedApi".into()),
        }
    }

    #[test]
    fn a_function_as_declared_is_in_sync() {
        let mut case = feed_api();
        case.live
            .functions
            .insert("photofeed-dev-feedApi".into(), deployed());
        assert_eq!(differences(&case, "photofeed-dev-feedApi"), vec![]);
    }

    #[test]
    fn memory_placement_and_variable_names_drift_are_reported_never_values() {
        let mut case = feed_api();
        let mut changed = deployed();
        changed.memory_size = Some(512);
        changed.subnet_ids = vec![];
        changed.security_group_ids = vec![];
        changed.environment_variable_names = vec!["PHOTOS_BUCKET".into(), "DEBUG".into()];
        case.live
            .functions
            .insert("photofeed-dev-feedApi".into(), changed);
        let found = differences(&case, "photofeed-dev-feedApi");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "MemorySize",
                "VpcConfig.SubnetIds",
                "VpcConfig.SecurityGroupIds",
                "Environment.Variables (names)"
            ]
        );
        assert_eq!(found[0].expected, json!(128));
        assert_eq!(found[0].actual, json!(512));
        let text = format!("{found:?}");
        assert!(
            !text.contains("photos\""),
            "no variable value in the report: {text}"
        );
    }

    #[test]
    fn undeclared_memory_and_timeout_are_lambdas_defaults() {
        let mut case = Case::new(
            "AWS::Lambda::Function",
            json!({"Runtime": "nodejs22.x", "Handler": "index.handler"}),
        );
        let mut live = deployed();
        live.runtime = Some("nodejs22.x".into());
        live.handler = Some("index.handler".into());
        live.subnet_ids = vec![];
        live.security_group_ids = vec![];
        live.environment_variable_names = vec![];
        live.memory_size = Some(128);
        live.timeout = Some(3);
        case.live.functions.insert("f".into(), live.clone());
        assert_eq!(differences(&case, "f"), vec![]);
        live.timeout = Some(30);
        case.live.functions.insert("f".into(), live);
        let found = differences(&case, "f");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "Timeout");
    }

    #[test]
    fn a_missing_function_is_deleted() {
        assert!(is_deleted(&feed_api(), "photofeed-dev-feedApi"));
    }

    fn notes() -> Case {
        Case::new(
            "AWS::DynamoDB::Table",
            json!({
                "TableName": "notes-dev-notes",
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
                "SSESpecification": {"SSEEnabled": true},
                "DeletionProtectionEnabled": false
            }),
        )
    }

    fn live_table() -> Table {
        Table {
            name: "notes-dev-notes".into(),
            billing_mode: Some("PAY_PER_REQUEST".into()),
            sse_status: Some("ENABLED".into()),
            deletion_protection: Some(false),
            point_in_time_recovery: Observed::Value(true),
        }
    }

    #[test]
    fn a_table_as_declared_is_in_sync() {
        let mut case = notes();
        case.live
            .tables
            .insert("notes-dev-notes".into(), live_table());
        assert_eq!(differences(&case, "notes-dev-notes"), vec![]);
    }

    #[test]
    fn billing_pitr_and_encryption_drift_are_reported() {
        let mut case = notes();
        let mut changed = live_table();
        changed.billing_mode = None;
        changed.sse_status = None;
        changed.point_in_time_recovery = Observed::Value(false);
        case.live.tables.insert("notes-dev-notes".into(), changed);
        let found = differences(&case, "notes-dev-notes");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "BillingMode",
                "SSESpecification.SSEEnabled",
                "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled"
            ]
        );
        assert_eq!(found[0].actual, json!("PROVISIONED"));
    }

    #[test]
    fn unreadable_backups_are_noted_not_flagged() {
        let mut case = notes();
        let mut unreadable = live_table();
        unreadable.point_in_time_recovery = Observed::Unreadable {
            operation: "DescribeContinuousBackups",
            reason: "not implemented".into(),
        };
        case.live
            .tables
            .insert("notes-dev-notes".into(), unreadable);
        assert_eq!(differences(&case, "notes-dev-notes"), vec![]);
    }
}
