//! [`LiveResources`] over aws-sdk-ec2, aws-sdk-rds, aws-sdk-s3, aws-sdk-sqs, aws-sdk-kms,
//! aws-sdk-lambda, aws-sdk-dynamodb, aws-sdk-sns and aws-sdk-apigatewayv2. SDK types stop here.
//!
//! EC2 and RDS reads pass the ids as a *filter* rather than as `VpcIds`/`DBInstanceIdentifier`: with a filter an
//! id that no longer exists is simply not returned, whereas the id parameters fail the whole call with
//! `InvalidVpcID.NotFound` and friends. Filters take at most 200 values, so ids go in chunks.

use std::collections::BTreeMap;

use aws_sdk_apigatewayv2::operation::get_stage::GetStageError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::PointInTimeRecoveryStatus;
use aws_sdk_ec2::types::{self as ec2, Filter, VpcAttributeName};
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusError;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesError;
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::types::QueueAttributeName;
use tokio::task::JoinSet;

use super::error::{AwsError, Call, classify};
use super::live::{
    Address, ApiStage, Bucket, DbInstance, EncryptionRule, EventSourceMapping, FlowLog, Function,
    Instance, InternetGateway, Key, LiveResources, NatGateway, Observed, PublicAccessBlock, Queue,
    Route, RouteTable, RuleSource, SecurityGroup, SecurityGroupRule, StageId, Subnet, Subscription,
    Table, Topic, Vpc,
};

/// Filter values per call: EC2 and RDS accept up to 200.
const FILTER_CHUNK: usize = 100;

#[derive(Debug, Clone)]
pub struct SdkLiveResources {
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    lambda: aws_sdk_lambda::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    sns: aws_sdk_sns::Client,
    apigateway: aws_sdk_apigatewayv2::Client,
}

impl SdkLiveResources {
    pub fn new(clients: &super::AwsClients) -> Self {
        SdkLiveResources {
            ec2: clients.ec2.clone(),
            rds: clients.rds.clone(),
            s3: clients.s3.clone(),
            sqs: clients.sqs.clone(),
            lambda: clients.lambda.clone(),
            dynamodb: clients.dynamodb.clone(),
            kms: clients.kms.clone(),
            sns: clients.sns.clone(),
            apigateway: clients.apigateway.clone(),
        }
    }
}

fn ec2_filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

/// The id every item of `operation`'s answer carries; without it the answer is malformed.
fn required(operation: &'static str, value: Option<&str>, field: &str) -> Result<String, AwsError> {
    Call::new(operation).required(value, field)
}

/// Waits for every task; the first failure wins (the others are dropped with the set).
async fn join_all<T: Send + 'static>(
    mut tasks: JoinSet<Result<T, AwsError>>,
    operation: &'static str,
) -> Result<Vec<T>, AwsError> {
    let mut found = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(|err| AwsError::MalformedResponse {
            operation,
            stack: None,
            message: format!("task failed: {err}"),
        })?;
        found.push(result?);
    }
    Ok(found)
}

/// Every item of a paginated EC2 describe call with `ids` as the filter `$filter` (in chunks), each page's items
/// taken by `$items` (an iterator of results: an item without its id is a malformed answer). A macro because every describe operation has its own builder and paginator types.
macro_rules! describe_filtered {
    ($client:expr, $operation:literal, $method:ident . $filters:ident ($filter:literal), $ids:expr,
     |$page:ident| $items:expr) => {{
        let call = Call::new($operation);
        let mut found = Vec::new();
        for chunk in $ids.chunks(FILTER_CHUNK) {
            let mut pages = $client
                .$method()
                .$filters(ec2_filter($filter, chunk))
                .into_paginator()
                .send();
            while let Some($page) = pages.next().await {
                let $page = $page.map_err(|err| classify(call, err))?;
                for item in $items {
                    found.push(item?);
                }
            }
        }
        found
    }};
}

