//! Deploying an environment on the emulator the way a finished `strata apply` leaves it: every stack created
//! directly through CloudFormation (CreateStack), in dependency order.

use std::path::Path;

use strata::aws::SdkCloudFormation;
use strata::aws::cloudformation::{Capability, CloudFormation, CreateStackRequest};
use strata::project::Project;

use super::moto::Moto;

/// Creates every stack of `env` (rendered from the project at `root`) and checks each is `CREATE_COMPLETE`.
pub async fn create_stacks(root: &Path, env: &str, moto: &Moto) {
    let clients = super::clients(moto).await;
    let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
    let rendered = Project::open(root).unwrap().render(env).unwrap();
    for stack in &rendered.stacks {
        cloudformation
            .create_stack(&CreateStackRequest {
                stack: stack.stack_name.clone(),
                template_body: strata::plan::template_body(stack).unwrap(),
                parameters: Default::default(),
                tags: rendered.environment.tags(),
                capabilities: vec![Capability::Iam],
                termination_protection: false,
            })
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", stack.stack_name));
        let created = cloudformation
            .describe_stack(&stack.stack_name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            created.status.as_str(),
            "CREATE_COMPLETE",
            "{}",
            stack.stack_name
        );
    }
}
