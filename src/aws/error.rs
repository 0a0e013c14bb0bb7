//! Every AWS failure is classified here, and only here, into [`AwsError`].
//!
//! The SDK adapters call [`classify`] (or match a modelled variant first and fall back to it); nothing
//! else in strata looks at SDK error types, error codes or messages.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

/// An AWS call that failed, always naming the operation and, where there is one, the stack.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{operation}: stack `{stack}` does not exist")]
    StackNotFound {
        operation: &'static str,
        stack: String,
    },

    #[error("{operation}: change set `{change_set}` of stack `{stack}` does not exist")]
    ChangeSetNotFound {
        operation: &'static str,
        stack: String,
        change_set: String,
    },

    #[error("{operation}: stack `{stack}` is already up to date (no updates are to be performed)")]
    NoUpdates {
        operation: &'static str,
        stack: String,
    },

    /// CreateStack or CreateChangeSet: something of that name exists already. After a lost answer, possibly
    /// what the first attempt created.
    #[error("{operation}{}: already exists: {message}", on(.stack))]
    AlreadyExists {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    /// The request's token was used before: CloudFormation has (or had) an operation under it.
    #[error("{operation}{}: an operation with this client request token already exists: {message}", on(.stack))]
    TokenAlreadyExists {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    /// The change set cannot be executed (or deleted) in its present state, e.g. it is already executing.
    #[error("{operation}{}: {message}", on(.stack))]
    InvalidChangeSetStatus {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    #[error("change set `{change_set}` of stack `{stack}` failed: {reason}")]
    ChangeSetFailed {
        stack: String,
        change_set: String,
        reason: String,
    },

    #[error("{operation}{}: gave up after {waited:?} waiting ({what}); last status {last_status}", on(.stack))]
    WaitTimedOut {
        operation: &'static str,
        stack: Option<String>,
        what: String,
        waited: Duration,
        last_status: String,
    },

    #[error("{operation}{}: throttled by AWS (retries exhausted)", on(.stack))]
    Throttled {
        operation: &'static str,
        stack: Option<String>,
    },

    #[error("{operation}{}: access denied: {message}", on(.stack))]
    AccessDenied {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    #[error(
        "{operation}{}: no usable AWS credentials ({message}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws sso login`",
        on(.stack)
    )]
    Credentials {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    #[error("{operation}{}: could not reach the AWS endpoint: {message}", on(.stack))]
    EndpointUnreachable {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    /// The endpoint answered without an AWS error shape (typically an emulator's HTML 500 for an action it
    /// does not implement).
    #[error("{operation}{}: the endpoint does not support this operation (HTTP {status})", on(.stack))]
    Unsupported {
        operation: &'static str,
        stack: Option<String>,
        status: u16,
    },

    #[error("{operation}{}: unexpected response: {message}", on(.stack))]
    MalformedResponse {
        operation: &'static str,
        stack: Option<String>,
        message: String,
    },

    #[error("{operation}{}: {code}: {message}", on(.stack))]
    Other {
        operation: &'static str,
        stack: Option<String>,
        code: String,
        message: String,
    },
}

fn on(stack: &Option<String>) -> String {
    match stack {
        Some(stack) => format!(" on stack `{stack}`"),
        None => String::new(),
    }
}

impl AwsError {
    /// The AWS operation that failed (`DescribeStacks`, `CreateChangeSet`, ...).
    pub fn operation(&self) -> &'static str {
        match self {
            AwsError::ChangeSetFailed { .. } => "CreateChangeSet",
            AwsError::StackNotFound { operation, .. }
            | AwsError::ChangeSetNotFound { operation, .. }
            | AwsError::NoUpdates { operation, .. }
            | AwsError::AlreadyExists { operation, .. }
            | AwsError::TokenAlreadyExists { operation, .. }
            | AwsError::InvalidChangeSetStatus { operation, .. }
            | AwsError::WaitTimedOut { operation, .. }
            | AwsError::Throttled { operation, .. }
            | AwsError::AccessDenied { operation, .. }
            | AwsError::Credentials { operation, .. }
            | AwsError::EndpointUnreachable { operation, .. }
            | AwsError::Unsupported { operation, .. }
            | AwsError::MalformedResponse { operation, .. }
            | AwsError::Other { operation, .. } => operation,
        }
    }
}

/// Which call failed: the operation and the stack (and change set) it was about.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub operation: &'static str,
    pub stack: Option<&'a str>,
    pub change_set: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn new(operation: &'static str) -> Self {
        Call {
            operation,
            stack: None,
            change_set: None,
        }
    }
    pub fn stack(operation: &'static str, stack: &'a str) -> Self {
        Call {
            operation,
            stack: Some(stack),
            change_set: None,
        }
    }
    pub fn change_set(operation: &'static str, stack: &'a str, change_set: &'a str) -> Self {
        Call {
            operation,
            stack: Some(stack),
            change_set: Some(change_set),
        }
    }
    fn owned_stack(&self) -> Option<String> {
        self.stack.map(str::to_owned)
    }

    /// A field every answer of this operation carries (an id, a name, a status). Missing or empty,
    /// the answer is malformed: strata never carries on with an empty id in its place.
    pub fn required(&self, value: Option<&str>, field: &str) -> Result<String, AwsError> {
        match value {
            Some(value) if !value.is_empty() => Ok(value.to_owned()),
            _ => Err(AwsError::MalformedResponse {
                operation: self.operation,
                stack: self.owned_stack(),
                message: format!("no {field} in the response"),
            }),
        }
    }
}

/// What went wrong, reduced to plain data so that classification is a pure, unit-tested function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an error (status, AWS error code and message if it had a parseable shape).
    Service {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        body_is_html: bool,
    },
    /// The request never got an answer: connection refused, DNS, TLS, I/O.
    Unreachable { detail: String },
    /// Building or signing the request failed; in practice missing or unusable credentials.
    Credentials { detail: String },
    /// The call timed out.
    Timeout { detail: String },
    /// A response arrived that the SDK could not make sense of.
    Malformed {
        status: Option<u16>,
        detail: String,
        body_is_html: bool,
    },
}

