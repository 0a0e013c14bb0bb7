//! An in-memory CloudFormation for unit tests of plan, apply and destroy. It keeps the rules AWS enforces and
//! the emulator does not: a stack name is taken once, every event of an operation carries the operation's
//! `ClientRequestToken`, executing a change set removes the stack's change sets, a failed first creation leaves
//! `ROLLBACK_COMPLETE`. And it plays the faults a real network adds: an answer lost after the call took effect
//! (the SDK then sends the same request again), a stack created by someone else between a look and a create.
//! Exports are the templates' literal `Export.Name`s, and a stack whose export another live stack imports
//! cannot be deleted (User Guide, `Fn::ImportValue`: "you can't delete the stack that is exporting the output
//! value"); its delete ends in `DELETE_FAILED`, as on AWS (moto has no such check).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::cloudformation::{
    ChangeAction, ChangeSetDescription, ChangeSetId, ChangeSetRequest, CloudFormation,
    CreateStackRequest, Export, RequestToken, ResourceChange, StackDescription, StackEvent,
    StackOutput, StackResource, StackStatus, StackSummary, parse_template_body,
};
use super::error::AwsError;

#[derive(Default)]
pub struct FakeCloudFormation {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every stack ever created, deleted ones included (looked up by id they stay visible).
    stacks: Vec<FakeStack>,
    change_sets: Vec<FakeChangeSet>,
    /// The next CreateStack of these stacks fails with these events (oldest first).
    failing: BTreeMap<String, Vec<StackEvent>>,
    /// Per operation (`CreateStack`, ...): how many more of its answers are lost.
    lost_answers: BTreeMap<&'static str, usize>,
    /// Stacks someone else creates (with this template) just before strata's CreateStack arrives.
    created_meanwhile: BTreeMap<String, Value>,
    /// Like an endpoint that ignores tokens: events carry none.
    ignores_tokens: bool,
    calls: Vec<String>,
    serial: usize,
}

#[derive(Debug, Clone)]
pub struct FakeStack {
    pub name: String,
    pub id: String,
    pub status: String,
    pub template: Value,
    pub tags: BTreeMap<String, String>,
    /// Newest first, as the API returns them.
    pub events: Vec<StackEvent>,
    pub termination_protection: bool,
}

#[derive(Debug, Clone)]
struct FakeChangeSet {
    id: String,
    name: String,
    stack: String,
    template: Value,
    status: String,
    status_reason: Option<String>,
    execution_status: String,
    changes: Vec<ResourceChange>,
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

impl FakeCloudFormation {
    /// The next CreateStack of `stack` fails and rolls back with `events` (oldest first).
    pub fn fail_next_create(&self, stack: &str, events: Vec<StackEvent>) {
        self.lock().failing.insert(stack.into(), events);
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
        self.lock()
            .create(&request)
            .expect("a stack name not taken yet")
    }

    /// Turns termination protection on, as prod's apply or a console user would.
    pub fn protect(&self, name: &str) {
        self.lock()
            .live_mut(name)
            .expect("a live stack to protect")
            .termination_protection = true;
    }

    pub fn ignore_tokens(&self) {
        self.lock().ignores_tokens = true;
    }

    /// The mutating calls made, in order (`create NAME`, `execute NAME`, `delete NAME`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The live stack of that name.
    pub fn stack(&self, name: &str) -> Option<FakeStack> {
        self.lock().live(name).cloned()
    }

    pub fn status(&self, name: &str) -> Option<String> {
        self.stack(name).map(|s| s.status)
    }

