//! What the events of one stack operation mean. When a resource fails, CloudFormation cancels the
//! resources still in progress (each reported as FAILED with "Resource creation cancelled") and rolls
//! back (more events, sometimes more failures). The cause is the first failure, not that cascade.

use crate::aws::cloudformation::StackEvent;

/// The stack's own events (status changes of the whole stack) as opposed to its resources'.
pub fn is_stack_event(event: &StackEvent, stack_name: &str) -> bool {
    event.resource_type == "AWS::CloudFormation::Stack" && event.logical_id == stack_name
}

/// CloudFormation's wording for resources stopped because another one failed.
fn is_cancellation(event: &StackEvent) -> bool {
    event
        .reason
        .as_deref()
        .is_some_and(|reason| reason.to_ascii_lowercase().contains("cancelled"))
}

fn is_rollback_start(event: &StackEvent, stack_name: &str) -> bool {
    is_stack_event(event, stack_name)
        && matches!(
            event.status.as_str(),
            "ROLLBACK_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS"
        )
}

fn is_resource_failure(event: &StackEvent, stack_name: &str) -> bool {
    !is_stack_event(event, stack_name)
        && event.status.ends_with("_FAILED")
        && !is_cancellation(event)
}

/// The failures that made the operation fail, oldest first. `events` are one operation's, oldest
/// first. Resource failures before the rollback started come first; if there are none (a failure
/// AWS reports only on the stack, or an endpoint that emits only stack-level events), the stack's
/// own failure reasons are the cause.
pub fn root_causes(events: &[StackEvent], stack_name: &str) -> Vec<StackEvent> {
    let before_rollback: Vec<StackEvent> = events
        .iter()
        .take_while(|event| !is_rollback_start(event, stack_name))
        .filter(|event| is_resource_failure(event, stack_name))
        .cloned()
        .collect();
    if !before_rollback.is_empty() {
        return before_rollback;
    }
    let stack_reasons: Vec<StackEvent> = events
        .iter()
        .filter(|event| {
            is_stack_event(event, stack_name)
                && event.reason.as_deref().is_some_and(|r| !r.is_empty())
                && (event.status.ends_with("_FAILED") || is_rollback_start(event, stack_name))
        })
        .cloned()
        .collect();
    if !stack_reasons.is_empty() {
        return stack_reasons;
    }
    events
        .iter()
        .filter(|event| is_resource_failure(event, stack_name))
        .cloned()
        .collect()
}

/// Resources that failed while rolling back: what keeps a stack in UPDATE_ROLLBACK_FAILED (and what
/// `continue-update-rollback --resources-to-skip` would name).
pub fn rollback_failures(events: &[StackEvent], stack_name: &str) -> Vec<StackEvent> {
    events
        .iter()
        .skip_while(|event| !is_rollback_start(event, stack_name))
        .filter(|event| is_resource_failure(event, stack_name))
        .cloned()
        .collect()
}

/// "Requested update requires the creation of a new physical resource; hence creating one."
pub fn is_replacement(event: &StackEvent) -> bool {
    event
        .reason
        .as_deref()
        .is_some_and(|reason| reason.contains("creation of a new physical resource"))
}
