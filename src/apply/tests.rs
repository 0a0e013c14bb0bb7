//! Apply's scheduling, failure and recovery logic against an in-memory CloudFormation: the paths
//! the local emulator cannot produce (it never rolls back, so no stack ends in ROLLBACK_COMPLETE,
//! and it ignores client request tokens).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::aws::artifacts::MemoryArtifacts;
use crate::aws::cloudformation::StackStatus;
use crate::aws::facts::fixed::FixedFacts;
use crate::aws::fake::{FakeCloudFormation as Fake, stack_event};
use crate::plan::plan;
use crate::project::Project;
use crate::watch::{NoProgress, recorded_events};

pub(super) const OPTIONS: ApplyOptions = ApplyOptions {
    termination_protection: false,
    wait: WaitPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_wait: Duration::from_secs(5),
    },
    allow_replace: BTreeSet::new(),
};

/// Applies `stacks` in order, with no function code to upload.
pub(super) async fn apply_stacks(
    fake: &Fake,
    rendered: &RenderedEnvironment,
    stacks: &[StackPlan],
) -> ApplyReport {
    execute(
        fake,
        &MemoryArtifacts::default(),
        rendered,
        stacks,
        &OPTIONS,
        &NoProgress,
    )
    .await
    .unwrap()
}

pub(super) fn dev() -> RenderedEnvironment {
    Project::open(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .and_then(|project| project.render("dev"))
        .expect("the shipped dev environment renders")
}

pub(super) fn outcome<'a>(report: &'a ApplyReport, stack: &str) -> &'a StackOutcome {
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
    fake.fail_next_create(
        "photofeed-dev-network",
        vec![
            stack_event("photofeed-dev-network", "1", "CREATE_IN_PROGRESS"),
            StackEvent {
                reason: Some("The following resource(s) failed to create: [Vpc].".into()),
                ..stack_event("photofeed-dev-network", "2", "ROLLBACK_IN_PROGRESS")
            },
            stack_event("photofeed-dev-network", "3", "ROLLBACK_COMPLETE"),
        ],
    );
    let rendered = dev();
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let report = apply_stacks(&fake, &rendered, &planned.stacks).await;

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
    let calls = fake.calls();
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
    let facts = FixedFacts::default();
    let mut storage_failure = recorded_events("create_failed_rollback");
    storage_failure
        .iter_mut()
        .for_each(|e| e.event_id.insert_str(0, "first-"));
    fake.fail_next_create("photofeed-dev-storage", storage_failure);
    let rendered = dev();

    let first = plan(&fake, &facts, &rendered, Some("storage"))
        .await
        .unwrap();
    let report = apply_stacks(&fake, &rendered, &first.stacks).await;
    let StackOutcome::Failed { status, causes, .. } = outcome(&report, "storage") else {
        panic!("storage should fail: {report:?}");
    };
    assert_eq!(status.as_deref(), Some("ROLLBACK_COMPLETE"));
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].logical_id, "InboxBucket");
    assert!(causes[0].reason.contains("already exists"));

    // The next apply converges: the empty stack is deleted, then created again.
    let second = plan(&fake, &facts, &rendered, Some("storage"))
        .await
        .unwrap();
    assert_eq!(second.stacks[0].action, StackAction::Recreate);
    let report = apply_stacks(&fake, &rendered, &second.stacks).await;
    assert!(
        matches!(outcome(&report, "storage"), StackOutcome::Succeeded { status } if status == "CREATE_COMPLETE")
    );
    assert_eq!(
        fake.calls(),
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

fn succeeded_everywhere(report: &ApplyReport) -> bool {
    report
        .stacks
        .iter()
        .all(|s| matches!(s.outcome, StackOutcome::Succeeded { .. }))
}

fn count(calls: &[String], call: &str) -> usize {
    calls.iter().filter(|c| c.as_str() == call).count()
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_followed_as_ours() {
    let fake = Fake::default();
    // Every CreateStack takes effect, its answer is lost, and the SDK sends it again.
    let rendered = dev();
    fake.lose_answers("CreateStack", rendered.stacks.len());
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let report = apply_stacks(&fake, &rendered, &planned.stacks).await;
    assert!(succeeded_everywhere(&report), "{report:?}");
    let calls = fake.calls();
    for stack in &planned.stacks {
        assert_eq!(
            count(&calls, &format!("create {}", stack.stack_name)),
            2,
            "{calls:?}"
        );
        // Each stack's events carry the token its plan gave the create.
        let deployed = fake.stack(&stack.stack_name).unwrap();
        assert!(
            deployed
                .events
                .iter()
                .all(|e| e.client_request_token.as_deref()
                    == Some(stack.client_request_token.as_str())),
            "{:?}",
            deployed.events
        );
    }
}

#[tokio::test]
async fn without_tokens_a_lost_create_is_recognised_by_its_template() {
    let fake = Fake::default();
    fake.ignore_tokens();
    fake.lose_answers("CreateStack", 4);
    let rendered = dev();
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let report = apply_stacks(&fake, &rendered, &planned.stacks).await;
    assert!(succeeded_everywhere(&report), "{report:?}");
}

#[tokio::test]
async fn a_stack_someone_else_created_meanwhile_is_not_taken_for_ours() {
    for ignores_tokens in [false, true] {
        let fake = Fake::default();
        if ignores_tokens {
            fake.ignore_tokens();
        }
        let theirs = serde_json::json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}});
        fake.create_meanwhile("photofeed-dev-storage", theirs.clone());
        let rendered = dev();
        let planned = plan(&fake, &FixedFacts::default(), &rendered, Some("storage"))
            .await
            .unwrap();
        let report = apply_stacks(&fake, &rendered, &planned.stacks).await;
        let StackOutcome::Failed { causes, .. } = outcome(&report, "storage") else {
            panic!("another operation's stack is not ours: {report:?}");
        };
        assert!(causes[0].reason.contains("already exists"), "{causes:?}");
        assert_eq!(
            fake.stack("photofeed-dev-storage").unwrap().template,
            theirs
        );
    }
}

