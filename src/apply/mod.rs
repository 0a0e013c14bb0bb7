//! Apply: carry out a plan. Stacks run in dependency order; stacks with no dependency between them
//! run concurrently. New stacks are created with CreateStack, existing ones updated by executing
//! the plan's change set (exactly what was reviewed). A failed stack stops everything that depends
//! on it; its root cause is extracted from the operation's events.
//!
//! Values a stack receives from other stacks' outputs are read when its turn comes, after those
//! stacks have applied. A value the plan could only announce ("known after X applies") makes apply
//! plan that stack again: a fresh change set with the values now output, which must stay within what
//! the plan showed and passes the replacement guard again before it is executed.

pub mod guard;
pub mod removal;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use crate::aws::cloudformation::{
    Capability, CloudFormation, CreateStackRequest, RequestToken, StackDescription, StackEvent,
    WaitPolicy,
};
use crate::aws::once;
use crate::aws::{ArtifactStore, AwsError};
use crate::error::Error;
use crate::plan::parameters::{self, ParameterValue};
use crate::plan::{StackAction, StackPlan, explain, template_body};
use crate::project::{RenderedEnvironment, RenderedStack};
use crate::watch::events::{rollback_failures, root_causes};
use crate::watch::{Operation, Progress, ProgressEvent, Watched, follow};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Stacks get (and keep) termination protection: the environment asks for it (production).
    pub termination_protection: bool,
    pub wait: WaitPolicy,
    /// Stateful resources that may be replaced or removed (`--allow-replace`): also what a re-plan at
    /// apply time is judged by.
    pub allow_replace: BTreeSet<String>,
}

/// What happened to each stack of the plan, in plan (dependency) order.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub environment: String,
    pub stacks: Vec<StackResult>,
    /// The plan's stack removals, in the order they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<removal::RemovalResult>,
    /// Retentions given to log groups no stack owns (RDS's exported logs), after the stacks applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_retention: Vec<crate::log_retention::RetentionChange>,
}

impl ApplyReport {
    /// Nothing to execute: every stack of the plan unchanged.
    pub fn unchanged(plan: &crate::plan::Plan) -> ApplyReport {
        ApplyReport {
            environment: plan.environment.clone(),
            stacks: plan.stacks.iter().map(unchanged).collect(),
            removed: Vec::new(),
            log_retention: Vec::new(),
        }
    }

    pub fn failed(&self) -> Vec<&StackResult> {
        self.stacks
            .iter()
            .filter(|s| matches!(s.outcome, StackOutcome::Failed { .. }))
            .collect()
    }

