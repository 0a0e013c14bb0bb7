//! Function code packaged from a directory of the project into a deterministic zip archive: the same
//! files give byte-identical bytes and the same SHA-256, on any machine, at any time. The hash names
//! the archive in the artifact bucket (`<sha256>.zip`), so the template of a function changes exactly
//! when its code does, and a plan shows that function's update and nothing else.
//!
//! What makes the bytes depend on the files alone:
//! - entries sorted by their path inside the archive (`/`-separated, byte order), files only (no
//!   directory entries, whose presence varies between zip tools);
//! - every timestamp 1980-01-01 00:00:00, the earliest a zip header can hold;
//! - a Unix "made by" system and fixed modes: 0755 for files the owner may execute (a custom
//!   runtime's `bootstrap`), 0644 for the rest, so umask and checkout do not leak in (git itself
//!   keeps only these two);
//! - no extra fields (no extended timestamps, no owner ids), no comments;
//! - deflate at a fixed level.
//!
//! Left out: `__pycache__/` directories, `*.pyc` files and `.DS_Store`, which a local run or a file
//! browser leaves beside the sources and which would otherwise make a developer's package differ from
//! CI's. A symbolic link is refused: what it points to is not part of the project.
//!
//! Lambda's limit checked here: "250 MB ... maximum size of the contents of a deployment package,
//! including layers and custom runtimes (unzipped)" (Lambda Developer Guide, Lambda quotas,
//! deployment package size), which is what applies to a package deployed from S3.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// Unzipped size Lambda accepts for a function's code from S3 (262,144,000 bytes).
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// Names skipped wherever they appear: build and browsing leftovers, not code.
const SKIPPED_NAMES: [&str; 2] = ["__pycache__", ".DS_Store"];
const SKIPPED_EXTENSIONS: [&str; 1] = ["pyc"];

const FILE_MODE: u32 = 0o644;
const EXECUTABLE_MODE: u32 = 0o755;
const DEFLATE_LEVEL: i64 = 6;

/// One packaged directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The archive, shared between the template's artifact list and the upload.
    pub bytes: Arc<Vec<u8>>,
    /// SHA-256 of `bytes`, lowercase hex.
    pub sha256: String,
    /// Archive paths of the files, in archive order.
    pub files: Vec<String>,
    pub unzipped_bytes: u64,
}

impl Package {
    /// The object key in the artifact bucket: the content hash.
    pub fn key(&self) -> String {
        format!("{}.zip", self.sha256)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{} holds no files to package", path.display())]
    Empty { path: PathBuf },
    #[error("{} is a symbolic link; package the file itself", path.display())]
    SymbolicLink { path: PathBuf },
    #[error("{} has a name that is not UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "{} holds {unzipped} bytes unzipped; Lambda accepts at most {MAX_UNZIPPED_BYTES} (250 MB) for code from S3",
        path.display()
    )]
    TooLarge { path: PathBuf, unzipped: u64 },
    #[error("cannot build the archive of {}: {message}", path.display())]
    Archive { path: PathBuf, message: String },
}

/// The packages of one project's code directories, each built once however many environments
/// deploy it (a fleet's validate would otherwise compress the same files once per environment).
/// Files do not change during a command; a new `Project::open` starts afresh.
#[derive(Debug, Default)]
pub struct Packages {
    built: std::sync::Mutex<std::collections::HashMap<PathBuf, Package>>,
}

impl Packages {
    /// [`package_dir`] of `dir`, or the package already built from it.
    pub fn package_dir(&self, dir: &Path) -> Result<Package, PackageError> {
        if let Some(known) = self.built.lock().ok().and_then(|b| b.get(dir).cloned()) {
            return Ok(known);
        }
        let package = package_dir(dir)?;
        if let Ok(mut built) = self.built.lock() {
            built.insert(dir.to_path_buf(), package.clone());
        }
        Ok(package)
    }
}

