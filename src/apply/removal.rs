//! Applying a plan with stack removals: the removals that must precede the updates (they import exports the
//! updates drop), then the plan's stacks, then the other removals once every stack applied. Each removal is a
//! DeleteStack followed to its end, as destroy does it; a failed one stops the removals after it.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::artifacts::ArtifactStore;
use crate::aws::cloudformation::{CloudFormation, WaitPolicy};
use crate::destroy::{self, DeleteFailure, KeptResource};
use crate::error::Error;
use crate::plan::Plan;
use crate::plan::removal::{RemovalPhase, StackRemoval};
use crate::project::RenderedEnvironment;
use crate::watch::Progress;

use super::{ApplyOptions, ApplyReport, StackOutcome, stack_cause};

/// What happened to one stack the plan removes.
#[derive(Debug, Clone, Serialize)]
pub struct RemovalResult {
    pub stack: String,
    pub stack_name: String,
    #[serde(flatten)]
    pub outcome: StackOutcome,
    pub elapsed_seconds: f64,
    /// Resources its DeletionPolicy keeps (on success).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptResource>,
}

impl RemovalResult {
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, StackOutcome::Succeeded { .. })
    }
}

/// Runs the whole plan: removals before the updates, the stacks, removals after.
pub async fn execute<C: CloudFormation, A: ArtifactStore>(
    cloudformation: &C,
    artifacts: &A,
    rendered: &RenderedEnvironment,
    plan: &Plan,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport, Error> {
    let phase = |wanted: RemovalPhase| -> Vec<&StackRemoval> {
        plan.removals.iter().filter(|r| r.phase == wanted).collect()
    };
    let mut removed = remove(
        cloudformation,
        &phase(RemovalPhase::BeforeUpdates),
        options.wait,
        progress,
    )
    .await;
    let mut report = if removed.iter().all(RemovalResult::succeeded) {
        super::execute(
            cloudformation,
            artifacts,
            rendered,
            &plan.stacks,
            options,
            progress,
        )
        .await?
    } else {
        let reason = "not started: a stack removal that had to come first failed".to_owned();
        ApplyReport {
            environment: plan.environment.clone(),
            stacks: plan
                .stacks
                .iter()
                .map(|stack| {
                    let outcome = if stack.has_changes() {
                        StackOutcome::Skipped {
                            reason: reason.clone(),
                        }
                    } else {
                        StackOutcome::Unchanged
                    };
                    super::result(stack, outcome, Duration::ZERO)
                })
                .collect(),
            removed: Vec::new(),
            log_retention: Vec::new(),
        }
    };
    let after = phase(RemovalPhase::AfterUpdates);
    if report.failed().is_empty() && removed.iter().all(RemovalResult::succeeded) {
        removed.extend(remove(cloudformation, &after, options.wait, progress).await);
    } else {
        removed.extend(after.iter().map(|removal| {
            skipped(
                removal,
                "not started: the apply failed before it (a removal runs only once every stack applied)",
            )
        }));
    }
    report.removed = removed;
    Ok(report)
}

/// Deletes the stacks in order; after a failure the rest are skipped.
async fn remove<C: CloudFormation>(
    cloudformation: &C,
    removals: &[&StackRemoval],
    wait: WaitPolicy,
    progress: &dyn Progress,
) -> Vec<RemovalResult> {
    let mut results: Vec<RemovalResult> = Vec::new();
    for removal in removals {
        if let Some(failed) = results.iter().find(|r| !r.succeeded()) {
            let reason = format!("not started: the removal of {} failed", failed.stack_name);
            results.push(skipped(removal, &reason));
            continue;
        }
        let stack = &removal.deletion;
        let started = Instant::now();
        let outcome = match destroy::delete(cloudformation, stack, wait, progress).await {
            Ok(()) => StackOutcome::Succeeded {
                status: "DELETE_COMPLETE".to_owned(),
            },
            Err(DeleteFailure::Call(err)) => StackOutcome::Failed {
                status: Some(stack.status.clone()),
                causes: vec![stack_cause(
                    &stack.stack_name,
                    err.operation(),
                    err.to_string(),
                )],
                next_step: None,
            },
            Err(DeleteFailure::Stuck { status, causes }) => StackOutcome::Failed {
                status: Some(status),
                causes,
                next_step: None,
            },
        };
        let kept = match outcome {
            StackOutcome::Succeeded { .. } => stack.kept.clone(),
            _ => Vec::new(),
        };
        results.push(RemovalResult {
            stack: stack.stack.clone(),
            stack_name: stack.stack_name.clone(),
            outcome,
            elapsed_seconds: started.elapsed().as_secs_f64(),
            kept,
        });
    }
    results
}

fn skipped(removal: &StackRemoval, reason: &str) -> RemovalResult {
    RemovalResult {
        stack: removal.deletion.stack.clone(),
        stack_name: removal.deletion.stack_name.clone(),
        outcome: StackOutcome::Skipped {
            reason: reason.to_owned(),
        },
        elapsed_seconds: 0.0,
        kept: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Removals against the in-memory CloudFormation, which refuses to delete a stack whose export another
    //! stack imports (moto does not), so a wrong order fails these tests.

    use std::collections::BTreeSet;

    use serde_json::json;

    use crate::aws::artifacts::MemoryArtifacts;

    use super::*;
    use crate::apply::tests::{OPTIONS, dev};
    use crate::aws::facts::fixed::FixedFacts;
    use crate::aws::fake::FakeCloudFormation as Fake;
    use crate::plan::plan;
    use crate::plan::removal::check_removals;
    use crate::watch::NoProgress;

    /// Applies `plan` (its removals, then its stacks), with no function code to upload.
    async fn apply_all(fake: &Fake, rendered: &RenderedEnvironment, plan: &Plan) -> ApplyReport {
        execute(
            fake,
            &MemoryArtifacts::default(),
            rendered,
            plan,
            &OPTIONS,
            &NoProgress,
        )
        .await
        .unwrap()
    }

    fn without(mut rendered: RenderedEnvironment, stack: &str) -> RenderedEnvironment {
        rendered.stacks.retain(|s| s.name != stack);
        rendered
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    async fn applied_dev() -> Fake {
        let fake = Fake::default();
        let rendered = dev();
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let report = apply_all(&fake, &rendered, &planned).await;
        assert!(report.not_applied().is_empty(), "{report:?}");
        fake
    }

    #[tokio::test]
    async fn a_stack_without_definition_is_a_removal_that_needs_allow_remove_then_goes() {
        let fake = applied_dev().await;
        let rendered = without(dev(), "bastion");
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        assert!(planned.has_changes());
        assert!(planned.stacks.iter().all(|s| !s.has_changes()));
        let [removal] = planned.removals.as_slice() else {
            panic!("one removal: {:?}", planned.removals);
        };
        assert_eq!(removal.deletion.stack, "bastion");
        assert_eq!(removal.deletion.stack_name, "photofeed-dev-bastion");
        assert_eq!(removal.phase, RemovalPhase::AfterUpdates);
        assert!(removal.blocked.is_empty(), "{:?}", removal.blocked);
        assert_eq!(removal.changes.len(), removal.deletion.resources);
        assert!(
            removal
                .changes
                .iter()
                .any(|c| c.resource_type == "AWS::EC2::Instance")
        );

        let refused = check_removals(&planned.removals, &names(&[]), &names(&[])).unwrap_err();
        assert!(
            refused.to_string().contains("--allow-remove bastion"),
            "{refused}"
        );
        let calls_before = fake.calls().len();
        check_removals(&planned.removals, &names(&["bastion"]), &names(&[])).unwrap();
        // The full stack name is accepted too.
        check_removals(
            &planned.removals,
            &names(&["photofeed-dev-bastion"]),
            &names(&[]),
        )
        .unwrap();
        assert_eq!(fake.calls().len(), calls_before, "checks call nothing");

        let report = apply_all(&fake, &rendered, &planned).await;
        assert!(report.not_applied().is_empty(), "{report:?}");
        assert_eq!(report.removed.len(), 1);
        assert!(report.removed[0].succeeded());
        assert_eq!(fake.status("photofeed-dev-bastion"), None);
        assert!(fake.status("photofeed-dev-database").is_some());

        let again = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        assert!(!again.has_changes(), "{again:?}");
        // A plan of one stack leaves the others alone.
        let one = plan(
            &fake,
            &FixedFacts::default(),
            &without(dev(), "storage"),
            Some("network"),
        )
        .await
        .unwrap();
        assert!(one.removals.is_empty());
    }

    #[tokio::test]
    async fn only_stacks_with_the_environments_tags_and_name_prefix_are_its_own() {
        let fake = applied_dev().await;
        let rendered = dev();
        let tags = rendered.environment.tags();
        let template = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}});
        let mut other_env = tags.clone();
        other_env.insert("environment".into(), "dev-eu".into());
        fake.deploy("photofeed-dev-eu-network", template.clone(), other_env);
        let mut by_hand = tags.clone();
        by_hand.remove("managed-by");
        fake.deploy("photofeed-dev-experiment", template.clone(), by_hand);
        fake.deploy("someone-elses-stack", template.clone(), tags.clone());
        let gone = fake.deploy("photofeed-dev-old", template.clone(), tags.clone());
        fake.delete_stack(&gone, &crate::aws::cloudformation::RequestToken::default())
            .await
            .unwrap();
        fake.deploy("photofeed-dev-legacy", template, tags);

        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let removed: Vec<&str> = planned
            .removals
            .iter()
            .map(|r| r.deletion.stack_name.as_str())
            .collect();
        assert_eq!(removed, ["photofeed-dev-legacy"]);
    }

    #[tokio::test]
    async fn the_stateful_guard_applies_to_what_a_removal_deletes_and_retained_resources_are_named()
    {
        let fake = applied_dev().await;
        let rendered = dev();
        fake.deploy(
            "photofeed-dev-legacy",
            json!({"Resources": {
                "Archive": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
                "Jobs": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"},
                "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres"}},
                "Topic": {"Type": "AWS::SNS::Topic"}
            }}),
            rendered.environment.tags(),
        );
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let removal = &planned.removals[0].deletion;
        let kept: Vec<(&str, &str)> = removal
            .kept
            .iter()
            .map(|k| (k.logical_id.as_str(), k.policy.as_str()))
            .collect();
        // No DeletionPolicy on a DB instance outside a cluster means Snapshot (CloudFormation's default).
        assert_eq!(kept, [("Archive", "Retain"), ("Db", "Snapshot")]);
        let lost: Vec<&str> = removal
            .stateful_deleted
            .iter()
            .map(|k| k.logical_id.as_str())
            .collect();
        assert_eq!(lost, ["Db", "Jobs"]);

        let refused = check_removals(&planned.removals, &names(&["legacy"]), &names(&["Jobs"]))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("--allow-replace Db"), "{refused}");
        assert!(!refused.contains("--allow-replace Jobs"), "{refused}");
        assert!(!refused.contains("Archive"), "{refused}");
        check_removals(
            &planned.removals,
            &names(&["legacy"]),
            &names(&["Jobs", "Db"]),
        )
        .unwrap();

        let text = crate::report::plan::render(&planned, crate::report::Style::PLAIN);
        // The physical id is whatever CloudFormation named the bucket; the line names it.
        assert!(
            text.lines().any(|line| line
                .contains("kept: Archive (AWS::S3::Bucket, photofeed-dev-legacy-")
                && line.contains(") retained per its DeletionPolicy (Retain)")),
            "{text}"
        );
        assert!(text.contains("--allow-remove legacy"), "{text}");

        let report = apply_all(&fake, &rendered, &planned).await;
        let kept: Vec<&str> = report.removed[0]
            .kept
            .iter()
            .map(|k| k.logical_id.as_str())
            .collect();
        assert_eq!(kept, ["Archive", "Db"]);
    }

    #[tokio::test]
    async fn a_removal_whose_exports_a_definition_still_imports_is_blocked() {
        let fake = applied_dev().await;
        // The database and the bastion live in the network's subnets (imports of its exported ids, which
        // never change): removing network.yaml alone cannot work.
        let rendered = without(dev(), "network");
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let removal = &planned.removals[0];
        assert_eq!(removal.deletion.stack, "network");
        assert!(
            removal
                .blocked
                .iter()
                .any(|b| b
                    .contains("photofeed-dev-database imports its export photofeed-dev-network-")),
            "{:?}",
            removal.blocked
        );
        let refused =
            check_removals(&planned.removals, &names(&["network"]), &names(&[])).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("photofeed-dev-network cannot be removed"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_removal_waits_for_the_update_that_stops_importing_its_exports() {
        let fake = applied_dev().await;
        let rendered = dev();
        fake.deploy(
            "photofeed-dev-legacy",
            json!({
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "photofeed-dev-legacy-TopicArn"}}}
            }),
            rendered.environment.tags(),
        );
        // The deployed storage imports legacy's export; its definition no longer does.
        fake.edit_template("photofeed-dev-storage", |template| {
            template["Resources"]["LegacyTopicPolicy"] = json!({
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Fn::ImportValue": "photofeed-dev-legacy-TopicArn"}]}
            });
        });
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let removal = &planned.removals[0];
        assert_eq!(removal.after, ["storage"]);
        assert_eq!(removal.phase, RemovalPhase::AfterUpdates);
        assert!(removal.blocked.is_empty(), "{:?}", removal.blocked);

        let report = apply_all(&fake, &rendered, &planned).await;
        assert!(report.not_applied().is_empty(), "{report:?}");
        let calls = fake.calls();
        let position = |call: &str| calls.iter().position(|c| c == call).unwrap();
        assert!(
            position("execute photofeed-dev-storage") < position("delete photofeed-dev-legacy")
        );
        assert_eq!(fake.status("photofeed-dev-legacy"), None);
    }

    #[tokio::test]
    async fn a_removal_importing_what_an_update_drops_goes_first_with_the_removals_importing_from_it()
     {
        let fake = applied_dev().await;
        let rendered = dev();
        // The deployed storage exports what its definition no longer does; `older` imports it, and `oldest`
        // imports `older`'s export: both go before the storage update, `oldest` first.
        fake.edit_template("photofeed-dev-storage", |template| {
            template["Resources"]["LegacyTopic"] = json!({"Type": "AWS::SNS::Topic"});
            template["Outputs"]["LegacyTopicArn"] = json!({
                "Value": {"Ref": "LegacyTopic"},
                "Export": {"Name": "photofeed-dev-storage-LegacyTopicArn"}
            });
        });
        fake.deploy(
            "photofeed-dev-older",
            json!({
                "Resources": {"Policy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
                    "Topics": [{"Fn::ImportValue": "photofeed-dev-storage-LegacyTopicArn"}]
                }}},
                "Outputs": {"Marker": {"Value": "x", "Export": {"Name": "photofeed-dev-older-Marker"}}}
            }),
            rendered.environment.tags(),
        );
        fake.deploy(
            "photofeed-dev-oldest",
            json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                "TopicName": {"Fn::ImportValue": "photofeed-dev-older-Marker"}
            }}}}),
            rendered.environment.tags(),
        );
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let summary: Vec<(&str, RemovalPhase, &[String])> = planned
            .removals
            .iter()
            .map(|r| (r.deletion.stack.as_str(), r.phase, r.before.as_slice()))
            .collect();
        let storage = ["storage".to_owned()];
        assert_eq!(
            summary,
            [
                ("oldest", RemovalPhase::BeforeUpdates, &storage[..]),
                ("older", RemovalPhase::BeforeUpdates, &storage[..])
            ]
        );
        let text = crate::report::plan::render(&planned, crate::report::Style::PLAIN);
        assert!(text.contains("removed before storage update"), "{text}");

        let report = apply_all(&fake, &rendered, &planned).await;
        assert!(report.not_applied().is_empty(), "{report:?}");
        let calls = fake.calls();
        let position = |call: &str| {
            calls
                .iter()
                .position(|c| c == call)
                .unwrap_or_else(|| panic!("{call} in {calls:?}"))
        };
        assert!(position("delete photofeed-dev-oldest") < position("delete photofeed-dev-older"));
        assert!(position("delete photofeed-dev-older") < position("execute photofeed-dev-storage"));
    }

    #[tokio::test]
    async fn a_removal_whose_exports_a_stack_not_deployed_yet_would_import_is_blocked() {
        let fake = applied_dev().await;
        // bastion is not deployed yet (say, a new definition) and will import the network's exports.
        fake.delete_stack(
            "photofeed-dev-bastion",
            &crate::aws::cloudformation::RequestToken::default(),
        )
        .await
        .unwrap();
        let rendered = dev();
        let mut without_network = rendered.clone();
        without_network.stacks.retain(|s| s.name != "network");
        let planned = plan(&fake, &FixedFacts::default(), &without_network, None)
            .await
            .unwrap();
        let removal = &planned.removals[0];
        assert_eq!(removal.deletion.stack, "network");
        assert!(
            removal
                .blocked
                .iter()
                .any(|b| b.starts_with("photofeed-dev-bastion imports its export")),
            "{:?}",
            removal.blocked
        );
    }

    #[tokio::test]
    async fn a_failed_update_leaves_the_removals_for_the_next_apply() {
        let fake = applied_dev().await;
        let rendered = without(dev(), "bastion");
        let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        // The stack changes under the plan: its removal is judged on the stack as deployed, so a failed
        // delete is reported with its cause and nothing after it runs.
        fake.protect("photofeed-dev-bastion");
        let report = apply_all(&fake, &rendered, &planned).await;
        assert_eq!(report.not_applied(), ["photofeed-dev-bastion"]);
        let StackOutcome::Failed { causes, .. } = &report.removed[0].outcome else {
            panic!("{:?}", report.removed[0]);
        };
        assert!(
            causes[0].reason.contains("TerminationProtection"),
            "{causes:?}"
        );
        assert!(fake.status("photofeed-dev-bastion").is_some());
        // Planned now, termination protection is seen up front.
        let replanned = plan(&fake, &FixedFacts::default(), &rendered, None)
            .await
            .unwrap();
        let refused = check_removals(&replanned.removals, &names(&["bastion"]), &names(&[]))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("termination protection"), "{refused}");
    }

    #[tokio::test]
    async fn destroy_deletes_stacks_without_definition_too_importers_first() {
        let fake = applied_dev().await;
        let rendered = without(dev(), "bastion");
        let destroy_plan = crate::destroy::prepare(&fake, &rendered).await.unwrap();
        let order: Vec<&str> = destroy_plan
            .stacks
            .iter()
            .map(|s| s.stack.as_str())
            .collect();
        assert_eq!(order, ["bastion", "app", "storage", "database", "network"]);
        assert!(!destroy_plan.stacks[0].defined);
        crate::destroy::execute(&fake, &destroy_plan, OPTIONS.wait, &NoProgress)
            .await
            .unwrap();
        for stack in ["bastion", "storage", "database", "network"] {
            assert_eq!(
                fake.status(&format!("photofeed-dev-{stack}")),
                None,
                "{stack}"
            );
        }
    }
}
