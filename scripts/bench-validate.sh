#!/usr/bin/env bash
# Wall time of the `strata validate` command as a user runs it (process start, project open, render,
# policies, report), over the shipped environments and fleets of 30, 300 and 1000 copies of dev:
# cold (`--no-cache`: every rule file evaluated on every template) and warm (a second run that reads
# the policy results of unchanged rule files and templates back from the cache); and of
# `render --env dev` (which gates on the same policies) on the shipped project.
# The criterion benches (benches/policy.rs, benches/render.rs) measure the library parts; this script
# measures the command, whose cold runs at 1000 environments take too long for criterion's ten samples.
#
# Usage: scripts/bench-validate.sh [copies...]   (default: 30 300 1000); best of 3 runs each (RUNS=n).
# - STRATA_BEFORE=<another strata binary> (e.g. one built from an earlier commit): that binary's
#   `validate` and `render` are timed on the same inputs in the same run, for before/after figures.
# - STRATA_BIN=<strata binary>: time that binary instead of building this checkout's (bench profile).
# - STRATA_INPUTS=<git revision>: the project files (environments/, stacks/, policies/) of that
#   revision instead of the working tree's, so that binaries of different revisions see the same inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${STRATA_BIN:-}" ]; then
  bin=$STRATA_BIN
else
  cargo build --profile bench --locked --bin strata
  bin="$PWD/target/release/strata"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inputs="$work/inputs"
mkdir -p "$inputs"
if [ -n "${STRATA_INPUTS:-}" ]; then
  git archive "$STRATA_INPUTS" environments stacks policies | tar -x -C "$inputs"
else
  cp -r environments stacks policies "$inputs/"
fi

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

# `--no-cache` where the binary has a policy cache for the command (older ones always evaluate).
uncached() { # binary command
  if "$1" "$2" --help 2>/dev/null | grep -q -- '--no-cache'; then echo --no-cache; fi
}

measure() { # name root command...
  local name=$1 root=$2
  shift 2
  local before="" cold warm
  if [ -n "${STRATA_BEFORE:-}" ]; then
    before=$(printf 'before %7d ms   ' "$(best_of_3 "$STRATA_BEFORE" --root "$root" "$@")")
  fi
  # shellcheck disable=SC2046 # an empty flag must vanish
  cold=$(best_of_3 "$bin" --root "$root" "$@" $(uncached "$bin" "$1"))
  rm -rf "$root/.strata"
  "$bin" --root "$root" "$@" >/dev/null 2>&1 || [ $? -eq 3 ]
  warm=$(best_of_3 "$bin" --root "$root" "$@")
  printf '%-34s %scold %7d ms   warm %7d ms\n' "$name" "$before" "$cold" "$warm"
}

measure "render --env dev" "$inputs" render --env dev
measure "validate, 3 shipped environments" "$inputs" validate
for copies in "${@:-30 300 1000}"; do
  for n in $copies; do
    root="$work/fleet$n"
    mkdir -p "$root"
    cp -r "$inputs"/. "$root/"
    rm -rf "$root/.strata"
    for i in $(seq -f '%04g' 0 $((n - 1))); do cp "$inputs/environments/dev.yaml" "$root/environments/dev$i.yaml"; done
    measure "validate, $n copies of dev (+3)" "$root" validate
  done
done
