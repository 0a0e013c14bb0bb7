//! Customer-managed KMS keys that components create for their own data, with yearly rotation, a
//! key policy that says who may use them, and kept when the stack or the key goes.

use serde_json::{Value, json};

use crate::model::intrinsics::sub;
use crate::model::{Lifecycle, Resource};
use crate::stacks::StackContext;

/// Days between `ScheduleKeyDeletion` and the key's deletion: the longest window AWS allows,
/// "PendingWindowInDays ... Enter a value between 7 and 30 days. The default value is 30"
/// (CloudFormation reference, AWS::KMS::Key), so a key removed by mistake can be recovered.
pub const PENDING_WINDOW_DAYS: u32 = 30;

/// A symmetric encryption key, rotated every year (AWS::KMS::Key, EnableKeyRotation: "AWS KMS
/// rotates the key material ... every year"), kept when the stack is deleted or the key replaced
/// (data encrypted under a deleted key cannot be decrypted again), with a key policy that lets
/// the account administer it through IAM plus `grants`, statements for the services that must
/// use it on the account's behalf.
///
/// The account statement is the default key policy (KMS Developer Guide, Default key policy:
/// "Allows access to the AWS account and enables IAM policies"); without it CloudFormation could
/// not update the policy later (the key policy lockout safety check).
pub fn key(ctx: &StackContext, description: &str, name: &str, grants: Vec<Value>) -> Resource {
    let mut statements = vec![json!({
        "Sid": "EnableAccountAdministrationThroughIam",
        "Effect": "Allow",
        "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
        "Action": "kms:*",
        "Resource": "*",
    })];
    statements.extend(grants);
    Resource::new(
        "AWS::KMS::Key",
        json!({
            "Description": format!("{} ({})", description, ctx.prefix()),
            "KeySpec": "SYMMETRIC_DEFAULT",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "EnableKeyRotation": true,
            "PendingWindowInDays": PENDING_WINDOW_DAYS,
            "KeyPolicy": { "Version": "2012-10-17", "Statement": statements },
            "Tags": ctx.tags(Some(name)),
        }),
    )
    .lifecycle(Lifecycle::KEEP)
}
