//! Loading rule files and checking their syntax.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{PolicyError, Position};

/// One cfn-guard rule file, read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// The file stem, e.g. `storage` for `policies/storage.guard`.
    pub name: String,
    pub path: PathBuf,
    pub content: String,
}

impl RuleFile {
    pub fn new(path: impl Into<PathBuf>, content: impl Into<String>) -> Self {
        let path = path.into();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        RuleFile {
            name,
            path,
            content: content.into(),
        }
    }
}

/// Reads every `*.guard` file directly inside `dir` (not recursively, so `tests/` is not read),
/// sorted by name.
pub fn load_rule_files(dir: &Path) -> Result<Vec<RuleFile>, PolicyError> {
    let found = crate::dir::files(dir, &["guard"]).map_err(|source| PolicyError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    found
        .into_iter()
        .map(|crate::dir::Found { path, .. }| {
            let content =
                std::fs::read_to_string(&path).map_err(|source| PolicyError::ReadRuleFile {
                    path: path.clone(),
                    source,
                })?;
            Ok(RuleFile::new(path, content))
        })
        .collect()
}

/// Parses every file with cfn-guard's own parser and checks that rule names are unique across
/// files. cfn-guard's validate command only writes a parse error to its error stream and goes on
/// without the file, so this must run before evaluating.
pub fn check_syntax(files: &[RuleFile]) -> Result<(), PolicyError> {
    rule_index(files).map(|_| ())
}

/// [`check_syntax`], returning which file defines each rule (rule name -> file stem): one parse of
/// each file serves both.
pub(crate) fn rule_index(files: &[RuleFile]) -> Result<BTreeMap<String, String>, PolicyError> {
    let mut seen: BTreeMap<String, &RuleFile> = BTreeMap::new();
    for file in files {
        for rule in rule_names(file)? {
            if let Some(first) = seen.insert(rule.clone(), file) {
                return Err(PolicyError::DuplicateRule {
                    rule,
                    first: first.path.clone(),
                    second: file.path.clone(),
                });
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|(rule, file)| (rule, file.name.clone()))
        .collect())
}

/// The names of the rules a file defines, in file order. Clauses outside any named rule form a
/// rule cfn-guard calls `default`.
pub fn rule_names(file: &RuleFile) -> Result<Vec<String>, PolicyError> {
    let display_name = file.path.display().to_string();
    let parsed = cfn_guard::commands::validate::parse_rules(&file.content, &display_name)
        .map_err(|e| syntax_error(file, &e.to_string()))?;
    let Some(parsed) = parsed else {
        return Ok(Vec::new()); // only whitespace and comments
    };
    // `RulesFile` keeps its fields crate-private but is `Serialize`: read the names from its JSON text,
    // deserializing only the names (the rest of the tree is skipped, never built as values).
    let inspect_error = |e: serde_json::Error| PolicyError::Syntax {
        rule_file: file.name.clone(),
        path: file.path.clone(),
        position: None,
        detail: format!("cannot inspect the parsed rules: {e}"),
    };
    let text = serde_json::to_string(&parsed).map_err(inspect_error)?;
    let tree: ParsedRuleNames = serde_json::from_str(&text).map_err(inspect_error)?;
    Ok(tree
        .guard_rules
        .into_iter()
        .chain(tree.parameterized_rules)
        // Parameterized rules nest the rule under `rule`.
        .filter_map(|rule| {
            rule.rule_name
                .or_else(|| rule.rule.and_then(|r| r.rule_name))
        })
        .collect())
}

/// The part of cfn-guard's serialized `RulesFile` that names its rules.
#[derive(serde::Deserialize)]
struct ParsedRuleNames {
    #[serde(default)]
    guard_rules: Vec<NamedRule>,
    #[serde(default)]
    parameterized_rules: Vec<NamedRule>,
}

#[derive(serde::Deserialize)]
struct NamedRule {
    #[serde(default)]
    rule_name: Option<String>,
    #[serde(default)]
    rule: Option<Box<NamedRule>>,
}

/// cfn-guard reports `... Error parsing file <name> at line <l> at column <c>, when handling <ctx>,
/// fragment <rest of the file>`. Keep the position as data and the message short: the fragment is
/// everything after the error.
fn syntax_error(file: &RuleFile, message: &str) -> PolicyError {
    let position = parse_position(message);
    let mut detail = message
        .split_once(", fragment ")
        .map_or(message, |(head, _)| head)
        .to_string();
    if let Some(rest) = detail
        .split_once(", when handling ")
        .map(|(_, ctx)| ctx.to_string())
    {
        detail = format!("unexpected input while parsing {rest}");
    } else if let Some((_, rest)) = detail.split_once(", remaining ") {
        let first_line = rest.lines().next().unwrap_or_default();
        detail = format!("unexpected input `{first_line}`");
    }
    if let Some(line) = position
        .and_then(|p| file.content.lines().nth(p.line.saturating_sub(1)))
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        detail = format!("{detail}, at `{line}`");
    }
    PolicyError::Syntax {
        rule_file: file.name.clone(),
        path: file.path.clone(),
        position,
        detail,
    }
}

fn parse_position(message: &str) -> Option<Position> {
    let after_line = message.split_once(" at line ")?.1;
    let (line, rest) = after_line.split_once(" at column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_is_read_from_cfn_guard_message() {
        let msg = "Parser Error when parsing `Parsing Error Error parsing file a.guard at line 12 at column 7, when handling x, fragment y`";
        assert_eq!(
            parse_position(msg),
            Some(Position {
                line: 12,
                column: 7
            })
        );
        assert_eq!(parse_position("no position"), None);
    }

    #[test]
    fn rule_names_lists_named_rules_in_order() {
        let file = RuleFile::new(
            "p/x.guard",
            "let a = Resources.*\nrule FIRST { %a !empty }\nrule SECOND when %a !empty { %a.Type exists }\n",
        );
        assert_eq!(rule_names(&file).unwrap(), vec!["FIRST", "SECOND"]);
        assert_eq!(file.name, "x");
    }

    #[test]
    fn empty_file_has_no_rules() {
        let file = RuleFile::new("p/empty.guard", "# nothing here\n");
        assert!(rule_names(&file).unwrap().is_empty());
    }

    #[test]
    fn duplicate_rule_names_across_files_are_rejected() {
        let a = RuleFile::new("p/a.guard", "rule SAME { Resources exists }\n");
        let b = RuleFile::new("p/b.guard", "rule SAME { Resources exists }\n");
        let err = check_syntax(&[a, b]).unwrap_err();
        assert!(
            matches!(err, PolicyError::DuplicateRule { ref rule, .. } if rule == "SAME"),
            "{err}"
        );
        assert!(err.to_string().contains("p/a.guard") && err.to_string().contains("p/b.guard"));
    }
}
