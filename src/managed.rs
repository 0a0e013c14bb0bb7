//! The stacks strata manages for an environment, as CloudFormation has them rather than as the definitions
//! say: how a stack whose definition was removed is still found. A stack is the environment's when its name
//! starts with `{project}-{env}-` and its tags say `project`, `environment` and `managed-by: strata`. Both are
//! needed: `photofeed-dev-` also begins the stacks of an environment named `dev-eu`, and tags alone can be on a
//! stack someone named otherwise by hand.

use crate::aws::cloudformation::{CloudFormation, StackDescription};
use crate::config::{Environment, RESERVED_TAGS};
use crate::error::Error;
use crate::naming::stack_name;
use crate::project::RenderedEnvironment;

/// A deployed stack of the environment.
#[derive(Debug, Clone)]
pub struct ManagedStack {
    /// Short name (`bastion`): the stack name without the environment's prefix.
    pub stack: String,
    pub description: StackDescription,
}

/// Every stack of the environment that exists (not deleted), in ListStacks order, except those `skip` names
/// (which are then not described: a no-change plan reads each defined stack only once).
pub async fn managed_stacks<C: CloudFormation>(
    cloudformation: &C,
    environment: &Environment,
    skip: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<ManagedStack>, Error> {
    let prefix = stack_name(&environment.settings.project, &environment.name, "");
    let [project, env, managed_by] = RESERVED_TAGS;
    let mut found = Vec::new();
    for summary in cloudformation.list_stacks().await? {
        let Some(short) = summary.name.strip_prefix(&prefix) else {
            continue;
        };
        if short.is_empty() || skip(&summary.name) {
            continue;
        }
        // ListStacks has no tags; DescribeStacks does. Gone in between: nothing to manage.
        let Some(description) = cloudformation.describe_stack(&summary.name).await? else {
            continue;
        };
        let tag = |key: &str| description.tags.get(key).map(String::as_str);
        if tag(project) == Some(environment.settings.project.as_str())
            && tag(env) == Some(environment.name.as_str())
            && tag(managed_by) == Some("strata")
        {
            found.push(ManagedStack {
                stack: short.to_owned(),
                description,
            });
        }
    }
    Ok(found)
}

/// The environment's deployed stacks that no stack definition renders any more.
pub async fn undefined_stacks<C: CloudFormation>(
    cloudformation: &C,
    rendered: &RenderedEnvironment,
) -> Result<Vec<ManagedStack>, Error> {
    let defined = |name: &str| rendered.stacks.iter().any(|s| s.stack_name == name);
    managed_stacks(cloudformation, &rendered.environment, &defined).await
}
