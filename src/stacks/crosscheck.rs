//! Rules AWS enforces between resources that may live in different stacks, checked offline over all
//! rendered templates of an environment (a queue in the storage stack, the function consuming it in
//! the app stack). References are followed as CloudFormation would resolve them: `Fn::GetAtt` within
//! a template, `Fn::ImportValue` to the exporting template's output. Whatever cannot be followed (a
//! literal ARN, a parameter) is not judged.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::model::{Resource, Template};

/// One rendered stack, as the checks see it.
#[derive(Clone, Copy)]
pub struct StackView<'a> {
    pub name: &'a str,
    pub file: &'a Path,
    pub template: &'a Template,
}

/// SQS's default visibility timeout, when a queue does not set one (AWS::SQS::Queue,
/// VisibilityTimeout: "the default value is 30 seconds").
const DEFAULT_VISIBILITY_TIMEOUT: u64 = 30;
/// Lambda's default function timeout (AWS::Lambda::Function, Timeout).
const DEFAULT_FUNCTION_TIMEOUT: u64 = 3;
/// AWS::Lambda::EventSourceMapping, BatchSize: "Amazon Simple Queue Service – Default 10. For
/// standard queues the maximum is 10,000. For FIFO queues the maximum is 10."
const FIFO_MAX_BATCH: u64 = 10;
/// AWS recommends a queue visibility timeout of six times the function timeout (Lambda Developer
/// Guide, Creating and configuring an Amazon SQS event source mapping).
const RECOMMENDED_FACTOR: u64 = 6;

pub fn check(stacks: &[StackView]) -> Vec<Diagnostic> {
    let mut exports: BTreeMap<&str, (StackView, &Value)> = BTreeMap::new();
    for stack in stacks {
        for output in stack.template.outputs.values() {
            if let Some(name) = &output.export {
                exports.insert(name.as_str(), (*stack, &output.value));
            }
        }
    }
    let mut problems = Vec::new();
    for stack in stacks {
        for (id, resource) in &stack.template.resources {
            if resource.resource_type == "AWS::Lambda::EventSourceMapping" {
                problems.extend(queue_mapping(stack, id, resource, &exports));
            }
        }
    }
    problems
}

/// The resource `value` (an ARN-valued reference) points at, following one import.
fn resolve<'a>(
    stack: StackView<'a>,
    value: &'a Value,
    exports: &BTreeMap<&str, (StackView<'a>, &'a Value)>,
) -> Option<(StackView<'a>, &'a str, &'a Resource)> {
    if let Some(name) = value.get("Fn::ImportValue").and_then(Value::as_str) {
        let (exporter, exported) = exports.get(name)?;
        if exported.get("Fn::ImportValue").is_some() {
            return None;
        }
        return resolve(*exporter, exported, exports);
    }
    let id = value
        .get("Fn::GetAtt")
        .and_then(Value::as_array)
        .and_then(|parts| parts.first())
        .and_then(Value::as_str)
        .or_else(|| value.get("Ref").and_then(Value::as_str))?;
    let (id, resource) = stack.template.resources.get_key_value(id)?;
    Some((stack, id.as_str(), resource))
}

fn number(resource: &Resource, property: &str, default: u64) -> Option<u64> {
    match resource.properties.get(property) {
        None => Some(default),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|text| text.parse().ok())),
    }
}

