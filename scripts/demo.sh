#!/usr/bin/env bash
# The main job, end to end, on this machine: a local AWS emulator (moto server, installed into
# .venv if needed) stands in for the dev account. strata validates every environment, applies dev,
# prints its outputs, then plans and applies again to show nothing is left to change. The emulator
# is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-python-tools.sh
cargo build --locked --quiet
strata=target/debug/strata
python=.venv/bin/python

account=$(sed -n 's/^account_id: *"\{0,1\}\([0-9]\{12\}\)"\{0,1\}.*/\1/p' environments/dev.yaml)
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=.venv/demo-moto.log
# moto's own server, plus the CloudFormation model it lacks for the database secret (see the script).
MOTO_ACCOUNT_ID="$account" "$python" tests/support/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; echo "== emulator stopped"' EXIT
"$python" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/moto-api/"
for _ in range(150):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("moto server did not start; see .venv/demo-moto.log")
PY
echo "== local AWS emulator (moto) for account $account on 127.0.0.1:$port"

# The emulator accepts any static keys; nothing from the user's AWS configuration is used.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN

step() {
  echo
  echo "== strata $*"
  local started=$EPOCHREALTIME status=0
  "$strata" "$@" || status=$?
  echo "== took $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"
  return $status
}

step validate
step apply --env dev --yes
step outputs --env dev
step plan --env dev --detailed-exitcode
step apply --env dev --yes
