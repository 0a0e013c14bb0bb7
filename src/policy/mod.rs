//! Policy checks: CloudFormation Guard rule files evaluated in-process over rendered templates.
//!
//! Input is plain data (rule file text, template JSON values, waivers); output is a
//! [`PolicyReport`] of [`Finding`]s for the presentation layer. Nothing here prints.
//!
//! How cfn-guard 3.2.1 is driven (see `engine.rs`): one `ValidateBuilder` command per
//! (rule file, chunk of templates), rules and data passed in memory as a `--payload`, structured
//! JSON output parsed in `report.rs`, templates mapped back by position (`DATA_STDIN[n]`).
//! One call could take every rule file and every template at once, but its report merges all rule
//! files into one result per template (losing which file a rule came from), and one evaluation
//! error aborts the whole call. One rule file per call keeps findings and errors attributable to a
//! file; a failing chunk is re-run template by template so the error names the stack. Chunks run
//! on scoped threads, about two per core.

mod cache;
mod engine;
mod error;
mod report;
mod rule_tests;
mod rules;
mod selection;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use cache::{CacheUse, MAX_AGE, ReportCache};
pub use error::{PolicyError, Position};
pub use rule_tests::{RuleStatus, TestCaseResult, find_rule_test_file, run_rule_tests};
pub use rules::{RuleFile, check_syntax, load_rule_files, rule_names};
pub use selection::PolicySet;

use cache::Digest256;
use report::{GuardFileReport, RawFailure, logical_id_of};

/// What a failing rule of a file means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
}

/// One rendered template to check.
#[derive(Debug, Clone)]
pub struct TemplateInput<'a> {
    /// Stack name as strata shows it (e.g. `storage` or `photos-dev-storage`); findings repeat it.
    pub stack: &'a str,
    /// The template as JSON text: what cfn-guard reads and the cache hashes. Only the text is kept,
    /// so that a fleet's evaluation does not also hold every template's value tree.
    pub json: String,
}

impl<'a> TemplateInput<'a> {
    pub fn new(stack: &'a str, template: &serde_json::Value) -> Self {
        TemplateInput {
            stack,
            json: template.to_string(),
        }
    }
}

/// An accepted exception: the named rule may fail on this resource of this stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Waiver {
    pub stack: String,
    pub logical_id: String,
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub stack: String,
    /// The resource the failing value belongs to, when the path is under `/Resources/<id>`.
    pub logical_id: Option<String>,
    pub rule: String,
    /// Where in the template the rule looked, e.g. `/Resources/Inbox/Properties/VersioningConfiguration/Status`.
    /// For a missing property this is the path the rule wanted. Empty if cfn-guard gave none.
    pub property_path: String,
    /// The rule's `<< ... >>` text, or cfn-guard's own explanation when the clause has none.
    pub message: String,
    /// File stem of the rule file, e.g. `storage`.
    pub rule_file: String,
    pub level: Level,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WaivedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    /// Sorted by stack, logical id, rule, property path, message.
    pub findings: Vec<Finding>,
    /// Findings a waiver removed, in the same order, with the waiver's reason.
    pub waived: Vec<WaivedFinding>,
    /// Waivers that matched nothing: stale entries worth telling the user about.
    pub unused_waivers: Vec<Waiver>,
}

impl PolicyReport {
    /// True when a finding of level `error` remains (strata exits 3 on that).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }
}

/// One environment's evaluation: its rule files with their levels, its templates, its stacks' waivers.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    pub files: Vec<(RuleFile, Level)>,
    pub templates: Vec<TemplateInput<'a>>,
    pub waivers: Vec<Waiver>,
}

