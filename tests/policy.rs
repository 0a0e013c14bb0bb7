//! Behaviour strata relies on: shipped rule files pass their own tests, every rule catches a
//! violation and names it, syntax errors point at file/line/column, waivers move findings.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use strata::policy::{
    Level, PolicyError, RuleFile, TemplateInput, Waiver, check_syntax, evaluate,
    find_rule_test_file, load_rule_files, run_rule_tests,
};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn shipped_rules() -> Vec<RuleFile> {
    load_rule_files(&policies_dir()).expect("policies load")
}

fn all_at(level: Level) -> Vec<(RuleFile, Level)> {
    shipped_rules().into_iter().map(|f| (f, level)).collect()
}

/// The shipped platform's template of `stack` in `env`, rendered by strata itself.
fn fixture(env: &str, stack: &str) -> Value {
    let project = strata::project::Project::open(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("project opens");
    let rendered = project.render(env).expect("renders");
    let stack = rendered
        .stacks
        .iter()
        .find(|s| s.name == stack)
        .expect("stack exists");
    strata::render::template_value(&stack.template)
}

/// Evaluates one shipped rule file over one template.
fn evaluate_file(
    file: &str,
    level: Level,
    stack: &str,
    template: &Value,
) -> strata::policy::PolicyReport {
    let files: Vec<(RuleFile, Level)> = shipped_rules()
        .into_iter()
        .filter(|f| f.name == file)
        .map(|f| (f, level))
        .collect();
    evaluate(&files, &[TemplateInput::new(stack, template)], &[]).unwrap()
}

const STACKS: [&str; 5] = ["network", "database", "bastion", "storage", "app"];

#[test]
fn shipped_rule_files_load_sorted_and_parse() {
    let files = shipped_rules();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "application",
            "aws",
            "database",
            "keys",
            "lifecycle",
            "logging",
            "network",
            "production",
            "storage",
            "tagging"
        ]
    );
    check_syntax(&files).expect("shipped rules parse");
}

#[test]
fn every_rule_file_has_tests_and_they_pass() {
    for file in shipped_rules() {
        let test_file = find_rule_test_file(&file).unwrap_or_else(|| {
            panic!(
                "{} has no tests/{}_tests.yaml",
                file.path.display(),
                file.name
            )
        });
        let results = run_rule_tests(&file, &test_file).expect("tests run");
        assert!(!results.is_empty(), "{}: no test cases", file.name);
        let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
        assert!(
            failed.is_empty(),
            "{}: failing rule tests: {failed:#?}",
            file.name
        );
        // Every rule of the file is exercised with PASS, FAIL and SKIP... at least FAIL and PASS.
        for rule in strata::policy::rule_names(&file).unwrap() {
            for status in ["Pass", "Fail"] {
                assert!(
                    results.iter().any(|r| r.rule == rule
                        && format!("{:?}", r.expected) == format!("Some({status})")),
                    "{}: rule {rule} has no test case expecting {status}",
                    file.name
                );
            }
        }
    }
}

#[test]
fn a_test_file_expecting_an_unknown_rule_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("x.guard");
    std::fs::write(&rules, "rule REAL { Resources exists }\n").unwrap();
    let tests = dir.path().join("x_tests.yaml");
    std::fs::write(
        &tests,
        "- name: typo\n  input: { Resources: {} }\n  expectations: { rules: { REAAL: PASS } }\n",
    )
    .unwrap();
    let file = RuleFile::new(&rules, std::fs::read_to_string(&rules).unwrap());
    let err = run_rule_tests(&file, &tests).unwrap_err();
    assert!(matches!(err, PolicyError::InvalidTestFile { .. }), "{err}");
    assert!(err.to_string().contains("REAAL"), "{err}");
}

#[test]
fn a_wrong_expectation_is_reported_as_a_failed_case() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("x.guard");
    std::fs::write(&rules, "rule HAS_RESOURCES { Resources exists }\n").unwrap();
    let tests = dir.path().join("x_tests.yaml");
    std::fs::write(&tests, "- name: wrong\n  input: { Resources: { A: { Type: T } } }\n  expectations: { rules: { HAS_RESOURCES: FAIL } }\n").unwrap();
    let file = RuleFile::new(&rules, std::fs::read_to_string(&rules).unwrap());
    let results = run_rule_tests(&file, &tests).unwrap();
    assert_eq!(results.len(), 1);
    assert!(!results[0].passed);
    assert_eq!(results[0].rule, "HAS_RESOURCES");
}

