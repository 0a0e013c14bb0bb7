//! The in-memory CloudFormation of the unit tests of plan, apply and destroy: the rules real AWS enforces that
//! the local emulator does not, and the faults a real network adds. There is one, so that every test that needs
//! a CloudFormation meets all of these rules at once.
//!
//! moto 5.2.5 has no export-in-use check (tests/support/MOTO_NOTES.md section 5), fills no `Replacement` into
//! change sets, keeps a stack's first set of outputs through change-set updates and never rolls back. This fake
//! does what CloudFormation documents for exactly the behaviour strata's cross-stack design depends on:
//!
//! - Exports (User Guide, `Fn::ImportValue`): "After another stack imports an output value, you can't delete the
//!   stack that is exporting the output value or modify the exported output value." An update that changes or
//!   removes an export in use rolls back with "Export NAME cannot be updated as it is in use by STACK" (or
//!   "... cannot be deleted ..."), after the resource updates ran, as AWS does; DeleteStack of such a stack ends
//!   in `DELETE_FAILED`. Export names are unique per account and region; importing a missing export fails.
//! - Parameters (User Guide, "Parameters"): a parameter without `Default` must be given ("Parameters: [X] must
//!   have values"), an unknown one is refused; `Ref` to a parameter takes its value.
//! - Change sets: Add/Modify/Remove per resource from the template with parameters substituted, `Replacement`
//!   from the properties that force it; identical template and parameters fail the change set with AWS's "didn't
//!   contain changes" reason; "After you execute a change set, CloudFormation removes all change sets associated
//!   with the stack" (User Guide, executing a change set).
//! - Outputs are recomputed on every update; a replaced resource gets a new physical id, so endpoints change.
//! - Client request tokens (CreateStack API reference, ClientRequestToken): "All events initiated by a given
//!   stack operation are assigned the same client request token"; a stack name is taken once
//!   (`AlreadyExistsException`), a change set name once per stack; a change set that is not `AVAILABLE` cannot
//!   be executed (`InvalidChangeSetStatus`). moto ignores tokens (MOTO_NOTES section 8); [`ignore_tokens`]
//!   plays such an endpoint.
//! - Faults: an answer lost after the call took effect, which the SDK then sends again ([`lose_answers`]); a
//!   stack someone else creates between strata's look and its create ([`create_meanwhile`]); a first creation
//!   that fails and leaves `ROLLBACK_COMPLETE` ([`fail_next_create`]).
//!
//! Every operation completes synchronously; events are stack-level plus one per resource change.
//!
//! [`ignore_tokens`]: FakeCloudFormation::ignore_tokens
//! [`lose_answers`]: FakeCloudFormation::lose_answers
//! [`create_meanwhile`]: FakeCloudFormation::create_meanwhile
//! [`fail_next_create`]: FakeCloudFormation::fail_next_create

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::cloudformation::{
    ChangeAction, ChangeSetDescription, ChangeSetId, ChangeSetKind, ChangeSetRequest,
    CloudFormation, CreateStackRequest, Export, Replacement, RequestToken, ResourceChange,
    StackDescription, StackEvent, StackOutput, StackResource, StackStatus, StackSummary,
};
use super::error::AwsError;
use crate::catalog;
use crate::drift::resolve::{AttributeSource, Resolver};

pub const REGION: &str = "eu-west-1";
pub const ACCOUNT_ID: &str = "111111111111";

#[derive(Default)]
pub struct FakeCloudFormation {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every stack ever created, deleted ones included (they stay visible by id).
    stacks: Vec<Stack>,
    change_sets: Vec<ChangeSet>,
    counter: u64,
    /// Stacks whose next CreateStack fails with these events (oldest first), ending in ROLLBACK_COMPLETE.
    failing_creates: BTreeMap<String, Vec<StackEvent>>,
    /// Per operation (`CreateStack`, ...): how many more of its answers are lost.
    lost_answers: BTreeMap<&'static str, usize>,
    /// Stacks someone else creates (with this template) just before strata's CreateStack arrives.
    created_meanwhile: BTreeMap<String, Value>,
    /// Like an endpoint that ignores tokens: events carry none.
    ignores_tokens: bool,
    /// The account's SSM parameters that SSM-typed stack parameters resolve through; a name not set here
    /// resolves to [`fixed::IMAGE`], as the test account facts answer.
    ssm_parameters: BTreeMap<String, String>,
    calls: Vec<String>,
}

#[derive(Clone)]
struct Stack {
    name: String,
    id: String,
    status: String,
    deployed: Deployed,
    tags: BTreeMap<String, String>,
    /// Newest first, like the API.
    events: Vec<StackEvent>,
    termination_protection: bool,
}

/// A stack as a test looks at it.
#[derive(Debug, Clone)]
pub struct FakeStack {
    pub template: Value,
    /// Newest first, as the API returns them.
    pub events: Vec<StackEvent>,
}

/// An event as CloudFormation reports the stack's own status changes.
pub fn stack_event(stack: &str, id: &str, status: &str) -> StackEvent {
    StackEvent {
        event_id: id.into(),
        timestamp: "2026-11-24T10:00:00Z".into(),
        logical_id: stack.into(),
        physical_id: None,
        resource_type: "AWS::CloudFormation::Stack".into(),
        status: status.into(),
        reason: None,
        client_request_token: None,
    }
}

/// What a stack holds after an operation: template, parameter values, resources and resolved outputs.
#[derive(Clone, Default)]
struct Deployed {
    template: Value,
    parameters: BTreeMap<String, String>,
    resources: BTreeMap<String, Resource>,
    outputs: BTreeMap<String, StackOutput>,
}

#[derive(Clone, Debug)]
struct Resource {
    resource_type: String,
    physical_id: String,
    /// Properties with every intrinsic resolved that could be (the rest kept as written).
    properties: Value,
    /// `DeletionPolicy`, `UpdateReplacePolicy`, `DependsOn` as written.
    attributes: Value,
}