impl LiveResources for SdkLiveResources {
    async fn vpcs(&self, ids: &[String]) -> Result<Vec<Vpc>, AwsError> {
        let described = describe_filtered!(
            self.ec2,
            "DescribeVpcs",
            describe_vpcs.filters("vpc-id"),
            ids,
            |page| page.vpcs().iter().cloned().map(Ok)
        );
        // DNS settings are VPC attributes, one call per attribute and VPC; read them concurrently.
        let mut tasks = JoinSet::new();
        for vpc in described {
            let client = self.ec2.clone();
            tasks.spawn(async move {
                let id = required("DescribeVpcs", vpc.vpc_id(), "VpcId")?;
                let (dns_support, dns_hostnames) = tokio::try_join!(
                    vpc_attribute(&client, &id, VpcAttributeName::EnableDnsSupport),
                    vpc_attribute(&client, &id, VpcAttributeName::EnableDnsHostnames),
                )?;
                Ok(Vpc {
                    cidr_block: owned(vpc.cidr_block()),
                    state: vpc.state().map(|s| s.as_str().to_owned()),
                    id,
                    dns_support,
                    dns_hostnames,
                })
            });
        }
        join_all(tasks, "DescribeVpcAttribute").await
    }

    async fn subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeSubnets",
            describe_subnets.filters("subnet-id"),
            ids,
            |page| page.subnets().iter().map(|subnet| Ok(Subnet {
                id: required("DescribeSubnets", subnet.subnet_id(), "SubnetId")?,
                vpc_id: owned(subnet.vpc_id()),
                cidr_block: owned(subnet.cidr_block()),
                availability_zone: owned(subnet.availability_zone()),
                map_public_ip_on_launch: subnet.map_public_ip_on_launch(),
            }))
        ))
    }

    async fn route_tables(&self, ids: &[String]) -> Result<Vec<RouteTable>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeRouteTables",
            describe_route_tables.filters("route-table-id"),
            ids,
            |page| page.route_tables().iter().map(|table| Ok(RouteTable {
                id: required(
                    "DescribeRouteTables",
                    table.route_table_id(),
                    "RouteTableId"
                )?,
                vpc_id: owned(table.vpc_id()),
                routes: table.routes().iter().map(route).collect(),
            }))
        ))
    }

    async fn internet_gateways(&self, ids: &[String]) -> Result<Vec<InternetGateway>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeInternetGateways",
            describe_internet_gateways.filters("internet-gateway-id"),
            ids,
            |page| page.internet_gateways().iter().map(|gateway| {
                Ok(InternetGateway {
                    id: required(
                        "DescribeInternetGateways",
                        gateway.internet_gateway_id(),
                        "InternetGatewayId",
                    )?,
                    attached_vpcs: gateway
                        .attachments()
                        .iter()
                        .filter(|a| {
                            matches!(
                                a.state().map(|s| s.as_str()),
                                Some("available" | "attached")
                            )
                        })
                        .filter_map(|a| owned(a.vpc_id()))
                        .collect(),
                })
            })
        ))
    }

    async fn nat_gateways(&self, ids: &[String]) -> Result<Vec<NatGateway>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeNatGateways",
            describe_nat_gateways.filter("nat-gateway-id"),
            ids,
            |page| page.nat_gateways().iter().map(|nat| {
                let addresses = nat.nat_gateway_addresses();
                Ok(NatGateway {
                    id: required("DescribeNatGateways", nat.nat_gateway_id(), "NatGatewayId")?,
                    state: nat.state().map(|s| s.as_str().to_owned()),
                    subnet_id: owned(nat.subnet_id()),
                    allocation_ids: addresses
                        .iter()
                        .filter_map(|a| owned(a.allocation_id()))
                        .collect(),
                    public_ips: addresses
                        .iter()
                        .filter_map(|a| owned(a.public_ip()))
                        .collect(),
                })
            })
        ))
    }

    async fn addresses(&self, ids: &[String]) -> Result<Vec<Address>, AwsError> {
        let call = Call::new("DescribeAddresses");
        let (allocations, ips): (Vec<String>, Vec<String>) = ids
            .iter()
            .cloned()
            .partition(|id| id.starts_with("eipalloc-"));
        let mut found = Vec::new();
        for (filter, values) in [("allocation-id", allocations), ("public-ip", ips)] {
            for chunk in values.chunks(FILTER_CHUNK) {
                // DescribeAddresses is not paginated.
                let output = self
                    .ec2
                    .describe_addresses()
                    .filters(ec2_filter(filter, chunk))
                    .send()
                    .await
                    .map_err(|err| classify(call, err))?;
                found.extend(output.addresses().iter().map(|address| Address {
                    public_ip: owned(address.public_ip()),
                    allocation_id: owned(address.allocation_id()),
                    instance_id: owned(address.instance_id()),
                    domain: address.domain().map(|d| d.as_str().to_owned()),
                }));
            }
        }
        Ok(found)
    }

    async fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeSecurityGroups",
            describe_security_groups.filters("group-id"),
            ids,
            |page| page.security_groups().iter().map(|group| Ok(SecurityGroup {
                id: required("DescribeSecurityGroups", group.group_id(), "GroupId")?,
                vpc_id: owned(group.vpc_id()),
                ingress: rules(group.ip_permissions()),
                egress: rules(group.ip_permissions_egress()),
            }))
        ))
    }

    async fn instances(&self, ids: &[String]) -> Result<Vec<Instance>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeInstances",
            describe_instances.filters("instance-id"),
            ids,
            |page| page
                .reservations()
                .iter()
                .flat_map(|r| r.instances().iter().map(instance))
                .collect::<Vec<_>>()
        ))
    }

    async fn db_instances(&self, identifiers: &[String]) -> Result<Vec<DbInstance>, AwsError> {
        let call = Call::new("DescribeDBInstances");
        let mut found = Vec::new();
        for chunk in identifiers.chunks(FILTER_CHUNK) {
            let filter = aws_sdk_rds::types::Filter::builder()
                .name("db-instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let mut pages = self
                .rds
                .describe_db_instances()
                .filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|err| classify(call, err))?;
                for db in page.db_instances() {
                    found.push(db_instance(db)?);
                }
            }
        }
        Ok(found)
    }

    async fn buckets(&self, names: &[String]) -> Result<Vec<Bucket>, AwsError> {
        read_each(&self.s3, names, "HeadBucket", |client, name| async move {
            bucket(&client, name).await
        })
        .await
    }

    async fn queues(&self, urls: &[String]) -> Result<Vec<Queue>, AwsError> {
        read_each(
            &self.sqs,
            urls,
            "GetQueueAttributes",
            |client, url| async move { queue(&client, url).await },
        )
        .await
    }

    /// ListFunctions, paginated: one pass over the region's functions (Lambda has no batch get),
    /// keeping those asked for. Environment variable values are dropped here, never held.
    async fn functions(&self, names: &[String]) -> Result<Vec<Function>, AwsError> {
        let call = Call::new("ListFunctions");
        let wanted: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut found = Vec::new();
        let mut pages = self.lambda.list_functions().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            for function in page.functions() {
                let Some(name) = function.function_name() else {
                    continue;
                };
                if !wanted.contains(name) {
                    continue;
                }
                let vpc = function.vpc_config();
                let mut variable_names: Vec<String> = function
                    .environment()
                    .and_then(|environment| environment.variables())
                    .map(|variables| variables.keys().cloned().collect())
                    .unwrap_or_default();
                variable_names.sort();
                found.push(Function {
                    name: name.to_owned(),
                    runtime: function.runtime().map(|r| r.as_str().to_owned()),
                    handler: owned(function.handler()),
                    memory_size: function.memory_size(),
                    timeout: function.timeout(),
                    subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
                    security_group_ids: vpc
                        .map(|v| v.security_group_ids().to_vec())
                        .unwrap_or_default(),
                    environment_variable_names: variable_names,
                    log_group: owned(function.logging_config().and_then(|l| l.log_group())),
                });
            }
        }
        Ok(found)
    }

    /// Lambda has no batch read of mappings by UUID: GetEventSourceMapping per mapping, all at once.
    async fn event_source_mappings(
        &self,
        uuids: &[String],
    ) -> Result<Vec<EventSourceMapping>, AwsError> {
        read_each(
            &self.lambda,
            uuids,
            "GetEventSourceMapping",
            |client, uuid| async move { event_source_mapping(&client, uuid).await },
        )
        .await
    }

    async fn tables(&self, names: &[String]) -> Result<Vec<Table>, AwsError> {
        read_each(
            &self.dynamodb,
            names,
            "DescribeTable",
            |client, name| async move { table(&client, name).await },
        )
        .await
    }

    /// SNS has no batch read: GetTopicAttributes and ListSubscriptionsByTopic per topic, all topics
    /// at once.
    async fn topics(&self, arns: &[String]) -> Result<Vec<Topic>, AwsError> {
        read_each(
            &self.sns,
            arns,
            "GetTopicAttributes",
            |client, arn| async move { topic(&client, arn).await },
        )
        .await
    }

    async fn api_stages(&self, stages: &[StageId]) -> Result<Vec<ApiStage>, AwsError> {
        read_each(
            &self.apigateway,
            stages,
            "GetStage",
            |client, id| async move { api_stage(&client, id).await },
        )
        .await
    }

    async fn flow_logs(&self, ids: &[String]) -> Result<Vec<FlowLog>, AwsError> {
        Ok(describe_filtered!(
            self.ec2,
            "DescribeFlowLogs",
            describe_flow_logs.filter("flow-log-id"),
            ids,
            |page| page.flow_logs().iter().map(|log| Ok(FlowLog {
                id: required("DescribeFlowLogs", log.flow_log_id(), "FlowLogId")?,
                resource_id: owned(log.resource_id()),
                traffic_type: log.traffic_type().map(|t| t.as_str().to_owned()),
                log_destination_type: log.log_destination_type().map(|t| t.as_str().to_owned()),
                log_group_name: owned(log.log_group_name()),
                log_destination: owned(log.log_destination()),
            }))
        ))
    }

    /// KMS has no batch read: DescribeKey and GetKeyRotationStatus per key, all keys at once.
    async fn keys(&self, ids: &[String]) -> Result<Vec<Key>, AwsError> {
        read_each(&self.kms, ids, "DescribeKey", |client, id| async move {
            key(&client, id).await
        })
        .await
    }
}