#[test]
fn realistic_templates_pass_every_rule_that_applies_to_their_environment() {
    for env in ["dev", "staging", "prod"] {
        let templates: Vec<Value> = STACKS.iter().map(|s| fixture(env, s)).collect();
        let inputs: Vec<TemplateInput> = STACKS
            .iter()
            .zip(&templates)
            .map(|(stack, template)| TemplateInput::new(stack, template))
            .collect();
        let files: Vec<(RuleFile, Level)> = shipped_rules()
            .into_iter()
            .filter(|f| env == "prod" || f.name != "production")
            .map(|f| (f, Level::Error))
            .collect();
        let report = evaluate(&files, &inputs, &[]).expect("evaluates");
        assert!(report.findings.is_empty(), "{env}: {:#?}", report.findings);
    }
}

fn bucket(props: Value) -> Value {
    json!({"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props})
}

/// One violating template per rule; the finding must carry the rule name and the resource.
fn violations() -> Vec<(&'static str, &'static str, Value)> {
    let tags = json!([{"Key": "project", "Value": "p"}, {"Key": "environment", "Value": "dev"}, {"Key": "managed-by", "Value": "strata"}]);
    let primary = |extra: Value| {
        let mut props = json!({"StorageEncrypted": true, "PubliclyAccessible": false,
            "MasterUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:password}}"},
            "BackupRetentionPeriod": 14, "DeletionProtection": true, "MultiAZ": true, "Tags": tags});
        if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        json!({"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot", "Properties": props}}})
    };
    vec![
        (
            "S3_BUCKET_ENCRYPTED",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({}))}}),
        ),
        (
            "S3_BUCKET_VERSIONED",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({"VersioningConfiguration": {"Status": "Suspended"}}))}}),
        ),
        (
            "S3_BUCKET_PUBLIC_ACCESS_BLOCKED",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true}}))}}),
        ),
        (
            "S3_BUCKET_TLS_ONLY_POLICY",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({}))}}),
        ),
        (
            "S3_BUCKET_NO_PUBLIC_ACL",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({"AccessControl": "PublicReadWrite"}))}}),
        ),
        (
            "S3_BUCKET_POLICY_NO_PUBLIC_WRITE",
            "InboxPolicy",
            json!({"Resources": {"InboxPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Inbox"},
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:PutObject"], "Resource": "*"}]}}}}}),
        ),
        (
            "SQS_QUEUE_HAS_DLQ",
            "Jobs",
            json!({"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}}}}),
        ),
        (
            "SQS_QUEUE_ENCRYPTED",
            "Jobs",
            json!({"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": false}}}}),
        ),
        (
            "RDS_STORAGE_ENCRYPTED",
            "Db",
            primary(json!({"StorageEncrypted": false})),
        ),
        (
            "RDS_NOT_PUBLICLY_ACCESSIBLE",
            "Db",
            primary(json!({"PubliclyAccessible": true})),
        ),
        (
            "RDS_MASTER_PASSWORD_FROM_SECRET",
            "Db",
            primary(json!({"MasterUserPassword": "secret"})),
        ),
        (
            "RDS_BACKUPS_ENABLED",
            "Db",
            primary(json!({"BackupRetentionPeriod": 0})),
        ),
        (
            "PROD_RDS_BACKUP_RETENTION_7_DAYS",
            "Db",
            primary(json!({"BackupRetentionPeriod": "3"})),
        ),
        (
            "PROD_RDS_DELETION_PROTECTION",
            "Db",
            primary(json!({"DeletionProtection": false})),
        ),
        (
            "PROD_RDS_MULTI_AZ",
            "Db",
            primary(json!({"MultiAZ": false})),
        ),
        (
            "RDS_ENHANCED_MONITORING",
            "Db",
            primary(json!({"MonitoringInterval": 0})),
        ),
        (
            "RDS_PERFORMANCE_INSIGHTS",
            "Db",
            primary(json!({"EnablePerformanceInsights": false})),
        ),
        (
            "RDS_IAM_AUTHENTICATION",
            "Db",
            primary(json!({"EnableIAMDatabaseAuthentication": false})),
        ),
        (
            "RDS_POSTGRESQL_LOG_EXPORTS",
            "Db",
            primary(json!({"EnableCloudwatchLogsExports": ["postgresql"]})),
        ),
        (
            "PROD_RDS_REPLICA_MULTI_AZ",
            "Replica",
            json!({"Resources": {"Replica": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"SourceDBInstanceIdentifier": {"Ref": "Db"}, "MultiAZ": false, "DeletionProtection": true}}}}),
        ),
        (
            "PROD_RDS_REPLICA_DELETION_PROTECTION",
            "Replica",
            json!({"Resources": {"Replica": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"SourceDBInstanceIdentifier": {"Ref": "Db"}, "MultiAZ": true, "DeletionProtection": false}}}}),
        ),
        (
            "LOG_GROUP_RETENTION",
            "Logs",
            json!({"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {}}}}),
        ),
        (
            "IAM_NO_WILDCARD_ACTIONS",
            "Role",
            json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p",
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}]}}]}}}}),
        ),
        (
            "IAM_NO_WILDCARD_RESOURCES",
            "Role",
            json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p",
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}]}}}}),
        ),
        (
            "LAMBDA_LOGS_WITH_RETENTION",
            "Fn",
            json!({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}}}),
        ),
        (
            "DYNAMODB_TABLE_PITR",
            "Table",
            json!({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"SSESpecification": {"SSEEnabled": true}}}}}),
        ),
        (
            "DYNAMODB_TABLE_ENCRYPTED",
            "Table",
            json!({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}}}}),
        ),
        (
            "SNS_TOPIC_ENCRYPTED",
            "Topic",
            json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}}}),
        ),
        (
            "API_STAGE_ACCESS_LOGS",
            "Stage",
            json!({"Resources": {"Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"StageName": "dev",
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 1}}}}}),
        ),
        (
            "API_STAGE_THROTTLED",
            "Stage",
            json!({"Resources": {"Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"StageName": "dev",
            "AccessLogSettings": {"DestinationArn": "arn", "Format": "$context.requestId"}}}}}),
        ),
        (
            "KMS_KEY_ROTATION",
            "Key",
            json!({"Resources": {"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"EnableKeyRotation": false, "PendingWindowInDays": 30}}}}),
        ),
        (
            "KMS_KEY_DELETION_WINDOW",
            "Key",
            json!({"Resources": {"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"EnableKeyRotation": true, "PendingWindowInDays": 7}}}}),
        ),
        (
            "KMS_KEY_RETAINED",
            "Key",
            json!({"Resources": {"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"EnableKeyRotation": true, "PendingWindowInDays": 30}}}}),
        ),
        (
            "S3_BUCKET_ACCESS_LOGGING",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({}))}}),
        ),
        (
            "S3_ACCESS_LOG_BUCKET",
            "Logs",
            json!({"Resources": {
            "Inbox": bucket(json!({"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}})),
            "Logs": bucket(json!({}))}}),
        ),
        (
            "AWS_S3_ACCESS_LOG_DESTINATION_SSE_S3",
            "Logs",
            json!({"Resources": {
            "Inbox": bucket(json!({"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}})),
            "Logs": bucket(json!({"BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}}))}}),
        ),
        (
            "PROD_S3_BUCKET_CUSTOMER_KEY",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({"BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}))}}),
        ),
        (
            "PROD_SQS_QUEUE_CUSTOMER_KEY",
            "Jobs",
            json!({"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}}}}),
        ),
        (
            "EC2_INSTANCE_VOLUMES_ENCRYPTED",
            "Bastion",
            json!({"Resources": {"Bastion": {"Type": "AWS::EC2::Instance", "Properties": {"MetadataOptions": {"HttpTokens": "required"},
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": false}}]}}}}),
        ),
        (
            "PROD_EC2_DETAILED_MONITORING",
            "Bastion",
            json!({"Resources": {"Bastion": {"Type": "AWS::EC2::Instance", "Properties": {"Monitoring": false}}}}),
        ),
        (
            "EC2_VPC_FLOW_LOGS",
            "Vpc",
            json!({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}}}),
        ),
        (
            "PROD_EC2_TERMINATION_PROTECTION",
            "Bastion",
            json!({"Resources": {"Bastion": {"Type": "AWS::EC2::Instance", "Properties": {"DisableApiTermination": false}}}}),
        ),
        (
            "STATEFUL_DELETION_POLICY_SET",
            "Jobs",
            json!({"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "UpdateReplacePolicy": "Delete"}}}),
        ),
        (
            "STATEFUL_UPDATE_REPLACE_POLICY_SET",
            "Jobs",
            json!({"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"}}}),
        ),
        (
            "EC2_SG_NO_WORLD_INGRESS",
            "BastionSg",
            json!({"Resources": {"BastionSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "b",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}]}}}}),
        ),
        (
            "EC2_SG_INGRESS_NO_WORLD",
            "OpenSsh",
            json!({"Resources": {"OpenSsh": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {"GroupId": "sg-1",
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "::/0"}}}}),
        ),
        (
            "EC2_INSTANCE_IMDSV2",
            "Bastion",
            json!({"Resources": {
            "Lt": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "optional"}}}},
            "Bastion": {"Type": "AWS::EC2::Instance", "Properties": {"LaunchTemplate": {"LaunchTemplateId": {"Ref": "Lt"}, "Version": "1"}}}}}),
        ),
        (
            "AWS_RDS_NO_REPLICA_OF_MANAGED_PASSWORD",
            "Replica",
            json!({"Resources": {
            "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"ManageMasterUserPassword": true}},
            "Replica": {"Type": "AWS::RDS::DBInstance", "Properties": {"SourceDBInstanceIdentifier": {"Ref": "Db"}}}}}),
        ),
        (
            "AWS_KEPT_EXCEPT_ON_CREATE",
            "Inbox",
            json!({"Resources": {"Inbox": bucket(json!({}))}}),
        ),
        (
            "AWS_S3_NOTIFICATION_NOT_TO_FIFO_QUEUE",
            "Inbox",
            json!({"Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": true}},
            "Inbox": bucket(json!({"NotificationConfiguration": {"QueueConfigurations": [
                {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["Jobs", "Arn"]}}]}}))}}),
        ),
        (
            "AWS_SQS_DLQ_KEEPS_MESSAGES_AS_LONG_AS_SOURCE",
            // Reported where the fix goes: the dead-letter queue's retention.
            "JobsDlq",
            json!({"Resources": {
            "JobsDlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 60}},
            "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 345600,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["JobsDlq", "Arn"]}, "maxReceiveCount": 5}}}}}),
        ),
        (
            "AWS_EC2_IMAGE_NOT_A_PLACEHOLDER",
            "Bastion",
            json!({"Resources": {"Bastion": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-0a1b2c3d4e5f60718"}}}}),
        ),
        (
            "TAGS_REQUIRED",
            "Vpc",
            json!({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16",
            "Tags": [{"Key": "project", "Value": "p"}]}}}}),
        ),
        (
            "TAG_MAP_REQUIRED",
            "Setting",
            json!({"Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v",
            "Tags": {"project": "p", "environment": "dev"}}}}}),
        ),
        (
            "TAG_SPECIFICATIONS_REQUIRED",
            "Lt",
            json!({"Resources": {"Lt": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {},
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "project", "Value": "p"}]}]}}}}),
        ),
    ]
}

#[test]
fn every_rule_fails_on_its_violation_and_names_rule_and_resource() {
    let files = all_at(Level::Error);
    let cases = violations();
    // Every shipped rule has a case here.
    let mut all_rules: Vec<String> = files
        .iter()
        .flat_map(|(f, _)| strata::policy::rule_names(f).unwrap())
        .collect();
    all_rules.sort();
    let mut covered: Vec<String> = cases.iter().map(|(r, _, _)| r.to_string()).collect();
    covered.sort();
    assert_eq!(all_rules, covered);

    let stacks: Vec<String> = cases
        .iter()
        .map(|(rule, _, _)| format!("case-{rule}"))
        .collect();
    let inputs: Vec<TemplateInput> = cases
        .iter()
        .zip(&stacks)
        .map(|((_, _, template), stack)| TemplateInput::new(stack, template))
        .collect();
    let report = evaluate(&files, &inputs, &[]).expect("evaluates");
    for (rule, logical_id, _) in &cases {
        let stack = format!("case-{rule}");
        let hit = report.findings.iter().find(|f| {
            f.stack == stack && f.rule == *rule && f.logical_id.as_deref() == Some(*logical_id)
        });
        let Some(hit) = hit else {
            let got: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.stack == stack)
                .collect();
            panic!("{rule} did not fail on {logical_id}; findings for the case: {got:#?}");
        };
        assert!(
            hit.property_path
                .starts_with(&format!("/Resources/{logical_id}")),
            "{hit:?}"
        );
        assert!(!hit.message.is_empty());
        assert!(!hit.rule_file.is_empty());
    }
}

#[test]
fn finding_carries_custom_message_property_path_file_and_level() {
    let template = json!({"Resources": {"InboxBucket": bucket(json!({"VersioningConfiguration": {"Status": "Suspended"}}))}});
    let report = evaluate_file("storage", Level::Warn, "storage", &template);
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "S3_BUCKET_VERSIONED")
        .expect("finding");
    assert_eq!(
        f.property_path,
        "/Resources/InboxBucket/Properties/VersioningConfiguration/Status"
    );
    assert_eq!(f.logical_id.as_deref(), Some("InboxBucket"));
    assert_eq!(f.rule_file, "storage");
    assert_eq!(f.level, Level::Warn);
    assert_eq!(
        f.message,
        "S3 bucket must have versioning enabled (VersioningConfiguration.Status: Enabled)"
    );
    assert!(!report.has_errors(), "warn-level findings are not errors");
    // A missing property is reported at the path the rule wanted.
    let enc = report
        .findings
        .iter()
        .find(|f| f.rule == "S3_BUCKET_ENCRYPTED")
        .expect("finding");
    assert_eq!(
        enc.property_path,
        "/Resources/InboxBucket/Properties/BucketEncryption"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings"][0]["level"], "warn");
}

#[test]
fn findings_are_sorted_and_independent_of_input_order() {
    let t: Vec<Value> = STACKS.iter().map(|s| fixture("dev", s)).collect();
    let files = all_at(Level::Error); // production rules fail on dev: plenty of findings
    let forward: Vec<TemplateInput> = STACKS
        .iter()
        .zip(&t)
        .map(|(stack, template)| TemplateInput::new(stack, template))
        .collect();
    let mut backward = forward.clone();
    backward.reverse();
    let mut files_reversed = files.clone();
    files_reversed.reverse();
    let a = evaluate(&files, &forward, &[]).unwrap();
    let b = evaluate(&files_reversed, &backward, &[]).unwrap();
    assert!(!a.findings.is_empty());
    assert_eq!(a, b);
    let mut sorted = a.findings.clone();
    sorted.sort();
    assert_eq!(a.findings, sorted);
}

#[test]
fn a_broken_rule_file_is_reported_with_file_line_and_column() {
    let broken = RuleFile::new(
        "policies/broken.guard",
        "let buckets = Resources.*[ Type == 'AWS::S3::Bucket' ]\n\nrule BROKEN when %buckets !empty {\n    %buckets.Properties.X == \n}\n",
    );
    let err = check_syntax(std::slice::from_ref(&broken)).unwrap_err();
    match &err {
        PolicyError::Syntax {
            rule_file,
            path,
            position,
            ..
        } => {
            assert_eq!(rule_file, "broken");
            assert_eq!(path, Path::new("policies/broken.guard"));
            let position = position.expect("position");
            assert!(position.line >= 3 && position.line <= 5, "{position:?}");
            assert!(position.column >= 1);
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("policies/broken.guard:"), "{text}");
    // evaluate checks syntax first rather than silently skipping the file as cfn-guard does.
    let template = json!({"Resources": {}});
    let err = evaluate(
        &[(broken, Level::Error)],
        &[TemplateInput::new("s", &template)],
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, PolicyError::Syntax { .. }), "{err}");
}

#[test]
fn an_evaluation_error_names_the_rule_file_and_stack() {
    let bad = RuleFile::new(
        "policies/undefined.guard",
        "rule USES_UNDEFINED { %nowhere !empty }\n",
    );
    let template = json!({"Resources": {"A": {"Type": "AWS::SQS::Queue"}}});
    let err = evaluate(
        &[(bad, Level::Error)],
        &[TemplateInput::new("storage", &template)],
        &[],
    )
    .unwrap_err();
    match &err {
        PolicyError::Evaluation {
            rule_file, stack, ..
        } => {
            assert_eq!(rule_file, "undefined");
            assert_eq!(stack, "storage");
        }
        other => panic!("expected an evaluation error, got {other:?}"),
    }
}

#[test]
fn waivers_remove_matching_findings_and_report_them() {
    let template = json!({"Resources": {
        "Logs": bucket(json!({})),
        "Other": bucket(json!({}))
    }});
    let files: Vec<(RuleFile, Level)> = shipped_rules()
        .into_iter()
        .filter(|f| f.name == "storage")
        .map(|f| (f, Level::Error))
        .collect();
    let inputs = [TemplateInput::new("storage", &template)];
    let before = evaluate(&files, &inputs, &[]).unwrap();
    let versioned = |r: &strata::policy::Finding| r.rule == "S3_BUCKET_VERSIONED";
    assert_eq!(before.findings.iter().filter(|f| versioned(f)).count(), 2);

    let waivers = vec![
        Waiver {
            stack: "storage".into(),
            logical_id: "Logs".into(),
            rule: "S3_BUCKET_VERSIONED".into(),
            reason: "access logs are not versioned".into(),
        },
        Waiver {
            stack: "network".into(),
            logical_id: "Logs".into(),
            rule: "S3_BUCKET_VERSIONED".into(),
            reason: "wrong stack".into(),
        },
    ];
    let after = evaluate(&files, &inputs, &waivers).unwrap();
    let remaining: Vec<_> = after.findings.iter().filter(|f| versioned(f)).collect();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].logical_id.as_deref(), Some("Other"));
    assert_eq!(after.waived.len(), 1);
    assert_eq!(after.waived[0].finding.logical_id.as_deref(), Some("Logs"));
    assert_eq!(after.waived[0].reason, "access logs are not versioned");
    assert_eq!(
        after.findings.len() + after.waived.len(),
        before.findings.len()
    );
    assert_eq!(after.unused_waivers, vec![waivers[1].clone()]);
    let json = serde_json::to_value(&after).unwrap();
    assert_eq!(json["waived"][0]["reason"], "access logs are not versioned");
    assert_eq!(json["waived"][0]["rule"], "S3_BUCKET_VERSIONED");
}

#[test]
fn load_rule_files_names_a_missing_directory() {
    let err = load_rule_files(Path::new("/nonexistent/policies")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/policies"), "{err}");
}

#[test]
fn cross_resource_rules_name_only_the_offending_resource() {
    // Rules that compare logical ids (TLS policy per bucket, DLQ per queue) must point at the one
    // resource that is missing its partner, not at every resource or at `/Resources`.
    let template = json!({"Resources": {
        "Covered": bucket(json!({})),
        "Uncovered": bucket(json!({})),
        "CoveredPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Covered"},
            "PolicyDocument": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        "Work": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDlq", "Arn"]}, "maxReceiveCount": 5}}},
        "WorkDlq": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}},
        "Stray": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}}
    }});
    let report = evaluate_file("storage", Level::Error, "storage", &template);
    let ids = |rule: &str| -> Vec<Option<String>> {
        report
            .findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.logical_id.clone())
            .collect()
    };
    assert_eq!(
        ids("S3_BUCKET_TLS_ONLY_POLICY"),
        vec![Some("Uncovered".to_string())]
    );
    assert_eq!(ids("SQS_QUEUE_HAS_DLQ"), vec![Some("Stray".to_string())]);
    let tls = report
        .findings
        .iter()
        .find(|f| f.rule == "S3_BUCKET_TLS_ONLY_POLICY")
        .unwrap();
    assert_eq!(tls.property_path, "/Resources/Uncovered");
}

/// Issue 14's rules that tell a log bucket from the buckets logging into it point at the bucket
/// that breaks them, never at the others or at `/Resources`.
#[test]
fn access_log_rules_name_only_the_offending_bucket() {
    let sse_s3 = json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]});
    let cmk = json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]});
    let logging = json!({"DestinationBucketName": {"Ref": "Logs"}, "LogFilePrefix": "x/"});
    let template = json!({"Resources": {
        "Logs": bucket(json!({"BucketEncryption": cmk})),
        "Keyed": bucket(json!({"BucketEncryption": cmk, "LoggingConfiguration": logging})),
        "Plain": bucket(json!({"BucketEncryption": sse_s3, "LoggingConfiguration": logging})),
    }});
    let ids = |file: &str, rule: &str| -> Vec<Option<String>> {
        evaluate_file(file, Level::Error, file, &template)
            .findings
            .into_iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.logical_id)
            .collect()
    };
    let named = |ids: &[&str]| -> Vec<Option<String>> {
        ids.iter().map(|id| Some(id.to_string())).collect()
    };
    assert_eq!(
        ids("aws", "AWS_S3_ACCESS_LOG_DESTINATION_SSE_S3"),
        named(&["Logs"])
    );
    // The log bucket for its missing expiry; the buckets logging into it for its missing grant.
    assert_eq!(
        ids("storage", "S3_ACCESS_LOG_BUCKET"),
        named(&["Keyed", "Logs", "Plain"])
    );
    assert_eq!(
        ids("production", "PROD_S3_BUCKET_CUSTOMER_KEY"),
        named(&["Plain"])
    );
}

