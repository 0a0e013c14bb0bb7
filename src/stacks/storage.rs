//! Queues (each with a dead-letter queue) and buckets (encrypted, versioned, private, TLS-only),
//! with bucket -> queue and bucket -> function notifications, and one policy per queue admitting
//! exactly its senders: the buckets that notify it and the topics it subscribes to (`topics.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::KeyChoice;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub};
use crate::model::{Lifecycle, Resource, Template};
use crate::naming::{self, pascal_case};
use crate::stacks::functions::{self, FunctionComponent};
use crate::stacks::topics::{self, TopicComponent};
use crate::stacks::{StackContext, kms};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueComponent {
    /// Short name, unique in the stack; the queue is named `{project}-{env}-{name}`.
    pub name: String,
    #[serde(default)]
    pub fifo: bool,
    pub visibility_timeout_seconds: u32,
    pub message_retention_seconds: u32,
    /// Receives before a message moves to the dead-letter queue.
    #[serde(default = "default_max_receive_count")]
    pub max_receive_count: u32,
    /// How long the dead-letter queue keeps messages for inspection (default: the SQS maximum).
    #[serde(default = "default_dead_letter_retention")]
    pub dead_letter_retention_seconds: u32,
    /// SSE-SQS (`aws_managed`, the default) or a KMS key of the stack for the queue and its
    /// dead-letter queue (`customer_managed`).
    #[serde(default = "aws_managed")]
    pub encryption_key: KeyChoice,
}

fn aws_managed() -> KeyChoice {
    KeyChoice::AwsManaged
}

/// Server access logging of a stack's buckets: on unless switched off, into a log bucket of the
/// stack that keeps the logs `retention_days`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogs {
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_access_log_retention")]
    pub retention_days: u32,
}

impl Default for AccessLogs {
    fn default() -> Self {
        AccessLogs {
            enabled: true,
            retention_days: default_access_log_retention(),
        }
    }
}

fn enabled() -> bool {
    true
}

fn default_access_log_retention() -> u32 {
    365
}

fn default_max_receive_count() -> u32 {
    5
}

fn default_dead_letter_retention() -> u32 {
    1_209_600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketComponent {
    /// What the bucket is for (`inbox`); part of its globally unique name.
    pub purpose: String,
    #[serde(default)]
    pub lifecycle: Vec<LifecycleRule>,
    /// Queues told about object events.
    #[serde(default)]
    pub notify: Vec<Notification>,
    /// SSE-S3 (`aws_managed`, the default) or SSE-KMS with a key of the stack shared by its
    /// buckets (`customer_managed`).
    #[serde(default = "aws_managed")]
    pub encryption_key: KeyChoice,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    pub id: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub expire_after_days: Option<u32>,
    #[serde(default)]
    pub noncurrent_versions_expire_after_days: Option<u32>,
    #[serde(default)]
    pub abort_incomplete_uploads_after_days: Option<u32>,
}

/// Where a bucket sends object events: a queue or a function of the same stack (exactly one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// Name of a queue in the same stack.
    #[serde(default)]
    pub queue: Option<String>,
    /// Name of a function in the same stack.
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
}

fn default_events() -> Vec<String> {
    vec!["s3:ObjectCreated:*".to_string()]
}

/// SQS limits, checked both for an environment's queue defaults and for each queue.
pub const VISIBILITY_TIMEOUT_SECONDS: RangeInclusive<u32> = 0..=43_200;
pub const RETENTION_SECONDS: RangeInclusive<u32> = 60..=1_209_600;
pub const MAX_RECEIVE_COUNT: RangeInclusive<u32> = 1..=1_000;

/// `Err("is 50000, SQS allows 0 to 43200")` when `value` is outside `limit`.
pub fn check_sqs_limit(value: u32, limit: &RangeInclusive<u32>) -> Result<(), String> {
    if limit.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "is {value}, SQS allows {} to {}",
            limit.start(),
            limit.end()
        ))
    }
}

pub fn queue_id(name: &str) -> String {
    format!("{}Queue", pascal_case(name))
}

pub fn dead_letter_queue_id(name: &str) -> String {
    format!("{}DeadLetterQueue", pascal_case(name))
}

pub fn bucket_id(purpose: &str) -> String {
    format!("{}Bucket", pascal_case(purpose))
}

