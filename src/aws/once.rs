//! Mutating CloudFormation calls that take effect once, however often their answers are lost.
//!
//! The SDK retries a call whose answer never arrived (a reset connection, a timeout) and a throttled one. When
//! the lost answer belonged to a call CloudFormation had carried out, the retry meets what the first attempt did.
//! Every mutating call therefore carries a token naming its operation ([`RequestToken`]): CloudFormation
//! recognises a retry under the same token and stamps the token on every event of the operation. Where the
//! retry is refused anyway (`AlreadyExistsException`, `TokenAlreadyExistsException`, `InvalidChangeSetStatus`,
//! or an endpoint that ignores tokens), these functions look at what is there and carry on with the operation
//! that was started when it is the one asked for; anything else stays the error it was.

use super::cloudformation::{
    ChangeSetId, ChangeSetRequest, CloudFormation, CreateStackRequest, RequestToken, StackEvent,
    parse_template_body,
};
use super::error::AwsError;

/// Starts creating the stack. A create that finds the stack it asked for already being created (or created)
/// is that same operation, started by an attempt whose answer was lost: it succeeds, and the caller follows it.
pub async fn create_stack<C: CloudFormation + ?Sized>(
    cfn: &C,
    request: &CreateStackRequest,
) -> Result<(), AwsError> {
    match cfn.create_stack(request).await {
        Ok(_) => Ok(()),
        Err(err @ (AwsError::AlreadyExists { .. } | AwsError::TokenAlreadyExists { .. })) => {
            if is_our_create(cfn, request).await? {
                Ok(())
            } else {
                Err(err)
            }
        }
        Err(other) => Err(other),
    }
}

/// Whether the existing stack is the one `request` creates. By token where the stack's events carry tokens:
/// ours means ours, another one means another operation. An endpoint that records no tokens leaves the stack
/// itself: it is ours to follow when it is being (or was) created from exactly our template with our tags,
/// which makes following it the same as having created it.
async fn is_our_create<C: CloudFormation + ?Sized>(
    cfn: &C,
    request: &CreateStackRequest,
) -> Result<bool, AwsError> {
    let events = cfn.recent_stack_events(&request.stack).await?;
    if let Some(ours) = started_under(&events, &request.client_request_token) {
        return Ok(ours);
    }
    let Some(stack) = cfn.describe_stack(&request.stack).await? else {
        return Ok(false);
    };
    let from_a_create = stack.status.as_str().starts_with("CREATE_")
        || stack.status.as_str().starts_with("ROLLBACK_");
    let tagged_as_asked = request
        .tags
        .iter()
        .all(|(key, value)| stack.tags.get(key) == Some(value));
    if !from_a_create || !tagged_as_asked {
        return Ok(false);
    }
    let deployed = cfn.get_template(&request.stack).await?;
    Ok(parse_template_body(&request.template_body).is_ok_and(|asked| asked == deployed))
}

/// `Some(true)` when an event carries `token`, `Some(false)` when events carry only other tokens, `None` when
/// no event carries any (the endpoint does not record them).
fn started_under(events: &[StackEvent], token: &RequestToken) -> Option<bool> {
    let mut tokens = events
        .iter()
        .filter_map(|event| event.client_request_token.as_deref())
        .peekable();
    tokens.peek()?;
    Some(tokens.any(|seen| seen == token.as_str()))
}

/// Starts executing the change set. A retry that finds it executing (or executed) under our token, or
/// executing at all (the change set is the plan's own), has started the operation.
pub async fn execute_change_set<C: CloudFormation + ?Sized>(
    cfn: &C,
    stack: &str,
    change_set: &str,
    token: &RequestToken,
) -> Result<(), AwsError> {
    match cfn.execute_change_set(stack, change_set, token).await {
        Ok(()) => Ok(()),
        Err(
            err @ (AwsError::TokenAlreadyExists { .. }
            | AwsError::InvalidChangeSetStatus { .. }
            | AwsError::ChangeSetNotFound { .. }),
        ) => {
            let events = cfn.recent_stack_events(stack).await?;
            if started_under(&events, token) == Some(true) {
                return Ok(());
            }
            // CloudFormation removes a stack's change sets once one is executed, so a missing change set says
            // nothing more than the events did.
            match cfn.describe_change_set(stack, change_set).await {
                Ok(description)
                    if matches!(
                        description.execution_status.as_str(),
                        "EXECUTE_IN_PROGRESS" | "EXECUTE_COMPLETE" | "EXECUTE_FAILED"
                    ) =>
                {
                    Ok(())
                }
                _ => Err(err),
            }
        }
        Err(other) => Err(other),
    }
}

