//! The offline change view of `strata diff`: the plan's `+ ~ -` lines (same property diffs,
//! predicted replacement, danger lines), per stack, against a git revision.

use std::fmt::Write;

use crate::diff::{EnvironmentDiff, StackDiff, StackDiffAction};
use crate::plan::ResourceChange;
use crate::report::Style;
use crate::report::plan::{changes_section, counts, danger_note, parameter_line, show};

pub fn render(diff: &EnvironmentDiff, style: Style) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Diff of environment {}: working tree against {} ({}), offline (replacement predicted from the resource catalog)",
        style.bold(&diff.environment),
        diff.against.reference,
        short(&diff.against.commit),
    );
    for stack in diff.stacks.iter().filter(|s| s.has_changes()) {
        text.push('\n');
        stack_section(&mut text, stack, style);
    }
    let unchanged: Vec<&str> = diff
        .stacks
        .iter()
        .filter(|s| !s.has_changes())
        .map(|s| s.stack_name.as_str())
        .collect();
    if !unchanged.is_empty() {
        let _ = writeln!(
            text,
            "\n{}",
            style.dim(&format!("no changes: {}", unchanged.join(", ")))
        );
    }
    text.push('\n');
    if diff.has_changes() {
        let changes: Vec<&ResourceChange> = diff.changes().collect();
        let _ = writeln!(
            text,
            "Diff: {}{}",
            counts(&changes, 0),
            danger_note(&changes, 0, style)
        );
    } else {
        let _ = writeln!(
            text,
            "{}",
            style.green("No changes: the working tree renders the same templates.")
        );
    }
    text
}

fn stack_section(text: &mut String, stack: &StackDiff, style: Style) {
    let headline = match stack.action {
        StackDiffAction::Create => {
            style.green(&format!("new stack ({} resources)", stack.changes.len()))
        }
        StackDiffAction::Delete => style.red(&format!(
            "stack removed ({} resources)",
            stack.changes.len()
        )),
        StackDiffAction::Update => style.yellow("update"),
        StackDiffAction::NoChanges => style.dim("no changes"),
    };
    let _ = writeln!(text, "{}  {headline}", style.bold(&stack.stack_name));
    for parameter in &stack.parameters {
        parameter_line(text, parameter, style);
    }
    changes_section(text, &stack.changes, style);
    for change in &stack.template {
        let _ = writeln!(
            text,
            "  {} {}: {} -> {}",
            style.yellow("~"),
            change.path,
            show(change.before.as_ref()),
            show(change.after.as_ref())
        );
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
