#!/usr/bin/env bash
# Wall time of the `strata validate` command as a user runs it (process start, project open, render,
# policies, report), over the shipped environments and fleets of 30, 300 and 1000 copies of dev:
# cold (`--no-cache`: every rule file evaluated on every template) and warm (a second run that reads
# the policy results of unchanged rule files and templates back from the cache).
# The criterion benches (benches/policy.rs, benches/render.rs) measure the library parts; this script
# measures the command, whose cold runs at 1000 environments take too long for criterion's ten samples.
#
# Usage: scripts/bench-validate.sh [copies...]   (default: 30 300 1000); best of 3 runs each (RUNS=n).
# With STRATA_BEFORE=<another strata binary> (e.g. one built from an earlier commit), that binary's
# `validate` is timed on the same fleets in the same run, for before/after figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile bench --locked --bin strata
bin="$PWD/target/release/strata"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

best_of_3() { # prints the fastest of $RUNS (default 3) runs of "$@", in milliseconds
  local best=""
  for _ in $(seq "${RUNS:-3}"); do
    local start end ms
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || [ $? -eq 3 ]
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

measure() { # name root
  local name=$1 root=$2
  local before="" cold warm
  if [ -n "${STRATA_BEFORE:-}" ]; then
    before=$(printf 'before %7d ms   ' "$(best_of_3 "$STRATA_BEFORE" --root "$root" validate)")
  fi
  cold=$(best_of_3 "$bin" --root "$root" validate --no-cache)
  rm -rf "$root/.strata"
  "$bin" --root "$root" validate >/dev/null 2>&1 || [ $? -eq 3 ]
  warm=$(best_of_3 "$bin" --root "$root" validate)
  printf '%-28s %scold %7d ms   warm %7d ms\n' "$name" "$before" "$cold" "$warm"
}

measure "shipped (3 environments)" "$PWD"
for copies in "${@:-30 300 1000}"; do
  for n in $copies; do
    root="$work/fleet$n"
    mkdir -p "$root"
    cp -r environments stacks policies "$root/"
    for i in $(seq -f '%04g' 0 $((n - 1))); do cp environments/dev.yaml "$root/environments/dev$i.yaml"; done
    measure "$n copies of dev (+3)" "$root"
  done
done
