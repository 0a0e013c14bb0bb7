//! The diagram as SVG, laid out by the `layout-rs` crate (a Rust implementation of Graphviz's
//! layered drawing: ranking, crossing reduction, Brandes-Köpf placement). That library draws no
//! nested clusters, so each node's first line names the boundary it sits in (stack, and
//! availability zone inside the VPC) and its colour is its stack's; the Mermaid and DOT outputs
//! draw the boundaries as boxes.

use std::collections::BTreeMap;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::{Diagram, EdgeKind, Group, Mark, label_lines};

/// One font size: the SVG writer keeps a style per size in a hash map, and one entry keeps its
/// output in a fixed order.
const FONT_SIZE: usize = 13;

/// Light fills, one per stack in order.
const STACK_FILLS: [u32; 6] = [
    0xe8f0feff, 0xfef7e0ff, 0xe6f4eaff, 0xf3e8fdff, 0xfce8e6ff, 0xe0f7faff,
];

pub fn svg(diagram: &Diagram) -> String {
    let orientation = Orientation::TopToBottom;
    let mut graph = VisualGraph::new(orientation);
    // Node id -> (boundary line, fill).
    let mut context: BTreeMap<&str, (String, u32)> = BTreeMap::new();
    for (index, stack) in diagram.groups.iter().enumerate() {
        let fill = STACK_FILLS[index % STACK_FILLS.len()];
        collect(stack, &stack.label, fill, &mut context);
    }
    let mut handles = BTreeMap::new();
    for node in diagram.nodes.values() {
        let (boundary, fill) = context
            .get(node.id.as_str())
            .cloned()
            .unwrap_or_else(|| ("outside AWS".to_string(), 0xffffffff));
        let mut lines = vec![format!("[{boundary}]")];
        lines.extend(label_lines(node));
        let shape = ShapeKind::new_box(&lines.join("\n"));
        let (line_color, width) = match node.mark {
            Some(Mark::Added) => (0x22863aff, 4),
            Some(Mark::Changed) => (0xb08800ff, 4),
            Some(Mark::Replaced) => (0xcb2431ff, 4),
            None => (0x444444ff, 1),
        };
        let look = StyleAttr::new(
            Color::new(line_color),
            width,
            Some(Color::new(fill)),
            6,
            FONT_SIZE,
        );
        let size = get_shape_size(orientation, &shape, FONT_SIZE, false);
        let handle = graph.add_node(Element::create(shape, look, orientation, size));
        handles.insert(node.id.as_str(), handle);
    }
    for edge in &diagram.edges {
        let (Some(from), Some(to)) = (
            handles.get(edge.from.as_str()),
            handles.get(edge.to.as_str()),
        ) else {
            continue;
        };
        let (style, color, width) = match edge.kind {
            EdgeKind::Replication => (LineStyleKind::Normal, 0x1a73e8ff, 3),
            EdgeKind::Placement => (LineStyleKind::Dashed, 0x888888ff, 1),
            EdgeKind::Traffic => (LineStyleKind::Normal, 0xd93025ff, 2),
            EdgeKind::Event => (LineStyleKind::Normal, 0x188038ff, 2),
            EdgeKind::Uses => (LineStyleKind::Normal, 0x444444ff, 1),
        };
        let look = StyleAttr::new(Color::new(color), width, None, 0, FONT_SIZE);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &edge.label,
            &look,
            &None,
            &None,
        );
        graph.add_edge(arrow, *from, *to);
    }
    let mut writer = SVGWriter::new();
    if graph.num_nodes() > 0 {
        graph.do_it(false, false, false, &mut writer);
    }
    writer.finalize()
}

/// The boundary line of every node in `group` and below: `stack network / availability zone eu-west-1a`.
fn collect<'a>(
    group: &'a Group,
    path: &str,
    fill: u32,
    context: &mut BTreeMap<&'a str, (String, u32)>,
) {
    for id in &group.nodes {
        context.insert(id.as_str(), (path.to_string(), fill));
    }
    for inner in &group.groups {
        collect(inner, &format!("{path} / {}", inner.label), fill, context);
    }
}