/// `None` when the stage (or its API) does not exist.
async fn api_stage(
    client: &aws_sdk_apigatewayv2::Client,
    id: StageId,
) -> Result<Option<ApiStage>, AwsError> {
    let stage = match client
        .get_stage()
        .api_id(&id.api_id)
        .stage_name(&id.stage_name)
        .send()
        .await
    {
        Ok(output) => output,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(GetStageError::is_not_found_exception) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(classify(Call::new("GetStage"), err)),
    };
    let logging = stage.access_log_settings();
    let routes = stage.default_route_settings();
    Ok(Some(ApiStage {
        auto_deploy: stage.auto_deploy(),
        access_log_destination: owned(logging.and_then(|l| l.destination_arn())),
        access_log_format: owned(logging.and_then(|l| l.format())),
        throttling_burst_limit: routes.and_then(|r| r.throttling_burst_limit()),
        throttling_rate_limit: routes.and_then(|r| r.throttling_rate_limit()),
        id,
    }))
}

/// `None` when the mapping does not exist.
async fn event_source_mapping(
    client: &aws_sdk_lambda::Client,
    uuid: String,
) -> Result<Option<EventSourceMapping>, AwsError> {
    let mapping = match client.get_event_source_mapping().uuid(&uuid).send().await {
        Ok(output) => output,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(GetEventSourceMappingError::is_resource_not_found_exception) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(classify(Call::new("GetEventSourceMapping"), err)),
    };
    Ok(Some(EventSourceMapping {
        function_arn: owned(mapping.function_arn()),
        event_source_arn: owned(mapping.event_source_arn()),
        batch_size: mapping.batch_size(),
        maximum_batching_window_seconds: mapping.maximum_batching_window_in_seconds(),
        state: owned(mapping.state()),
        function_response_types: mapping
            .function_response_types()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        uuid,
    }))
}

