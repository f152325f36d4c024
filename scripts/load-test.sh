#!/usr/bin/env bash
# `make bench-load`: the working-day mix (tests/bench/locustfile.py) against the production profile on loopback.
# Starts scripts/prod-demo.sh (PostgreSQL — DATABASE_URL or a private cluster —, Redis, gunicorn, RQ workers),
# runs locust headless for a fixed time, prints p50/p95/p99 and failures per step and the throughput, stops it all.
#
#   LOAD_USERS=8 LOAD_SECONDS=60 SEED_CUSTOMERS=2000 scripts/load-test.sh
#   KEHU_LOAD_URL=http://127.0.0.1:58000 scripts/load-test.sh     # against a profile that is already running
#
# Results: var/bench-load/stats_stats.csv (locust's CSV) and the table printed at the end (docs/benchmarks.md).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
users=${LOAD_USERS:-8}
seconds=${LOAD_SECONDS:-60}
out=${KEHU_LOAD_OUT:-var/bench-load}
mkdir -p "$out"
url=${KEHU_LOAD_URL:-}
demo=""
stop() {
  if [ -n "$demo" ]; then
    kill -TERM -- -"$demo" 2>/dev/null || true
    wait "$demo" 2>/dev/null || true
  fi
}
trap stop EXIT
if [ -z "$url" ]; then
  port=${KEHU_PROD_PORT:-58000}
  setsid bash scripts/prod-demo.sh >"$out/prod-demo.log" 2>&1 &
  demo=$!
  until grep -q "prod-demo ready" "$out/prod-demo.log"; do
    kill -0 "$demo" 2>/dev/null || { tail -30 "$out/prod-demo.log"; exit 1; }
    sleep 1
  done
  url=http://127.0.0.1:$port
fi
"$(dirname "$PY")/locust" -f tests/bench/locustfile.py --headless -H "$url" -u "$users" -r "$users" \
  -t "${seconds}s" --csv "$out/stats" --only-summary --loglevel WARNING >"$out/locust.log" 2>&1 || true
"$PY" - "$out/stats_stats.csv" "$users" "$seconds" <<'PY'
import csv, sys

rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
print(f"working-day mix: {sys.argv[2]} users for {sys.argv[3]} s")
print(f"{'step':<22} {'requests':>8} {'failures':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>6}")
for row in rows:
    print(
        f"{row['Name']:<22} {row['Request Count']:>8} {row['Failure Count']:>8} {row['50%']:>7} {row['95%']:>7} "
        f"{row['99%']:>7} {float(row['Requests/s']):>6.1f}"
    )
PY