/// Deploys dev on the fake, then changes what is deployed for storage so the next plan updates it.
async fn deployed_dev_with_storage_changed(fake: &Fake, rendered: &RenderedEnvironment) {
    let first = plan(fake, &FixedFacts::default(), rendered, None)
        .await
        .unwrap();
    let report = apply_stacks(fake, rendered, &first.stacks).await;
    assert!(succeeded_everywhere(&report), "{report:?}");
    fake.edit_template("photofeed-dev-storage", |template| {
        let queue = template["Resources"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .find(|r| r["Type"] == "AWS::SQS::Queue")
            .unwrap();
        queue["Properties"]["VisibilityTimeout"] = serde_json::json!(999);
    });
}

#[tokio::test]
async fn an_execute_whose_answer_was_lost_is_followed_as_ours() {
    let fake = Fake::default();
    let rendered = dev();
    deployed_dev_with_storage_changed(&fake, &rendered).await;
    let update = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let storage = update.stacks.iter().find(|s| s.stack == "storage").unwrap();
    assert_eq!(storage.action, StackAction::Update);
    // The execution takes effect and removes the stack's change sets; the SDK's retry then finds none.
    fake.lose_answers("ExecuteChangeSet", 1);
    let report = apply_stacks(&fake, &rendered, &update.stacks).await;
    assert!(
        matches!(outcome(&report, "storage"), StackOutcome::Succeeded { status } if status == "UPDATE_COMPLETE"),
        "{report:?}"
    );
    assert_eq!(count(&fake.calls(), "execute photofeed-dev-storage"), 2);
    let events = fake.stack("photofeed-dev-storage").unwrap().events;
    assert_eq!(
        events[0].client_request_token.as_deref(),
        Some(storage.client_request_token.as_str())
    );
    // A lost answer to a change set's creation or deletion changes nothing either: no changes are left.
    fake.lose_answers("CreateChangeSet", 4);
    fake.lose_answers("DeleteChangeSet", 4);
    let again = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    assert!(!again.has_changes(), "{:?}", again.stacks);
}

#[tokio::test]
async fn an_execute_of_a_change_set_not_executed_is_still_an_error() {
    let fake = Fake::default();
    let rendered = dev();
    deployed_dev_with_storage_changed(&fake, &rendered).await;
    let update = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    // The change set disappears (deleted by someone) before apply: nothing ran under our token.
    let storage = update.stacks.iter().find(|s| s.stack == "storage").unwrap();
    fake.delete_change_set(
        "photofeed-dev-storage",
        storage.change_set_id.as_deref().unwrap(),
    )
    .await
    .unwrap();
    let report = apply_stacks(&fake, &rendered, &update.stacks).await;
    let StackOutcome::Failed { causes, .. } = outcome(&report, "storage") else {
        panic!("a missing change set fails the update: {report:?}");
    };
    assert!(causes[0].reason.contains("does not exist"), "{causes:?}");
}

#[test]
fn each_operation_of_a_plan_has_a_token_of_its_own() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = Fake::default();
    let rendered = dev();
    let first = runtime
        .block_on(plan(&fake, &FixedFacts::default(), &rendered, None))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2));
    let second = runtime
        .block_on(plan(&fake, &FixedFacts::default(), &rendered, None))
        .unwrap();
    let tokens: std::collections::BTreeSet<&str> = first
        .stacks
        .iter()
        .chain(&second.stacks)
        .map(|s| s.client_request_token.as_str())
        .collect();
    // Two plans of every stack: a later plan's create is another operation, not a retry of this one.
    assert_eq!(tokens.len(), 2 * rendered.stacks.len(), "{tokens:?}");
}

