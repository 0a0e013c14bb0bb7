//! What destroy will delete and keep, and what it did.

use std::fmt::Write;

use crate::destroy::{DestroyPlan, DestroyReport, KeptResource};
use crate::report::Style;

pub fn render_plan(plan: &DestroyPlan, style: Style) -> String {
    let mut text = String::new();
    if plan.stacks.is_empty() {
        let _ = writeln!(
            text,
            "Nothing to destroy: no stack of environment {} is deployed.",
            plan.environment
        );
        return text;
    }
    let _ = writeln!(
        text,
        "Destroy environment {}: these stacks are deleted, in this order:",
        style.bold(&plan.environment)
    );
    for stack in &plan.stacks {
        let _ = writeln!(
            text,
            "  {} {}  ({}, {} resources{})",
            style.red("-"),
            style.bold(&stack.stack_name),
            stack.status,
            stack.resources,
            if stack.defined {
                ""
            } else {
                "; no definition any more"
            }
        );
    }
    let kept: Vec<&KeptResource> = plan.stacks.iter().flat_map(|s| s.kept.iter()).collect();
    if !kept.is_empty() {
        let _ = writeln!(text, "Kept by their DeletionPolicy:");
        for resource in kept {
            let _ = writeln!(text, "  {}", kept_line(resource));
        }
    }
    text
}

pub fn kept_line(resource: &KeptResource) -> String {
    let what = match resource.policy.as_str() {
        "Snapshot" => "deleted after a final snapshot (DeletionPolicy Snapshot)".to_owned(),
        policy => format!(
            "retained per its DeletionPolicy ({policy}): it stays until deleted by hand (and its name stays taken)"
        ),
    };
    format!(
        "{} ({}{}) {what}",
        resource.logical_id,
        resource.resource_type,
        resource
            .physical_id
            .as_deref()
            .map(|id| format!(", {id}"))
            .unwrap_or_default()
    )
}

pub fn render_report(report: &DestroyReport, style: Style) -> String {
    let mut text = format!(
        "\n{}: {} stacks deleted ({}).\n",
        style.green(&format!("Destroyed environment {}", report.environment)),
        report.deleted.len(),
        report.deleted.join(", ")
    );
    for resource in &report.kept {
        let _ = writeln!(text, "  kept: {}", kept_line(resource));
    }
    text
}