struct ChangeSet {
    id: String,
    name: String,
    stack_id: String,
    status: String,
    status_reason: Option<String>,
    execution_status: String,
    template: Value,
    parameters: BTreeMap<String, String>,
    changes: Vec<ResourceChange>,
}

fn validation(operation: &'static str, stack: &str, message: impl Into<String>) -> AwsError {
    AwsError::Other {
        operation,
        stack: Some(stack.to_owned()),
        code: "ValidationError".into(),
        message: message.into(),
    }
}

fn missing_stack(operation: &'static str, stack: &str) -> AwsError {
    AwsError::StackNotFound {
        operation,
        stack: stack.to_owned(),
    }
}

impl FakeCloudFormation {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next CreateStack of `stack` fails with `events` (oldest first) and leaves ROLLBACK_COMPLETE.
    pub fn fail_next_create(&self, stack: &str, events: Vec<StackEvent>) {
        self.lock().failing_creates.insert(stack.to_owned(), events);
    }

    /// The next `count` answers to `operation` are lost after the call took effect; each is sent again.
    pub fn lose_answers(&self, operation: &'static str, count: usize) {
        self.lock().lost_answers.insert(operation, count);
    }

    /// Someone else creates `stack` from `template` right before strata's CreateStack for it arrives.
    pub fn create_meanwhile(&self, stack: &str, template: Value) {
        self.lock().created_meanwhile.insert(stack.into(), template);
    }

    /// A stack deployed outside this test's apply (by an earlier strata, or by hand), complete.
    pub fn deploy(&self, name: &str, template: Value, tags: BTreeMap<String, String>) -> String {
        let request = CreateStackRequest {
            stack: name.into(),
            template_body: template.to_string(),
            parameters: BTreeMap::new(),
            tags,
            capabilities: Vec::new(),
            termination_protection: false,
            client_request_token: RequestToken::derive("deployed", &[name]),
        };
        create_stack(&mut self.lock(), &request).expect("a stack name not taken yet")
    }

    /// Turns termination protection on, as prod's apply or a console user would.
    pub fn protect(&self, name: &str) {
        self.lock()
            .live_mut(name)
            .expect("a live stack to protect")
            .termination_protection = true;
    }

    /// The SSM parameter `name` holds `value` from now on (as when AWS publishes a newer image).
    pub fn set_ssm_parameter(&self, name: &str, value: &str) {
        self.lock()
            .ssm_parameters
            .insert(name.to_owned(), value.to_owned());
    }

    /// From now on, like an endpoint that records no tokens.
    pub fn ignore_tokens(&self) {
        self.lock().ignores_tokens = true;
    }

    /// Mutating calls so far, in order: `create NAME`, `create-change-set NAME`, `execute NAME`,
    /// `delete-change-set NAME`, `delete NAME`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The live stack of that name.
    pub fn stack(&self, name: &str) -> Option<FakeStack> {
        let state = self.lock();
        state.live(name).map(|s| FakeStack {
            template: s.deployed.template.clone(),
            events: s.events.clone(),
        })
    }

    /// Changes the deployed template of a live stack, as an update outside strata would; its resources keep
    /// their physical ids.
    pub fn edit_template(&self, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        let exports = export_values(&state);
        let stack = state.live_mut(name).expect("a live stack to edit");
        let mut template = stack.deployed.template.clone();
        edit(&mut template);
        let physical_ids = stack
            .deployed
            .resources
            .iter()
            .map(|(id, r)| (id.clone(), r.physical_id.clone()))
            .collect();
        let parameters = stack.deployed.parameters.clone();
        stack.deployed = build(&stack.name, &template, &parameters, &physical_ids, &exports);
    }

    pub fn status(&self, stack: &str) -> Option<String> {
        let state = self.lock();
        state.live(stack).map(|s| s.status.clone())
    }

    /// The live stack's parameter values.
    pub fn parameters(&self, stack: &str) -> BTreeMap<String, String> {
        let state = self.lock();
        state
            .live(stack)
            .map(|s| s.deployed.parameters.clone())
            .unwrap_or_default()
    }

