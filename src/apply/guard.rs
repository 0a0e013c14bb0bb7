//! Checks that run before apply touches anything: data-destroying changes must be allowed by name,
//! and a saved plan must still describe what is deployed and what the definitions render.

use std::collections::BTreeSet;
use std::path::Path;

use crate::aws::cloudformation::CloudFormation;
use crate::error::Error;
use crate::plan::parameters::{self, ParameterSource, ParameterValue};
use crate::plan::{
    ChangeAction, Plan, Replacement, ResourceChange, StackAction, deployed_hash, explain,
    sha256_hex, template_body,
};
use crate::project::RenderedEnvironment;
use crate::render::template_value;

/// Refuses the plan if it replaces or removes a stateful resource not named in `allowed`, or replaces
/// a resource whose deletion protection is on (see
/// [`ResourceChange::strands_protected_original`]) not named in `allowed`.
pub fn check_replacements(plan: &Plan, allowed: &BTreeSet<String>) -> Result<(), Error> {
    let refused: Vec<String> = plan
        .stacks
        .iter()
        .flat_map(|stack| refused(&stack.stack_name, &stack.changes, allowed))
        .collect();
    if !refused.is_empty() {
        return Err(Error::ReplacementRefused { changes: refused });
    }
    let stranded: Vec<String> = plan
        .stacks
        .iter()
        .flat_map(|stack| stranded(&stack.stack_name, &stack.changes, allowed))
        .collect();
    if stranded.is_empty() {
        Ok(())
    } else {
        Err(Error::ProtectedReplacementRefused { changes: stranded })
    }
}

