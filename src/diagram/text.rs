//! The diagram as text: Mermaid (renders in GitHub pull requests and job summaries) and DOT
//! (Graphviz, and the input of the SVG layout). Same diagram, same bytes.

use std::fmt::Write;

use super::{Diagram, EdgeKind, Group, Mark, Node, label_lines};

pub fn mermaid(diagram: &Diagram) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "---\ntitle: {}\n---", diagram.title);
    text.push_str("flowchart TB\n");
    for group in &diagram.groups {
        mermaid_group(&mut text, diagram, group, 1);
    }
    for id in &diagram.outside {
        if let Some(node) = diagram.nodes.get(id) {
            mermaid_node(&mut text, node, 1);
        }
    }
    for edge in &diagram.edges {
        let arrow = match edge.kind {
            EdgeKind::Replication => "==>",
            EdgeKind::Placement => "-.->",
            _ => "-->",
        };
        let _ = writeln!(
            text,
            "  {} {arrow}|\"{}\"| {}",
            edge.from,
            escape_mermaid(&edge.label),
            edge.to
        );
    }
    let _ = writeln!(
        text,
        "  classDef added fill:#e6ffed,stroke:#22863a,stroke-width:3px\n  classDef changed fill:#fff5b1,stroke:#b08800,stroke-width:3px\n  classDef replaced fill:#ffeef0,stroke:#cb2431,stroke-width:3px"
    );
    for mark in [Mark::Added, Mark::Changed, Mark::Replaced] {
        let ids: Vec<&str> = diagram
            .nodes
            .values()
            .filter(|n| n.mark == Some(mark))
            .map(|n| n.id.as_str())
            .collect();
        if !ids.is_empty() {
            let _ = writeln!(text, "  class {} {}", ids.join(","), mark.name());
        }
    }
    text
}

fn mermaid_group(text: &mut String, diagram: &Diagram, group: &Group, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(
        text,
        "{indent}subgraph {}[\"{}\"]",
        group.id,
        escape_mermaid(&group.label)
    );
    // Availability zones side by side: one column each.
    if group
        .groups
        .iter()
        .any(|g| g.label.starts_with("availability zone"))
    {
        let _ = writeln!(text, "{indent}  direction LR");
    }
    for id in &group.nodes {
        if let Some(node) = diagram.nodes.get(id) {
            mermaid_node(text, node, depth + 1);
        }
    }
    for inner in &group.groups {
        mermaid_group(text, diagram, inner, depth + 1);
    }
    let _ = writeln!(text, "{indent}end");
}

fn mermaid_node(text: &mut String, node: &Node, depth: usize) {
    let label = label_lines(node)
        .iter()
        .map(|line| escape_mermaid(line))
        .collect::<Vec<_>>()
        .join("<br/>");
    let (open, close) = match node.resource_type.as_str() {
        "AWS::RDS::DBInstance" | "AWS::DynamoDB::Table" => ("[(", ")]"),
        "AWS::SQS::Queue" | "AWS::SNS::Topic" => ("[/", "/]"),
        "allowed network" => ("((", "))"),
        _ => ("[", "]"),
    };
    let _ = writeln!(
        text,
        "{}{}{open}\"{label}\"{close}",
        "  ".repeat(depth),
        node.id
    );
}

/// Mermaid labels are quoted; quotes and angle brackets become entities.
fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

pub fn dot(diagram: &Diagram) -> String {
    let mut text = String::new();
    text.push_str("digraph architecture {\n");
    let _ = writeln!(text, "  label={};", quote(&diagram.title));
    text.push_str("  labelloc=t;\n  rankdir=TB;\n  compound=true;\n  node [shape=box, fontsize=12];\n  edge [fontsize=12];\n");
    for group in &diagram.groups {
        dot_group(&mut text, diagram, group, 1);
    }
    for id in &diagram.outside {
        if let Some(node) = diagram.nodes.get(id) {
            dot_node(&mut text, node, 1);
        }
    }
    for edge in &diagram.edges {
        let style = match edge.kind {
            EdgeKind::Replication => ", style=bold",
            EdgeKind::Placement => ", style=dashed",
            _ => "",
        };
        let _ = writeln!(
            text,
            "  {} -> {} [label={}{style}];",
            edge.from,
            edge.to,
            quote(&edge.label)
        );
    }
    text.push_str("}\n");
    text
}

fn dot_group(text: &mut String, diagram: &Diagram, group: &Group, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(text, "{indent}subgraph cluster_{} {{", group.id);
    let _ = writeln!(text, "{indent}  label={};", quote(&group.label));
    for id in &group.nodes {
        if let Some(node) = diagram.nodes.get(id) {
            dot_node(text, node, depth + 1);
        }
    }
    for inner in &group.groups {
        dot_group(text, diagram, inner, depth + 1);
    }
    let _ = writeln!(text, "{indent}}}");
}

fn dot_node(text: &mut String, node: &Node, depth: usize) {
    let shape = match node.resource_type.as_str() {
        "AWS::RDS::DBInstance" | "AWS::DynamoDB::Table" => "cylinder",
        "allowed network" => "ellipse",
        _ => "box",
    };
    let color = match node.mark {
        Some(Mark::Added) => ", style=filled, fillcolor=\"#e6ffed\", color=\"#22863a\"",
        Some(Mark::Changed) => ", style=filled, fillcolor=\"#fff5b1\", color=\"#b08800\"",
        Some(Mark::Replaced) => ", style=filled, fillcolor=\"#ffeef0\", color=\"#cb2431\"",
        None => "",
    };
    let _ = writeln!(
        text,
        "{}{} [label={}, shape={shape}{color}];",
        "  ".repeat(depth),
        node.id,
        quote(&label_lines(node).join("\n"))
    );
}

/// A DOT string: quotes and backslashes escaped, line breaks as `\n`.
fn quote(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}
