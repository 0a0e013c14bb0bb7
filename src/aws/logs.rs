//! CloudWatch Logs log groups that AWS services create themselves, outside any stack: what exists and
//! with which retention, and the two writes that give such a group a retention. Plain data in and out;
//! `logs_sdk` holds the SDK calls. What strata asks of them lives in [`crate::log_retention`].

use std::collections::BTreeMap;
use std::future::Future;

use super::error::AwsError;

/// One log group as DescribeLogGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    /// Days its events are kept; `None` when they never expire.
    pub retention_days: Option<i32>,
}

pub trait LogGroups: Send + Sync {
    /// The groups among `names` that exist; the others are absent.
    fn log_groups(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<LogGroup>, AwsError>> + Send;

    /// Creates the group with these tags. A group that exists already (the service that writes into it
    /// may create it at any moment) is not an error.
    fn create_log_group(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn put_retention_policy(
        &self,
        name: &str,
        days: u32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
