#!/usr/bin/env bash
# The main job on a fresh machine: validate every environment, then render all their templates
# into out/ (one file per environment and stack).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet
strata=target/debug/strata
"$strata" validate
for env in $("$strata" validate | awk '$1 == "ok" { sub(":", "", $2); print $2 }'); do
  "$strata" render --env "$env" --out out
done
