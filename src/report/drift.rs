//! The drift view: per stack, one line per drifted resource (`~` modified, `-` deleted), a line per property
//! with expected -> actual, security-relevant drift marked, notes on what was not checked, and a summary.

use std::fmt::Write;

use serde_json::Value;

use crate::drift::{
    Difference, DriftReport, ResourceDrift, ResourceStatus, Severity, Source, StackDrift,
};
use crate::report::Style;

pub fn render(report: &DriftReport, style: Style) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Drift in environment {} (account {}, region {})",
        style.bold(&report.environment),
        report.account_id,
        report.region
    );
    for stack in &report.stacks {
        text.push('\n');
        stack_section(&mut text, stack, style);
    }
    if !report.notes.is_empty() {
        text.push_str("\nNotes:\n");
        for note in &report.notes {
            let _ = writeln!(text, "  - {note}");
        }
    }
    text.push('\n');
    text.push_str(&summary(report, style));
    text
}

fn stack_section(text: &mut String, stack: &StackDrift, style: Style) {
    let headline = match (&stack.status, stack.resources.len()) {
        (None, _) => style.red("not deployed: the stack does not exist"),
        (Some(_), 0) => style.green(&format!("no drift ({} resources checked)", stack.checked)),
        (Some(_), drifted) => style.yellow(&format!(
            "{drifted} drifted ({} resources checked)",
            stack.checked
        )),
    };
    let _ = writeln!(text, "{}  {headline}", style.bold(&stack.stack_name));
    for resource in &stack.resources {
        resource_lines(text, resource, style);
    }
}

fn security_marker(severity: Severity, style: Style) -> String {
    match severity {
        Severity::Security => format!("  {}", style.bold_red("[security]")),
        Severity::Normal => String::new(),
    }
}

fn resource_lines(text: &mut String, resource: &ResourceDrift, style: Style) {
    let (symbol, status) = match resource.status {
        ResourceStatus::Modified => (style.yellow("~"), String::new()),
        ResourceStatus::Deleted => (style.red("-"), format!("  {}", style.red("DELETED"))),
    };
    let physical = resource
        .physical_id
        .as_deref()
        .map(|id| format!(" ({id})"))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "  {symbol} {:<28} {}{physical}{status}{}",
        resource.resource_type,
        resource.logical_id,
        security_marker(resource.severity, style)
    );
    for difference in &resource.differences {
        difference_line(text, difference, style);
    }
}

fn difference_line(text: &mut String, difference: &Difference, style: Style) {
    let source = match difference.sources.as_slice() {
        [Source::Live] => String::new(),
        [Source::Cloudformation] => format!("  {}", style.dim("(CloudFormation)")),
        _ => format!("  {}", style.dim("(strata and CloudFormation)")),
    };
    let _ = writeln!(
        text,
        "      {}: {} -> {}{}{source}",
        difference.path,
        show(&difference.expected),
        show(&difference.actual),
        security_marker(difference.severity, style)
    );
}

/// A value as JSON text; `null` is a value that is not there.
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "(absent)".to_owned(),
        other => other.to_string(),
    }
}

fn summary(report: &DriftReport, style: Style) -> String {
    if !report.has_drift() {
        let checked: usize = report.stacks.iter().map(|s| s.checked).sum();
        return format!(
            "{}\n",
            style.green(&format!(
                "No drift. {checked} resources match their definitions."
            ))
        );
    }
    let missing = report.stacks.iter().filter(|s| s.status.is_none()).count();
    let stacks = report
        .stacks
        .iter()
        .filter(|s| !s.resources.is_empty())
        .count();
    let mut line = format!(
        "Drift: {} resource{} in {stacks} stack{}",
        report.drifted_resources(),
        plural(report.drifted_resources()),
        plural(stacks)
    );
    if missing > 0 {
        let _ = write!(line, ", {missing} stack{} not deployed", plural(missing));
    }
    line.push('.');
    let security = report.security_relevant();
    if security > 0 {
        let _ = write!(
            line,
            " {}",
            style.bold_red(&format!("{security} security-relevant."))
        );
    }
    line.push('\n');
    line
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(resources: Vec<ResourceDrift>) -> DriftReport {
        DriftReport {
            environment: "dev".into(),
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            stacks: vec![StackDrift {
                stack: "network".into(),
                stack_name: "app-dev-network".into(),
                status: Some("CREATE_COMPLETE".into()),
                checked: 4,
                resources,
            }],
            notes: vec!["CloudFormation drift detection is not supported".into()],
        }
    }

    #[test]
    fn no_drift_says_so() {
        let text = render(&report(vec![]), Style::PLAIN);
        assert!(text.contains("app-dev-network  no drift (4 resources checked)"));
        assert!(text.contains("Notes:\n  - CloudFormation drift detection is not supported"));
        assert!(text.ends_with("No drift. 4 resources match their definitions.\n"));
    }

    #[test]
    fn drift_lines_show_expected_actual_severity_and_deletion() {
        let text = render(
            &report(vec![
                ResourceDrift {
                    logical_id: "BastionSecurityGroup".into(),
                    physical_id: Some("sg-1".into()),
                    resource_type: "AWS::EC2::SecurityGroup".into(),
                    status: ResourceStatus::Modified,
                    severity: Severity::Security,
                    sources: vec![Source::Live, Source::Cloudformation],
                    differences: vec![Difference {
                        path: "SecurityGroupIngress".into(),
                        expected: Value::Null,
                        actual: json!("tcp 22 from 0.0.0.0/0"),
                        severity: Severity::Security,
                        sources: vec![Source::Live, Source::Cloudformation],
                    }],
                },
                ResourceDrift {
                    logical_id: "NatGateway1".into(),
                    physical_id: Some("nat-1".into()),
                    resource_type: "AWS::EC2::NatGateway".into(),
                    status: ResourceStatus::Deleted,
                    severity: Severity::Normal,
                    sources: vec![Source::Live],
                    differences: vec![],
                },
            ]),
            Style::PLAIN,
        );
        assert!(
            text.contains(
                "  ~ AWS::EC2::SecurityGroup      BastionSecurityGroup (sg-1)  [security]\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "      SecurityGroupIngress: (absent) -> \"tcp 22 from 0.0.0.0/0\"  [security]  (strata and CloudFormation)\n"
        ));
        assert!(text.contains("  - AWS::EC2::NatGateway         NatGateway1 (nat-1)  DELETED\n"));
        assert!(
            text.ends_with("Drift: 2 resources in 1 stack. 1 security-relevant.\n"),
            "{text}"
        );
    }
}
