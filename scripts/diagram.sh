#!/usr/bin/env bash
# Regenerates the architecture diagram the README shows (examples/architecture/prod.svg) and its
# Mermaid source, from the prod environment's rendered templates (offline, no AWS call).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --locked -- graph --env prod --format svg --out examples/architecture/prod.svg
cargo run --quiet --locked -- graph --env prod --format mermaid --out examples/architecture/prod.mmd
echo "wrote examples/architecture/prod.svg and prod.mmd"
