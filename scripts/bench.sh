#!/usr/bin/env bash
# `make bench`: seed BENCH_EVENTS (default 1,000,000) events in a database of its
# own and measure ingest, search, export, stream and stats against same-run
# baselines; the table is printed and written to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v wrk >/dev/null 2>&1 || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }
export DJANGO_SETTINGS_MODULE=auditlog_project.settings.local
export SQS_ENDPOINT_URL="${BENCH_SQS_ENDPOINT_URL:-http://127.0.0.1:9326}"
export SQS_QUEUE_PREFIX=auditlog-bench-
# The bench starts a moto server on that endpoint itself when nothing answers.
"$PY" scripts/bench "$@"
# Then the side benches (archive, retention, backup, pipeline, planner,
# encryption, indexes, integrity), each in a database of its own: BENCH_SIDE=0 skips them,
# BENCH_SIDE_ARGS passes flags (e.g. "--events 50000 --no-docs").
if [ "${BENCH_SIDE:-1}" != 0 ]; then
  # shellcheck disable=SC2086
  "$PY" scripts/bench/side.py ${BENCH_SIDE_ARGS:-}
fi