    /// The stacks that failed or were not started, removals included: what the apply did not do.
    pub fn not_applied(&self) -> Vec<String> {
        let failed = self.failed().into_iter().map(|s| s.stack_name.clone());
        let removals = self
            .removed
            .iter()
            .filter(|r| !r.succeeded())
            .map(|r| r.stack_name.clone());
        failed.chain(removals).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StackResult {
    pub stack: String,
    pub stack_name: String,
    pub action: StackAction,
    #[serde(flatten)]
    pub outcome: StackOutcome,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StackOutcome {
    Unchanged,
    Succeeded {
        status: String,
    },
    Failed {
        /// The stack's status afterwards; `None` when it does not exist.
        status: Option<String>,
        causes: Vec<Cause>,
        /// What to do when the stack is left in a state apply cannot continue from.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_step: Option<String>,
    },
    /// Not started because a stack it depends on failed.
    Skipped {
        reason: String,
    },
}

/// One root cause: a resource that failed (or the stack, or the API call) and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl From<&StackEvent> for Cause {
    fn from(event: &StackEvent) -> Self {
        Cause {
            logical_id: event.logical_id.clone(),
            resource_type: event.resource_type.clone(),
            status: event.status.clone(),
            reason: event.reason.clone().unwrap_or_default(),
        }
    }
}

/// Runs every stack of `plan` that has changes, in dependency order. Before a stack's operation,
/// the function packages its template deploys from S3 are put into their artifact bucket (which an
/// earlier stack of the same apply may just have created).
pub async fn execute<C: CloudFormation, A: ArtifactStore>(
    cloudformation: &C,
    artifacts: &A,
    rendered: &RenderedEnvironment,
    stacks: &[StackPlan],
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport, Error> {
    let tags = rendered.environment.tags();
    let changing: BTreeSet<&str> = stacks
        .iter()
        .filter(|s| s.has_changes())
        .map(|s| s.stack.as_str())
        .collect();
    let mut results: BTreeMap<String, StackResult> = BTreeMap::new();
    let mut pending: Vec<&StackPlan> = Vec::new();
    for stack in stacks {
        if stack.has_changes() {
            pending.push(stack);
        } else {
            results.insert(stack.stack.clone(), unchanged(stack));
        }
    }
    while !pending.is_empty() {
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for stack in pending {
            let rendered_stack = rendered_stack(rendered, &stack.stack)?;
            let dependencies: Vec<&str> = rendered_stack
                .depends_on
                .iter()
                .map(String::as_str)
                .filter(|d| changing.contains(d))
                .collect();
            if let Some(failed) = dependencies
                .iter()
                .find(|d| results.get(**d).is_some_and(|r| !succeeded(&r.outcome)))
            {
                let reason = format!("it depends on {failed}, which did not apply");
                progress.report(ProgressEvent::Skipped {
                    stack: stack.stack_name.clone(),
                    reason: reason.clone(),
                });
                results.insert(
                    stack.stack.clone(),
                    result(stack, StackOutcome::Skipped { reason }, Duration::ZERO),
                );
            } else if dependencies.iter().all(|d| results.contains_key(*d)) {
                ready.push((stack, rendered_stack));
            } else {
                waiting.push(stack);
            }
        }
        if ready.is_empty() && !waiting.is_empty() {
            // Dependencies form a cycle; rendering rejects that, so this is a defect, not input.
            return Err(Error::StackCycle {
                cycle: waiting.iter().map(|s| s.stack.clone()).collect(),
            });
        }
        let runs = ready.iter().map(|(stack, rendered_stack)| {
            run_stack(
                cloudformation,
                artifacts,
                stack,
                Target {
                    stack: rendered_stack,
                    environment: rendered,
                },
                &tags,
                options,
                progress,
            )
        });
        for outcome in join_all(runs).await {
            results.insert(outcome.stack.clone(), outcome);
        }
        pending = waiting;
    }
    if options.termination_protection {
        for result in results.values_mut() {
            if result.outcome == StackOutcome::Unchanged {
                protect(cloudformation, result, progress).await;
            }
        }
    }
    let ordered = stacks
        .iter()
        .filter_map(|s| results.remove(&s.stack))
        .collect();
    Ok(ApplyReport {
        environment: rendered.environment.name.clone(),
        stacks: ordered,
        removed: Vec::new(),
        log_retention: Vec::new(),
    })
}

fn rendered_stack<'a>(
    rendered: &'a RenderedEnvironment,
    name: &str,
) -> Result<&'a RenderedStack, Error> {
    rendered
        .stacks
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::UnknownStack {
            name: name.to_owned(),
            dir: rendered.environment.file.clone(),
            available: rendered.stacks.iter().map(|s| s.name.clone()).collect(),
        })
}

fn succeeded(outcome: &StackOutcome) -> bool {
    matches!(
        outcome,
        StackOutcome::Unchanged | StackOutcome::Succeeded { .. }
    )
}

fn unchanged(stack: &StackPlan) -> StackResult {
    result(stack, StackOutcome::Unchanged, Duration::ZERO)
}

fn result(stack: &StackPlan, outcome: StackOutcome, elapsed: Duration) -> StackResult {
    StackResult {
        stack: stack.stack.clone(),
        stack_name: stack.stack_name.clone(),
        action: stack.action,
        outcome,
        elapsed_seconds: elapsed.as_secs_f64(),
    }
}