#[test]
fn an_evaluation_error_in_a_batch_names_the_template_that_caused_it() {
    // Errors only where a queue exists, so only the second template fails to evaluate.
    let bad = RuleFile::new(
        "policies/half.guard",
        "let queues = Resources.*[ Type == 'AWS::SQS::Queue' ]\nrule HALF when %queues !empty { %nowhere !empty }\n",
    );
    let fine = json!({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}});
    let broken = json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}});
    let inputs: Vec<TemplateInput> = (0..6)
        .map(|i| {
            TemplateInput::new(
                if i == 4 { "queues" } else { "buckets" },
                if i == 4 { &broken } else { &fine },
            )
        })
        .collect();
    let err = evaluate(&[(bad, Level::Error)], &inputs, &[]).unwrap_err();
    match &err {
        PolicyError::Evaluation {
            rule_file, stack, ..
        } => {
            assert_eq!(rule_file, "half");
            assert_eq!(stack, "queues");
        }
        other => panic!("expected an evaluation error, got {other:?}"),
    }
}

/// The one-pass evaluation of many environments (what `validate` runs) finds exactly what one evaluation
/// per template finds: each rule file at each environment's level, waivers applied per environment. Every
/// rule file is put at `error` in every environment so that findings exist to compare (dev and staging
/// break production.guard), and one environment gives the files another level.
#[test]
fn one_pass_over_every_environment_finds_what_one_evaluation_per_template_finds() {
    use std::collections::BTreeSet;
    use strata::policy::evaluate_checked;

    let (rendered, values) = shipped_environments();
    let evaluations = evaluations_of(&rendered, &values, |index| {
        all_at(if index == 1 {
            Level::Warn
        } else {
            Level::Error
        })
    });

    let batched = evaluate_checked(&evaluations).expect("evaluates");
    assert_eq!(batched.len(), 3);
    let mut found_any = false;
    for (evaluation, report) in evaluations.iter().zip(&batched) {
        let mut findings = BTreeSet::new();
        let mut waived = BTreeSet::new();
        for template in &evaluation.templates {
            let one = evaluate(
                &evaluation.files,
                std::slice::from_ref(template),
                &evaluation.waivers,
            )
            .expect("evaluates");
            findings.extend(one.findings);
            waived.extend(one.waived);
        }
        found_any |= !findings.is_empty();
        assert_eq!(report.findings, findings.into_iter().collect::<Vec<_>>());
        assert_eq!(report.waived, waived.into_iter().collect::<Vec<_>>());
    }
    assert!(found_any, "the comparison must have findings to compare");
    assert!(
        batched[1].findings.iter().all(|f| f.level == Level::Warn),
        "staging's level is its own"
    );
}

