//! The change view: one line per resource (`+` add, `~` modify, `-` remove), property diffs under
//! modifications, replacement flagged, and data-destroying changes called out as danger lines.

use std::fmt::Write;

use serde_json::Value;

use crate::plan::parameters::{ParameterSource, ParameterValue, PlannedParameter};
use crate::plan::removal::{RemovalPhase, StackRemoval};
use crate::plan::{
    ChangeAction, Plan, Replacement, ReplacementSource, ResourceChange, StackAction, StackPlan,
};
use crate::report::Style;

pub fn render(plan: &Plan, style: Style) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Plan for environment {} (account {}, region {})",
        style.bold(&plan.environment),
        plan.account_id,
        plan.region
    );
    for unchecked in &plan.not_checked {
        let _ = writeln!(
            text,
            "{}",
            style.yellow(&format!("Not checked before planning: {unchecked}"))
        );
    }
    for stack in &plan.stacks {
        text.push('\n');
        stack_section(&mut text, stack, style);
    }
    for removal in &plan.removals {
        text.push('\n');
        removal_section(&mut text, removal, style);
    }
    text.push('\n');
    text.push_str(&summary(plan, style));
    text
}

fn stack_section(text: &mut String, stack: &StackPlan, style: Style) {
    let headline = match stack.action {
        StackAction::Create => style.green(&format!("create ({} resources)", stack.changes.len())),
        StackAction::Recreate => style.yellow(&format!(
            "recreate: the stack is {} after a failed first creation; apply deletes and creates it ({} resources)",
            stack.deployed_status.as_deref().unwrap_or("ROLLBACK_COMPLETE"),
            stack.changes.len()
        )),
        StackAction::Update => style.yellow("update"),
        StackAction::NoChanges => style.dim("no changes"),
    };
    let _ = writeln!(text, "{}  {headline}", style.bold(&stack.stack_name));
    if !stack.waits_for.is_empty() {
        let _ = writeln!(
            text,
            "  created after {} (it imports their exports)",
            stack.waits_for.join(", ")
        );
    }
    if stack.has_changes() {
        for parameter in stack.parameters.iter().filter(|p| p.may_change()) {
            parameter_line(text, parameter, style);
        }
    }
    changes_section(text, &stack.changes, style);
}

/// One line per resource with its property diffs, then a danger line for each change that destroys data.
pub(crate) fn changes_section(text: &mut String, changes: &[ResourceChange], style: Style) {
    for change in changes {
        resource_line(text, change, style);
    }
    for change in changes.iter().filter(|c| c.is_dangerous()) {
        let what = if change.action == ChangeAction::Remove {
            "REMOVED"
        } else {
            "REPLACED"
        };
        let _ = writeln!(
            text,
            "  {} {} ({}) will be {what}: the data it holds does not carry over; apply refuses unless --allow-replace {}",
            style.bold_red("!! DANGER"),
            change.logical_id,
            change.resource_type,
            change.logical_id
        );
    }
    for change in changes.iter().filter(|c| c.strands_protected_original()) {
        let _ = writeln!(
            text,
            "  {} {} ({}) will be REPLACED, but its {} is on: CloudFormation creates the new one, cannot delete the old one, completes the update and leaves the old one running outside the stack. Turn it off on the deployed {} first{}; apply refuses unless --allow-replace {}",
            style.bold_red("!! PROTECTED"),
            change.logical_id,
            change.resource_type,
            change.deletion_protection.as_deref().unwrap_or_default(),
            change.physical_id.as_deref().unwrap_or("resource"),
            protection_off_hint(change),
            change.logical_id
        );
    }
}

/// How to lift the protection of the deployed resource, where there is a one-line way.
fn protection_off_hint(change: &ResourceChange) -> String {
    match (change.resource_type.as_str(), change.physical_id.as_deref()) {
        ("AWS::EC2::Instance", Some(id)) => format!(
            " (aws ec2 modify-instance-attribute --instance-id {id} --no-disable-api-termination)"
        ),
        ("AWS::RDS::DBInstance", Some(id)) => format!(
            " (aws rds modify-db-instance --db-instance-identifier {id} --no-deletion-protection --apply-immediately)"
        ),
        _ => String::new(),
    }
}

/// `parameter DatabaseReaderEndpoints (output ReaderEndpoints of database): "a" -> known after database applies`
pub(crate) fn parameter_line(text: &mut String, parameter: &PlannedParameter, style: Style) {
    let source = match &parameter.source {
        ParameterSource::StackOutput { stack, output } => format!("output {output} of {stack}"),
        ParameterSource::Ssm { path } => format!("Systems Manager {path}"),
    };
    let before = parameter
        .deployed
        .as_ref()
        .map(|v| show(Some(&Value::String(v.clone()))))
        .unwrap_or_else(|| "(new)".to_owned());
    let after = match &parameter.value {
        ParameterValue::Known { value } => show(Some(&Value::String(value.clone()))),
        ParameterValue::AfterApply { after, .. } => style.yellow(&format!(
            "known after {after} applies (apply plans this stack again then)"
        )),
    };
    let _ = writeln!(
        text,
        "  {} {} ({source}): {before} -> {after}",
        style.dim("parameter"),
        parameter.name
    );
}

