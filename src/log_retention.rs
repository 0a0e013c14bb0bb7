//! Retention of the log groups RDS creates for the logs a DB instance exports, which no stack owns.
//!
//! RDS writes an instance's exported logs into the group `/aws/rds/instance/<DBInstanceIdentifier>/<log
//! type>`, which it creates when the export starts, without a retention (RDS User Guide, "Publishing
//! PostgreSQL logs to Amazon CloudWatch Logs"; AWS Support, quoted in hashicorp/terraform-provider-aws
//! issue 5348: "RDS by default creates the log group with NO retention period", and a group created
//! beforehand, with a retention, is the one RDS writes into). Without a retention CloudWatch Logs keeps
//! events forever (AWS::Logs::LogGroup, RetentionInDays). The stack cannot declare those groups: the
//! name holds the instance identifier, which is known before the instance exists only when the
//! template fixes `DBInstanceIdentifier`, and that property is create-only (AWS::RDS::DBInstance
//! schema, `createOnlyProperties`): naming an instance deployed without a name replaces it, data
//! included. A group declared in the same template from `Ref` of the instance would be created after
//! the instance, racing RDS for the name (CreateLogGroup: `ResourceAlreadyExistsException`).
//!
//! So strata does what the AWS CDK's `LogRetention` construct does with a custom resource ("Creates
//! a custom resource to control the retention policy of a CloudWatch Logs log group. The log group
//! is created if it doesn't already exist", aws-cdk-lib.aws_logs.LogRetention), from the CLI instead
//! of a Lambda function: after `apply`, for every exported log of every deployed instance, it creates
//! the group if RDS has not yet (with the environment's tags; RDS then writes into it) and sets the
//! environment's `database.log_retention_days` with PutRetentionPolicy where the group has another
//! or none. `drift` reads the same groups and reports a missing group or another retention as
//! `[security]` drift. Computation here; the calls go through [`LogGroups`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::AwsError;
use crate::aws::cloudformation::{CloudFormation, StackResource};
use crate::aws::logs::{LogGroup, LogGroups};
use crate::drift::{Difference, Severity, Source};
use crate::model::Template;
use crate::project::{RenderedEnvironment, RenderedStack};

/// Where RDS puts an instance's exported logs (RDS User Guide, "Publishing PostgreSQL logs to
/// Amazon CloudWatch Logs").
pub fn rds_log_group(instance_identifier: &str, log_type: &str) -> String {
    format!("/aws/rds/instance/{instance_identifier}/{log_type}")
}

/// One log group that should keep its events `retention_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub stack_name: String,
    /// The DB instance whose log it is, and its identifier.
    pub logical_id: String,
    pub instance_identifier: String,
    pub log_group: String,
    pub retention_days: u32,
}

/// The log types each DB instance of `template` exports (literal `EnableCloudwatchLogsExports`
/// entries), by logical id.
pub fn exported_logs(template: &Template) -> BTreeMap<&str, Vec<&str>> {
    template
        .resources
        .iter()
        .filter(|(_, resource)| resource.resource_type == "AWS::RDS::DBInstance")
        .filter_map(|(logical_id, resource)| {
            let logs: Vec<&str> = resource
                .properties
                .get("EnableCloudwatchLogsExports")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (!logs.is_empty()).then_some((logical_id.as_str(), logs))
        })
        .collect()
}

/// The groups of `stack`'s deployed instances (`resources`: the stack's resources as CloudFormation
/// lists them), each to keep `retention_days`.
pub fn targets(
    stack: &RenderedStack,
    resources: &[StackResource],
    retention_days: u32,
) -> Vec<Target> {
    let physical: BTreeMap<&str, &str> = resources
        .iter()
        .filter_map(|r| Some((r.logical_id.as_str(), r.physical_id.as_deref()?)))
        .collect();
    exported_logs(&stack.template)
        .into_iter()
        .filter_map(|(logical_id, logs)| Some((logical_id, *physical.get(logical_id)?, logs)))
        .flat_map(|(logical_id, identifier, logs)| {
            logs.into_iter().map(move |log| Target {
                stack_name: stack.stack_name.clone(),
                logical_id: logical_id.to_owned(),
                instance_identifier: identifier.to_owned(),
                log_group: rds_log_group(identifier, log),
                retention_days,
            })
        })
        .collect()
}

/// What `apply` did to one log group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionChange {
    pub log_group: String,
    /// strata created the group (RDS had not yet).
    pub created: bool,
    /// The retention before; `None` when events never expired (or the group did not exist).
    pub previous_days: Option<i32>,
    pub retention_days: u32,
}

