//! THE ALIGNMENT HELPER shared by the emulator tests that assert "no drift right after deploy"
//! (tests/drift_moto.rs, tests/app_moto.rs): what moto 5.2.5 ignores of a template, applied through
//! the service APIs exactly as the rendered templates declare it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, HttpTokensState};
use serde_json::{Value, json};
use strata::aws::cloudformation::CloudFormation;
use strata::aws::{AwsClients, SdkCloudFormation};
use strata::drift::resolve::{AttributeSource, Resolver};
use strata::project::RenderedEnvironment;

use super::moto::{ACCOUNT_ID, Moto, REGION};

/// A deployed stack's physical ids and the account's exports: enough to resolve the declared values the
/// alignment below needs.
pub struct Deployed {
    physical_ids: BTreeMap<String, String>,
    /// The stack's parameter values (values other stacks' outputs passed in).
    parameters: BTreeMap<String, String>,
    exports: BTreeMap<String, String>,
    /// `Fn::GetAtt [X, Arn]` of buckets and queues (all the alignment's documents use).
    arns: BTreeMap<String, String>,
}

impl AttributeSource for Deployed {
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        (attribute == "Arn")
            .then(|| self.arns.get(logical_id).cloned())
            .flatten()
    }
}

impl Deployed {
    pub async fn read(clients: &AwsClients, stack: &str) -> Deployed {
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        let resources = cloudformation.list_stack_resources(stack).await.unwrap();
        let mut arns = BTreeMap::new();
        let mut physical_ids = BTreeMap::new();
        for resource in resources {
            let Some(physical) = resource.physical_id else {
                continue;
            };
            match resource.resource_type.as_str() {
                "AWS::S3::Bucket" => {
                    arns.insert(
                        resource.logical_id.clone(),
                        format!("arn:aws:s3:::{physical}"),
                    );
                }
                "AWS::SQS::Queue" => {
                    let attributes = clients
                        .sqs
                        .get_queue_attributes()
                        .queue_url(&physical)
                        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .send()
                        .await
                        .unwrap();
                    let arn = attributes.attributes().unwrap()
                        [&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
                        .clone();
                    arns.insert(resource.logical_id.clone(), arn);
                }
                _ => {}
            }
            physical_ids.insert(resource.logical_id, physical);
        }
        let exports = cloudformation
            .list_exports()
            .await
            .unwrap()
            .into_iter()
            .map(|(name, export)| (name, export.value))
            .collect();
        let parameters = cloudformation
            .describe_stack(stack)
            .await
            .unwrap()
            .map(|description| description.parameters)
            .unwrap_or_default();
        Deployed {
            physical_ids,
            parameters,
            exports,
            arns,
        }
    }

    fn resolve(&self, stack: &str, value: &Value) -> Option<Value> {
        Resolver {
            stack_name: stack,
            region: REGION,
            account_id: ACCOUNT_ID,
            physical_ids: &self.physical_ids,
            parameters: &self.parameters,
            exports: &self.exports,
            attributes: self,
        }
        .resolve(value)
    }

    pub fn id(&self, logical_id: &str) -> &str {
        &self.physical_ids[logical_id]
    }
}

/// THE ALIGNMENT HELPER. moto 5.2.5 ignores these declared properties when it creates resources from a template
/// (../shared/DESIGN.md section 5, tests/support/MOTO_NOTES.md section 4); real AWS applies all of them. So that
/// "right after deploy there is no drift" can be asserted, each is applied here through the service APIs, exactly
/// as declared in the rendered templates:
/// VPC `EnableDnsHostnames`, subnet `MapPublicIpOnLaunch`, instance `SecurityGroupIds` and launch-template
/// metadata options (IMDSv2), RDS `VPCSecurityGroups` and `ManageMasterUserPassword`, bucket versioning,
/// the encryption rule's `BucketKeyEnabled` (measured here: moto applies the algorithm but reports the bucket key
/// off), public-access block, ownership controls, lifecycle rules, notifications and `AWS::S3::BucketPolicy`, and
/// `AWS::SQS::QueuePolicy`, bucket `LoggingConfiguration` (PutBucketLogging: moto checks that the destination's
/// bucket policy admits `logging.s3.amazonaws.com`), and the DB instances' monitoring, insights, IAM
/// authentication and log exports. (`AWS::EC2::EIPAssociation` is also ignored by moto; dev declares none.)
/// Further, moto's CloudFormation silently skips `AWS::SecretsManager::SecretTargetAttachment` (stack
/// CREATE_COMPLETE, MOTO_NOTES section 4) and stores the primary's `{{resolve:secretsmanager:...}}` password
/// unresolved: so the master secret (which tests/support/moto_server.py lets moto's CloudFormation create) is
/// given the primary's connection details here as the attachment would, and its password set on the primary.
/// Product code never special-cases the emulator: these are all real drift on AWS, and strata reports them.
pub async fn align_emulator_with_declarations(
    clients: &AwsClients,
    secrets: &aws_sdk_secretsmanager::Client,
    rendered: &RenderedEnvironment,
) {
    // The stacks' secrets, by logical id: (ARN, secret value).
    let mut created: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for stack in &rendered.stacks {
        let deployed = Deployed::read(clients, &stack.stack_name).await;
        // Logical ids sort the secret before its attachment and the primary that reads it.
        for (logical_id, resource) in &stack.template.resources {
            let properties = deployed.resolve_all(&stack.stack_name, &resource.properties);
            let physical = deployed.physical_ids.get(logical_id).map(String::as_str);
            match (resource.resource_type, physical) {
                ("AWS::SecretsManager::Secret", Some(arn)) => {
                    let value = secrets
                        .get_secret_value()
                        .secret_id(arn)
                        .send()
                        .await
                        .unwrap();
                    let value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
                    created.insert(logical_id.clone(), (arn.to_owned(), value));
                }
                ("AWS::SecretsManager::SecretTargetAttachment", None) => {
                    let secret = resource.properties["SecretId"]["Ref"].as_str().unwrap();
                    let target = resource.properties["TargetId"]["Ref"].as_str().unwrap();
                    let (arn, value) = created.get_mut(secret).unwrap();
                    attach_secret(clients, secrets, arn, value, deployed.id(target)).await;
                }
                ("AWS::EC2::VPC", Some(vpc)) => align_vpc(clients, vpc, &properties).await,
                ("AWS::EC2::Subnet", Some(subnet)) => {
                    align_subnet(clients, subnet, &properties).await
                }
                ("AWS::EC2::Instance", Some(instance)) => {
                    align_instance(clients, instance, &properties).await
                }
                ("AWS::RDS::DBInstance", Some(db)) => {
                    let password = declared_secret(&resource.properties["MasterUserPassword"])
                        .map(|secret| created[secret].1["password"].as_str().unwrap().to_owned());
                    align_db(clients, db, &properties, password).await
                }
                ("AWS::S3::Bucket", Some(bucket)) => {
                    align_bucket(clients, bucket, &properties).await
                }
                ("AWS::DynamoDB::Table", Some(table)) => {
                    align_table(clients, table, &properties).await
                }
                ("AWS::S3::BucketPolicy", _) => {
                    // Statements with a service principal first: moto 5.2.5's PutBucketLogging
                    // reads the destination's statements in order and fails with HTTP 500 on one
                    // whose Principal is the string "*" (the TLS-only Deny) before it reaches the
                    // log delivery grant (MOTO_NOTES section 10). Order means nothing to IAM.
                    let mut document = properties["PolicyDocument"].clone();
                    if let Some(statements) = document["Statement"].as_array_mut() {
                        statements.sort_by_key(|s| s["Principal"].is_string());
                    }
                    clients
                        .s3
                        .put_bucket_policy()
                        .bucket(properties["Bucket"].as_str().unwrap())
                        .policy(document.to_string())
                        .send()
                        .await
                        .unwrap();
                }
                ("AWS::SQS::QueuePolicy", _) => {
                    for queue in properties["Queues"].as_array().unwrap() {
                        clients
                            .sqs
                            .set_queue_attributes()
                            .queue_url(queue.as_str().unwrap())
                            .attributes(
                                aws_sdk_sqs::types::QueueAttributeName::Policy,
                                properties["PolicyDocument"].to_string(),
                            )
                            .send()
                            .await
                            .unwrap();
                    }
                }
                _ => {}
            }
        }
    }
}

impl Deployed {
    /// The declared properties that resolve (the alignment needs none of the others: user data, launch template
    /// versions, the DB subnet group moto gives no physical id).
    fn resolve_all(&self, stack: &str, properties: &Value) -> Value {
        match properties {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), self.resolve(stack, value)?)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

pub fn on(value: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(value).build()
}

async fn align_vpc(clients: &AwsClients, vpc: &str, properties: &Value) {
    if let Some(hostnames) = properties["EnableDnsHostnames"].as_bool() {
        clients
            .ec2
            .modify_vpc_attribute()
            .vpc_id(vpc)
            .enable_dns_hostnames(on(hostnames))
            .send()
            .await
            .unwrap();
    }
}

async fn align_subnet(clients: &AwsClients, subnet: &str, properties: &Value) {
    if let Some(map_public) = properties["MapPublicIpOnLaunch"].as_bool() {
        clients
            .ec2
            .modify_subnet_attribute()
            .subnet_id(subnet)
            .map_public_ip_on_launch(on(map_public))
            .send()
            .await
            .unwrap();
    }
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// The bastion's groups, and IMDSv2 (`HttpTokens: required`, as its launch template declares: moto ignores
/// `LaunchTemplate` entirely).
async fn align_instance(clients: &AwsClients, instance: &str, properties: &Value) {
    let groups = strings(&properties["SecurityGroupIds"]);
    clients
        .ec2
        .modify_instance_attribute()
        .instance_id(instance)
        .set_groups(Some(groups))
        .send()
        .await
        .unwrap();
    clients
        .ec2
        .modify_instance_metadata_options()
        .instance_id(instance)
        .http_tokens(HttpTokensState::Required)
        .send()
        .await
        .unwrap();
}

/// The DB's groups, and the master password its dynamic reference names (`password`: the secret's value).
/// Also enhanced monitoring's interval, Performance Insights, IAM authentication and the log exports, which moto's
/// CloudFormation ignores too (its DBInstance reads none of them from the template; measured: DescribeDBInstances
/// then reports MonitoringInterval 0, IAM authentication off and no exports).
async fn align_db(clients: &AwsClients, db: &str, properties: &Value, password: Option<String>) {
    let groups = strings(&properties["VPCSecurityGroups"]);
    let exports = aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
        .set_enable_log_types(Some(strings(&properties["EnableCloudwatchLogsExports"])))
        .build();
    clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(db)
        .set_vpc_security_group_ids(Some(groups))
        .set_master_user_password(password)
        .set_monitoring_interval(properties["MonitoringInterval"].as_i64().map(|n| n as i32))
        .set_enable_iam_database_authentication(
            properties["EnableIAMDatabaseAuthentication"].as_bool(),
        )
        .set_enable_performance_insights(properties["EnablePerformanceInsights"].as_bool())
        .set_performance_insights_retention_period(
            properties["PerformanceInsightsRetentionPeriod"]
                .as_i64()
                .map(|n| n as i32),
        )
        .cloudwatch_logs_export_configuration(exports)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
}

/// Only these tests use Secrets Manager (strata itself reads the secret's ARN from the stack's outputs).
pub async fn secrets_manager(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    let config = strata::aws::client::load_sdk_config(&super::settings(&moto.endpoint_url())).await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// The logical id of the secret a `{{resolve:secretsmanager:${Secret}:SecretString:...}}` password names.
fn declared_secret(password: &Value) -> Option<&str> {
    let text = password["Fn::Sub"].as_str()?;
    text.strip_prefix("{{resolve:secretsmanager:${")?
        .split('}')
        .next()
}

/// What `AWS::SecretsManager::SecretTargetAttachment` (TargetType `AWS::RDS::DBInstance`) adds to the secret:
/// engine, host, port and instance identifier of the target.
async fn attach_secret(
    clients: &AwsClients,
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    value: &mut Value,
    db: &str,
) {
    let described = clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(db)
        .send()
        .await
        .unwrap();
    let instance = &described.db_instances()[0];
    let endpoint = instance.endpoint().unwrap();
    value["engine"] = json!(instance.engine().unwrap());
    value["host"] = json!(endpoint.address().unwrap());
    value["port"] = json!(endpoint.port().unwrap());
    value["dbInstanceIdentifier"] = json!(db);
    secrets
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

async fn align_bucket(clients: &AwsClients, bucket: &str, properties: &Value) {
    use aws_sdk_s3::types::*;
    let encryption = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    let algorithm = encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        .as_str()
        .unwrap();
    clients
        .s3
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::from(algorithm))
                                .build()
                                .unwrap(),
                        )
                        .set_bucket_key_enabled(encryption["BucketKeyEnabled"].as_bool())
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let block = &properties["PublicAccessBlockConfiguration"];
    clients
        .s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .set_block_public_acls(block["BlockPublicAcls"].as_bool())
                .set_block_public_policy(block["BlockPublicPolicy"].as_bool())
                .set_ignore_public_acls(block["IgnorePublicAcls"].as_bool())
                .set_restrict_public_buckets(block["RestrictPublicBuckets"].as_bool())
                .build(),
        )
        .send()
        .await
        .unwrap();
    clients
        .s3
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::from(
                    properties["VersioningConfiguration"]["Status"]
                        .as_str()
                        .unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ownership = properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        .as_str()
        .unwrap();
    clients
        .s3
        .put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::from(ownership))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let rules = properties["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(lifecycle_rule)
        .collect();
    clients
        .s3
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    if let Some(target) = properties["LoggingConfiguration"]["DestinationBucketName"].as_str() {
        // The destination's policy was put before (logical ids sort `AccessLogBucketPolicy` first);
        // moto refuses the call unless that policy admits logging.s3.amazonaws.com to PutObject.
        clients
            .s3
            .put_bucket_logging()
            .bucket(bucket)
            .bucket_logging_status(
                BucketLoggingStatus::builder()
                    .logging_enabled(
                        LoggingEnabled::builder()
                            .target_bucket(target)
                            .target_prefix(
                                properties["LoggingConfiguration"]["LogFilePrefix"]
                                    .as_str()
                                    .unwrap_or_default(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    if let Some(queues) = properties["NotificationConfiguration"]["QueueConfigurations"].as_array()
    {
        let configurations = queues
            .iter()
            .map(|q| {
                QueueConfiguration::builder()
                    .queue_arn(q["Queue"].as_str().unwrap())
                    .events(Event::from(q["Event"].as_str().unwrap()))
                    .build()
                    .unwrap()
            })
            .collect();
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .set_queue_configurations(Some(configurations))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

/// The fields of CloudFormation's lifecycle rules that the shipped buckets use, in the S3 API's shape.
fn lifecycle_rule(rule: &Value) -> aws_sdk_s3::types::LifecycleRule {
    use aws_sdk_s3::types::*;
    let days = |value: &Value| value.as_i64().map(|d| d as i32);
    LifecycleRule::builder()
        .id(rule["Id"].as_str().unwrap())
        .status(ExpirationStatus::from(rule["Status"].as_str().unwrap()))
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .set_expiration(
            days(&rule["ExpirationInDays"]).map(|d| LifecycleExpiration::builder().days(d).build()),
        )
        .set_noncurrent_version_expiration(
            days(&rule["NoncurrentVersionExpiration"]["NoncurrentDays"]).map(|d| {
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(d)
                    .build()
            }),
        )
        .set_abort_incomplete_multipart_upload(
            days(&rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]).map(|d| {
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(d)
                    .build()
            }),
        )
        .build()
        .unwrap()
}

/// A table's KMS encryption, point-in-time recovery and TTL, which moto 5.2.5's CloudFormation
/// ignores (MOTO_NOTES section 12: DescribeContinuousBackups `DISABLED`, TTL `DISABLED`, and no
/// `SSEDescription`: moto keeps the template's `SSESpecification` as given but reads the API's key
/// `Enabled`, not CloudFormation's `SSEEnabled`, and its UpdateTable takes no SSE at all). So the
/// table is created again through the API as CloudFormation would have created it (same name, keys,
/// billing and stream, SSE on; it is empty), then PITR and TTL are switched on as declared.
async fn align_table(clients: &AwsClients, table: &str, properties: &Value) {
    use aws_sdk_dynamodb::types::{
        PointInTimeRecoverySpecification, SseSpecification, StreamSpecification,
        TimeToLiveSpecification,
    };
    let dynamodb = &clients.dynamodb;
    let declared = |pointer: &str| properties.pointer(pointer).and_then(Value::as_bool);
    if declared("/SSESpecification/SSEEnabled") == Some(true) {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let live = described.table().unwrap();
        if live.sse_description().is_none() {
            dynamodb
                .delete_table()
                .table_name(table)
                .send()
                .await
                .unwrap();
            let mut create = dynamodb
                .create_table()
                .table_name(table)
                .set_key_schema(Some(live.key_schema().to_vec()))
                .set_attribute_definitions(Some(live.attribute_definitions().to_vec()))
                .set_billing_mode(
                    live.billing_mode_summary()
                        .and_then(|b| b.billing_mode().cloned()),
                )
                .sse_specification(SseSpecification::builder().enabled(true).build())
                .deletion_protection_enabled(live.deletion_protection_enabled().unwrap_or(false));
            if let Some(stream) = live.stream_specification() {
                create = create.stream_specification(stream.clone());
            } else if let Some(view) = properties
                .pointer("/StreamSpecification/StreamViewType")
                .and_then(Value::as_str)
            {
                create = create.stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(view.into())
                        .build()
                        .unwrap(),
                );
            }
            create.send().await.unwrap();
        }
    }
    if declared("/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled") == Some(true) {
        dynamodb
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    if let Some(attribute) = properties
        .pointer("/TimeToLiveSpecification/AttributeName")
        .and_then(Value::as_str)
    {
        dynamodb
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}
