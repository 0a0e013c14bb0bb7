//! Lambda functions (configuration, VPC placement, environment variable names), their event source
//! mappings (batching, state, partial batch responses), DynamoDB tables (billing mode, point-in-time
//! recovery, encryption, deletion protection) and SNS topics (subscriptions, encryption).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict};
use crate::aws::live::{Observed, Subscription};
use crate::drift::Severity;
use crate::drift::normalize::Kind;

/// A value Lambda reported, `None` when its answer left it out (not read as "removed").
fn text(value: &Option<String>) -> Option<Value> {
    value.clone().map(Value::String)
}

fn number(value: Option<i32>) -> Option<Value> {
    value.map(|n| json!(n))
}

/// A function as declared: memory, timeout, runtime and handler, the subnets and groups it runs in,
/// the names of its environment variables (never their values, which may be secrets), and its log
/// group. Lambda's defaults count when a property is not declared (AWS::Lambda::Function:
/// MemorySize "The default value is 128 MB", Timeout "The default is 3 seconds").
pub fn function(ctx: &Ctx) -> Verdict {
    let Some(function) = ctx.live.functions.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
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

/// An event source mapping as declared. Lambda's defaults count when a property is not declared
/// (AWS::Lambda::EventSourceMapping: Enabled "Default: True"; BatchSize "Amazon Simple Queue
/// Service – Default 10", every other source "Default 100"; MaximumBatchingWindowInSeconds "For
/// streams and Amazon SQS event sources, the default batching window is 0 seconds", the other
/// sources' 500 ms default cannot be declared in seconds, so there it is compared only when
/// declared; FunctionResponseTypes: none unless declared).
pub fn event_source_mapping(ctx: &Ctx) -> Verdict {
    let Some(mapping) = ctx.live.event_source_mappings.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    // Declared by name or ARN, reported as the ARN.
    diffs.property(
        ctx,
        "FunctionName",
        text(&mapping.function_arn),
        Kind::Identifier,
    );
    diffs.property(
        ctx,
        "EventSourceArn",
        text(&mapping.event_source_arn),
        Kind::Text,
    );
    let source = ctx
        .declared("EventSourceArn")
        .and_then(|arn| arn.as_str().map(str::to_owned))
        .or_else(|| mapping.event_source_arn.clone())
        .unwrap_or_default();
    let service = source.split(':').nth(2).unwrap_or_default();
    diffs.property_or(
        ctx,
        "BatchSize",
        json!(if service == "sqs" { 10 } else { 100 }),
        number(mapping.batch_size),
        Kind::Number,
    );
    if matches!(service, "sqs" | "kinesis" | "dynamodb") {
        diffs.property_or(
            ctx,
            "MaximumBatchingWindowInSeconds",
            json!(0),
            number(mapping.maximum_batching_window_seconds),
            Kind::Number,
        );
    } else {
        diffs.property(
            ctx,
            "MaximumBatchingWindowInSeconds",
            number(mapping.maximum_batching_window_seconds),
            Kind::Number,
        );
    }
    // A mapping on its way to a state (creating, updating) is not compared.
    let enabled = match mapping.state.as_deref() {
        Some("Enabled" | "Enabling") => Some(json!(true)),
        Some("Disabled" | "Disabling") => Some(json!(false)),
        _ => None,
    };
    diffs.property_or(ctx, "Enabled", json!(true), enabled, Kind::Bool);
    diffs.property_or(
        ctx,
        "FunctionResponseTypes",
        json!([]),
        Some(json!(mapping.function_response_types)),
        Kind::IdSet,
    );
    diffs.verdict()
}

/// A topic as declared: its inline subscriptions, compared as a set of protocol and endpoint (one
/// removed with `sns unsubscribe` or added by hand is drift), and its KMS key (AWS::SNS::Topic,
/// KmsMasterKeyId; a topic declared without one is unencrypted, as SNS creates topics).
///
/// A subscription nobody declared is security drift: whoever owns its endpoint receives every
/// message published to the topic. A declared one that is gone is a delivery that no longer
/// happens.
pub fn topic(ctx: &Ctx) -> Verdict {
    let Some(topic) = ctx.live.topics.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    diffs.property_or(
        ctx,
        "KmsMasterKeyId",
        Value::Null,
        Some(super::text_or_null(topic.kms_master_key_id.as_deref())),
        Kind::Identifier,
    );
    let declared = match ctx.resource.properties.get("Subscription") {
        None => Some(BTreeSet::new()),
        Some(_) => ctx.declared("Subscription").and_then(|s| subscriptions(&s)),
    };
    if let Some(declared) = declared {
        let live: BTreeSet<Subscription> = topic.subscriptions.iter().cloned().collect();
        if declared != live {
            let added = live.difference(&declared).next().is_some();
            diffs.push(
                "Subscription",
                subscription_list(&declared),
                subscription_list(&live),
                if added {
                    Severity::Security
                } else {
                    Severity::Normal
                },
            );
        }
    }
    diffs.verdict()
}

/// The declared `Subscription` list, resolved, as a set; `None` when an entry is not a protocol and
/// an endpoint.
fn subscriptions(declared: &Value) -> Option<BTreeSet<Subscription>> {
    declared
        .as_array()?
        .iter()
        .map(|entry| {
            Some(Subscription {
                protocol: entry.get("Protocol")?.as_str()?.to_owned(),
                endpoint: entry.get("Endpoint")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

fn subscription_list(subscriptions: &BTreeSet<Subscription>) -> Value {
    subscriptions
        .iter()
        .map(|s| json!({"Protocol": s.protocol, "Endpoint": s.endpoint}))
        .collect()
}

/// An HTTP API stage as declared: automatic deployment (AWS::ApiGatewayV2::Stage, AutoDeploy: "The
/// default value is false"), where and how access is logged (AccessLogSettings: DestinationArn and
/// Format are "required to enable access logging", so a stage declared without them logs nothing),
/// and the default route throttling (DefaultRouteSettings; compared only where declared, since an
/// undeclared limit is the account's, which GetStage does not report).
pub fn api_stage(ctx: &Ctx) -> Verdict {
    let mut diffs = Diffs::default();
    let Some(id) = super::stage_id(ctx.resource, ctx.resolver, ctx.physical_id) else {
        diffs.unchecked("ApiId", "the API's id is not known".to_owned());
        return diffs.verdict();
    };
    let Some(stage) = ctx.live.api_stages.get(&id) else {
        return Verdict::Deleted;
    };
    diffs.property_or(
        ctx,
        "AutoDeploy",
        json!(false),
        stage.auto_deploy.map(|on| json!(on)),
        Kind::Bool,
    );
    let logging = match ctx.resource.properties.get("AccessLogSettings") {
        None => Some(json!({})),
        Some(_) => ctx.declared("AccessLogSettings"),
    };
    if let Some(logging) = logging {
        // A log group's `Arn` attribute ends in `:*` (AWS::Logs::LogGroup, Return values); the
        // stage names the group either way.
        let group = |arn: &Value| match arn.as_str() {
            Some(arn) => json!(arn.strip_suffix(":*").unwrap_or(arn)),
            None => Value::Null,
        };
        let live_destination = super::text_or_null(stage.access_log_destination.as_deref());
        diffs.compare(
            "AccessLogSettings.DestinationArn",
            group(logging.get("DestinationArn").unwrap_or(&Value::Null)),
            Some(group(&live_destination)),
            Kind::Text,
        );
        diffs.compare(
            "AccessLogSettings.Format",
            logging.get("Format").cloned().unwrap_or(Value::Null),
            Some(super::text_or_null(stage.access_log_format.as_deref())),
            Kind::Text,
        );
    }
    if let Some(routes) = ctx.declared("DefaultRouteSettings") {
        for (key, actual) in [
            (
                "ThrottlingBurstLimit",
                stage.throttling_burst_limit.map(|n| json!(n)),
            ),
            (
                "ThrottlingRateLimit",
                stage.throttling_rate_limit.map(|n| json!(n)),
            ),
        ] {
            if let Some(expected) = routes.get(key) {
                diffs.compare(
                    &format!("DefaultRouteSettings.{key}"),
                    expected.clone(),
                    Some(actual.unwrap_or(Value::Null)),
                    Kind::Number,
                );
            }
        }
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

    use super::super::Verdict;
    use super::super::testing::{Case, differences, is_deleted, verdict};
    use crate::aws::live::{
        ApiStage, EventSourceMapping, Function, Observed, StageId, Subscription, Table, Topic,
    };
    use crate::drift::Severity;

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

    const UPLOADS: &str = "arn:aws:sqs:eu-west-1:111111111111:photofeed-dev-photoUploaded";

    fn upload_mapping() -> Case {
        Case::new(
            "AWS::Lambda::EventSourceMapping",
            json!({
                "FunctionName": {"Ref": "Processor"},
                "EventSourceArn": {"Fn::ImportValue": "s-PhotoUploadedQueueArn"},
                "BatchSize": 10,
                "Enabled": true,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]
            }),
        )
        .declare(
            "Processor",
            "AWS::Lambda::Function",
            json!({"FunctionName": "photofeed-dev-uploadProcessor"}),
        )
        .physical("Processor", "photofeed-dev-uploadProcessor")
        .export("s-PhotoUploadedQueueArn", UPLOADS)
    }

    fn live_mapping() -> EventSourceMapping {
        EventSourceMapping {
            uuid: "9b3c".into(),
            function_arn: Some(
                "arn:aws:lambda:eu-west-1:111111111111:function:photofeed-dev-uploadProcessor"
                    .into(),
            ),
            event_source_arn: Some(UPLOADS.into()),
            batch_size: Some(10),
            maximum_batching_window_seconds: Some(0),
            state: Some("Enabled".into()),
            function_response_types: vec!["ReportBatchItemFailures".into()],
        }
    }

    fn mapping_paths(case: &Case) -> Vec<String> {
        differences(case, "9b3c")
            .into_iter()
            .map(|d| d.path)
            .collect()
    }

    #[test]
    fn a_mapping_as_declared_is_in_sync_its_function_named_by_arn() {
        let mut case = upload_mapping();
        case.live
            .event_source_mappings
            .insert("9b3c".into(), live_mapping());
        assert_eq!(differences(&case, "9b3c"), vec![]);
        // moto leaves an undeclared batching window out of its answer: not read as drift.
        let mut silent = live_mapping();
        silent.maximum_batching_window_seconds = None;
        case.live
            .event_source_mappings
            .insert("9b3c".into(), silent);
        assert_eq!(differences(&case, "9b3c"), vec![]);
    }

    #[test]
    fn batching_state_target_and_partial_failures_drift_are_reported() {
        let mut case = upload_mapping();
        let mut changed = live_mapping();
        changed.batch_size = Some(5);
        changed.maximum_batching_window_seconds = Some(20);
        changed.state = Some("Disabled".into());
        changed.function_arn =
            Some("arn:aws:lambda:eu-west-1:111111111111:function:someone-elses".into());
        changed.function_response_types = vec![];
        case.live
            .event_source_mappings
            .insert("9b3c".into(), changed);
        let found = differences(&case, "9b3c");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "FunctionName",
                "BatchSize",
                "MaximumBatchingWindowInSeconds",
                "Enabled",
                "FunctionResponseTypes"
            ]
        );
        assert_eq!(
            (&found[1].expected, &found[1].actual),
            (&json!(10), &json!(5))
        );
        // Undeclared: the SQS default window of 0 seconds.
        assert_eq!(
            (&found[2].expected, &found[2].actual),
            (&json!(0), &json!(20))
        );
        assert_eq!(found[3].actual, json!(false));
    }

    #[test]
    fn undeclared_batch_size_and_enabled_are_lambdas_defaults_per_source() {
        let declared = |source: &str| {
            Case::new(
                "AWS::Lambda::EventSourceMapping",
                json!({"FunctionName": "f", "EventSourceArn": source}),
            )
        };
        let mut sqs = declared(UPLOADS);
        let mut live = live_mapping();
        live.function_arn = Some("arn:aws:lambda:eu-west-1:111111111111:function:f".into());
        live.function_response_types = vec![];
        live.batch_size = Some(100);
        sqs.live
            .event_source_mappings
            .insert("9b3c".into(), live.clone());
        assert_eq!(mapping_paths(&sqs), ["BatchSize"], "SQS defaults to 10");

        let stream = "arn:aws:kinesis:eu-west-1:111111111111:stream/clicks";
        let mut kinesis = declared(stream);
        live.event_source_arn = Some(stream.into());
        kinesis
            .live
            .event_source_mappings
            .insert("9b3c".into(), live.clone());
        assert_eq!(
            mapping_paths(&kinesis),
            Vec::<String>::new(),
            "streams default to 100"
        );

        // Creating or updating: its state says nothing yet about Enabled.
        live.state = Some("Updating".into());
        kinesis
            .live
            .event_source_mappings
            .insert("9b3c".into(), live.clone());
        assert_eq!(mapping_paths(&kinesis), Vec::<String>::new());
        live.state = Some("Disabling".into());
        kinesis
            .live
            .event_source_mappings
            .insert("9b3c".into(), live);
        assert_eq!(mapping_paths(&kinesis), ["Enabled"]);
    }

    #[test]
    fn a_missing_mapping_is_deleted() {
        assert!(is_deleted(&upload_mapping(), "9b3c"));
    }

    const FANOUT: &str = "arn:aws:sqs:eu-west-1:111111111111:photofeed-dev-feedFanout";
    const TOPIC: &str = "arn:aws:sns:eu-west-1:111111111111:photofeed-dev-photoProcessed";

    fn processed_topic() -> Case {
        Case::new(
            "AWS::SNS::Topic",
            json!({
                "TopicName": "photofeed-dev-photoProcessed",
                "KmsMasterKeyId": "alias/aws/sns",
                "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Fanout", "Arn"]}}]
            }),
        )
        .declare(
            "Fanout",
            "AWS::SQS::Queue",
            json!({"QueueName": "photofeed-dev-feedFanout"}),
        )
        .physical(
            "Fanout",
            "https://sqs.eu-west-1.amazonaws.com/111111111111/photofeed-dev-feedFanout",
        )
    }

    fn sqs(endpoint: &str) -> Subscription {
        Subscription {
            protocol: "sqs".into(),
            endpoint: endpoint.into(),
        }
    }

    fn with_topic(mut case: Case, topic: Topic) -> Case {
        let queue = crate::aws::live::Queue {
            url: "https://sqs.eu-west-1.amazonaws.com/111111111111/photofeed-dev-feedFanout".into(),
            attributes: [("QueueArn".to_owned(), FANOUT.to_owned())].into(),
        };
        case.live.queues.insert(queue.url.clone(), queue);
        case.live.topics.insert(TOPIC.into(), topic);
        case
    }

    fn live_topic(subscriptions: Vec<Subscription>) -> Topic {
        Topic {
            arn: TOPIC.into(),
            kms_master_key_id: Some("alias/aws/sns".into()),
            subscriptions,
        }
    }

    #[test]
    fn a_topic_as_declared_is_in_sync() {
        let case = with_topic(processed_topic(), live_topic(vec![sqs(FANOUT)]));
        assert_eq!(differences(&case, TOPIC), vec![]);
    }

    #[test]
    fn an_unsubscribed_queue_is_drift() {
        let case = with_topic(processed_topic(), live_topic(vec![]));
        let found = differences(&case, TOPIC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "Subscription");
        assert_eq!(
            found[0].expected,
            json!([{"Protocol": "sqs", "Endpoint": FANOUT}])
        );
        assert_eq!(found[0].actual, json!([]));
        assert_eq!(found[0].severity, Severity::Normal);
    }

    #[test]
    fn a_subscription_added_by_hand_is_security_drift() {
        let stranger = "arn:aws:sqs:eu-west-1:222222222222:listening";
        let case = with_topic(
            processed_topic(),
            live_topic(vec![sqs(stranger), sqs(FANOUT)]),
        );
        let found = differences(&case, TOPIC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].actual,
            json!([{"Protocol": "sqs", "Endpoint": FANOUT}, {"Protocol": "sqs", "Endpoint": stranger}]),
            "sorted, whatever order SNS lists them in"
        );
        assert_eq!(found[0].severity, Severity::Security);
        // A topic declared without subscriptions has none.
        let bare = Case::new(
            "AWS::SNS::Topic",
            json!({"KmsMasterKeyId": "alias/aws/sns"}),
        );
        let found = differences(&with_topic(bare, live_topic(vec![sqs(stranger)])), TOPIC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].expected, json!([]));
    }

    #[test]
    fn encryption_switched_off_is_security_drift_and_an_unresolvable_endpoint_is_skipped() {
        let mut topic = live_topic(vec![sqs(FANOUT)]);
        topic.kms_master_key_id = None;
        let mut case = with_topic(processed_topic(), topic);
        let found = differences(&case, TOPIC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "KmsMasterKeyId");
        assert_eq!(found[0].actual, json!(null));
        assert_eq!(found[0].severity, Severity::Security);
        // The queue was not read, so its ARN is unknown: the subscriptions are not compared.
        case.live.queues.clear();
        case.live
            .topics
            .get_mut(TOPIC)
            .unwrap()
            .subscriptions
            .clear();
        let paths: Vec<String> = differences(&case, TOPIC)
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert_eq!(paths, ["KmsMasterKeyId"]);
    }

    #[test]
    fn a_missing_topic_is_deleted() {
        assert!(is_deleted(&processed_topic(), TOPIC));
    }

    const NOTES_LOGS: &str = "/aws/vendedlogs/http-api/notes-dev-notes";

    fn notes_stage() -> Case {
        Case::new(
            "AWS::ApiGatewayV2::Stage",
            json!({
                "ApiId": {"Ref": "NotesApi"},
                "StageName": "dev",
                "AutoDeploy": true,
                "AccessLogSettings": {
                    "DestinationArn": {"Fn::GetAtt": ["NotesApiAccessLogs", "Arn"]},
                    "Format": "{\"requestId\":\"$context.requestId\"}"
                },
                "DefaultRouteSettings": {"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 10}
            }),
        )
        .declare(
            "NotesApi",
            "AWS::ApiGatewayV2::Api",
            json!({"ProtocolType": "HTTP"}),
        )
        .physical("NotesApi", "a1b2c3d4e5")
        .declare(
            "NotesApiAccessLogs",
            "AWS::Logs::LogGroup",
            json!({"LogGroupName": NOTES_LOGS}),
        )
        .physical("NotesApiAccessLogs", NOTES_LOGS)
    }

    fn stage_id() -> StageId {
        StageId {
            api_id: "a1b2c3d4e5".into(),
            stage_name: "dev".into(),
        }
    }

    fn live_stage() -> ApiStage {
        ApiStage {
            id: stage_id(),
            auto_deploy: Some(true),
            // As API Gateway keeps it: without the `:*` of the log group's `Arn` attribute.
            access_log_destination: Some(format!(
                "arn:aws:logs:eu-west-1:111111111111:log-group:{NOTES_LOGS}"
            )),
            access_log_format: Some("{\"requestId\":\"$context.requestId\"}".into()),
            throttling_burst_limit: Some(20),
            throttling_rate_limit: Some(10.0),
        }
    }

    fn with_stage(mut case: Case, stage: ApiStage) -> Case {
        case.live.api_stages.insert(stage.id.clone(), stage);
        case
    }

    #[test]
    fn a_stage_as_declared_is_in_sync_found_by_its_apis_id_and_its_name() {
        let case = with_stage(notes_stage(), live_stage());
        // The stage's physical id is its name (Ref); the API's id comes from the declared ApiId.
        assert_eq!(differences(&case, "dev"), vec![]);
        let mut with_suffix = live_stage();
        with_suffix.access_log_destination = Some(format!(
            "arn:aws:logs:eu-west-1:111111111111:log-group:{NOTES_LOGS}:*"
        ));
        assert_eq!(
            differences(&with_stage(notes_stage(), with_suffix), "dev"),
            vec![]
        );
    }

    #[test]
    fn throttling_auto_deploy_and_access_logging_drift_are_reported() {
        let mut changed = live_stage();
        changed.throttling_burst_limit = Some(5000);
        changed.throttling_rate_limit = None;
        changed.auto_deploy = Some(false);
        let found = differences(&with_stage(notes_stage(), changed), "dev");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "AutoDeploy",
                "DefaultRouteSettings.ThrottlingBurstLimit",
                "DefaultRouteSettings.ThrottlingRateLimit"
            ]
        );
        assert_eq!(
            (&found[1].expected, &found[1].actual),
            (&json!(20), &json!(5000))
        );
        assert_eq!(
            found[2].actual,
            json!(null),
            "the stage's rate limit removed"
        );
        assert!(found.iter().all(|d| d.severity == Severity::Normal));

        let mut unlogged = live_stage();
        unlogged.access_log_destination = None;
        unlogged.access_log_format = None;
        let found = differences(&with_stage(notes_stage(), unlogged), "dev");
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "AccessLogSettings.DestinationArn",
                "AccessLogSettings.Format"
            ]
        );
        assert!(
            found.iter().all(|d| d.severity == Severity::Security),
            "access logging off is security drift: {found:?}"
        );
    }

    #[test]
    fn an_undeclared_stage_setting_is_api_gateways_default() {
        let bare = Case::new(
            "AWS::ApiGatewayV2::Stage",
            json!({"ApiId": "a1b2c3d4e5", "StageName": "dev"}),
        );
        let mut live = live_stage();
        live.auto_deploy = Some(false);
        live.access_log_destination = None;
        live.access_log_format = None;
        assert_eq!(differences(&with_stage(bare, live.clone()), "dev"), vec![]);
        // Logging someone turned on, and automatic deployment.
        live.auto_deploy = Some(true);
        live.access_log_destination =
            Some("arn:aws:logs:eu-west-1:111111111111:log-group:x".into());
        let bare = Case::new(
            "AWS::ApiGatewayV2::Stage",
            json!({"ApiId": "a1b2c3d4e5", "StageName": "dev"}),
        );
        let paths: Vec<String> = differences(&with_stage(bare, live), "dev")
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert_eq!(paths, ["AutoDeploy", "AccessLogSettings.DestinationArn"]);
    }

    #[test]
    fn a_missing_stage_is_deleted_and_an_unknown_api_is_noted() {
        assert!(is_deleted(&notes_stage(), "dev"));
        let mut other_api = live_stage();
        other_api.id.api_id = "zzzz".into();
        assert!(is_deleted(&with_stage(notes_stage(), other_api), "dev"));
        let unresolved = Case::new(
            "AWS::ApiGatewayV2::Stage",
            json!({"ApiId": {"Ref": "NotDeployed"}, "StageName": "dev"}),
        );
        match verdict(&unresolved, "dev") {
            Verdict::Checked {
                differences,
                unchecked,
            } => {
                assert_eq!(differences, vec![]);
                assert_eq!(unchecked[0].property, "ApiId");
            }
            Verdict::Deleted => panic!("an unknown API is not a deleted stage"),
        }
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
