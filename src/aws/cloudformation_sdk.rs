//! [`CloudFormation`] over the AWS SDK. SDK types stop here.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{self as cfn, ChangeSetType, TemplateStage};

use super::cloudformation::{
    Capability, ChangeAction, ChangeSetDescription, ChangeSetId, ChangeSetKind, ChangeSetRequest,
    CloudFormation, CreateStackRequest, Export, Replacement, RequestToken, ResourceChange,
    StackDescription, StackEvent, StackOutput, StackResource, StackStatus, StackSummary,
    parse_template_body,
};
use super::error::{AwsError, Call, classify};

#[derive(Debug, Clone)]
pub struct SdkCloudFormation {
    client: Client,
}

impl SdkCloudFormation {
    pub fn new(client: Client) -> Self {
        SdkCloudFormation { client }
    }
}

impl CloudFormation for SdkCloudFormation {
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackDescription>, AwsError> {
        let call = Call::stack("DescribeStacks", stack);
        let output = match self.client.describe_stacks().stack_name(stack).send().await {
            Ok(output) => output,
            Err(err) => {
                return match classify(call, err) {
                    AwsError::StackNotFound { .. } => Ok(None),
                    other => Err(other),
                };
            }
        };
        // Looked up by id, a deleted stack is still described (DELETE_COMPLETE); for strata it is gone.
        Ok(output
            .stacks()
            .iter()
            .map(|stack| stack_description(call, stack))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .find(|stack| stack.status.as_str() != "DELETE_COMPLETE"))
    }