/// The shipped environments rendered, and their templates as JSON values.
fn shipped_environments() -> (Vec<strata::project::RenderedEnvironment>, Vec<Vec<Value>>) {
    let project = strata::project::Project::open(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("project opens");
    let rendered: Vec<_> = ["dev", "staging", "prod"]
        .iter()
        .map(|env| project.render(env).expect("renders"))
        .collect();
    let values = rendered
        .iter()
        .map(|r| {
            r.stacks
                .iter()
                .map(|s| strata::render::template_value(&s.template))
                .collect()
        })
        .collect();
    (rendered, values)
}

/// One evaluation per rendered environment, with the rule files `files_of` gives its index.
fn evaluations_of<'a>(
    rendered: &'a [strata::project::RenderedEnvironment],
    values: &'a [Vec<Value>],
    files_of: impl Fn(usize) -> Vec<(RuleFile, Level)>,
) -> Vec<strata::policy::Evaluation<'a>> {
    rendered
        .iter()
        .zip(values)
        .enumerate()
        .map(|(index, (r, values))| strata::policy::Evaluation {
            files: files_of(index),
            templates: r
                .stacks
                .iter()
                .zip(values)
                .map(|(s, template)| TemplateInput::new(&s.name, template))
                .collect(),
            waivers: r.stacks.iter().flat_map(|s| s.waivers.clone()).collect(),
        })
        .collect()
}