pub fn queue_url_output(name: &str) -> String {
    format!("{}QueueUrl", pascal_case(name))
}

pub fn queue_arn_output(name: &str) -> String {
    format!("{}QueueArn", pascal_case(name))
}

pub fn bucket_name_output(purpose: &str) -> String {
    format!("{}BucketName", pascal_case(purpose))
}

/// Names for a message, or `(none)`.
pub fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// The components of one stack this module builds or needs to know about.
pub struct StorageComponents<'a> {
    pub queues: &'a [QueueComponent],
    pub buckets: &'a [BucketComponent],
    pub topics: &'a [TopicComponent],
    /// Functions of the same stack, which buckets may notify.
    pub functions: &'a [FunctionComponent],
    pub access_logs: &'a AccessLogs,
}

pub const ACCESS_LOG_BUCKET: &str = "AccessLogBucket";
const BUCKETS_KEY: &str = "BucketsKey";

fn queue_key_id(name: &str) -> String {
    format!("{}QueueKey", pascal_case(name))
}

pub fn build(
    components: StorageComponents,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let StorageComponents {
        queues,
        buckets,
        topics,
        functions,
        access_logs,
    } = components;
    let mut problems = Vec::new();
    check_unique(
        queues.iter().map(|q| q.name.as_str()),
        "queues",
        "name",
        ctx,
        &mut problems,
    );
    check_unique(
        buckets.iter().map(|b| b.purpose.as_str()),
        "buckets",
        "purpose",
        ctx,
        &mut problems,
    );
    let senders = senders(buckets, topics, ctx);
    let no_senders = Senders::default();
    for (index, queue) in queues.iter().enumerate() {
        let sending = senders.get(queue.name.as_str()).unwrap_or(&no_senders);
        if let Err(problem) = build_queue(index, queue, sending, ctx, template) {
            problems.push(problem);
        }
    }
    let queue_names: BTreeMap<&str, &QueueComponent> =
        queues.iter().map(|q| (q.name.as_str(), q)).collect();
    let logging = access_logs.enabled && !buckets.is_empty();
    if logging && let Err(mut found) = access_log_bucket(access_logs, buckets, ctx, template) {
        problems.append(&mut found);
    }
    if buckets
        .iter()
        .any(|b| b.encryption_key == KeyChoice::CustomerManaged)
        && let Err(problem) = ctx.add(
            template,
            "buckets",
            BUCKETS_KEY,
            kms::key(ctx, "Objects of the stack's buckets", "buckets", vec![]),
        )
    {
        problems.push(problem);
    }
    let function_names = functions::names(functions);
    for (index, bucket) in buckets.iter().enumerate() {
        if let Err(mut found) = build_bucket(
            index,
            bucket,
            &queue_names,
            &function_names,
            logging,
            ctx,
            template,
        ) {
            problems.append(&mut found);
        }
    }
    if let Err(mut found) = topics::build(topics, &queue_names, ctx, template) {
        problems.append(&mut found);
    }
    for (queue, senders) in &senders {
        if !queue_names.contains_key(queue.as_str()) {
            continue; // reported by build_bucket or topics::build
        }
        if let Err(problem) = queue_policy(queue, senders, ctx, template) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

pub(crate) fn check_unique<'a>(
    names: impl Iterator<Item = &'a str>,
    list: &str,
    key: &str,
    ctx: &StackContext,
    problems: &mut Vec<Diagnostic>,
) {
    let mut seen = BTreeSet::new();
    for (index, name) in names.enumerate() {
        // Logical ids are derived from the name, so names that differ only in case or separators clash too.
        if !seen.insert(pascal_case(name)) {
            problems.push(ctx.diagnostic(
                &format!("{list}[{index}].{key}"),
                format!("duplicate {key} `{name}`"),
            ));
        }
    }
}

fn queue_name(ctx: &StackContext, queue: &QueueComponent, suffix: &str) -> String {
    let fifo = if queue.fifo { ".fifo" } else { "" };
    format!("{}-{}{suffix}{fifo}", ctx.prefix(), queue.name)
}

fn build_queue(
    index: usize,
    queue: &QueueComponent,
    senders: &Senders,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Diagnostic> {
    let field = format!("queues[{index}]");
    let name = queue_name(ctx, queue, "");
    let dead_letter_name = queue_name(ctx, queue, "-dlq");
    for candidate in [&name, &dead_letter_name] {
        naming::check_queue_name(candidate, queue.fifo)
            .map_err(|m| ctx.diagnostic(&format!("{field}.name"), m))?;
    }
    for (key, value, limit) in [
        (
            "visibility_timeout_seconds",
            queue.visibility_timeout_seconds,
            VISIBILITY_TIMEOUT_SECONDS,
        ),
        (
            "message_retention_seconds",
            queue.message_retention_seconds,
            RETENTION_SECONDS,
        ),
        (
            "dead_letter_retention_seconds",
            queue.dead_letter_retention_seconds,
            RETENTION_SECONDS,
        ),
        (
            "max_receive_count",
            queue.max_receive_count,
            MAX_RECEIVE_COUNT,
        ),
    ] {
        check_sqs_limit(value, &limit).map_err(|m| ctx.diagnostic(&format!("{field}.{key}"), m))?;
    }

    let queue_id = queue_id(&queue.name);
    let dead_letter_id = dead_letter_queue_id(&queue.name);
    let mut dead_letter = json!({
        "QueueName": dead_letter_name,
        "MessageRetentionPeriod": queue.dead_letter_retention_seconds,
        "Tags": ctx.tags(Some(&format!("{}-dlq", queue.name))),
    });
    let mut main = json!({
        "QueueName": name,
        "VisibilityTimeout": queue.visibility_timeout_seconds,
        "MessageRetentionPeriod": queue.message_retention_seconds,
        "RedrivePolicy": {
            "deadLetterTargetArn": get_att(&dead_letter_id, "Arn"),
            "maxReceiveCount": queue.max_receive_count,
        },
        "Tags": ctx.tags(Some(&queue.name)),
    });
    if queue.fifo {
        dead_letter["FifoQueue"] = json!(true);
        main["FifoQueue"] = json!(true);
    }
    match queue.encryption_key {
        KeyChoice::AwsManaged => {
            for properties in [&mut dead_letter, &mut main] {
                properties["SqsManagedSseEnabled"] = json!(true);
            }
        }
        KeyChoice::CustomerManaged => {
            let key_id = queue_key_id(&queue.name);
            ctx.add(
                template,
                &field,
                &key_id,
                kms::key(
                    ctx,
                    &format!(
                        "Messages of the {} queue and its dead-letter queue",
                        queue.name
                    ),
                    &format!("{}-queue", queue.name),
                    notification_grants(senders, ctx),
                ),
            )?;
            // "KmsMasterKeyId: The ID of an AWS managed customer master key (CMK) for Amazon SQS
            // or a custom CMK" (AWS::SQS::Queue); SSE-SQS and SSE-KMS exclude each other.
            for properties in [&mut dead_letter, &mut main] {
                properties["KmsMasterKeyId"] = get_att(&key_id, "Arn");
            }
        }
    }
    // Messages are work in flight, not records: a replaced queue starts empty on purpose.
    ctx.add(
        template,
        &field,
        &dead_letter_id,
        Resource::new("AWS::SQS::Queue", dead_letter).lifecycle(Lifecycle::DELETE),
    )?;
    ctx.add(
        template,
        &field,
        &queue_id,
        Resource::new("AWS::SQS::Queue", main).lifecycle(Lifecycle::DELETE),
    )?;

    let base = pascal_case(&queue.name);
    for (output, description, value) in [
        (
            format!("{base}QueueUrl"),
            format!("URL of the {} queue", queue.name),
            reference(&queue_id),
        ),
        (
            format!("{base}QueueArn"),
            format!("ARN of the {} queue", queue.name),
            get_att(&queue_id, "Arn"),
        ),
        (
            format!("{base}DeadLetterQueueUrl"),
            format!("URL of the {} dead-letter queue", queue.name),
            reference(&dead_letter_id),
        ),
    ] {
        ctx.add_output(
            template,
            &field,
            &output,
            ctx.exported(&description, value, &output),
        )?;
    }
    Ok(())
}

fn bucket_name(ctx: &StackContext, bucket: &BucketComponent) -> String {
    naming::bucket_name(
        ctx.project(),
        &ctx.environment.name,
        &bucket.purpose,
        ctx.account_id(),
    )
}

fn build_bucket(
    index: usize,
    bucket: &BucketComponent,
    queues: &BTreeMap<&str, &QueueComponent>,
    functions: &BTreeMap<&str, &FunctionComponent>,
    logging: bool,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = format!("buckets[{index}]");
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);
    let name = bucket_name(ctx, bucket);
    one(naming::check_bucket_name(&name)
        .map_err(|m| ctx.diagnostic(&format!("{field}.purpose"), m)))?;
    let id = bucket_id(&bucket.purpose);

    let encryption = match bucket.encryption_key {
        KeyChoice::AwsManaged => json!({ "SSEAlgorithm": "AES256" }),
        KeyChoice::CustomerManaged => json!({
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": get_att(BUCKETS_KEY, "Arn"),
        }),
    };
    let mut properties = private_bucket(&name, encryption, ctx.tags(Some(&bucket.purpose)));
    if logging {
        // AWS::S3::Bucket LoggingConfiguration: DestinationBucketName "the name of the bucket where
        // Amazon S3 should store server access log files"; one prefix per source bucket.
        properties["LoggingConfiguration"] = json!({
            "DestinationBucketName": reference(ACCESS_LOG_BUCKET),
            "LogFilePrefix": format!("{}/", bucket.purpose),
        });
    }
    let rules = lifecycle_rules(&field, &bucket.lifecycle, ctx)?;
    if !rules.is_empty() {
        properties["LifecycleConfiguration"] = json!({ "Rules": rules });
    }
    let mut resource = Resource::new("AWS::S3::Bucket", Value::Null);
    if !bucket.notify.is_empty() {
        let mut to_queues = Vec::new();
        let mut to_functions = Vec::new();
        for (n, notification) in bucket.notify.iter().enumerate() {
            let path = format!("{field}.notify[{n}]");
            if notification.events.is_empty() {
                return Err(vec![
                    ctx.diagnostic(&format!("{path}.events"), "lists no events"),
                ]);
            }
            match (&notification.queue, &notification.function) {
                (Some(queue), None) => {
                    check_notified_queue(&path, queue, queues, ctx)?;
                    for event in &notification.events {
                        let configuration = json!({
                            "Event": event,
                            "Queue": get_att(&queue_id(queue), "Arn"),
                        });
                        to_queues.push(with_filter(configuration, notification));
                    }
                    // S3 checks it may send to the queue when the notification is created.
                    resource = resource.depends_on(queue_policy_id(queue));
                }
                (None, Some(function)) => {
                    if !functions.contains_key(function.as_str()) {
                        return Err(vec![ctx.diagnostic(
                            &format!("{path}.function"),
                            format!(
                                "unknown function `{function}`; a bucket notifies functions of its own stack: {}",
                                listing(functions.keys().copied())
                            ),
                        )]);
                    }
                    for event in &notification.events {
                        let configuration = json!({
                            "Event": event,
                            "Function": get_att(&functions::function_id(function), "Arn"),
                        });
                        to_functions.push(with_filter(configuration, notification));
                    }
                    let permission = invoke_permission(bucket, function, &name, ctx, template)
                        .map_err(|d| vec![d])?;
                    // S3 checks it may invoke the function when the notification is created.
                    resource = resource.depends_on(permission);
                }
                _ => {
                    return Err(vec![
                        ctx.diagnostic(&path, "names exactly one of `queue` or `function`"),
                    ]);
                }
            }
        }
        let mut configuration = serde_json::Map::new();
        if !to_queues.is_empty() {
            configuration.insert("QueueConfigurations".into(), Value::Array(to_queues));
        }
        if !to_functions.is_empty() {
            configuration.insert("LambdaConfigurations".into(), Value::Array(to_functions));
        }
        properties["NotificationConfiguration"] = Value::Object(configuration);
    }
    resource.properties = properties;
    // Objects are the data: keep the bucket when the stack goes or the bucket is replaced, but not
    // when its own first creation rolls back. A bucket kept then is empty, yet holds its globally
    // unique name, and the next apply fails with "already exists" (see `Lifecycle::KEEP`).
    one(ctx.add(template, &field, &id, resource.lifecycle(Lifecycle::KEEP)))?;

    one(ctx.add(
        template,
        &field,
        &format!("{id}Policy"),
        bucket_policy(&id, vec![]),
    ))?;

    one(ctx.add_name_and_arn_outputs(template, &field, &id, "Bucket", &bucket.purpose))
}

/// Encrypted (`encryption` is the `ServerSideEncryptionByDefault`), versioned, all four public
/// access blocks on, ACLs disabled (bucket owner enforced).
fn private_bucket(name: &str, encryption: Value, tags: Value) -> Value {
    json!({
        "BucketName": name,
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": encryption,
                "BucketKeyEnabled": true,
            }],
        },
        "VersioningConfiguration": { "Status": "Enabled" },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true,
        },
        "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
        "Tags": tags,
    })
}

