//! Planning: for each stack in dependency order, a change set against what is deployed, explained
//! resource by resource with property diffs and replacement. Computation only: returns data.

pub mod diff;
pub mod parameters;
pub mod removal;
pub mod saved;
pub mod unchanged;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::AccountFacts;
use crate::aws::cloudformation::{
    self as cfn, Capability, ChangeSetKind, ChangeSetOutcome, ChangeSetRequest, CloudFormation,
    RequestToken, StackDescription, WaitPolicy,
};
use crate::aws::once;
use crate::catalog::holds_data;
use crate::error::Error;
pub use crate::model::change::{ChangeAction, Replacement};
use crate::project::{RenderedEnvironment, RenderedStack};
use diff::{PropertyChange, predicted_replacement, resource_changes};
use parameters::{PlannedParameter, Upstream};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    pub stacks: Vec<StackPlan>,
    /// Pre-flight checks that could not run at this endpoint, each with the reason ([`crate::preflight`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<String>,
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
    /// Values the stack receives as parameters: other stacks' outputs (filled in by strata) and
    /// Parameter Store entries (resolved by CloudFormation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<PlannedParameter>,
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
    /// The deletion protection that is on in the deployed resource (`DisableApiTermination` of an
    /// instance, say): AWS refuses to delete it, which a replacement must do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<String>,
}

impl ResourceChange {
    /// Replacing or removing a resource that holds data.
    pub fn is_dangerous(&self) -> bool {
        self.stateful && (self.action == ChangeAction::Remove || self.replaces())
    }

    pub fn replaces(&self) -> bool {
        self.action.changes_existing() && self.replacement != Replacement::Never
    }

    /// A replacement of a resource AWS refuses to delete. CloudFormation creates the replacement
    /// first and deletes the old resource afterwards, in the update's cleanup ("creates the
    /// replacement resource first, changes references from other dependent resources to point to
    /// the replacement resource, and then deletes the old resource", CloudFormation User Guide,
    /// Update behaviors of stack resources). A failed deletion there does not roll the update back:
    /// the stack ends `UPDATE_COMPLETE` ("Update successful. One or more resources could not be
    /// deleted"), and the old resource keeps running outside the stack, still protected
    /// (aws-cloudformation/cloudformation-coverage-roadmap issues 744 and 2226, the latter on exactly
    /// this: an `AWS::EC2::Instance` with termination protection replaced by a new image).
    pub fn strands_protected_original(&self) -> bool {
        self.replaces() && self.deletion_protection.is_some()
    }
}

impl StackPlan {
    pub fn has_changes(&self) -> bool {
        self.action != StackAction::NoChanges
    }

