# Defaults shared by scripts/run.sh, test.sh and bench.sh; any of them can be
# overridden from the environment. Sourced, not executed.
export PORT="${PORT:-8000}"
export RUN_DIR="${RUN_DIR:-.run}"
export DATABASE_OWNER_URL="${DATABASE_OWNER_URL:-postgres://auditlog_owner@127.0.0.1:5432/auditlog}"
export PY="${PY:-.venv/bin/python}"
mkdir -p "$RUN_DIR"