    /// A resource's properties as deployed (intrinsics resolved).
    pub fn resource_properties(&self, stack: &str, logical_id: &str) -> Option<Value> {
        let state = self.lock();
        let stack = state.live(stack)?;
        Some(stack.deployed.resources.get(logical_id)?.properties.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a mutating call; when its answer is to be lost, the call takes effect and is then made again with
    /// the same request, as the SDK retries it, and the caller sees the second answer.
    fn mutate<T>(
        &self,
        operation: &'static str,
        mut call: impl FnMut(&mut State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let mut state = self.lock();
        let lost = match state.lost_answers.get_mut(operation) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        };
        let first = call(&mut state);
        if lost { call(&mut state) } else { first }
    }
}

impl State {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// By id any stack; by name the one that is not deleted.
    fn find(&self, name_or_id: &str) -> Option<&Stack> {
        self.stacks
            .iter()
            .find(|s| s.id == name_or_id)
            .or_else(|| self.live(name_or_id))
    }

    fn live(&self, name: &str) -> Option<&Stack> {
        self.stacks
            .iter()
            .find(|s| s.name == name && s.status != "DELETE_COMPLETE")
    }

    fn live_mut(&mut self, name_or_id: &str) -> Option<&mut Stack> {
        self.stacks
            .iter_mut()
            .find(|s| (s.id == name_or_id || s.name == name_or_id) && s.status != "DELETE_COMPLETE")
    }

    /// Export name -> (value, exporting stack name), over stacks that hold resources.
    fn exports(&self) -> BTreeMap<String, (String, String)> {
        self.stacks
            .iter()
            .filter(|s| holds_resources(&s.status))
            .flat_map(|s| {
                s.deployed.outputs.values().filter_map(|o| {
                    o.export_name
                        .clone()
                        .map(|name| (name, (o.value.clone(), s.name.clone())))
                })
            })
            .collect()
    }

    /// Stacks (other than `except`) whose deployed template imports `export`.
    fn importers(&self, export: &str, except: &str) -> Vec<String> {
        self.stacks
            .iter()
            .filter(|s| holds_resources(&s.status) && s.name != except)
            .filter(|s| imports(&s.deployed.template).contains(export))
            .map(|s| s.name.clone())
            .collect()
    }

    fn event(&mut self, stack: &str, status: &str, reason: Option<&str>) -> StackEvent {
        let n = self.next();
        StackEvent {
            event_id: format!("event-{n}"),
            timestamp: format!("2026-11-24T10:{:02}:{:02}Z", (n / 60) % 60, n % 60),
            logical_id: stack.to_owned(),
            physical_id: None,
            resource_type: "AWS::CloudFormation::Stack".into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
            client_request_token: None,
        }
    }

    fn resource_event(
        &mut self,
        logical_id: &str,
        resource: &Resource,
        status: &str,
    ) -> StackEvent {
        let n = self.next();
        StackEvent {
            event_id: format!("event-{n}"),
            timestamp: format!("2026-11-24T10:{:02}:{:02}Z", (n / 60) % 60, n % 60),
            logical_id: logical_id.to_owned(),
            physical_id: Some(resource.physical_id.clone()),
            resource_type: resource.resource_type.clone(),
            status: status.into(),
            reason: None,
            client_request_token: None,
        }
    }
}

/// CloudFormation stamps an operation's token on every event the operation produces (CreateStack API
/// reference, ClientRequestToken).
fn stamp(state: &State, events: &mut [StackEvent], token: &RequestToken) {
    if state.ignores_tokens {
        return;
    }
    for event in events {
        event.client_request_token = Some(token.as_str().to_owned());
    }
}

fn holds_resources(status: &str) -> bool {
    status != "DELETE_COMPLETE" && status != "ROLLBACK_COMPLETE" && status != "REVIEW_IN_PROGRESS"
}

fn imports(template: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "Fn::ImportValue"
                        && let Value::String(name) = inner
                    {
                        found.insert(name.clone());
                    }
                    walk(inner, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(template, &mut found);
    found
}

fn section<'a>(template: &'a Value, name: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    template
        .get(name)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|map| map.iter())
}

/// The values the stack's parameters take: given ones, else defaults; missing and unknown ones refused. An
/// SSM-typed parameter (`AWS::SSM::Parameter::Value<...>`) takes the value its SSM parameter holds at this
/// operation (CloudFormation reads Parameter Store at each create and update: User Guide, "Specify existing
/// resources at runtime with CloudFormation-supplied parameter types"), which DescribeStacks reports as
/// `ResolvedValue`: "Read-only. The value that corresponds to a Systems Manager parameter key" (API
/// reference, Parameter). This fake's description carries that value, as the SDK adapter reads it.
fn parameter_values(
    operation: &'static str,
    stack: &str,
    template: &Value,
    given: &BTreeMap<String, String>,
    ssm: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AwsError> {
    let declared: BTreeMap<&String, &Value> = section(template, "Parameters").collect();
    let unknown: Vec<&str> = given
        .keys()
        .filter(|k| !declared.contains_key(k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(validation(
            operation,
            stack,
            format!(
                "Parameters: [{}] do not exist in the template",
                unknown.join(", ")
            ),
        ));
    }
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, declaration) in declared {
        match given.get(name).cloned().or_else(|| {
            declaration
                .get("Default")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) {
            Some(value) => {
                let ssm_typed = declaration
                    .get("Type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("AWS::SSM::Parameter::Value<"));
                let value = match ssm.get(&value) {
                    Some(resolved) if ssm_typed => resolved.clone(),
                    None if ssm_typed => crate::aws::facts::fixed::IMAGE.to_owned(),
                    _ => value,
                };
                values.insert(name.clone(), value);
            }
            None => missing.push(name.as_str()),
        }
    }
    if missing.is_empty() {
        Ok(values)
    } else {
        Err(validation(
            operation,
            stack,
            format!("Parameters: [{}] must have values", missing.join(", ")),
        ))
    }
}

/// `Fn::GetAtt` of the fake's resources: DB endpoints derive from the physical id, so a replaced instance has a
/// new endpoint; anything else is a deterministic string.
struct Attributes<'a> {
    resources: &'a BTreeMap<String, Resource>,
}

impl AttributeSource for Attributes<'_> {
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let resource = self.resources.get(logical_id)?;
        let physical = &resource.physical_id;
        Some(match (resource.resource_type.as_str(), attribute) {
            ("AWS::RDS::DBInstance", "Endpoint.Address") => {
                format!("{physical}.cfake.{REGION}.rds.amazonaws.com")
            }
            ("AWS::RDS::DBInstance", "Endpoint.Port") => resource
                .properties
                .get("Port")
                .and_then(Value::as_str)
                .unwrap_or("5432")
                .to_owned(),
            ("AWS::EC2::LaunchTemplate", "LatestVersionNumber") => "1".to_owned(),
            (_, "Arn") => format!("arn:aws:fake:{REGION}:{ACCOUNT_ID}:{physical}"),
            _ => format!("{physical}.{attribute}"),
        })
    }
}

/// Resolves what can be resolved; `Fn::Base64` keeps its wrapper around the resolved text, and whatever cannot be
/// resolved (an attribute of a resource not created yet) is kept as written.
fn resolve(resolver: &Resolver, value: &Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Base64") => {
            json!({ "Fn::Base64": resolve(resolver, &map["Fn::Base64"]) })
        }
        Value::Object(map)
            if map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) =>
        {
            resolver.resolve(value).unwrap_or_else(|| value.clone())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(resolver, v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(resolver, v)).collect()),
        other => other.clone(),
    }
}

