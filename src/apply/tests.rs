//! Apply's scheduling, failure and recovery logic against an in-memory CloudFormation: the paths
//! the local emulator cannot produce (it never rolls back, so no stack ends in ROLLBACK_COMPLETE).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::aws::cloudformation::{
    ChangeSetDescription, ChangeSetId, ChangeSetRequest, Export, StackResource, StackStatus,
};
use crate::plan::plan;
use crate::project::Project;
use crate::watch::{NoProgress, recorded_events};

#[derive(Default)]
struct Fake {
    stacks: Mutex<BTreeMap<String, FakeStack>>,
    /// Stacks whose next CreateStack fails, with the events the failure produces (oldest first).
    failing: Mutex<BTreeMap<String, Vec<StackEvent>>>,
    calls: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct FakeStack {
    id: String,
    status: String,
    /// Newest first, like the API.
    events: Vec<StackEvent>,
}

fn stack_event(stack: &str, n: usize, status: &str) -> StackEvent {
    StackEvent {
        event_id: format!("{stack}-{n}"),
        timestamp: "2026-11-24T10:00:00Z".into(),
        logical_id: stack.into(),
        physical_id: None,
        resource_type: "AWS::CloudFormation::Stack".into(),
        status: status.into(),
        reason: None,
    }
}

impl Fake {
    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// By id any stack; by name the live one (a deleted stack's name is free again).
    fn find(&self, name_or_id: &str) -> Option<FakeStack> {
        let stacks = self.stacks.lock().unwrap();
        stacks.get(name_or_id).cloned().or_else(|| {
            stacks
                .values()
                .find(|s| {
                    s.id.starts_with(&format!("{name_or_id}#")) && s.status != "DELETE_COMPLETE"
                })
                .cloned()
        })
    }

    fn status(&self, name: &str) -> Option<String> {
        self.find(name).map(|s| s.status)
    }
}

impl CloudFormation for Fake {
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackDescription>, AwsError> {
        Ok(self
            .find(stack)
            .filter(|s| s.status != "DELETE_COMPLETE")
            .map(|s| StackDescription {
                name: s.id.split('#').next().unwrap_or_default().to_owned(),
                id: s.id.clone(),
                status: StackStatus(s.status.clone()),
                status_reason: None,
                outputs: BTreeMap::new(),
                parameters: BTreeMap::new(),
                tags: BTreeMap::new(),
                termination_protection: false,
            }))
    }
    async fn get_template(&self, _: &str) -> Result<serde_json::Value, AwsError> {
        unreachable!("no stack is updated in these tests")
    }
    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        self.log(format!("create {}", request.stack));
        let mut stacks = self.stacks.lock().unwrap();
        let generation = stacks.len();
        let id = format!("{}#{generation}", request.stack);
        let failure = self.failing.lock().unwrap().remove(&request.stack);
        let (status, mut events) = match failure {
            Some(events) => ("ROLLBACK_COMPLETE".to_owned(), events),
            None => (
                "CREATE_COMPLETE".to_owned(),
                vec![
                    stack_event(&request.stack, 1, "CREATE_IN_PROGRESS"),
                    stack_event(&request.stack, 2, "CREATE_COMPLETE"),
                ],
            ),
        };
        events.reverse();
        stacks.insert(
            id.clone(),
            FakeStack {
                id: id.clone(),
                status,
                events,
            },
        );
        Ok(id)
    }
    async fn create_change_set(&self, _: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
        unreachable!()
    }
    async fn describe_change_set(
        &self,
        _: &str,
        _: &str,
    ) -> Result<ChangeSetDescription, AwsError> {
        unreachable!()
    }
    async fn delete_change_set(&self, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!()
    }
    async fn execute_change_set(&self, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!()
    }
    async fn describe_stack_events(
        &self,
        stack: &str,
        until: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let events = self.find(stack).map(|s| s.events).unwrap_or_default();
        Ok(events
            .into_iter()
            .take_while(|e| Some(e.event_id.as_str()) != until)
            .collect())
    }
    async fn latest_stack_event(&self, stack: &str) -> Result<Option<StackEvent>, AwsError> {
        Ok(self.find(stack).and_then(|s| s.events.first().cloned()))
    }
    async fn list_stack_resources(&self, _: &str) -> Result<Vec<StackResource>, AwsError> {
        Ok(Vec::new())
    }
    async fn list_exports(&self) -> Result<BTreeMap<String, Export>, AwsError> {
        Ok(BTreeMap::new())
    }
    async fn delete_stack(&self, stack: &str) -> Result<(), AwsError> {
        self.log(format!(
            "delete {}",
            stack.split('#').next().unwrap_or_default()
        ));
        let mut stacks = self.stacks.lock().unwrap();
        if let Some(found) = stacks.get_mut(stack) {
            found.status = "DELETE_COMPLETE".into();
            let n = found.events.len();
            found
                .events
                .insert(0, stack_event(stack, n + 1, "DELETE_COMPLETE"));
        }
        Ok(())
    }
    async fn update_termination_protection(&self, _: &str, _: bool) -> Result<(), AwsError> {
        unreachable!()
    }
}

