//! The two README commands share one compilation: `scripts/demo.sh` runs `cargo build`, `scripts/test.sh` runs
//! `cargo test`, and every crate both builds must be built with the same features. Dev-dependencies are only
//! unified into the test build (Cargo's feature resolver 2), so a feature a dev-dependency turns on in a shared
//! crate makes Cargo compile that crate and everything above it twice (measured on a fresh clone: the whole SDK
//! again, minutes). Cargo.toml pins those features; this test names any that drift apart again.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// `name version` -> its enabled feature sets, as `cargo tree` resolves them for the given edge kinds (a crate
/// built for build scripts and for the target may have two).
fn resolved_features(edges: &str) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["tree", "--locked", "--offline", "--prefix", "none"])
        .args(["--edges", edges, "--format", "{p}|{f}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut resolved: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        // `name vX.Y.Z (path)` or `name vX.Y.Z (proc-macro)`: the first two words name the package.
        let package: Vec<&str> = package.split_whitespace().take(2).collect();
        let features = features.trim_end_matches(" (*)").trim();
        resolved
            .entry(package.join(" "))
            .or_default()
            .insert(features.to_owned());
    }
    resolved
}

#[test]
fn dev_dependencies_change_no_feature_of_a_crate_the_binary_builds() {
    let plain = resolved_features("normal,build");
    let with_tests = resolved_features("normal,build,dev");
    assert!(plain.len() > 100, "cargo tree listed too little: {plain:?}");
    let differing: Vec<String> = plain
        .iter()
        .filter_map(|(package, features)| {
            let in_tests = with_tests.get(package)?;
            (in_tests != features).then(|| {
                format!("{package}: {features:?} in cargo build, {in_tests:?} in cargo test")
            })
        })
        .collect();
    assert!(
        differing.is_empty(),
        "pin these features in Cargo.toml's [dependencies] so the demo and the tests share one build:\n{}",
        differing.join("\n")
    );
}
