# Defaults shared by scripts/run.sh, test.sh and bench.sh; any of them can be
# overridden from the environment. Sourced, not executed.
#
# One copy of the service is named by AUDITLOG_INSTANCE (default auditlog): its
# database, RUN_DIR and (in the settings) its cache, Channels and queue prefixes
# derive from it, so a second copy needs only another name and another PORT:
#   AUDITLOG_INSTANCE=auditlog2 PORT=8100 make run    (TLS then on 8543)
# (Not exported: the test settings pick their own instance name.)
_instance="${AUDITLOG_INSTANCE:-auditlog}"
export PORT="${PORT:-8000}"
# HTTPS and wss:// (nginx, this copy's self-signed certificate): 8443 for the
# default copy, PORT+443 for another (PORT=8100 -> 8543), or TLS_PORT.
export TLS_PORT="${TLS_PORT:-$((PORT + 443))}"
export RUN_DIR="$(realpath -m "${RUN_DIR:-.run/$_instance}")"
export DATABASE_OWNER_URL="${DATABASE_OWNER_URL:-postgres://auditlog_owner@127.0.0.1:5432/$_instance}"
export PY="${PY:-.venv/bin/python}"
mkdir -p "$RUN_DIR"

# nginx, the local load balancer: installed with apt (the Debian package) when
# missing. Returns non-zero when it is not there and cannot be installed.
# The browser tests drive Debian's headless Chromium with its chromedriver.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && return 0
  echo "browser tests: installing chromium and chromium-driver (Debian packages)"
  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1
}

# pgbouncer, the documented production pooler: tests/project/test_pgbouncer.py
# runs the service's tenant isolation through it (Debian's package).
ensure_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] && return 0
  echo "pgbouncer test: installing pgbouncer (Debian package)"
  apt-get install -y -qq pgbouncer >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq pgbouncer; } >/dev/null 2>&1
}

ensure_nginx() {
  command -v nginx >/dev/null 2>&1 && return 0
  echo "router: installing nginx (Debian package) for the local load balancer"
  apt-get install -y -qq nginx >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq nginx; } >/dev/null 2>&1
}