/// GetTopicAttributes, then every page of ListSubscriptionsByTopic (up to 100 a page); `None` when
/// the topic does not exist.
async fn topic(client: &aws_sdk_sns::Client, arn: String) -> Result<Option<Topic>, AwsError> {
    let attributes = match client.get_topic_attributes().topic_arn(&arn).send().await {
        Ok(output) => output,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(GetTopicAttributesError::is_not_found_exception) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(classify(Call::new("GetTopicAttributes"), err)),
    };
    let call = Call::new("ListSubscriptionsByTopic");
    let mut subscriptions = Vec::new();
    let mut pages = client
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            // Deleted between the two reads.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(ListSubscriptionsByTopicError::is_not_found_exception) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(classify(call, err)),
        };
        for subscription in page.subscriptions() {
            subscriptions.push(Subscription {
                protocol: required(
                    "ListSubscriptionsByTopic",
                    subscription.protocol(),
                    "Protocol",
                )?,
                endpoint: required(
                    "ListSubscriptionsByTopic",
                    subscription.endpoint(),
                    "Endpoint",
                )?,
            });
        }
    }
    Ok(Some(Topic {
        // Encryption turned off (SetTopicAttributes `KmsMasterKeyId` "") may come back empty or
        // not at all (moto drops it: tests/support/MOTO_NOTES.md).
        kms_master_key_id: attributes
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .filter(|key| !key.is_empty())
            .cloned(),
        subscriptions,
        arn,
    }))
}

