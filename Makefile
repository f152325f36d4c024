# Kehu — the two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
SEED_CUSTOMERS ?= 2000
# the suite runs on every core (pytest-xdist), at most four processes; PYTEST_ARGS="-n 0" runs it serially
PYTEST_ARGS ?= -n auto --maxprocesses=4
export PYTHONDONTWRITEBYTECODE=1

# Moved clocks for `make test-clock` (CI): a year end in Shanghai years ahead, the Shanghai/UTC date boundary on a
# leap day, one minute before Europe/Berlin's DST switch (tests/clock.py explains the frozen clock).
CLOCKS ?= 2031-12-31T23:59:00+08:00 2028-02-29T16:30:00+00:00 2027-03-28T00:59:00+00:00
# Each moved clock runs its own shard of the suite (a stable hash of the test id), so `make test-clock` costs one
# suite, not one per clock; CLOCK_SHARDS=no runs the whole suite at every clock.
CLOCK_SHARDS ?= yes

.PHONY: run prod-demo bench-load test test-clock system-deps install messages migrate demo serve lint bench vendor clean lock audit

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

messages: install
	$(PY) -m kehu.tools.compile_messages

migrate: install messages
	$(PY) manage.py migrate --noinput

demo: migrate
	bash scripts/system-deps.sh run
	$(PY) manage.py seed_demo --customers $(SEED_CUSTOMERS) --if-empty

run: demo
	@echo "Kehu on http://$(HOST):$(PORT)/  (task worker and schedulers started alongside; Ctrl+C stops them all)"
	@$(PY) manage.py demo_logins
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) manage.py db_worker --interval 2 > var/worker.log 2>&1 & \
	  $(PY) manage.py send_reminders --every 60 > var/reminders.log 2>&1 & \
	  $(PY) manage.py sales_scheduler --every 60 > var/sales.log 2>&1 & \
	  $(PY) manage.py resume_imports --every 300 > var/imports.log 2>&1 & \
	  $(PY) manage.py service_scheduler --every 60 > var/service.log 2>&1 & \
	  $(PY) manage.py service_smtp > var/service-smtp.log 2>&1 & \
	  $(PY) manage.py analytics_score --enqueue --every 86400 > var/analytics.log 2>&1 & \
	  $(PY) manage.py analytics_nba --enqueue --every 86400 > var/analytics-nba.log 2>&1 & \
	  $(PY) manage.py reports_scheduler --every 3600 > var/reports.log 2>&1 & \
	  $(PY) manage.py campaign_scheduler --every 60 > var/campaigns.log 2>&1 & \
	  $(PY) manage.py forecast_snapshot --every 86400 > var/forecast.log 2>&1 & \
	  $(PY) manage.py automation_scheduler --every 60 > var/automation.log 2>&1 & \
	  $(PY) manage.py approvals_scheduler --every 300 > var/approvals.log 2>&1 & \
	  $(PY) manage.py webhooks_scheduler --every 30 > var/webhooks.log 2>&1 & \
	  $(PY) manage.py privacy_retention --every 86400 > var/privacy.log 2>&1 & \
	  $(PY) manage.py runserver $(HOST):$(PORT) --noreload

# The production profile on this machine: PostgreSQL (a private cluster unless DATABASE_URL is set), Redis,
# gunicorn, RQ workers and the scheduler (scripts/prod-demo.sh, docs/deployment.md). Ctrl+C stops them all.
prod-demo: install messages
	bash scripts/system-deps.sh prod
	SEED_CUSTOMERS=$(SEED_CUSTOMERS) KEHU_PROD_PORT=$(PORT) bash scripts/prod-demo.sh

test: install messages
	bash scripts/system-deps.sh test
	$(PY) -m kehu.tools.check_gates
	$(PY) -m pytest $(PYTEST_ARGS)

# The suite without the browser tests, once per moved clock: a test that reads the wall clock fails here.
test-clock: install messages
	@k=0; n=$(words $(CLOCKS)); for now in $(CLOCKS); do \
	  shard=; [ "$(CLOCK_SHARDS)" = yes ] && shard="--clock-shard=$$k/$$n"; \
	  echo "== tests with the clock at $$now $$shard"; \
	  $(PY) -m pytest -q --now=$$now $$shard --ignore=tests/e2e $(PYTEST_ARGS) || exit 1; \
	  k=$$((k + 1)); \
	done

system-deps:
	bash scripts/system-deps.sh test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install messages
	mkdir -p var
	$(PY) -m pytest tests/bench -p no:cacheprovider -o addopts="" -o python_files="bench_*.py" -s --reuse-db $(BENCH_ARGS)

# The working-day load mix (tests/bench/locustfile.py) against the production profile, headless for a fixed
# time: LOAD_USERS (8), LOAD_SECONDS (60); p50/p95/p99 per step (scripts/load-test.sh, docs/benchmarks.md).
bench-load: install messages
	$(PIP) install --quiet 'locust>=2.30,<3'
	bash scripts/system-deps.sh prod
	SEED_CUSTOMERS=$(SEED_CUSTOMERS) bash scripts/load-test.sh

# Every dependency (transitive too) pinned with its hashes (docs/security.md); after changing pyproject.toml's.
lock: install
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra dev --no-emit-index-url --no-emit-find-links \
	  --output-file requirements/dev.lock pyproject.toml

# Known vulnerabilities of the locked versions; needs a reachable vulnerability database: PyPI's JSON API (default)
# or OSV (AUDIT_ARGS="-s osv"). --strict: a package that could not be looked up fails the run instead of passing.
audit: install
	$(PIP) install --quiet 'pip-audit>=2.7,<3'
	$(VENV)/bin/pip-audit --strict --require-hashes --disable-pip -r requirements/dev.lock $(AUDIT_ARGS)

vendor:
	bash scripts/vendor.sh

clean:
	rm -rf $(VENV) var staticfiles