/// The stack being applied, within its environment (whose other stacks' outputs it may receive).
#[derive(Clone, Copy)]
struct Target<'a> {
    stack: &'a RenderedStack,
    environment: &'a RenderedEnvironment,
}

async fn run_stack<C: CloudFormation, A: ArtifactStore>(
    cloudformation: &C,
    artifacts: &A,
    stack: &StackPlan,
    target: Target<'_>,
    tags: &BTreeMap<String, String>,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> StackResult {
    let started = Instant::now();
    let operation = match stack.action {
        StackAction::Create => Operation::Create,
        StackAction::Recreate => Operation::Recreate,
        StackAction::Update | StackAction::NoChanges => Operation::Update,
    };
    progress.report(ProgressEvent::Started {
        stack: stack.stack_name.clone(),
        operation,
        resources: stack.changes.len(),
    });
    let watched = match upload_artifacts(artifacts, stack, target.stack, progress).await {
        Err(cause) => Err(cause),
        Ok(()) => match operation {
            Operation::Update => {
                update(cloudformation, stack, target, tags, options, progress).await
            }
            _ => create(cloudformation, stack, target, tags, options, progress)
                .await
                .map(Some),
        },
    };
    let outcome = match watched {
        Ok(Some(watched)) => outcome_of(&stack.stack_name, operation, &watched),
        Ok(None) => StackOutcome::Unchanged,
        Err(cause) => StackOutcome::Failed {
            status: stack.deployed_status.clone(),
            causes: vec![cause],
            next_step: None,
        },
    };
    let elapsed = started.elapsed();
    let (status, succeeded) = match &outcome {
        StackOutcome::Succeeded { status } => (status.clone(), true),
        StackOutcome::Failed { status, .. } => (
            status.clone().unwrap_or_else(|| "NOT_CREATED".to_owned()),
            false,
        ),
        StackOutcome::Unchanged | StackOutcome::Skipped { .. } => (String::new(), true),
    };
    progress.report(ProgressEvent::Finished {
        stack: stack.stack_name.clone(),
        status,
        succeeded,
        elapsed,
    });
    let mut finished = result(stack, outcome, elapsed);
    if succeeded && options.termination_protection {
        protect(cloudformation, &mut finished, progress).await;
    }
    finished
}

fn outcome_of(stack_name: &str, operation: Operation, watched: &Watched) -> StackOutcome {
    let expected = match operation {
        Operation::Update => "UPDATE_COMPLETE",
        _ => "CREATE_COMPLETE",
    };
    match &watched.stack {
        Some(description) if description.status.as_str() == expected => StackOutcome::Succeeded {
            status: description.status.to_string(),
        },
        other => {
            let mut causes: Vec<Cause> = root_causes(&watched.events, stack_name)
                .iter()
                .map(Cause::from)
                .collect();
            if causes.is_empty()
                && let Some(description) = other
                && let Some(reason) = description.status_reason.clone()
            {
                causes.push(stack_cause(stack_name, description.status.as_str(), reason));
            }
            let status = other.as_ref().map(|d| d.status.to_string());
            let next_step = (status.as_deref() == Some("UPDATE_ROLLBACK_FAILED"))
                .then(|| recovery_command(stack_name, &watched.events));
            StackOutcome::Failed {
                status,
                causes,
                next_step,
            }
        }
    }
}

/// A stack whose rollback failed accepts nothing until the rollback is continued, skipping the
/// resources that cannot roll back once their cause is understood.
fn recovery_command(stack_name: &str, events: &[StackEvent]) -> String {
    let stuck: Vec<String> = rollback_failures(events, stack_name)
        .into_iter()
        .map(|e| e.logical_id)
        .collect();
    let skip = if stuck.is_empty() {
        String::new()
    } else {
        format!(
            " (if they cannot roll back: --resources-to-skip {})",
            stuck.join(" ")
        )
    };
    format!(
        "the rollback failed too{}. Fix that cause, run `aws cloudformation continue-update-rollback --stack-name {stack_name}`{skip}, then apply again",
        if stuck.is_empty() {
            String::new()
        } else {
            format!(" on {}", stuck.join(", "))
        }
    )
}

/// Why a stack operation could not even start: an API call refused it (validation, permissions)
/// or the stack changed under the plan.
pub(crate) fn stack_cause(stack: &str, status: &str, reason: String) -> Cause {
    Cause {
        logical_id: stack.to_owned(),
        resource_type: "AWS::CloudFormation::Stack".to_owned(),
        status: status.to_owned(),
        reason,
    }
}

fn call_failed(stack: &str) -> impl Fn(AwsError) -> Cause + '_ {
    move |err| stack_cause(stack, err.operation(), err.to_string())
}