/// DescribeTable, then DescribeContinuousBackups for point-in-time recovery (which DescribeTable
/// does not report).
async fn table(client: &aws_sdk_dynamodb::Client, name: String) -> Result<Option<Table>, AwsError> {
    let described = match client.describe_table().table_name(&name).send().await {
        Ok(output) => output,
        Err(err) => {
            if err
                .as_service_error()
                .is_some_and(DescribeTableError::is_resource_not_found_exception)
            {
                return Ok(None);
            }
            return Err(classify(Call::new("DescribeTable"), err));
        }
    };
    let Some(description) = described.table() else {
        return Ok(None);
    };
    let point_in_time_recovery = match client
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
    {
        Ok(output) => Observed::Value(
            output
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                == Some(&PointInTimeRecoveryStatus::Enabled),
        ),
        Err(err) => unreadable(classify(Call::new("DescribeContinuousBackups"), err))?,
    };
    Ok(Some(Table {
        billing_mode: description
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|mode| mode.as_str().to_owned()),
        sse_status: description
            .sse_description()
            .and_then(|d| d.status())
            .map(|status| status.as_str().to_owned()),
        deletion_protection: description.deletion_protection_enabled(),
        point_in_time_recovery,
        name,
    }))
}

/// `None` when the key does not exist (a key deleted after its waiting period). Either read may be
/// unreadable on its own (the key policy grants one action and not the other, an endpoint fails
/// one): that value is then not compared, and the report says why.
async fn key(client: &aws_sdk_kms::Client, id: String) -> Result<Option<Key>, AwsError> {
    let call = Call::new("DescribeKey");
    let state = match client.describe_key().key_id(&id).send().await {
        Ok(output) => Observed::Value(
            output
                .key_metadata()
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_owned()),
        ),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(DescribeKeyError::is_not_found_exception) =>
        {
            return Ok(None);
        }
        Err(err) => unreadable(classify(call, err))?,
    };
    let call = Call::new("GetKeyRotationStatus");
    let rotation_enabled = match client.get_key_rotation_status().key_id(&id).send().await {
        Ok(output) => Observed::Value(output.key_rotation_enabled()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(GetKeyRotationStatusError::is_not_found_exception) =>
        {
            return Ok(None);
        }
        // KMS refuses the question for a key that is disabled or pending deletion
        // (KMSInvalidStateException): the state says enough then.
        Err(err) => match unreadable(classify(call, err)) {
            Ok(observed) => observed,
            Err(AwsError::Other {
                operation,
                code,
                message,
                ..
            }) => Observed::Unreadable {
                operation,
                reason: format!("{code}: {message}"),
            },
            Err(other) => return Err(other),
        },
    };
    Ok(Some(Key {
        id,
        state,
        rotation_enabled,
    }))
}

/// Reads every item concurrently (S3, SQS, SNS, KMS, Lambda mappings and API stages have no batch
/// reads); items `read` finds missing are left out.
async fn read_each<C, I, T, F, Fut>(
    client: &C,
    items: &[I],
    operation: &'static str,
    read: F,
) -> Result<Vec<T>, AwsError>
where
    C: Clone + Send + 'static,
    I: Clone,
    T: Send + 'static,
    F: Fn(C, I) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, AwsError>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for item in items {
        tasks.spawn(read(client.clone(), item.clone()));
    }
    Ok(join_all(tasks, operation)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

async fn vpc_attribute(
    client: &aws_sdk_ec2::Client,
    vpc_id: &str,
    attribute: VpcAttributeName,
) -> Result<Option<bool>, AwsError> {
    let call = Call::new("DescribeVpcAttribute");
    let output = client
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(attribute.clone())
        .send()
        .await
        .map_err(|err| classify(call, err))?;
    let value = match attribute {
        VpcAttributeName::EnableDnsHostnames => output.enable_dns_hostnames(),
        _ => output.enable_dns_support(),
    };
    Ok(value.and_then(|v| v.value()))
}

fn route(route: &ec2::Route) -> Route {
    let destination = route
        .destination_cidr_block()
        .or(route.destination_ipv6_cidr_block())
        .or(route.destination_prefix_list_id())
        .unwrap_or_default()
        .to_owned();
    let target = route
        .nat_gateway_id()
        .or(route.gateway_id())
        .or(route.instance_id())
        .or(route.network_interface_id())
        .or(route.transit_gateway_id())
        .or(route.vpc_peering_connection_id())
        .or(route.egress_only_internet_gateway_id());
    Route {
        destination,
        target: owned(target),
        state: route.state().map(|s| s.as_str().to_owned()),
    }
}

/// Flattens EC2's permissions (one protocol/port pair, many sources) into one rule per source.
fn rules(permissions: &[ec2::IpPermission]) -> Vec<SecurityGroupRule> {
    let mut rules = Vec::new();
    for permission in permissions {
        let sources = permission
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(|c| RuleSource::Ipv4(c.to_owned())))
            .chain(
                permission
                    .ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(|c| RuleSource::Ipv6(c.to_owned()))),
            )
            .chain(
                permission
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|p| p.group_id().map(|g| RuleSource::Group(g.to_owned()))),
            )
            .chain(permission.prefix_list_ids().iter().filter_map(|p| {
                p.prefix_list_id()
                    .map(|id| RuleSource::PrefixList(id.to_owned()))
            }));
        for source in sources {
            rules.push(SecurityGroupRule {
                protocol: permission.ip_protocol().unwrap_or("-1").to_owned(),
                from_port: permission.from_port(),
                to_port: permission.to_port(),
                source,
            });
        }
    }
    rules
}

