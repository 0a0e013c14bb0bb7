//! Planning: for each stack in dependency order, a change set against what is deployed, explained
//! resource by resource with property diffs and replacement. Computation only: returns data.

pub mod diff;
pub mod removal;
pub mod saved;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::cloudformation::{
    self as cfn, Capability, ChangeSetKind, ChangeSetOutcome, ChangeSetRequest, CloudFormation,
    RequestToken, StackDescription, WaitPolicy,
};
use crate::aws::once;
use crate::catalog::is_stateful;
use crate::error::Error;
pub use crate::model::change::{ChangeAction, Replacement};
use crate::project::{RenderedEnvironment, RenderedStack};
use diff::{PropertyChange, predicted_replacement, resource_changes};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    pub stacks: Vec<StackPlan>,
    /// Deployed stacks of the environment without a definition, in the order apply deletes them (only in a
    /// plan of the whole environment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removals: Vec<removal::StackRemoval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StackAction {
    Create,
    /// The stack exists only as a failed first creation (`ROLLBACK_COMPLETE`); apply deletes it first.
    Recreate,
    Update,
    NoChanges,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackPlan {
    /// Short name (`network`).
    pub stack: String,
    pub stack_name: String,
    pub action: StackAction,
    /// Status of the deployed stack, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_status: Option<String>,
    /// The change set to execute; absent when nothing changes or when the stack imports from a
    /// stack this plan creates (the change set can only be made once those exports exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_set_id: Option<String>,
    /// SHA-256 of the template body as sent to CloudFormation.
    pub template_sha256: String,
    /// SHA-256 of the deployed template (canonical JSON), to detect a stale saved plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_template_sha256: Option<String>,
    /// Stacks created by this plan whose exports this stack imports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits_for: Vec<String>,
    /// The token apply's CreateStack or ExecuteChangeSet carries: one per operation this plan starts, the same
    /// on every retry of it (by the SDK, or by applying this saved plan again).
    #[serde(default)]
    pub client_request_token: RequestToken,
    pub changes: Vec<ResourceChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplacementSource {
    /// The change set's `Replacement` field.
    Aws,
    /// strata's resource catalog (CloudFormation's schemas plus its overlay).
    Predicted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    pub replacement: Replacement,
    pub replacement_source: ReplacementSource,
    /// Holds data (DB instance, bucket, queue).
    pub stateful: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyChange>,
}

impl ResourceChange {
    /// Replacing or removing a resource that holds data.
    pub fn is_dangerous(&self) -> bool {
        self.stateful && (self.action == ChangeAction::Remove || self.replaces())
    }

    pub fn replaces(&self) -> bool {
        self.action.changes_existing() && self.replacement != Replacement::Never
    }
}

impl StackPlan {
    pub fn has_changes(&self) -> bool {
        self.action != StackAction::NoChanges
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.stacks.iter().any(StackPlan::has_changes) || !self.removals.is_empty()
    }
}

/// The body strata sends: compact canonical JSON (well under the 51,200-byte inline limit).
pub fn template_body(stack: &RenderedStack) -> Result<String, Error> {
    serde_json::to_string(&crate::render::template_value(&stack.template)).map_err(|err| {
        Error::SerializeTemplate {
            stack: stack.name.clone(),
            message: err.to_string(),
        }
    })
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hash of a deployed template, insensitive to key order and whitespace.
pub fn deployed_hash(template: &Value) -> String {
    sha256_hex(&crate::render::canonical(template).to_string())
}

/// Plans `selected` stacks (all of `rendered` when `None`), in dependency order.
pub async fn plan<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
    selected: Option<&str>,
) -> Result<Plan, Error> {
    // CloudFormation propagates stack tags to the resources that support them.
    let tags = rendered.environment.tags();
    let attempt = plan_attempt();
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut stacks = Vec::new();
    for stack in &rendered.stacks {
        if selected.is_some_and(|only| only != stack.name) {
            continue;
        }
        let deployed = settled_stack(cloudformation, &stack.stack_name).await?;
        let missing_dependencies: Vec<String> = match selected {
            // Planning one stack alone: its dependencies must already exist.
            Some(_) => {
                let mut missing = Vec::new();
                for dependency in &stack.depends_on {
                    let name = rendered
                        .stacks
                        .iter()
                        .find(|s| &s.name == dependency)
                        .map(|s| s.stack_name.clone());
                    if let Some(name) = name
                        && !exists(&cloudformation.describe_stack(&name).await?)
                    {
                        missing.push(dependency.clone());
                    }
                }
                missing
            }
            None => stack
                .depends_on
                .iter()
                .filter(|d| created.contains(*d))
                .cloned()
                .collect(),
        };
        let stack_plan = plan_stack(
            cloudformation,
            stack,
            deployed,
            missing_dependencies,
            &tags,
            &attempt,
        )
        .await?;
        if matches!(
            stack_plan.action,
            StackAction::Create | StackAction::Recreate
        ) {
            created.insert(stack.name.clone());
        }
        stacks.push(stack_plan);
    }
    // Planning one stack leaves the others alone, stacks without a definition included.
    let removals = match selected {
        Some(_) => Vec::new(),
        None => removal::plan_removals(cloudformation, rendered).await?,
    };
    Ok(Plan {
        environment: rendered.environment.name.clone(),
        account_id: rendered.environment.settings.account_id.clone(),
        region: rendered.environment.settings.region.clone(),
        stacks,
        removals,
    })
}

fn exists(deployed: &Option<StackDescription>) -> bool {
    deployed
        .as_ref()
        .is_some_and(|d| !d.status.has_no_resources_deployed())
}

/// The stack's description once no operation is running on it; refuses states a plan cannot build on.
pub async fn settled_stack<C: CloudFormation>(
    cloudformation: &C,
    name: &str,
) -> Result<Option<StackDescription>, Error> {
    let mut deployed = cloudformation.describe_stack(name).await?;
    if deployed.as_ref().is_some_and(|d| d.status.is_in_progress()) {
        deployed = cfn::wait_for_stack(cloudformation, name, WaitPolicy::STACK).await?;
    }
    if let Some(description) = &deployed
        && description.status.as_str() == "UPDATE_ROLLBACK_FAILED"
    {
        return Err(Error::StackNeedsRecovery {
            stack: name.to_string(),
            status: description.status.to_string(),
            hint: format!(
                "a failed update could not be rolled back. Fix the cause shown in its events, then run \
                     `aws cloudformation continue-update-rollback --stack-name {name}` (add --resources-to-skip for \
                     resources that cannot roll back) and plan again"
            ),
        });
    }
    Ok(deployed)
}

async fn plan_stack<C: CloudFormation>(
    cloudformation: &C,
    stack: &RenderedStack,
    deployed: Option<StackDescription>,
    waits_for: Vec<String>,
    tags: &BTreeMap<String, String>,
    attempt: &str,
) -> Result<StackPlan, Error> {
    let body = template_body(stack)?;
    let new_template = crate::render::template_value(&stack.template);
    let template_sha256 = sha256_hex(&body);
    let mut plan = StackPlan {
        stack: stack.name.clone(),
        stack_name: stack.stack_name.clone(),
        action: StackAction::Create,
        deployed_status: deployed.as_ref().map(|d| d.status.to_string()),
        change_set_id: None,
        // A create is this plan's (a stack created, destroyed and created again from the same template is
        // another operation); an update is its change set's, set below.
        client_request_token: RequestToken::derive(
            "create",
            &[attempt, &stack.stack_name, &template_sha256],
        ),
        template_sha256,
        deployed_template_sha256: None,
        waits_for,
        changes: Vec::new(),
    };
    let recreate = deployed
        .as_ref()
        .is_some_and(|d| d.status.as_str() == "ROLLBACK_COMPLETE");
    let is_new = deployed
        .as_ref()
        .is_none_or(|d| d.status.has_no_resources_deployed());
    if is_new {
        // A new stack is planned from its template: every resource is an addition, and apply
        // creates it with CreateStack. A CREATE change set would leave a REVIEW_IN_PROGRESS
        // stack shell behind whenever a plan is not applied, and cannot be made at all while
        // the exports it imports do not exist yet.
        plan.action = if recreate {
            StackAction::Recreate
        } else {
            StackAction::Create
        };
        plan.changes = additions(&new_template);
        return Ok(plan);
    }

    let deployed_template = cloudformation.get_template(&stack.stack_name).await?;
    plan.deployed_template_sha256 = Some(deployed_hash(&deployed_template));
    let change_set = change_set_name(&plan.template_sha256);
    let request = ChangeSetRequest {
        client_token: RequestToken::derive("changeset", &[&stack.stack_name, &change_set]),
        stack: stack.stack_name.clone(),
        change_set,
        kind: ChangeSetKind::Update,
        template_body: body,
        parameters: BTreeMap::new(),
        tags: tags.clone(),
        capabilities: vec![Capability::Iam],
        description: Some(format!("strata plan of {}", stack.stack_name)),
    };
    let created = once::create_change_set(cloudformation, &request).await?;
    match cfn::wait_for_change_set(
        cloudformation,
        &stack.stack_name,
        &created.change_set_id,
        WaitPolicy::CHANGE_SET,
    )
    .await?
    {
        ChangeSetOutcome::NoChanges { .. } => {
            once::delete_change_set(cloudformation, &stack.stack_name, &created.change_set_id)
                .await?;
            plan.action = StackAction::NoChanges;
        }
        ChangeSetOutcome::Ready(description) => {
            plan.action = StackAction::Update;
            plan.client_request_token =
                RequestToken::derive("update", &[&stack.stack_name, &created.change_set_id]);
            plan.change_set_id = Some(created.change_set_id);
            plan.changes = explain(
                &description.changes,
                Some(&deployed_template),
                &new_template,
            );
        }
    }
    Ok(plan)
}

/// Unique per attempt; CloudFormation requires a letter first and at most 128 characters.
fn change_set_name(template_sha256: &str) -> String {
    format!(
        "strata-{}-{}",
        &template_sha256[..12.min(template_sha256.len())],
        now_millis()
    )
}

/// What tells this plan's operations from another plan's with the same templates: the time it was made and
/// the process that made it.
fn plan_attempt() -> String {
    format!("{}-{}", now_millis(), std::process::id())
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn resources(template: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    template
        .and_then(|t| t.get("Resources"))
        .and_then(Value::as_object)
}

/// Every resource of a template as an addition.
fn additions(template: &Value) -> Vec<ResourceChange> {
    resources(Some(template))
        .map(|map| {
            map.iter()
                .map(|(id, resource)| {
                    let resource_type = resource
                        .get("Type")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    ResourceChange {
                        action: ChangeAction::Add,
                        logical_id: id.clone(),
                        resource_type: resource_type.to_string(),
                        physical_id: None,
                        replacement: Replacement::Never,
                        replacement_source: ReplacementSource::Predicted,
                        stateful: is_stateful(resource_type),
                        properties: Vec::new(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// AWS's list of changes, each explained by the template diff; replacement from AWS when it says.
pub(crate) fn explain(
    changes: &[cfn::ResourceChange],
    deployed: Option<&Value>,
    new: &Value,
) -> Vec<ResourceChange> {
    let mut explained: Vec<ResourceChange> = changes
        .iter()
        .map(|change| {
            let action = change.action;
            let before = resources(deployed).and_then(|r| r.get(&change.logical_id));
            let after = resources(Some(new)).and_then(|r| r.get(&change.logical_id));
            let properties = if action.changes_existing() {
                resource_changes(&change.resource_type, before, after)
            } else {
                Vec::new()
            };
            let (replacement, replacement_source) = match change.replacement {
                Some(aws) if action.changes_existing() => (aws, ReplacementSource::Aws),
                _ if action.changes_existing() => (
                    predicted_replacement(&properties),
                    ReplacementSource::Predicted,
                ),
                _ => (Replacement::Never, ReplacementSource::Predicted),
            };
            ResourceChange {
                action,
                logical_id: change.logical_id.clone(),
                resource_type: change.resource_type.clone(),
                physical_id: change.physical_id.clone(),
                replacement,
                replacement_source,
                stateful: is_stateful(&change.resource_type),
                properties,
            }
        })
        .collect();
    explained.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
    explained
}