    /// Changes the deployed template of a live stack, as an update outside strata would.
    pub fn edit_template(&self, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        let stack = state.live_mut(name).expect("a live stack to edit");
        edit(&mut stack.template);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// Runs a mutating call; when its answer is to be lost, the call takes effect and is then made again
    /// with the same request, as the SDK retries it, and the caller sees the second answer.
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
    fn live(&self, name_or_id: &str) -> Option<&FakeStack> {
        self.stacks
            .iter()
            .find(|s| s.id == name_or_id && s.status != "DELETE_COMPLETE")
            .or_else(|| {
                self.stacks
                    .iter()
                    .find(|s| s.name == name_or_id && s.status != "DELETE_COMPLETE")
            })
    }

    fn live_mut(&mut self, name_or_id: &str) -> Option<&mut FakeStack> {
        let index = self
            .stacks
            .iter()
            .position(|s| s.id == name_or_id && s.status != "DELETE_COMPLETE")
            .or_else(|| {
                self.stacks
                    .iter()
                    .position(|s| s.name == name_or_id && s.status != "DELETE_COMPLETE")
            })?;
        Some(&mut self.stacks[index])
    }

    fn not_found(operation: &'static str, stack: &str) -> AwsError {
        AwsError::StackNotFound {
            operation,
            stack: stack.to_owned(),
        }
    }

    /// Adds the stack's own events for one operation (oldest first), stamped with its token.
    fn record(&mut self, stack: &str, token: Option<&RequestToken>, mut events: Vec<StackEvent>) {
        let ignores_tokens = self.ignores_tokens;
        for event in &mut events {
            self.serial += 1;
            if event.event_id.is_empty() {
                event.event_id = format!("{stack}-event-{}", self.serial);
            }
            if !ignores_tokens {
                event.client_request_token = token.map(|t| t.as_str().to_owned());
            }
        }
        if let Some(found) = self.live_mut(stack) {
            for event in events {
                found.events.insert(0, event);
            }
        }
    }

    fn create(&mut self, request: &CreateStackRequest) -> Result<String, AwsError> {
        if let Some(template) = self.created_meanwhile.remove(&request.stack) {
            let someone_else = CreateStackRequest {
                template_body: template.to_string(),
                client_request_token: RequestToken::derive("console", &[&request.stack]),
                ..request.clone()
            };
            self.create(&someone_else)?;
        }
        self.calls.push(format!("create {}", request.stack));
        if self.live(&request.stack).is_some() {
            return Err(AwsError::AlreadyExists {
                operation: "CreateStack",
                stack: Some(request.stack.clone()),
                message: format!("Stack [{}] already exists", request.stack),
            });
        }
        let template =
            parse_template_body(&request.template_body).map_err(|message| AwsError::Other {
                operation: "CreateStack",
                stack: Some(request.stack.clone()),
                code: "ValidationError".into(),
                message,
            })?;
        self.serial += 1;
        let id = format!("{}#{}", request.stack, self.serial);
        let (status, events) = match self.failing.remove(&request.stack) {
            Some(events) => ("ROLLBACK_COMPLETE", events),
            None => (
                "CREATE_COMPLETE",
                vec![
                    stack_event(&request.stack, "", "CREATE_IN_PROGRESS"),
                    stack_event(&request.stack, "", "CREATE_COMPLETE"),
                ],
            ),
        };
        self.stacks.push(FakeStack {
            name: request.stack.clone(),
            id: id.clone(),
            status: status.into(),
            template,
            tags: request.tags.clone(),
            events: Vec::new(),
            termination_protection: request.termination_protection,
        });
        self.record(&id, Some(&request.client_request_token), events);
        Ok(id)
    }

    fn create_change_set(&mut self, request: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
        self.calls
            .push(format!("create-change-set {}", request.stack));
        let stack = self
            .live(&request.stack)
            .ok_or_else(|| State::not_found("CreateChangeSet", &request.stack))?
            .clone();
        if self
            .change_sets
            .iter()
            .any(|c| c.stack == stack.name && c.name == request.change_set)
        {
            return Err(AwsError::AlreadyExists {
                operation: "CreateChangeSet",
                stack: Some(stack.name.clone()),
                message: format!("ChangeSet [{}] already exists", request.change_set),
            });
        }
        let template = parse_template_body(&request.template_body).unwrap_or(Value::Null);
        let changes = resource_changes(&stack.template, &template);
        let (status, status_reason, execution_status) = if changes.is_empty() {
            (
                "FAILED",
                Some(
                    "The submitted information didn't contain changes. Submit different information to create a change set."
                        .to_owned(),
                ),
                "UNAVAILABLE",
            )
        } else {
            ("CREATE_COMPLETE", None, "AVAILABLE")
        };
        self.serial += 1;
        let id = format!(
            "arn:aws:cloudformation:eu-west-1:111111111111:changeSet/{}/{}",
            request.change_set, self.serial
        );
        self.change_sets.push(FakeChangeSet {
            id: id.clone(),
            name: request.change_set.clone(),
            stack: stack.name.clone(),
            template,
            status: status.into(),
            status_reason,
            execution_status: execution_status.into(),
            changes,
        });
        Ok(ChangeSetId {
            change_set_id: id,
            stack_id: stack.id,
        })
    }

    fn change_set(&self, stack: &str, change_set: &str) -> Option<&FakeChangeSet> {
        let stack = self.live(stack).map(|s| s.name.clone())?;
        self.change_sets
            .iter()
            .find(|c| c.stack == stack && (c.id == change_set || c.name == change_set))
    }

    fn change_set_not_found(operation: &'static str, stack: &str, change_set: &str) -> AwsError {
        AwsError::ChangeSetNotFound {
            operation,
            stack: stack.to_owned(),
            change_set: change_set.to_owned(),
        }
    }

    fn execute(
        &mut self,
        stack: &str,
        change_set: &str,
        token: &RequestToken,
    ) -> Result<(), AwsError> {
        self.calls.push(format!("execute {stack}"));
        let found = self
            .change_set(stack, change_set)
            .cloned()
            .ok_or_else(|| State::change_set_not_found("ExecuteChangeSet", stack, change_set))?;
        if found.execution_status != "AVAILABLE" {
            return Err(AwsError::InvalidChangeSetStatus {
                operation: "ExecuteChangeSet",
                stack: Some(stack.to_owned()),
                message: format!(
                    "ChangeSet [{}] cannot be executed in its current execution status of [{}]",
                    found.id, found.execution_status
                ),
            });
        }
        let deployed = self
            .live_mut(stack)
            .ok_or_else(|| State::not_found("ExecuteChangeSet", stack))?;
        deployed.template = found.template.clone();
        deployed.status = "UPDATE_COMPLETE".into();
        let name = deployed.name.clone();
        // "After you execute a change set, CloudFormation removes all change sets associated with the stack"
        // (CloudFormation User Guide, executing a change set).
        self.change_sets.retain(|c| c.stack != name);
        self.record(
            &name,
            Some(token),
            vec![
                stack_event(&name, "", "UPDATE_IN_PROGRESS"),
                stack_event(&name, "", "UPDATE_COMPLETE"),
            ],
        );
        Ok(())
    }

    fn delete(&mut self, stack: &str, token: &RequestToken) -> Result<(), AwsError> {
        self.calls.push(format!(
            "delete {}",
            stack.split('#').next().unwrap_or_default()
        ));
        // Deleting a stack that does not exist succeeds (AWS and moto alike).
        let Some(found) = self.live(stack).cloned() else {
            return Ok(());
        };
        if found.termination_protection {
            return Err(AwsError::Other {
                operation: "DeleteStack",
                stack: Some(found.name.clone()),
                code: "ValidationError".into(),
                message: format!(
                    "Stack [{}] cannot be deleted while TerminationProtection is enabled",
                    found.name
                ),
            });
        }
        let in_use = exports(&found.template).into_iter().find_map(|export| {
            self.stacks
                .iter()
                .filter(|s| s.status != "DELETE_COMPLETE" && s.id != found.id)
                .find(|s| crate::model::imports_in(&s.template).contains(&export))
                .map(|importer| (export, importer.name.clone()))
        });
        if let Some((export, importer)) = in_use {
            let mut failed = stack_event(&found.name, "", "DELETE_FAILED");
            failed.reason = Some(format!(
                "Export {export} cannot be deleted as it is in use by {importer}"
            ));
            self.record(
                &found.id,
                Some(token),
                vec![stack_event(&found.name, "", "DELETE_IN_PROGRESS"), failed],
            );
            if let Some(stuck) = self.live_mut(&found.id) {
                stuck.status = "DELETE_FAILED".into();
            }
            return Ok(());
        }
        self.record(
            &found.id,
            Some(token),
            vec![
                stack_event(&found.name, "", "DELETE_IN_PROGRESS"),
                stack_event(&found.name, "", "DELETE_COMPLETE"),
            ],
        );
        if let Some(deleted) = self.live_mut(&found.id) {
            deleted.status = "DELETE_COMPLETE".into();
        }
        Ok(())
    }
}

/// The template's outputs with a literal `Export.Name`, by output name: (export name, value). The value stands
/// for what the output resolves to.
fn outputs(stack: &str, template: &Value) -> BTreeMap<String, StackOutput> {
    template
        .get("Outputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, output)| {
            let export_name = output
                .pointer("/Export/Name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let value = StackOutput {
                value: format!("{stack}-{name}-value"),
                export_name,
                description: None,
            };
            (name.clone(), value)
        })
        .collect()
}

fn exports(template: &Value) -> Vec<String> {
    outputs("", template)
        .into_values()
        .filter_map(|o| o.export_name)
        .collect()
}

/// Add, Modify and Remove per logical id between two templates, as a change set lists them.
fn resource_changes(deployed: &Value, new: &Value) -> Vec<ResourceChange> {
    let empty = serde_json::Map::new();
    let resources = |template: &Value| {
        template
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (before, after) = (resources(deployed), resources(new));
    let change = |action: ChangeAction, id: &str, resource: &Value| ResourceChange {
        action,
        logical_id: id.to_owned(),
        resource_type: resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        physical_id: None,
        replacement: None,
        scope: Vec::new(),
    };
    let mut changes = Vec::new();
    for (id, resource) in &after {
        match before.get(id) {
            None => changes.push(change(ChangeAction::Add, id, resource)),
            Some(old) if old != resource => {
                changes.push(change(ChangeAction::Modify, id, resource))
            }
            Some(_) => {}
        }
    }
    for (id, resource) in &before {
        if !after.contains_key(id) {
            changes.push(change(ChangeAction::Remove, id, resource));
        }
    }
    changes
}

impl CloudFormation for FakeCloudFormation {
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackDescription>, AwsError> {
        Ok(self.lock().live(stack).map(|s| StackDescription {
            name: s.name.clone(),
            id: s.id.clone(),
            status: StackStatus(s.status.clone()),
            status_reason: None,
            outputs: outputs(&s.name, &s.template),
            parameters: BTreeMap::new(),
            tags: s.tags.clone(),
            termination_protection: s.termination_protection,
        }))
    }

    async fn list_stacks(&self) -> Result<Vec<StackSummary>, AwsError> {
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
        self.lock()
            .live(stack)
            .map(|s| s.template.clone())
            .ok_or_else(|| State::not_found("GetTemplate", stack))
    }

    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        self.mutate("CreateStack", |state| state.create(request))
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
        self.mutate("CreateChangeSet", |state| state.create_change_set(request))
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetDescription, AwsError> {
        let state = self.lock();
        let found = state
            .change_set(stack, change_set)
            .ok_or_else(|| State::change_set_not_found("DescribeChangeSet", stack, change_set))?;
        Ok(ChangeSetDescription {
            stack: found.stack.clone(),
            change_set: found.name.clone(),
            id: found.id.clone(),
            status: found.status.clone(),
            status_reason: found.status_reason.clone(),
            execution_status: found.execution_status.clone(),
            changes: found.changes.clone(),
        })
    }

    /// Like the SDK adapter, a change set that is gone counts as deleted.
    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsError> {
        self.mutate("DeleteChangeSet", |state| {
            state.calls.push(format!("delete-change-set {stack}"));
            let id = state.change_set(stack, change_set).map(|c| c.id.clone());
            state.change_sets.retain(|c| Some(&c.id) != id.as_ref());
            Ok(())
        })
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &RequestToken,
    ) -> Result<(), AwsError> {
        self.mutate("ExecuteChangeSet", |state| {
            state.execute(stack, change_set, token)
        })
    }

    async fn describe_stack_events(
        &self,
        stack: &str,
        until: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let state = self.lock();
        let found = state
            .live(stack)
            .or_else(|| state.stacks.iter().find(|s| s.id == stack))
            .ok_or_else(|| State::not_found("DescribeStackEvents", stack))?;
        Ok(found
            .events
            .iter()
            .take_while(|e| Some(e.event_id.as_str()) != until)
            .cloned()
            .collect())
    }

    async fn recent_stack_events(&self, stack: &str) -> Result<Vec<StackEvent>, AwsError> {
        self.describe_stack_events(stack, None).await
    }

    async fn list_stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        let state = self.lock();
        let found = state
            .live(stack)
            .ok_or_else(|| State::not_found("ListStackResources", stack))?;
        Ok(found
            .template
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(id, resource)| StackResource {
                logical_id: id.clone(),
                physical_id: Some(format!("{}-{id}", found.name)),
                resource_type: resource
                    .get("Type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                status: "CREATE_COMPLETE".into(),
                status_reason: None,
            })
            .collect())
    }

    async fn list_exports(&self) -> Result<BTreeMap<String, Export>, AwsError> {
        let state = self.lock();
        Ok(state
            .stacks
            .iter()
            .filter(|s| s.status != "DELETE_COMPLETE")
            .flat_map(|s| {
                outputs(&s.name, &s.template)
                    .into_values()
                    .filter_map(move |o| {
                        o.export_name.map(|name| {
                            let export = Export {
                                name: name.clone(),
                                value: o.value,
                                exporting_stack_id: s.id.clone(),
                            };
                            (name, export)
                        })
                    })
            })
            .collect())
    }

    async fn delete_stack(&self, stack: &str, token: &RequestToken) -> Result<(), AwsError> {
        self.mutate("DeleteStack", |state| state.delete(stack, token))
    }

    async fn update_termination_protection(
        &self,
        stack: &str,
        enabled: bool,
    ) -> Result<(), AwsError> {
        let mut state = self.lock();
        let found = state
            .live_mut(stack)
            .ok_or_else(|| State::not_found("UpdateTerminationProtection", stack))?;
        found.termination_protection = enabled;
        Ok(())
    }
}
