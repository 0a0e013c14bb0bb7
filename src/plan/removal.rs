//! Stacks the plan removes: deployed stacks of the environment (found by tags and name prefix,
//! `crate::managed`) that no stack definition renders any more. Apply deletes one only when it is named with
//! `--allow-remove`, and the stateful guard still applies to the resources it deletes. A removal runs after
//! the updates that stop defined stacks importing its exports, or before the updates that drop exports it
//! imports; one that a defined stack will still import, or that needs both, cannot be removed and says why.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::aws::cloudformation::{self as cfn, CloudFormation, RequestToken, WaitPolicy};
use crate::destroy::{self, DeployedResource, StackToDelete};
use crate::error::Error;
use crate::managed::undefined_stacks;
use crate::project::RenderedEnvironment;

use super::{ChangeAction, Replacement, ReplacementSource, ResourceChange, deployed_hash};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackRemoval {
    #[serde(flatten)]
    pub deletion: StackToDelete,
    /// SHA-256 of the deployed template (canonical JSON), to detect a stale saved plan.
    pub deployed_template_sha256: String,
    /// The DeleteStack token: the same one destroy would use for this stack.
    pub client_request_token: RequestToken,
    /// When apply deletes it, relative to the updates of the defined stacks.
    pub phase: RemovalPhase,
    /// Defined stacks whose update (in this plan) has to come first: their deployed template imports its
    /// exports, their definition no longer does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Defined stacks whose update has to wait for this removal: they stop exporting what it imports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// Why it cannot be removed (apply refuses the whole plan while any is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Every resource of the stack, as a removal.
    pub changes: Vec<ResourceChange>,
}

