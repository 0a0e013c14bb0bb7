//! Outputs per stack as an aligned name/value list.

use std::fmt::Write;

use crate::outputs::EnvironmentOutputs;
use crate::report::Style;

pub fn render(outputs: &EnvironmentOutputs, style: Style) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Outputs of environment {} (account {}, region {})",
        style.bold(&outputs.environment),
        outputs.account_id,
        outputs.region
    );
    for stack in &outputs.stacks {
        text.push('\n');
        let Some(status) = &stack.status else {
            let _ = writeln!(
                text,
                "{}  {}",
                style.bold(&stack.stack_name),
                style.yellow("not deployed")
            );
            continue;
        };
        let _ = writeln!(
            text,
            "{}  {}",
            style.bold(&stack.stack_name),
            style.dim(status)
        );
        let width = stack.outputs.keys().map(String::len).max().unwrap_or(0);
        for (name, output) in &stack.outputs {
            let _ = writeln!(text, "  {name:<width$}  {}", output.value);
        }
    }
    text
}