/// The bucket's policy: TLS only, plus `grants`.
fn bucket_policy(id: &str, grants: Vec<Value>) -> Resource {
    let mut statements = vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [get_att(id, "Arn"), sub(&format!("${{{id}.Arn}}/*"))],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })];
    statements.extend(grants);
    Resource::new(
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": reference(id),
            "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
        }),
    )
}

/// The stack's access log bucket, into which its other buckets log.
///
/// S3 User Guide, Enabling Amazon S3 server access logging: the destination bucket must be in the
/// same Region and account; "You can use default bucket encryption on the destination bucket only
/// if you use server-side encryption with Amazon S3 managed keys (SSE-S3)" (so SSE-S3 here whatever
/// the environment's key choice); S3 buckets with Object Lock can't be destinations (S3 User Guide,
/// Object Lock considerations), so no Object Lock. With ACLs disabled (bucket owner enforced), log
/// delivery is granted by the bucket policy to the logging service principal
/// `logging.s3.amazonaws.com`, limited with `aws:SourceArn` to the source buckets and
/// `aws:SourceAccount` to the account (S3 User Guide, Permissions for log delivery).
fn access_log_bucket(
    access_logs: &AccessLogs,
    buckets: &[BucketComponent],
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = "access_logs";
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);
    if access_logs.retention_days == 0 {
        return Err(vec![ctx.diagnostic(
            "access_logs.retention_days",
            "is 0, must be at least 1 (days the log bucket keeps access logs)",
        )]);
    }
    let name = naming::bucket_name(
        ctx.project(),
        &ctx.environment.name,
        &format!("{}-access-logs", ctx.stack),
        ctx.account_id(),
    );
    one(naming::check_bucket_name(&name).map_err(|m| ctx.diagnostic(field, m)))?;
    // It does not log itself: its own log deliveries would be logged again, without end (S3 User
    // Guide, Enabling Amazon S3 server access logging); policies/storage.guard accepts a bucket
    // without LoggingConfiguration only as another bucket's destination.
    let mut properties = private_bucket(
        &name,
        json!({ "SSEAlgorithm": "AES256" }),
        ctx.tags(Some("access-logs")),
    );
    properties["LifecycleConfiguration"] = json!({ "Rules": [{
        "Id": "expire-access-logs",
        "Status": "Enabled",
        "ExpirationInDays": access_logs.retention_days,
        "NoncurrentVersionExpiration": { "NoncurrentDays": 1 },
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 },
    }]});
    one(ctx.add(
        template,
        field,
        ACCESS_LOG_BUCKET,
        Resource::new("AWS::S3::Bucket", properties).lifecycle(Lifecycle::KEEP),
    ))?;
    let mut sources: Vec<String> = buckets.iter().map(|b| bucket_name(ctx, b)).collect();
    sources.sort();
    let delivery = json!({
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": { "Service": "logging.s3.amazonaws.com" },
        "Action": "s3:PutObject",
        "Resource": sub(&format!("${{{ACCESS_LOG_BUCKET}.Arn}}/*")),
        "Condition": from_buckets_of_this_account(&sources, ctx),
    });
    one(ctx.add(
        template,
        field,
        &format!("{ACCESS_LOG_BUCKET}Policy"),
        bucket_policy(ACCESS_LOG_BUCKET, vec![delivery]),
    ))?;
    one(ctx.add_output(
        template,
        field,
        "AccessLogBucketName",
        ctx.exported(
            "Name of the bucket with the server access logs of this stack's buckets",
            reference(ACCESS_LOG_BUCKET),
            "AccessLogBucketName",
        ),
    ))
}

