//! Offline checks of a raw resource's `Properties` against its CloudFormation schema: structure and
//! types only. Ranges, patterns and cross-property rules are left to cfn-lint and CloudFormation.

use std::fmt;

use serde_json::{Map, Value};

use super::ResourceType;

/// One step of a path into a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// `A.B[2].C`.
pub struct PathDisplay<'a>(pub &'a [Segment]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// What is wrong, and where inside `Properties`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Empty for the properties as a whole.
    pub path: Vec<Segment>,
    pub message: String,
}

pub fn properties(resource_type: &ResourceType, properties: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = &resource_type.schema;
    let checker = Checker {
        resource_type,
        definitions: root.get("definitions").and_then(Value::as_object),
    };
    match properties {
        Value::Object(map) => {
            for name in map.keys() {
                let path = vec![Segment::Key(name.clone())];
                if resource_type.is_read_only(&path) {
                    problems.push(Problem {
                        path,
                        message: format!(
                            "`{name}` is read-only: AWS sets it (read it with Fn::GetAtt instead)"
                        ),
                    });
                }
            }
            checker.object(root, map, &mut Vec::new(), &mut problems);
        }
        Value::Null => checker.required(root, &Map::new(), &[], &mut problems),
        other if is_intrinsic(other) => {}
        other => problems.push(Problem {
            path: Vec::new(),
            message: format!("must be a mapping of properties, not {}", kind_of(other)),
        }),
    }
    problems
}

struct Checker<'a> {
    resource_type: &'a ResourceType,
    definitions: Option<&'a Map<String, Value>>,
}

impl<'a> Checker<'a> {
    /// Follows `$ref: #/definitions/X`.
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        for _ in 0..16 {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let found = target
                .strip_prefix("#/definitions/")
                .and_then(|name| self.definitions?.get(name));
            match found {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    fn value(
        &self,
        schema: &'a Value,
        value: &Value,
        path: &mut Vec<Segment>,
        problems: &mut Vec<Problem>,
    ) {
        if is_intrinsic(value) {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(expected) = types_of(schema)
            && !expected.iter().any(|kind| matches_type(kind, value))
        {
            problems.push(Problem {
                path: path.clone(),
                message: format!("must be {}, not {}", expected.join(" or "), kind_of(value)),
            });
            return;
        }
        match value {
            Value::Object(map) => self.object(schema, map, path, problems),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        path.push(Segment::Index(index));
                        self.value(item_schema, item, path, problems);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn object(
        &self,
        schema: &'a Value,
        map: &Map<String, Value>,
        path: &mut Vec<Segment>,
        problems: &mut Vec<Problem>,
    ) {
        let known = self.known_properties(schema);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false))
            && schema.get("patternProperties").is_none();
        for (name, value) in map {
            path.push(Segment::Key(name.clone()));
            match known.iter().find(|(known, _)| known == name) {
                Some((_, property)) => self.value(property, value, path, problems),
                None if closed && !known.is_empty() => problems.push(Problem {
                    path: path.clone(),
                    message: self.unknown(name, &known, path.len() == 1),
                }),
                None => {}
            }
            path.pop();
        }
        self.required(schema, map, path, problems);
    }

    fn required(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        path: &[Segment],
        problems: &mut Vec<Problem>,
    ) {
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                problems.push(Problem {
                    path: path.to_vec(),
                    message: format!("missing required property `{name}`"),
                });
            }
        }
    }

    /// Properties of the object schema and of its `allOf`/`anyOf`/`oneOf` branches (some schemas
    /// declare alternatives there).
    fn known_properties(&self, schema: &'a Value) -> Vec<(String, &'a Value)> {
        let mut known: Vec<(String, &'a Value)> = Vec::new();
        let mut add = |node: &'a Value| {
            if let Some(map) = node.get("properties").and_then(Value::as_object) {
                for (name, property) in map {
                    if !known.iter().any(|(n, _)| n == name) {
                        known.push((name.clone(), property));
                    }
                }
            }
        };
        add(schema);
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for branch in schema
                .get(combinator)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                add(self.resolve(branch));
            }
        }
        known
    }

    fn unknown(&self, name: &str, known: &[(String, &Value)], top_level: bool) -> String {
        let closest = known
            .iter()
            .map(|(candidate, _)| (strsim::jaro_winkler(name, candidate), candidate))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, candidate)| candidate);
        let what = if top_level {
            format!("{} has no property `{name}`", self.resource_type.name)
        } else {
            format!("unknown property `{name}`")
        };
        match closest {
            Some(candidate) => format!("{what}; did you mean `{candidate}`?"),
            None => {
                let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
                format!("{what}; known: {}", names.join(", "))
            }
        }
    }
}

