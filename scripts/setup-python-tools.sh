#!/usr/bin/env bash
# Installs the pinned Python tools (moto server, cfn-lint) into the project's .venv.
# Idempotent and safe to run concurrently: tests call it before they need a tool.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/scripts/python-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

mkdir -p "$venv"
exec 9>"$venv/.install.lock"
flock 9

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/cfn-lint" ]; then
  exit 0
fi

python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
echo "installed $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv" >&2
