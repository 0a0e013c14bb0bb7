//! Stack order from the references templates really make: a stack comes after every stack whose
//! exports it imports and every stack whose outputs it receives as parameters (which strata resolves
//! when it creates or updates the stack). Unknown references and cycles are errors that name the stacks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::model::Template;

/// What the graph needs to know about one stack.
pub struct StackNode<'a> {
    pub name: &'a str,
    pub file: &'a Path,
    pub template: &'a Template,
}

/// For each stack, the stacks it imports from or receives outputs of.
pub type Dependencies = BTreeMap<String, BTreeSet<String>>;

pub fn dependencies(stacks: &[StackNode]) -> Result<Dependencies, Error> {
    let mut exporters: BTreeMap<&str, &str> = BTreeMap::new();
    let mut problems = Vec::new();
    for stack in stacks {
        for (output, export) in stack.template.exports() {
            if let Some(other) = exporters.insert(export, stack.name) {
                problems.push(Diagnostic::new(
                    stack.file,
                    format!("outputs.{output}"),
                    format!("export `{export}` is also exported by stack `{other}`"),
                ));
            }
        }
    }
    let mut graph = Dependencies::new();
    for stack in stacks {
        let needs = graph.entry(stack.name.to_string()).or_default();
        for (parameter, source) in stack.template.output_references() {
            let field = format!("parameters.{parameter}");
            match stacks.iter().find(|other| other.name == source.stack) {
                Some(other) if other.name == stack.name => problems.push(Diagnostic::new(
                    stack.file,
                    field,
                    "receives an output of its own stack; refer to the resource directly",
                )),
                Some(other) if other.template.outputs.contains_key(&source.output) => {
                    needs.insert(other.name.to_string());
                }
                Some(other) => problems.push(Diagnostic::new(
                    stack.file,
                    field,
                    format!(
                        "receives output `{}` of stack `{}`, which has no such output; its outputs: {}",
                        source.output,
                        other.name,
                        other
                            .template
                            .outputs
                            .keys()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                None => problems.push(Diagnostic::new(
                    stack.file,
                    field,
                    format!(
                        "receives an output of stack `{}`, which is not defined; check the *_stack settings",
                        source.stack
                    ),
                )),
            }
        }
        for import in stack.template.imports() {
            match exporters.get(import.as_str()) {
                Some(exporter) if *exporter != stack.name => {
                    needs.insert(exporter.to_string());
                }
                Some(_) => problems.push(Diagnostic::new(
                    stack.file,
                    "",
                    format!("imports its own export `{import}`; refer to the resource directly"),
                )),
                None => problems.push(Diagnostic::new(
                    stack.file,
                    "",
                    format!(
                        "imports `{import}`, which no stack exports; check the *_stack settings"
                    ),
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(graph)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Topological order; among stacks that are ready at the same time, alphabetical.
pub fn order(graph: &Dependencies) -> Result<Vec<String>, Error> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = graph
        .iter()
        .map(|(name, needs)| (name.as_str(), needs.iter().map(String::as_str).collect()))
        .collect();
    let mut ordered = Vec::new();
    while let Some(ready) = remaining
        .iter()
        .find(|(_, needs)| needs.is_empty())
        .map(|(name, _)| *name)
    {
        remaining.remove(ready);
        for needs in remaining.values_mut() {
            needs.remove(ready);
        }
        ordered.push(ready.to_string());
    }
    if remaining.is_empty() {
        Ok(ordered)
    } else {
        Err(Error::StackCycle {
            cycle: find_cycle(&remaining),
        })
    }
}

/// Every stack left after the topological sort waits on another left one, so walking
/// dependencies from any of them must revisit a stack: that loop is the cycle. It is named from
/// its alphabetically first stack, so that the message does not depend on which stacks merely
/// wait on the cycle.
fn find_cycle(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let mut path: Vec<&str> = Vec::new();
    let mut current = remaining.keys().next().copied();
    while let Some(stack) = current {
        if let Some(start) = path.iter().position(|seen| *seen == stack) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            if let Some(first) = (0..cycle.len()).min_by_key(|&i| &cycle[i]) {
                cycle.rotate_left(first);
            }
            if let Some(first) = cycle.first().cloned() {
                cycle.push(first);
            }
            return cycle;
        }
        path.push(stack);
        current = remaining
            .get(stack)
            .and_then(|needs| needs.iter().next().copied());
    }
    path.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Dependencies {
        edges
            .iter()
            .map(|(name, needs)| {
                (
                    name.to_string(),
                    needs.iter().map(|n| n.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_are_alphabetical() {
        let g = graph(&[
            ("bastion", &["database", "network"]),
            ("database", &["network"]),
            ("network", &[]),
            ("storage", &[]),
        ]);
        assert_eq!(
            order(&g).unwrap(),
            ["network", "database", "bastion", "storage"]
        );
    }

    fn node<'a>(name: &'a str, template: &'a Template) -> StackNode<'a> {
        StackNode {
            name,
            file: Path::new("stacks/x.yaml"),
            template,
        }
    }

    #[test]
    fn outputs_received_as_parameters_order_stacks_like_imports() {
        use crate::model::{Output, Parameter};
        let mut database = Template::default();
        database
            .output(
                "WriterEndpoint",
                Output {
                    description: "writer".into(),
                    value: serde_json::json!("w"),
                    export: None,
                },
            )
            .unwrap();
        let mut bastion = Template::default();
        bastion
            .parameter(
                "DatabaseWriterEndpoint",
                Parameter::from_output("database", "WriterEndpoint"),
            )
            .unwrap();
        let graph =
            dependencies(&[node("bastion", &bastion), node("database", &database)]).unwrap();
        assert_eq!(order(&graph).unwrap(), ["database", "bastion"]);

        let mut wrong = Template::default();
        wrong
            .parameter("X", Parameter::from_output("database", "ReaderEndpoints"))
            .unwrap();
        wrong
            .parameter("Y", Parameter::from_output("nowhere", "Z"))
            .unwrap();
        let Err(Error::Invalid(problems)) =
            dependencies(&[node("bastion", &wrong), node("database", &database)])
        else {
            panic!("unknown outputs and stacks are errors");
        };
        let messages: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            messages[0].contains("parameters.X")
                && messages[0].contains("has no such output; its outputs: WriterEndpoint"),
            "{messages:?}"
        );
        assert!(
            messages[1].contains("stack `nowhere`, which is not defined"),
            "{messages:?}"
        );
    }

    #[test]
    fn a_cycle_names_its_stacks() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        match order(&g) {
            Err(Error::StackCycle { cycle }) => assert_eq!(cycle, ["a", "b", "c", "a"]),
            other => panic!("expected a cycle, got {other:?}"),
        }
        // A stack that only waits on the cycle changes neither the cycle nor where it starts.
        let waiting = graph(&[
            ("0-first", &["c"]),
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &["a"]),
        ]);
        match order(&waiting) {
            Err(Error::StackCycle { cycle }) => assert_eq!(cycle, ["a", "b", "c", "a"]),
            other => panic!("expected a cycle, got {other:?}"),
        }
    }
}
