#!/usr/bin/env bash
# The whole test suite: unit, snapshot, cfn-lint and CLI tests (and emulator tests once they exist).
# Python tools (cfn-lint, moto) are installed into .venv by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python-tools.sh
cargo test --locked "$@"