/// Gives every target group its retention: creates the missing ones with `tags`, then
/// PutRetentionPolicy where the retention differs. Groups already right are not written.
pub async fn enforce<L: LogGroups>(
    logs: &L,
    targets: &[Target],
    tags: &BTreeMap<String, String>,
) -> Result<Vec<RetentionChange>, AwsError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = targets.iter().map(|t| t.log_group.clone()).collect();
    let existing: BTreeMap<String, Option<i32>> = logs
        .log_groups(&names)
        .await?
        .into_iter()
        .map(|group| (group.name, group.retention_days))
        .collect();
    let mut changes = Vec::new();
    for target in targets {
        let wanted = i64::from(target.retention_days);
        let found = existing.get(&target.log_group);
        if found.is_some_and(|days| days.map(i64::from) == Some(wanted)) {
            continue;
        }
        if found.is_none() {
            logs.create_log_group(&target.log_group, tags).await?;
        }
        logs.put_retention_policy(&target.log_group, target.retention_days)
            .await?;
        changes.push(RetentionChange {
            log_group: target.log_group.clone(),
            created: found.is_none(),
            previous_days: found.copied().flatten(),
            retention_days: target.retention_days,
        });
    }
    Ok(changes)
}

/// The retention the environment declares for its database logs. Without database settings no stack
/// renders a DB instance, so there is no log group to set or check.
pub fn declared_retention(rendered: &RenderedEnvironment) -> Option<u32> {
    rendered
        .environment
        .settings
        .database
        .as_ref()
        .map(|db| db.log_retention_days)
}

