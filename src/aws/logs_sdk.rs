//! [`LogGroups`] over aws-sdk-cloudwatchlogs. SDK types stop here.

use std::collections::{BTreeMap, BTreeSet};

use tokio::task::JoinSet;

use super::error::{AwsError, Call, classify};
use super::logs::{LogGroup, LogGroups};

#[derive(Debug, Clone)]
pub struct SdkLogGroups {
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl SdkLogGroups {
    pub fn new(clients: &super::AwsClients) -> Self {
        SdkLogGroups {
            logs: clients.logs.clone(),
        }
    }
}

/// Everything up to and including the last `/`: `/aws/rds/instance/db-1/` for
/// `/aws/rds/instance/db-1/postgresql`. Names that share it are listed by one call.
fn parent(name: &str) -> &str {
    name.rfind('/').map_or(name, |slash| &name[..=slash])
}

impl LogGroups for SdkLogGroups {
    /// One paginated DescribeLogGroups per parent path (`logGroupNamePrefix`), all at once; the
    /// answer is narrowed to exactly the names asked for.
    async fn log_groups(&self, names: &[String]) -> Result<Vec<LogGroup>, AwsError> {
        let wanted: BTreeSet<String> = names.iter().cloned().collect();
        let prefixes: BTreeSet<String> = names.iter().map(|n| parent(n).to_owned()).collect();
        let mut tasks = JoinSet::new();
        for prefix in prefixes {
            let client = self.logs.clone();
            tasks.spawn(async move { groups_under(&client, &prefix).await });
        }
        let mut found = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let groups = joined.map_err(|err| AwsError::MalformedResponse {
                operation: "DescribeLogGroups",
                stack: None,
                message: format!("task failed: {err}"),
            })??;
            found.extend(groups.into_iter().filter(|g| wanted.contains(&g.name)));
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn create_log_group(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let call = Call::new("CreateLogGroup");
        let tags = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match self
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(classify(call, err)),
        }
    }

    async fn put_retention_policy(&self, name: &str, days: u32) -> Result<(), AwsError> {
        let call = Call::new("PutRetentionPolicy");
        let days = i32::try_from(days).map_err(|_| AwsError::MalformedResponse {
            operation: call.operation,
            stack: None,
            message: format!("retention of {days} days is out of range"),
        })?;
        self.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(())
    }
}

async fn groups_under(
    client: &aws_sdk_cloudwatchlogs::Client,
    prefix: &str,
) -> Result<Vec<LogGroup>, AwsError> {
    let call = Call::new("DescribeLogGroups");
    let mut pages = client
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| classify(call, err))?;
        for group in page.log_groups() {
            found.push(LogGroup {
                name: call.required(group.log_group_name(), "logGroupName")?,
                retention_days: group.retention_in_days(),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::parent;

    #[test]
    fn names_under_one_path_share_a_listing() {
        assert_eq!(
            parent("/aws/rds/instance/db-1/postgresql"),
            "/aws/rds/instance/db-1/"
        );
        assert_eq!(parent("flat"), "flat");
    }
}
