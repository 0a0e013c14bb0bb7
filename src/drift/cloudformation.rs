//! CloudFormation's drift detection results, merged into the live checks' report.

use serde_json::Value;

use super::normalize;
use super::{Difference, ResourceDrift, ResourceStatus, Severity, Source, StackDrift};
use crate::aws::AwsError;
use crate::aws::drift_detection::{DetectionResult, ResourceDriftRecord};

/// Adds what CloudFormation found to `stacks`. An endpoint without drift detection, or credentials not allowed
/// to use it, is said once in `notes`, a stack it failed on once per stack; the live checks stand on their own.
/// Only failures that would stop any AWS call (credentials, endpoint, throttling) are errors.
pub fn merge(
    mut stacks: Vec<StackDrift>,
    detections: Vec<(String, Result<DetectionResult, AwsError>)>,
    notes: &mut Vec<String>,
) -> Result<Vec<StackDrift>, AwsError> {
    let mut said = false;
    for (stack_name, result) in detections {
        match result {
            Ok(result) => {
                if let Some(reason) = result.failure {
                    notes.push(format!(
                        "CloudFormation drift detection on {stack_name} did not check every resource: {reason}"
                    ));
                }
                if let Some(stack) = stacks.iter_mut().find(|s| s.stack_name == stack_name) {
                    for record in result.resources {
                        add_record(stack, record);
                    }
                    stack
                        .resources
                        .sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
                }
            }
            // The stack does not exist: the live side reports it as not deployed.
            Err(AwsError::StackNotFound { .. }) => {}
            Err(err @ (AwsError::Unsupported { .. } | AwsError::AccessDenied { .. })) => {
                if !said {
                    notes.insert(0, unavailable_note(&err));
                    said = true;
                }
            }
            // Nothing strata could check would work either.
            Err(
                err @ (AwsError::Throttled { .. }
                | AwsError::Credentials { .. }
                | AwsError::EndpointUnreachable { .. }),
            ) => return Err(err),
            // A stack CloudFormation will not check right now (an operation in progress, say): the live checks
            // still cover it.
            Err(err) => notes.push(format!(
                "CloudFormation drift detection on {stack_name} failed: {err}"
            )),
        }
    }
    Ok(stacks)
}

fn unavailable_note(err: &AwsError) -> String {
    match err {
        AwsError::Unsupported {
            operation, status, ..
        } => format!(
            "CloudFormation drift detection is not supported by this endpoint ({operation}: HTTP {status}); \
             showing strata's live checks only"
        ),
        other => format!(
            "CloudFormation drift detection is not available ({other}); showing strata's live checks only"
        ),
    }
}

fn add_record(stack: &mut StackDrift, record: ResourceDriftRecord) {
    let index = match stack
        .resources
        .iter()
        .position(|r| r.logical_id == record.logical_id)
    {
        Some(index) => index,
        None => {
            stack.resources.push(ResourceDrift {
                logical_id: record.logical_id.clone(),
                physical_id: record.physical_id.clone(),
                resource_type: record.resource_type.clone(),
                status: ResourceStatus::Modified,
                severity: Severity::Normal,
                differences: Vec::new(),
            });
            stack.resources.len() - 1
        }
    };
    let resource = &mut stack.resources[index];
    if record.status == "DELETED" {
        resource.status = ResourceStatus::Deleted;
        return;
    }
    let known = crate::catalog::lookup(&record.resource_type);
    for difference in record.differences {
        // AWS cannot read a write-only value back (a password, code to deploy), and a read-only
        // one is AWS's own: a "difference" at either says nothing about drift.
        let segments = pointer_segments(&difference.path);
        if known.is_some_and(|t| t.is_write_only(&segments) || t.is_read_only(&segments)) {
            continue;
        }
        let path = property_path(&difference.path);
        let actual = json_or_text(difference.actual);
        let severity = normalize::severity(&path, &actual);
        resource.severity = resource.severity.max(severity);
        resource.differences.push(Difference {
            path,
            expected: json_or_text(difference.expected),
            actual,
            severity,
            source: Source::Cloudformation,
        });
    }
}

/// `/Properties/SecurityGroupIngress/1/CidrIp` -> the property path as the catalog reads it.
fn pointer_segments(pointer: &str) -> Vec<crate::catalog::Segment> {
    use crate::catalog::Segment;
    pointer
        .trim_start_matches('/')
        .trim_start_matches("Properties/")
        .split('/')
        .filter(|part| !part.is_empty())
        .map(|part| match part.parse::<usize>() {
            Ok(index) => Segment::Index(index),
            Err(_) => Segment::Key(part.to_owned()),
        })
        .collect()
}