/// Evaluates every rule file against every template, concurrently, and applies the waivers.
///
/// Syntax is checked first (an error names file, line and column). Output is deterministic:
/// it does not depend on thread scheduling, file order or map order.
pub fn evaluate(
    files: &[(RuleFile, Level)],
    templates: &[TemplateInput<'_>],
    waivers: &[Waiver],
) -> Result<PolicyReport, PolicyError> {
    let just_files: Vec<RuleFile> = files.iter().map(|(f, _)| f.clone()).collect();
    check_syntax(&just_files)?;
    let evaluation = Evaluation {
        files: files.to_vec(),
        templates: templates.to_vec(),
        waivers: waivers.to_vec(),
    };
    Ok(evaluate_checked(std::slice::from_ref(&evaluation))?
        .pop()
        .unwrap_or_default())
}

/// Evaluates many environments at once, with rule files that already passed [`check_syntax`] (as a
/// [`PolicySet`]'s have): one report per evaluation, in order.
///
/// A finding depends only on one template and one rule file, so each distinct rule file is evaluated in as
/// few cfn-guard calls as possible over the templates of every evaluation that selects it (a call parses
/// its rule file once, whatever the number of templates), and each finding then goes to its evaluation
/// with the level that evaluation gives the file. The findings are exactly those of one evaluation per
/// template (`tests/policy.rs` compares the two).
pub fn evaluate_checked(evaluations: &[Evaluation<'_>]) -> Result<Vec<PolicyReport>, PolicyError> {
    Ok(evaluate_cached(evaluations, &ReportCache::disabled())?.0)
}

/// [`evaluate_checked`], reading back from `cache` each (rule file, template) report whose rule file
/// and template bytes were evaluated before, and storing the ones it evaluates. Findings are exactly
/// those without a cache (`tests/policy.rs` compares them).
pub fn evaluate_cached(
    evaluations: &[Evaluation<'_>],
    cache: &ReportCache,
) -> Result<(Vec<PolicyReport>, CacheUse), PolicyError> {
    // Each template serialized once; every rule file reuses the text.
    let texts: Vec<Vec<&str>> = evaluations
        .iter()
        .map(|e| e.templates.iter().map(|t| t.json.as_str()).collect())
        .collect();
    // Distinct rule files (by name and content), each with the (evaluation, template) pairs it checks.
    let mut distinct: Vec<&RuleFile> = Vec::new();
    let mut uses: Vec<Vec<(usize, usize)>> = Vec::new();
    // The level each use's evaluation gives the file, beside `uses`.
    let mut levels: Vec<Vec<Level>> = Vec::new();
    for (e, evaluation) in evaluations.iter().enumerate() {
        for (file, level) in &evaluation.files {
            let index = match distinct
                .iter()
                .position(|d| d.name == file.name && d.content == file.content)
            {
                Some(index) => index,
                None => {
                    distinct.push(file);
                    uses.push(Vec::new());
                    levels.push(Vec::new());
                    distinct.len() - 1
                }
            };
            uses[index].extend((0..evaluation.templates.len()).map(|t| (e, t)));
            levels[index].extend(std::iter::repeat_n(*level, evaluation.templates.len()));
        }
    }

    // Each use's report: read back from the cache, or evaluated below. A stored item that no longer
    // parses is evaluated again rather than trusted.
    let keys: Vec<Vec<Option<Digest256>>> = if cache.is_enabled() {
        let template_digests: Vec<Vec<Digest256>> = crate::parallel::map(&texts, |ts| {
            ts.iter().map(|t| Digest256::of(t.as_bytes())).collect()
        });
        distinct
            .iter()
            .zip(&uses)
            .map(|(file, pairs)| {
                let file_digest = cache::rule_file_digest(&file.name, &file.content);
                pairs
                    .iter()
                    .map(|(e, t)| Some(cache::key(&file_digest, &template_digests[*e][*t])))
                    .collect()
            })
            .collect()
    } else {
        uses.iter().map(|pairs| vec![None; pairs.len()]).collect()
    };
    let mut reports = read_back(cache, &keys);
    let reused = reports.iter().flatten().filter(|r| r.is_some()).count();
    let missing: Vec<Vec<usize>> = reports
        .iter()
        .map(|file_reports| {
            file_reports
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_none())
                .map(|(i, _)| i)
                .collect()
        })
        .collect();

    // Jobs: (rule file, contiguous chunk of its missing uses), about two chunks per thread so that both
    // cores stay busy while each cfn-guard call still amortises its setup over many templates.
    let evaluated: usize = missing.iter().map(Vec::len).sum();
    let threads = crate::parallel::worker_count(evaluated);
    let jobs: Vec<(usize, std::ops::Range<usize>)> = missing
        .iter()
        .enumerate()
        .flat_map(|(f, indices)| {
            let chunk = indices.len().div_ceil(threads * 2).max(1);
            (0..indices.len())
                .step_by(chunk)
                .map(move |start| (f, start..(start + chunk).min(indices.len())))
        })
        .collect();
    let results = crate::parallel::run_jobs(&jobs, threads, |(f, range)| {
        let file = distinct[*f];
        let batch = |range: std::ops::Range<usize>| {
            let pairs: Vec<(usize, usize)> =
                missing[*f][range].iter().map(|i| uses[*f][*i]).collect();
            let stacks: Vec<&str> = pairs
                .iter()
                .map(|(e, t)| evaluations[*e].templates[*t].stack)
                .collect();
            let batch_texts: Vec<String> = pairs
                .iter()
                .map(|(e, t)| texts[*e][*t].to_string())
                .collect();
            engine::validate_batch(&file.name, &file.content, &stacks, &batch_texts)
        };
        match batch(range.clone()) {
            // Re-run one by one so that the error names the template that caused it.
            Err(_) if range.len() > 1 => {
                range
                    .clone()
                    .map(|t| batch(t..t + 1))
                    .try_fold(Vec::new(), |mut all, one| {
                        all.extend(one?);
                        Ok(all)
                    })
            }
            other => other,
        }
    });
    for ((f, range), result) in jobs.iter().zip(results) {
        let file = distinct[*f];
        for (item, i) in result?.into_iter().zip(&missing[*f][range.clone()]) {
            let (e, t) = uses[*f][*i];
            let report =
                report::parse_item(&item).map_err(|detail| PolicyError::UnexpectedOutput {
                    rule_file: file.name.clone(),
                    stack: evaluations[e].templates[t].stack.to_string(),
                    detail,
                })?;
            if let Some(key) = &keys[*f][*i] {
                cache.put(key, &item);
            }
            reports[*f][*i] = Some(report);
        }
    }
    cache.prune();

    let mut findings: Vec<BTreeSet<Finding>> = vec![BTreeSet::new(); evaluations.len()];
    for (f, file) in distinct.iter().enumerate() {
        for ((report, (e, t)), level) in reports[f].iter().zip(&uses[f]).zip(&levels[f]) {
            let Some(report) = report else { continue };
            findings[*e].extend(findings_of(
                report,
                file,
                *level,
                evaluations[*e].templates[*t].stack,
            ));
        }
    }
    let reports = findings
        .into_iter()
        .zip(evaluations)
        .map(|(found, evaluation)| apply_waivers(found.into_iter().collect(), &evaluation.waivers))
        .collect();
    Ok((reports, CacheUse { evaluated, reused }))
}

/// The stored report of each key (`None`: not stored, no key, or no longer parsing), in the shape of
/// `keys`. A warm run of a large fleet reads tens of thousands of entries: both cores read and parse.
fn read_back(
    cache: &ReportCache,
    keys: &[Vec<Option<Digest256>>],
) -> Vec<Vec<Option<GuardFileReport>>> {
    if !cache.is_enabled() {
        return keys.iter().map(|k| vec![None; k.len()]).collect();
    }
    let all: Vec<&Option<Digest256>> = keys.iter().flatten().collect();
    let threads = crate::parallel::worker_count(all.len());
    let chunks: Vec<&[&Option<Digest256>]> =
        all.chunks(all.len().div_ceil(threads * 4).max(1)).collect();
    let mut read = crate::parallel::run_jobs(&chunks, threads, |chunk| {
        chunk
            .iter()
            .map(|k| {
                k.as_ref()
                    .and_then(|k| cache.get(k))
                    .and_then(|item| report::parse_item(&item).ok())
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten();
    keys.iter()
        .map(|k| read.by_ref().take(k.len()).collect())
        .collect()
}

/// Turns one template's raw failures into findings. An `or` lists every failed branch, usually
/// on the same path and with the `<< >>` text only on the last branch: failures of a rule on one
/// path are merged, keeping the custom messages, or cfn-guard's message when there is none.
fn findings_of(
    report: &GuardFileReport,
    file: &RuleFile,
    level: Level,
    stack: &str,
) -> Vec<Finding> {
    let mut by_place: BTreeMap<(&str, &str), Vec<&RawFailure>> = BTreeMap::new();
    for failure in &report.failures {
        by_place
            .entry((failure.rule.as_str(), failure.path.as_str()))
            .or_default()
            .push(failure);
    }
    // (rule, logical id, message) -> paths
    let mut merged: BTreeMap<(String, Option<String>, String), Vec<String>> = BTreeMap::new();
    for ((rule, path), failures) in by_place {
        let custom: BTreeSet<&str> = failures
            .iter()
            .filter_map(|f| f.custom_message.as_deref())
            .collect();
        let messages: Vec<String> = if custom.is_empty() {
            let fallback = failures
                .iter()
                .find_map(|f| f.error_message.clone())
                .unwrap_or_else(|| format!("rule {rule} failed"));
            vec![fallback]
        } else {
            custom.into_iter().map(str::to_string).collect()
        };
        for message in messages {
            merged
                .entry((rule.to_string(), logical_id_of(path), message))
                .or_default()
                .push(path.to_string());
        }
    }
    // One finding per resource, rule and message: a failed `some List[*].X == ..` is reported by
    // cfn-guard once per element (`.../Tags/0/Key`, `.../Tags/1/Key`, ...); point at what they share.
    merged
        .into_iter()
        .map(|((rule, logical_id, message), paths)| Finding {
            stack: stack.to_string(),
            logical_id,
            rule,
            property_path: common_path(&paths),
            message,
            rule_file: file.name.clone(),
            level,
        })
        .collect()
}

/// The longest common prefix of `/`-separated paths, by whole segments.
fn common_path(paths: &[String]) -> String {
    let Some((first, rest)) = paths.split_first() else {
        return String::new();
    };
    let mut common: Vec<&str> = first.split('/').collect();
    for path in rest {
        let shared = common
            .iter()
            .zip(path.split('/'))
            .take_while(|(a, b)| *a == b)
            .count();
        common.truncate(shared);
    }
    common.join("/")
}

fn apply_waivers(findings: Vec<Finding>, waivers: &[Waiver]) -> PolicyReport {
    let mut used = vec![false; waivers.len()];
    let mut report = PolicyReport::default();
    for finding in findings {
        let waiver = waivers.iter().position(|w| {
            w.stack == finding.stack
                && w.rule == finding.rule
                && finding.logical_id.as_deref() == Some(w.logical_id.as_str())
        });
        match waiver {
            Some(index) => {
                used[index] = true;
                report.waived.push(WaivedFinding {
                    finding,
                    reason: waivers[index].reason.clone(),
                });
            }
            None => report.findings.push(finding),
        }
    }
    report.unused_waivers = waivers
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(w, _)| w.clone())
        .collect();
    report.unused_waivers.sort();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_path_keeps_whole_shared_segments() {
        let p = |v: &[&str]| common_path(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            p(&[
                "/Resources/V/Properties/Tags/0/Key",
                "/Resources/V/Properties/Tags/1/Key"
            ]),
            "/Resources/V/Properties/Tags"
        );
        assert_eq!(p(&["/Resources/A/X"]), "/Resources/A/X");
        assert_eq!(p(&["/Resources/Ab", "/Resources/Ac"]), "/Resources");
        assert_eq!(p(&[]), "");
    }
}