fn instance(instance: &ec2::Instance) -> Result<Instance, AwsError> {
    Ok(Instance {
        id: required("DescribeInstances", instance.instance_id(), "InstanceId")?,
        state: instance
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned()),
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()),
        image_id: owned(instance.image_id()),
        subnet_id: owned(instance.subnet_id()),
        security_group_ids: instance
            .security_groups()
            .iter()
            .filter_map(|g| owned(g.group_id()))
            .collect(),
        http_tokens: instance
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str().to_owned()),
        public_ip: owned(instance.public_ip_address()),
        monitoring: instance
            .monitoring()
            .and_then(|m| m.state())
            .map(|state| state.as_str().to_owned()),
    })
}

fn db_instance(db: &aws_sdk_rds::types::DbInstance) -> Result<DbInstance, AwsError> {
    Ok(DbInstance {
        identifier: required(
            "DescribeDBInstances",
            db.db_instance_identifier(),
            "DBInstanceIdentifier",
        )?,
        status: owned(db.db_instance_status()),
        class: owned(db.db_instance_class()),
        engine: owned(db.engine()),
        engine_version: owned(db.engine_version()),
        allocated_storage: db.allocated_storage(),
        storage_type: owned(db.storage_type()),
        storage_encrypted: db.storage_encrypted(),
        multi_az: db.multi_az(),
        publicly_accessible: db.publicly_accessible(),
        backup_retention_period: db.backup_retention_period(),
        deletion_protection: db.deletion_protection(),
        replica_source: owned(db.read_replica_source_db_instance_identifier()),
        vpc_security_group_ids: db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| owned(g.vpc_security_group_id()))
            .collect(),
        port: db.endpoint().and_then(|e| e.port()),
        endpoint_address: db.endpoint().and_then(|e| owned(e.address())),
        monitoring_interval: db.monitoring_interval(),
        performance_insights_enabled: db.performance_insights_enabled(),
        performance_insights_kms_key_id: owned(db.performance_insights_kms_key_id()),
        performance_insights_retention_period: db.performance_insights_retention_period(),
        iam_database_authentication_enabled: db.iam_database_authentication_enabled(),
        enabled_cloudwatch_logs_exports: db.enabled_cloudwatch_logs_exports().to_vec(),
    })
}

/// Unreadable rather than fatal: the endpoint answered, but not with something this check can use.
fn unreadable<T>(err: AwsError) -> Result<Observed<T>, AwsError> {
    match err {
        AwsError::MalformedResponse { operation, .. }
        | AwsError::Unsupported { operation, .. }
        | AwsError::AccessDenied { operation, .. } => Ok(Observed::Unreadable {
            operation,
            reason: err.to_string(),
        }),
        other => Err(other),
    }
}

/// A classified error with one of these AWS error codes (S3 has no modelled "not configured" errors).
fn has_code(err: &AwsError, codes: &[&str]) -> bool {
    matches!(err, AwsError::Other { code, .. } if codes.contains(&code.as_str()))
}