/// Error codes that mean "slow down" across CloudFormation, EC2, RDS, STS, S3 and SQS.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes that mean "who you are may not do this" (or "who you are is not valid").
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
];

/// Classifies a failure of `call`. Codes first, then the messages CloudFormation uses in place of codes.
pub fn classify_failure(call: Call<'_>, failure: Failure) -> AwsError {
    let operation = call.operation;
    match failure {
        Failure::Service {
            status,
            code,
            message,
            body_is_html,
        } => {
            let message = message.unwrap_or_default();
            let Some(code) = code.filter(|c| !c.is_empty()) else {
                // A success status the SDK still reports as an error: the body had a shape it could not parse
                // (e.g. an emulator's XML with the wrong root element).
                if (200..300).contains(&status) {
                    return AwsError::MalformedResponse {
                        operation,
                        stack: call.owned_stack(),
                        message: format!("HTTP {status} with a body the SDK could not parse"),
                    };
                }
                return if body_is_html || status >= 500 {
                    AwsError::Unsupported {
                        operation,
                        stack: call.owned_stack(),
                        status,
                    }
                } else {
                    AwsError::Other {
                        operation,
                        stack: call.owned_stack(),
                        code: format!("HTTP {status}"),
                        message,
                    }
                };
            };
            classify_code(call, &code, message)
        }
        Failure::Unreachable { detail } | Failure::Timeout { detail } => {
            AwsError::EndpointUnreachable {
                operation,
                stack: call.owned_stack(),
                message: detail,
            }
        }
        Failure::Credentials { detail } => AwsError::Credentials {
            operation,
            stack: call.owned_stack(),
            message: detail,
        },
        Failure::Malformed {
            status,
            detail,
            body_is_html,
        } => {
            if body_is_html || status.is_some_and(|s| s >= 500) {
                AwsError::Unsupported {
                    operation,
                    stack: call.owned_stack(),
                    status: status.unwrap_or(0),
                }
            } else {
                AwsError::MalformedResponse {
                    operation,
                    stack: call.owned_stack(),
                    message: detail,
                }
            }
        }
    }
}

