//! The one directory scanner: the files of a project directory (environments, stack definitions
//! and their templates, rule files) with a given extension, directly inside it, sorted.

use std::io;
use std::path::{Path, PathBuf};

/// One file found: its stem (`dev` for `dev.yaml`) and its path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub stem: String,
    pub path: PathBuf,
}

/// Files directly inside `dir` (not in subdirectories, so `policies/tests/` is not read) whose
/// extension is one of `extensions`, sorted by path.
pub fn files(dir: &Path, extensions: &[&str]) -> io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let wanted = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| extensions.contains(&ext));
        if wanted && path.is_file() {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.push(Found { stem, path });
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matching_files_directly_inside_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a.yml", "c.guard", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/d.yaml"), "").unwrap();
        let stems: Vec<String> = files(dir.path(), &["yaml", "yml"])
            .unwrap()
            .into_iter()
            .map(|f| f.stem)
            .collect();
        assert_eq!(stems, ["a", "b"]);
        assert!(files(&dir.path().join("missing"), &["yaml"]).is_err());
    }
}
