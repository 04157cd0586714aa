#!/usr/bin/env bash
# Side-by-side CPU cost of ingest at several commits (the A/B of issue 8).
#   bash scripts/ab/run.sh 4a056bd 35589fd [more commits]
# Each commit gets a detached worktree in /work/wt/ab-<commit> (its .venv: AB_VENV
# or this checkout's; commits before 51f725b need django-ratelimit==4.1.0 in it),
# a private redis-server, its own test database; all run at the same time and
# append one JSON line each to ${COST_OUT:-/tmp/ab-cost.jsonl}: milliseconds of
# CPU per request (Python process, PostgreSQL backend, Redis) and queries per
# request, for single POSTs and 1000-event bulk POSTs (min over COST_ROUNDS).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${AB_VENV:-$here/.venv}"
export COST_OUT="${COST_OUT:-/tmp/ab-cost.jsonl}" COST_ROUNDS="${COST_ROUNDS:-3}"
one() {
  local c=$1 wt=/work/wt/ab-$1 port
  [ -d "$wt" ] || { git -C "$here" worktree add -q --detach "$wt" "$c"; ln -s "$venv" "$wt/.venv"; }
  cp "$here/scripts/ab/probe_test.py" "$wt/tests/test_zz_ab_probe.py"
  port=$((6390 + RANDOM % 100))
  redis-server --port "$port" --save "" --appendonly no >/dev/null 2>&1 &
  local rp=$!
  sleep 0.5
  (
    cd "$wt"
    export PYTEST_TIMEOUT=0 TEST_RUN_ID="ab_$c" COST_COMMIT="$c" REDIS_PID="$rp"
    export REDIS_URL="redis://127.0.0.1:$port/0" SQS_ENDPOINT_URL=http://127.0.0.1:9339
    # Writes unlimited: older commits name the limits differently.
    export RATE_LIMIT_WRITE_PER_USER=100000000/10s RATE_LIMIT_WRITE_PER_TENANT=100000000/10s
    if grep -q 'RATE_LIMIT_PER_USER", "20000' auditlog_project/settings/base.py; then
      export RATE_LIMIT_PER_USER=100000000/m RATE_LIMIT_PER_TENANT=100000000/m
    fi
    DJANGO_SETTINGS_MODULE=auditlog_project.settings.test .venv/bin/pytest -q \
      -p no:cacheprovider --no-cov tests/test_zz_ab_probe.py -s 2>&1 | tail -3
  ) || true
  kill "$rp"
}
for c in "$@"; do one "$c" & done
wait
cat "$COST_OUT"
