//! KMS keys of the stacks (customer-managed): still there, enabled, and rotating yearly when declared so.

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict};
use crate::aws::live::Observed;
use crate::drift::normalize::{self, Kind};

pub fn kms_key(ctx: &Ctx) -> Verdict {
    let Some(key) = ctx.live.keys.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let mut diffs = Diffs::default();
    // AWS::KMS::Key, Enabled: "Specifies whether the KMS key is enabled" (default true). A key
    // disabled or scheduled for deletion outside the stack shows its state.
    let enabled = ctx
        .declared("Enabled")
        .and_then(|v| normalize::boolean(&v))
        .unwrap_or(true);
    let expected_state = if enabled { "Enabled" } else { "Disabled" };
    let state = match &key.state {
        Observed::Value(state) => state.as_deref(),
        Observed::Unreadable { operation, reason } => {
            diffs.unchecked("KeyState", format!("{operation}: {reason}"));
            None
        }
    };
    if let Some(state) = state {
        diffs.compare(
            "KeyState",
            json!(expected_state),
            Some(json!(state)),
            Kind::Text,
        );
    }
    // AWS::KMS::Key, EnableKeyRotation (default false); KMS reports it through
    // GetKeyRotationStatus. Off when declared on is [security] (normalize::severity).
    match &key.rotation_enabled {
        Observed::Value(rotating) => diffs.property_or(
            ctx,
            "EnableKeyRotation",
            json!(false),
            Some(Value::Bool(*rotating)),
            Kind::Bool,
        ),
        // A disabled or deleted key: its state is the difference that matters.
        Observed::Unreadable { .. } if state.is_some_and(|s| s != "Enabled") => {}
        Observed::Unreadable { operation, reason } => {
            diffs.unchecked("EnableKeyRotation", format!("{operation}: {reason}"));
        }
    }
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Case, differences, is_deleted};
    use crate::aws::live::{Key, Observed};
    use crate::drift::Severity;

    fn declared() -> Case {
        Case::new(
            "AWS::KMS::Key",
            json!({"EnableKeyRotation": true, "PendingWindowInDays": 30, "KeyPolicy": {}}),
        )
    }

    fn key(state: &str, rotation: Observed<bool>) -> Key {
        Key {
            id: "key-1".into(),
            state: Observed::Value(Some(state.into())),
            rotation_enabled: rotation,
        }
    }

    #[test]
    fn an_enabled_rotating_key_is_in_sync() {
        let mut case = declared();
        case.live
            .keys
            .insert("key-1".into(), key("Enabled", Observed::Value(true)));
        assert_eq!(differences(&case, "key-1"), vec![]);
    }

    /// Issue 14: rotation switched off outside the stack is [security] drift.
    #[test]
    fn rotation_switched_off_is_security_drift() {
        let mut case = declared();
        case.live
            .keys
            .insert("key-1".into(), key("Enabled", Observed::Value(false)));
        let found = differences(&case, "key-1");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "EnableKeyRotation");
        assert_eq!(found[0].expected, json!(true));
        assert_eq!(found[0].actual, json!(false));
        assert_eq!(found[0].severity, Severity::Security);
    }

    /// The key policy may grant GetKeyRotationStatus but not DescribeKey (or an endpoint fail one
    /// of them): the state is noted as not checked, the rotation still compared.
    #[test]
    fn a_key_whose_state_cannot_be_read_is_still_checked_for_rotation() {
        let mut case = declared();
        let mut unreadable = key("Enabled", Observed::Value(false));
        unreadable.state = Observed::Unreadable {
            operation: "DescribeKey",
            reason: "access denied".into(),
        };
        case.live.keys.insert("key-1".into(), unreadable);
        match super::super::testing::verdict(&case, "key-1") {
            super::super::Verdict::Checked {
                differences,
                unchecked,
            } => {
                let paths: Vec<&str> = differences.iter().map(|d| d.path.as_str()).collect();
                assert_eq!(paths, ["EnableKeyRotation"]);
                assert_eq!(unchecked.len(), 1);
                assert_eq!(unchecked[0].property, "KeyState");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_scheduled_for_deletion_shows_its_state_and_a_gone_key_is_deleted() {
        let mut case = declared();
        let unreadable = Observed::Unreadable {
            operation: "GetKeyRotationStatus",
            reason: "KMSInvalidStateException".into(),
        };
        case.live
            .keys
            .insert("key-1".into(), key("PendingDeletion", unreadable));
        let found = differences(&case, "key-1");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "KeyState");
        assert_eq!(found[0].actual, json!("PendingDeletion"));
        assert!(is_deleted(&declared(), "key-1"));
    }
}