    async fn list_stacks(&self) -> Result<Vec<StackSummary>, AwsError> {
        let call = Call::new("ListStacks");
        // Every status the SDK knows but DELETE_COMPLETE: "Summary information for stacks that have been deleted
        // is kept for 90 days" and listed unless filtered (CloudFormation API Reference, ListStacks). The filter
        // takes any number of the StackStatus values; a status newer than the pinned SDK would be missed, so
        // the SDK's list is the one to keep current.
        let live: Vec<cfn::StackStatus> = cfn::StackStatus::values()
            .iter()
            .map(|status| cfn::StackStatus::from(*status))
            .filter(|status| *status != cfn::StackStatus::DeleteComplete)
            .collect();
        let mut stacks = Vec::new();
        let mut pages = self
            .client
            .list_stacks()
            .set_stack_status_filter(Some(live))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            for summary in page.stack_summaries() {
                stacks.push(StackSummary {
                    name: call.required(summary.stack_name(), "StackName")?,
                    id: call.required(summary.stack_id(), "StackId")?,
                    status: StackStatus(
                        call.required(summary.stack_status().map(|s| s.as_str()), "StackStatus")?,
                    ),
                });
            }
        }
        Ok(stacks)
    }

    async fn get_template(&self, stack: &str) -> Result<serde_json::Value, AwsError> {
        let call = Call::stack("GetTemplate", stack);
        let output = self
            .client
            .get_template()
            .stack_name(stack)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        let body = output
            .template_body()
            .ok_or_else(|| AwsError::MalformedResponse {
                operation: call.operation,
                stack: Some(stack.to_owned()),
                message: "no TemplateBody in the response".to_owned(),
            })?;
        parse_template_body(body).map_err(|message| AwsError::MalformedResponse {
            operation: call.operation,
            stack: Some(stack.to_owned()),
            message: format!("template body: {message}"),
        })
    }

    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        let call = Call::stack("CreateStack", &request.stack);
        let output = self
            .client
            .create_stack()
            .stack_name(&request.stack)
            .template_body(&request.template_body)
            .set_parameters(Some(parameters(&request.parameters)))
            .set_tags(Some(tags(&request.tags)))
            .set_capabilities(Some(capabilities(&request.capabilities)))
            .enable_termination_protection(request.termination_protection)
            .client_request_token(request.client_request_token.as_str())
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        call.required(output.stack_id(), "StackId")
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> Result<ChangeSetId, AwsError> {
        let call = Call::change_set("CreateChangeSet", &request.stack, &request.change_set);
        let kind = match request.kind {
            ChangeSetKind::Create => ChangeSetType::Create,
            ChangeSetKind::Update => ChangeSetType::Update,
        };
        let output = self
            .client
            .create_change_set()
            .stack_name(&request.stack)
            .change_set_name(&request.change_set)
            .change_set_type(kind)
            .template_body(&request.template_body)
            .set_parameters(Some(parameters(&request.parameters)))
            .set_tags(Some(tags(&request.tags)))
            .set_capabilities(Some(capabilities(&request.capabilities)))
            .set_description(request.description.clone())
            .client_token(request.client_token.as_str())
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(ChangeSetId {
            change_set_id: call.required(output.id(), "Id")?,
            stack_id: call.required(output.stack_id(), "StackId")?,
        })
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetDescription, AwsError> {
        let call = Call::change_set("DescribeChangeSet", stack, change_set);
        let mut description: Option<ChangeSetDescription> = None;
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify(call, err))?;
            let changes = output
                .changes()
                .iter()
                .filter_map(|change| change.resource_change())
                .map(|change| resource_change(call, change))
                .collect::<Result<Vec<_>, _>>()?;
            match &mut description {
                Some(description) => description.changes.extend(changes),
                None => {
                    description = Some(ChangeSetDescription {
                        stack: stack.to_owned(),
                        change_set: change_set.to_owned(),
                        id: call.required(output.change_set_id(), "ChangeSetId")?,
                        status: call.required(output.status().map(|s| s.as_str()), "Status")?,
                        status_reason: output.status_reason().map(str::to_owned),
                        execution_status: call.required(
                            output.execution_status().map(|s| s.as_str()),
                            "ExecutionStatus",
                        )?,
                        changes,
                    })
                }
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        description.ok_or_else(|| AwsError::MalformedResponse {
            operation: call.operation,
            stack: Some(stack.to_owned()),
            message: "no response pages".to_owned(),
        })
    }

    /// A change set that is already gone counts as deleted.
    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsError> {
        let call = Call::change_set("DeleteChangeSet", stack, change_set);
        match self
            .client
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|err| classify(call, err))
        {
            Ok(_) | Err(AwsError::ChangeSetNotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &RequestToken,
    ) -> Result<(), AwsError> {
        let call = Call::change_set("ExecuteChangeSet", stack, change_set);
        self.client
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .client_request_token(token.as_str())
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(())
    }

    async fn describe_stack_events(
        &self,
        stack: &str,
        until_event_id: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let call = Call::stack("DescribeStackEvents", stack);
        let mut events = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify(call, err))?;
            for event in output.stack_events() {
                if until_event_id.is_some_and(|until| event.event_id() == Some(until)) {
                    return Ok(events);
                }
                events.push(stack_event(call, event)?);
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(events),
            }
        }
    }

    async fn recent_stack_events(&self, stack: &str) -> Result<Vec<StackEvent>, AwsError> {
        let call = Call::stack("DescribeStackEvents", stack);
        let output = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        output
            .stack_events()
            .iter()
            .map(|event| stack_event(call, event))
            .collect()
    }

    async fn list_stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsError> {
        let call = Call::stack("ListStackResources", stack);
        let mut resources = Vec::new();
        let mut pages = self
            .client
            .list_stack_resources()
            .stack_name(stack)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            for summary in page.stack_resource_summaries() {
                // The API marks LogicalResourceId required. moto 5.2.5 lists some resources of a
                // stack without one (tests/support/MOTO_NOTES.md). A summary that names no
                // resource cannot be acted on or reported: it is left out, never given an empty id.
                let Some(logical_id) = summary.logical_resource_id().filter(|id| !id.is_empty())
                else {
                    continue;
                };
                resources.push(StackResource {
                    logical_id: logical_id.to_owned(),
                    physical_id: summary
                        .physical_resource_id()
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned),
                    resource_type: call.required(summary.resource_type(), "ResourceType")?,
                    status: call.required(
                        summary.resource_status().map(|s| s.as_str()),
                        "ResourceStatus",
                    )?,
                    status_reason: summary.resource_status_reason().map(str::to_owned),
                });
            }
        }
        Ok(resources)
    }

    async fn list_exports(&self) -> Result<BTreeMap<String, Export>, AwsError> {
        let call = Call::new("ListExports");
        let mut exports = BTreeMap::new();
        let mut pages = self.client.list_exports().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            for export in page.exports() {
                let name = call.required(export.name(), "export Name")?;
                exports.insert(
                    name.clone(),
                    Export {
                        value: call.required(export.value(), &format!("Value of export {name}"))?,
                        exporting_stack_id: call.required(
                            export.exporting_stack_id(),
                            &format!("ExportingStackId of export {name}"),
                        )?,
                        name,
                    },
                );
            }
        }
        Ok(exports)
    }

    async fn delete_stack(&self, stack: &str, token: &RequestToken) -> Result<(), AwsError> {
        let call = Call::stack("DeleteStack", stack);
        self.client
            .delete_stack()
            .stack_name(stack)
            .client_request_token(token.as_str())
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(())
    }

    async fn update_termination_protection(
        &self,
        stack: &str,
        enabled: bool,
    ) -> Result<(), AwsError> {
        let call = Call::stack("UpdateTerminationProtection", stack);
        self.client
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(enabled)
            .send()
            .await
            .map_err(|err| classify(call, err))?;
        Ok(())
    }
}