/// Starts deleting the stack (by id, so a later stack of the same name is never touched). Deleting is
/// idempotent in itself; a token already in use means our delete is underway.
pub async fn delete_stack<C: CloudFormation + ?Sized>(
    cfn: &C,
    stack: &str,
    token: &RequestToken,
) -> Result<(), AwsError> {
    match cfn.delete_stack(stack, token).await {
        Ok(()) | Err(AwsError::TokenAlreadyExists { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Deletes the change set; one that is gone, whatever the delete call answered, is deleted. (A retried delete
/// can fail in ways that say nothing, e.g. an HTTP 500 from an endpoint that cannot find what it just deleted.)
pub async fn delete_change_set<C: CloudFormation + ?Sized>(
    cfn: &C,
    stack: &str,
    change_set: &str,
) -> Result<(), AwsError> {
    match cfn.delete_change_set(stack, change_set).await {
        Ok(()) | Err(AwsError::ChangeSetNotFound { .. } | AwsError::StackNotFound { .. }) => Ok(()),
        Err(err) => match cfn.describe_change_set(stack, change_set).await {
            Err(AwsError::ChangeSetNotFound { .. } | AwsError::StackNotFound { .. }) => Ok(()),
            _ => Err(err),
        },
    }
}

/// Creates the change set. Change set names are unique per plan, so one of that name that exists already was
/// made by an earlier attempt of this request whose answer was lost: it is the one.
pub async fn create_change_set<C: CloudFormation + ?Sized>(
    cfn: &C,
    request: &ChangeSetRequest,
) -> Result<ChangeSetId, AwsError> {
    match cfn.create_change_set(request).await {
        Ok(id) => Ok(id),
        Err(err @ AwsError::AlreadyExists { .. }) => {
            let existing = cfn
                .describe_change_set(&request.stack, &request.change_set)
                .await
                .map_err(|_| err)?;
            let stack_id = cfn
                .describe_stack(&request.stack)
                .await?
                .map(|s| s.id)
                .unwrap_or_default();
            Ok(ChangeSetId {
                change_set_id: existing.id,
                stack_id,
            })
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(token: Option<&str>) -> StackEvent {
        StackEvent {
            event_id: "e".into(),
            timestamp: "2026-11-24T10:00:00Z".into(),
            logical_id: "s".into(),
            physical_id: None,
            resource_type: "AWS::CloudFormation::Stack".into(),
            status: "CREATE_IN_PROGRESS".into(),
            reason: None,
            client_request_token: token.map(Into::into),
        }
    }

    #[test]
    fn tokens_on_events_say_whose_operation_it_is() {
        let ours = RequestToken::derive("create", &["plan-1", "s"]);
        assert_eq!(
            started_under(&[event(None), event(Some(ours.as_str()))], &ours),
            Some(true)
        );
        assert_eq!(
            started_under(&[event(Some("Console-CreateStack-1"))], &ours),
            Some(false)
        );
        assert_eq!(started_under(&[event(None), event(None)], &ours), None);
    }

    #[test]
    fn tokens_are_deterministic_distinct_and_valid() {
        let a = RequestToken::derive("create", &["plan-1", "photofeed-dev-network"]);
        assert_eq!(
            a,
            RequestToken::derive("create", &["plan-1", "photofeed-dev-network"])
        );
        assert_ne!(
            a,
            RequestToken::derive("create", &["plan-2", "photofeed-dev-network"])
        );
        assert_ne!(
            RequestToken::derive("x", &["ab", "c"]),
            RequestToken::derive("x", &["a", "bc"])
        );
        // CloudFormation: 1-128 characters, [a-zA-Z0-9][-a-zA-Z0-9]*.
        let text = a.as_str();
        assert!(
            text.len() <= 128 && text.starts_with("strata-create-"),
            "{text}"
        );
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
