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

/// Adds one of CloudFormation's drifted resources to the stack's report. A resource or a property strata's live
/// checks reported already is the same finding: it gains CloudFormation as a source rather than a second entry.
fn add_record(stack: &mut StackDrift, record: ResourceDriftRecord) {
    let known = crate::catalog::lookup(&record.resource_type);
    // AWS cannot read a write-only value back (a password, code to deploy), and a read-only one is AWS's own:
    // a "difference" at either says nothing about drift.
    let differences: Vec<_> = record
        .differences
        .into_iter()
        .filter(|difference| {
            let segments = pointer_segments(&difference.path);
            !known.is_some_and(|t| t.is_write_only(&segments) || t.is_read_only(&segments))
        })
        .collect();
    if record.status != "DELETED" && differences.is_empty() {
        return;
    }
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
                sources: Vec::new(),
                differences: Vec::new(),
            });
            stack.resources.len() - 1
        }
    };
    let resource = &mut stack.resources[index];
    add_source(&mut resource.sources);
    if record.status == "DELETED" {
        resource.status = ResourceStatus::Deleted;
        return;
    }
    for difference in differences {
        let path = property_path(&difference.path);
        let actual = json_or_text(difference.actual);
        let severity = normalize::severity(&path, &actual);
        resource.severity = resource.severity.max(severity);
        let seen = resource
            .differences
            .iter_mut()
            .filter(|d| same_property(&d.path, &path))
            // A live finding CloudFormation has not matched yet first: two extra rules are two findings.
            .min_by_key(|d| d.sources.contains(&Source::Cloudformation));
        match seen {
            Some(seen) => {
                seen.severity = seen.severity.max(severity);
                add_source(&mut seen.sources);
            }
            None => resource.differences.push(Difference {
                path,
                expected: json_or_text(difference.expected),
                actual,
                severity,
                sources: vec![Source::Cloudformation],
            }),
        }
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

fn add_source(sources: &mut Vec<Source>) {
    if !sources.contains(&Source::Cloudformation) {
        sources.push(Source::Cloudformation);
        sources.sort();
    }
}

/// `/Properties/SecurityGroupIngress/1/CidrIp` (a JSON pointer; CloudFormation's `PropertyPath`, with or without
/// the `/Properties` prefix) -> `SecurityGroupIngress[1].CidrIp`, the shape of strata's own paths (and the plan's).
fn property_path(pointer: &str) -> String {
    let mut path = String::new();
    let segments = pointer
        .trim_start_matches('/')
        .trim_start_matches("Properties/")
        .split('/')
        .filter(|s| !s.is_empty());
    for segment in segments {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    path
}

/// Whether two paths name the same property as the two sources report it: the same top-level property, and the
/// names of one path found in order in the other. CloudFormation names every level and list index
/// (`RedrivePolicy.maxReceiveCount`, `BucketEncryption.ServerSideEncryptionConfiguration[0].
/// ServerSideEncryptionByDefault.SSEAlgorithm`, `SecurityGroupIngress[2]`); strata's checks compare some
/// properties whole or name their essential levels (`RedrivePolicy`, `BucketEncryption.SSEAlgorithm`,
/// `SecurityGroupIngress`).
fn same_property(a: &str, b: &str) -> bool {
    let (a, b) = (names(a), names(b));
    !a.is_empty() && a.first() == b.first() && (in_order(&a, &b) || in_order(&b, &a))
}

/// The names of a path, without list indices (`A[1].B` -> `A`, `B`).
fn names(path: &str) -> Vec<&str> {
    path.split(['.', '[', ']'])
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// Every name of `short` appears in `long`, in the same order.
fn in_order(short: &[&str], long: &[&str]) -> bool {
    let mut long = long.iter();
    short.iter().all(|name| long.any(|other| other == name))
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
        assert_eq!(resource.differences[0].sources, [Source::Cloudformation]);
    }

    /// A recorded DescribeStackResourceDrifts answer (tests/fixtures/drift), as the adapter turns it into records.
    fn recorded_drifts(name: &str) -> Vec<ResourceDriftRecord> {
        let path = format!(
            "{}/tests/fixtures/drift/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let response: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let text_of = |value: &Value, name: &str| value[name].as_str().map(str::to_owned);
        response["StackResourceDrifts"]
            .as_array()
            .expect("StackResourceDrifts")
            .iter()
            .map(|drift| ResourceDriftRecord {
                logical_id: text_of(drift, "LogicalResourceId").unwrap_or_default(),
                physical_id: text_of(drift, "PhysicalResourceId"),
                resource_type: text_of(drift, "ResourceType").unwrap_or_default(),
                status: text_of(drift, "StackResourceDriftStatus").unwrap_or_default(),
                differences: drift["PropertyDifferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| PropertyDifference {
                        path: text_of(d, "PropertyPath").unwrap_or_default(),
                        expected: text_of(d, "ExpectedValue"),
                        actual: text_of(d, "ActualValue"),
                        kind: text_of(d, "DifferenceType").unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// What strata's live checks report for the changes the fixture records, from the real checks.
    fn live_findings() -> StackDrift {
        use super::super::checks::testing::{Case, differences, is_deleted};
        use crate::aws::live::{Bucket, Observed, PublicAccessBlock, Queue};

        let dlq_arn = "arn:aws:sqs:eu-west-1:111111111111:photofeed-dev-photoUploaded-dlq";
        let queue_url =
            "https://sqs.eu-west-1.amazonaws.com/111111111111/photofeed-dev-photoUploaded";
        let dlq_url =
            "https://sqs.eu-west-1.amazonaws.com/111111111111/photofeed-dev-photoUploaded-dlq";
        let queue = |url: &str, attributes: &[(&str, &str)]| Queue {
            url: url.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let mut queue_case = Case::new(
            "AWS::SQS::Queue",
            json!({"QueueName": "photofeed-dev-photoUploaded", "VisibilityTimeout": 30,
                   "SqsManagedSseEnabled": true,
                   "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}}),
        )
        .declare("Dlq", "AWS::SQS::Queue", json!({}))
        .physical("Dlq", dlq_url);
        let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":10}}"#);
        queue_case.live.queues.insert(
            queue_url.into(),
            queue(
                queue_url,
                &[
                    (
                        "QueueArn",
                        "arn:aws:sqs:eu-west-1:111111111111:photofeed-dev-photoUploaded",
                    ),
                    ("VisibilityTimeout", "45"),
                    ("SqsManagedSseEnabled", "true"),
                    ("RedrivePolicy", &redrive),
                ],
            ),
        );
        queue_case
            .live
            .queues
            .insert(dlq_url.into(), queue(dlq_url, &[("QueueArn", dlq_arn)]));

        let bucket_name = "photofeed-dev-photos-111111111111";
        let mut bucket_case = Case::new(
            "AWS::S3::Bucket",
            json!({"BucketName": bucket_name,
                   "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true,
                       "IgnorePublicAcls": true, "RestrictPublicBuckets": true}}),
        );
        bucket_case.live.buckets.insert(
            bucket_name.into(),
            Bucket {
                name: bucket_name.into(),
                encryption: Observed::Value(vec![]),
                versioning: Observed::Value(None),
                public_access_block: Observed::Value(PublicAccessBlock {
                    block_public_acls: false,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                }),
                logging: Observed::Value(None),
            },
        );
        let fanout_dlq =
            "https://sqs.eu-west-1.amazonaws.com/111111111111/photofeed-dev-feedFanout-dlq";
        let deleted_case = Case::new(
            "AWS::SQS::Queue",
            json!({"QueueName": "photofeed-dev-feedFanout-dlq"}),
        );
        assert!(is_deleted(&deleted_case, fanout_dlq));

        let modified =
            |logical_id: &str, physical_id: &str, resource_type: &str, found: Vec<Difference>| {
                ResourceDrift {
                    logical_id: logical_id.into(),
                    physical_id: Some(physical_id.into()),
                    resource_type: resource_type.into(),
                    status: ResourceStatus::Modified,
                    severity: found
                        .iter()
                        .map(|d| d.severity)
                        .max()
                        .unwrap_or(Severity::Normal),
                    sources: vec![Source::Live],
                    differences: found,
                }
            };
        StackDrift {
            stack: "storage".into(),
            stack_name: "photofeed-dev-storage".into(),
            status: Some("CREATE_COMPLETE".into()),
            checked: 3,
            resources: vec![
                ResourceDrift {
                    status: ResourceStatus::Deleted,
                    ..modified(
                        "FeedFanoutDeadLetterQueue",
                        fanout_dlq,
                        "AWS::SQS::Queue",
                        vec![],
                    )
                },
                modified(
                    "PhotoUploadedQueue",
                    queue_url,
                    "AWS::SQS::Queue",
                    differences(&queue_case, queue_url),
                ),
                modified(
                    "PhotosBucket",
                    bucket_name,
                    "AWS::S3::Bucket",
                    differences(&bucket_case, bucket_name),
                ),
            ],
        }
    }

    #[test]
    fn a_change_both_sources_saw_is_one_finding_saying_so() {
        let live = live_findings();
        let result = DetectionResult {
            resources: recorded_drifts("storage_resource_drifts"),
            failure: None,
        };
        let merged = merge(
            vec![live],
            vec![("photofeed-dev-storage".into(), Ok(result))],
            &mut vec![],
        )
        .unwrap();
        let both = vec![Source::Live, Source::Cloudformation];
        let resources = &merged[0].resources;
        assert_eq!(resources.len(), 3, "{resources:#?}");
        let resource = |id: &str| resources.iter().find(|r| r.logical_id == id).unwrap();
        let findings = |id: &str| {
            resource(id)
                .differences
                .iter()
                .map(|d| (d.path.as_str(), d.sources.clone()))
                .collect::<Vec<_>>()
        };

        let deleted = resource("FeedFanoutDeadLetterQueue");
        assert_eq!(deleted.status, ResourceStatus::Deleted);
        assert_eq!(deleted.sources, both);
        // `/RedrivePolicy/maxReceiveCount` is the redrive policy strata compares whole: one finding.
        assert_eq!(
            findings("PhotoUploadedQueue"),
            [
                ("VisibilityTimeout", both.clone()),
                ("RedrivePolicy", both.clone())
            ]
        );
        assert_eq!(resource("PhotoUploadedQueue").sources, both);
        // Tags are CloudFormation's finding alone (strata does not check them).
        assert_eq!(
            findings("PhotosBucket"),
            [
                (
                    "PublicAccessBlockConfiguration.BlockPublicAcls",
                    both.clone()
                ),
                ("Tags[2].Value", vec![Source::Cloudformation])
            ]
        );
        assert_eq!(resource("PhotosBucket").severity, Severity::Security);
    }

    #[test]
    fn paths_match_across_the_sources_shapes() {
        assert_eq!(
            property_path("/Properties/SecurityGroupIngress/1/CidrIp"),
            "SecurityGroupIngress[1].CidrIp"
        );
        assert_eq!(property_path("/VisibilityTimeout"), "VisibilityTimeout");
        for (live, cloudformation) in [
            ("RedrivePolicy", "RedrivePolicy.maxReceiveCount"),
            ("SecurityGroupIngress", "SecurityGroupIngress[2]"),
            (
                "BucketEncryption.SSEAlgorithm",
                "BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm",
            ),
        ] {
            assert!(
                same_property(live, cloudformation),
                "{live} ~ {cloudformation}"
            );
        }
        for (a, b) in [
            (
                "PublicAccessBlockConfiguration.BlockPublicAcls",
                "PublicAccessBlockConfiguration.BlockPublicPolicy",
            ),
            ("Tags[2].Value", "Tags[2].Key"),
            ("VisibilityTimeout", "MessageRetentionPeriod"),
        ] {
            assert!(!same_property(a, b), "{a} !~ {b}");
        }
    }
}
