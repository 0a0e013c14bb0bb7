//! SNS topics for fan-out, encrypted, with the queues of the same stack subscribed to them. The
//! queue policy that admits a topic is written by `storage.rs`, which writes one policy per queue for
//! all its senders (buckets and topics): a queue has one policy, and two would overwrite each other.
//!
//! Subscriptions are the topic's inline `Subscription` list (protocol `sqs`, endpoint the queue's
//! ARN), not separate `AWS::SNS::Subscription` resources. Both are valid CloudFormation; the inline
//! form is what moto 5.2.5 can create (it fails on a separate subscription, tests/support/MOTO_NOTES.md),
//! and costs what only the separate resource offers: raw message delivery, filter policies and
//! subscription-level redrive, none of which the components use. Consumers receive the SNS envelope
//! (`{"Type": "Notification", "Message": ...}`) in each SQS message body.
//!
//! Encryption: `KmsMasterKeyId: alias/aws/sns`, the AWS managed key for SNS. Its key policy admits
//! every principal of the account through SNS, so publishers need no KMS permission of their own,
//! and SNS decrypts before delivering, so subscribers need none either. A subscribed queue under
//! SSE-SQS involves no KMS key; a queue under a customer-managed key of the stack gets a key policy
//! statement admitting `sns.amazonaws.com` for exactly its topics (`storage.rs`), which the AWS
//! managed `aws/sqs` key could not be given (SQS Developer Guide, Key management: "you can't modify
//! the key policy of an AWS managed KMS key for Amazon SQS").

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub};
use crate::model::{Resource, Template};
use crate::naming::{self, pascal_case};
use crate::stacks::StackContext;
use crate::stacks::storage::{self, QueueComponent};

/// The AWS managed key for SNS (AWS::SNS::Topic, KmsMasterKeyId: "The ID of an AWS managed customer
/// master key (CMK) for SNS or a custom CMK").
pub const AWS_MANAGED_KEY: &str = "alias/aws/sns";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicComponent {
    /// Short name, unique in the stack; the topic is named `{project}-{env}-{name}`.
    pub name: String,
    /// Queues of this stack that receive every message published to the topic.
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    pub queue: String,
}

pub fn topic_id(name: &str) -> String {
    format!("{}Topic", pascal_case(name))
}

/// `{project}-{env}-{name}`.
pub fn topic_name(ctx: &StackContext, name: &str) -> String {
    format!("{}-{}", ctx.prefix(), name)
}

/// The topic's ARN built from its name (for policies the topic itself waits for).
pub fn topic_arn(ctx: &StackContext, name: &str) -> Value {
    sub(&format!(
        "arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{}",
        topic_name(ctx, name)
    ))
}

pub fn topic_arn_output(name: &str) -> String {
    format!("{}TopicArn", pascal_case(name))
}

/// Topic names: "Topic names must be made up of only uppercase and lowercase ASCII letters,
/// numbers, underscores, and hyphens, and must be between 1 and 256 characters long"
/// (AWS::SNS::Topic, TopicName).
fn check_topic_name(name: &str) -> Result<(), String> {
    naming::check_word_name(name, 256, "topic")
}

/// Adds the topics with their queue subscriptions (the queues' policies are `storage.rs`'s).
pub fn build(
    topics: &[TopicComponent],
    queues: &BTreeMap<&str, &QueueComponent>,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    storage::check_unique(
        topics.iter().map(|t| t.name.as_str()),
        "topics",
        "name",
        ctx,
        &mut problems,
    );
    for (index, topic) in topics.iter().enumerate() {
        let field = format!("topics[{index}]");
        let name = topic_name(ctx, &topic.name);
        if let Err(message) = check_topic_name(&name) {
            problems.push(ctx.diagnostic(&format!("{field}.name"), message));
            continue;
        }
        let id = topic_id(&topic.name);
        let mut subscriptions = Vec::new();
        for (n, subscriber) in topic.subscribers.iter().enumerate() {
            let path = format!("{field}.subscribers[{n}].queue");
            match queues.get(subscriber.queue.as_str()) {
                None => problems.push(ctx.diagnostic(
                    &path,
                    format!(
                        "unknown queue `{}`; a topic's subscribers are queues of its own stack: {}",
                        subscriber.queue,
                        storage::listing(queues.keys().copied())
                    ),
                )),
                Some(queue) if queue.fifo => problems.push(ctx.diagnostic(
                    &path,
                    format!(
                        "queue `{}` is a FIFO queue; a standard topic delivers only to standard queues (SNS Developer Guide, FIFO topics: FIFO queues subscribe to FIFO topics)",
                        subscriber.queue
                    ),
                )),
                Some(_) => {
                    subscriptions.push(json!({
                        "Protocol": "sqs",
                        "Endpoint": get_att(&storage::queue_id(&subscriber.queue), "Arn"),
                    }));
                }
            }
        }
        let mut properties = json!({
            "TopicName": name,
            "KmsMasterKeyId": AWS_MANAGED_KEY,
            "Tags": ctx.tags(Some(&topic.name)),
        });
        if !subscriptions.is_empty() {
            properties["Subscription"] = Value::Array(subscriptions);
        }
        // Messages are delivered, not kept: a replaced topic loses nothing but its subscriptions,
        // which the template recreates.
        if let Err(problem) = ctx.add(
            template,
            &field,
            &id,
            Resource::new("AWS::SNS::Topic", properties),
        ) {
            problems.push(problem);
            continue;
        }
        let output = topic_arn_output(&topic.name);
        if let Err(problem) = ctx.add_output(
            template,
            &field,
            &output,
            ctx.exported(
                &format!("ARN of the {} topic", topic.name),
                reference(&id),
                &output,
            ),
        ) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