fn classify_code(call: Call<'_>, code: &str, message: String) -> AwsError {
    let operation = call.operation;
    if THROTTLING_CODES.contains(&code) {
        return AwsError::Throttled {
            operation,
            stack: call.owned_stack(),
        };
    }
    if ACCESS_DENIED_CODES.contains(&code) {
        return AwsError::AccessDenied {
            operation,
            stack: call.owned_stack(),
            message,
        };
    }
    // The codes as CloudFormation's query protocol sends them (the SDK's deserialisers match the same strings).
    match code {
        "AlreadyExistsException" => {
            return AwsError::AlreadyExists {
                operation,
                stack: call.owned_stack(),
                message,
            };
        }
        "TokenAlreadyExistsException" => {
            return AwsError::TokenAlreadyExists {
                operation,
                stack: call.owned_stack(),
                message,
            };
        }
        "InvalidChangeSetStatus" | "InvalidChangeSetStatusException" => {
            return AwsError::InvalidChangeSetStatus {
                operation,
                stack: call.owned_stack(),
                message,
            };
        }
        _ => {}
    }
    if let (Some(stack), Some(change_set)) = (call.stack, call.change_set) {
        // AWS: code ChangeSetNotFound, "ChangeSet [NAME] does not exist". moto: ValidationError naming the change
        // set as if it were a stack, "Stack with id NAME does not exist".
        let names_change_set =
            missing_id(&message).is_some_and(|id| id == change_set || id.contains(":changeSet/"));
        if code == "ChangeSetNotFound"
            || code == "ChangeSetNotFoundException"
            || (code == "ValidationError"
                && (message.starts_with("ChangeSet") || names_change_set)
                && message.contains("does not exist"))
        {
            return AwsError::ChangeSetNotFound {
                operation,
                stack: stack.to_owned(),
                change_set: change_set.to_owned(),
            };
        }
    }
    if let Some(stack) = call.stack {
        // CloudFormation has no modelled "stack not found": it is a ValidationError whose message reads
        // "Stack with id NAME does not exist" (AWS and moto alike).
        if code == "ValidationError"
            && message.contains("does not exist")
            && message.contains("Stack")
        {
            return AwsError::StackNotFound {
                operation,
                stack: stack.to_owned(),
            };
        }
        if code == "ValidationError" && message.contains("No updates are to be performed") {
            return AwsError::NoUpdates {
                operation,
                stack: stack.to_owned(),
            };
        }
    }
    AwsError::Other {
        operation,
        stack: call.owned_stack(),
        code: code.to_owned(),
        message,
    }
}

/// `NAME` in "Stack with id NAME does not exist".
fn missing_id(message: &str) -> Option<&str> {
    message
        .strip_prefix("Stack with id ")?
        .strip_suffix(" does not exist")
}

/// Classifies any SDK error of any AWS service.
pub fn classify<E>(call: Call<'_>, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    classify_failure(call, failure_of(&err))
}

/// Reduces an SDK error to a [`Failure`].
pub fn failure_of<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let inner = service.err();
            Failure::Service {
                status: raw.status().as_u16(),
                code: inner.code().map(str::to_owned),
                message: inner.message().map(str::to_owned),
                body_is_html: body_is_html(raw),
            }
        }
        SdkError::TimeoutError(_) => Failure::Timeout { detail: chain(err) },
        SdkError::DispatchFailure(dispatch) => {
            if dispatch.is_timeout() {
                Failure::Timeout { detail: chain(err) }
            } else if dispatch.is_io() {
                Failure::Unreachable { detail: chain(err) }
            } else if is_identity_failure(err) {
                Failure::Credentials { detail: chain(err) }
            } else {
                Failure::Unreachable { detail: chain(err) }
            }
        }
        SdkError::ResponseError(response) => {
            let raw = response.raw();
            Failure::Malformed {
                status: Some(raw.status().as_u16()),
                detail: chain(err),
                body_is_html: body_is_html(raw),
            }
        }
        SdkError::ConstructionFailure(_) => {
            if is_identity_failure(err) {
                Failure::Credentials { detail: chain(err) }
            } else {
                Failure::Malformed {
                    status: None,
                    detail: chain(err),
                    body_is_html: false,
                }
            }
        }
        // SdkError is non-exhaustive.
        _ => Failure::Malformed {
            status: None,
            detail: chain(err),
            body_is_html: false,
        },
    }
}

