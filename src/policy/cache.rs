//! Reuse of cfn-guard's answers across runs of `validate`.
//!
//! What one rule file reports for one template depends on nothing but the bytes of both and the
//! evaluator (cfn-guard's version), so the report item is stored under the SHA-256 of those three and
//! read back instead of evaluating again: a fleet whose templates and rule files did not change since
//! the last `validate` evaluates nothing. A changed rule file or template has another key and is
//! evaluated (tests/policy.rs proves both). Findings are derived from the stored item exactly as from a
//! fresh one (`report::parse_item`), so strata's own reading of a report is never cached.
//!
//! Only `validate` uses the cache (`.strata/cache/` of the project, or `--cache-dir`); `plan` and
//! `apply` evaluate afresh, so the gate in front of a change to AWS never trusts a file on disk.
//!
//! Layout: `<dir>/policy/<first two hex digits>/<key>.json`, each file the key on its first line and
//! the item's JSON after it; written to a temporary file and renamed, so concurrent runs never read a
//! half-written entry. An entry that is unreadable, or holds another key, is a miss. Entries older than
//! [`MAX_AGE`] are deleted, at most once a day, so the directory does not grow without bound.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// The evaluator whose answers are stored: part of every key, so that a new cfn-guard never reads
/// answers of the old one. Cargo.toml pins exactly this version (a unit test checks they agree).
pub(crate) const EVALUATOR: &str = "cfn-guard 3.2.1";

/// An entry is recomputed once it is this old (entries are not touched when read).
pub const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
const PRUNE_MARKER: &str = ".pruned";

/// Where stored cfn-guard report items live, if anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportCache {
    dir: Option<PathBuf>,
}

/// How many (rule file, template) reports a run evaluated and how many it read back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUse {
    pub evaluated: usize,
    pub reused: usize,
}

/// The SHA-256 of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest256([u8; 32]);

