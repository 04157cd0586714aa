#!/usr/bin/env bash
# `make run`: migrate, create queues and the demo data, then run the whole
# service in the foreground: the router (nginx, the local load balancer) on
# PORT, WSGI workers for HTTP, an ASGI process for the WebSocket stream, the
# Celery worker and beat (see Procfile and docs/performance.md for why).
# Without nginx (and no way to install it) one ASGI process serves both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-auditlog_project.settings.local}"
export SQS_ENDPOINT_URL="${SQS_ENDPOINT_URL-http://127.0.0.1:9324}"
export HOST="${HOST:-127.0.0.1}"
export AUDITLOG_PORT="$PORT" AUDITLOG_WEB_PORT="$((PORT + 1))" AUDITLOG_WS_PORT="$((PORT + 2))"

procfile=Procfile
if ! command -v nginx >/dev/null 2>&1; then
  echo "router: installing nginx (Debian package) for the local load balancer"
  if ! { apt-get install -y -qq nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nginx; } >/dev/null 2>&1; }; then
    echo "router: nginx unavailable; one ASGI process serves HTTP and WebSocket on $PORT"
    procfile=Procfile.single
  fi
fi
if [ "$procfile" = Procfile ]; then
  mkdir -p "$RUN_DIR/nginx"
  RUN_DIR_ABS="$(cd "$RUN_DIR" && pwd)"
  sed -e "s|@RUN_DIR@|$RUN_DIR_ABS|g" -e "s|@PORT@|$PORT|g" -e "s|@HOST@|$HOST|g" \
      -e "s|@WEB_PORT@|$AUDITLOG_WEB_PORT|g" -e "s|@WS_PORT@|$AUDITLOG_WS_PORT|g" \
      scripts/nginx.conf.template > "$RUN_DIR/nginx/nginx.conf"
  export RUN_DIR="$RUN_DIR_ABS"
fi
export PROCFILE="$procfile"

exec "$PY" scripts/sqs_local.py -- bash -c '
  set -euo pipefail
  DATABASE_URL="$DATABASE_OWNER_URL" "$PY" manage.py migrate --noinput
  "$PY" manage.py collectstatic --noinput -v 0
  "$PY" manage.py sqs_setup
  "$PY" manage.py ensure_demo
  echo "serving on http://$HOST:$AUDITLOG_PORT (API docs: /api/docs/, stream: ws://$HOST:$AUDITLOG_PORT/api/v1/logs/stream)"
  exec .venv/bin/honcho start -f "$PROCFILE"
'
