//! What an applied environment offers its users: each stack's outputs (bastion address, database
//! endpoints and port, the master credentials' secret ARN, bucket names, queue URLs...).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::cloudformation::CloudFormation;
use crate::error::Error;
use crate::project::RenderedEnvironment;

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentOutputs {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    pub stacks: Vec<StackOutputs>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackOutputs {
    pub stack: String,
    pub stack_name: String,
    /// `None` when the stack is not deployed.
    pub status: Option<String>,
    pub outputs: BTreeMap<String, OutputValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputValue {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_name: Option<String>,
}

pub async fn collect<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
) -> Result<EnvironmentOutputs, Error> {
    let mut stacks = Vec::new();
    for stack in &rendered.stacks {
        let description = cloudformation.describe_stack(&stack.stack_name).await?;
        stacks.push(StackOutputs {
            stack: stack.name.clone(),
            stack_name: stack.stack_name.clone(),
            status: description.as_ref().map(|d| d.status.to_string()),
            outputs: description
                .iter()
                .flat_map(|d| &d.outputs)
                .map(|(name, output)| {
                    (
                        name.clone(),
                        OutputValue {
                            value: output.value.clone(),
                            description: output.description.clone(),
                            export_name: output.export_name.clone(),
                        },
                    )
                })
                .collect(),
        });
    }
    Ok(EnvironmentOutputs {
        environment: rendered.environment.name.clone(),
        account_id: rendered.environment.settings.account_id.clone(),
        region: rendered.environment.settings.region.clone(),
        stacks,
    })
}
