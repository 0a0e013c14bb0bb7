//! CloudFormation's own drift detection: start it, wait for it, read the drifted resources. A seam of its own,
//! apart from [`super::CloudFormation`], because only `strata drift` uses it and endpoints that lack it (the local
//! emulator answers an HTML 500, classified as [`AwsError::Unsupported`]) must not affect the other commands.

use std::future::Future;

use super::cloudformation::{Poller, WaitPolicy};
use super::error::AwsError;

/// Where a detection run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectionStatus {
    InProgress,
    Complete,
    /// CloudFormation could not check some resources; the others still have results.
    Failed {
        reason: String,
    },
}

/// One resource CloudFormation found drifted (`MODIFIED` or `DELETED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDriftRecord {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `MODIFIED`, `DELETED` (in-sync and unchecked resources are not returned).
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDifference {
    /// JSON pointer into the resource, e.g. `/Properties/SecurityGroupIngress/1`.
    pub path: String,
    /// JSON text, as CloudFormation returns them.
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// `ADD`, `REMOVE`, `NOT_EQUAL`.
    pub kind: String,
}

/// What a finished detection produced: the drifted resources, and the failure reason when it failed in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionResult {
    pub resources: Vec<ResourceDriftRecord>,
    pub failure: Option<String>,
}

pub trait DriftDetection: Send + Sync {
    /// Starts a detection run; returns its id.
    fn detect_stack_drift(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn drift_detection_status(
        &self,
        stack: &str,
        detection_id: &str,
    ) -> impl Future<Output = Result<DetectionStatus, AwsError>> + Send;

    /// The stack's resources whose last detected status is `MODIFIED` or `DELETED`.
    fn drifted_resources(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<ResourceDriftRecord>, AwsError>> + Send;
}

/// Detection runs take seconds to a few minutes (one describe per resource on AWS's side).
pub const DETECTION_WAIT: WaitPolicy = WaitPolicy {
    first_delay: std::time::Duration::from_secs(1),
    max_delay: std::time::Duration::from_secs(5),
    max_wait: std::time::Duration::from_secs(10 * 60),
};

/// Runs drift detection on one stack to the end and returns what it found.
pub async fn detect_drift<D: DriftDetection + ?Sized>(
    detection: &D,
    stack: &str,
    policy: WaitPolicy,
) -> Result<DetectionResult, AwsError> {
    let id = detection.detect_stack_drift(stack).await?;
    let mut poller = Poller::new(policy);
    let failure = loop {
        match detection.drift_detection_status(stack, &id).await? {
            DetectionStatus::Complete => break None,
            DetectionStatus::Failed { reason } => break Some(reason),
            DetectionStatus::InProgress => {}
        }
        poller
            .pause(
                "DescribeStackDriftDetectionStatus",
                stack,
                || "drift detection to finish".to_owned(),
                "DETECTION_IN_PROGRESS",
            )
            .await?;
    };
    Ok(DetectionResult {
        resources: detection.drifted_resources(stack).await?,
        failure,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    struct Scripted {
        statuses: Mutex<Vec<DetectionStatus>>,
    }

    impl DriftDetection for Scripted {
        async fn detect_stack_drift(&self, _: &str) -> Result<String, AwsError> {
            Ok("detection-1".into())
        }
        async fn drift_detection_status(
            &self,
            _: &str,
            id: &str,
        ) -> Result<DetectionStatus, AwsError> {
            assert_eq!(id, "detection-1");
            let mut statuses = self.statuses.lock().unwrap();
            Ok(if statuses.len() > 1 {
                statuses.remove(0)
            } else {
                statuses[0].clone()
            })
        }
        async fn drifted_resources(&self, _: &str) -> Result<Vec<ResourceDriftRecord>, AwsError> {
            Ok(vec![ResourceDriftRecord {
                logical_id: "Sg".into(),
                physical_id: Some("sg-1".into()),
                resource_type: "AWS::EC2::SecurityGroup".into(),
                status: "MODIFIED".into(),
                differences: vec![],
            }])
        }
    }

    const FAST: WaitPolicy = WaitPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_wait: Duration::from_millis(200),
    };

    fn scripted(statuses: Vec<DetectionStatus>) -> Scripted {
        Scripted {
            statuses: Mutex::new(statuses),
        }
    }

    #[tokio::test]
    async fn polls_until_complete_then_reads_the_drifts() {
        let detection = scripted(vec![DetectionStatus::InProgress, DetectionStatus::Complete]);
        let result = detect_drift(&detection, "s", FAST).await.unwrap();
        assert_eq!(result.resources.len(), 1);
        assert_eq!(result.failure, None);
    }

    #[tokio::test]
    async fn a_failed_run_still_reports_what_it_found_and_why() {
        let detection = scripted(vec![DetectionStatus::Failed {
            reason: "Failed to detect drift on resource [Bucket]".into(),
        }]);
        let result = detect_drift(&detection, "s", FAST).await.unwrap();
        assert_eq!(result.resources.len(), 1);
        assert!(result.failure.unwrap().contains("Bucket"));
    }

    #[tokio::test]
    async fn gives_up_after_max_wait() {
        let detection = scripted(vec![DetectionStatus::InProgress]);
        let err = detect_drift(&detection, "s", FAST).await.unwrap_err();
        assert!(matches!(err, AwsError::WaitTimedOut { .. }), "{err}");
    }
}
