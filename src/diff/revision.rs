//! Another git revision of the project, read with `git` itself into a temporary directory
//! (`git archive <commit>:<project dir> | tar -x`): the working tree, the index and HEAD are never
//! touched, and uncommitted edits stay where they are.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::error::Error;

/// Branches tried, in order, for the default revision (the merge base with the main branch): a
/// local `main`, then what a CI checkout usually has.
const MAIN_BRANCHES: [&str; 4] = ["main", "origin/main", "master", "origin/master"];

/// A revision as the user named it and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// What was asked for (`main`, `HEAD~1`), or `merge-base HEAD <branch>` by default.
    pub reference: String,
    pub commit: String,
}

/// The project as it was at a revision, in a temporary directory removed on drop.
pub struct Checkout {
    pub revision: Revision,
    /// The project root inside the checkout (the same place in the repository as the working
    /// project's root).
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

/// Resolves `reference` (default: the merge base of HEAD and the main branch) in the repository
/// holding `project_root` and writes that revision's files of the project into a temporary directory.
pub fn checkout(project_root: &Path, reference: Option<&str>) -> Result<Checkout, Error> {
    let root = if project_root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project_root
    };
    let revision = match reference {
        Some(reference) => Revision {
            reference: reference.to_string(),
            commit: git(
                root,
                &["rev-parse", "--verify", &format!("{reference}^{{commit}}")],
            )?,
        },
        None => default_revision(root)?,
    };
    // Where the project sits inside the repository (`""` at its top, `infra/` below it).
    let prefix = git(root, &["rev-parse", "--show-prefix"])?;
    let archive = git_bytes(
        root,
        &[
            "archive",
            "--format=tar",
            &format!("{}:{}", revision.commit, prefix),
        ],
    )?;
    let dir = tempfile::tempdir().map_err(|source| Error::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    untar(&archive, dir.path())?;
    Ok(Checkout {
        revision,
        root: dir.path().to_path_buf(),
        _dir: dir,
    })
}

fn default_revision(root: &Path) -> Result<Revision, Error> {
    let branch = MAIN_BRANCHES
        .iter()
        .find(|branch| {
            git(
                root,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{branch}^{{commit}}"),
                ],
            )
            .is_ok()
        })
        .ok_or_else(|| Error::Git {
            command: "rev-parse --verify main".into(),
            message: format!(
                "no main branch to compare with (tried {}); name a revision with --against",
                MAIN_BRANCHES.join(", ")
            ),
        })?;
    Ok(Revision {
        reference: format!("merge-base HEAD {branch}"),
        commit: git(root, &["merge-base", "HEAD", branch])?,
    })
}

/// Runs git in `dir`; its trimmed standard output.
fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let bytes = git_bytes(dir, args)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let failed = |message: String| Error::Git {
        command: args.join(" "),
        message,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| failed(format!("cannot run git: {err}")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(output.stdout)
}

fn untar(archive: &[u8], into: &Path) -> Result<(), Error> {
    let failed = |message: String| Error::Git {
        command: format!("archive | tar -x -C {}", into.display()),
        message,
    };
    let mut tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| failed(format!("cannot run tar: {err}")))?;
    if let Some(mut stdin) = tar.stdin.take() {
        stdin
            .write_all(archive)
            .map_err(|err| failed(err.to_string()))?;
    }
    let output = tar
        .wait_with_output()
        .map_err(|err| failed(err.to_string()))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(())
}