/// The key policy statements without which S3 and SNS cannot send to a queue encrypted with a
/// customer-managed key: "If you turn on server-side encryption for the queue ... you must give
/// the Amazon S3 service principal `kms:GenerateDataKey` and `kms:Decrypt` permissions" on the key,
/// otherwise the notifications are not delivered (S3 User Guide, Walkthrough: Configuring a bucket
/// for notifications), and the same two actions for `sns.amazonaws.com` for a subscribed topic (SQS
/// Developer Guide, Enable compatibility between event sources from AWS services and encrypted
/// queues). Limited to exactly the notifying buckets of this account and the subscribed topics; the
/// topics' ARNs are built from their names because a topic waits for its queue, which waits for
/// its key.
fn notification_grants(senders: &Senders, ctx: &StackContext) -> Vec<Value> {
    let mut grants = Vec::new();
    if !senders.buckets.is_empty() {
        grants.push(json!({
            "Sid": "AllowBucketNotificationsToEncryptedQueue",
            "Effect": "Allow",
            "Principal": { "Service": "s3.amazonaws.com" },
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": from_buckets_of_this_account(&senders.buckets, ctx),
        }));
    }
    if !senders.topics.is_empty() {
        let sources: Vec<Value> = senders
            .topics
            .iter()
            .map(|topic| topics::topic_arn(ctx, topic))
            .collect();
        grants.push(json!({
            "Sid": "AllowTopicMessagesToEncryptedQueue",
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": { "ArnEquals": { "aws:SourceArn": sources } },
        }));
    }
    grants
}

