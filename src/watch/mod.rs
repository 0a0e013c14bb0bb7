//! Following a running stack operation (create, update, delete): poll its events with backoff,
//! pass each new one to a [`Progress`] sink, and stop when the stack settles. Only the events of
//! the current operation are read: polling starts after the newest event that existed before it.

pub mod events;

use std::time::Duration;

use serde::Serialize;

use crate::aws::AwsError;
use crate::aws::cloudformation::{
    CloudFormation, Poller, StackDescription, StackEvent, WaitPolicy, stack_operation_to_finish,
};

/// What a stack is going through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    /// Delete a stack left by a failed first creation, then create it.
    Recreate,
    Update,
    Delete,
}

impl Operation {
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Create => "creating",
            Operation::Recreate => "recreating",
            Operation::Update => "updating",
            Operation::Delete => "deleting",
        }
    }
}

/// Everything a progress display can be told, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    Started {
        stack: String,
        operation: Operation,
        /// Resources the operation touches (for "12/28 done").
        resources: usize,
    },
    /// A step towards the operation that is not a CloudFormation event.
    Note { stack: String, message: String },
    /// One CloudFormation event of the current operation (resource or stack level).
    Event { stack: String, event: StackEvent },
    Finished {
        stack: String,
        status: String,
        succeeded: bool,
        elapsed: Duration,
    },
    /// Not started because a stack it depends on failed.
    Skipped { stack: String, reason: String },
}

/// Where progress goes: a redrawn terminal display or plain lines. Called from concurrent stack
/// operations, hence `Sync`.
pub trait Progress: Send + Sync {
    fn report(&self, event: ProgressEvent);
}

/// Passes progress on and remembers which stack operations are running: what CloudFormation goes on doing
/// when strata is stopped half-way (stopping strata does not stop a stack operation).
pub struct Running<'a> {
    inner: &'a dyn Progress,
    running: std::sync::Mutex<std::collections::BTreeMap<String, Operation>>,
}

impl<'a> Running<'a> {
    pub fn new(inner: &'a dyn Progress) -> Self {
        Running {
            inner,
            running: Default::default(),
        }
    }

    /// `deleting photofeed-dev-storage`, one per operation still running, by stack name.
    pub fn operations(&self) -> Vec<String> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .map(|(stack, operation)| format!("{} {stack}", operation.verb()))
            .collect()
    }
}

impl Progress for Running<'_> {
    fn report(&self, event: ProgressEvent) {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            match &event {
                ProgressEvent::Started {
                    stack, operation, ..
                } => {
                    running.insert(stack.clone(), *operation);
                }
                ProgressEvent::Finished { stack, .. } | ProgressEvent::Skipped { stack, .. } => {
                    running.remove(stack);
                }
                ProgressEvent::Note { .. } | ProgressEvent::Event { .. } => {}
            }
        }
        self.inner.report(event);
    }
}

/// A sink that drops everything (library callers that only want the result).
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: ProgressEvent) {}
}

/// How a watched operation ended.
#[derive(Debug, Clone)]
pub struct Watched {
    /// `None` when the stack is gone (a finished delete).
    pub stack: Option<StackDescription>,
    /// This operation's events, oldest first.
    pub events: Vec<StackEvent>,
}

/// The newest event of the stack before an operation starts; polling reads only what comes after.
pub async fn newest_event_id<C: CloudFormation>(
    cloudformation: &C,
    stack: &str,
) -> Result<Option<String>, AwsError> {
    match cloudformation.recent_stack_events(stack).await {
        Ok(events) => Ok(events.into_iter().next().map(|e| e.event_id)),
        Err(AwsError::StackNotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Starts an operation on `stack` with `start` and follows it to its end, reading only the events
/// that come after the start.
pub async fn follow<C, F, Fut>(
    cloudformation: &C,
    stack: &str,
    label: &str,
    progress: &dyn Progress,
    policy: WaitPolicy,
    start: F,
) -> Result<Watched, AwsError>
where
    C: CloudFormation,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let after = newest_event_id(cloudformation, stack).await?;
    start().await?;
    watch(cloudformation, stack, label, after, progress, policy).await
}

/// Polls `stack` (a name, or the stack id to follow a delete to its end) until no operation runs
/// on it, reporting each new event under `label`.
pub async fn watch<C: CloudFormation>(
    cloudformation: &C,
    stack: &str,
    label: &str,
    after_event: Option<String>,
    progress: &dyn Progress,
    policy: WaitPolicy,
) -> Result<Watched, AwsError> {
    let mut poller = Poller::new(policy);
    let mut last_seen = after_event;
    let mut events = Vec::new();
    loop {
        let description = cloudformation.describe_stack(stack).await?;
        // Read events after the status so that the final events are in when the stack has settled.
        let fresh = new_events(cloudformation, stack, last_seen.as_deref()).await?;
        if let Some(newest) = fresh.last() {
            last_seen = Some(newest.event_id.clone());
        }
        for event in &fresh {
            progress.report(ProgressEvent::Event {
                stack: label.to_owned(),
                event: event.clone(),
            });
        }
        events.extend(fresh);
        match description {
            None => {
                return Ok(Watched {
                    stack: None,
                    events,
                });
            }
            Some(description) if !description.status.is_in_progress() => {
                return Ok(Watched {
                    stack: Some(description),
                    events,
                });
            }
            Some(description) => {
                poller
                    .pause(
                        "DescribeStacks",
                        stack,
                        stack_operation_to_finish,
                        description.status.as_str(),
                    )
                    .await?;
            }
        }
    }
}

/// Events newer than `after`, oldest first. A stack that is already gone has none.
async fn new_events<C: CloudFormation>(
    cloudformation: &C,
    stack: &str,
    after: Option<&str>,
) -> Result<Vec<StackEvent>, AwsError> {
    match cloudformation.describe_stack_events(stack, after).await {
        Ok(mut events) => {
            events.reverse();
            Ok(events)
        }
        Err(AwsError::StackNotFound { .. }) => Ok(Vec::new()),
        Err(other) => Err(other),
    }
}

/// Poll intervals for following operations: quick at first (most updates take seconds), then
/// backing off to a calm rate for long RDS operations.
pub const FOLLOW: WaitPolicy = WaitPolicy {
    first_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(10),
    max_wait: Duration::from_secs(3 * 60 * 60),
};

/// Recorded `DescribeStackEvents` responses (tests/fixtures/events), oldest first.
#[cfg(test)]
pub(crate) fn recorded_events(name: &str) -> Vec<StackEvent> {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let response: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let field = |event: &serde_json::Value, name: &str| {
        event[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut events: Vec<StackEvent> = response["StackEvents"]
        .as_array()
        .expect("StackEvents")
        .iter()
        .map(|event| StackEvent {
            event_id: field(event, "EventId").unwrap_or_default(),
            timestamp: field(event, "Timestamp").unwrap_or_default(),
            logical_id: field(event, "LogicalResourceId").unwrap_or_default(),
            physical_id: field(event, "PhysicalResourceId"),
            resource_type: field(event, "ResourceType").unwrap_or_default(),
            status: field(event, "ResourceStatus").unwrap_or_default(),
            reason: field(event, "ResourceStatusReason"),
            client_request_token: field(event, "ClientRequestToken"),
        })
        .collect();
    events.reverse();
    events
}
