//! Reading cfn-guard's structured JSON report.
//!
//! Shape (cfn-guard 3.2.1, `validate --structured -o json`), one element per data item:
//! ```json
//! [{ "name": "DATA_STDIN[1]", "metadata": {}, "status": "PASS" | "FAIL" | "SKIP",
//!    "not_compliant": [ { "Rule": { "name": "R", "metadata": {}, "messages": {..}, "checks": [ <check>... ] } } ],
//!    "not_applicable": ["R2"], "not_applicable_reasons": {"R2": ".."} /* optional */, "compliant": ["R3"] }]
//! ```
//! A `<check>` is one of
//! - `{"Rule": {..}}` (a named rule referenced from another rule),
//! - `{"Disjunctions": {"checks": [<check>...]}}` (an `or`: every failed branch is listed),
//! - `{"Block": {"context", "messages": {"custom_message", "error_message"}, "unresolved": null | <unresolved>}}`,
//! - `{"Clause": {"Unary" | "Binary": {"context", "messages", "check": <value check>}}}` where the value
//!   check is `{"Resolved": {"value" | "from": {"path", "value"}, ..}}`, `{"InResolved": {"from": {..}, "to": [..]}}`,
//!   `{"UnResolved": {"value": <unresolved>, ..}}` or `{"UnResolvedContext": ".."}`;
//!   `<unresolved>` = `{"traversed_to": {"path", "value"}, "remaining_query": "A.B", "reason": ".."}`.
//!
//! Paths are JSON-pointer-like (`/Resources/Bucket/Properties/X`). Map order is not relied on.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct RawFileReport {
    name: String,
    #[serde(default)]
    not_compliant: Vec<Value>,
    #[serde(default)]
    compliant: Vec<String>,
    #[serde(default)]
    not_applicable: Vec<String>,
}

/// One template's result for the rules of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuardFileReport {
    pub(crate) name: String,
    pub(crate) failures: Vec<RawFailure>,
    pub(crate) compliant: Vec<String>,
    pub(crate) not_applicable: Vec<String>,
}

/// One failed check, before it is tied to a stack and a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFailure {
    pub(crate) rule: String,
    /// Path inside the template; empty when cfn-guard gave none.
    pub(crate) path: String,
    pub(crate) custom_message: Option<String>,
    pub(crate) error_message: Option<String>,
}

/// cfn-guard's report split into its items, one per data item in payload order: each item's name
/// (`DATA_STDIN[n]`) and its JSON text, which [`parse_item`] reads (and the policy cache stores as is).
pub(crate) fn report_items(output: &str) -> Result<Vec<(String, String)>, String> {
    let items: Vec<Value> =
        serde_json::from_str(output).map_err(|e| format!("not a structured JSON report: {e}"))?;
    items
        .into_iter()
        .map(|item| {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("report item without a name: {item}"))?
                .to_string();
            Ok((name, item.to_string()))
        })
        .collect()
}

/// One template's result for the rules of one call, from its report item's JSON text.
pub(crate) fn parse_item(item: &str) -> Result<GuardFileReport, String> {
    let file: RawFileReport =
        serde_json::from_str(item).map_err(|e| format!("not a structured report item: {e}"))?;
    let mut failures = Vec::new();
    for entry in &file.not_compliant {
        let rule = entry
            .get("Rule")
            .ok_or_else(|| format!("not_compliant entry is not a rule: {entry}"))?;
        let name = rule
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("rule without a name: {rule}"))?;
        let before = failures.len();
        collect_rule_checks(name, rule, &mut failures);
        if failures.len() == before {
            // A rule can fail without a clause to point at (e.g. a rule reference).
            failures.push(RawFailure {
                rule: name.to_string(),
                path: String::new(),
                custom_message: None,
                error_message: None,
            });
        }
    }
    Ok(GuardFileReport {
        name: file.name,
        failures,
        compliant: file.compliant,
        not_applicable: file.not_applicable,
    })
}

#[cfg(test)]
fn parse_structured_output(output: &str) -> Result<Vec<GuardFileReport>, String> {
    report_items(output)?
        .iter()
        .map(|(_, item)| parse_item(item))
        .collect()
}

fn collect_rule_checks(rule: &str, rule_report: &Value, out: &mut Vec<RawFailure>) {
    for check in rule_report
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_check(rule, check, out);
    }
}

fn collect_check(rule: &str, check: &Value, out: &mut Vec<RawFailure>) {
    if let Some(inner) = check.get("Rule") {
        // Failures of a referenced rule are reported under the rule the user asked for.
        collect_rule_checks(rule, inner, out);
    } else if let Some(disjunction) = check.get("Disjunctions") {
        for branch in disjunction
            .get("checks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_check(rule, branch, out);
        }
    } else if let Some(block) = check.get("Block") {
        out.push(RawFailure {
            rule: rule.to_string(),
            path: block
                .get("unresolved")
                .map(unresolved_path)
                .unwrap_or_default(),
            custom_message: message(block, "custom_message"),
            error_message: message(block, "error_message"),
        });
    } else if let Some(clause) = check.get("Clause") {
        let Some(report) = clause.get("Unary").or_else(|| clause.get("Binary")) else {
            return;
        };
        out.push(RawFailure {
            rule: rule.to_string(),
            path: report
                .get("check")
                .map(value_check_path)
                .unwrap_or_default(),
            custom_message: message(report, "custom_message"),
            error_message: message(report, "error_message"),
        });
    }
}

