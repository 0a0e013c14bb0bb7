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
pub async fn detect<C, D, L>(
    cfn: &C,
    detection: &D,
    live: &L,
    rendered: &RenderedEnvironment,
    selected: Option<&str>,
) -> Result<DriftReport, Error>
where
    C: CloudFormation + Clone + 'static,
    D: DriftDetection + Clone + 'static,
    L: LiveResources,
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
        let state = live::read(live, &compare::query(&inputs)).await?;
        Ok::<_, AwsError>(compare::compare(&inputs, &state))
    };
    let (detections, (stacks, mut notes)) = tokio::try_join!(detections, live_side)?;
    let stacks = cloudformation::merge(stacks, detections, &mut notes)?;
    Ok(DriftReport {
        environment: environment.name.clone(),
        account_id: environment.settings.account_id.clone(),
        region: environment.settings.region.clone(),
        stacks,
        notes,
    })
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
