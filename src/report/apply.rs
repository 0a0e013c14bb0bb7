//! The outcome of an apply: one line per stack, root causes under a failed one, a closing summary.

use std::fmt::Write;

use crate::apply::{ApplyReport, StackOutcome};
use crate::plan::StackAction;
use crate::report::Style;
use crate::report::progress::human_duration;

pub fn render(report: &ApplyReport, style: Style) -> String {
    let mut text = String::new();
    let width = report
        .stacks
        .iter()
        .map(|s| s.stack_name.len())
        .chain(report.removed.iter().map(|r| r.stack_name.len()))
        .max()
        .unwrap_or(0);
    let mut done = [0usize; 4];
    let results = report
        .stacks
        .iter()
        .map(|s| {
            let (verb, slot) = match s.action {
                StackAction::Create => ("created", 0),
                StackAction::Recreate => ("recreated", 0),
                _ => ("updated", 1),
            };
            (&s.stack_name, &s.outcome, s.elapsed_seconds, verb, slot)
        })
        .chain(
            report
                .removed
                .iter()
                .map(|r| (&r.stack_name, &r.outcome, r.elapsed_seconds, "removed", 2)),
        );
    for (stack_name, outcome, elapsed_seconds, verb, slot) in results {
        let elapsed = human_duration(std::time::Duration::from_secs_f64(elapsed_seconds));
        let line = match outcome {
            StackOutcome::Unchanged => style.dim("unchanged"),
            StackOutcome::Succeeded { status } => {
                done[slot] += 1;
                format!("{} ({status}, {elapsed})", style.green(verb))
            }
            StackOutcome::Failed { status, .. } => {
                done[3] += 1;
                format!(
                    "{} (stack {}, {elapsed})",
                    style.bold_red("FAILED"),
                    status.as_deref().unwrap_or("not created")
                )
            }
            StackOutcome::Skipped { reason } => {
                format!("{}: {reason}", style.yellow("not started"))
            }
        };
        let _ = writeln!(text, "{stack_name:<width$}  {line}");
        if let StackOutcome::Failed {
            causes, next_step, ..
        } = outcome
        {
            if causes.is_empty() {
                let _ = writeln!(
                    text,
                    "    root cause: not reported; see the stack's events in the CloudFormation console"
                );
            }
            for cause in causes {
                // A refused API call already names its operation and stack in the reason.
                let subject = if &cause.logical_id == stack_name {
                    String::new()
                } else {
                    format!(
                        "{} ({}) {}: ",
                        style.bold(&cause.logical_id),
                        cause.resource_type,
                        style.red(&cause.status)
                    )
                };
                let _ = writeln!(text, "    root cause: {subject}{}", cause.reason);
            }
            if let Some(next_step) = next_step {
                let _ = writeln!(text, "    next: {next_step}");
            }
        }
    }
    for kept in report.removed.iter().flat_map(|r| &r.kept) {
        let _ = writeln!(text, "  kept: {}", crate::report::destroy::kept_line(kept));
    }
    for change in &report.log_retention {
        let _ = writeln!(text, "{}", retention_line(change));
    }
    let [created, updated, removed, failed] = done;
    let unchanged = report
        .stacks
        .iter()
        .filter(|s| s.outcome == StackOutcome::Unchanged)
        .count();
    let headline = if failed == 0 {
        style.green("Apply complete")
    } else {
        style.bold_red("Apply failed")
    };
    let removed = if report.removed.is_empty() {
        String::new()
    } else {
        format!(" {removed} removed,")
    };
    let _ = writeln!(
        text,
        "\n{headline}: {created} created, {updated} updated,{removed} {unchanged} unchanged, {failed} failed."
    );
    text
}

/// `log group /aws/rds/instance/db-1/postgresql: created, kept 14 days` and the like.
pub fn retention_line(change: &crate::log_retention::RetentionChange) -> String {
    let before = match (change.created, change.previous_days) {
        (true, _) => "created, ".to_owned(),
        (false, None) => "never expired, now ".to_owned(),
        (false, Some(days)) => format!("kept {days} days, now "),
    };
    format!(
        "log group {}: {before}kept {} days",
        change.log_group, change.retention_days
    )
}
