//! When a deployed stack is known to be unchanged without asking CloudFormation for a change set.
//!
//! A change set costs three calls (create, describe until done, delete) and, on AWS, seconds per stack. An
//! update whose template, parameter values and stack tags equal what the stack has is refused by
//! CloudFormation ("The submitted information didn't contain changes"), so when all three are equal the plan
//! can say "no changes" from the two reads it makes anyway (DescribeStacks, GetTemplate).
//!
//! Not compared, because no change set could differ in them: capabilities (an acknowledgement each operation
//! gives, CreateChangeSet API reference, `Capabilities`) and termination protection (its own API,
//! UpdateTerminationProtection, which apply calls separately).
//!
//! Never skipped: a template whose final form CloudFormation computes itself at deploy time, where equal text
//! can still mean different resources:
//! - dynamic references (`{{resolve:ssm:...}}`, `{{resolve:secretsmanager:...}}`): "CloudFormation retrieves
//!   the value of the specified reference when necessary during stack and change set operations" (User Guide,
//!   "Get values stored in other services using dynamic references");
//! - SSM-typed parameters (`AWS::SSM::Parameter::Value<...>`), resolved from Parameter Store at every update;
//! - transforms (`Transform`: macros, AWS::Serverless), which process the template on CloudFormation's side.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::aws::cloudformation::StackDescription;
use crate::render::canonical;

/// Whether the stack has nothing to change: same template (compared canonically), same parameter values
/// (given or defaulted), same stack tags, and nothing in the template that CloudFormation resolves itself.
pub fn is_unchanged(
    deployed: &StackDescription,
    deployed_template: &Value,
    new_template: &Value,
    body: &str,
    given: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> bool {
    !resolved_by_cloudformation(new_template, body)
        && canonical(deployed_template) == canonical(new_template)
        && deployed.parameters == parameter_values(new_template, given)
        && &deployed.tags == tags
}

fn resolved_by_cloudformation(template: &Value, body: &str) -> bool {
    let ssm_typed = template
        .get("Parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .any(|(_, declaration)| {
            declaration
                .get("Type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("AWS::SSM::Parameter::Value<"))
        });
    ssm_typed || body.contains("{{resolve:") || template.get("Transform").is_some()
}

/// The value of every declared parameter: the one given, else its `Default` as text (CloudFormation keeps
/// defaults as strings: a `Default: 5` is the value `"5"`). A parameter with neither is left out, and then the
/// maps differ, so the change set decides.
fn parameter_values(
    template: &Value,
    given: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    template
        .get("Parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, declaration)| {
            let value =
                given
                    .get(name)
                    .cloned()
                    .or_else(|| match declaration.get("Default")? {
                        Value::String(text) => Some(text.clone()),
                        Value::Array(items) => Some(
                            items
                                .iter()
                                .map(|item| match item {
                                    Value::String(text) => text.clone(),
                                    other => other.to_string(),
                                })
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        other => Some(other.to_string()),
                    })?;
            Some((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::cloudformation::StackStatus;

    fn stack(parameters: &[(&str, &str)], tags: &[(&str, &str)]) -> StackDescription {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        StackDescription {
            name: "photofeed-dev-storage".into(),
            id: "arn:aws:cloudformation:eu-west-1:111111111111:stack/photofeed-dev-storage/1"
                .into(),
            status: StackStatus("UPDATE_COMPLETE".into()),
            status_reason: None,
            outputs: BTreeMap::new(),
            parameters: map(parameters),
            tags: map(tags),
            termination_protection: false,
        }
    }

    fn template() -> Value {
        json!({
            "Parameters": {
                "Endpoint": {"Type": "String"},
                "Size": {"Type": "Number", "Default": 5}
            },
            "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": {"Ref": "Size"}}}}
        })
    }

    fn tags() -> BTreeMap<String, String> {
        BTreeMap::from([("environment".to_string(), "dev".to_string())])
    }

    fn given(endpoint: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("Endpoint".to_string(), endpoint.to_string())])
    }

    #[test]
    fn equal_template_parameters_and_tags_need_no_change_set() {
        let deployed = stack(
            &[("Endpoint", "a"), ("Size", "5")],
            &[("environment", "dev")],
        );
        let t = template();
        let body = t.to_string();
        assert!(is_unchanged(&deployed, &t, &t, &body, &given("a"), &tags()));
    }

    #[test]
    fn any_difference_asks_cloudformation() {
        let deployed = stack(
            &[("Endpoint", "a"), ("Size", "5")],
            &[("environment", "dev")],
        );
        let t = template();
        let body = t.to_string();
        // A parameter value that moved.
        assert!(!is_unchanged(
            &deployed,
            &t,
            &t,
            &body,
            &given("b"),
            &tags()
        ));
        // A tag that moved.
        let other_tags = BTreeMap::from([("environment".to_string(), "staging".to_string())]);
        assert!(!is_unchanged(
            &deployed,
            &t,
            &t,
            &body,
            &given("a"),
            &other_tags
        ));
        // A template that moved.
        let mut changed = t.clone();
        changed["Resources"]["Q"]["Properties"]["DelaySeconds"] = json!(6);
        assert!(!is_unchanged(
            &deployed,
            &t,
            &changed,
            &changed.to_string(),
            &given("a"),
            &tags()
        ));
        // A default that moved.
        let mut new_default = t.clone();
        new_default["Parameters"]["Size"]["Default"] = json!(6);
        assert!(!is_unchanged(
            &deployed,
            &t,
            &new_default,
            &new_default.to_string(),
            &given("a"),
            &tags()
        ));
    }

    #[test]
    fn values_cloudformation_resolves_itself_always_ask_cloudformation() {
        let deployed = stack(
            &[("Endpoint", "a"), ("Size", "5")],
            &[("environment", "dev")],
        );
        let mut with_secret = template();
        with_secret["Resources"]["Q"]["Properties"]["KmsMasterKeyId"] =
            json!("{{resolve:ssm:/keys/queue}}");
        assert!(!is_unchanged(
            &deployed,
            &with_secret,
            &with_secret,
            &with_secret.to_string(),
            &given("a"),
            &tags()
        ));

        let mut with_image = template();
        with_image["Parameters"]["Image"] = json!({
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        });
        let deployed_image = stack(
            &[("Endpoint", "a"), ("Size", "5"), ("Image", "ami-0fixed")],
            &[("environment", "dev")],
        );
        assert!(!is_unchanged(
            &deployed_image,
            &with_image,
            &with_image,
            &with_image.to_string(),
            &given("a"),
            &tags()
        ));

        let mut transformed = template();
        transformed["Transform"] = json!("AWS::Serverless-2016-10-31");
        assert!(!is_unchanged(
            &deployed,
            &transformed,
            &transformed,
            &transformed.to_string(),
            &given("a"),
            &tags()
        ));
    }
}
