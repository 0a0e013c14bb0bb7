//! The one place that drives cfn-guard's validate command.
//!
//! cfn-guard 3.2.1 facts this relies on (read from its source, see the module docs in `mod.rs`):
//! - `ValidateBuilder::payload(true)` reads `{"rules": [<rule text>...], "data": [<template text>...]}`
//!   from the `Reader`; data items are named `DATA_STDIN[1]`, `DATA_STDIN[2]`, ... in order.
//! - `structured(true)` + `OutputFormatType::JSON` + `show_summary([None])` writes one JSON array with
//!   one report per data item; results of all rule files in the call are merged into that report.
//! - A rule file that does not parse is written to the error stream and skipped (exit code 5); that
//!   is why `check_syntax` runs first and why exit code 5 is an error here.
//! - Exit code 0 = all pass/skip, 19 = some rule failed.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cfn_guard::commands::Executable;
use cfn_guard::commands::validate::{OutputFormatType, ShowSummaryType};
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use cfn_guard::{CommandBuilder, ValidateBuilder};

use super::error::PolicyError;
use super::report::report_items;

const EXIT_PASS: i32 = 0;
const EXIT_FAIL: i32 = 19;

/// Evaluates one rule file against a batch of templates (already serialized as JSON text) and
/// returns one report item per template (its JSON text, see `report::parse_item`), in input order.
/// `stacks` only serves error messages.
pub(crate) fn validate_batch(
    rule_file: &str,
    rules: &str,
    stacks: &[&str],
    templates: &[String],
) -> Result<Vec<String>, PolicyError> {
    let batch_name = stacks.join(", ");
    let evaluation_error = |detail: String| PolicyError::Evaluation {
        rule_file: rule_file.to_string(),
        stack: batch_name.clone(),
        detail,
    };

    let payload = serde_json::json!({ "rules": [rules], "data": templates }).to_string();
    let command = ValidateBuilder::default()
        .payload(true)
        .structured(true)
        .output_format(OutputFormatType::JSON)
        .show_summary(vec![ShowSummaryType::None])
        .try_build()
        .map_err(|e| evaluation_error(e.to_string()))?;

    let mut reader = Reader::new(ReadBuffer::Cursor(Cursor::new(payload.into_bytes())));
    // Both streams in memory: cfn-guard must not print into strata's terminal.
    let mut writer =
        Writer::new_with_err(WriteBuffer::Vec(Vec::new()), WriteBuffer::Vec(Vec::new()))
            .map_err(|e| evaluation_error(e.to_string()))?;

    // cfn-guard has `unwrap()`/`unreachable!()` on some paths; a panic there must become an error
    // naming the rule file, not take strata down.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        command.execute(&mut writer, &mut reader)
    }));
    let exit_code = match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => return Err(evaluation_error(e.to_string())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            return Err(evaluation_error(format!("cfn-guard panicked: {what}")));
        }
    };
    if exit_code != EXIT_PASS && exit_code != EXIT_FAIL {
        return Err(evaluation_error(format!(
            "cfn-guard exited with status {exit_code} (rule file not evaluated)"
        )));
    }

    let output = writer
        .into_string()
        .map_err(|e| evaluation_error(e.to_string()))?;
    let reports = report_items(&output).map_err(|detail| PolicyError::UnexpectedOutput {
        rule_file: rule_file.to_string(),
        stack: batch_name.clone(),
        detail,
    })?;
    if reports.len() != templates.len() {
        return Err(PolicyError::UnexpectedOutput {
            rule_file: rule_file.to_string(),
            stack: batch_name,
            detail: format!(
                "{} reports for {} templates",
                reports.len(),
                templates.len()
            ),
        });
    }
    // Map back by position: cfn-guard names the items DATA_STDIN[1..=n] in payload order. Check
    // the names rather than trust the order silently.
    for (index, (name, _)) in reports.iter().enumerate() {
        let expected = format!("DATA_STDIN[{}]", index + 1);
        if *name != expected {
            return Err(PolicyError::UnexpectedOutput {
                rule_file: rule_file.to_string(),
                stack: stacks.get(index).copied().unwrap_or_default().to_string(),
                detail: format!("report {index} is named {name}, expected {expected}"),
            });
        }
    }
    Ok(reports.into_iter().map(|(_, item)| item).collect())
}