/// `{"Ref": ..}`, `{"Fn::...": ..}`: evaluated by CloudFormation, accepted in place of any value.
fn is_intrinsic(value: &Value) -> bool {
    matches!(value, Value::Object(map)
        if map.len() == 1 && map.keys().all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::")))
}

fn types_of(schema: &Value) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(kind) => Some(vec![kind.as_str()]),
        Value::Array(kinds) => Some(kinds.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// CloudFormation converts scalars the way its own template processor does: `"5"` is a valid
/// integer, `true` and `5` valid strings, `"true"` a valid boolean (cfn-lint, non-strict mode).
fn matches_type(kind: &str, value: &Value) -> bool {
    match (kind, value) {
        ("object", Value::Object(_)) | ("array", Value::Array(_)) => true,
        ("string", Value::String(_) | Value::Number(_) | Value::Bool(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("integer", Value::String(text)) => text.trim().parse::<i64>().is_ok(),
        ("number", Value::Number(_)) => true,
        ("number", Value::String(text)) => text.trim().parse::<f64>().is_ok(),
        ("boolean", Value::Bool(_)) => true,
        ("boolean", Value::String(text)) => matches!(text.as_str(), "true" | "false"),
        _ => false,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::require;
    use super::*;

    fn problems(resource_type: &str, properties: Value) -> Vec<(String, String)> {
        require(resource_type)
            .unwrap()
            .validate(&properties)
            .into_iter()
            .map(|p| (PathDisplay(&p.path).to_string(), p.message))
            .collect()
    }

    fn table() -> Value {
        json!({
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TableName": {"Fn::Sub": "${AWS::StackName}-sessions"},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": "true"},
            "Tags": [{"Key": "project", "Value": "photofeed"}]
        })
    }

    #[test]
    fn a_valid_table_passes() {
        assert_eq!(problems("AWS::DynamoDB::Table", table()), vec![]);
    }

    #[test]
    fn a_misspelt_property_is_named_with_a_suggestion() {
        let mut properties = table();
        let value = properties
            .as_object_mut()
            .unwrap()
            .remove("BillingMode")
            .unwrap();
        properties["BilingMode"] = value;
        assert_eq!(
            problems("AWS::DynamoDB::Table", properties),
            [(
                "BilingMode".to_owned(),
                "AWS::DynamoDB::Table has no property `BilingMode`; did you mean `BillingMode`?"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn nested_unknown_properties_wrong_types_and_missing_required_ones() {
        let mut properties = table();
        properties["AttributeDefinitions"][0]["AttributeTipe"] = json!("S");
        properties["SSESpecification"] = json!("on");
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = json!([1]);
        let found = problems("AWS::DynamoDB::Table", properties);
        assert!(
            found.contains(&(
                "AttributeDefinitions[0].AttributeTipe".into(),
                "unknown property `AttributeTipe`; did you mean `AttributeType`?".into()
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "SSESpecification".into(),
                "must be object, not a string".into()
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled".into(),
                "must be boolean, not a list".into()
            )),
            "{found:?}"
        );
        let missing = problems("AWS::DynamoDB::Table", json!({}));
        assert_eq!(
            missing,
            [(
                String::new(),
                "missing required property `KeySchema`".to_owned()
            )]
        );
    }

    #[test]
    fn read_only_properties_cannot_be_declared() {
        let mut properties = table();
        properties["Arn"] = json!("arn:aws:dynamodb:eu-west-1:1:table/x");
        assert_eq!(
            problems("AWS::DynamoDB::Table", properties),
            [(
                "Arn".to_owned(),
                "`Arn` is read-only: AWS sets it (read it with Fn::GetAtt instead)".to_owned()
            )]
        );
    }

    #[test]
    fn intrinsics_stand_in_for_any_value() {
        let properties = json!({
            "QueueName": {"Fn::Join": ["-", ["a", "b"]]},
            "VisibilityTimeout": {"Ref": "Timeout"},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": "5"},
            "Tags": {"Fn::If": ["C", [], []]}
        });
        assert_eq!(problems("AWS::SQS::Queue", properties), vec![]);
    }
}
