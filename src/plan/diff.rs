//! Property-level differences between a deployed template and a newly rendered one.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{self, PathDisplay, Segment};
use crate::model::change::Replacement;

/// Resource attributes that are not properties but still change what CloudFormation does.
const ATTRIBUTES: [&str; 3] = ["DeletionPolicy", "UpdateReplacePolicy", "DependsOn"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyChange {
    /// Path inside the resource's properties (`RedrivePolicy.maxReceiveCount`,
    /// `SecurityGroupIngress[1]`), or a resource attribute such as `DeletionPolicy`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    pub replacement: Replacement,
    /// The template parameter through which the value changes (`before`/`after` are then the parameter's
    /// values); absent for a change of the template itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// The changed properties of one resource, given its deployed and new definitions
/// (each a template `Resources` entry; `None` when absent on that side). Each change's effect comes
/// from the resource catalog; for a type strata does not know (one only a deployed stack still
/// holds) every change is conditional: never the permissive answer.
pub fn resource_changes(
    resource_type: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Vec<PropertyChange> {
    let mut changes = Vec::new();
    let empty = Value::Object(Default::default());
    let properties = |side: Option<&Value>| {
        side.and_then(|r| r.get("Properties"))
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (old, new) = (properties(before), properties(after));
    let (Value::Object(old_map), Value::Object(new_map)) = (&old, &new) else {
        return changes;
    };
    let known = catalog::lookup(resource_type);
    let keys: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
    for key in keys {
        let mut found = Vec::new();
        let mut path = vec![Segment::Key(key.clone())];
        diff_value(&mut path, old_map.get(key), new_map.get(key), &mut found);
        changes.extend(found.into_iter().map(|(path, before, after)| {
            let replacement = known.map_or(Replacement::Conditional, |t| t.replacement(&path));
            PropertyChange {
                path: PathDisplay(&path).to_string(),
                before,
                after,
                replacement,
                parameter: None,
            }
        }));
    }
    for attribute in ATTRIBUTES {
        let old = before.and_then(|r| r.get(attribute));
        let new = after.and_then(|r| r.get(attribute));
        if old != new {
            changes.push(PropertyChange {
                path: attribute.to_string(),
                before: old.cloned(),
                after: new.cloned(),
                replacement: Replacement::Never,
                parameter: None,
            });
        }
    }
    changes
}

/// Walks objects key by key and equal-length lists index by index, so a change is reported at
/// the deepest path that still reads well; anything else is reported whole.
fn diff_value(
    path: &mut Vec<Segment>,
    old: Option<&Value>,
    new: Option<&Value>,
    found: &mut Vec<(Vec<Segment>, Option<Value>, Option<Value>)>,
) {
    if old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b)))
            if !is_intrinsic(a) && !is_intrinsic(b) =>
        {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                path.push(Segment::Key(key.clone()));
                diff_value(path, a.get(key), b.get(key), found);
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                path.push(Segment::Index(index));
                diff_value(path, Some(x), Some(y), found);
                path.pop();
            }
        }
        _ => found.push((path.clone(), old.cloned(), new.cloned())),
    }
}

/// `{"Ref": ..}`, `{"Fn::GetAtt": ..}`: shown whole, never as a diff of their insides.
fn is_intrinsic(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::"))
}

/// The strongest effect among the changes.
pub fn predicted_replacement(changes: &[PropertyChange]) -> Replacement {
    changes
        .iter()
        .map(|c| c.replacement)
        .max()
        .unwrap_or(Replacement::Never)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_scalar_is_reported_at_its_path() {
        let before = json!({"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30, "QueueName": "q"}});
        let after = json!({"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60, "QueueName": "q"}});
        let changes = resource_changes("AWS::SQS::Queue", Some(&before), Some(&after));
        assert_eq!(
            changes,
            vec![PropertyChange {
                path: "VisibilityTimeout".into(),
                before: Some(json!(30)),
                after: Some(json!(60)),
                replacement: Replacement::Never,
                parameter: None,
            }]
        );
    }

    #[test]
    fn nested_changes_and_replacement_are_found() {
        let before = json!({"Properties": {"CidrBlock": "10.0.0.0/16", "Tags": [{"Key": "a", "Value": "1"}]}});
        let after = json!({"Properties": {"CidrBlock": "10.1.0.0/16", "Tags": [{"Key": "a", "Value": "2"}]}});
        let changes = resource_changes("AWS::EC2::VPC", Some(&before), Some(&after));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["CidrBlock", "Tags[0].Value"]);
        assert_eq!(predicted_replacement(&changes), Replacement::Always);
    }

    #[test]
    fn lists_of_different_length_and_intrinsics_are_shown_whole() {
        let before = json!({"Properties": {"SecurityGroupIngress": [1], "VpcId": {"Ref": "A"}}});
        let after = json!({"Properties": {"SecurityGroupIngress": [1, 2], "VpcId": {"Ref": "B"}}});
        let changes = resource_changes("AWS::EC2::SecurityGroup", Some(&before), Some(&after));
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].path, "SecurityGroupIngress");
        assert_eq!(changes[1].path, "VpcId");
        assert_eq!(changes[1].replacement, Replacement::Always);
    }

    #[test]
    fn added_and_removed_properties_and_attributes_count() {
        let before = json!({"Properties": {"A": 1}, "DeletionPolicy": "Delete"});
        let after = json!({"Properties": {"B": 2}, "DeletionPolicy": "Retain"});
        let changes = resource_changes("AWS::S3::Bucket", Some(&before), Some(&after));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["A", "B", "DeletionPolicy"]);
        assert_eq!(changes[0].after, None);
        assert_eq!(changes[1].before, None);
    }

    #[test]
    fn identical_resources_have_no_changes() {
        let resource = json!({"Properties": {"A": [1, {"B": 2}]}});
        assert!(resource_changes("AWS::SQS::Queue", Some(&resource), Some(&resource)).is_empty());
    }

    #[test]
    fn changes_of_a_type_strata_does_not_know_are_conditional() {
        let before = json!({"Properties": {"A": 1}});
        let after = json!({"Properties": {"A": 2}});
        let changes = resource_changes("AWS::Made::Up", Some(&before), Some(&after));
        assert_eq!(changes[0].replacement, Replacement::Conditional);
    }
}