impl Digest256 {
    pub(crate) fn of(bytes: &[u8]) -> Digest256 {
        Digest256(Sha256::digest(bytes).into())
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The digest of one rule file as the cache sees it: evaluator, name and content, each length-prefixed
/// so that no two different triples hash the same bytes.
pub(crate) fn rule_file_digest(name: &str, content: &str) -> Digest256 {
    let mut hasher = Sha256::new();
    for part in [EVALUATOR, name, content] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    Digest256(hasher.finalize().into())
}

/// The key of one rule file's report on one template.
pub(crate) fn key(rule_file: &Digest256, template: &Digest256) -> Digest256 {
    let mut hasher = Sha256::new();
    hasher.update(rule_file.0);
    hasher.update(template.0);
    Digest256(hasher.finalize().into())
}

impl ReportCache {
    /// No cache: every report is evaluated.
    pub fn disabled() -> ReportCache {
        ReportCache { dir: None }
    }

    /// Reports stored under `dir` (created when the first one is written).
    pub fn at(dir: impl Into<PathBuf>) -> ReportCache {
        ReportCache {
            dir: Some(dir.into()),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    fn entry(&self, key: &Digest256) -> Option<(PathBuf, String)> {
        let hex = key.hex();
        let dir = self.dir.as_ref()?.join("policy").join(&hex[..2]);
        Some((dir.join(format!("{hex}.json")), hex))
    }

    /// The stored report item for `key`, if there is a readable one.
    pub(crate) fn get(&self, key: &Digest256) -> Option<String> {
        let (path, hex) = self.entry(key)?;
        let text = std::fs::read_to_string(path).ok()?;
        let (stored_key, item) = text.split_once('\n')?;
        (stored_key == hex).then(|| item.to_string())
    }

    /// Stores `item` under `key`. The cache only saves time: a write that fails (read-only checkout,
    /// full disk) leaves the result of this run unchanged, so it is not an error.
    pub(crate) fn put(&self, key: &Digest256, item: &str) {
        let Some((path, hex)) = self.entry(key) else {
            return;
        };
        let _ = write_atomically(&path, &hex, item);
    }

    /// Deletes entries older than [`MAX_AGE`], unless that was done less than a day ago.
    pub(crate) fn prune(&self) {
        let Some(dir) = &self.dir else { return };
        let root = dir.join("policy");
        let marker = root.join(PRUNE_MARKER);
        let now = SystemTime::now();
        let recently = std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age < PRUNE_EVERY));
        if recently || !root.is_dir() {
            return;
        }
        prune_older_than(&root, now, MAX_AGE);
        let _ = std::fs::write(marker, b"");
    }
}

fn write_atomically(path: &Path, hex: &str, item: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(hex.as_bytes())?;
    file.write_all(b"\n")?;
    file.write_all(item.as_bytes())?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn prune_older_than(root: &Path, now: SystemTime, max_age: Duration) {
    let Ok(shards) = std::fs::read_dir(root) else {
        return;
    };
    for shard in shards.flatten() {
        let Ok(entries) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > max_age));
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluator_in_every_key_is_the_version_cargo_pins() {
        let manifest = include_str!("../../Cargo.toml");
        let version = EVALUATOR.trim_start_matches("cfn-guard ");
        assert!(
            manifest.contains(&format!("cfn-guard = \"={version}\"")),
            "Cargo.toml must pin cfn-guard to exactly {version}, the evaluator the policy cache keys name"
        );
    }

    #[test]
    fn an_entry_round_trips_and_another_key_or_a_damaged_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReportCache::at(dir.path());
        let file = rule_file_digest("storage", "rule r { }");
        let one = key(&file, &Digest256::of(b"{\"Resources\":{}}"));
        let other = key(&file, &Digest256::of(b"{\"Resources\":{\"A\":{}}}"));
        assert_eq!(cache.get(&one), None);
        cache.put(&one, "{\"name\":\"DATA_STDIN[1]\"}");
        assert_eq!(
            cache.get(&one).as_deref(),
            Some("{\"name\":\"DATA_STDIN[1]\"}")
        );
        assert_eq!(cache.get(&other), None);

        // A file holding another key's entry (copied or renamed by hand) is not trusted.
        let (one_path, _) = cache.entry(&one).unwrap();
        let (other_path, _) = cache.entry(&other).unwrap();
        std::fs::create_dir_all(other_path.parent().unwrap()).unwrap();
        std::fs::copy(&one_path, &other_path).unwrap();
        assert_eq!(cache.get(&other), None);
        std::fs::write(&one_path, "truncated").unwrap();
        assert_eq!(cache.get(&one), None);
    }

    #[test]
    fn rule_file_name_content_and_evaluator_all_change_the_key() {
        let a = rule_file_digest("storage", "rule r { }");
        assert_ne!(a, rule_file_digest("network", "rule r { }"));
        assert_ne!(a, rule_file_digest("storage", "rule s { }"));
        // Length prefixes: moving a byte from the name to the content is another file.
        assert_ne!(rule_file_digest("ab", "c"), rule_file_digest("a", "bc"));
    }

    #[test]
    fn a_disabled_cache_stores_nothing() {
        let cache = ReportCache::disabled();
        let k = key(&rule_file_digest("a", "b"), &Digest256::of(b"c"));
        cache.put(&k, "{}");
        assert_eq!(cache.get(&k), None);
    }

    #[test]
    fn pruning_deletes_only_old_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReportCache::at(dir.path());
        let k = key(&rule_file_digest("a", "b"), &Digest256::of(b"c"));
        cache.put(&k, "{}");
        let root = dir.path().join("policy");
        let now = SystemTime::now();
        prune_older_than(&root, now, MAX_AGE);
        assert!(cache.get(&k).is_some(), "a fresh entry is kept");
        prune_older_than(&root, now + MAX_AGE + Duration::from_secs(60), MAX_AGE);
        assert_eq!(cache.get(&k), None, "an entry past MAX_AGE is deleted");
    }
}
