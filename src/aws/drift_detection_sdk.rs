//! [`DriftDetection`] over the CloudFormation SDK client. SDK types stop here.
//!
//! Its own small adapter type (rather than more methods on `SdkCloudFormation`) keeps the drift seam out of the
//! CloudFormation adapter that plan/apply/outputs/destroy share.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};

use super::drift_detection::{
    DetectionStatus, DriftDetection, PropertyDifference, ResourceDriftRecord,
};
use super::error::{AwsError, Call, classify};

#[derive(Debug, Clone)]
pub struct SdkDriftDetection {
    client: Client,
}

impl SdkDriftDetection {
    pub fn new(client: Client) -> Self {
        SdkDriftDetection { client }
    }
}

impl DriftDetection for SdkDriftDetection {
    async fn detect_stack_drift(&self, stack: &str) -> Result<String, AwsError> {
        let call = Call::stack("DetectStackDrift", stack);
        let output = self
            .client
            .detect_stack_drift()
            .stack_name(stack)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        output
            .stack_drift_detection_id()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::MalformedResponse {
                operation: call.operation,
                stack: Some(stack.to_owned()),
                message: "no StackDriftDetectionId in the response".to_owned(),
            })
    }

    async fn drift_detection_status(
        &self,
        stack: &str,
        detection_id: &str,
    ) -> Result<DetectionStatus, AwsError> {
        let call = Call::stack("DescribeStackDriftDetectionStatus", stack);
        let output = self
            .client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(detection_id)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(match output.detection_status() {
            Some(StackDriftDetectionStatus::DetectionComplete) => DetectionStatus::Complete,
            Some(StackDriftDetectionStatus::DetectionFailed) => DetectionStatus::Failed {
                reason: output
                    .detection_status_reason()
                    .unwrap_or("no reason given")
                    .to_owned(),
            },
            _ => DetectionStatus::InProgress,
        })
    }

    async fn drifted_resources(&self, stack: &str) -> Result<Vec<ResourceDriftRecord>, AwsError> {
        let call = Call::stack("DescribeStackResourceDrifts", stack);
        let mut records = Vec::new();
        let mut pages = self
            .client
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            for drift in page.stack_resource_drifts() {
                let logical_id = call.required(drift.logical_resource_id(), "LogicalResourceId")?;
                let mut differences = Vec::new();
                for d in drift.property_differences() {
                    differences.push(PropertyDifference {
                        path: call.required(
                            d.property_path(),
                            &format!("PropertyPath of a difference of {logical_id}"),
                        )?,
                        expected: d.expected_value().map(str::to_owned),
                        actual: d.actual_value().map(str::to_owned),
                        kind: call.required(
                            d.difference_type().map(|k| k.as_str()),
                            &format!("DifferenceType of a difference of {logical_id}"),
                        )?,
                    });
                }
                records.push(ResourceDriftRecord {
                    physical_id: drift.physical_resource_id().map(str::to_owned),
                    resource_type: call.required(
                        drift.resource_type(),
                        &format!("ResourceType of {logical_id}"),
                    )?,
                    status: call.required(
                        drift.stack_resource_drift_status().map(|s| s.as_str()),
                        &format!("StackResourceDriftStatus of {logical_id}"),
                    )?,
                    differences,
                    logical_id,
                });
            }
        }
        Ok(records)
    }
}
