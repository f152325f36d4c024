#!/usr/bin/env bash
# `make prod-demo`: the production profile on this machine (docs/deployment.md, ADR 0021) — PostgreSQL with a
# connection pool, Redis, gunicorn (gthread workers, WhiteNoise static files), RQ workers running the background
# tasks, one scheduler process, JSON logs, /healthz/ready and /metrics. Ctrl+C (or SIGTERM) stops everything
# it started.
#
# What it starts, unless the environment already names one:
#   DATABASE_URL unset    a private PostgreSQL 15 cluster in $KEHU_PROD_DIR/pg on port $KEHU_PROD_PG_PORT
#   KEHU_REDIS_URL unset  a redis-server (the Debian package) on port $KEHU_PROD_REDIS_PORT, no persistence
# Knobs: KEHU_PROD_DIR (var/prod-demo), KEHU_PROD_PORT (8000: gunicorn), KEHU_PROD_PG_PORT (55433),
# KEHU_PROD_REDIS_PORT (56380), KEHU_WEB_WORKERS (2), KEHU_RQ_WORKERS (2), SEED_CUSTOMERS (2000; 0 = no demo
# data), KEHU_PROD_SCHEDULER (1; 0 = no scheduler process), KEHU_PROD_READY_TIMEOUT (180 s). Once every part answers it prints
# "prod-demo ready on http://…" (tests/test_production_profile.py waits for that line).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
BIN=$(dirname "$PY")
dir=$(mkdir -p "${KEHU_PROD_DIR:-var/prod-demo}" && cd "${KEHU_PROD_DIR:-var/prod-demo}" && pwd)
web_port=${KEHU_PROD_PORT:-8000}
pg_port=${KEHU_PROD_PG_PORT:-55433}
redis_port=${KEHU_PROD_REDIS_PORT:-56380}
rq_workers=${KEHU_RQ_WORKERS:-2}
seed=${SEED_CUSTOMERS:-2000}
PGBIN=${KEHU_PGBIN:-/usr/lib/postgresql/15/bin}

pids=()
pg_started=0
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$dir/redis.pid" ]; then kill -TERM "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -f "$dir/redis.pid"; fi
  if [ "$pg_started" = 1 ]; then as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true; fi
  echo "prod-demo stopped"
}
trap stop EXIT
trap 'exit 130' INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  if [ ! -s "$dir/pg/PG_VERSION" ]; then
    mkdir -p "$dir/pg"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/pg"; fi
    as_pg "$PGBIN/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
    -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  pg_started=1
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='kehu'" \
    | grep -q 1 || as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres kehu
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/kehu"
fi
if [ -z "${KEHU_REDIS_URL:-}" ]; then
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  export KEHU_REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi
[ -s "$dir/secret_key" ] || "$PY" -c "import secrets; print(secrets.token_urlsafe(60))" >"$dir/secret_key"
export DJANGO_SETTINGS_MODULE=kehu.settings.production
export SECRET_KEY; SECRET_KEY=$(cat "$dir/secret_key")
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export KEHU_SECURE_SSL_REDIRECT=${KEHU_SECURE_SSL_REDIRECT:-0}  # plain HTTP on loopback (no TLS proxy here)
export KEHU_BASE_URL=${KEHU_BASE_URL:-http://127.0.0.1:$web_port}
export KEHU_STATIC_ROOT=${KEHU_STATIC_ROOT:-$dir/static}
export PROMETHEUS_MULTIPROC_DIR=$dir/metrics
export KEHU_BIND=127.0.0.1:$web_port KEHU_WEB_WORKERS=${KEHU_WEB_WORKERS:-2}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

"$PY" manage.py migrate --noinput >"$dir/migrate.log"
"$PY" manage.py collectstatic --noinput >"$dir/collectstatic.log"
if [ "$seed" != 0 ]; then
  "$PY" manage.py seed_demo --customers "$seed" --if-empty >"$dir/seed.log" 2>&1
  "$PY" manage.py demo_logins
fi

"$BIN/gunicorn" -c python:kehu.gunicorn_conf kehu.wsgi >"$dir/web.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$rq_workers"); do
  "$PY" manage.py rqworker default --job-class django_tasks_rq.Job --name "kehu-$HOSTNAME-$$-$i" \
    >"$dir/worker-$i.log" 2>&1 &
  pids+=($!)
done
if [ "${KEHU_PROD_SCHEDULER:-1}" = 1 ]; then
  "$PY" manage.py run_schedules >"$dir/schedules.log" 2>&1 &
  pids+=($!)
fi

# ready when /healthz/ready says the database, the queue and a worker's heartbeat are all fine
"$PY" - "$web_port" "${KEHU_PROD_READY_TIMEOUT:-180}" <<'PY'
import sys, time, urllib.error, urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/healthz/ready"
deadline, last = time.monotonic() + float(sys.argv[2]), None
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            sys.exit(0)
    except urllib.error.HTTPError as error:
        last = error.read().decode()
    except OSError as error:
        last = str(error)
    time.sleep(0.3)
print(f"prod-demo did not become ready: {last}", file=sys.stderr)
sys.exit(1)
PY
echo "prod-demo ready on http://127.0.0.1:$web_port/ (logs in $dir; metrics on /metrics, health on /healthz/ready)"
wait -n "${pids[@]}"
echo "a prod-demo process stopped; stopping the others" >&2
exit 1
