//! Turns declared property values (which may hold intrinsic functions) into the literal values AWS would hold.
//!
//! What can be resolved: `Ref` (resources through their physical ids, template parameters through the deployed
//! stack's parameter values, pseudo parameters), `Fn::ImportValue`
//! (through the account's exports), `Fn::GetAtt` (the attributes [`AttributeSource`] knows, read from live
//! snapshots), `Fn::Sub`, `Fn::Join` and `Fn::Select`. Anything else — or anything whose inputs are unknown — is
//! `None`, and the caller skips that comparison instead of flagging it: not knowing is not drift.

use std::collections::BTreeMap;

use serde_json::Value;

/// Attributes of resources (`Fn::GetAtt`), read from whatever the caller has observed.
pub trait AttributeSource {
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String>;
}

/// No attributes known (used before anything live has been read).
pub struct NoAttributes;

impl AttributeSource for NoAttributes {
    fn attribute(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

pub struct Resolver<'a> {
    pub stack_name: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    /// Logical id -> physical id of this stack's resources.
    pub physical_ids: &'a BTreeMap<String, String>,
    /// Template parameter -> the value the deployed stack was given (for SSM-typed parameters, the resolved
    /// value: DescribeStacks `ResolvedValue`).
    pub parameters: &'a BTreeMap<String, String>,
    /// Export name -> value, account-wide.
    pub exports: &'a BTreeMap<String, String>,
    pub attributes: &'a dyn AttributeSource,
}

impl Resolver<'_> {
    /// The value with every intrinsic function evaluated, or `None` if any part cannot be.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, argument) = map.iter().next()?;
                if key == "Ref" || key.starts_with("Fn::") {
                    self.intrinsic(key, argument).map(Value::String)
                } else {
                    self.resolve_map(map)
                }
            }
            Value::Object(map) => self.resolve_map(map),
            Value::Array(items) => items
                .iter()
                .map(|item| self.resolve(item))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            scalar => Some(scalar.clone()),
        }
    }

    /// The value as text (numbers and booleans as CloudFormation would stringify them).
    pub fn resolve_string(&self, value: &Value) -> Option<String> {
        match self.resolve(value)? {
            Value::String(text) => Some(text),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    fn resolve_map(&self, map: &serde_json::Map<String, Value>) -> Option<Value> {
        map.iter()
            .map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
            .collect::<Option<serde_json::Map<_, _>>>()
            .map(Value::Object)
    }

    fn intrinsic(&self, function: &str, argument: &Value) -> Option<String> {
        match function {
            "Ref" => self.reference(argument.as_str()?),
            "Fn::ImportValue" => self.exports.get(&self.resolve_string(argument)?).cloned(),
            "Fn::GetAtt" => {
                let (logical_id, attribute) = get_att_target(argument)?;
                self.attributes.attribute(&logical_id, &attribute)
            }
            "Fn::Sub" => self.sub(argument),
            "Fn::Join" => {
                let [separator, items] = argument.as_array()?.as_slice() else {
                    return None;
                };
                let items = match self.resolve(items)? {
                    Value::Array(items) => items,
                    _ => return None,
                };
                let parts = items
                    .iter()
                    .map(|item| self.resolve_string(item))
                    .collect::<Option<Vec<_>>>()?;
                Some(parts.join(separator.as_str()?))
            }
            "Fn::Select" => {
                let [index, items] = argument.as_array()?.as_slice() else {
                    return None;
                };
                let index: usize = self.resolve_string(index)?.parse().ok()?;
                match self.resolve(items)? {
                    Value::Array(items) => self.resolve_string(items.get(index)?),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => Some(self.region.to_owned()),
            "AWS::AccountId" => Some(self.account_id.to_owned()),
            "AWS::Partition" => Some(partition(self.region).to_owned()),
            "AWS::URLSuffix" => Some(url_suffix(self.region).to_owned()),
            "AWS::StackName" => Some(self.stack_name.to_owned()),
            "AWS::NoValue" => None,
            name => self
                .parameters
                .get(name)
                .or_else(|| self.physical_ids.get(name))
                .cloned(),
        }
    }

    /// `Fn::Sub` with a string or `[string, {variables}]`: `${Name}`, `${Name.Attribute}`, `${!Literal}`.
    fn sub(&self, argument: &Value) -> Option<String> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), None),
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(text), Value::Object(variables)] => (text.as_str(), Some(variables)),
                _ => return None,
            },
            _ => return None,
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&self.resolve_string(value)?);
            } else if let Some((logical_id, attribute)) = name.split_once('.') {
                out.push_str(&self.attributes.attribute(logical_id, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// `["Res", "Attr"]` or `"Res.Attr"`.
fn get_att_target(argument: &Value) -> Option<(String, String)> {
    match argument {
        Value::Array(parts) => match parts.as_slice() {
            [Value::String(logical_id), Value::String(attribute)] => {
                Some((logical_id.clone(), attribute.clone()))
            }
            _ => None,
        },
        Value::String(text) => text
            .split_once('.')
            .map(|(l, a)| (l.to_owned(), a.to_owned())),
        _ => None,
    }
}

pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn url_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Fixed;
    impl AttributeSource for Fixed {
        fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
            match (logical_id, attribute) {
                ("Queue", "Arn") => Some("arn:aws:sqs:eu-west-1:1:q".into()),
                _ => None,
            }
        }
    }

    fn check(value: Value) -> Option<Value> {
        let physical_ids = BTreeMap::from([("Vpc".to_string(), "vpc-1".to_string())]);
        let exports = BTreeMap::from([("net-VpcId".to_string(), "vpc-9".to_string())]);
        let parameters = BTreeMap::from([(
            "DatabaseWriterEndpoint".to_string(),
            "db-1.example".to_string(),
        )]);
        Resolver {
            stack_name: "app-dev-net",
            region: "eu-west-1",
            account_id: "111111111111",
            physical_ids: &physical_ids,
            parameters: &parameters,
            exports: &exports,
            attributes: &Fixed,
        }
        .resolve(&value)
    }

    #[test]
    fn resolves_refs_imports_and_attributes_inside_structures() {
        assert_eq!(
            check(
                json!({"VpcId": {"Ref": "Vpc"}, "Other": [{"Fn::ImportValue": "net-VpcId"}], "N": 5})
            ),
            Some(json!({"VpcId": "vpc-1", "Other": ["vpc-9"], "N": 5}))
        );
        assert_eq!(
            check(json!({"Fn::GetAtt": ["Queue", "Arn"]})),
            Some(json!("arn:aws:sqs:eu-west-1:1:q"))
        );
        assert_eq!(
            check(json!({"Fn::GetAtt": "Queue.Arn"})),
            Some(json!("arn:aws:sqs:eu-west-1:1:q"))
        );
    }

    #[test]
    fn resolves_sub_join_select_and_pseudo_parameters() {
        assert_eq!(
            check(
                json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::b-${AWS::AccountId}/${Vpc}${!Keep}"})
            ),
            Some(json!("arn:aws:s3:::b-111111111111/vpc-1${Keep}"))
        );
        assert_eq!(
            check(json!({"Fn::Sub": ["${A}-${Queue.Arn}", {"A": {"Ref": "AWS::Region"}}]})),
            Some(json!("eu-west-1-arn:aws:sqs:eu-west-1:1:q"))
        );
        assert_eq!(
            check(json!({"Fn::Join": [",", [{"Ref": "Vpc"}, "x", 3]]})),
            Some(json!("vpc-1,x,3"))
        );
        assert_eq!(
            check(json!({"Fn::Select": ["1", ["a", {"Ref": "Vpc"}]]})),
            Some(json!("vpc-1"))
        );
    }

    #[test]
    fn refs_to_template_parameters_take_the_deployed_stack_values() {
        assert_eq!(
            check(json!({"Ref": "DatabaseWriterEndpoint"})),
            Some(json!("db-1.example"))
        );
        assert_eq!(
            check(json!({"Fn::Sub": ["fwd ${W}", {"W": {"Ref": "DatabaseWriterEndpoint"}}]})),
            Some(json!("fwd db-1.example"))
        );
    }

    #[test]
    fn anything_unknown_is_unresolved_not_guessed() {
        assert_eq!(check(json!({"Ref": "Missing"})), None);
        assert_eq!(check(json!({"Fn::ImportValue": "nope"})), None);
        assert_eq!(
            check(json!({"Fn::GetAtt": ["Lt", "LatestVersionNumber"]})),
            None
        );
        assert_eq!(check(json!({"Fn::If": ["C", 1, 2]})), None);
        assert_eq!(check(json!([{"Ref": "Vpc"}, {"Ref": "Missing"}])), None);
        assert_eq!(check(json!({"Fn::Sub": "${Unclosed"})), None);
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }
}