/// The whole source chain in one line ("dispatch failure: io error: connection refused ..."),
/// each cause's message once, without the SDK's debug dump of the response.
fn chain(err: &dyn StdError) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn StdError> = Some(err);
    while let Some(cause) = current {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|seen| seen.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

fn is_identity_failure(err: &dyn StdError) -> bool {
    let text = chain(err).to_ascii_lowercase();
    text.contains("credentials") || text.contains("identity")
}

fn body_is_html(raw: &HttpResponse) -> bool {
    raw.body().bytes().is_some_and(|bytes| {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
            .trim_start()
            .to_ascii_lowercase();
        start.starts_with("<!doctype html") || start.starts_with("<html")
    })
}

impl fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.operation, on(&self.owned_stack()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str, message: &str) -> Failure {
        Failure::Service {
            status,
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            body_is_html: false,
        }
    }

    #[test]
    fn missing_stack_is_stack_not_found_naming_operation_and_stack() {
        let err = classify_failure(
            Call::stack("DescribeStacks", "shop-dev-network"),
            service(
                400,
                "ValidationError",
                "Stack with id shop-dev-network does not exist",
            ),
        );
        assert!(
            matches!(&err, AwsError::StackNotFound { operation: "DescribeStacks", stack } if stack == "shop-dev-network")
        );
        assert_eq!(
            err.to_string(),
            "DescribeStacks: stack `shop-dev-network` does not exist"
        );
    }

    #[test]
    fn no_updates_message_is_no_updates() {
        let err = classify_failure(
            Call::stack("UpdateStack", "s"),
            service(400, "ValidationError", "No updates are to be performed."),
        );
        assert!(matches!(
            err,
            AwsError::NoUpdates {
                operation: "UpdateStack",
                ..
            }
        ));
    }

    #[test]
    fn other_validation_errors_stay_other_with_code_and_message() {
        let err = classify_failure(
            Call::stack("CreateChangeSet", "s"),
            service(
                400,
                "ValidationError",
                "Template format error: unsupported structure.",
            ),
        );
        match err {
            AwsError::Other {
                operation,
                stack,
                code,
                message,
            } => {
                assert_eq!(operation, "CreateChangeSet");
                assert_eq!(stack.as_deref(), Some("s"));
                assert_eq!(code, "ValidationError");
                assert_eq!(message, "Template format error: unsupported structure.");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn does_not_exist_without_a_stack_is_not_stack_not_found() {
        let err = classify_failure(
            Call::new("ListImports"),
            service(400, "ValidationError", "Export with name x does not exist"),
        );
        assert!(matches!(err, AwsError::Other { .. }));
    }

    #[test]
    fn missing_change_set_is_change_set_not_found() {
        let call = Call::change_set("DescribeChangeSet", "s", "strata-1");
        for failure in [
            service(
                404,
                "ChangeSetNotFound",
                "ChangeSet [strata-1] does not exist",
            ),
            service(
                400,
                "ValidationError",
                "ChangeSet [strata-1] does not exist",
            ),
            service(
                400,
                "ValidationError",
                "Stack with id strata-1 does not exist",
            ),
        ] {
            let err = classify_failure(call, failure);
            assert!(
                matches!(&err, AwsError::ChangeSetNotFound { change_set, .. } if change_set == "strata-1"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn missing_stack_during_a_change_set_call_is_still_stack_not_found() {
        let err = classify_failure(
            Call::change_set("CreateChangeSet", "s", "strata-1"),
            service(400, "ValidationError", "Stack with id s does not exist"),
        );
        assert!(
            matches!(
                err,
                AwsError::StackNotFound {
                    operation: "CreateChangeSet",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn refusals_of_a_retried_call_have_their_own_variants() {
        let call = Call::stack("CreateStack", "s");
        let err = classify_failure(
            call,
            service(400, "AlreadyExistsException", "Stack [s] already exists"),
        );
        assert!(
            matches!(&err, AwsError::AlreadyExists { stack: Some(s), .. } if s == "s"),
            "{err:?}"
        );
        let err = classify_failure(
            call,
            service(400, "TokenAlreadyExistsException", "token exists"),
        );
        assert!(
            matches!(err, AwsError::TokenAlreadyExists { .. }),
            "{err:?}"
        );
        let err = classify_failure(
            Call::change_set("ExecuteChangeSet", "s", "c"),
            service(
                400,
                "InvalidChangeSetStatus",
                "ChangeSet [c] cannot be executed in its current execution status of [EXECUTE_IN_PROGRESS]",
            ),
        );
        assert!(
            matches!(err, AwsError::InvalidChangeSetStatus { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn throttling_codes_of_every_service_are_throttled() {
        for code in [
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "SlowDown",
        ] {
            let err = classify_failure(
                Call::stack("DescribeStacks", "s"),
                service(400, code, "Rate exceeded"),
            );
            assert!(matches!(err, AwsError::Throttled { .. }), "{code}");
        }
    }

    #[test]
    fn access_denied_codes_keep_the_message() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "InvalidClientTokenId",
        ] {
            let err = classify_failure(
                Call::new("GetCallerIdentity"),
                service(403, code, "not allowed"),
            );
            assert!(
                matches!(&err, AwsError::AccessDenied { message, .. } if message == "not allowed"),
                "{code}"
            );
        }
    }

    #[test]
    fn html_500_without_code_is_unsupported() {
        let err = classify_failure(
            Call::stack("DetectStackDrift", "s"),
            Failure::Service {
                status: 500,
                code: None,
                message: None,
                body_is_html: true,
            },
        );
        assert!(matches!(
            err,
            AwsError::Unsupported {
                operation: "DetectStackDrift",
                status: 500,
                ..
            }
        ));
        let err = classify_failure(
            Call::new("ListImports"),
            Failure::Malformed {
                status: Some(500),
                detail: "xml".into(),
                body_is_html: true,
            },
        );
        assert!(matches!(err, AwsError::Unsupported { .. }));
    }

    #[test]
    fn codeless_4xx_is_other_with_http_status() {
        let err = classify_failure(
            Call::new("ListExports"),
            Failure::Service {
                status: 404,
                code: None,
                message: Some("nope".into()),
                body_is_html: false,
            },
        );
        assert!(matches!(&err, AwsError::Other { code, .. } if code == "HTTP 404"));
    }

    #[test]
    fn codeless_error_on_a_2xx_answer_is_a_malformed_response() {
        let err = classify_failure(
            Call::new("GetBucketVersioning"),
            Failure::Service {
                status: 200,
                code: None,
                message: None,
                body_is_html: false,
            },
        );
        assert!(matches!(err, AwsError::MalformedResponse { .. }), "{err}");
    }

    #[test]
    fn dispatch_failures_are_unreachable_or_credentials() {
        let err = classify_failure(
            Call::new("GetCallerIdentity"),
            Failure::Unreachable {
                detail: "connection refused".into(),
            },
        );
        assert!(matches!(err, AwsError::EndpointUnreachable { .. }));
        let err = classify_failure(
            Call::new("GetCallerIdentity"),
            Failure::Credentials {
                detail: "no creds".into(),
            },
        );
        assert!(matches!(err, AwsError::Credentials { .. }));
    }

    /// The same path as the adapters: a real SDK error reduced by `failure_of`, then classified.
    fn sdk_service_error(
        status: u16,
        body: &str,
        meta: aws_sdk_cloudformation::error::ErrorMetadata,
    ) -> SdkError<
        aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError,
        HttpResponse,
    > {
        let raw = HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        );
        SdkError::service_error(
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(meta),
            raw,
        )
    }

    #[test]
    fn sdk_validation_error_is_classified_from_code_and_message() {
        let meta = aws_sdk_cloudformation::error::ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id shop-dev-network does not exist")
            .build();
        let err = classify(
            Call::stack("DescribeStacks", "shop-dev-network"),
            sdk_service_error(400, "<ErrorResponse/>", meta),
        );
        assert!(matches!(err, AwsError::StackNotFound { .. }), "{err:?}");
    }

    #[test]
    fn sdk_html_500_is_unsupported() {
        let meta = aws_sdk_cloudformation::error::ErrorMetadata::builder().build();
        let body = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>";
        let err = classify(
            Call::stack("DetectStackDrift", "s"),
            sdk_service_error(500, body, meta),
        );
        assert!(
            matches!(err, AwsError::Unsupported { status: 500, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn display_names_operation_and_stack() {
        let err = classify_failure(
            Call::stack("DeleteStack", "shop-dev-db"),
            service(400, "Throttling", ""),
        );
        assert_eq!(
            err.to_string(),
            "DeleteStack on stack `shop-dev-db`: throttled by AWS (retries exhausted)"
        );
        assert_eq!(err.operation(), "DeleteStack");
    }
}
