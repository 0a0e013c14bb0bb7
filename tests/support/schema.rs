//! Checks a JSON document against one of the published schemas (src/report/schema).

use serde_json::Value;

/// Every way `document` breaks `schema`, each with where it is.
pub fn violations(schema: &str, document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    jsonschema::meta::validate(&schema).expect("the schema is a valid draft 2020-12 schema");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(document)
        .map(|error| format!("{} at `{}`", error, error.instance_path()))
        .collect()
}

/// Panics with every violation when `document` does not follow `schema`.
pub fn assert_follows(schema: &str, document: &Value, what: &str) {
    let violations = violations(schema, document);
    assert!(
        violations.is_empty(),
        "{what} does not follow its schema:\n{}\n{document:#}",
        violations.join("\n")
    );
}

/// Stdout as exactly one JSON document (serde_json refuses anything but whitespace after it).
pub fn one_document(stdout: &[u8], what: &str) -> Value {
    serde_json::from_slice(stdout).unwrap_or_else(|err| {
        panic!(
            "{what}: stdout is not one JSON document ({err}):\n{}",
            String::from_utf8_lossy(stdout)
        )
    })
}