/// The values the stack's stack-output parameters take now that its upstreams have applied. A value the
/// plan gave as known must not have moved (the plan is stale if it has).
async fn resolve_parameters<C: CloudFormation>(
    cloudformation: &C,
    stack: &StackPlan,
    target: Target<'_>,
) -> Result<BTreeMap<String, String>, Cause> {
    let name = &stack.stack_name;
    let now = parameters::current_values(cloudformation, target.environment, &stack.parameters)
        .await
        .map_err(call_failed(name))?;
    let mut values = BTreeMap::new();
    for parameter in stack.parameters.iter().filter(|p| p.is_stack_output()) {
        let Some(value) = now.get(&parameter.name).cloned().flatten() else {
            return Err(stack_cause(
                name,
                "DescribeStacks",
                format!(
                    "parameter {} has no value: {} does not output it",
                    parameter.name,
                    parameter_source(parameter)
                ),
            ));
        };
        if let ParameterValue::Known { value: planned } = &parameter.value
            && planned != &value
        {
            return Err(stack_cause(
                name,
                "DescribeStacks",
                format!(
                    "{} is {value} now, but the plan used {planned}: plan again",
                    parameter_source(parameter)
                ),
            ));
        }
        values.insert(parameter.name.clone(), value);
    }
    Ok(values)
}

fn parameter_source(parameter: &parameters::PlannedParameter) -> String {
    match &parameter.source {
        parameters::ParameterSource::StackOutput { stack, output } => {
            format!("output {output} of stack {stack}")
        }
        parameters::ParameterSource::Ssm { path } => format!("Systems Manager parameter {path}"),
    }
}

