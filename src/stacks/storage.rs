//! Queues (each with a dead-letter queue) and buckets (encrypted, versioned, private, TLS-only),
//! with bucket -> queue notifications and the queue policies that admit them.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub};
use crate::model::{Lifecycle, Resource, Template};
use crate::naming::{self, pascal_case};
use crate::stacks::StackContext;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// Name of a queue in the same stack.
    pub queue: String,
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

pub fn build(
    queues: &[QueueComponent],
    buckets: &[BucketComponent],
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
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
    for (index, queue) in queues.iter().enumerate() {
        if let Err(problem) = build_queue(index, queue, ctx, template) {
            problems.push(problem);
        }
    }
    let queue_names: BTreeMap<&str, &QueueComponent> =
        queues.iter().map(|q| (q.name.as_str(), q)).collect();
    // Which buckets notify each queue: one policy per queue admits exactly those buckets.
    let mut senders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (index, bucket) in buckets.iter().enumerate() {
        match build_bucket(index, bucket, &queue_names, ctx, template) {
            Ok(()) => {
                for notification in &bucket.notify {
                    senders
                        .entry(notification.queue.as_str())
                        .or_default()
                        .push(bucket_name(ctx, bucket));
                }
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    for (queue, buckets) in senders {
        if let Err(problem) = queue_policy(queue, &buckets, ctx, template) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_unique<'a>(
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
        "SqsManagedSseEnabled": true,
        "Tags": ctx.tags(Some(&format!("{}-dlq", queue.name))),
    });
    let mut main = json!({
        "QueueName": name,
        "VisibilityTimeout": queue.visibility_timeout_seconds,
        "MessageRetentionPeriod": queue.message_retention_seconds,
        "SqsManagedSseEnabled": true,
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
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = format!("buckets[{index}]");
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);
    let name = bucket_name(ctx, bucket);
    one(naming::check_bucket_name(&name)
        .map_err(|m| ctx.diagnostic(&format!("{field}.purpose"), m)))?;
    let id = bucket_id(&bucket.purpose);

    let mut properties = json!({
        "BucketName": name,
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" },
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
        "Tags": ctx.tags(Some(&bucket.purpose)),
    });
    let rules = lifecycle_rules(&field, &bucket.lifecycle, ctx)?;
    if !rules.is_empty() {
        properties["LifecycleConfiguration"] = json!({ "Rules": rules });
    }
    let mut resource = Resource::new("AWS::S3::Bucket", Value::Null);
    if !bucket.notify.is_empty() {
        let mut configurations = Vec::new();
        for (n, notification) in bucket.notify.iter().enumerate() {
            let path = format!("{field}.notify[{n}]");
            if !queues.contains_key(notification.queue.as_str()) {
                let known: Vec<&str> = queues.keys().copied().collect();
                return Err(vec![ctx.diagnostic(
                    &format!("{path}.queue"),
                    format!(
                        "unknown queue `{}`; queues in this stack: {}",
                        notification.queue,
                        if known.is_empty() {
                            "(none)".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                )]);
            }
            if queues
                .get(notification.queue.as_str())
                .is_some_and(|queue| queue.fifo)
            {
                return Err(vec![ctx.diagnostic(
                    &format!("{path}.queue"),
                    format!(
                        "queue `{}` is a FIFO queue, and S3 cannot notify one: \"FIFO queues are not \
                         allowed when enabling an SQS queue as the event notification destination\" \
                         (CloudFormation reference, AWS::S3::Bucket QueueConfiguration); notify a \
                         standard queue",
                        notification.queue
                    ),
                )]);
            }
            if notification.events.is_empty() {
                return Err(vec![
                    ctx.diagnostic(&format!("{path}.events"), "lists no events"),
                ]);
            }
            for event in &notification.events {
                let configuration = json!({
                    "Event": event,
                    "Queue": get_att(&queue_id(&notification.queue), "Arn"),
                });
                configurations.push(with_filter(configuration, notification));
            }
            // S3 checks it may send to the queue when the notification is created.
            resource = resource.depends_on(queue_policy_id(&notification.queue));
        }
        properties["NotificationConfiguration"] = json!({ "QueueConfigurations": configurations });
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
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": reference(&id),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [get_att(&id, "Arn"), sub(&format!("${{{id}.Arn}}/*"))],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                    }],
                },
            }),
        ),
    ))?;

    let base = pascal_case(&bucket.purpose);
    for (output, description, value) in [
        (
            format!("{base}BucketName"),
            format!("Name of the {} bucket", bucket.purpose),
            reference(&id),
        ),
        (
            format!("{base}BucketArn"),
            format!("ARN of the {} bucket", bucket.purpose),
            get_att(&id, "Arn"),
        ),
    ] {
        one(ctx.add_output(
            template,
            &field,
            &output,
            ctx.exported(&description, value, &output),
        ))?;
    }
    Ok(())
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

fn queue_policy_id(queue: &str) -> String {
    format!("{}QueuePolicy", pascal_case(queue))
}

/// Admits only the named buckets of this account to send to the queue.
fn queue_policy(
    queue: &str,
    buckets: &[String],
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Diagnostic> {
    let mut buckets = buckets.to_vec();
    buckets.sort();
    buckets.dedup();
    let sources: Vec<Value> = buckets
        .iter()
        .map(|name| sub(&format!("arn:${{AWS::Partition}}:s3:::{name}")))
        .collect();
    let id = queue_id(queue);
    ctx.add(
        template,
        "buckets",
        &queue_policy_id(queue),
        Resource::new(
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [reference(&id)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "AllowBucketNotifications",
                        "Effect": "Allow",
                        "Principal": { "Service": "s3.amazonaws.com" },
                        "Action": "sqs:SendMessage",
                        "Resource": get_att(&id, "Arn"),
                        "Condition": {
                            "ArnLike": { "aws:SourceArn": sources },
                            "StringEquals": { "aws:SourceAccount": ctx.account_id() },
                        },
                    }],
                },
            }),
        ),
    )
}
