//! The CloudFormation seam: plain data in and out, one trait, and the polling built on top of it.
//!
//! The trait uses `fn ... -> impl Future<Output = ...> + Send` (return-position `impl Trait` in traits,
//! stable since Rust 1.75) rather than `async-trait` or boxed futures: plan/apply/outputs/destroy are generic
//! over `C: CloudFormation`, there are two implementations (the SDK adapter and test fakes), and static
//! dispatch costs no allocation per call. Spelling out `+ Send` keeps the futures spawnable on a
//! multi-threaded runtime; implementations still write plain `async fn`. If a `dyn` seam is ever needed, a
//! small boxing wrapper can be added next to the trait without touching callers.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use super::error::AwsError;
pub use crate::model::change::{ChangeAction, Replacement};

/// A deployed stack as far as plan/apply/outputs/destroy care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDescription {
    pub name: String,
    pub id: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
    pub outputs: BTreeMap<String, StackOutput>,
    /// Parameter values; for SSM-typed parameters the value resolved from Parameter Store.
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
}

/// One stack as ListStacks lists it: enough to pick out the stacks of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSummary {
    pub name: String,
    pub id: String,
    pub status: StackStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutput {
    pub value: String,
    pub export_name: Option<String>,
    pub description: Option<String>,
}

/// A stack status as CloudFormation spells it (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_FAILED`, ...). Kept as text
/// so that statuses AWS adds later still round-trip; the questions strata asks of it are methods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackStatus(pub String);

impl StackStatus {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An operation is running; wait before doing anything else. `REVIEW_IN_PROGRESS` is not an operation:
    /// it is the state of a stack that so far only has a CREATE change set.
    pub fn is_in_progress(&self) -> bool {
        self.0.ends_with("_IN_PROGRESS") && !self.is_review_in_progress()
    }

    pub fn is_review_in_progress(&self) -> bool {
        self.0 == "REVIEW_IN_PROGRESS"
    }

    /// The stack exists only as a shell (never created, or created and rolled back): the next change set
    /// must be of type CREATE (`REVIEW_IN_PROGRESS`), or the stack deleted first (`ROLLBACK_COMPLETE`).
    pub fn has_no_resources_deployed(&self) -> bool {
        self.is_review_in_progress() || self.0 == "ROLLBACK_COMPLETE"
    }

    /// The last operation failed or rolled back.
    pub fn is_failed(&self) -> bool {
        self.0.ends_with("_FAILED") || self.0.contains("ROLLBACK")
    }
}

impl std::fmt::Display for StackStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetKind {
    /// The stack does not exist yet (or is `REVIEW_IN_PROGRESS`).
    Create,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Iam,
    NamedIam,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Iam => "CAPABILITY_IAM",
            Capability::NamedIam => "CAPABILITY_NAMED_IAM",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetRequest {
    pub stack: String,
    pub change_set: String,
    pub kind: ChangeSetKind,
    /// The template as sent (strata sends canonical JSON).
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Vec<Capability>,
    pub description: Option<String>,
    /// CreateChangeSet's `ClientToken`: a retry of this request is recognised, not a second change set.
    pub client_token: RequestToken,
}

/// A stack created directly (no change set): what apply does for a stack that does not exist yet. Its plan needs
/// no change set (every resource is an Add), and a CREATE change set would leave a `REVIEW_IN_PROGRESS` stack
/// shell behind whenever a plan is not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateStackRequest {
    pub stack: String,
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Vec<Capability>,
    pub termination_protection: bool,
    pub client_request_token: RequestToken,
}

/// A `ClientRequestToken`: names one stack operation, so that CloudFormation recognises a retried call as the
/// same operation, and stamps it on every event that operation produces (CreateStack API reference,
/// ClientRequestToken: "All events initiated by a given stack operation are assigned the same client request
/// token"). Derived from what identifies the operation (a change set id, a stack id, a plan and template), never
/// random: the SDK's retries resend the same request, and a later run retrying the same operation derives the
/// same token. 1 to 128 characters of `[a-zA-Z0-9][-a-zA-Z0-9]*`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct RequestToken(String);

