//! Destroy: delete an environment's stacks, importers first, including the stacks whose definitions were
//! removed (found by their tags and name prefix, `crate::managed`). Protected stacks and
//! databases are refused up front (nothing is deleted), and resources whose DeletionPolicy keeps
//! them (retained buckets, final DB snapshots) are reported, since they outlive the stacks.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apply::Cause;
use crate::aws::cloudformation::{CloudFormation, RequestToken, StackDescription, WaitPolicy};
use crate::aws::error::Call;
use crate::aws::once;
use crate::error::Error;
use crate::project::RenderedEnvironment;
use crate::watch::events::root_causes;
use crate::watch::{Operation, Progress, ProgressEvent, follow};

#[derive(Debug, Clone, Serialize)]
pub struct DestroyPlan {
    pub environment: String,
    /// Deployed stacks, in the order they will be deleted (importers before the stacks they import from).
    pub stacks: Vec<StackToDelete>,
}

/// A deployed stack as deleting it concerns: what goes, what stays, what stands in the way. Shared by destroy
/// and by the plan's removal of a stack whose definition is gone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackToDelete {
    pub stack: String,
    pub stack_name: String,
    pub stack_id: String,
    pub status: String,
    /// A stack definition renders it; `false` for a stack left deployed after its definition was removed.
    pub defined: bool,
    pub resources: usize,
    pub termination_protection: bool,
    /// Resources whose deletion protection is on (the property the catalog names for their type).
    pub deletion_protected: Vec<Protected>,
    /// Resources that outlive the stack.
    pub kept: Vec<KeptResource>,
    /// Resources of the catalog's stateful types deleted with the stack (DeletionPolicy `Delete`, or `Snapshot`:
    /// the resource goes, a final snapshot stays).
    pub stateful_deleted: Vec<KeptResource>,
    /// The stack's export names (DescribeStacks outputs).
    pub exports: Vec<String>,
    /// The export names its deployed template imports.
    pub imports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protected {
    pub logical_id: String,
    pub resource_type: String,
    /// `DeletionProtection`, `DeletionProtectionEnabled`, ...
    pub property: String,
}

/// A resource and the DeletionPolicy that decides its fate when its stack is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    /// `Retain` or `RetainExceptOnCreate` (the resource stays), `Snapshot` (it is deleted after a final
    /// snapshot) or `Delete`; CloudFormation's default when the template declares none.
    pub policy: String,
}

/// Reads what deleting the environment would delete and keep: every stack a definition renders, and every
/// stack of the environment whose definition is gone.
pub async fn prepare<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
) -> Result<DestroyPlan, Error> {
    let mut stacks = Vec::new();
    for orphan in crate::managed::undefined_stacks(cloudformation, rendered).await? {
        let inspected = inspect(cloudformation, &orphan.stack, &orphan.description, false).await?;
        stacks.push(inspected.deletion);
    }
    for stack in rendered.stacks.iter().rev() {
        let Some(description) = cloudformation.describe_stack(&stack.stack_name).await? else {
            continue;
        };
        let inspected = inspect(cloudformation, &stack.name, &description, true).await?;
        stacks.push(inspected.deletion);
    }
    Ok(DestroyPlan {
        environment: rendered.environment.name.clone(),
        stacks: deletion_order(stacks),
    })
}

/// A deployed stack as read for its deletion: what deleting it does, its deployed template, and every
/// resource of that template (sorted by logical id) with its physical id where CloudFormation lists one.
pub struct Inspected {
    pub deletion: StackToDelete,
    pub template: Value,
    pub resources: Vec<DeployedResource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
}

/// What deleting the deployed stack deletes, keeps and is refused by.
pub async fn inspect<C: CloudFormation>(
    cloudformation: &C,
    stack: &str,
    description: &StackDescription,
    defined: bool,
) -> Result<Inspected, Error> {
    let template = cloudformation.get_template(&description.name).await?;
    let listed = cloudformation
        .list_stack_resources(&description.name)
        .await?;
    let physical = |logical_id: &str| {
        listed
            .iter()
            .find(|r| r.logical_id == logical_id)
            .and_then(|r| r.physical_id.clone())
    };
    // Sorted by logical id: GetTemplate gives the body as sent, in whatever order its keys came.
    let declared: BTreeMap<&String, &Value> = template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .collect();
    let call = Call::stack("GetTemplate", &description.name);
    let mut resources = Vec::new();
    let mut kept = Vec::new();
    let mut stateful_deleted = Vec::new();
    let mut deletion_protected = Vec::new();
    for (logical_id, resource) in declared {
        let resource_type = call.required(
            resource.get("Type").and_then(Value::as_str),
            &format!("Type of resource {logical_id}"),
        )?;
        let policy = crate::catalog::deletion_policy(resource);
        let fate = KeptResource {
            logical_id: logical_id.clone(),
            resource_type: resource_type.clone(),
            physical_id: physical(logical_id),
            policy: policy.to_owned(),
        };
        if !crate::catalog::policy_retains(policy) && crate::catalog::is_stateful(&resource_type) {
            stateful_deleted.push(fate.clone());
        }
        if policy != "Delete" {
            kept.push(fate);
        }
        if let Some(property) = crate::catalog::protection_on(resource) {
            deletion_protected.push(Protected {
                logical_id: logical_id.clone(),
                resource_type: resource_type.clone(),
                property: property.to_owned(),
            });
        }
        resources.push(DeployedResource {
            logical_id: logical_id.clone(),
            resource_type,
            physical_id: physical(logical_id),
        });
    }
    let deletion = StackToDelete {
        stack: stack.to_owned(),
        stack_name: description.name.clone(),
        stack_id: description.id.clone(),
        status: description.status.to_string(),
        defined,
        resources: resources.len(),
        termination_protection: description.termination_protection,
        deletion_protected,
        kept,
        stateful_deleted,
        exports: description
            .outputs
            .values()
            .filter_map(|o| o.export_name.clone())
            .collect(),
        imports: crate::model::imports_in(&template),
    };
    Ok(Inspected {
        deletion,
        template,
        resources,
    })
}