/// The stack's resources and outputs from `template` and `parameters`, given each resource's physical id.
fn build(
    stack: &str,
    template: &Value,
    parameters: &BTreeMap<String, String>,
    physical_ids: &BTreeMap<String, String>,
    exports: &BTreeMap<String, String>,
) -> Deployed {
    let mut resources: BTreeMap<String, Resource> = section(template, "Resources")
        .map(|(id, definition)| {
            let attributes: serde_json::Map<String, Value> = definition
                .as_object()
                .into_iter()
                .flat_map(|m| m.iter())
                .filter(|(k, _)| k.as_str() != "Type" && k.as_str() != "Properties")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (
                id.clone(),
                Resource {
                    resource_type: definition["Type"].as_str().unwrap_or_default().to_owned(),
                    physical_id: physical_ids.get(id).cloned().unwrap_or_default(),
                    properties: definition.get("Properties").cloned().unwrap_or(json!({})),
                    attributes: Value::Object(attributes),
                },
            )
        })
        .collect();
    // Attributes of the unresolved resources give endpoints (derived from physical ids only).
    let unresolved = resources.clone();
    let attributes = Attributes {
        resources: &unresolved,
    };
    let resolver = Resolver {
        stack_name: stack,
        region: REGION,
        account_id: ACCOUNT_ID,
        physical_ids,
        parameters,
        exports,
        attributes: &attributes,
    };
    for resource in resources.values_mut() {
        resource.properties = resolve(&resolver, &resource.properties);
    }
    let outputs = section(template, "Outputs")
        .map(|(name, output)| {
            (
                name.clone(),
                StackOutput {
                    value: resolver
                        .resolve_string(&output["Value"])
                        .unwrap_or_default(),
                    export_name: output
                        .get("Export")
                        .and_then(|e| e.get("Name"))
                        .and_then(|n| resolver.resolve_string(n)),
                    description: output
                        .get("Description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                },
            )
        })
        .collect();
    Deployed {
        template: template.clone(),
        parameters: parameters.clone(),
        resources,
        outputs,
    }
}

fn physical_id(stack: &str, logical_id: &str, definition: &Value, n: u64) -> String {
    match definition
        .get("Properties")
        .and_then(|p| p.get("BucketName"))
        .and_then(Value::as_str)
    {
        Some(name) => name.to_owned(),
        None => format!("{stack}-{logical_id}-{n}").to_ascii_lowercase(),
    }
}

/// What an update of `old` to (`template`, `parameters`) does to each resource, as a change set lists it.
fn diff(
    stack: &str,
    old: &Deployed,
    template: &Value,
    parameters: &BTreeMap<String, String>,
    exports: &BTreeMap<String, String>,
) -> Vec<ResourceChange> {
    let current: BTreeMap<String, String> = old
        .resources
        .iter()
        .map(|(id, r)| (id.clone(), r.physical_id.clone()))
        .collect();
    let planned = build(stack, template, parameters, &current, exports);
    let mut changes = Vec::new();
    for (id, new) in &planned.resources {
        match old.resources.get(id) {
            None => changes.push(change(ChangeAction::Add, id, new, None)),
            Some(before) if before.resource_type != new.resource_type => changes.push(change(
                ChangeAction::Modify,
                id,
                new,
                Some(Replacement::Always),
            )),
            Some(before) => {
                let known = catalog::lookup(&new.resource_type);
                let forced = changed_properties(&before.properties, &new.properties)
                    .iter()
                    .map(|property| {
                        known.map_or(Replacement::Conditional, |t| {
                            t.property_replacement(property)
                        })
                    })
                    .max();
                let attributes_changed = before.attributes != new.attributes;
                let replacement = match forced {
                    None if attributes_changed => Some(Replacement::Never),
                    other => other,
                };
                if let Some(replacement) = replacement {
                    let mut modified = change(ChangeAction::Modify, id, new, Some(replacement));
                    modified.physical_id = Some(before.physical_id.clone());
                    changes.push(modified);
                }
            }
        }
    }
    // Like AWS, a resource that refers to one that may be replaced is listed too: its new value is only known
    // once the replacement exists ("Dynamic" evaluation), with the effect of the properties that refer to it.
    loop {
        let replaced: BTreeSet<String> = changes
            .iter()
            .filter(|c| c.replacement.is_some_and(|r| r != Replacement::Never))
            .map(|c| c.logical_id.clone())
            .collect();
        let listed: BTreeSet<String> = changes.iter().map(|c| c.logical_id.clone()).collect();
        let dependents: Vec<ResourceChange> = section(template, "Resources")
            .filter(|(id, _)| !listed.contains(*id) && old.resources.contains_key(*id))
            .filter_map(|(id, definition)| {
                let before = old.resources.get(id)?;
                let known = catalog::lookup(&before.resource_type);
                // The effect of the properties whose value comes from a replaced resource.
                let effect = definition
                    .get("Properties")
                    .and_then(Value::as_object)?
                    .iter()
                    .filter(|(_, value)| {
                        crate::plan::parameters::references(value)
                            .iter()
                            .any(|r| replaced.contains(r))
                    })
                    .map(|(property, _)| {
                        known.map_or(Replacement::Conditional, |t| {
                            t.property_replacement(property)
                        })
                    })
                    .max()?;
                let mut modified = change(ChangeAction::Modify, id, before, Some(effect));
                modified.physical_id = Some(before.physical_id.clone());
                Some(modified)
            })
            .collect();
        if dependents.is_empty() {
            break;
        }
        changes.extend(dependents);
    }
    for (id, before) in &old.resources {
        if !planned.resources.contains_key(id) {
            let mut removed = change(ChangeAction::Remove, id, before, None);
            removed.physical_id = Some(before.physical_id.clone());
            changes.push(removed);
        }
    }
    changes
}

fn change(
    action: ChangeAction,
    id: &str,
    resource: &Resource,
    replacement: Option<Replacement>,
) -> ResourceChange {
    ResourceChange {
        action,
        logical_id: id.to_owned(),
        resource_type: resource.resource_type.clone(),
        physical_id: None,
        replacement,
        scope: vec!["Properties".into()],
    }
}

fn changed_properties(before: &Value, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}

/// Exports of `old` that `new` changes or removes while another stack imports them: CloudFormation's refusal.
fn exports_in_use(state: &State, stack: &str, old: &Deployed, new: &Deployed) -> Option<String> {
    let new_exports: BTreeMap<&String, &String> = new
        .outputs
        .values()
        .filter_map(|o| o.export_name.as_ref().map(|n| (n, &o.value)))
        .collect();
    for output in old.outputs.values() {
        let Some(name) = &output.export_name else {
            continue;
        };
        let Some(importer) = state.importers(name, stack).into_iter().next() else {
            continue;
        };
        match new_exports.get(name) {
            None => {
                return Some(format!(
                    "Export {name} cannot be deleted as it is in use by {importer}"
                ));
            }
            Some(value) if **value != output.value => {
                return Some(format!(
                    "Export {name} cannot be updated as it is in use by {importer}"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Exports `new` adds that another stack already exports (names are unique per account and region).
fn duplicate_export(state: &State, stack: &str, new: &Deployed) -> Option<String> {
    let existing = state.exports();
    new.outputs.values().find_map(|o| {
        let name = o.export_name.as_ref()?;
        match existing.get(name) {
            Some((_, owner)) if owner != stack => Some(format!(
                "Export with name {name} is already exported by stack {owner}"
            )),
            _ => None,
        }
    })
}

fn missing_import(template: &Value, exports: &BTreeMap<String, String>) -> Option<String> {
    imports(template)
        .into_iter()
        .find(|name| !exports.contains_key(name))
        .map(|name| format!("No export named {name} found."))
}

fn export_values(state: &State) -> BTreeMap<String, String> {
    state
        .exports()
        .into_iter()
        .map(|(name, (value, _))| (name, value))
        .collect()
}

fn create_stack(state: &mut State, request: &CreateStackRequest) -> Result<String, AwsError> {
    if let Some(template) = state.created_meanwhile.remove(&request.stack) {
        let someone_else = CreateStackRequest {
            template_body: template.to_string(),
            parameters: BTreeMap::new(),
            client_request_token: RequestToken::derive("console", &[&request.stack]),
            ..request.clone()
        };
        create_stack(state, &someone_else)?;
    }
    state.calls.push(format!("create {}", request.stack));
    let name = &request.stack;
    if state.live(name).is_some() {
        return Err(AwsError::AlreadyExists {
            operation: "CreateStack",
            stack: Some(name.clone()),
            message: format!("Stack [{name}] already exists"),
        });
    }
    let template: Value = serde_json::from_str(&request.template_body)
        .map_err(|e| validation("CreateStack", name, format!("Template format error: {e}")))?;
    let parameters = parameter_values(
        "CreateStack",
        name,
        &template,
        &request.parameters,
        &state.ssm_parameters,
    )?;
    let exports = export_values(state);
    if let Some(message) = missing_import(&template, &exports) {
        return Err(validation("CreateStack", name, message));
    }
    let n = state.next();
    let id = format!("arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{name}/{n}");
    let mut events = vec![state.event(name, "CREATE_IN_PROGRESS", Some("User Initiated"))];
    let (status, deployed) = if let Some(failure) = state.failing_creates.remove(name) {
        events.extend(failure);
        (
            "ROLLBACK_COMPLETE".to_owned(),
            Deployed {
                template: template.clone(),
                ..Deployed::default()
            },
        )
    } else {
        let mut physical_ids = BTreeMap::new();
        for (id, definition) in section(&template, "Resources") {
            let n = state.next();
            physical_ids.insert(id.clone(), physical_id(name, id, definition, n));
        }
        let deployed = build(name, &template, &parameters, &physical_ids, &exports);
        if let Some(reason) = duplicate_export(state, name, &deployed) {
            events.push(state.event(name, "ROLLBACK_IN_PROGRESS", Some(&reason)));
            events.push(state.event(name, "ROLLBACK_COMPLETE", None));
            (
                "ROLLBACK_COMPLETE".to_owned(),
                Deployed {
                    template: template.clone(),
                    ..Deployed::default()
                },
            )
        } else {
            for (id, resource) in &deployed.resources {
                let event = state.resource_event(id, resource, "CREATE_COMPLETE");
                events.push(event);
            }
            events.push(state.event(name, "CREATE_COMPLETE", None));
            ("CREATE_COMPLETE".to_owned(), deployed)
        }
    };
    stamp(state, &mut events, &request.client_request_token);
    events.reverse();
    state.stacks.push(Stack {
        name: name.clone(),
        id: id.clone(),
        status,
        deployed,
        tags: request.tags.clone(),
        events,
        termination_protection: request.termination_protection,
    });
    Ok(id)
}

fn create_change_set(
    state: &mut State,
    request: &ChangeSetRequest,
) -> Result<ChangeSetId, AwsError> {
    let name = &request.stack;
    state.calls.push(format!("create-change-set {name}"));
    if request.kind != ChangeSetKind::Update {
        return Err(validation(
            "CreateChangeSet",
            name,
            "this fake only makes UPDATE change sets (strata creates new stacks with CreateStack)",
        ));
    }
    let Some(stack) = state.live(name).cloned() else {
        return Err(missing_stack("CreateChangeSet", name));
    };
    if state
        .change_sets
        .iter()
        .any(|c| c.stack_id == stack.id && c.name == request.change_set)
    {
        return Err(AwsError::AlreadyExists {
            operation: "CreateChangeSet",
            stack: Some(name.clone()),
            message: format!("ChangeSet [{}] already exists", request.change_set),
        });
    }
    let template: Value = serde_json::from_str(&request.template_body).map_err(|e| {
        validation(
            "CreateChangeSet",
            name,
            format!("Template format error: {e}"),
        )
    })?;
    let parameters = parameter_values(
        "CreateChangeSet",
        name,
        &template,
        &request.parameters,
        &state.ssm_parameters,
    )?;
    let exports = export_values(state);
    if let Some(message) = missing_import(&template, &exports) {
        return Err(validation("CreateChangeSet", name, message));
    }
    let changes = diff(name, &stack.deployed, &template, &parameters, &exports);
    let unchanged = template == stack.deployed.template && parameters == stack.deployed.parameters;
    let n = state.next();
    let id = format!(
        "arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:changeSet/{}/{n}",
        request.change_set
    );
    state.change_sets.push(ChangeSet {
        id: id.clone(),
        name: request.change_set.clone(),
        stack_id: stack.id.clone(),
        status: if unchanged { "FAILED" } else { "CREATE_COMPLETE" }.into(),
        status_reason: unchanged.then(|| {
            "The submitted information didn't contain changes. Submit different information to create a change set.".to_owned()
        }),
        execution_status: if unchanged { "UNAVAILABLE" } else { "AVAILABLE" }.into(),
        template,
        parameters,
        changes,
    });
    Ok(ChangeSetId {
        change_set_id: id,
        stack_id: stack.id,
    })
}

fn delete_change_set(state: &mut State, stack: &str, change_set: &str) -> Result<(), AwsError> {
    state.calls.push(format!("delete-change-set {stack}"));
    let before = state.change_sets.len();
    state
        .change_sets
        .retain(|c| c.id != change_set && c.name != change_set);
    if state.change_sets.len() == before {
        return Err(AwsError::ChangeSetNotFound {
            operation: "DeleteChangeSet",
            stack: stack.to_owned(),
            change_set: change_set.to_owned(),
        });
    }
    Ok(())
}

fn execute_change_set(
    state: &mut State,
    stack: &str,
    change_set: &str,
    token: &RequestToken,
) -> Result<(), AwsError> {
    state.calls.push(format!("execute {stack}"));
    let Some(index) = state
        .change_sets
        .iter()
        .position(|c| c.id == change_set || c.name == change_set)
    else {
        return Err(AwsError::ChangeSetNotFound {
            operation: "ExecuteChangeSet",
            stack: stack.to_owned(),
            change_set: change_set.to_owned(),
        });
    };
    if state.change_sets[index].execution_status != "AVAILABLE" {
        return Err(AwsError::InvalidChangeSetStatus {
            operation: "ExecuteChangeSet",
            stack: Some(stack.to_owned()),
            message: format!(
                "ChangeSet [{}] cannot be executed in its current status of [{}]",
                state.change_sets[index].name, state.change_sets[index].execution_status
            ),
        });
    }
    let Some(current) = state.live(stack).cloned() else {
        return Err(missing_stack("ExecuteChangeSet", stack));
    };
    let chosen = &state.change_sets[index];
    let template = chosen.template.clone();
    let parameters = chosen.parameters.clone();
    let changes = chosen.changes.clone();
    // "After you execute a change set, CloudFormation removes all change sets associated with the stack"
    // (CloudFormation User Guide, executing a change set).
    let stack_id = current.id.clone();
    state.change_sets.retain(|c| c.stack_id != stack_id);

    let mut physical_ids: BTreeMap<String, String> = current
        .deployed
        .resources
        .iter()
        .map(|(id, r)| (id.clone(), r.physical_id.clone()))
        .collect();
    for change in &changes {
        let fresh = change.action == ChangeAction::Add
            || (change.action == ChangeAction::Modify
                && change.replacement == Some(Replacement::Always));
        if fresh {
            let n = state.next();
            let definition = &template["Resources"][&change.logical_id];
            physical_ids.insert(
                change.logical_id.clone(),
                physical_id(stack, &change.logical_id, definition, n),
            );
        }
    }
    physical_ids.retain(|id, _| template["Resources"].get(id).is_some());
    let exports = export_values(state);
    let updated = build(stack, &template, &parameters, &physical_ids, &exports);

    let mut events = vec![state.event(stack, "UPDATE_IN_PROGRESS", Some("User Initiated"))];
    for change in &changes {
        let status = match change.action {
            ChangeAction::Remove => "DELETE_COMPLETE",
            ChangeAction::Add => "CREATE_COMPLETE",
            _ => "UPDATE_COMPLETE",
        };
        let resource = updated
            .resources
            .get(&change.logical_id)
            .or_else(|| current.deployed.resources.get(&change.logical_id));
        if let Some(resource) = resource.cloned() {
            let event = state.resource_event(&change.logical_id, &resource, status);
            events.push(event);
        }
    }
    let refusal = exports_in_use(state, stack, &current.deployed, &updated)
        .or_else(|| duplicate_export(state, stack, &updated));
    let (status, deployed) = match refusal {
        // AWS checks exports after updating the resources, then rolls all of it back.
        Some(reason) => {
            events.push(state.event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", Some(&reason)));
            events.push(state.event(stack, "UPDATE_ROLLBACK_COMPLETE", None));
            ("UPDATE_ROLLBACK_COMPLETE", current.deployed.clone())
        }
        None => {
            events.push(state.event(stack, "UPDATE_COMPLETE", None));
            ("UPDATE_COMPLETE", updated)
        }
    };
    stamp(state, &mut events, token);
    let Some(live) = state.live_mut(stack) else {
        return Err(missing_stack("ExecuteChangeSet", stack));
    };
    live.status = status.into();
    live.deployed = deployed;
    for event in events {
        live.events.insert(0, event);
    }
    Ok(())
}

fn delete_stack(state: &mut State, stack: &str, token: &RequestToken) -> Result<(), AwsError> {
    let name = state
        .find(stack)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| stack.to_owned());
    state.calls.push(format!("delete {name}"));
    let Some(found) = state.find(stack).cloned() else {
        return Ok(());
    };
    if found.status == "DELETE_COMPLETE" {
        return Ok(());
    }
    if found.termination_protection {
        return Err(validation(
            "DeleteStack",
            &name,
            format!("Stack [{name}] cannot be deleted while TerminationProtection is enabled"),
        ));
    }
    let in_use = found.deployed.outputs.values().find_map(|o| {
        let export = o.export_name.as_ref()?;
        let importer = state.importers(export, &name).into_iter().next()?;
        Some(format!(
            "Export {export} cannot be deleted as it is in use by {importer}"
        ))
    });
    let mut events = vec![state.event(&name, "DELETE_IN_PROGRESS", Some("User Initiated"))];
    let status = match &in_use {
        Some(reason) => {
            events.push(state.event(&name, "DELETE_FAILED", Some(reason)));
            "DELETE_FAILED"
        }
        None => {
            events.push(state.event(&name, "DELETE_COMPLETE", None));
            "DELETE_COMPLETE"
        }
    };
    stamp(state, &mut events, token);
    if let Some(live) = state.stacks.iter_mut().find(|s| s.id == found.id) {
        live.status = status.into();
        for event in events {
            live.events.insert(0, event);
        }
    }
    Ok(())
}

impl CloudFormation for FakeCloudFormation {
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackDescription>, AwsError> {
        let state = self.lock();
        // Like the SDK adapter: a deleted stack (looked up by id) is gone for strata.
        Ok(state
            .find(stack)
            .filter(|s| s.status != "DELETE_COMPLETE")
            .map(|s| StackDescription {
                name: s.name.clone(),
                id: s.id.clone(),
                status: StackStatus(s.status.clone()),
                status_reason: None,
                outputs: s.deployed.outputs.clone(),
                parameters: s.deployed.parameters.clone(),
                tags: s.tags.clone(),
                termination_protection: s.termination_protection,
            }))
    }

    async fn list_stacks(&self) -> Result<Vec<StackSummary>, AwsError> {
        // Like ListStacks with the status filter strata uses: deleted stacks are left out.
        Ok(self
            .lock()
            .stacks
            .iter()
            .filter(|s| s.status != "DELETE_COMPLETE")
            .map(|s| StackSummary {
                name: s.name.clone(),
                id: s.id.clone(),
                status: StackStatus(s.status.clone()),
            })
            .collect())
    }

    async fn get_template(&self, stack: &str) -> Result<Value, AwsError> {
        let state = self.lock();
        state
            .find(stack)
            .map(|s| s.deployed.template.clone())
            .ok_or_else(|| missing_stack("GetTemplate", stack))
    }

    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        self.mutate("CreateStack", |state| create_stack(state, request))
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
        self.mutate("CreateChangeSet", |state| create_change_set(state, request))
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetDescription, AwsError> {
        let state = self.lock();
        let found = state
            .change_sets
            .iter()
            .find(|c| c.id == change_set || c.name == change_set)
            .ok_or_else(|| AwsError::ChangeSetNotFound {
                operation: "DescribeChangeSet",
                stack: stack.to_owned(),
                change_set: change_set.to_owned(),
            })?;
        Ok(ChangeSetDescription {
            stack: stack.to_owned(),
            change_set: found.name.clone(),
            id: found.id.clone(),
            status: found.status.clone(),
            status_reason: found.status_reason.clone(),
            execution_status: found.execution_status.clone(),
            changes: found.changes.clone(),
        })
    }

    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsError> {
        self.mutate("DeleteChangeSet", |state| {
            delete_change_set(state, stack, change_set)
        })
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &RequestToken,
    ) -> Result<(), AwsError> {
        self.mutate("ExecuteChangeSet", |state| {
            execute_change_set(state, stack, change_set, token)
        })
    }

    async fn describe_stack_events(
        &self,
        stack: &str,
        until_event_id: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let state = self.lock();
        let found = state
            .find(stack)
            .ok_or_else(|| missing_stack("DescribeStackEvents", stack))?;
        Ok(found
            .events
            .iter()
            .take_while(|e| Some(e.event_id.as_str()) != until_event_id)
            .cloned()
            .collect())
    }

    async fn recent_stack_events(&self, stack: &str) -> Result<Vec<StackEvent>, AwsError> {
        self.describe_stack_events(stack, None).await
    }

    async fn list_stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        let state = self.lock();
        let found = state
            .find(stack)
            .ok_or_else(|| missing_stack("ListStackResources", stack))?;
        Ok(found
            .deployed
            .resources
            .iter()
            .map(|(id, r)| StackResource {
                logical_id: id.clone(),
                physical_id: Some(r.physical_id.clone()),
                resource_type: r.resource_type.clone(),
                status: "UPDATE_COMPLETE".into(),
                status_reason: None,
            })
            .collect())
    }

    async fn list_exports(&self) -> Result<BTreeMap<String, Export>, AwsError> {
        let state = self.lock();
        Ok(state
            .stacks
            .iter()
            .filter(|s| holds_resources(&s.status))
            .flat_map(|s| {
                s.deployed.outputs.values().filter_map(|o| {
                    let name = o.export_name.clone()?;
                    Some((
                        name.clone(),
                        Export {
                            name,
                            value: o.value.clone(),
                            exporting_stack_id: s.id.clone(),
                        },
                    ))
                })
            })
            .collect())
    }

    async fn delete_stack(&self, stack: &str, token: &RequestToken) -> Result<(), AwsError> {
        self.mutate("DeleteStack", |state| delete_stack(state, stack, token))
    }

    async fn update_termination_protection(
        &self,
        stack: &str,
        enabled: bool,
    ) -> Result<(), AwsError> {
        let mut state = self.lock();
        let live = state
            .live_mut(stack)
            .ok_or_else(|| missing_stack("UpdateTerminationProtection", stack))?;
        live.termination_protection = enabled;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(stack: &str, template: Value, parameters: &[(&str, &str)]) -> CreateStackRequest {
        CreateStackRequest {
            stack: stack.into(),
            template_body: template.to_string(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: BTreeMap::new(),
            capabilities: vec![],
            termination_protection: false,
            client_request_token: RequestToken::derive("create", &[stack]),
        }
    }

    static CHANGE_SETS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn update(stack: &str, template: Value, parameters: &[(&str, &str)]) -> ChangeSetRequest {
        ChangeSetRequest {
            stack: stack.into(),
            // A failed change set keeps its name, as on AWS: every request here gets its own.
            change_set: format!(
                "cs-{}",
                CHANGE_SETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            kind: ChangeSetKind::Update,
            template_body: template.to_string(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: BTreeMap::new(),
            capabilities: vec![],
            description: None,
            client_token: RequestToken::derive("changeset", &[stack]),
        }
    }

    fn token() -> RequestToken {
        RequestToken::derive("test", &[])
    }

    /// A database stack exporting its endpoint (the old design).
    fn database(exported: &str) -> Value {
        json!({
            "Resources": {
                "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres", "DBName": "feed"}},
            },
            "Outputs": {
                "Endpoint": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}, "Export": {"Name": exported}},
            }
        })
    }

    fn consumer(import: &str) -> Value {
        json!({
            "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Tag": {"Fn::ImportValue": import}}}},
        })
    }

    async fn execute_update(fake: &FakeCloudFormation, stack: &str, template: Value) {
        let id = fake
            .create_change_set(&update(stack, template, &[]))
            .await
            .unwrap()
            .change_set_id;
        fake.execute_change_set(stack, &id, &token()).await.unwrap();
    }

    #[tokio::test]
    async fn an_export_in_use_cannot_be_changed_or_deleted() {
        let fake = FakeCloudFormation::new();
        fake.create_stack(&create("db", database("db-Endpoint"), &[]))
            .await
            .unwrap();
        fake.create_stack(&create("app", consumer("db-Endpoint"), &[]))
            .await
            .unwrap();
        let before = fake.resource_properties("app", "Q").unwrap();
        assert!(
            before["Tag"]
                .as_str()
                .unwrap()
                .ends_with(".rds.amazonaws.com")
        );

        // Renaming the database replaces it: a new endpoint, refused while `app` imports it.
        let mut renamed = database("db-Endpoint");
        renamed["Resources"]["Db"]["Properties"]["DBName"] = json!("feeds");
        execute_update(&fake, "db", renamed).await;
        assert_eq!(
            fake.status("db").as_deref(),
            Some("UPDATE_ROLLBACK_COMPLETE")
        );
        let events = fake.describe_stack_events("db", None).await.unwrap();
        assert_eq!(
            events[1].reason.as_deref(),
            Some("Export db-Endpoint cannot be updated as it is in use by app")
        );

        // Dropping the export is refused the same way, and so is deleting the stack.
        let mut dropped = database("db-Endpoint");
        dropped["Outputs"]["Endpoint"]
            .as_object_mut()
            .unwrap()
            .remove("Export");
        execute_update(&fake, "db", dropped).await;
        let events = fake.describe_stack_events("db", None).await.unwrap();
        assert_eq!(
            events[1].reason.as_deref(),
            Some("Export db-Endpoint cannot be deleted as it is in use by app")
        );
        fake.delete_stack("db", &token()).await.unwrap();
        assert_eq!(fake.status("db").as_deref(), Some("DELETE_FAILED"));

        // Without the importer, both go through.
        fake.delete_stack("app", &token()).await.unwrap();
        let mut renamed = database("db-Endpoint");
        renamed["Resources"]["Db"]["Properties"]["DBName"] = json!("feeds");
        execute_update(&fake, "db", renamed).await;
        assert_eq!(fake.status("db").as_deref(), Some("UPDATE_COMPLETE"));
    }

    #[tokio::test]
    async fn parameters_must_be_given_unless_defaulted_and_change_sets_see_them() {
        let fake = FakeCloudFormation::new();
        let template = json!({
            "Parameters": {"Endpoint": {"Type": "String"}, "Size": {"Type": "String", "Default": "1"}},
            "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Tag": {"Ref": "Endpoint"}}}},
        });
        let err = fake
            .create_stack(&create("app", template.clone(), &[]))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Parameters: [Endpoint] must have values"),
            "{err}"
        );
        let err = fake
            .create_stack(&create(
                "app",
                template.clone(),
                &[("Endpoint", "a"), ("Nope", "x")],
            ))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("Parameters: [Nope] do not exist"),
            "{err}"
        );
        fake.create_stack(&create("app", template.clone(), &[("Endpoint", "a")]))
            .await
            .unwrap();
        assert_eq!(
            fake.parameters("app"),
            BTreeMap::from([("Endpoint".into(), "a".into()), ("Size".into(), "1".into())])
        );

        let same = fake
            .create_change_set(&update("app", template.clone(), &[("Endpoint", "a")]))
            .await
            .unwrap();
        let described = fake
            .describe_change_set("app", &same.change_set_id)
            .await
            .unwrap();
        assert_eq!(described.status, "FAILED");
        assert!(
            described
                .status_reason
                .unwrap()
                .contains("didn't contain changes")
        );

        let other = fake
            .create_change_set(&update("app", template, &[("Endpoint", "b")]))
            .await
            .unwrap();
        let described = fake
            .describe_change_set("app", &other.change_set_id)
            .await
            .unwrap();
        assert_eq!(described.changes.len(), 1);
        assert_eq!(described.changes[0].logical_id, "Q");
        assert_eq!(described.changes[0].replacement, Some(Replacement::Never));
        fake.execute_change_set("app", &other.change_set_id, &token())
            .await
            .unwrap();
        assert_eq!(fake.resource_properties("app", "Q").unwrap()["Tag"], "b");
        // Executing removed the stack's change sets: the executed one cannot run twice.
        assert!(
            fake.execute_change_set("app", &other.change_set_id, &token())
                .await
                .is_err()
        );
    }
}
