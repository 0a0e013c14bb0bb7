//! Comparing a declared value with what AWS reports, after the normalisation AWS itself applies: numbers and
//! booleans declared as strings (`"20"`, `"true"`), case it folds (`GP3`, `Postgres`), engine versions declared by
//! major version only, identifiers that come back as ARNs, lists whose order carries no meaning.

use serde_json::Value;

use super::Severity;

/// How AWS treats a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Compared as text, exactly.
    Text,
    /// Compared as text, ignoring ASCII case (engine names, storage types, DB identifiers).
    CaseInsensitive,
    Bool,
    Number,
    /// `"17"` matches any `17.x`; `"17.6"` matches `17.6` (and `17.6.x`, where engines have a third part).
    EngineVersion,
    /// A resource identifier that may come back as an ARN (`arn:aws:rds:...:db:name`); case-insensitive.
    Identifier,
    /// A list of ids whose order does not matter.
    IdSet,
}

/// Whether `expected` (declared, resolved) and `actual` (reported by AWS) are the same value.
pub fn same(kind: Kind, expected: &Value, actual: &Value) -> bool {
    match kind {
        Kind::Text => text(expected) == text(actual),
        Kind::CaseInsensitive => match (text(expected), text(actual)) {
            (Some(e), Some(a)) => e.eq_ignore_ascii_case(&a),
            (e, a) => e == a,
        },
        Kind::Bool => boolean(expected) == boolean(actual),
        Kind::Number => number(expected) == number(actual),
        Kind::EngineVersion => match (text(expected), text(actual)) {
            (Some(e), Some(a)) => a == e || a.starts_with(&format!("{e}.")),
            (e, a) => e == a,
        },
        Kind::Identifier => match (text(expected), text(actual)) {
            (Some(e), Some(a)) => identifier(&e).eq_ignore_ascii_case(identifier(&a)),
            (e, a) => e == a,
        },
        Kind::IdSet => id_set(expected) == id_set(actual),
    }
}

/// Scalars as text: `5`, `"5"` and `true`/`"true"` compare equal as text.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The name at the end of an ARN (`arn:aws:rds:eu-west-1:1:db:primary` -> `primary`), or the text itself.
fn identifier(text: &str) -> &str {
    if text.starts_with("arn:") {
        text.rsplit(':').next().unwrap_or(text)
    } else {
        text
    }
}

fn id_set(value: &Value) -> Option<Vec<String>> {
    let mut ids = value
        .as_array()?
        .iter()
        .map(|item| text(item).map(|t| t.to_ascii_lowercase()))
        .collect::<Option<Vec<_>>>()?;
    ids.sort();
    ids.dedup();
    Some(ids)
}

/// Properties whose drift matters for security. A change is security-relevant when it moves toward exposure:
/// public access switched on, encryption or a protection switched off, or any change to who may connect.
pub fn severity(path: &str, actual: &Value) -> Severity {
    let root = path
        .trim_start_matches("/Properties/")
        .split(['.', '/', '['])
        .next()
        .unwrap_or(path);
    let exposed_when_true = ["MapPublicIpOnLaunch", "PubliclyAccessible"];
    let exposed_when_false = [
        "StorageEncrypted",
        "SqsManagedSseEnabled",
        "DeletionProtection",
        // Monitoring and authentication switched off (issue 14).
        "EnablePerformanceInsights",
        "EnableIAMDatabaseAuthentication",
        "Monitoring",
        "DisableApiTermination",
        // A customer-managed key whose yearly rotation was switched off.
        "EnableKeyRotation",
    ];
    // Enhanced monitoring: 0 turns it off.
    let off_when_zero = ["MonitoringInterval"];
    let always = [
        "SecurityGroupIngress",
        "SecurityGroupIds",
        "SecurityGroups",
        "VPCSecurityGroups",
        "MetadataOptions",
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "KmsMasterKeyId",
        "KmsKeyId",
        // Logging switched off or redirected, another key (issue 14).
        "EnableCloudwatchLogsExports",
        "LoggingConfiguration",
        "PerformanceInsightsKMSKeyId",
        // A flow log that records less or delivers elsewhere.
        "TrafficType",
        "LogGroupName",
        "LogDestination",
        "LogDestinationType",
        // An API stage's access logs off or delivered elsewhere.
        "AccessLogSettings",
    ];
    // Bucket keys only lower the cost of KMS calls; encryption itself is unaffected.
    let security = if path.ends_with("BucketKeyEnabled") {
        false
    } else if exposed_when_true.contains(&root) {
        boolean(actual) == Some(true)
    } else if exposed_when_false.contains(&root) {
        boolean(actual) != Some(true)
    } else if off_when_zero.contains(&root) {
        number(actual).is_none_or(|n| n == 0.0)
    } else {
        always.contains(&root)
    };
    if security {
        Severity::Security
    } else {
        Severity::Normal
    }
}

