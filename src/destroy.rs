//! Destroy: delete an environment's stacks in reverse dependency order. Protected stacks and
//! databases are refused up front (nothing is deleted), and resources whose DeletionPolicy keeps
//! them (retained buckets, final DB snapshots) are reported, since they outlive the stacks.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::apply::Cause;
use crate::aws::cloudformation::{CloudFormation, RequestToken, WaitPolicy};
use crate::aws::once;
use crate::error::Error;
use crate::project::RenderedEnvironment;
use crate::watch::events::root_causes;
use crate::watch::{Operation, Progress, ProgressEvent, follow};

#[derive(Debug, Clone, Serialize)]
pub struct DestroyPlan {
    pub environment: String,
    /// Deployed stacks, in the order they will be deleted (dependents first).
    pub stacks: Vec<StackToDelete>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackToDelete {
    pub stack: String,
    pub stack_name: String,
    pub stack_id: String,
    pub status: String,
    pub resources: usize,
    pub termination_protection: bool,
    /// Resources whose deletion protection is on (the property the catalog names for their type).
    pub deletion_protected: Vec<Protected>,
    /// Resources that outlive the stack.
    pub kept: Vec<KeptResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protected {
    pub logical_id: String,
    pub resource_type: String,
    /// `DeletionProtection`, `DeletionProtectionEnabled`, ...
    pub property: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeptResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    /// `Retain` or `RetainExceptOnCreate` (the resource stays) or `Snapshot` (it is deleted after a
    /// final snapshot).
    pub policy: String,
}

/// Reads what deleting the environment would delete and keep.
pub async fn prepare<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
) -> Result<DestroyPlan, Error> {
    let mut stacks = Vec::new();
    for stack in rendered.stacks.iter().rev() {
        let Some(description) = cloudformation.describe_stack(&stack.stack_name).await? else {
            continue;
        };
        let template = cloudformation.get_template(&stack.stack_name).await?;
        let resources = cloudformation
            .list_stack_resources(&stack.stack_name)
            .await?;
        let physical = |logical_id: &str| {
            resources
                .iter()
                .find(|r| r.logical_id == logical_id)
                .and_then(|r| r.physical_id.clone())
        };
        let declared = template
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut kept = Vec::new();
        let mut deletion_protected = Vec::new();
        for (logical_id, resource) in &declared {
            let resource_type = resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some(policy) = resource.get("DeletionPolicy").and_then(Value::as_str)
                && policy != "Delete"
            {
                kept.push(KeptResource {
                    logical_id: logical_id.clone(),
                    resource_type: resource_type.to_owned(),
                    physical_id: physical(logical_id),
                    policy: policy.to_owned(),
                });
            }
            let protection = crate::catalog::lookup(resource_type)
                .and_then(|t| t.deletion_protection.as_deref());
            if let Some(property) = protection
                && resource
                    .get("Properties")
                    .and_then(|p| p.get(property))
                    .is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"))
            {
                deletion_protected.push(Protected {
                    logical_id: logical_id.clone(),
                    resource_type: resource_type.to_owned(),
                    property: property.to_owned(),
                });
            }
        }
        stacks.push(StackToDelete {
            stack: stack.name.clone(),
            stack_name: stack.stack_name.clone(),
            stack_id: description.id.clone(),
            status: description.status.to_string(),
            resources: declared.len(),
            termination_protection: description.termination_protection,
            deletion_protected,
            kept,
        });
    }
    Ok(DestroyPlan {
        environment: rendered.environment.name.clone(),
        stacks,
    })
}

/// Why the environment cannot be destroyed as it is, each with how to lift it.
pub fn refusals(plan: &DestroyPlan, rendered: &RenderedEnvironment) -> Vec<String> {
    let file = rendered.environment.file.display();
    let mut reasons = Vec::new();
    for stack in &plan.stacks {
        if stack.termination_protection {
            reasons.push(format!(
                "{} has termination protection on. Lift it deliberately with `aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {}` (and set `termination_protection: false` in {file} so apply does not turn it back on)",
                stack.stack_name, stack.stack_name
            ));
        }
        for protected in &stack.deletion_protected {
            // The database component sets it from the environment; anything else from its definition.
            let how = if protected.resource_type == "AWS::RDS::DBInstance" {
                format!("Set `database.deletion_protection: false` in {file}")
            } else {
                format!("Set its {} to false in its definition", protected.property)
            };
            reasons.push(format!(
                "{} in {} has deletion protection on. {how} and run `strata apply --env {}` first",
                protected.logical_id, stack.stack_name, plan.environment
            ));
        }
    }
    reasons
}

#[derive(Debug, Clone, Serialize)]
pub struct DestroyReport {
    pub environment: String,
    pub deleted: Vec<String>,
    pub kept: Vec<KeptResource>,
}

/// Deletes the stacks one after the other; the first failure stops the run.
pub async fn execute<C: CloudFormation>(
    cloudformation: &C,
    plan: &DestroyPlan,
    wait: WaitPolicy,
    progress: &dyn Progress,
) -> Result<DestroyReport, Error> {
    let mut report = DestroyReport {
        environment: plan.environment.clone(),
        deleted: Vec::new(),
        kept: Vec::new(),
    };
    for stack in &plan.stacks {
        let failed = |reason: String| Error::DestroyFailed {
            environment: plan.environment.clone(),
            stack: stack.stack_name.clone(),
            reason,
        };
        let started = Instant::now();
        progress.report(ProgressEvent::Started {
            stack: stack.stack_name.clone(),
            operation: Operation::Delete,
            resources: stack.resources,
        });
        // Follow the delete by stack id: by name, the stack vanishes before its last events. The id names the
        // operation too: one delete per stack, however often it is retried.
        let token = RequestToken::derive("delete", &[&stack.stack_id]);
        let watched = follow(
            cloudformation,
            &stack.stack_id,
            &stack.stack_name,
            progress,
            wait,
            || once::delete_stack(cloudformation, &stack.stack_id, &token),
        )
        .await
        .map_err(|err| failed(err.to_string()))?;
        let status = watched
            .stack
            .as_ref()
            .map(|d| d.status.to_string())
            .unwrap_or_else(|| "DELETE_COMPLETE".to_owned());
        progress.report(ProgressEvent::Finished {
            stack: stack.stack_name.clone(),
            status: status.clone(),
            succeeded: watched.stack.is_none(),
            elapsed: started.elapsed(),
        });
        if watched.stack.is_some() {
            let causes: Vec<String> = root_causes(&watched.events, &stack.stack_name)
                .iter()
                .map(Cause::from)
                .map(|c| {
                    format!(
                        "{} ({}) {}: {}",
                        c.logical_id, c.resource_type, c.status, c.reason
                    )
                })
                .collect();
            return Err(failed(format!(
                "the stack is {status}; root cause: {}",
                if causes.is_empty() {
                    "not reported".to_owned()
                } else {
                    causes.join("; ")
                }
            )));
        }
        report.deleted.push(stack.stack_name.clone());
        report.kept.extend(stack.kept.iter().cloned());
    }
    Ok(report)
}