    /// Stacks (short names) whose apply this stack's parameter values wait for: apply re-plans this
    /// stack with the values they output then.
    pub fn resolves_after(&self) -> BTreeSet<&str> {
        self.parameters
            .iter()
            .filter_map(PlannedParameter::waits_for)
            .collect()
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
pub async fn plan<C: CloudFormation, F: AccountFacts>(
    cloudformation: &C,
    facts: &F,
    rendered: &RenderedEnvironment,
    selected: Option<&str>,
) -> Result<Plan, Error> {
    // What only the account can refuse (a missing image, a bucket name taken...) stops the plan here,
    // before any change set exists.
    let not_checked = crate::preflight::check(cloudformation, facts, rendered, selected).await?;
    // CloudFormation propagates stack tags to the resources that support them.
    let tags = rendered.environment.tags();
    let attempt = plan_attempt();
    let mut created: BTreeSet<String> = BTreeSet::new();
    // What dependents need to know about the stacks planned (or, with `--stack`, merely read) so far.
    let mut upstreams: BTreeMap<String, Upstream> = BTreeMap::new();
    let mut planned: BTreeMap<String, StackPlan> = BTreeMap::new();
    // Stacks of one wave depend only on stacks of earlier waves: they are planned concurrently (on AWS each
    // change set takes seconds), and every wave sees its upstreams' plans.
    for wave in waves(rendered, selected) {
        for stack in &wave {
            for (_, source) in stack.template.output_references() {
                if upstreams.contains_key(&source.stack) {
                    continue;
                }
                if let Some(upstream) = rendered.stacks.iter().find(|s| s.name == source.stack) {
                    let deployed = cloudformation
                        .describe_stack(&upstream.stack_name)
                        .await?
                        .filter(|d| !d.status.has_no_resources_deployed());
                    upstreams.insert(
                        source.stack.clone(),
                        Upstream {
                            rendered: upstream.clone(),
                            plan: None,
                            deployed,
                            deployed_template: None,
                        },
                    );
                }
            }
        }
        let context = WaveContext {
            rendered,
            selected,
            upstreams: &upstreams,
            created: &created,
            tags: &tags,
            attempt: &attempt,
        };
        let results = try_join_all(
            wave.iter()
                .map(|stack| plan_in_wave(cloudformation, facts, &context, stack)),
        )
        .await?;
        for (stack, (stack_plan, deployed, deployed_template)) in wave.iter().zip(results) {
            if matches!(
                stack_plan.action,
                StackAction::Create | StackAction::Recreate
            ) {
                created.insert(stack.name.clone());
            }
            upstreams.insert(
                stack.name.clone(),
                Upstream {
                    rendered: (*stack).clone(),
                    plan: Some(stack_plan.clone()),
                    deployed,
                    deployed_template,
                },
            );
            planned.insert(stack.name.clone(), stack_plan);
        }
    }
    // In the environment's dependency order, whatever order the waves finished in.
    let stacks: Vec<StackPlan> = rendered
        .stacks
        .iter()
        .filter_map(|s| planned.remove(&s.name))
        .collect();
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
        not_checked,
        removals,
    })
}

/// The stacks to plan, in waves: a stack's wave comes after the waves of every stack it depends on (by import
/// or by output). Within a wave, the environment's order.
fn waves<'a>(
    rendered: &'a RenderedEnvironment,
    selected: Option<&str>,
) -> Vec<Vec<&'a RenderedStack>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    // `rendered.stacks` is in dependency order, so every dependency's level is known when it is needed.
    for stack in &rendered.stacks {
        let from_outputs: Vec<String> = stack
            .template
            .output_references()
            .map(|(_, source)| source.stack.clone())
            .collect();
        let after = stack
            .depends_on
            .iter()
            .chain(&from_outputs)
            .filter_map(|dependency| level.get(dependency.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(stack.name.as_str(), after);
    }
    let mut waves: Vec<Vec<&RenderedStack>> = Vec::new();
    for stack in &rendered.stacks {
        if selected.is_some_and(|only| only != stack.name) {
            continue;
        }
        let index = level.get(stack.name.as_str()).copied().unwrap_or(0);
        if waves.len() <= index {
            waves.resize_with(index + 1, Vec::new);
        }
        waves[index].push(stack);
    }
    waves.retain(|wave| !wave.is_empty());
    waves
}

/// What every stack of a wave reads: the plans and deployed states of the waves before it.
struct WaveContext<'a> {
    rendered: &'a RenderedEnvironment,
    selected: Option<&'a str>,
    upstreams: &'a BTreeMap<String, Upstream>,
    created: &'a BTreeSet<String>,
    tags: &'a BTreeMap<String, String>,
    attempt: &'a str,
}