fn removal_section(text: &mut String, removal: &StackRemoval, style: Style) {
    let stack = &removal.deletion;
    let _ = writeln!(
        text,
        "{}  {}",
        style.bold(&stack.stack_name),
        style.red(&format!(
            "remove: deployed ({}), but no stack definition renders it any more; apply deletes it only with --allow-remove {} ({} resources)",
            stack.status, stack.stack, stack.resources
        ))
    );
    match removal.phase {
        RemovalPhase::BeforeUpdates => {
            let _ = writeln!(
                text,
                "  removed before {} update (it imports exports they stop exporting)",
                removal.before.join(", ")
            );
        }
        RemovalPhase::AfterUpdates if !removal.after.is_empty() => {
            let _ = writeln!(
                text,
                "  removed after {} update (they stop importing its exports)",
                removal.after.join(", ")
            );
        }
        RemovalPhase::AfterUpdates => {}
    }
    for change in &removal.changes {
        resource_line(text, change, style);
    }
    for kept in &stack.kept {
        let _ = writeln!(
            text,
            "  {} {}",
            style.yellow("kept:"),
            crate::report::destroy::kept_line(kept)
        );
    }
    for lost in &stack.stateful_deleted {
        let _ = writeln!(
            text,
            "  {} {} ({}) will be REMOVED with the stack: the data it holds is lost{}; apply refuses unless --allow-replace {}",
            style.bold_red("!! DANGER"),
            lost.logical_id,
            lost.resource_type,
            if lost.policy == "Snapshot" {
                " (a final snapshot is kept)"
            } else {
                ""
            },
            lost.logical_id
        );
    }
    if stack.termination_protection {
        let _ = writeln!(
            text,
            "  {} termination protection is on: apply refuses to delete it until it is lifted",
            style.bold_red("!!")
        );
    }
    for protected in &stack.deletion_protected {
        let _ = writeln!(
            text,
            "  {} {} has deletion protection on ({}): apply refuses to delete the stack until it is off",
            style.bold_red("!!"),
            protected.logical_id,
            protected.property
        );
    }
    for reason in &removal.blocked {
        let _ = writeln!(
            text,
            "  {} cannot be removed: {reason}",
            style.bold_red("!!")
        );
    }
}

fn resource_line(text: &mut String, change: &ResourceChange, style: Style) {
    let symbol = change.action.symbol().to_string();
    let symbol = match change.action {
        ChangeAction::Add => style.green(&symbol),
        ChangeAction::Modify | ChangeAction::Import | ChangeAction::Dynamic => {
            style.yellow(&symbol)
        }
        ChangeAction::Remove => style.red(&symbol),
    };
    let flag = if change.replaces() {
        let certainty = match (change.replacement, change.replacement_source) {
            (Replacement::Conditional, _) => "may be replaced",
            (_, ReplacementSource::Aws) => "replacement",
            (_, ReplacementSource::Predicted) => "replacement (predicted)",
        };
        format!("  {}", style.bold_red(&format!("[{certainty}]")))
    } else {
        String::new()
    };
    let _ = writeln!(
        text,
        "  {symbol} {:<40} {}{flag}",
        change.resource_type, change.logical_id
    );
    if change.action.changes_existing() && change.properties.is_empty() {
        let _ = writeln!(
            text,
            "      {}",
            style.dim("(changes through values it references)")
        );
    }
    for property in &change.properties {
        // What an in-place update does to the running resource, when it interrupts it (a stop and
        // start): shown unless the change certainly replaces the resource.
        let interruption = crate::catalog::lookup(&change.resource_type)
            .and_then(|known| known.interruption(&property.path))
            .filter(|_| property.replacement != Replacement::Always)
            .map(|what| format!("  {}", style.yellow(&format!("(in place: {what})"))))
            .unwrap_or_default();
        let forces = match property.replacement {
            Replacement::Always => format!("  {}", style.red("(forces replacement)")),
            Replacement::Conditional => format!("  {}", style.yellow("(may force replacement)")),
            Replacement::Never => String::new(),
        } + &interruption;
        let through = property
            .parameter
            .as_ref()
            .map(|p| format!(" (through parameter {p})"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "      {}{through}: {} -> {}{forces}",
            property.path,
            show(property.before.as_ref()),
            show(property.after.as_ref())
        );
    }
}

pub(crate) fn show(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(value) => {
            let text = value.to_string();
            if text.len() > 120 {
                format!(
                    "{}...",
                    &text[..text
                        .char_indices()
                        .nth(117)
                        .map(|(i, _)| i)
                        .unwrap_or(text.len())]
                )
            } else {
                text
            }
        }
    }
}

