//! Which account the credentials belong to.

use super::error::{AwsError, Call, classify};

/// The account id of the caller (STS GetCallerIdentity). strata compares it with the environment's declared
/// account before it plans or applies anything.
pub async fn caller_account(sts: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let call = Call::new("GetCallerIdentity");
    let output = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| classify(call, err))?;
    output
        .account()
        .map(str::to_owned)
        .ok_or(AwsError::MalformedResponse {
            operation: call.operation,
            stack: None,
            message: "no Account in the response".to_owned(),
        })
}