/// A policy condition admitting a service acting for exactly the named buckets of this account
/// (IAM User Guide, The confused deputy problem: aws:SourceArn and aws:SourceAccount).
fn from_buckets_of_this_account(bucket_names: &[String], ctx: &StackContext) -> Value {
    let sources: Vec<Value> = bucket_names
        .iter()
        .map(|name| sub(&format!("arn:${{AWS::Partition}}:s3:::{name}")))
        .collect();
    json!({
        "ArnLike": { "aws:SourceArn": sources },
        "StringEquals": { "aws:SourceAccount": ctx.account_id() },
    })
}

fn with_filter(mut configuration: Value, notification: &Notification) -> Value {
    let mut rules = Vec::new();
    if let Some(prefix) = &notification.prefix {
        rules.push(json!({ "Name": "prefix", "Value": prefix }));
    }
    if let Some(suffix) = &notification.suffix {
        rules.push(json!({ "Name": "suffix", "Value": suffix }));
    }
    if !rules.is_empty() {
        configuration["Filter"] = json!({ "S3Key": { "Rules": rules } });
    }
    configuration
}

fn lifecycle_rules(
    field: &str,
    rules: &[LifecycleRule],
    ctx: &StackContext,
) -> Result<Vec<Value>, Vec<Diagnostic>> {
    let mut rendered = Vec::new();
    let mut ids = BTreeSet::new();
    for (index, rule) in rules.iter().enumerate() {
        let path = format!("{field}.lifecycle[{index}]");
        if !ids.insert(rule.id.as_str()) {
            return Err(vec![ctx.diagnostic(
                &format!("{path}.id"),
                format!("duplicate rule id `{}`", rule.id),
            )]);
        }
        let mut value = json!({ "Id": rule.id, "Status": "Enabled" });
        if let Some(prefix) = &rule.prefix {
            value["Prefix"] = json!(prefix);
        }
        let mut actions = 0;
        if let Some(days) = rule.expire_after_days {
            value["ExpirationInDays"] = json!(days);
            actions += 1;
        }
        if let Some(days) = rule.noncurrent_versions_expire_after_days {
            value["NoncurrentVersionExpiration"] = json!({ "NoncurrentDays": days });
            actions += 1;
        }
        if let Some(days) = rule.abort_incomplete_uploads_after_days {
            value["AbortIncompleteMultipartUpload"] = json!({ "DaysAfterInitiation": days });
            actions += 1;
        }
        if actions == 0 {
            return Err(vec![ctx.diagnostic(&path, "has no action; set expire_after_days, noncurrent_versions_expire_after_days or abort_incomplete_uploads_after_days")]);
        }
        rendered.push(value);
    }
    Ok(rendered)
}