const OPTIONS: ApplyOptions = ApplyOptions {
    termination_protection: false,
    wait: WaitPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_wait: Duration::from_secs(5),
    },
};

fn dev() -> RenderedEnvironment {
    Project::open(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .and_then(|project| project.render("dev"))
        .expect("the shipped dev environment renders")
}

fn outcome<'a>(report: &'a ApplyReport, stack: &str) -> &'a StackOutcome {
    &report
        .stacks
        .iter()
        .find(|s| s.stack == stack)
        .expect("stack in report")
        .outcome
}

#[tokio::test]
async fn a_failed_stack_stops_its_dependents_and_names_its_root_cause() {
    let fake = Fake::default();
    fake.failing.lock().unwrap().insert(
        "photofeed-dev-network".into(),
        vec![
            stack_event("photofeed-dev-network", 1, "CREATE_IN_PROGRESS"),
            StackEvent {
                reason: Some("The following resource(s) failed to create: [Vpc].".into()),
                ..stack_event("photofeed-dev-network", 2, "ROLLBACK_IN_PROGRESS")
            },
            stack_event("photofeed-dev-network", 3, "ROLLBACK_COMPLETE"),
        ],
    );
    let rendered = dev();
    let planned = plan(&fake, &rendered, None).await.unwrap();
    let report = execute(&fake, &rendered, &planned.stacks, OPTIONS, &NoProgress)
        .await
        .unwrap();

    assert_eq!(
        outcome(&report, "network"),
        &StackOutcome::Failed {
            status: Some("ROLLBACK_COMPLETE".into()),
            causes: vec![Cause {
                logical_id: "photofeed-dev-network".into(),
                resource_type: "AWS::CloudFormation::Stack".into(),
                status: "ROLLBACK_IN_PROGRESS".into(),
                reason: "The following resource(s) failed to create: [Vpc].".into(),
            }],
            next_step: None,
        }
    );
    for dependent in ["database", "bastion"] {
        assert!(
            matches!(outcome(&report, dependent), StackOutcome::Skipped { .. }),
            "{dependent}: {:?}",
            outcome(&report, dependent)
        );
    }
    // storage imports nothing from network, so it is not held back.
    assert!(matches!(
        outcome(&report, "storage"),
        StackOutcome::Succeeded { .. }
    ));
    let calls = fake.calls.lock().unwrap().clone();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("database") || c.contains("bastion")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_deleted_and_created_again() {
    let fake = Fake::default();
    let mut storage_failure = recorded_events("create_failed_rollback");
    storage_failure
        .iter_mut()
        .for_each(|e| e.event_id.insert_str(0, "first-"));
    fake.failing
        .lock()
        .unwrap()
        .insert("photofeed-dev-storage".into(), storage_failure);
    let rendered = dev();

    let first = plan(&fake, &rendered, Some("storage")).await.unwrap();
    let report = execute(&fake, &rendered, &first.stacks, OPTIONS, &NoProgress)
        .await
        .unwrap();
    let StackOutcome::Failed { status, causes, .. } = outcome(&report, "storage") else {
        panic!("storage should fail: {report:?}");
    };
    assert_eq!(status.as_deref(), Some("ROLLBACK_COMPLETE"));
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].logical_id, "InboxBucket");
    assert!(causes[0].reason.contains("already exists"));

    // The next apply converges: the empty stack is deleted, then created again.
    let second = plan(&fake, &rendered, Some("storage")).await.unwrap();
    assert_eq!(second.stacks[0].action, StackAction::Recreate);
    let report = execute(&fake, &rendered, &second.stacks, OPTIONS, &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(outcome(&report, "storage"), StackOutcome::Succeeded { status } if status == "CREATE_COMPLETE")
    );
    assert_eq!(
        fake.calls.lock().unwrap().clone(),
        [
            "create photofeed-dev-storage",
            "delete photofeed-dev-storage",
            "create photofeed-dev-storage"
        ]
    );
    assert_eq!(
        fake.status("photofeed-dev-storage").as_deref(),
        Some("CREATE_COMPLETE")
    );
}

#[test]
fn a_failed_rollback_names_the_command_and_the_resources_to_skip() {
    let events = recorded_events("update_rollback_failed");
    let watched = Watched {
        stack: Some(StackDescription {
            name: "photofeed-dev-storage".into(),
            id: "id".into(),
            status: StackStatus("UPDATE_ROLLBACK_FAILED".into()),
            status_reason: None,
            outputs: BTreeMap::new(),
            parameters: BTreeMap::new(),
            tags: BTreeMap::new(),
            termination_protection: false,
        }),
        events,
    };
    let StackOutcome::Failed {
        causes, next_step, ..
    } = outcome_of("photofeed-dev-storage", Operation::Update, &watched)
    else {
        panic!("a failed rollback is a failure");
    };
    assert_eq!(causes[0].logical_id, "InboxBucketPolicy");
    assert_eq!(
        next_step.as_deref(),
        Some(
            "the rollback failed too on PhotoUploadedQueue. Fix that cause, run `aws cloudformation continue-update-rollback --stack-name photofeed-dev-storage` (if they cannot roll back: --resources-to-skip PhotoUploadedQueue), then apply again"
        )
    );
}