/// After an apply: the retention of every exported log of the instances in `stack_names` (short
/// names) as deployed now. A stack that does not exist has nothing to set.
pub async fn apply<C: CloudFormation, L: LogGroups>(
    cloudformation: &C,
    logs: &L,
    rendered: &RenderedEnvironment,
    stack_names: &[String],
) -> Result<Vec<RetentionChange>, AwsError> {
    let Some(days) = declared_retention(rendered) else {
        return Ok(Vec::new());
    };
    let mut targets = Vec::new();
    for stack in &rendered.stacks {
        if !stack_names.contains(&stack.name) || exported_logs(&stack.template).is_empty() {
            continue;
        }
        match cloudformation.list_stack_resources(&stack.stack_name).await {
            Ok(resources) => targets.extend(self::targets(stack, &resources, days)),
            Err(AwsError::StackNotFound { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    enforce(logs, &targets, &rendered.environment.tags()).await
}

/// The path a retention difference is reported under, on the instance whose log it is.
pub fn difference_path(log_group: &str) -> String {
    format!("LogGroup({log_group}).RetentionInDays")
}

/// Each target whose group is missing or keeps its events another time than declared, with the
/// difference to report on its instance: `[security]`, since events that never expire (or expire
/// early) are what the retention setting is there to prevent.
pub fn differences(targets: &[Target], found: &[LogGroup]) -> Vec<(Target, Difference)> {
    let found: BTreeMap<&str, Option<i32>> = found
        .iter()
        .map(|g| (g.name.as_str(), g.retention_days))
        .collect();
    targets
        .iter()
        .filter_map(|target| {
            let actual = match found.get(target.log_group.as_str()) {
                None => json!("(no such log group)"),
                Some(None) => Value::Null,
                Some(Some(days)) if i64::from(*days) == i64::from(target.retention_days) => {
                    return None;
                }
                Some(Some(days)) => json!(days),
            };
            let difference = Difference {
                path: difference_path(&target.log_group),
                expected: json!(target.retention_days),
                actual,
                severity: Severity::Security,
                sources: vec![Source::Live],
            };
            Some((target.clone(), difference))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::model::Resource;

    fn stack() -> RenderedStack {
        let mut template = Template::default();
        let exports =
            json!({"Engine": "postgres", "EnableCloudwatchLogsExports": ["postgresql", "upgrade"]});
        template
            .add(
                "DatabasePrimary",
                Resource::new("AWS::RDS::DBInstance", exports),
            )
            .unwrap();
        template
            .add(
                "Quiet",
                Resource::new("AWS::RDS::DBInstance", json!({"Engine": "postgres"})),
            )
            .unwrap();
        RenderedStack {
            name: "database".into(),
            stack_name: "app-dev-database".into(),
            file: PathBuf::from("stacks/database.yaml"),
            template,
            depends_on: Vec::new(),
            waivers: Vec::new(),
        }
    }

    fn deployed(logical_id: &str, physical_id: &str) -> StackResource {
        StackResource {
            logical_id: logical_id.into(),
            physical_id: Some(physical_id.into()),
            resource_type: "AWS::RDS::DBInstance".into(),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
        }
    }

    #[test]
    fn every_exported_log_of_a_deployed_instance_is_a_target() {
        let resources = [
            deployed("DatabasePrimary", "db-1"),
            deployed("Quiet", "db-2"),
        ];
        let found = targets(&stack(), &resources, 14);
        let groups: Vec<&str> = found.iter().map(|t| t.log_group.as_str()).collect();
        assert_eq!(
            groups,
            [
                "/aws/rds/instance/db-1/postgresql",
                "/aws/rds/instance/db-1/upgrade"
            ]
        );
        assert!(found.iter().all(|t| t.retention_days == 14));
        // Not deployed yet: no identifier, nothing to set.
        assert_eq!(targets(&stack(), &[], 14), vec![]);
    }

    /// An in-memory CloudWatch Logs that records the writes.
    #[derive(Default)]
    struct Groups {
        groups: Mutex<BTreeMap<String, Option<i32>>>,
        writes: Mutex<Vec<String>>,
    }

    impl LogGroups for Groups {
        async fn log_groups(&self, names: &[String]) -> Result<Vec<LogGroup>, AwsError> {
            let groups = self.groups.lock().unwrap();
            Ok(names
                .iter()
                .filter_map(|name| {
                    Some(LogGroup {
                        name: name.clone(),
                        retention_days: *groups.get(name)?,
                    })
                })
                .collect())
        }
        async fn create_log_group(
            &self,
            name: &str,
            tags: &BTreeMap<String, String>,
        ) -> Result<(), AwsError> {
            assert_eq!(tags.get("managed-by").map(String::as_str), Some("strata"));
            self.groups.lock().unwrap().insert(name.into(), None);
            self.writes.lock().unwrap().push(format!("create {name}"));
            Ok(())
        }
        async fn put_retention_policy(&self, name: &str, days: u32) -> Result<(), AwsError> {
            let days = i32::try_from(days).unwrap();
            self.groups.lock().unwrap().insert(name.into(), Some(days));
            self.writes
                .lock()
                .unwrap()
                .push(format!("retain {name} {days}"));
            Ok(())
        }
    }

    fn target(group: &str, days: u32) -> Target {
        Target {
            stack_name: "app-dev-database".into(),
            logical_id: "DatabasePrimary".into(),
            instance_identifier: "db-1".into(),
            log_group: group.into(),
            retention_days: days,
        }
    }

    #[tokio::test]
    async fn missing_groups_are_created_and_wrong_retentions_set_once() {
        let logs = Groups::default();
        logs.groups.lock().unwrap().extend([
            ("/never".to_string(), None),
            ("/right".to_string(), Some(14)),
            ("/short".to_string(), Some(3)),
        ]);
        let targets = [
            target("/missing", 14),
            target("/never", 14),
            target("/right", 14),
            target("/short", 14),
        ];
        let tags = BTreeMap::from([("managed-by".to_string(), "strata".to_string())]);
        let changes = enforce(&logs, &targets, &tags).await.unwrap();
        let summary: Vec<(&str, bool, Option<i32>)> = changes
            .iter()
            .map(|c| (c.log_group.as_str(), c.created, c.previous_days))
            .collect();
        assert_eq!(
            summary,
            [
                ("/missing", true, None),
                ("/never", false, None),
                ("/short", false, Some(3))
            ]
        );
        assert_eq!(
            *logs.writes.lock().unwrap(),
            [
                "create /missing",
                "retain /missing 14",
                "retain /never 14",
                "retain /short 14"
            ]
        );
        // A second run finds everything right and writes nothing.
        assert_eq!(enforce(&logs, &targets, &tags).await.unwrap(), vec![]);
        assert_eq!(logs.writes.lock().unwrap().len(), 4);
    }

    #[test]
    fn a_missing_group_or_another_retention_is_security_drift() {
        let targets = [
            target("/missing", 30),
            target("/never", 30),
            target("/right", 30),
            target("/long", 30),
        ];
        let found = [
            LogGroup {
                name: "/never".into(),
                retention_days: None,
            },
            LogGroup {
                name: "/right".into(),
                retention_days: Some(30),
            },
            LogGroup {
                name: "/long".into(),
                retention_days: Some(3653),
            },
        ];
        let drift: Vec<(String, Value)> = differences(&targets, &found)
            .into_iter()
            .map(|(_, d)| {
                assert_eq!(d.severity, Severity::Security);
                assert_eq!(d.expected, json!(30));
                (d.path, d.actual)
            })
            .collect();
        assert_eq!(
            drift,
            [
                (
                    "LogGroup(/missing).RetentionInDays".to_string(),
                    json!("(no such log group)")
                ),
                ("LogGroup(/never).RetentionInDays".to_string(), Value::Null),
                ("LogGroup(/long).RetentionInDays".to_string(), json!(3653)),
            ]
        );
    }
}
