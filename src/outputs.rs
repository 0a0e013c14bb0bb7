//! What an applied environment offers its users: each stack's outputs (bastion address, database
//! endpoints and port, bucket names, queue URLs...), plus the master password secret that RDS
//! manages itself and CloudFormation does not export.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::live::LiveResources;
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
    /// Where the value comes from: `cloudformation` (a stack output) or `rds`.
    pub source: &'static str,
}

/// The output name under which a DB instance's managed secret is listed.
pub fn secret_output_name(logical_id: &str) -> String {
    format!("{logical_id}MasterUserSecretArn")
}

pub async fn collect<C: CloudFormation, L: LiveResources>(
    cloudformation: &C,
    live: &L,
    rendered: &RenderedEnvironment,
) -> Result<EnvironmentOutputs, Error> {
    let mut stacks = Vec::new();
    for stack in &rendered.stacks {
        let Some(description) = cloudformation.describe_stack(&stack.stack_name).await? else {
            stacks.push(StackOutputs {
                stack: stack.name.clone(),
                stack_name: stack.stack_name.clone(),
                status: None,
                outputs: BTreeMap::new(),
            });
            continue;
        };
        let mut outputs: BTreeMap<String, OutputValue> = description
            .outputs
            .iter()
            .map(|(name, output)| {
                (
                    name.clone(),
                    OutputValue {
                        value: output.value.clone(),
                        description: output.description.clone(),
                        export_name: output.export_name.clone(),
                        source: "cloudformation",
                    },
                )
            })
            .collect();
        let managed: Vec<&String> = stack
            .template
            .resources
            .iter()
            .filter(|(_, r)| {
                r.resource_type == "AWS::RDS::DBInstance"
                    && r.properties.get("ManageMasterUserPassword")
                        == Some(&serde_json::Value::Bool(true))
            })
            .map(|(id, _)| id)
            .collect();
        if !managed.is_empty() {
            let resources = cloudformation
                .list_stack_resources(&stack.stack_name)
                .await?;
            let physical: BTreeMap<&str, String> = managed
                .iter()
                .filter_map(|logical_id| {
                    resources
                        .iter()
                        .find(|r| &r.logical_id == *logical_id)
                        .and_then(|r| r.physical_id.clone())
                        .map(|id| (logical_id.as_str(), id))
                })
                .collect();
            let identifiers: Vec<String> = physical.values().cloned().collect();
            let instances = live.db_instances(&identifiers).await?;
            for (logical_id, identifier) in &physical {
                let arn = instances
                    .iter()
                    .find(|db| &db.identifier == identifier)
                    .and_then(|db| db.master_user_secret_arn.clone());
                if let Some(arn) = arn {
                    outputs.insert(
                        secret_output_name(logical_id),
                        OutputValue {
                            value: arn,
                            description: Some(format!(
                                "Secrets Manager secret RDS keeps the master password of {logical_id} in"
                            )),
                            export_name: None,
                            source: "rds",
                        },
                    );
                }
            }
        }
        stacks.push(StackOutputs {
            stack: stack.name.clone(),
            stack_name: stack.stack_name.clone(),
            status: Some(description.status.to_string()),
            outputs,
        });
    }
    Ok(EnvironmentOutputs {
        environment: rendered.environment.name.clone(),
        account_id: rendered.environment.settings.account_id.clone(),
        region: rendered.environment.settings.region.clone(),
        stacks,
    })
}