impl AsRef<StackToDelete> for StackRemoval {
    fn as_ref(&self) -> &StackToDelete {
        &self.deletion
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalPhase {
    BeforeUpdates,
    AfterUpdates,
}

/// The removals of a plan of the whole environment, in the order apply deletes them.
pub async fn plan_removals<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
) -> Result<Vec<StackRemoval>, Error> {
    let orphans = undefined_stacks(cloudformation, rendered).await?;
    let mut removals = Vec::new();
    for orphan in &orphans {
        let mut description = orphan.description.clone();
        if description.status.is_in_progress() {
            match cfn::wait_for_stack(cloudformation, &description.name, WaitPolicy::STACK).await? {
                Some(settled) => description = settled,
                None => continue,
            }
        }
        let inspected =
            destroy::inspect(cloudformation, &orphan.stack, &description, false).await?;
        removals.push(StackRemoval {
            deployed_template_sha256: deployed_hash(&inspected.template),
            client_request_token: destroy::delete_token(&inspected.deletion),
            phase: RemovalPhase::AfterUpdates,
            after: Vec::new(),
            before: Vec::new(),
            blocked: Vec::new(),
            changes: inspected.resources.iter().map(removed_resource).collect(),
            deletion: inspected.deletion,
        });
    }
    if removals.is_empty() {
        return Ok(removals);
    }
    for rendered_stack in &rendered.stacks {
        // What the defined stack imports and exports once applied, and (when deployed) does now.
        let imports_then = rendered_stack.template.imports();
        let exports_then: BTreeSet<&str> = rendered_stack
            .template
            .exports()
            .map(|(_, export)| export.as_str())
            .collect();
        // A defined stack is read here only when there is a removal to order against it.
        let deployed = cloudformation
            .describe_stack(&rendered_stack.stack_name)
            .await?
            .filter(|d| !d.status.has_no_resources_deployed());
        let (imports_now, dropped) = match deployed {
            Some(deployed) => (
                crate::model::imports_in(&cloudformation.get_template(&deployed.name).await?),
                deployed
                    .outputs
                    .values()
                    .filter_map(|o| o.export_name.clone())
                    .filter(|export| !exports_then.contains(export.as_str()))
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        for removal in &mut removals {
            for export in &removal.deletion.exports {
                if imports_then.contains(export) {
                    removal.blocked.push(format!(
                        "{} imports its export {export} in its definition ({}); remove that import, or restore the stack's definition",
                        rendered_stack.stack_name,
                        rendered_stack.file.display()
                    ));
                } else if imports_now.contains(export) {
                    push_once(&mut removal.after, &rendered_stack.name);
                }
            }
            if removal
                .deletion
                .imports
                .iter()
                .any(|import| dropped.contains(import))
            {
                push_once(&mut removal.before, &rendered_stack.name);
            }
        }
    }
    wait_with_importers(&mut removals);
    for removal in &mut removals {
        if !removal.before.is_empty() {
            removal.phase = RemovalPhase::BeforeUpdates;
        }
        if !removal.before.is_empty() && !removal.after.is_empty() {
            removal.blocked.push(format!(
                "it must go after {} stop importing its exports and before {} stop exporting what it imports; split that change into two applies",
                removal.after.join(", "),
                removal.before.join(", ")
            ));
        }
    }
    Ok(destroy::deletion_order(removals))
}

/// A removal that imports another removal's exports is deleted before it, so it also comes before the
/// updates that one has to precede.
fn wait_with_importers(removals: &mut [StackRemoval]) {
    let mut changed = true;
    while changed {
        changed = false;
        for exporter in 0..removals.len() {
            let (exports, before) = (
                removals[exporter].deletion.exports.clone(),
                removals[exporter].before.clone(),
            );
            for importer in removals.iter_mut() {
                if importer
                    .deletion
                    .imports
                    .iter()
                    .any(|i| exports.contains(i))
                {
                    for stack in &before {
                        if !importer.before.contains(stack) {
                            importer.before.push(stack.clone());
                            changed = true;
                        }
                    }
                }
            }
        }
    }
}

fn push_once(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

/// A resource of the deployed stack as a removal (a retained one too: it leaves the stack).
fn removed_resource(resource: &DeployedResource) -> ResourceChange {
    ResourceChange {
        action: ChangeAction::Remove,
        logical_id: resource.logical_id.clone(),
        resource_type: resource.resource_type.clone(),
        physical_id: resource.physical_id.clone(),
        replacement: Replacement::Never,
        replacement_source: ReplacementSource::Predicted,
        stateful: crate::catalog::is_stateful(&resource.resource_type),
        properties: Vec::new(),
        deletion_protection: None,
    }
}

/// Refuses the plan while a removal is not acknowledged by `--allow-remove` (short or full stack name),
/// cannot be carried out, or deletes a stateful resource not named to `--allow-replace`.
pub fn check_removals(
    removals: &[StackRemoval],
    allow_remove: &BTreeSet<String>,
    allow_replace: &BTreeSet<String>,
) -> Result<(), Error> {
    let mut refusals = Vec::new();
    for removal in removals {
        let stack = &removal.deletion;
        if !allow_remove.contains(&stack.stack) && !allow_remove.contains(&stack.stack_name) {
            refusals.push(format!(
                "{} has no stack definition any more and would be deleted ({} resources): name it with --allow-remove {}",
                stack.stack_name, stack.resources, stack.stack
            ));
            continue;
        }
        for reason in &removal.blocked {
            refusals.push(format!("{} cannot be removed: {reason}", stack.stack_name));
        }
        if stack.termination_protection {
            refusals.push(format!(
                "{} has termination protection on; lift it deliberately with `aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {}`",
                stack.stack_name, stack.stack_name
            ));
        }
        for protected in &stack.deletion_protected {
            refusals.push(format!(
                "{} in {} has deletion protection on ({}); turn it off first",
                protected.logical_id, stack.stack_name, protected.property
            ));
        }
        for lost in &stack.stateful_deleted {
            if !allow_replace.contains(&lost.logical_id) {
                refusals.push(format!(
                    "{} deletes {} ({}) and the data it holds{}: name it with --allow-replace {}",
                    stack.stack_name,
                    lost.logical_id,
                    lost.resource_type,
                    if lost.policy == "Snapshot" {
                        " (a final snapshot is kept)"
                    } else {
                        ""
                    },
                    lost.logical_id
                ));
            }
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(Error::RemovalRefused { refusals })
    }
}

/// Names given to `--allow-remove` that match no removal of the plan (likely a typo).
pub fn unused_allowances(
    removals: &[StackRemoval],
    allow_remove: &BTreeSet<String>,
) -> Vec<String> {
    allow_remove
        .iter()
        .filter(|name| {
            !removals
                .iter()
                .any(|r| &&r.deletion.stack == name || &&r.deletion.stack_name == name)
        })
        .cloned()
        .collect()
}