/// Plans one stack of a wave: its plan, its deployed description (when it has resources) and deployed template.
async fn plan_in_wave<C: CloudFormation, F: AccountFacts>(
    cloudformation: &C,
    facts: &F,
    context: &WaveContext<'_>,
    stack: &RenderedStack,
) -> Result<(StackPlan, Option<StackDescription>, Option<Value>), Error> {
    let deployed = settled_stack(cloudformation, &stack.stack_name).await?;
    let missing_dependencies: Vec<String> = match context.selected {
        // Planning one stack alone: its dependencies must already exist.
        Some(_) => {
            let mut missing = Vec::new();
            for dependency in &stack.depends_on {
                let name = context
                    .rendered
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
            .filter(|d| context.created.contains(*d))
            .cloned()
            .collect(),
    };
    let parameters = parameters::plan_parameters(
        facts,
        stack,
        deployed
            .as_ref()
            .filter(|d| !d.status.has_no_resources_deployed()),
        context.upstreams,
    )
    .await?;
    let (stack_plan, deployed_template) = plan_stack(
        cloudformation,
        stack,
        deployed.clone(),
        missing_dependencies,
        parameters,
        context.tags,
        context.attempt,
    )
    .await?;
    let deployed = deployed.filter(|d| !d.status.has_no_resources_deployed());
    Ok((stack_plan, deployed, deployed_template))
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

/// The plan of one stack, and its deployed template when it has one.
async fn plan_stack<C: CloudFormation>(
    cloudformation: &C,
    stack: &RenderedStack,
    deployed: Option<StackDescription>,
    waits_for: Vec<String>,
    parameters: Vec<PlannedParameter>,
    tags: &BTreeMap<String, String>,
    attempt: &str,
) -> Result<(StackPlan, Option<Value>), Error> {
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
        parameters,
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
        return Ok((plan, None));
    }

    let deployed_template = cloudformation.get_template(&stack.stack_name).await?;
    plan.deployed_template_sha256 = Some(deployed_hash(&deployed_template));
    match parameters::change_set_values(&plan.parameters) {
        // Template, parameters and tags as deployed, nothing resolved on CloudFormation's side: the two reads
        // made already say there is nothing to change, no change set needed (see `unchanged`).
        Some(values)
            if deployed.as_ref().is_some_and(|d| {
                unchanged::is_unchanged(d, &deployed_template, &new_template, &body, &values, tags)
            }) =>
        {
            plan.action = StackAction::NoChanges;
        }
        Some(values) => {
            let outcome = change_set(cloudformation, stack, &body, values, tags).await?;
            if let Some((change_set_id, changes)) = outcome {
                plan.action = StackAction::Update;
                plan.client_request_token = update_token(&stack.stack_name, &change_set_id);
                plan.change_set_id = Some(change_set_id);
                plan.changes = explain(&changes, Some(&deployed_template), &new_template);
            } else {
                plan.action = StackAction::NoChanges;
            }
        }
        // A value it needs is only output once another stack of this plan has applied: no change set
        // can be made now, so the template's changes are predicted and apply plans it then.
        None => {
            plan.action = StackAction::Update;
            plan.changes = template_changes(&deployed_template, &new_template);
        }
    }
    let effects = parameters::parameter_effects(stack, &plan.parameters);
    if plan.action == StackAction::NoChanges && !effects.is_empty() {
        plan.action = StackAction::Update;
    }
    parameters::merge_effects(&mut plan.changes, effects);
    Ok((plan, Some(deployed_template)))
}

/// Creates an UPDATE change set and waits for it: its id and changes, or `None` when CloudFormation finds
/// nothing to change (the empty change set is deleted).
pub(crate) async fn change_set<C: CloudFormation>(
    cloudformation: &C,
    stack: &RenderedStack,
    body: &str,
    parameters: BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<(String, Vec<cfn::ResourceChange>)>, Error> {
    let change_set = change_set_name(&sha256_hex(body));
    let request = ChangeSetRequest {
        client_token: RequestToken::derive("changeset", &[&stack.stack_name, &change_set]),
        stack: stack.stack_name.clone(),
        change_set,
        kind: ChangeSetKind::Update,
        template_body: body.to_owned(),
        parameters,
        tags: tags.clone(),
        capabilities: vec![Capability::Iam],
        description: Some(format!("strata plan of {}", stack.stack_name)),
    };
    // Nothing to change is either a FAILED change set with that reason (AWS) or the call refused with "No
    // updates are to be performed." (the older wording; moto when parameters are given).
    let created = match once::create_change_set(cloudformation, &request).await {
        Ok(created) => created,
        Err(crate::aws::AwsError::NoUpdates { .. }) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
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
            Ok(None)
        }
        ChangeSetOutcome::Ready(description) => {
            Ok(Some((created.change_set_id, description.changes)))
        }
    }
}

/// The resource changes between two templates as strata predicts them, for a stack no change set can be
/// made for yet.
fn template_changes(deployed: &Value, new: &Value) -> Vec<ResourceChange> {
    let empty = serde_json::Map::new();
    let old_resources = resources(Some(deployed)).unwrap_or(&empty);
    let new_resources = resources(Some(new)).unwrap_or(&empty);
    let type_of = |resource: &Value| {
        resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut changes: Vec<cfn::ResourceChange> = Vec::new();
    let mut listed = |action: ChangeAction, id: &String, resource: &Value| {
        changes.push(cfn::ResourceChange {
            action,
            logical_id: id.clone(),
            resource_type: type_of(resource),
            physical_id: None,
            replacement: None,
            scope: Vec::new(),
        })
    };
    for (id, resource) in new_resources {
        match old_resources.get(id) {
            None => listed(ChangeAction::Add, id, resource),
            Some(old) if old != resource => listed(ChangeAction::Modify, id, resource),
            Some(_) => {}
        }
    }
    for (id, resource) in old_resources {
        if !new_resources.contains_key(id) {
            listed(ChangeAction::Remove, id, resource);
        }
    }
    explain(&changes, Some(deployed), new)
}

/// The token of executing change set `change_set_id`: the operation is the change set's, so every retry of
/// it (by the SDK, or by applying the saved plan again) carries the same one.
pub(crate) fn update_token(stack_name: &str, change_set_id: &str) -> RequestToken {
    RequestToken::derive("update", &[stack_name, change_set_id])
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
                        stateful: holds_data(resource_type, resource.get("Properties")),
                        properties: Vec::new(),
                        deletion_protection: None,
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
                stateful: holds_data(
                    &change.resource_type,
                    after.or(before).and_then(|r| r.get("Properties")),
                ),
                properties,
                deletion_protection: before
                    .filter(|_| action.changes_existing())
                    .and_then(crate::catalog::protection_on)
                    .map(str::to_owned),
            }
        })
        .collect();
    explained.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
    explained
}