/// Lambda refuses an event source mapping whose queue's visibility timeout is shorter than the
/// function's timeout: "Your function's timeout must be less than or equal to the queue's visibility
/// timeout. Lambda validates this requirement when you create or update an event source mapping and
/// will return an error if the function timeout exceeds the queue's visibility timeout" (Lambda
/// Developer Guide, Creating and configuring an Amazon SQS event source mapping). FIFO queues take
/// batches of at most 10 and no batching window (Lambda parameters for Amazon SQS event source
/// mappings).
fn queue_mapping(
    stack: &StackView,
    id: &str,
    mapping: &Resource,
    exports: &BTreeMap<&str, (StackView, &Value)>,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let Some(source) = mapping.properties.get("EventSourceArn") else {
        return problems;
    };
    let Some((queue_stack, queue_id, queue)) = resolve(*stack, source, exports) else {
        return problems;
    };
    if queue.resource_type != "AWS::SQS::Queue" {
        return problems;
    }
    let queue_name = queue.properties["QueueName"]
        .as_str()
        .unwrap_or(queue_id)
        .to_owned();
    let problem = |message: String| {
        Diagnostic::new(
            stack.file,
            "",
            format!("stack `{}`, event source `{id}`: {message}", stack.name),
        )
    };
    let fifo = queue.properties.get("FifoQueue") == Some(&Value::Bool(true));
    if fifo {
        if let Some(batch) = number(mapping, "BatchSize", FIFO_MAX_BATCH)
            && batch > FIFO_MAX_BATCH
        {
            problems.push(problem(format!(
                "batch size {batch} for FIFO queue `{queue_name}`; Lambda takes at most {FIFO_MAX_BATCH} from a FIFO queue"
            )));
        }
        if number(mapping, "MaximumBatchingWindowInSeconds", 0).is_some_and(|w| w > 0) {
            problems.push(problem(format!(
                "a batching window for FIFO queue `{queue_name}`; Lambda supports batching windows only for standard queues"
            )));
        }
    }
    let function = mapping
        .properties
        .get("FunctionName")
        .and_then(|name| resolve(*stack, name, exports))
        .filter(|(_, _, f)| f.resource_type == "AWS::Lambda::Function");
    let Some((_, function_id, function)) = function else {
        return problems;
    };
    let (Some(timeout), Some(visibility)) = (
        number(function, "Timeout", DEFAULT_FUNCTION_TIMEOUT),
        number(queue, "VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT),
    ) else {
        return problems;
    };
    if visibility < timeout {
        let function_name = function.properties["FunctionName"]
            .as_str()
            .unwrap_or(function_id);
        problems.push(problem(format!(
            "function `{function_name}` has a timeout of {timeout} s, but the queue it consumes, `{queue_name}` (stack `{}`), \
             has a visibility timeout of {visibility} s; Lambda refuses the event source mapping. Raise the queue's \
             visibility timeout to at least {timeout} s (AWS recommends {} s, six times the function timeout) or lower \
             the function's timeout",
            queue_stack.name,
            timeout * RECOMMENDED_FACTOR
        )));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Output;
    use serde_json::json;

    fn queue(visibility: u64, fifo: bool) -> Resource {
        let mut properties = json!({ "QueueName": "q", "VisibilityTimeout": visibility });
        if fifo {
            properties["FifoQueue"] = json!(true);
        }
        Resource::new("AWS::SQS::Queue", properties)
    }

    fn consumer(timeout: u64, source: Value, batch: u64) -> Template {
        let mut app = Template::default();
        app.add(
            "Fn",
            Resource::new(
                "AWS::Lambda::Function",
                json!({ "FunctionName": "fn", "Timeout": timeout }),
            ),
        )
        .unwrap();
        app.add(
            "Mapping",
            Resource::new(
                "AWS::Lambda::EventSourceMapping",
                json!({ "FunctionName": { "Ref": "Fn" }, "EventSourceArn": source, "BatchSize": batch }),
            ),
        )
        .unwrap();
        app
    }

    fn storage(queue: Resource) -> Template {
        let mut storage = Template::default();
        storage.add("Q", queue).unwrap();
        storage
            .output(
                "QArn",
                Output {
                    description: String::new(),
                    value: json!({ "Fn::GetAtt": ["Q", "Arn"] }),
                    export: Some("p-dev-storage-QArn".into()),
                },
            )
            .unwrap();
        storage
    }

    fn run(storage: &Template, app: &Template) -> Vec<String> {
        let stacks = [
            StackView {
                name: "storage",
                file: Path::new("stacks/storage.yaml"),
                template: storage,
            },
            StackView {
                name: "app",
                file: Path::new("stacks/app.yaml"),
                template: app,
            },
        ];
        check(&stacks).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_queue_in_another_stack_must_outlast_the_function_timeout() {
        let import = json!({ "Fn::ImportValue": "p-dev-storage-QArn" });
        let short = run(
            &storage(queue(30, false)),
            &consumer(60, import.clone(), 10),
        );
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(
            short[0].starts_with("stacks/app.yaml: stack `app`, event source `Mapping`: function `fn` has a timeout of 60 s")
                && short[0].contains("`q` (stack `storage`), has a visibility timeout of 30 s")
                && short[0].contains("recommends 360 s"),
            "{}",
            short[0]
        );
        assert!(run(&storage(queue(60, false)), &consumer(60, import, 10)).is_empty());
    }

    #[test]
    fn a_queue_in_the_same_stack_is_checked_too_and_defaults_count() {
        let mut app = consumer(31, json!({ "Fn::GetAtt": ["Q", "Arn"] }), 10);
        app.add(
            "Q",
            Resource::new("AWS::SQS::Queue", json!({ "QueueName": "q" })),
        )
        .unwrap();
        let found = run(&Template::default(), &app);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("visibility timeout of 30 s"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn fifo_queues_take_batches_of_ten_without_a_window() {
        let import = json!({ "Fn::ImportValue": "p-dev-storage-QArn" });
        let mut app = consumer(5, import.clone(), 11);
        app.resources.get_mut("Mapping").unwrap().properties["MaximumBatchingWindowInSeconds"] =
            json!(5);
        let found = run(&storage(queue(30, true)), &app);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("at most 10 from a FIFO queue"),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains("batching windows only for standard queues"),
            "{}",
            found[1]
        );
        assert!(run(&storage(queue(30, true)), &consumer(5, import, 10)).is_empty());
    }

    #[test]
    fn what_cannot_be_followed_is_not_judged() {
        let literal = json!("arn:aws:sqs:eu-west-1:111111111111:q");
        assert!(run(&storage(queue(1, false)), &consumer(60, literal, 10)).is_empty());
        let unknown = json!({ "Fn::ImportValue": "nobody-exports-this" });
        assert!(run(&storage(queue(1, false)), &consumer(60, unknown, 10)).is_empty());
    }
}