fn parameters(parameters: &BTreeMap<String, String>) -> Vec<cfn::Parameter> {
    parameters
        .iter()
        .map(|(key, value)| {
            cfn::Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<cfn::Tag> {
    tags.iter()
        .map(|(key, value)| cfn::Tag::builder().key(key).value(value).build())
        .collect()
}

fn capabilities(capabilities: &[Capability]) -> Vec<cfn::Capability> {
    capabilities
        .iter()
        .map(|c| cfn::Capability::from(c.as_str()))
        .collect()
}

fn stack_description(call: Call, stack: &cfn::Stack) -> Result<StackDescription, AwsError> {
    let name = call.required(stack.stack_name(), "StackName")?;
    let mut outputs = BTreeMap::new();
    for output in stack.outputs() {
        // An output without a value is one CloudFormation has not resolved: absent, not empty.
        let (Some(key), Some(value)) = (output.output_key(), output.output_value()) else {
            continue;
        };
        outputs.insert(
            key.to_owned(),
            StackOutput {
                value: value.to_owned(),
                export_name: output.export_name().map(str::to_owned),
                description: output.description().map(str::to_owned),
            },
        );
    }
    let mut parameters = BTreeMap::new();
    for parameter in stack.parameters() {
        let key = call.required(
            parameter.parameter_key(),
            &format!("ParameterKey in stack {name}"),
        )?;
        // An SSM-typed parameter's value is the parameter *name*; what the resources received is its
        // `ResolvedValue` (DescribeStacks API reference, Parameter). Other parameters have none.
        // A parameter value may legitimately be the empty string.
        let value = parameter
            .resolved_value()
            .or(parameter.parameter_value())
            .unwrap_or("")
            .to_owned();
        parameters.insert(key, value);
    }
    let mut tags = BTreeMap::new();
    for tag in stack.tags() {
        let key = call.required(tag.key(), &format!("tag Key in stack {name}"))?;
        // A tag value may legitimately be the empty string.
        tags.insert(key, tag.value().unwrap_or("").to_owned());
    }
    Ok(StackDescription {
        id: call.required(stack.stack_id(), &format!("StackId of stack {name}"))?,
        status: StackStatus(call.required(
            stack.stack_status().map(|s| s.as_str()),
            &format!("StackStatus of stack {name}"),
        )?),
        status_reason: stack.stack_status_reason().map(str::to_owned),
        outputs,
        parameters,
        tags,
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
        name,
    })
}

fn resource_change(call: Call, change: &cfn::ResourceChange) -> Result<ResourceChange, AwsError> {
    Ok(ResourceChange {
        // An action newer than this strata is shown as a change to the existing resource, and
        // judged like one by the replacement guard: the cautious reading.
        action: change
            .action()
            .and_then(|a| ChangeAction::from_aws(a.as_str()))
            .unwrap_or(ChangeAction::Modify),
        logical_id: call.required(
            change.logical_resource_id(),
            "LogicalResourceId of a change",
        )?,
        resource_type: call.required(change.resource_type(), "ResourceType of a change")?,
        physical_id: change
            .physical_resource_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        replacement: change
            .replacement()
            .and_then(|r| Replacement::from_aws(r.as_str())),
        scope: change
            .scope()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    })
}

fn stack_event(call: Call, event: &cfn::StackEvent) -> Result<StackEvent, AwsError> {
    Ok(StackEvent {
        event_id: call.required(event.event_id(), "EventId of a stack event")?,
        timestamp: call.required(
            event
                .timestamp()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                .as_deref(),
            "Timestamp of a stack event",
        )?,
        logical_id: call.required(
            event.logical_resource_id(),
            "LogicalResourceId of a stack event",
        )?,
        physical_id: event
            .physical_resource_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        resource_type: call.required(event.resource_type(), "ResourceType of a stack event")?,
        status: call.required(
            event.resource_status().map(|s| s.as_str()),
            "ResourceStatus of a stack event",
        )?,
        reason: event.resource_status_reason().map(str::to_owned),
        client_request_token: event
            .client_request_token()
            .filter(|token| !token.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: a required id AWS leaves out is a malformed answer naming the field, never an
    /// empty string strata carries on with.
    #[test]
    fn a_stack_without_its_id_is_a_malformed_answer() {
        let call = Call::stack("DescribeStacks", "photofeed-dev-network");
        let stack = cfn::Stack::builder()
            .stack_name("photofeed-dev-network")
            .stack_status(cfn::StackStatus::CreateComplete)
            .build();
        let err = stack_description(call, &stack).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DescribeStacks on stack `photofeed-dev-network`: unexpected response: no StackId of \
             stack photofeed-dev-network in the response"
        );
        let complete = cfn::Stack::builder()
            .stack_name("photofeed-dev-network")
            .stack_id("arn:aws:cloudformation:eu-west-1:123456789012:stack/photofeed-dev-network/1")
            .stack_status(cfn::StackStatus::CreateComplete)
            .tags(
                cfn::Tag::builder()
                    .key("strata:environment")
                    .value("")
                    .build(),
            )
            .build();
        let description = stack_description(call, &complete).unwrap();
        assert_eq!(description.tags["strata:environment"], "");
    }

    #[test]
    fn an_event_or_change_without_its_logical_id_is_a_malformed_answer() {
        let call = Call::stack("DescribeStackEvents", "s");
        let event = cfn::StackEvent::builder()
            .event_id("e-1")
            .timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
            .resource_type("AWS::EC2::VPC")
            .resource_status(cfn::ResourceStatus::CreateComplete)
            .build();
        assert!(
            stack_event(call, &event)
                .unwrap_err()
                .to_string()
                .contains("no LogicalResourceId of a stack event")
        );
        let change = cfn::ResourceChange::builder()
            .resource_type("AWS::EC2::VPC")
            .build();
        assert!(
            resource_change(call, &change)
                .unwrap_err()
                .to_string()
                .contains("no LogicalResourceId of a change")
        );
    }
}
