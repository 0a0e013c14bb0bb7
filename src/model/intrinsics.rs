//! Constructors for CloudFormation intrinsic functions, always in their long (JSON) form.

use serde_json::{Value, json};

pub fn reference(logical_id: &str) -> Value {
    json!({ "Ref": logical_id })
}

pub fn get_att(logical_id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical_id, attribute] })
}

pub fn import_value(export_name: &str) -> Value {
    json!({ "Fn::ImportValue": export_name })
}

pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

pub fn sub_with(text: &str, variables: serde_json::Map<String, Value>) -> Value {
    json!({ "Fn::Sub": [text, Value::Object(variables)] })
}

pub fn join(separator: &str, items: Vec<Value>) -> Value {
    json!({ "Fn::Join": [separator, items] })
}

pub fn base64(value: Value) -> Value {
    json!({ "Fn::Base64": value })
}

/// Makes literal text safe inside `Fn::Sub`: `${X}` would otherwise be read as a variable.
pub fn escape_for_sub(text: &str) -> String {
    text.replace("${", "${!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_shell_variables_literal() {
        assert_eq!(escape_for_sub("echo ${HOME} $PATH"), "echo ${!HOME} $PATH");
    }
}