#[test]
fn the_policy_cache_reuses_only_unchanged_rule_files_and_templates_and_findings_stay_the_same() {
    use strata::policy::{CacheUse, ReportCache, evaluate_cached, evaluate_checked};

    let dir = tempfile::tempdir().expect("temp dir");
    let cache = ReportCache::at(dir.path());
    let (rendered, mut values) = shipped_environments();
    let files = all_at(Level::Error);
    let templates: usize = values.iter().map(Vec::len).sum();
    let pairs = templates * files.len();

    let evaluations = evaluations_of(&rendered, &values, |_| files.clone());
    let uncached = evaluate_checked(&evaluations).expect("evaluates");
    assert!(
        uncached
            .iter()
            .any(|r| !r.findings.is_empty() || !r.waived.is_empty())
    );
    let (first, used) = evaluate_cached(&evaluations, &cache).expect("evaluates");
    assert_eq!(
        used,
        CacheUse {
            evaluated: pairs,
            reused: 0
        }
    );
    assert_eq!(first, uncached);
    let (second, used) = evaluate_cached(&evaluations, &cache).expect("evaluates");
    assert_eq!(
        used,
        CacheUse {
            evaluated: 0,
            reused: pairs
        },
        "nothing changed"
    );
    assert_eq!(second, uncached, "read back, the findings are the same");

    // A changed rule file is evaluated again on every template, and only it.
    let mut changed_files = files.clone();
    let storage = changed_files
        .iter_mut()
        .find(|(f, _)| f.name == "storage")
        .expect("storage.guard ships");
    storage.0.content.push_str(
        "\nrule CACHE_SENTINEL {\n    Parameters.NoSuchParameter exists <<the sentinel rule fails everywhere>>\n}\n",
    );
    let evaluations = evaluations_of(&rendered, &values, |_| changed_files.clone());
    let (reports, used) = evaluate_cached(&evaluations, &cache).expect("evaluates");
    assert_eq!(
        used,
        CacheUse {
            evaluated: templates,
            reused: pairs - templates
        }
    );
    assert_eq!(reports, evaluate_checked(&evaluations).expect("evaluates"));
    let sentinels = reports
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| f.rule == "CACHE_SENTINEL")
        .count();
    assert_eq!(
        sentinels, templates,
        "the new rule's findings are there, one per template"
    );

    // A changed template is evaluated again by every rule file, and only it.
    values[0][0]["Metadata"] = json!({ "CacheTest": "changed" });
    let evaluations = evaluations_of(&rendered, &values, |_| files.clone());
    let (reports, used) = evaluate_cached(&evaluations, &cache).expect("evaluates");
    assert_eq!(
        used,
        CacheUse {
            evaluated: files.len(),
            reused: pairs - files.len()
        }
    );
    assert_eq!(reports, evaluate_checked(&evaluations).expect("evaluates"));
}