/// Function code reaches the artifact bucket before the stack that deploys it, once per content
/// hash: an object already there is not sent again.
#[tokio::test]
async fn function_code_is_uploaded_before_its_stack_and_only_once() {
    let fake = Fake::default();
    let artifacts = MemoryArtifacts::default();
    let rendered = dev();
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let report = execute(
        &fake,
        &artifacts,
        &rendered,
        &planned.stacks,
        &OPTIONS,
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(report.failed().is_empty(), "{report:?}");
    let app = rendered.stacks.iter().find(|s| s.name == "app").unwrap();
    let keys: Vec<String> = app.template.artifacts.keys().cloned().collect();
    assert_eq!(keys.len(), 2, "feed API and upload processor");
    assert_eq!(*artifacts.puts.lock().unwrap(), keys);
    let bucket = "photofeed-dev-artifacts-111111111111";
    for artifact in app.template.artifacts.values() {
        assert_eq!(artifact.bucket, bucket);
        let stored =
            artifacts.objects.lock().unwrap()[&(bucket.to_owned(), artifact.key.clone())].clone();
        assert_eq!(stored, artifact.package.bytes);
    }

    let app_plan = planned.stacks.iter().find(|s| s.stack == "app").unwrap();
    upload_artifacts(&artifacts, app_plan, app, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        artifacts.puts.lock().unwrap().len(),
        2,
        "nothing sent twice"
    );
}

/// An upload S3 refuses fails the stack before CloudFormation is asked to deploy it, and names
/// the function and the object.
#[tokio::test]
async fn a_refused_upload_fails_the_stack_before_any_stack_operation() {
    let fake = Fake::default();
    let artifacts = MemoryArtifacts {
        deny: true,
        ..MemoryArtifacts::default()
    };
    let rendered = dev();
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    let report = execute(
        &fake,
        &artifacts,
        &rendered,
        &planned.stacks,
        &OPTIONS,
        &NoProgress,
    )
    .await
    .unwrap();
    let StackOutcome::Failed { causes, status, .. } = outcome(&report, "app") else {
        panic!("app must fail: {report:?}");
    };
    assert_eq!(*status, None, "never created");
    // Uploads go in the order of the template's artifacts; the first refused one stops the stack.
    let app = rendered.stacks.iter().find(|s| s.name == "app").unwrap();
    let first = app.template.artifacts.values().next().unwrap();
    assert_eq!(causes[0].logical_id, first.function);
    assert!(
        causes[0].reason.contains(&first.key),
        "{}",
        causes[0].reason
    );
    assert!(
        causes[0]
            .reason
            .contains("s3://photofeed-dev-artifacts-111111111111/")
            && causes[0].reason.contains("access denied"),
        "{}",
        causes[0].reason
    );
    assert!(
        fake.describe_stack("photofeed-dev-app")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        outcome(&report, "storage"),
        StackOutcome::Succeeded { .. }
    ));
}