/// Packages every file under `dir` (recursively) into a deterministic zip archive.
pub fn package_dir(dir: &Path) -> Result<Package, PackageError> {
    if !dir.is_dir() {
        return Err(PackageError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut entries = Vec::new();
    collect(dir, "", &mut entries)?;
    if entries.is_empty() {
        return Err(PackageError::Empty {
            path: dir.to_path_buf(),
        });
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));

    let archive_error = |err: &dyn std::fmt::Display| PackageError::Archive {
        path: dir.to_path_buf(),
        message: err.to_string(),
    };
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let mut unzipped_bytes = 0u64;
    for entry in &entries {
        let contents = std::fs::read(&entry.path).map_err(|source| PackageError::Read {
            path: entry.path.clone(),
            source,
        })?;
        unzipped_bytes += contents.len() as u64;
        if unzipped_bytes > MAX_UNZIPPED_BYTES {
            return Err(PackageError::TooLarge {
                path: dir.to_path_buf(),
                unzipped: unzipped_bytes,
            });
        }
        let mode = if entry.executable {
            EXECUTABLE_MODE
        } else {
            FILE_MODE
        };
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(DateTime::default())
            .system(System::Unix)
            .unix_permissions(mode)
            .large_file(false);
        writer
            .start_file(entry.name.as_str(), options)
            .map_err(|e| archive_error(&e))?;
        writer.write_all(&contents).map_err(|e| archive_error(&e))?;
    }
    let bytes = writer.finish().map_err(|e| archive_error(&e))?.into_inner();
    Ok(Package {
        sha256: hex(&Sha256::digest(&bytes)),
        bytes: Arc::new(bytes),
        files: entries.into_iter().map(|e| e.name).collect(),
        unzipped_bytes,
    })
}

struct Entry {
    /// Path inside the archive, `/`-separated.
    name: String,
    path: PathBuf,
    executable: bool,
}

fn collect(dir: &Path, prefix: &str, entries: &mut Vec<Entry>) -> Result<(), PackageError> {
    let read = |source| PackageError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(PackageError::NotUtf8 { path });
        };
        if SKIPPED_NAMES.contains(&name.as_str())
            || path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SKIPPED_EXTENSIONS.contains(&e))
        {
            continue;
        }
        let kind = entry.file_type().map_err(|source| PackageError::Read {
            path: path.clone(),
            source,
        })?;
        let archive_name = format!("{prefix}{name}");
        if kind.is_symlink() {
            return Err(PackageError::SymbolicLink { path });
        } else if kind.is_dir() {
            collect(&path, &format!("{archive_name}/"), entries)?;
        } else if kind.is_file() {
            let executable = is_executable(&entry).map_err(|source| PackageError::Read {
                path: path.clone(),
                source,
            })?;
            entries.push(Entry {
                name: archive_name,
                path,
                executable,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(entry: &std::fs::DirEntry) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(entry.metadata()?.permissions().mode() & 0o100 != 0)
}

#[cfg(not(unix))]
fn is_executable(_entry: &std::fs::DirEntry) -> std::io::Result<bool> {
    Ok(false)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn set_mtime_far_apart(dir: &Path) {
        // Touch every file: timestamps must not reach the archive.
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_file() {
                let file = std::fs::File::options()
                    .write(true)
                    .open(entry.path())
                    .unwrap();
                file.set_modified(
                    std::time::SystemTime::UNIX_EPOCH
                        + std::time::Duration::from_secs(1_000_000_000),
                )
                .unwrap();
            }
        }
    }

    /// The proof of determinism: two packagings of the same files, made separately (other
    /// directory, other creation order, other timestamps), give identical bytes and hash.
    #[test]
    fn the_same_files_give_identical_bytes_and_hash() {
        let first = tempfile::tempdir().unwrap();
        write(
            first.path(),
            "handler.py",
            "def main(event, context):\n    return 1\n",
        );
        write(first.path(), "lib/util.py", "X = 1\n");
        write(first.path(), "lib/data/a.json", "{}\n");
        let second = tempfile::tempdir().unwrap();
        write(second.path(), "lib/data/a.json", "{}\n");
        write(second.path(), "lib/util.py", "X = 1\n");
        write(
            second.path(),
            "handler.py",
            "def main(event, context):\n    return 1\n",
        );
        set_mtime_far_apart(second.path());

        let a = package_dir(first.path()).unwrap();
        let again = package_dir(first.path()).unwrap();
        let b = package_dir(second.path()).unwrap();
        assert_eq!(a.bytes, again.bytes);
        assert_eq!(a.bytes, b.bytes, "same files, separately made: same bytes");
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256, hex(&Sha256::digest(b.bytes.as_slice())));
        assert_eq!(a.key(), format!("{}.zip", a.sha256));
        assert_eq!(a.files, ["handler.py", "lib/data/a.json", "lib/util.py"]);

        write(
            second.path(),
            "handler.py",
            "def main(event, context):\n    return 2\n",
        );
        let changed = package_dir(second.path()).unwrap();
        assert_ne!(changed.sha256, a.sha256, "a code change changes the hash");
    }

    #[test]
    fn entries_carry_fixed_times_modes_and_no_extra_fields() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "index.mjs",
            "export const handler = async () => 1;\n",
        );
        write(dir.path(), "bootstrap", "#!/bin/sh\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("bootstrap"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
            std::fs::set_permissions(
                dir.path().join("index.mjs"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        let package = package_dir(dir.path()).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(package.bytes.as_slice())).unwrap();
        assert_eq!(archive.len(), 2);
        let mut modes = Vec::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).unwrap();
            assert_eq!(file.last_modified(), Some(DateTime::default()));
            assert_eq!(
                file.extra_data().map(|d| d.len()).unwrap_or(0),
                0,
                "no extra fields"
            );
            assert_eq!(file.extra_data_fields().count(), 0);
            assert_eq!(file.compression(), CompressionMethod::Deflated);
            modes.push((
                file.name().unwrap().into_owned(),
                file.unix_mode().map(|m| m & 0o777),
            ));
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert!(!text.is_empty());
        }
        #[cfg(unix)]
        assert_eq!(
            modes,
            [
                ("bootstrap".to_owned(), Some(0o755)),
                ("index.mjs".to_owned(), Some(0o644))
            ]
        );
        // Local file headers: the extra-field length (offset 28) is zero in every one.
        let bytes = package.bytes.as_slice();
        let mut at = 0;
        let mut headers = 0;
        while at + 30 <= bytes.len() && bytes[at..at + 4] == [0x50, 0x4b, 0x03, 0x04] {
            let name_len = u16::from_le_bytes([bytes[at + 26], bytes[at + 27]]) as usize;
            let extra_len = u16::from_le_bytes([bytes[at + 28], bytes[at + 29]]) as usize;
            let compressed = u32::from_le_bytes([
                bytes[at + 18],
                bytes[at + 19],
                bytes[at + 20],
                bytes[at + 21],
            ]) as usize;
            assert_eq!(extra_len, 0);
            headers += 1;
            at += 30 + name_len + extra_len + compressed;
        }
        assert_eq!(headers, 2);
    }

    #[test]
    fn leftovers_are_skipped_and_links_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "handler.py", "x = 1\n");
        write(dir.path(), "__pycache__/handler.cpython-313.pyc", "junk");
        write(dir.path(), "old.pyc", "junk");
        write(dir.path(), ".DS_Store", "junk");
        let package = package_dir(dir.path()).unwrap();
        assert_eq!(package.files, ["handler.py"]);

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
            let err = package_dir(dir.path()).unwrap_err();
            assert!(matches!(err, PackageError::SymbolicLink { .. }), "{err}");
        }
    }

    #[test]
    fn a_missing_or_empty_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            package_dir(&dir.path().join("nope")),
            Err(PackageError::NotADirectory { .. })
        ));
        assert!(matches!(
            package_dir(dir.path()),
            Err(PackageError::Empty { .. })
        ));
    }
}
