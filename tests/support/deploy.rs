//! Deploying an environment on the emulator with `strata apply`, as a user would.

use std::path::Path;

use super::moto::Moto;

/// Runs `strata apply --env <env> --yes` against `moto` and insists it succeeds.
pub fn apply(root: &Path, env: &str, moto: &Moto) {
    let output = super::strata_on(root, moto)
        .args(["apply", "--env", env, "--yes"])
        .output()
        .expect("strata runs");
    assert!(
        output.status.success(),
        "apply --env {env} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
