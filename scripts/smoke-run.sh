#!/usr/bin/env bash
# `make run` works: start it (in a scratch copy of the checkout, so the demo database and .venv it creates do not
# touch the working tree unless KEHU_SMOKE_IN_PLACE=1), wait for HTTP 200 on the login page, stop it.
#   scripts/smoke-run.sh            # used by .ci/run
set -uo pipefail
cd "$(dirname "$0")/.."
port=${KEHU_SMOKE_PORT:-18765}
timeout_s=${KEHU_SMOKE_TIMEOUT:-900}
log=$(mktemp /tmp/kehu-smoke-run.XXXXXX.log)
if [ "${KEHU_SMOKE_IN_PLACE:-}" = 1 ]; then
  dir=$PWD
else
  # a fresh clone of the committed tree: what a new user gets (uncommitted changes are not part of it)
  dir=$(mktemp -d /tmp/kehu-smoke.XXXXXX)
  git clone --quiet --no-hardlinks . "$dir" || exit 1
fi
unset DATABASE_URL  # `make run` is the SQLite demo
setsid make -C "$dir" run PORT="$port" >"$log" 2>&1 &
pid=$!
stop() {
  kill -TERM -- -"$pid" 2>/dev/null
  sleep 2
  kill -KILL -- -"$pid" 2>/dev/null
  [ "$dir" != "$PWD" ] && rm -rf "$dir"
}
trap stop EXIT
# the login page answers 200, then a demo user logs in and reaches the customer list (plain Python: no curl needed)
python3 - "$port" "$timeout_s" "$pid" "$log" <<'PY'
import http.cookiejar, os, re, sys, time, urllib.error, urllib.parse, urllib.request

port, timeout_s, pid, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = f"http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def tail() -> str:
    with open(log, encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-40:])


def fail(message: str) -> None:
    print(message + "; the output of make run:\n" + tail())
    sys.exit(1)


deadline, status = time.monotonic() + timeout_s, None
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        fail("make run exited before serving")
    try:
        with opener.open(base + "/accounts/login/", timeout=10) as response:
            status, page = response.status, response.read().decode()
            break
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        status = getattr(exc, "code", None)
        time.sleep(2)
if status != 200:
    fail(f"make run did not serve the login page within {timeout_s}s (last status {status})")
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode(
    {"csrfmiddlewaretoken": token, "username": "rep1", "password": "kehu-demo-2026"}
).encode()
request = urllib.request.Request(base + "/accounts/login/", data=form, headers={"Referer": base + "/accounts/login/"})
with opener.open(request, timeout=30) as response:
    landed = response.url
with opener.open(base + "/customers/", timeout=30) as response:
    listed, listed_at = response.status, response.url
if landed.rstrip("/") != base or listed != 200 or not listed_at.endswith("/customers/"):
    fail(f"logging in as rep1 landed on {landed}; the customer list answered {listed} at {listed_at}")
print(f"make run serves {base}/ (login page 200, rep1 logged in, customer list 200)")
PY
