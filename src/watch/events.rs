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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::recorded_events;

    const STACK: &str = "photofeed-dev-storage";

    fn summary(events: &[StackEvent]) -> Vec<(&str, &str)> {
        events
            .iter()
            .map(|e| (e.logical_id.as_str(), e.status.as_str()))
            .collect()
    }

    #[test]
    fn a_failed_create_is_caused_by_the_first_failure_not_the_cancellations() {
        let events = recorded_events("create_failed_rollback");
        let causes = root_causes(&events, STACK);
        assert_eq!(summary(&causes), [("InboxBucket", "CREATE_FAILED")]);
        assert!(
            causes[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("already exists")
        );
        assert!(rollback_failures(&events, STACK).is_empty());
    }

    #[test]
    fn a_failed_rollback_names_the_cause_and_what_could_not_roll_back() {
        let events = recorded_events("update_rollback_failed");
        assert_eq!(
            summary(&root_causes(&events, STACK)),
            [("InboxBucketPolicy", "UPDATE_FAILED")]
        );
        let stuck = rollback_failures(&events, STACK);
        assert_eq!(summary(&stuck), [("PhotoUploadedQueue", "UPDATE_FAILED")]);
        assert!(stuck[0].reason.as_deref().unwrap().contains("AccessDenied"));
    }

    #[test]
    fn a_successful_replacement_has_no_cause_and_is_recognised() {
        let events = recorded_events("update_with_replacement");
        assert!(root_causes(&events, STACK).is_empty());
        let replacing: Vec<_> = events.iter().filter(|e| is_replacement(e)).collect();
        assert_eq!(
            summary(&replacing.into_iter().cloned().collect::<Vec<_>>()),
            [("FeedFanoutQueue", "UPDATE_IN_PROGRESS")]
        );
    }

    #[test]
    fn with_only_stack_level_events_the_stack_reason_is_the_cause() {
        // What an endpoint that reports no resource events (such as the local emulator) leaves.
        let stack_event = |status: &str, reason: Option<&str>| StackEvent {
            event_id: status.into(),
            timestamp: "2026-11-24T10:00:00Z".into(),
            logical_id: STACK.into(),
            physical_id: None,
            resource_type: "AWS::CloudFormation::Stack".into(),
            status: status.into(),
            reason: reason.map(Into::into),
            client_request_token: None,
        };
        let events = [
            stack_event("CREATE_IN_PROGRESS", Some("User Initiated")),
            stack_event(
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [Vpc]."),
            ),
            stack_event("ROLLBACK_COMPLETE", None),
        ];
        assert_eq!(
            summary(&root_causes(&events, STACK)),
            [(STACK, "ROLLBACK_IN_PROGRESS")]
        );
    }
}
