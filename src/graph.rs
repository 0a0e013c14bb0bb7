//! Stack order from the imports templates really use: a stack comes after every stack whose
//! exports it imports. Unknown imports and cycles are errors that name the stacks.

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

/// For each stack, the stacks it imports from.
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
/// dependencies from any of them must revisit a stack: that loop is the cycle.
fn find_cycle(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let mut path: Vec<&str> = Vec::new();
    let mut current = remaining.keys().next().copied();
    while let Some(stack) = current {
        if let Some(start) = path.iter().position(|seen| *seen == stack) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            cycle.push(stack.to_string());
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

    #[test]
    fn a_cycle_names_its_stacks() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        match order(&g) {
            Err(Error::StackCycle { cycle }) => assert_eq!(cycle, ["a", "b", "c", "a"]),
            other => panic!("expected a cycle, got {other:?}"),
        }
    }
}