fn message(report: &Value, which: &str) -> Option<String> {
    report
        .get("messages")
        .and_then(|m| m.get(which))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

fn value_check_path(check: &Value) -> String {
    if let Some(resolved) = check.get("Resolved") {
        return resolved
            .get("value")
            .or_else(|| resolved.get("from"))
            .map(pointer_of)
            .unwrap_or_default();
    }
    if let Some(resolved) = check.get("InResolved") {
        return resolved.get("from").map(pointer_of).unwrap_or_default();
    }
    if let Some(unresolved) = check.get("UnResolved") {
        return unresolved
            .get("value")
            .map(unresolved_path)
            .unwrap_or_default();
    }
    String::new()
}

fn pointer_of(path_value: &Value) -> String {
    let path = path_value
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // cfn-guard gives a map *key* (a `Resources[ id | ... ]` capture) the path of the map itself
    // and the key as its value. Under `/Resources` that key is the logical id, so put it back.
    match path_value.get("value").and_then(Value::as_str) {
        Some(key) if path == "/Resources" && !key.is_empty() => format!("/Resources/{key}"),
        _ => path.to_string(),
    }
}

/// Where the query stopped plus what it was still looking for, when that is a plain property
/// path: `/Resources/B/Properties` + `VersioningConfiguration.Status` gives the path of the property
/// the rule wanted. Queries with filters or wildcards keep only the part that exists.
fn unresolved_path(unresolved: &Value) -> String {
    let base = unresolved
        .get("traversed_to")
        .map(pointer_of)
        .unwrap_or_default();
    let remaining = unresolved
        .get("remaining_query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut path = base;
    for part in remaining.split('.').filter(|p| !p.is_empty()) {
        let part = part.trim_matches(|c| c == '"' || c == '\'');
        let plain = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'));
        if !plain || part.is_empty() {
            break;
        }
        path.push('/');
        path.push_str(part);
    }
    path
}

/// The logical id in a template path: the segment after `/Resources/`.
pub(crate) fn logical_id_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/Resources/")?;
    let id = rest.split('/').next().unwrap_or_default();
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unresolved_path_appends_plain_remaining_query() {
        let u = json!({"traversed_to": {"path": "/Resources/B/Properties", "value": {}}, "remaining_query": "VersioningConfiguration.Status"});
        assert_eq!(
            unresolved_path(&u),
            "/Resources/B/Properties/VersioningConfiguration/Status"
        );
        let u = json!({"traversed_to": {"path": "/Resources/B/Properties", "value": {}}, "remaining_query": "Tags[*].Key"});
        assert_eq!(unresolved_path(&u), "/Resources/B/Properties");
    }

    #[test]
    fn a_captured_resource_key_becomes_its_resource_path() {
        assert_eq!(
            pointer_of(&json!({"path": "/Resources", "value": "Inbox"})),
            "/Resources/Inbox"
        );
        assert_eq!(
            pointer_of(&json!({"path": "/Resources/A/Type", "value": "AWS::S3::Bucket"})),
            "/Resources/A/Type"
        );
    }

    #[test]
    fn logical_id_is_the_segment_after_resources() {
        assert_eq!(
            logical_id_of("/Resources/Inbox/Properties/X").as_deref(),
            Some("Inbox")
        );
        assert_eq!(logical_id_of("/Resources/Inbox").as_deref(), Some("Inbox"));
        assert_eq!(logical_id_of("/Outputs/X"), None);
        assert_eq!(logical_id_of(""), None);
    }

    #[test]
    fn parses_clause_block_and_disjunction_failures() {
        let output = json!([{
            "name": "DATA_STDIN[1]", "metadata": {}, "status": "FAIL",
            "not_compliant": [{"Rule": {"name": "R", "metadata": {}, "messages": {"custom_message": null, "error_message": null},
                "checks": [
                    {"Clause": {"Binary": {"context": "c", "messages": {"custom_message": " m1 ", "error_message": "e1"},
                        "check": {"Resolved": {"from": {"path": "/Resources/A/Properties/X", "value": 1}, "to": {"path": "", "value": 2}, "comparison": ["Eq", false]}}}}},
                    {"Disjunctions": {"checks": [
                        {"Block": {"context": "b", "messages": {"custom_message": null, "error_message": "e2"},
                            "unresolved": {"traversed_to": {"path": "/Resources/B", "value": {}}, "remaining_query": "Properties", "reason": "r"}}}
                    ]}}
                ]}}],
            "not_applicable": ["S"], "compliant": ["T"]
        }]);
        let reports = parse_structured_output(&output.to_string()).unwrap();
        assert_eq!(reports.len(), 1);
        let f = &reports[0].failures;
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].path, "/Resources/A/Properties/X");
        assert_eq!(f[0].custom_message.as_deref(), Some("m1"));
        assert_eq!(f[1].path, "/Resources/B/Properties");
        assert_eq!(f[1].custom_message, None);
        assert_eq!(reports[0].compliant, vec!["T"]);
        assert_eq!(reports[0].not_applicable, vec!["S"]);
    }
}