/// The changes of stack `stack_name` that replace a deletion-protected resource not named in
/// `allowed`: the replacement would succeed and leave the protected original behind.
pub fn stranded(
    stack_name: &str,
    changes: &[ResourceChange],
    allowed: &BTreeSet<String>,
) -> Vec<String> {
    not_allowed(changes, allowed, ResourceChange::strands_protected_original)
        .map(|c| {
            format!(
                "{stack_name} replaces {} ({}{}), whose {} is on",
                c.logical_id,
                c.resource_type,
                c.physical_id
                    .as_deref()
                    .map(|id| format!(", {id}"))
                    .unwrap_or_default(),
                c.deletion_protection.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// The changes of stack `stack_name` that replace or remove a stateful resource not named in `allowed`.
pub fn refused(
    stack_name: &str,
    changes: &[ResourceChange],
    allowed: &BTreeSet<String>,
) -> Vec<String> {
    not_allowed(changes, allowed, ResourceChange::is_dangerous)
        .map(|c| {
            let what = if c.action == ChangeAction::Remove {
                "removes"
            } else {
                "replaces"
            };
            format!("{stack_name} {what} {} ({})", c.logical_id, c.resource_type)
        })
        .collect()
}

/// The changes `needs_allowance` picks whose logical id is not in `allowed`.
fn not_allowed<'a>(
    changes: &'a [ResourceChange],
    allowed: &'a BTreeSet<String>,
    needs_allowance: fn(&ResourceChange) -> bool,
) -> impl Iterator<Item = &'a ResourceChange> {
    changes
        .iter()
        .filter(move |c| needs_allowance(c) && !allowed.contains(&c.logical_id))
}

/// What a re-plan made at apply time does beyond the plan that was shown (and confirmed or saved): a resource
/// the plan did not list, another action, or a replacement where the plan showed an update in place. A re-plan
/// is expected to differ only in values the plan said would be known later.
pub fn beyond_plan(planned: &[ResourceChange], fresh: &[ResourceChange]) -> Vec<String> {
    let strength = |change: &ResourceChange| {
        if change.action.changes_existing() {
            change.replacement
        } else {
            Replacement::Never
        }
    };
    fresh
        .iter()
        .filter_map(|change| {
            let verb = match change.action {
                ChangeAction::Add => "adds",
                ChangeAction::Remove => "removes",
                _ if change.replaces() => "replaces",
                _ => "modifies",
            };
            match planned.iter().find(|p| p.logical_id == change.logical_id) {
                None => Some(format!(
                    "{verb} {}, which the plan did not list",
                    change.logical_id
                )),
                Some(shown) if shown.action != change.action => Some(format!(
                    "{verb} {}, which the plan showed as {:?}",
                    change.logical_id, shown.action
                )),
                Some(shown) if strength(change) > strength(shown) => Some(format!(
                    "replaces {}, which the plan showed as updated in place",
                    change.logical_id
                )),
                Some(_) => None,
            }
        })
        .collect()
}

/// Names given to `--allow-replace` that match no data-destroying change (likely a typo).
pub fn unused_allowances(plan: &Plan, allowed: &BTreeSet<String>) -> Vec<String> {
    let dangerous: BTreeSet<&str> = plan
        .stacks
        .iter()
        .flat_map(|s| s.changes.iter())
        .filter(|c| c.is_dangerous() || c.strands_protected_original())
        .map(|c| c.logical_id.as_str())
        .chain(
            plan.removals
                .iter()
                .flat_map(|r| &r.deletion.stateful_deleted)
                .map(|r| r.logical_id.as_str()),
        )
        .collect();
    allowed
        .iter()
        .filter(|id| !dangerous.contains(id.as_str()))
        .cloned()
        .collect()
}

/// A saved plan may be applied only if nothing it was computed from has changed: the environment,
/// account and region, every rendered template, and every deployed stack's status and template.
/// Returns the plan with each update's changes re-read from its change set, so that the
/// replacement guard judges what AWS will execute, not what the file says.
pub async fn check_saved_plan<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
    plan: &Plan,
    path: &Path,
) -> Result<Plan, Error> {
    let mut checked = plan.clone();
    let stale = |reason: String| Error::StalePlan {
        path: path.to_path_buf(),
        reason,
    };
    let settings = &rendered.environment.settings;
    for (what, planned, now) in [
        ("environment", &plan.environment, &rendered.environment.name),
        ("account", &plan.account_id, &settings.account_id),
        ("region", &plan.region, &settings.region),
    ] {
        if planned != now {
            return Err(stale(format!(
                "it was made for {what} {planned}, not {now}"
            )));
        }
    }
    for stack in &mut checked.stacks {
        let Some(current) = rendered.stacks.iter().find(|s| s.name == stack.stack) else {
            return Err(stale(format!("stack {} is no longer defined", stack.stack)));
        };
        if sha256_hex(&template_body(current)?) != stack.template_sha256 {
            return Err(stale(format!(
                "the definitions now render a different template for {}",
                stack.stack_name
            )));
        }
        let deployed = cloudformation.describe_stack(&stack.stack_name).await?;
        let status_now = deployed.as_ref().map(|d| d.status.to_string());
        if status_now != stack.deployed_status {
            return Err(stale(format!(
                "{} was {} when planned and is {} now",
                stack.stack_name,
                stack.deployed_status.as_deref().unwrap_or("absent"),
                status_now.as_deref().unwrap_or("absent")
            )));
        }
        let mut deployed_template = None;
        if let Some(planned_hash) = &stack.deployed_template_sha256 {
            let template = cloudformation.get_template(&stack.stack_name).await?;
            if &deployed_hash(&template) != planned_hash {
                return Err(stale(format!(
                    "{} was updated since the plan (its deployed template differs)",
                    stack.stack_name
                )));
            }
            deployed_template = Some(template);
        }
        if stack.action == StackAction::Update
            && let Some(change_set) = &stack.change_set_id
        {
            let description = cloudformation
                .describe_change_set(&stack.stack_name, change_set)
                .await
                .map_err(|err| {
                    stale(format!(
                        "its change set for {} is gone: {err}",
                        stack.stack_name
                    ))
                })?;
            if description.execution_status != "AVAILABLE" {
                return Err(stale(format!(
                    "its change set for {} can no longer be executed ({})",
                    stack.stack_name, description.execution_status
                )));
            }
            stack.changes = explain(
                &description.changes,
                deployed_template.as_ref(),
                &template_value(&current.template),
            );
            parameters::merge_effects(
                &mut stack.changes,
                parameters::parameter_effects(current, &stack.parameters),
            );
        }
    }
    // A value the plan took as known must still be what its upstream outputs, unless the plan itself changes
    // that upstream (then apply checks it once the upstream has applied).
    let changing: BTreeSet<String> = checked
        .stacks
        .iter()
        .filter(|s| s.has_changes())
        .map(|s| s.stack.clone())
        .collect();
    for stack in &checked.stacks {
        let now = parameters::current_values(cloudformation, rendered, &stack.parameters).await?;
        for parameter in &stack.parameters {
            let (
                ParameterSource::StackOutput {
                    stack: upstream,
                    output,
                },
                ParameterValue::Known { value },
            ) = (&parameter.source, &parameter.value)
            else {
                continue;
            };
            let current = now.get(&parameter.name).cloned().flatten();
            if !changing.contains(upstream) && current.as_deref() != Some(value.as_str()) {
                return Err(stale(format!(
                    "output {output} of stack {upstream} is {} now, but {} was planned with {value}",
                    current.as_deref().unwrap_or("absent"),
                    stack.stack_name
                )));
            }
        }
    }
    // A removal holds while the same stack is deployed, in the same status, with the same template, and still
    // has no definition. What deleting it does is read again (termination protection is no template matter).
    for removal in &mut checked.removals {
        let planned = &removal.deletion;
        if rendered
            .stacks
            .iter()
            .any(|s| s.stack_name == planned.stack_name)
        {
            return Err(stale(format!(
                "it removes {}, which has a definition again",
                planned.stack_name
            )));
        }
        let now = match cloudformation.describe_stack(&planned.stack_name).await? {
            Some(now) if now.id == planned.stack_id && now.status.as_str() == planned.status => now,
            Some(now) => {
                return Err(stale(format!(
                    "{} was {} when planned and is {} now",
                    planned.stack_name, planned.status, now.status
                )));
            }
            None => {
                return Err(stale(format!(
                    "{} is gone since the plan",
                    planned.stack_name
                )));
            }
        };
        let inspected =
            crate::destroy::inspect(cloudformation, &planned.stack, &now, false).await?;
        if deployed_hash(&inspected.template) != removal.deployed_template_sha256 {
            return Err(stale(format!(
                "{} was updated since the plan (its deployed template differs)",
                planned.stack_name
            )));
        }
        removal.deletion = inspected.deletion;
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ReplacementSource;

    fn change(action: ChangeAction, id: &str, replacement: Replacement) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: id.into(),
            resource_type: "AWS::EC2::Instance".into(),
            physical_id: None,
            replacement,
            replacement_source: ReplacementSource::Predicted,
            stateful: false,
            properties: vec![],
            deletion_protection: None,
        }
    }

    #[test]
    fn a_re_plan_may_only_do_what_the_plan_showed() {
        let planned = vec![
            change(ChangeAction::Modify, "BastionInstance", Replacement::Never),
            change(ChangeAction::Add, "Extra", Replacement::Never),
        ];
        assert!(beyond_plan(&planned, &planned).is_empty());
        assert!(beyond_plan(&planned, &planned[..1]).is_empty());
        let fresh = vec![
            change(ChangeAction::Modify, "BastionInstance", Replacement::Always),
            change(ChangeAction::Modify, "Extra", Replacement::Never),
            change(ChangeAction::Remove, "Unlisted", Replacement::Never),
        ];
        assert_eq!(
            beyond_plan(&planned, &fresh),
            [
                "replaces BastionInstance, which the plan showed as updated in place",
                "modifies Extra, which the plan showed as Add",
                "removes Unlisted, which the plan did not list",
            ]
        );
    }
}
