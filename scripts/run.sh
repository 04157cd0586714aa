#!/usr/bin/env bash
# `make run`: migrate, collect static files, make sure of the demo data, then
# run the whole service in the foreground with honcho: the router (nginx, the
# local load balancer) on PORT, the web and export pools of WSGI workers, an
# ASGI process for the WebSocket stream, the Celery worker and beat, and a moto
# SQS server when the endpoint is local (Procfile; every command line is in
# scripts/servers.py). Without nginx (and no way to install it) one ASGI
# process serves both HTTP and the stream.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-auditlog_project.settings.local}"
export HOST="${HOST:-127.0.0.1}"
# honcho gives every process a PORT of its own; scripts/servers.py reads this.
export AUDITLOG_PORT="$PORT"
export SQS_ENDPOINT_URL="${SQS_ENDPOINT_URL-http://127.0.0.1:$((PORT + 4))}"
# Log streams may go to a receiver on this machine (http, loopback, private
# addresses): the SSRF guard is relaxed here, and the banner says so.
export DESTINATIONS_ALLOW_PRIVATE="${DESTINATIONS_ALLOW_PRIVATE:-true}"
export DESTINATIONS_REQUIRE_HTTPS="${DESTINATIONS_REQUIRE_HTTPS:-false}"

single=""
if ! ensure_nginx; then
  echo "router: nginx unavailable; one ASGI process serves HTTP and WebSocket on $PORT"
  single="--single"
else
  mkdir -p "$RUN_DIR/nginx"
  "$PY" scripts/servers.py nginx-conf > "$RUN_DIR/nginx/nginx.conf"
fi

# The settings load first: a published key or a bad value stops here, with one
# `configuration error: ...` line.
DATABASE_URL="$DATABASE_OWNER_URL" "$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py ensure_demo
procs="$("$PY" scripts/servers.py procs $single)"

case "$HOST" in
  127.0.0.1|localhost|::1) reach="this machine only (HOST=$HOST)" ;;
  *) reach="EVERY machine that can reach $HOST: you asked for that with HOST" ;;
esac
tls="  and over TLS on https://$HOST:$TLS_PORT  (stream wss://$HOST:$TLS_PORT/api/v1/logs/stream)
  (TLS_PORT) with a self-signed certificate made for this copy, $RUN_DIR/tls/cert.pem
  (curl --cacert $RUN_DIR/tls/cert.pem https://$HOST:$TLS_PORT/healthz):
  encrypted, HSTS on its answers, but trusted by no client you have not told to."
[ -z "$single" ] || tls="  No TLS: nginx is missing (the one-server fallback)."
cat <<BANNER
--------------------------------------------------------------------------------
Audit Log API on http://$HOST:$PORT  (docs /api/docs/, stream ws://$HOST:$PORT/api/v1/logs/stream)
$tls
  Reachable from: $reach.
  Safe as it is: keys and the admin password are this installation's own
  (kept in $RUN_DIR/secrets.env, mode 0600), DEBUG is off.
  NOT safe to expose as it is: plain HTTP beside TLS (passwords and tokens in
  clear), a certificate no client trusts, no HTTPS redirect or secure cookies,
  an SQS stand-in without authentication, and log stream destinations
  (/api/v1/destinations) allowed on http and on loopback and private addresses
  (DESTINATIONS_ALLOW_PRIVATE=$DESTINATIONS_ALLOW_PRIVATE,
  DESTINATIONS_REQUIRE_HTTPS=$DESTINATIONS_REQUIRE_HTTPS) so a receiver here can be tried.
  Before exposing it: a real certificate (a TLS-terminating proxy or the ALB),
  production settings, DJANGO_ALLOWED_HOSTS (docs/operations.md#exposing-the-service).
--------------------------------------------------------------------------------
BANNER
exec .venv/bin/honcho start -f Procfile $procs