/// A declared resource found gone: security-relevant when it was a record of what happened (a VPC
/// flow log deleted outside the stack leaves the VPC's traffic unrecorded), or an encryption key.
pub fn deleted_severity(resource_type: &str) -> Severity {
    match resource_type {
        "AWS::EC2::FlowLog" | "AWS::KMS::Key" => Severity::Security,
        _ => Severity::Normal,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_and_booleans_declared_as_strings_are_not_drift() {
        assert!(same(Kind::Number, &json!("20"), &json!(20)));
        assert!(same(Kind::Number, &json!(5), &json!("5")));
        assert!(!same(Kind::Number, &json!("20"), &json!(30)));
        assert!(same(Kind::Bool, &json!("true"), &json!(true)));
        assert!(same(Kind::Bool, &json!(false), &json!("False")));
        assert!(!same(Kind::Bool, &json!(true), &json!(false)));
        assert!(same(Kind::Text, &json!(5432), &json!("5432")));
    }

    #[test]
    fn case_aws_folds_is_ignored() {
        assert!(same(Kind::CaseInsensitive, &json!("GP3"), &json!("gp3")));
        assert!(same(
            Kind::CaseInsensitive,
            &json!("Postgres"),
            &json!("postgres")
        ));
        assert!(!same(Kind::CaseInsensitive, &json!("gp2"), &json!("gp3")));
        assert!(!same(Kind::Text, &json!("t3.micro"), &json!("T3.micro")));
    }

    #[test]
    fn engine_versions_declared_by_major_version_match_any_minor() {
        assert!(same(Kind::EngineVersion, &json!("17"), &json!("17.6")));
        assert!(same(Kind::EngineVersion, &json!("17.6"), &json!("17.6")));
        assert!(!same(Kind::EngineVersion, &json!("17.6"), &json!("17.5")));
        assert!(!same(Kind::EngineVersion, &json!("1"), &json!("17.6")));
    }

    #[test]
    fn identifiers_match_their_arns_and_ignore_case() {
        assert!(same(
            Kind::Identifier,
            &json!("App-Primary"),
            &json!("arn:aws:rds:eu-west-1:111111111111:db:app-primary")
        ));
        assert!(!same(Kind::Identifier, &json!("a"), &json!("b")));
    }

    #[test]
    fn id_lists_compare_as_sets() {
        assert!(same(
            Kind::IdSet,
            &json!(["sg-2", "sg-1"]),
            &json!(["sg-1", "sg-2", "sg-1"])
        ));
        assert!(!same(
            Kind::IdSet,
            &json!(["sg-1"]),
            &json!(["sg-1", "sg-3"])
        ));
    }

    #[test]
    fn severity_marks_moves_toward_exposure() {
        assert_eq!(
            severity("PubliclyAccessible", &json!(true)),
            Severity::Security
        );
        assert_eq!(
            severity("PubliclyAccessible", &json!(false)),
            Severity::Normal
        );
        assert_eq!(
            severity("StorageEncrypted", &json!(false)),
            Severity::Security
        );
        assert_eq!(
            severity("/Properties/SecurityGroupIngress/0", &json!(null)),
            Severity::Security
        );
        assert_eq!(
            severity(
                "PublicAccessBlockConfiguration.BlockPublicAcls",
                &json!(false)
            ),
            Severity::Security
        );
        assert_eq!(
            severity("DBInstanceClass", &json!("db.r6g.large")),
            Severity::Normal
        );
        assert_eq!(
            severity("MapPublicIpOnLaunch", &json!(false)),
            Severity::Normal
        );
    }
}
