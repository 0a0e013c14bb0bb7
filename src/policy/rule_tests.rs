//! Running a rule file's unit tests, written in cfn-guard's own `test` format so that
//! `cfn-guard test -r policies/x.guard -t policies/tests/x_tests.yaml` runs the same file:
//!
//! ```yaml
//! - name: a bucket without versioning
//!   input: { Resources: { B: { Type: AWS::S3::Bucket, Properties: {} } } }
//!   expectations:
//!     rules:
//!       S3_BUCKET_VERSIONED: FAIL      # PASS | FAIL | SKIP
//! ```
//!
//! cfn-guard's test command is run in-process (`TestBuilder`, JSON output). Two things it only
//! mentions on its error stream are made hard results here: an expectation naming a rule the file
//! does not define (a typo would otherwise assert nothing), and a rule with no expectation in a case.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use cfn_guard::commands::Executable;
use cfn_guard::commands::validate::OutputFormatType;
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use cfn_guard::{CommandBuilder, TestBuilder};
use serde::{Deserialize, Serialize};

use super::error::PolicyError;
use super::rules::{RuleFile, rule_names};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RuleStatus {
    Pass,
    Fail,
    Skip,
}

/// The outcome of one rule in one test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCaseResult {
    pub case: String,
    pub rule: String,
    /// `None` when the case sets no expectation for this rule: that counts as a failure.
    pub expected: Option<RuleStatus>,
    /// What cfn-guard evaluated; empty when it does not report it (passing or unchecked rules
    /// report only the matching status).
    pub evaluated: Vec<RuleStatus>,
    pub passed: bool,
}

/// `policies/tests/<stem>_tests.yaml` (or `.yml`/`.json`) next to `policies/<stem>.guard`.
pub fn find_rule_test_file(rule_file: &RuleFile) -> Option<PathBuf> {
    let dir = rule_file.path.parent()?.join("tests");
    ["yaml", "yml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{}_tests.{ext}", rule_file.name)))
        .find(|p| p.is_file())
}

#[derive(Debug, Deserialize)]
struct TestSpec {
    name: Option<String>,
    #[allow(dead_code)]
    input: serde_yaml::Value,
    expectations: Expectations,
}

#[derive(Debug, Deserialize)]
struct Expectations {
    rules: BTreeMap<String, RuleStatus>,
}

/// cfn-guard's `test --output-format json` document for one rule file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GuardTestResult {
    Ok { test_cases: Vec<GuardTestCase> },
    Err { error: String },
}

#[derive(Debug, Deserialize)]
struct GuardTestCase {
    name: String,
    #[serde(default)]
    passed_rules: Vec<GuardPassed>,
    #[serde(default)]
    failed_rules: Vec<GuardFailed>,
    /// Rules the case had no expectation for (not rules that evaluated to SKIP).
    #[serde(default)]
    skipped_rules: Vec<GuardNamed>,
}

#[derive(Debug, Deserialize)]
struct GuardPassed {
    name: String,
    evaluated: RuleStatus,
}

#[derive(Debug, Deserialize)]
struct GuardFailed {
    name: String,
    expected: RuleStatus,
    evaluated: Vec<RuleStatus>,
}

#[derive(Debug, Deserialize)]
struct GuardNamed {
    name: String,
}

/// Runs the test cases of `test_file` against `rule_file` (read from `rule_file.path`, as cfn-guard's
/// test command reads files). Results are in case order, then rule name order.
pub fn run_rule_tests(
    rule_file: &RuleFile,
    test_file: &Path,
) -> Result<Vec<TestCaseResult>, PolicyError> {
    let defined: BTreeSet<String> = rule_names(rule_file)?.into_iter().collect();
    let specs = read_specs(rule_file, test_file)?;
    for (index, spec) in specs.iter().enumerate() {
        if let Some(unknown) = spec
            .expectations
            .rules
            .keys()
            .find(|r| !defined.contains(*r))
        {
            return Err(PolicyError::InvalidTestFile {
                rule_file: rule_file.name.clone(),
                path: test_file.to_path_buf(),
                detail: format!(
                    "case {} expects rule {unknown}, which {} does not define",
                    case_name(spec, index),
                    rule_file.path.display()
                ),
            });
        }
    }

    let run_error = |detail: String| PolicyError::TestRun {
        rule_file: rule_file.name.clone(),
        detail,
    };
    let command = TestBuilder::default()
        .rules(Some(rule_file.path.display().to_string()))
        .test_data(Some(test_file.display().to_string()))
        .output_format(OutputFormatType::JSON)
        .try_build()
        .map_err(|e| run_error(e.to_string()))?;
    let mut reader = Reader::new(ReadBuffer::Cursor(Cursor::new(Vec::new())));
    let mut writer =
        Writer::new_with_err(WriteBuffer::Vec(Vec::new()), WriteBuffer::Vec(Vec::new()))
            .map_err(|e| run_error(e.to_string()))?;
    command
        .execute(&mut writer, &mut reader)
        .map_err(|e| run_error(e.to_string()))?;
    let output = writer.into_string().map_err(|e| run_error(e.to_string()))?;
    let cases = match serde_json::from_str::<GuardTestResult>(&output)
        .map_err(|e| run_error(format!("unexpected cfn-guard test output ({e}): {output}")))?
    {
        GuardTestResult::Ok { test_cases } => test_cases,
        GuardTestResult::Err { error } => return Err(run_error(error)),
    };

    let mut results = Vec::new();
    for case in cases {
        let mut rows = Vec::new();
        for passed in case.passed_rules {
            rows.push(TestCaseResult {
                case: case.name.clone(),
                rule: passed.name,
                expected: Some(passed.evaluated),
                evaluated: vec![passed.evaluated],
                passed: true,
            });
        }
        for failed in case.failed_rules {
            rows.push(TestCaseResult {
                case: case.name.clone(),
                rule: failed.name,
                expected: Some(failed.expected),
                evaluated: failed.evaluated,
                passed: false,
            });
        }
        for unchecked in case.skipped_rules {
            rows.push(TestCaseResult {
                case: case.name.clone(),
                rule: unchecked.name,
                expected: None,
                evaluated: Vec::new(),
                passed: false,
            });
        }
        rows.sort_by(|a, b| a.rule.cmp(&b.rule));
        results.extend(rows);
    }
    Ok(results)
}

fn case_name(spec: &TestSpec, index: usize) -> String {
    spec.name
        .clone()
        .unwrap_or_else(|| format!("#{}", index + 1))
}

fn read_specs(rule_file: &RuleFile, test_file: &Path) -> Result<Vec<TestSpec>, PolicyError> {
    let text = std::fs::read_to_string(test_file).map_err(|source| PolicyError::ReadTestFile {
        rule_file: rule_file.name.clone(),
        path: test_file.to_path_buf(),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|e| PolicyError::InvalidTestFile {
        rule_file: rule_file.name.clone(),
        path: test_file.to_path_buf(),
        detail: e.to_string(),
    })
}
