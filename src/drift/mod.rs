//! Drift: what differs between what strata declares for an environment and what exists in AWS.
//!
//! Two sources, one report: strata's own live checks (the rendered templates, resolved through the stacks'
//! physical ids and exports, against batched EC2/RDS/S3/SQS reads), and CloudFormation's drift detection where
//! the endpoint offers it. Computation only: [`detect`] returns a [`DriftReport`]; `report::drift` renders it.

mod checks;
mod cloudformation;
mod compare;
pub mod live;
pub mod normalize;
pub mod resolve;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::aws::cloudformation::{CloudFormation, StackResource};
use crate::aws::drift_detection::{DETECTION_WAIT, DetectionResult, DriftDetection, detect_drift};
use crate::aws::live::LiveResources;
use crate::aws::live::Observed;
use crate::aws::logs::LogGroups;
use crate::aws::{AwsError, WaitPolicy};
use crate::error::Error;
use crate::project::RenderedEnvironment;

pub use compare::{DeployedStack, Inputs, StackInput};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    pub stacks: Vec<StackDrift>,
    /// What could not be checked and why (said once each).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackDrift {
    /// Short name (`network`).
    pub stack: String,
    pub stack_name: String,
    /// CloudFormation's status of the stack; absent when the stack does not exist.
    pub status: Option<String>,
    /// Resources strata compared with live state.
    pub checked: usize,
    /// Drifted resources only, by logical id.
    pub resources: Vec<ResourceDrift>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: ResourceStatus,
    /// The highest severity among the differences (or of the deletion).
    pub severity: Severity,
    /// Who reported the resource drifted: strata's live checks, CloudFormation's drift detection, or both.
    pub sources: Vec<Source>,
    /// Empty for a deleted resource.
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    Modified,
    /// Declared, in the stack, but gone from AWS.
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    /// Moves toward exposure: open ingress, a public database, encryption or a public-access block off.
    Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// strata's own comparison with EC2/RDS/S3/SQS.
    Live,
    /// CloudFormation's drift detection.
    Cloudformation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Property path, e.g. `DBInstanceClass`, `PublicAccessBlockConfiguration.BlockPublicAcls`.
    pub path: String,
    /// `null` when the value is not declared (an extra rule, say).
    pub expected: Value,
    /// `null` when AWS has no such value (a removed rule or setting).
    pub actual: Value,
    pub severity: Severity,
    /// Who saw this difference. Both sources report the same change with differently shaped paths; it is one
    /// difference, with both sources (see `cloudformation::merge`).
    pub sources: Vec<Source>,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        self.stacks.iter().any(StackDrift::has_drift)
    }

    pub fn drifted_resources(&self) -> usize {
        self.stacks.iter().map(|s| s.resources.len()).sum()
    }

    pub fn security_relevant(&self) -> usize {
        self.stacks
            .iter()
            .flat_map(|s| &s.resources)
            .filter(|r| r.severity == Severity::Security)
            .count()
    }
}

impl StackDrift {
    /// A missing stack is drift too: everything it declares is gone.
    pub fn has_drift(&self) -> bool {
        self.status.is_none() || !self.resources.is_empty()
    }
}

/// Checks `selected` stacks (all when `None`) of `rendered` against AWS.
///
/// CloudFormation drift detection (slow on AWS: minutes for big stacks) runs for every selected stack at once,
/// concurrently with strata's live checks; the live checks read every stack's resources at once, then one
/// batched read per resource type. All stacks' resources are read even for one selected stack, so that security
/// group rules declared as separate resources in other stacks are known and not mistaken for extra rules.
pub async fn detect<C, D, L, G>(
    cfn: &C,
    detection: &D,
    live: &L,
    logs: &G,
    rendered: &RenderedEnvironment,
    selected: Option<&str>,
) -> Result<DriftReport, Error>
where
    C: CloudFormation + Clone + 'static,
    D: DriftDetection + Clone + 'static,
    L: LiveResources,
    G: LogGroups,
{
    let environment = &rendered.environment;
    let checked: Vec<String> = rendered
        .stacks
        .iter()
        .filter(|s| selected.is_none_or(|only| only == s.name))
        .map(|s| s.stack_name.clone())
        .collect();
    let detections = run_detections(detection.clone(), checked.clone(), DETECTION_WAIT);
    let live_side = async {
        let (exports, deployed) = tokio::try_join!(
            cfn.list_exports(),
            deployed_stacks(
                cfn.clone(),
                rendered.stacks.iter().map(|s| s.stack_name.clone())
            ),
        )?;
        let inputs = Inputs {
            region: environment.settings.region.clone(),
            account_id: environment.settings.account_id.clone(),
            exports: exports
                .into_iter()
                .map(|(name, export)| (name, export.value))
                .collect(),
            stacks: rendered
                .stacks
                .iter()
                .map(|stack| StackInput {
                    rendered: stack,
                    deployed: deployed.get(&stack.stack_name).cloned().flatten(),
                    checked: checked.contains(&stack.stack_name),
                })
                .collect(),
        };
        let retention_targets = log_retention_targets(&inputs, rendered);
        let query = compare::query(&inputs);
        let (state, log_groups) = tokio::try_join!(
            live::read(live, &query),
            read_log_groups(logs, &retention_targets),
        )?;
        let (stacks, notes) = compare::compare(&inputs, &state);
        Ok::<_, AwsError>((stacks, notes, retention_targets, log_groups))
    };
    let (detections, (stacks, mut notes, retention_targets, log_groups)) =
        tokio::try_join!(detections, live_side)?;
    let mut stacks = cloudformation::merge(stacks, detections, &mut notes)?;
    match log_groups {
        Observed::Value(found) => add_log_retention(
            &mut stacks,
            crate::log_retention::differences(&retention_targets, &found),
        ),
        Observed::Unreadable { reason, .. } => notes.push(format!(
            "retention of the database log groups not checked ({reason})"
        )),
    }
    Ok(DriftReport {
        environment: environment.name.clone(),
        account_id: environment.settings.account_id.clone(),
        region: environment.settings.region.clone(),
        stacks,
        notes,
    })
}