fn check_notified_queue(
    path: &str,
    queue: &str,
    queues: &BTreeMap<&str, &QueueComponent>,
    ctx: &StackContext,
) -> Result<(), Vec<Diagnostic>> {
    match queues.get(queue) {
        None => Err(vec![ctx.diagnostic(
            &format!("{path}.queue"),
            format!(
                "unknown queue `{queue}`; queues in this stack: {}",
                listing(queues.keys().copied())
            ),
        )]),
        Some(found) if found.fifo => Err(vec![ctx.diagnostic(
            &format!("{path}.queue"),
            format!(
                "queue `{queue}` is a FIFO queue, and S3 cannot notify one: \"FIFO queues are not \
                 allowed when enabling an SQS queue as the event notification destination\" \
                 (CloudFormation reference, AWS::S3::Bucket QueueConfiguration); notify a \
                 standard queue"
            ),
        )]),
        Some(_) => Ok(()),
    }
}

/// Lets S3 invoke `function` for events of exactly this bucket of this account. The bucket's ARN is
/// built from its name, not `Fn::GetAtt`: the bucket waits for this permission (S3 checks it when
/// the notification is created), so the permission cannot wait for the bucket.
fn invoke_permission(
    bucket: &BucketComponent,
    function: &str,
    bucket_name: &str,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<String, Diagnostic> {
    let id = format!(
        "{}Invokes{}Permission",
        bucket_id(&bucket.purpose),
        pascal_case(function)
    );
    if template.resources.contains_key(&id) {
        return Ok(id);
    }
    ctx.add(
        template,
        "buckets",
        &id,
        Resource::new(
            "AWS::Lambda::Permission",
            json!({
                "FunctionName": reference(&functions::function_id(function)),
                "Action": "lambda:InvokeFunction",
                "Principal": "s3.amazonaws.com",
                "SourceArn": sub(&format!("arn:${{AWS::Partition}}:s3:::{bucket_name}")),
                "SourceAccount": ctx.account_id(),
            }),
        ),
    )?;
    Ok(id)
}

fn queue_policy_id(queue: &str) -> String {
    format!("{}QueuePolicy", pascal_case(queue))
}

/// The buckets (by bucket name) and topics (by component name) that send to one queue, sorted.
#[derive(Debug, Default)]
pub struct Senders {
    buckets: Vec<String>,
    topics: Vec<String>,
}

/// Which buckets and topics send to each queue: one queue policy (and, for a queue under a key of
/// the stack, one key policy) admits exactly those. Unknown queues are reported where they are named.
fn senders(
    buckets: &[BucketComponent],
    topics: &[TopicComponent],
    ctx: &StackContext,
) -> BTreeMap<String, Senders> {
    let mut senders: BTreeMap<String, Senders> = BTreeMap::new();
    for bucket in buckets {
        for queue in bucket.notify.iter().filter_map(|n| n.queue.as_deref()) {
            senders
                .entry(queue.to_owned())
                .or_default()
                .buckets
                .push(bucket_name(ctx, bucket));
        }
    }
    for topic in topics {
        for subscriber in &topic.subscribers {
            senders
                .entry(subscriber.queue.clone())
                .or_default()
                .topics
                .push(topic.name.clone());
        }
    }
    for sending in senders.values_mut() {
        sending.buckets.sort();
        sending.buckets.dedup();
        sending.topics.sort();
        sending.topics.dedup();
    }
    senders
}

/// Admits only the named buckets of this account and the named topics to send to the queue.
fn queue_policy(
    queue: &str,
    senders: &Senders,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Diagnostic> {
    let Senders { buckets, topics } = senders;
    let id = queue_id(queue);
    let mut statements = Vec::new();
    if !buckets.is_empty() {
        statements.push(json!({
            "Sid": "AllowBucketNotifications",
            "Effect": "Allow",
            "Principal": { "Service": "s3.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": get_att(&id, "Arn"),
            "Condition": from_buckets_of_this_account(buckets, ctx),
        }));
    }
    if !topics.is_empty() {
        // SNS Developer Guide, Fanout to Amazon SQS queues: the queue policy allows
        // `sns.amazonaws.com` to SendMessage with an `aws:SourceArn` condition on the topic.
        let sources: Vec<Value> = topics
            .iter()
            .map(|topic| reference(&topics::topic_id(topic)))
            .collect();
        statements.push(json!({
            "Sid": "AllowTopicMessages",
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": get_att(&id, "Arn"),
            "Condition": { "ArnEquals": { "aws:SourceArn": sources } },
        }));
    }
    ctx.add(
        template,
        "queues",
        &queue_policy_id(queue),
        Resource::new(
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [reference(&id)],
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
            }),
        ),
    )
}