/// Orders stacks for deletion: a stack goes only once no remaining stack imports its exports (CloudFormation
/// refuses to delete an export in use). Otherwise the given order holds; stacks in an import cycle (which
/// CloudFormation cannot have been given) keep it too.
pub fn deletion_order<T: AsRef<StackToDelete>>(mut stacks: Vec<T>) -> Vec<T> {
    let mut ordered = Vec::with_capacity(stacks.len());
    while !stacks.is_empty() {
        let free = (0..stacks.len()).find(|&i| {
            let exports = &stacks[i].as_ref().exports;
            !stacks.iter().enumerate().any(|(j, other)| {
                j != i
                    && other
                        .as_ref()
                        .imports
                        .iter()
                        .any(|import| exports.contains(import))
            })
        });
        ordered.push(stacks.remove(free.unwrap_or(0)));
    }
    ordered
}

impl AsRef<StackToDelete> for StackToDelete {
    fn as_ref(&self) -> &StackToDelete {
        self
    }
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
            // The database and bastion components set it from the environment; anything else from
            // its definition.
            let setting = match protected.resource_type.as_str() {
                "AWS::RDS::DBInstance"
                    if crate::stacks::database::is_replica(&protected.logical_id) =>
                {
                    Some("database.replicas.deletion_protection")
                }
                "AWS::RDS::DBInstance" => Some("database.deletion_protection"),
                "AWS::EC2::Instance"
                    if protected.logical_id == crate::stacks::bastion::INSTANCE =>
                {
                    Some("bastion.termination_protection")
                }
                _ => None,
            };
            let how = match setting {
                Some(setting) => format!("Set `{setting}: false` in {file}"),
                None => format!("Set its {} to false in its definition", protected.property),
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
        delete(cloudformation, stack, wait, progress)
            .await
            .map_err(|failure| Error::DestroyFailed {
                environment: plan.environment.clone(),
                stack: stack.stack_name.clone(),
                reason: failure.to_string(),
            })?;
        report.deleted.push(stack.stack_name.clone());
        report.kept.extend(stack.kept.iter().cloned());
    }
    Ok(report)
}

/// Why a stack was not deleted.
#[derive(Debug)]
pub enum DeleteFailure {
    /// A call failed (refused, or the wait gave up).
    Call(crate::aws::AwsError),
    /// The delete ran and the stack is still there.
    Stuck { status: String, causes: Vec<Cause> },
}

impl std::fmt::Display for DeleteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeleteFailure::Call(err) => write!(f, "{err}"),
            DeleteFailure::Stuck { status, causes } => {
                let causes: Vec<String> = causes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} ({}) {}: {}",
                            c.logical_id, c.resource_type, c.status, c.reason
                        )
                    })
                    .collect();
                write!(
                    f,
                    "the stack is {status}; root cause: {}",
                    if causes.is_empty() {
                        "not reported".to_owned()
                    } else {
                        causes.join("; ")
                    }
                )
            }
        }
    }
}

/// Deletes one stack and follows the delete to its end, reporting progress.
pub async fn delete<C: CloudFormation>(
    cloudformation: &C,
    stack: &StackToDelete,
    wait: WaitPolicy,
    progress: &dyn Progress,
) -> Result<(), DeleteFailure> {
    let started = Instant::now();
    progress.report(ProgressEvent::Started {
        stack: stack.stack_name.clone(),
        operation: Operation::Delete,
        resources: stack.resources,
    });
    // Follow the delete by stack id: by name, the stack vanishes before its last events. The id names the
    // operation too: one delete per stack, however often it is retried.
    let token = delete_token(stack);
    let watched = follow(
        cloudformation,
        &stack.stack_id,
        &stack.stack_name,
        progress,
        wait,
        || once::delete_stack(cloudformation, &stack.stack_id, &token),
    )
    .await
    .map_err(DeleteFailure::Call)?;
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
        let mut causes: Vec<Cause> = root_causes(&watched.events, &stack.stack_name)
            .iter()
            .map(Cause::from)
            .collect();
        if causes.is_empty()
            && let Some(reason) = watched.stack.as_ref().and_then(|d| d.status_reason.clone())
        {
            causes.push(Cause {
                logical_id: stack.stack_name.clone(),
                resource_type: "AWS::CloudFormation::Stack".to_owned(),
                status: status.clone(),
                reason,
            });
        }
        return Err(DeleteFailure::Stuck { status, causes });
    }
    Ok(())
}

/// The ClientRequestToken of deleting this stack: its id names the operation.
pub fn delete_token(stack: &StackToDelete) -> RequestToken {
    RequestToken::derive("delete", &[&stack.stack_id])
}