async fn create<C: CloudFormation>(
    cloudformation: &C,
    stack: &StackPlan,
    target: Target<'_>,
    tags: &BTreeMap<String, String>,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Watched, Cause> {
    let rendered = target.stack;
    let name = &stack.stack_name;
    let failed = call_failed(name);
    let parameters = resolve_parameters(cloudformation, stack, target).await?;
    if let Some(leftover) = cloudformation.describe_stack(name).await.map_err(&failed)? {
        if !leftover.status.has_no_resources_deployed() {
            return Err(stack_cause(
                name,
                leftover.status.as_str(),
                "the stack was created since the plan was made; plan again".to_owned(),
            ));
        }
        if let Some(still_there) =
            delete_leftover(cloudformation, &leftover, options.wait, progress)
                .await
                .map_err(&failed)?
        {
            return Ok(still_there);
        }
    }
    let template_body =
        template_body(rendered).map_err(|err| stack_cause(name, "CreateStack", err.to_string()))?;
    let request = CreateStackRequest {
        stack: name.clone(),
        template_body,
        parameters,
        tags: tags.clone(),
        capabilities: vec![Capability::Iam],
        termination_protection: options.termination_protection,
        client_request_token: stack.client_request_token.clone(),
    };
    follow(cloudformation, name, name, progress, options.wait, || {
        once::create_stack(cloudformation, &request)
    })
    .await
    .map_err(&failed)
}

/// Puts each package the stack's template deploys from S3 into its bucket, unless an object of that
/// key is there already: keys are content hashes, so an existing object holds exactly these bytes.
/// The upload precedes the stack operation because CloudFormation has Lambda fetch the code from S3
/// while it creates or updates the function (AWS::Lambda::Function Code, S3Bucket: "An Amazon S3
/// bucket in the same AWS Region as your function"); a missing object fails that resource.
async fn upload_artifacts<A: ArtifactStore>(
    artifacts: &A,
    stack: &StackPlan,
    rendered: &RenderedStack,
    progress: &dyn Progress,
) -> Result<(), Cause> {
    for artifact in rendered.template.artifacts.values() {
        let failed = |err: AwsError| Cause {
            logical_id: artifact.function.clone(),
            resource_type: "AWS::Lambda::Function".to_owned(),
            status: err.operation().to_owned(),
            reason: format!(
                "could not upload its code to s3://{}/{}: {err}",
                artifact.bucket, artifact.key
            ),
        };
        if artifacts
            .exists(&artifact.bucket, &artifact.key)
            .await
            .map_err(failed)?
        {
            continue;
        }
        artifacts
            .put(
                &artifact.bucket,
                &artifact.key,
                artifact.package.bytes.clone(),
                &artifact.package.sha256,
            )
            .await
            .map_err(failed)?;
        progress.report(ProgressEvent::Note {
            stack: stack.stack_name.clone(),
            message: format!(
                "uploaded the code of {} ({} bytes) to s3://{}/{}",
                artifact.function,
                artifact.package.bytes.len(),
                artifact.bucket,
                artifact.key
            ),
        });
    }
    Ok(())
}

/// Deletes a stack that holds no resources (a failed first creation, or a change-set shell) so it
/// can be created again. Returns the stack if it could not be deleted.
async fn delete_leftover<C: CloudFormation>(
    cloudformation: &C,
    leftover: &StackDescription,
    wait: WaitPolicy,
    progress: &dyn Progress,
) -> Result<Option<Watched>, AwsError> {
    progress.report(ProgressEvent::Note {
        stack: leftover.name.clone(),
        message: format!(
            "deleting the {} stack left by an earlier attempt",
            leftover.status
        ),
    });
    // The leftover's id names this delete: each failed creation leaves a stack of its own.
    let token = RequestToken::derive("delete", &[&leftover.id]);
    let watched = follow(
        cloudformation,
        &leftover.id,
        &leftover.name,
        progress,
        wait,
        || once::delete_stack(cloudformation, &leftover.id, &token),
    )
    .await?;
    Ok(watched.stack.is_some().then_some(watched))
}

/// Updates the stack: the plan's change set when the values it was made with still hold, otherwise a fresh
/// one with the values now output (or nothing, `None`, when CloudFormation then finds nothing to change).
async fn update<C: CloudFormation>(
    cloudformation: &C,
    stack: &StackPlan,
    target: Target<'_>,
    tags: &BTreeMap<String, String>,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Option<Watched>, Cause> {
    let name = &stack.stack_name;
    let failed = call_failed(name);
    let values = resolve_parameters(cloudformation, stack, target).await?;
    let as_planned = stack
        .parameters
        .iter()
        .filter(|p| p.is_stack_output())
        .all(|p| p.planned_value() == values.get(&p.name).map(String::as_str));
    let (change_set, token) = match (&stack.change_set_id, as_planned) {
        (Some(change_set), true) => (change_set.clone(), stack.client_request_token.clone()),
        (planned, _) => {
            if let Some(obsolete) = planned {
                // Made with values that no longer hold; executing it would undo what the upstream did.
                let _ = once::delete_change_set(cloudformation, name, obsolete).await;
            }
            match replan(
                cloudformation,
                stack,
                target,
                values,
                tags,
                options,
                progress,
            )
            .await?
            {
                Some(change_set) => {
                    let token = crate::plan::update_token(name, &change_set);
                    (change_set, token)
                }
                None => return Ok(None),
            }
        }
    };
    follow(cloudformation, name, name, progress, options.wait, || {
        once::execute_change_set(cloudformation, name, &change_set, &token)
    })
    .await
    .map(Some)
    .map_err(&failed)
}

/// Plans the stack again with `values`: a fresh change set, explained and predicted as `plan` does, that must
/// stay within what the plan showed and pass the replacement guard. Returns the change set to execute, or
/// `None` when there is nothing to change.
async fn replan<C: CloudFormation>(
    cloudformation: &C,
    stack: &StackPlan,
    target: Target<'_>,
    values: BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Option<String>, Cause> {
    let name = &stack.stack_name;
    let failed = call_failed(name);
    let upstreams: Vec<&str> = stack.resolves_after().into_iter().collect();
    progress.report(ProgressEvent::Note {
        stack: name.clone(),
        message: if upstreams.is_empty() {
            "planning again: the plan made no change set".to_owned()
        } else {
            format!(
                "planning again with the values {} now output{}",
                upstreams.join(", "),
                if values.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        values
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )
        },
    });
    let body = template_body(target.stack)
        .map_err(|err| stack_cause(name, "CreateChangeSet", err.to_string()))?;
    let fresh = crate::plan::change_set(cloudformation, target.stack, &body, values.clone(), tags)
        .await
        .map_err(|err| stack_cause(name, "CreateChangeSet", err.to_string()))?;
    let Some((change_set, aws_changes)) = fresh else {
        progress.report(ProgressEvent::Note {
            stack: name.clone(),
            message: "CloudFormation finds nothing to change".to_owned(),
        });
        return Ok(None);
    };
    let deployed = cloudformation.get_template(name).await.map_err(&failed)?;
    let mut changes = explain(
        &aws_changes,
        Some(&deployed),
        &crate::render::template_value(&target.stack.template),
    );
    parameters::merge_effects(
        &mut changes,
        parameters::parameter_effects(
            target.stack,
            &parameters::with_values(&stack.parameters, &values),
        ),
    );
    let mut objections = guard::beyond_plan(&stack.changes, &changes);
    objections.extend(
        guard::refused(name, &changes, &options.allow_replace)
            .into_iter()
            .map(|refused| {
                format!("{refused}, which destroys its data; allow it with --allow-replace")
            }),
    );
    objections.extend(
        guard::stranded(name, &changes, &options.allow_replace)
            .into_iter()
            .map(|stranded| {
                format!("{stranded}, so AWS would refuse to delete the original; turn that off, then allow it with --allow-replace")
            }),
    );
    if !objections.is_empty() {
        let _ = once::delete_change_set(cloudformation, name, &change_set).await;
        return Err(stack_cause(
            name,
            "CreateChangeSet",
            format!(
                "planned again with the values now known, the update {}; nothing was executed for this stack. Run plan (or apply) again to review it",
                objections.join("; ")
            ),
        ));
    }
    Ok(Some(change_set))
}

/// Turns termination protection on where it is off; a stack that cannot be protected fails the apply.
async fn protect<C: CloudFormation>(
    cloudformation: &C,
    result: &mut StackResult,
    progress: &dyn Progress,
) {
    let name = result.stack_name.clone();
    let outcome = async {
        match cloudformation.describe_stack(&name).await? {
            Some(description) if !description.termination_protection => {
                progress.report(ProgressEvent::Note {
                    stack: name.clone(),
                    message: "enabling termination protection".to_owned(),
                });
                cloudformation
                    .update_termination_protection(&name, true)
                    .await
            }
            _ => Ok(()),
        }
    }
    .await;
    if let Err(err) = outcome {
        result.outcome = StackOutcome::Failed {
            status: None,
            next_step: None,
            causes: vec![stack_cause(
                &name,
                err.operation(),
                format!("could not enable termination protection: {err}"),
            )],
        };
    }
}

#[cfg(test)]
mod cross_stack_tests;
#[cfg(test)]
mod tests;
