//! Policy findings: rule, stack, logical id, property path and message, plus every waiver in force.

use std::fmt::Write;

use crate::policy::{Level, PolicyReport};
use crate::report::Style;

/// One block per environment; empty findings print a single line.
pub fn render(environment: &str, report: &PolicyReport, style: Style) -> String {
    let mut text = String::new();
    let errors = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .count();
    let warnings = report.findings.len() - errors;
    if report.findings.is_empty() && report.waived.is_empty() && report.unused_waivers.is_empty() {
        return text;
    }
    let _ = writeln!(
        text,
        "policy {environment}: {errors} error{}, {warnings} warning{}, {} waived",
        plural(errors),
        plural(warnings),
        report.waived.len()
    );
    for finding in &report.findings {
        let level = match finding.level {
            Level::Error => style.bold_red("error"),
            Level::Warn => style.yellow("warn "),
        };
        let _ = writeln!(
            text,
            "  {level} {} ({}.guard)  {}/{}  {}\n        {}",
            finding.rule,
            finding.rule_file,
            finding.stack,
            finding.logical_id.as_deref().unwrap_or("-"),
            finding.property_path,
            finding.message
        );
    }
    for waived in &report.waived {
        let finding = &waived.finding;
        let _ = writeln!(
            text,
            "  {} {}  {}/{}  {}  reason: {}",
            style.dim("waived"),
            finding.rule,
            finding.stack,
            finding.logical_id.as_deref().unwrap_or("-"),
            finding.property_path,
            waived.reason
        );
    }
    for waiver in &report.unused_waivers {
        let _ = writeln!(
            text,
            "  {} waiver of {} on {}/{} matched nothing; remove it from stacks/{}.yaml",
            style.yellow("note"),
            waiver.rule,
            waiver.stack,
            waiver.logical_id,
            waiver.stack
        );
    }
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