/// `None` when the bucket does not exist.
async fn bucket(client: &aws_sdk_s3::Client, name: String) -> Result<Option<Bucket>, AwsError> {
    let call = Call::new("HeadBucket");
    if let Err(err) = client.head_bucket().bucket(&name).send().await {
        if err
            .as_service_error()
            .is_some_and(HeadBucketError::is_not_found)
        {
            return Ok(None);
        }
        return Err(classify(call, err));
    }
    let (encryption, versioning, public_access_block, logging) = tokio::try_join!(
        bucket_encryption(client, &name),
        bucket_versioning(client, &name),
        public_access_block(client, &name),
        bucket_logging(client, &name),
    )?;
    Ok(Some(Bucket {
        name,
        encryption,
        versioning,
        public_access_block,
        logging,
    }))
}

async fn bucket_encryption(
    client: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Observed<Vec<EncryptionRule>>, AwsError> {
    let call = Call::new("GetBucketEncryption");
    match client.get_bucket_encryption().bucket(name).send().await {
        Ok(output) => Ok(Observed::Value(
            output
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default()
                .iter()
                .map(|rule| {
                    let default = rule.apply_server_side_encryption_by_default();
                    EncryptionRule {
                        algorithm: default.map(|d| d.sse_algorithm().as_str().to_owned()),
                        kms_key_id: default.and_then(|d| owned(d.kms_master_key_id())),
                        bucket_key_enabled: rule.bucket_key_enabled(),
                    }
                })
                .collect(),
        )),
        Err(err) => {
            let err = classify(call, err);
            if has_code(&err, &["ServerSideEncryptionConfigurationNotFoundError"]) {
                Ok(Observed::Value(Vec::new()))
            } else {
                unreadable(err)
            }
        }
    }
}

/// GetBucketLogging answers an empty `BucketLoggingStatus` when logging is off.
async fn bucket_logging(
    client: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Observed<Option<String>>, AwsError> {
    let call = Call::new("GetBucketLogging");
    match client.get_bucket_logging().bucket(name).send().await {
        Ok(output) => Ok(Observed::Value(
            output
                .logging_enabled()
                .map(|l| l.target_bucket().to_owned()),
        )),
        Err(err) => unreadable(classify(call, err)),
    }
}

async fn bucket_versioning(
    client: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Observed<Option<String>>, AwsError> {
    let call = Call::new("GetBucketVersioning");
    match client.get_bucket_versioning().bucket(name).send().await {
        Ok(output) => Ok(Observed::Value(
            output.status().map(|s| s.as_str().to_owned()),
        )),
        Err(err) => unreadable(classify(call, err)),
    }
}

async fn public_access_block(
    client: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Observed<PublicAccessBlock>, AwsError> {
    let call = Call::new("GetPublicAccessBlock");
    match client.get_public_access_block().bucket(name).send().await {
        Ok(output) => {
            let config = output.public_access_block_configuration();
            let flag =
                |f: fn(&aws_sdk_s3::types::PublicAccessBlockConfiguration) -> Option<bool>| {
                    config.and_then(f).unwrap_or(false)
                };
            Ok(Observed::Value(PublicAccessBlock {
                block_public_acls: flag(|c| c.block_public_acls()),
                ignore_public_acls: flag(|c| c.ignore_public_acls()),
                block_public_policy: flag(|c| c.block_public_policy()),
                restrict_public_buckets: flag(|c| c.restrict_public_buckets()),
            }))
        }
        Err(err) => {
            let err = classify(call, err);
            if has_code(&err, &["NoSuchPublicAccessBlockConfiguration"]) {
                Ok(Observed::Value(PublicAccessBlock::default()))
            } else {
                unreadable(err)
            }
        }
    }
}

/// `None` when the queue does not exist.
async fn queue(client: &aws_sdk_sqs::Client, url: String) -> Result<Option<Queue>, AwsError> {
    let call = Call::new("GetQueueAttributes");
    match client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
    {
        Ok(output) => Ok(Some(Queue {
            url,
            attributes: output
                .attributes()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        })),
        Err(err) => {
            if err
                .as_service_error()
                .is_some_and(GetQueueAttributesError::is_queue_does_not_exist)
            {
                return Ok(None);
            }
            let err = classify(call, err);
            // The query-protocol code SQS (and emulators) still send for a missing queue.
            if has_code(&err, &["AWS.SimpleQueueService.NonExistentQueue"]) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}
