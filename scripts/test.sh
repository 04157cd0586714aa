#!/usr/bin/env bash
# `make test`: lint, Django checks, migrations check, then the full test suite
# with coverage (fails under 90%) against real PostgreSQL, Redis and SQS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DJANGO_SETTINGS_MODULE=auditlog_project.settings.test
export SQS_ENDPOINT_URL="${SQS_ENDPOINT_URL:-http://127.0.0.1:9325}"
# The serving tests start the real nginx in front of real gunicorn pools.
ensure_nginx || echo "nginx is missing and could not be installed: the nginx tests will fail" >&2
ensure_chromium || echo "chromium could not be installed: the browser tests will fail" >&2
ensure_pgbouncer || echo "pgbouncer could not be installed: its test will fail" >&2

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== mypy (with the Django and DRF stubs)"
.venv/bin/mypy

echo "== cfn-lint (docker/aws/*.yaml)"
bash scripts/cfn_lint.sh

echo "== django checks"
"$PY" manage.py check --fail-level WARNING
# Production settings must pass the deployment checklist with freshly generated secrets.
DJANGO_SETTINGS_MODULE=auditlog_project.settings.production \
  DJANGO_SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(64))')" \
  JWT_SIGNING_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  ENCRYPTION_MASTER_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  INTEGRITY_SIGNING_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  DATABASE_URL="postgres://auditlog_app@127.0.0.1:5432/auditlog" \
  DJANGO_ALLOWED_HOSTS=auditlog.example.com \
  "$PY" manage.py check --deploy --fail-level WARNING
"$PY" manage.py makemigrations --check --dry-run
echo "== openapi schema (valid, and docs/openapi.yaml up to date: make schema)"
"$PY" manage.py spectacular --validate --fail-on-warn --file "$RUN_DIR/openapi.yaml"
diff -q docs/openapi.yaml "$RUN_DIR/openapi.yaml" >/dev/null || {
  echo "docs/openapi.yaml is out of date: run make schema" >&2
  exit 1
}

echo "== pytest"
set +e
# A local moto server on SQS_ENDPOINT_URL is a session fixture (tests/conftest.py).
# Reruns (a safety net, docs/testing.md "Tests that failed only in the full
# suite"): a failed test runs up to twice more and shows as R. Every R is a bug.
# Native tracebacks: once pytest's own source parsing crashed while formatting
# a failure (SystemError from ast), which ended the whole run.
.venv/bin/pytest --cov --cov-report=term --reruns 2 --reruns-delay 1 --tb=native --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