impl RequestToken {
    /// `strata-<purpose>-<32 hex digits of SHA-256 over the parts>`; `purpose` is a short lowercase word.
    pub fn derive(purpose: &str, parts: &[&str]) -> RequestToken {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        for part in parts {
            // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        RequestToken(format!("strata-{purpose}-{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetId {
    pub change_set_id: String,
    pub stack_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetDescription {
    pub stack: String,
    pub change_set: String,
    pub id: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, `DELETE_*`.
    pub status: String,
    pub status_reason: Option<String>,
    /// `AVAILABLE`, `UNAVAILABLE`, `EXECUTE_IN_PROGRESS`, `EXECUTE_COMPLETE`, `EXECUTE_FAILED`, `OBSOLETE`.
    pub execution_status: String,
    pub changes: Vec<ResourceChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    /// `None` when the service did not say (moto never does).
    pub replacement: Option<Replacement>,
    /// Which parts changed (`Properties`, `Metadata`, `Tags`, ...); empty when not reported.
    pub scope: Vec<String>,
}

/// What waiting for a change set ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetOutcome {
    Ready(ChangeSetDescription),
    /// CloudFormation refused the change set because the template and parameters match the stack. The change
    /// set still exists (status FAILED) and should be deleted.
    NoChanges {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub event_id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    /// The token of the operation that produced the event; absent when the operation was started without one
    /// (or the endpoint does not record them).
    pub client_request_token: Option<String>,
}

/// One resource of a deployed stack (ListStackResources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    /// Absent while a resource is being created, and for some types on some endpoints.
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub value: String,
    pub exporting_stack_id: String,
}

/// The CloudFormation calls plan, apply, outputs and destroy make. Missing stacks are data (`None`), not errors,
/// where callers routinely ask; everything else fails with a classified [`AwsError`].
pub trait CloudFormation: Send + Sync {
    /// `None` when no stack of that name exists (deleted stacks included).
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Option<StackDescription>, AwsError>> + Send;

    /// Every stack of the account and region that is not deleted (ListStacks, all pages, filtered by status
    /// on the service side so that the long tail of `DELETE_COMPLETE` stacks is not read).
    fn list_stacks(&self) -> impl Future<Output = Result<Vec<StackSummary>, AwsError>> + Send;

    /// The deployed template as sent (stage `Original`), parsed from JSON or YAML into JSON.
    fn get_template(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<serde_json::Value, AwsError>> + Send;

    /// Starts creating a stack; returns its id. Wait with [`wait_for_stack`].
    fn create_stack(
        &self,
        request: &CreateStackRequest,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = Result<ChangeSetId, AwsError>> + Send;

    /// All pages of the change set's resource changes.
    fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> impl Future<Output = Result<ChangeSetDescription, AwsError>> + Send;

    fn delete_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &RequestToken,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Newest first, as CloudFormation returns them. Stops paging at `until_event_id` (exclusive) so that
    /// progress polling reads only what is new.
    fn describe_stack_events(
        &self,
        stack: &str,
        until_event_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<StackEvent>, AwsError>> + Send;

    /// The stack's newest events, newest first (the first page only): where an operation's events begin, and
    /// the events of an operation that has just started.
    fn recent_stack_events(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<StackEvent>, AwsError>> + Send;

    /// All pages of the stack's resources, with physical ids.
    fn list_stack_resources(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<StackResource>, AwsError>> + Send;

    /// Every export in the region, keyed by export name.
    fn list_exports(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, Export>, AwsError>> + Send;

    fn delete_stack(
        &self,
        stack: &str,
        token: &RequestToken,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn update_termination_protection(
        &self,
        stack: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// How long and how often to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub max_wait: Duration,
}

impl WaitPolicy {
    /// Change sets take seconds to a minute or two.
    pub const CHANGE_SET: WaitPolicy = WaitPolicy {
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
        max_wait: Duration::from_secs(10 * 60),
    };
    /// Stack operations can take the better part of an hour (RDS multi-AZ with replicas).
    pub const STACK: WaitPolicy = WaitPolicy {
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
        max_wait: Duration::from_secs(90 * 60),
    };
}

/// One wait under a [`WaitPolicy`]: doubles the pause between polls up to the maximum and gives up
/// once the next pause would pass the limit.
pub struct Poller {
    policy: WaitPolicy,
    started: Instant,
    delay: Duration,
}

impl Poller {
    pub fn new(policy: WaitPolicy) -> Self {
        Poller {
            policy,
            started: Instant::now(),
            delay: policy.first_delay,
        }
    }

    /// Sleeps before the next poll, or fails with what was awaited and the last status seen.
    pub async fn pause(
        &mut self,
        operation: &'static str,
        stack: &str,
        what: impl FnOnce() -> String,
        last_status: &str,
    ) -> Result<(), AwsError> {
        if self.started.elapsed() + self.delay > self.policy.max_wait {
            return Err(AwsError::WaitTimedOut {
                operation,
                stack: Some(stack.to_owned()),
                what: what(),
                waited: self.started.elapsed(),
                last_status: last_status.to_owned(),
            });
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(self.policy.max_delay);
        Ok(())
    }
}

/// Polls until the change set is created (or refused for containing no changes).
pub async fn wait_for_change_set<C: CloudFormation + ?Sized>(
    cfn: &C,
    stack: &str,
    change_set: &str,
    policy: WaitPolicy,
) -> Result<ChangeSetOutcome, AwsError> {
    let mut poller = Poller::new(policy);
    loop {
        let description = cfn.describe_change_set(stack, change_set).await?;
        match description.status.as_str() {
            "CREATE_COMPLETE" => return Ok(ChangeSetOutcome::Ready(description)),
            "FAILED" => {
                let reason = description.status_reason.unwrap_or_default();
                return if is_no_changes_reason(&reason) {
                    Ok(ChangeSetOutcome::NoChanges { reason })
                } else {
                    Err(AwsError::ChangeSetFailed {
                        stack: stack.to_owned(),
                        change_set: change_set.to_owned(),
                        reason,
                    })
                };
            }
            "CREATE_PENDING" | "CREATE_IN_PROGRESS" => {}
            other => {
                return Err(AwsError::ChangeSetFailed {
                    stack: stack.to_owned(),
                    change_set: change_set.to_owned(),
                    reason: format!("unexpected change set status {other}"),
                });
            }
        }
        poller
            .pause(
                "DescribeChangeSet",
                stack,
                || format!("change set `{change_set}` to be created"),
                &description.status,
            )
            .await?;
    }
}

/// "The submitted information didn't contain changes. Submit different information to create a change set."
/// (AWS and moto), or "No updates are to be performed." (older AWS wording).
pub fn is_no_changes_reason(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Polls until no operation is running on the stack. `None` when the stack is gone (a finished delete).
pub async fn wait_for_stack<C: CloudFormation + ?Sized>(
    cfn: &C,
    stack: &str,
    policy: WaitPolicy,
) -> Result<Option<StackDescription>, AwsError> {
    let mut poller = Poller::new(policy);
    loop {
        let Some(description) = cfn.describe_stack(stack).await? else {
            return Ok(None);
        };
        // A deleted stack looked up by id stays visible as DELETE_COMPLETE.
        if description.status.as_str() == "DELETE_COMPLETE" {
            return Ok(None);
        }
        if !description.status.is_in_progress() {
            return Ok(Some(description));
        }
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

/// What waiting on a stack waits for, as a timeout names it.
pub fn stack_operation_to_finish() -> String {
    "the stack operation to finish".to_owned()
}

/// Parses a template body as CloudFormation returns it: JSON, or YAML (whose short-form intrinsic tags such as
/// `!Ref x` or `!GetAtt a.b` become their JSON long forms).
pub fn parse_template_body(body: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str(body) {
        Ok(value) => Ok(value),
        Err(json_error) => {
            let yaml: serde_yaml::Value = serde_yaml::from_str(body).map_err(|yaml_error| {
                format!("neither JSON ({json_error}) nor YAML ({yaml_error})")
            })?;
            yaml_to_json(yaml)
        }
    }
}

pub(crate) fn yaml_to_json(value: serde_yaml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| e.to_string())?,
        Y::String(s) => J::String(s),
        Y::Sequence(items) => J::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut object = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            J::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value)?;
            let (name, inner) = match (tag, inner) {
                ("Ref", inner) => ("Ref".to_owned(), inner),
                ("Condition", inner) => ("Condition".to_owned(), inner),
                ("GetAtt", J::String(path)) => {
                    let (resource, attribute) = path.split_once('.').unwrap_or((path.as_str(), ""));
                    (
                        "Fn::GetAtt".to_owned(),
                        J::Array(vec![resource.into(), attribute.into()]),
                    )
                }
                (other, inner) => (format!("Fn::{other}"), inner),
            };
            J::Object([(name, inner)].into_iter().collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    #[test]
    fn parses_json_bodies_verbatim() {
        let body = r#"{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}"#;
        assert_eq!(
            parse_template_body(body).unwrap(),
            json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
        );
    }

    #[test]
    fn parses_yaml_short_forms_into_long_forms() {
        let body = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${AWS::StackName}-q'\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Dlq.Arn\n        maxReceiveCount: 5\nOutputs:\n  Url:\n    Value: !Ref Q\n    Export:\n      Name: !Join [ '-', [ a, b ] ]\n";
        assert_eq!(
            parse_template_body(body).unwrap(),
            json!({
                "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
                    "QueueName": {"Fn::Sub": "${AWS::StackName}-q"},
                    "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}
                }}},
                "Outputs": {"Url": {"Value": {"Ref": "Q"}, "Export": {"Name": {"Fn::Join": ["-", ["a", "b"]]}}}}
            })
        );
    }

    #[test]
    fn rejects_garbage_with_both_reasons() {
        let err = parse_template_body("{ not: [valid").unwrap_err();
        assert!(err.contains("neither JSON"), "{err}");
    }

    #[test]
    fn stack_status_questions() {
        let status = |s: &str| StackStatus(s.to_owned());
        assert!(status("UPDATE_IN_PROGRESS").is_in_progress());
        assert!(status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS").is_in_progress());
        assert!(!status("REVIEW_IN_PROGRESS").is_in_progress());
        assert!(status("REVIEW_IN_PROGRESS").has_no_resources_deployed());
        assert!(status("ROLLBACK_COMPLETE").has_no_resources_deployed());
        assert!(status("UPDATE_ROLLBACK_COMPLETE").is_failed());
        assert!(!status("CREATE_COMPLETE").is_failed());
    }

    /// Answers DescribeChangeSet from a script of statuses; every other call is unreachable in these tests.
    struct ScriptedChangeSet {
        statuses: Mutex<Vec<(&'static str, Option<&'static str>)>>,
    }

    impl CloudFormation for ScriptedChangeSet {
        async fn describe_stack(&self, _: &str) -> Result<Option<StackDescription>, AwsError> {
            unreachable!()
        }
        async fn list_stacks(&self) -> Result<Vec<StackSummary>, AwsError> {
            unreachable!()
        }
        async fn get_template(&self, _: &str) -> Result<serde_json::Value, AwsError> {
            unreachable!()
        }
        async fn create_stack(&self, _: &CreateStackRequest) -> Result<String, AwsError> {
            unreachable!()
        }
        async fn create_change_set(&self, _: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
            unreachable!()
        }
        async fn describe_change_set(
            &self,
            stack: &str,
            change_set: &str,
        ) -> Result<ChangeSetDescription, AwsError> {
            let mut statuses = self.statuses.lock().unwrap();
            let (status, reason) = if statuses.len() > 1 {
                statuses.remove(0)
            } else {
                statuses[0]
            };
            Ok(ChangeSetDescription {
                stack: stack.into(),
                change_set: change_set.into(),
                id: "arn:cs".into(),
                status: status.into(),
                status_reason: reason.map(Into::into),
                execution_status: "UNAVAILABLE".into(),
                changes: vec![],
            })
        }
        async fn delete_change_set(&self, _: &str, _: &str) -> Result<(), AwsError> {
            unreachable!()
        }
        async fn execute_change_set(
            &self,
            _: &str,
            _: &str,
            _: &RequestToken,
        ) -> Result<(), AwsError> {
            unreachable!()
        }
        async fn describe_stack_events(
            &self,
            _: &str,
            _: Option<&str>,
        ) -> Result<Vec<StackEvent>, AwsError> {
            unreachable!()
        }
        async fn recent_stack_events(&self, _: &str) -> Result<Vec<StackEvent>, AwsError> {
            unreachable!()
        }
        async fn list_stack_resources(&self, _: &str) -> Result<Vec<StackResource>, AwsError> {
            unreachable!()
        }
        async fn list_exports(&self) -> Result<BTreeMap<String, Export>, AwsError> {
            unreachable!()
        }
        async fn delete_stack(&self, _: &str, _: &RequestToken) -> Result<(), AwsError> {
            unreachable!()
        }
        async fn update_termination_protection(&self, _: &str, _: bool) -> Result<(), AwsError> {
            unreachable!()
        }
    }

    const FAST: WaitPolicy = WaitPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        max_wait: Duration::from_millis(200),
    };

    fn scripted(statuses: Vec<(&'static str, Option<&'static str>)>) -> ScriptedChangeSet {
        ScriptedChangeSet {
            statuses: Mutex::new(statuses),
        }
    }

    #[tokio::test]
    async fn waits_through_pending_to_complete() {
        let cfn = scripted(vec![
            ("CREATE_PENDING", None),
            ("CREATE_IN_PROGRESS", None),
            ("CREATE_COMPLETE", None),
        ]);
        let outcome = wait_for_change_set(&cfn, "s", "c", FAST).await.unwrap();
        assert!(matches!(outcome, ChangeSetOutcome::Ready(d) if d.status == "CREATE_COMPLETE"));
    }

    #[tokio::test]
    async fn no_changes_failure_is_an_outcome_not_an_error() {
        let reason = "The submitted information didn't contain changes. Submit different information to create a change set.";
        let cfn = scripted(vec![("FAILED", Some(reason))]);
        let outcome = wait_for_change_set(&cfn, "s", "c", FAST).await.unwrap();
        assert_eq!(
            outcome,
            ChangeSetOutcome::NoChanges {
                reason: reason.into()
            }
        );
    }

    #[tokio::test]
    async fn other_failures_are_change_set_failed_with_reason() {
        let cfn = scripted(vec![(
            "FAILED",
            Some("Template error: instance of Fn::GetAtt references undefined resource X"),
        )]);
        let err = wait_for_change_set(&cfn, "s", "c", FAST).await.unwrap_err();
        assert!(
            matches!(&err, AwsError::ChangeSetFailed { reason, .. } if reason.contains("undefined resource X"))
        );
    }

    #[tokio::test]
    async fn gives_up_after_max_wait() {
        let cfn = scripted(vec![("CREATE_IN_PROGRESS", None)]);
        let err = wait_for_change_set(&cfn, "s", "c", FAST).await.unwrap_err();
        assert!(
            matches!(&err, AwsError::WaitTimedOut { last_status, .. } if last_status == "CREATE_IN_PROGRESS"),
            "{err:?}"
        );
    }
}