fn summary(plan: &Plan, style: Style) -> String {
    if !plan.has_changes() {
        return format!(
            "{}\n",
            style.green("No changes. The deployed stacks match the definitions.")
        );
    }
    let changes: Vec<&ResourceChange> = plan.stacks.iter().flat_map(|s| &s.changes).collect();
    let removed = plan.removals.iter().map(|r| r.changes.len()).sum::<usize>();
    let mut line = format!("Plan: {}", counts(&changes, removed));
    if !plan.removals.is_empty() {
        let names: Vec<&str> = plan
            .removals
            .iter()
            .map(|r| r.deletion.stack.as_str())
            .collect();
        line.push_str(&format!(
            " {} without a definition removed (--allow-remove {}).",
            if names.len() == 1 {
                "1 stack".to_owned()
            } else {
                format!("{} stacks", names.len())
            },
            names.join(" ")
        ));
    }
    let destroyed_by_removal = plan
        .removals
        .iter()
        .map(|r| r.deletion.stateful_deleted.len())
        .sum::<usize>();
    line.push_str(&danger_note(&changes, destroyed_by_removal, style));
    line.push('\n');
    line
}

/// `N to add, N to modify (N replacements), N to remove.`; `removed` counts the resources of stacks
/// removed as a whole, which are not among `changes`.
pub(crate) fn counts(changes: &[&ResourceChange], removed: usize) -> String {
    let count =
        |wanted: fn(ChangeAction) -> bool| changes.iter().filter(|c| wanted(c.action)).count();
    let replacements = changes.iter().filter(|c| c.replaces()).count();
    format!(
        "{} to add, {} to modify ({} replacement{}), {} to remove.",
        count(|a| a == ChangeAction::Add),
        count(ChangeAction::changes_existing),
        replacements,
        if replacements == 1 { "" } else { "s" },
        count(|a| a == ChangeAction::Remove) + removed
    )
}

/// ` N changes destroy data.` (in bold red), or nothing when none does.
pub(crate) fn danger_note(
    changes: &[&ResourceChange],
    destroyed_elsewhere: usize,
    style: Style,
) -> String {
    let dangerous = changes.iter().filter(|c| c.is_dangerous()).count() + destroyed_elsewhere;
    match dangerous {
        0 => String::new(),
        1 => format!(" {}", style.bold_red("1 change destroys data.")),
        n => format!(" {}", style.bold_red(&format!("{n} changes destroy data."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff::PropertyChange;
    use serde_json::json;

    #[test]
    fn a_value_known_only_after_another_stack_applies_is_said_so() {
        let bastion = StackPlan {
            stack: "bastion".into(),
            stack_name: "photofeed-dev-bastion".into(),
            action: StackAction::Update,
            deployed_status: Some("CREATE_COMPLETE".into()),
            change_set_id: None,
            template_sha256: "0".repeat(64),
            deployed_template_sha256: Some("1".repeat(64)),
            waits_for: vec![],
            client_request_token: Default::default(),
            parameters: vec![PlannedParameter {
                name: "DatabaseReaderEndpoints".into(),
                source: ParameterSource::StackOutput {
                    stack: "database".into(),
                    output: "ReaderEndpoints".into(),
                },
                deployed: Some("r1.example".into()),
                value: ParameterValue::AfterApply {
                    after: "database".into(),
                    now: Some("r1.example".into()),
                },
            }],
            changes: vec![ResourceChange {
                action: ChangeAction::Modify,
                logical_id: "BastionInstance".into(),
                resource_type: "AWS::EC2::Instance".into(),
                physical_id: None,
                replacement: Replacement::Never,
                replacement_source: ReplacementSource::Predicted,
                stateful: false,
                deletion_protection: None,
                properties: vec![PropertyChange {
                    path: "UserData".into(),
                    before: Some(json!("r1.example")),
                    after: Some(json!("(known after database applies)")),
                    replacement: Replacement::Never,
                    parameter: Some("DatabaseReaderEndpoints".into()),
                }],
            }],
        };
        let plan = Plan {
            environment: "dev".into(),
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            stacks: vec![bastion],
            not_checked: vec![],
            removals: vec![],
        };
        let text = render(&plan, Style { color: false });
        assert!(text.contains(
            "  parameter DatabaseReaderEndpoints (output ReaderEndpoints of database): \"r1.example\" -> known after database applies (apply plans this stack again then)\n"
        ), "{text}");
        assert!(text.contains(
            "      UserData (through parameter DatabaseReaderEndpoints): \"r1.example\" -> \"(known after database applies)\"  (in place: stops and starts the instance, which then boots with the new user data)\n"
        ), "{text}");
        assert!(text.contains("Plan: 0 to add, 1 to modify (0 replacements), 0 to remove."));
    }
}