#[cfg(test)]
mod wave_tests {
    use super::*;
    use crate::project::Project;

    fn dev() -> RenderedEnvironment {
        Project::open(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .and_then(|project| project.render("dev"))
            .expect("the shipped dev environment renders")
    }

    fn names(waves: &[Vec<&RenderedStack>]) -> Vec<Vec<String>> {
        waves
            .iter()
            .map(|wave| wave.iter().map(|s| s.name.clone()).collect())
            .collect()
    }

    #[test]
    fn independent_stacks_share_a_wave_after_everything_they_depend_on() {
        let rendered = dev();
        let waves = waves(&rendered, None);
        // The storage (buckets, queues) needs nothing else; the database lives in the network's subnets; the
        // bastion forwards to the database; the app's functions run in the network's subnets, use the
        // storage's queues, buckets and topic, and the feed API reads the database's secret and replicas.
        assert_eq!(
            names(&waves),
            [
                vec!["network".to_string(), "storage".to_string()],
                vec!["database".to_string()],
                vec!["bastion".to_string(), "app".to_string()]
            ]
        );
        let wave_of = |name: &str| waves.iter().position(|w| w.iter().any(|s| s.name == name));
        for stack in &rendered.stacks {
            for dependency in &stack.depends_on {
                assert!(
                    wave_of(dependency) < wave_of(&stack.name),
                    "{dependency} before {}",
                    stack.name
                );
            }
        }
        assert_eq!(
            names(&super::waves(&rendered, Some("bastion"))),
            [vec!["bastion".to_string()]]
        );
    }
}