/// The log groups of the exported logs of the checked stacks' deployed DB instances.
fn log_retention_targets(
    inputs: &Inputs,
    rendered: &RenderedEnvironment,
) -> Vec<crate::log_retention::Target> {
    let Some(days) = crate::log_retention::declared_retention(rendered) else {
        return Vec::new();
    };
    inputs
        .stacks
        .iter()
        .filter(|stack| stack.checked)
        .filter_map(|stack| Some((stack.rendered, stack.deployed.as_ref()?)))
        .flat_map(|(rendered, deployed)| {
            crate::log_retention::targets(rendered, &deployed.resources, days)
        })
        .collect()
}

/// The target groups as CloudWatch Logs has them; unreadable (no permission, an endpoint without
/// the API) is a note, not a failure of the whole report.
async fn read_log_groups<G: LogGroups>(
    logs: &G,
    targets: &[crate::log_retention::Target],
) -> Result<Observed<Vec<crate::aws::logs::LogGroup>>, AwsError> {
    if targets.is_empty() {
        return Ok(Observed::Value(Vec::new()));
    }
    let names: Vec<String> = targets.iter().map(|t| t.log_group.clone()).collect();
    match logs.log_groups(&names).await {
        Ok(found) => Ok(Observed::Value(found)),
        Err(
            err @ (AwsError::AccessDenied { .. }
            | AwsError::Unsupported { .. }
            | AwsError::MalformedResponse { .. }),
        ) => Ok(Observed::Unreadable {
            operation: err.operation(),
            reason: err.to_string(),
        }),
        Err(err) => Err(err),
    }
}

/// Retention differences belong to the instance whose log it is: added to its drift, or as its
/// drift when nothing else about it differs. A deleted instance has no logs to keep.
fn add_log_retention(
    stacks: &mut [StackDrift],
    differences: Vec<(crate::log_retention::Target, Difference)>,
) {
    for (target, difference) in differences {
        let Some(stack) = stacks
            .iter_mut()
            .find(|s| s.stack_name == target.stack_name)
        else {
            continue;
        };
        match stack
            .resources
            .iter_mut()
            .find(|r| r.logical_id == target.logical_id)
        {
            Some(drift) if drift.status == ResourceStatus::Deleted => {}
            Some(drift) => {
                drift.severity = drift.severity.max(difference.severity);
                drift.differences.push(difference);
            }
            None => stack.resources.push(ResourceDrift {
                logical_id: target.logical_id.clone(),
                physical_id: Some(target.instance_identifier.clone()),
                resource_type: "AWS::RDS::DBInstance".to_owned(),
                status: ResourceStatus::Modified,
                severity: difference.severity,
                sources: vec![Source::Live],
                differences: vec![difference],
            }),
        }
    }
    for stack in stacks {
        stack
            .resources
            .sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    }
}

/// Every named stack's status and resources, concurrently; `None` for a stack that does not exist.
async fn deployed_stacks<C: CloudFormation + Clone + 'static>(
    cfn: C,
    names: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, Option<DeployedStack>>, AwsError> {
    let mut tasks = JoinSet::new();
    for name in names {
        let cfn = cfn.clone();
        tasks.spawn(async move {
            let deployed = deployed_stack(&cfn, &name).await;
            (name, deployed)
        });
    }
    let mut found = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (name, deployed) = joined.map_err(|err| task_failed("ListStackResources", err))?;
        found.insert(name, deployed?);
    }
    Ok(found)
}

async fn deployed_stack<C: CloudFormation>(
    cfn: &C,
    name: &str,
) -> Result<Option<DeployedStack>, AwsError> {
    let Some(description) = cfn.describe_stack(name).await? else {
        return Ok(None);
    };
    if description.status.has_no_resources_deployed() {
        return Ok(None);
    }
    let resources: Vec<StackResource> = cfn.list_stack_resources(name).await?;
    Ok(Some(DeployedStack {
        status: description.status.0,
        resources,
        parameters: description.parameters,
    }))
}

/// CloudFormation drift detection on every named stack at once; each stack's outcome kept apart so that an
/// endpoint without the API (or a stack that does not exist) does not stop the report.
async fn run_detections<D: DriftDetection + Clone + 'static>(
    detection: D,
    stacks: Vec<String>,
    policy: WaitPolicy,
) -> Result<Vec<(String, Result<DetectionResult, AwsError>)>, AwsError> {
    let mut tasks = JoinSet::new();
    for stack in stacks {
        let detection = detection.clone();
        tasks.spawn(async move {
            let result = detect_drift(&detection, &stack, policy).await;
            (stack, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|err| task_failed("DetectStackDrift", err))?);
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(results)
}

fn task_failed(operation: &'static str, err: tokio::task::JoinError) -> AwsError {
    AwsError::MalformedResponse {
        operation,
        stack: None,
        message: format!("task failed: {err}"),
    }
}
