#!/usr/bin/env bash
# What Kehu needs from the operating system beyond Python, installed when missing.
#
#   scripts/system-deps.sh run    # `make run`: a CJK font (Chinese text in generated PDFs)
#   scripts/system-deps.sh test   # `make test`: the above, Chromium (browser tests), GNU gettext (catalogue check)
#   scripts/system-deps.sh ci     # `.ci/run`: the above, a PostgreSQL 15 server and redis-server (the production
#                                 # profile's test, tests/test_production_profile.py)
#   scripts/system-deps.sh prod   # `make prod-demo`: a CJK font, PostgreSQL 15 and redis-server
#
# As root on Debian/Ubuntu it installs what is missing with apt-get; otherwise it stops and prints the one
# command that installs it. KEHU_SKIP_SYSTEM_DEPS=1 skips the check (you install things your own way).
set -euo pipefail
profile=${1:-test}
case "$profile" in run|test|ci|prod) ;; *) echo "usage: $0 run|test|ci|prod" >&2; exit 2 ;; esac
[ "${KEHU_SKIP_SYSTEM_DEPS:-}" = 1 ] && exit 0

missing=()
has_package() { command -v dpkg-query >/dev/null 2>&1 && [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
cjk_font() { has_package fonts-noto-cjk || has_package fonts-wqy-microhei || { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; }; }

cjk_font || missing+=(fonts-noto-cjk)
if [ "$profile" = test ] || [ "$profile" = ci ]; then
  [ -x "${KEHU_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
  command -v xgettext >/dev/null 2>&1 || missing+=(gettext)
fi
if [ "$profile" = ci ] || [ "$profile" = prod ]; then
  [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15 postgresql-contrib-15)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "Kehu needs system packages that are missing: ${missing[*]}"
    if command -v apt-get >/dev/null 2>&1; then
      echo "Install them with:  sudo sh -c '$command'"
    else
      echo "Install their equivalents with your system's package manager (Debian names above)."
    fi
    echo "(or set KEHU_SKIP_SYSTEM_DEPS=1 to skip this check; the tests that need them will then fail)"
  } >&2
  exit 1
fi
echo "== installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "== installed: ${missing[*]}"
