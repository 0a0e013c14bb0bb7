//! CloudWatch Logs log groups that components create so that their logs expire.

use serde_json::json;

use crate::model::{Lifecycle, Resource};
use crate::stacks::StackContext;

/// The retention periods CloudWatch Logs accepts (AWS::Logs::LogGroup, RetentionInDays:
/// "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
/// 1827, 2192, 2557, 2922, 3288, and 3653"). Without one, log events never expire.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub fn check_retention(days: u32) -> Result<(), String> {
    if RETENTION_DAYS.contains(&days) {
        Ok(())
    } else {
        let allowed: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
        Err(format!(
            "is {days}, CloudWatch Logs keeps log events for one of {} days",
            allowed.join(", ")
        ))
    }
}

/// A log group CloudFormation names, with a retention. The events are the record of what
/// happened: kept when the stack goes (`Lifecycle::KEEP`).
pub fn log_group(ctx: &StackContext, retention_days: u32, tag: &str) -> Resource {
    Resource::new(
        "AWS::Logs::LogGroup",
        json!({
            "RetentionInDays": retention_days,
            "Tags": ctx.tags(Some(tag)),
        }),
    )
    .lifecycle(Lifecycle::KEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retentions_cloudwatch_logs_accepts_pass() {
        for days in [1, 7, 30, 365, 3653] {
            assert_eq!(check_retention(days), Ok(()));
        }
        for days in [0, 2, 31, 366, 10_000] {
            assert!(
                check_retention(days).unwrap_err().contains("one of 1, 3"),
                "{days}"
            );
        }
    }
}
