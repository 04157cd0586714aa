#!/usr/bin/env bash
# `make run`: migrate, create queues and the demo data, then run the whole
# service in the foreground (web + WebSocket, worker, beat; see Procfile).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-auditlog_project.settings.local}"
export SQS_ENDPOINT_URL="${SQS_ENDPOINT_URL-http://127.0.0.1:9324}"

exec "$PY" scripts/sqs_local.py -- bash -c '
  set -euo pipefail
  DATABASE_URL="$DATABASE_OWNER_URL" "$PY" manage.py migrate --noinput
  "$PY" manage.py collectstatic --noinput -v 0
  "$PY" manage.py sqs_setup
  "$PY" manage.py ensure_demo
  exec .venv/bin/honcho start -f Procfile
'