/// `/Properties/SecurityGroupIngress/1/CidrIp` -> `SecurityGroupIngress.1.CidrIp`, like strata's own paths.
fn property_path(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .trim_start_matches("Properties/")
        .replace('/', ".")
}

/// CloudFormation sends values as JSON text; plain text stays text.
fn json_or_text(value: Option<String>) -> Value {
    match value {
        None => Value::Null,
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::drift_detection::PropertyDifference;

    fn stack() -> StackDrift {
        StackDrift {
            stack: "network".into(),
            stack_name: "app-dev-network".into(),
            status: Some("CREATE_COMPLETE".into()),
            checked: 3,
            resources: Vec::new(),
        }
    }

    fn unsupported(stack: &str) -> AwsError {
        AwsError::Unsupported {
            operation: "DetectStackDrift",
            stack: Some(stack.into()),
            status: 500,
        }
    }

    #[test]
    fn differences_at_write_only_properties_are_not_drift() {
        let record = ResourceDriftRecord {
            logical_id: "Db".into(),
            physical_id: Some("db-1".into()),
            resource_type: "AWS::RDS::DBInstance".into(),
            status: "MODIFIED".into(),
            differences: [
                "/Properties/MasterUserPassword",
                "/Properties/DBInstanceClass",
            ]
            .into_iter()
            .map(|path| PropertyDifference {
                path: path.into(),
                expected: Some("\"a\"".into()),
                actual: Some("\"b\"".into()),
                kind: "NOT_EQUAL".into(),
            })
            .collect(),
        };
        let mut drift = stack();
        add_record(&mut drift, record);
        let paths: Vec<&str> = drift.resources[0]
            .differences
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(paths, ["DBInstanceClass"]);
    }

    #[test]
    fn an_endpoint_without_drift_detection_is_noted_once() {
        let mut notes = vec!["other note".to_string()];
        let stacks = merge(
            vec![stack()],
            vec![
                ("a".into(), Err(unsupported("a"))),
                ("b".into(), Err(unsupported("b"))),
            ],
            &mut notes,
        )
        .unwrap();
        assert_eq!(stacks, vec![stack()]);
        assert_eq!(notes.len(), 2);
        assert!(notes[0].contains("not supported by this endpoint (DetectStackDrift: HTTP 500)"));
    }

    #[test]
    fn failures_that_stop_every_call_are_errors() {
        let err = AwsError::Throttled {
            operation: "DetectStackDrift",
            stack: None,
        };
        assert!(merge(vec![stack()], vec![("a".into(), Err(err))], &mut vec![]).is_err());
    }

    #[test]
    fn a_stack_cloudformation_refuses_to_check_is_noted() {
        let err = AwsError::Other {
            operation: "DetectStackDrift",
            stack: Some("a".into()),
            code: "ValidationError".into(),
            message: "Drift detection cannot be performed while the stack is UPDATE_IN_PROGRESS"
                .into(),
        };
        let mut notes = vec![];
        merge(vec![stack()], vec![("a".into(), Err(err))], &mut notes).unwrap();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("CloudFormation drift detection on a failed:"));
    }

    #[test]
    fn records_become_differences_with_their_source() {
        let record = ResourceDriftRecord {
            logical_id: "Db".into(),
            physical_id: Some("db-1".into()),
            resource_type: "AWS::RDS::DBInstance".into(),
            status: "MODIFIED".into(),
            differences: vec![PropertyDifference {
                path: "/Properties/PubliclyAccessible".into(),
                expected: Some("false".into()),
                actual: Some("true".into()),
                kind: "NOT_EQUAL".into(),
            }],
        };
        let result = DetectionResult {
            resources: vec![record],
            failure: None,
        };
        let stacks = merge(
            vec![stack()],
            vec![("app-dev-network".into(), Ok(result))],
            &mut vec![],
        )
        .unwrap();
        let resource = &stacks[0].resources[0];
        assert_eq!(resource.severity, Severity::Security);
        assert_eq!(resource.differences[0].path, "PubliclyAccessible");
        assert_eq!(resource.differences[0].actual, json!(true));
        assert_eq!(resource.differences[0].source, Source::Cloudformation);
    }
}
