"""The production profile (kehu.settings.production, scripts/prod-demo.sh, ADR 0021).

The pieces are tested on every database: the settings the environment selects, JSON logs, the readiness check,
the metrics endpoint and its access rule, the scheduler process. `test_prod_demo_boots_and_serves` boots the
whole profile — gunicorn, Redis, RQ workers, PostgreSQL pool — through `scripts/prod-demo.sh` against the test
database and drives an import through it (two real background tasks through Redis and RQ); it needs PostgreSQL
(the CI PostgreSQL run) and the Debian redis-server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from kehu.core import observability
from kehu.core.logging import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent
SECRET = "prod-profile-test-" + "k3Jx9Qm2Lw7Vb5Nz" * 4


def production_settings(**env: str) -> dict:
    """The production settings a process with this environment gets (imported in a fresh interpreter)."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'tasks': s.TASKS['default']['BACKEND'], 'caches': s.CACHES['default']['BACKEND'], "
        "'db': s.DATABASES['default'], 'apps': s.INSTALLED_APPS, 'middleware': s.MIDDLEWARE, "
        "'rq': getattr(s, 'RQ_QUEUES', None)}, default=str))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KEHU_", "DATABASE_URL"))}
    environment = {
        **base,
        "DJANGO_SETTINGS_MODULE": "kehu.settings.production",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "crm.example.com",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    if result.returncode:
        raise RuntimeError(result.stderr.strip().splitlines()[-1])
    return json.loads(result.stdout)


def test_production_settings_follow_the_environment():
    plain = production_settings()
    assert plain["tasks"] == "django_tasks_db.DatabaseBackend"  # no Redis named: the database worker
    assert plain["caches"] == "django.core.cache.backends.locmem.LocMemCache"
    assert "django_rq" not in plain["apps"]
    assert plain["middleware"][0] == "kehu.core.observability.RequestMetricsMiddleware"

    full = production_settings(
        KEHU_REDIS_URL="redis://127.0.0.1:6399/2", DATABASE_URL="postgres://kehu@db.example.com:5432/kehu"
    )
    assert full["tasks"] == "django_tasks_rq.RQBackend"
    assert full["caches"] == "django.core.cache.backends.redis.RedisCache"
    assert "django_rq" in full["apps"] and full["rq"]["default"]["URL"] == "redis://127.0.0.1:6399/2"
    assert full["db"]["OPTIONS"]["pool"]["max_size"] == 8 and full["db"]["CONN_MAX_AGE"] == 0

    bouncer = production_settings(
        KEHU_DB_POOL="0", KEHU_TASKS_BACKEND="db", KEHU_REDIS_URL="redis://127.0.0.1:6399/2",
        DATABASE_URL="postgres://kehu@db.example.com:5432/kehu",
    )  # fmt: skip
    assert "pool" not in bouncer["db"].get("OPTIONS", {}) and bouncer["db"]["CONN_MAX_AGE"] == 60
    assert bouncer["tasks"] == "django_tasks_db.DatabaseBackend"
    assert bouncer["caches"] == "django.core.cache.backends.redis.RedisCache"


def test_production_settings_refuse_incoherent_environments():
    with pytest.raises(RuntimeError, match="KEHU_TASKS_BACKEND=rq needs KEHU_REDIS_URL"):
        production_settings(KEHU_TASKS_BACKEND="rq")
    with pytest.raises(RuntimeError, match="must be rq or db"):
        production_settings(KEHU_TASKS_BACKEND="celery")


def test_json_log_lines_carry_extra_fields_and_hide_secrets():
    formatter = JsonFormatter()
    record = logging.makeLogRecord(
        {"name": "kehu.access", "levelname": "INFO", "msg": "%s %s", "args": ("GET", "/customers/")}
    )
    record.route, record.duration_ms = "/customers/", 12.5
    line = json.loads(formatter.format(record))
    assert line["message"] == "GET /customers/" and line["logger"] == "kehu.access"
    assert line["route"] == "/customers/" and line["duration_ms"] == 12.5 and line["time"].endswith("+00:00")
    try:
        raise ValueError("password=hunter2 刷新失败")
    except ValueError:
        failed = logging.makeLogRecord({"msg": "boom", "exc_info": sys.exc_info()})
    parsed = json.loads(formatter.format(failed))
    assert "hunter2" not in parsed["exception"] and "刷新失败" in parsed["exception"]


@pytest.mark.django_db
def test_ready_check_reports_each_part(client, monkeypatch):
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert ready.json()["checks"]["database"] == {"ok": True}

    def broken_cursor():
        raise OSError("connection refused")

    monkeypatch.setattr(observability.connection, "cursor", broken_cursor)
    down = client.get("/healthz/ready")
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == {"ok": False, "error": "OSError"}


@pytest.mark.django_db
def test_ready_check_fails_without_a_live_worker(client, monkeypatch):
    monkeypatch.setattr(
        observability,
        "queue_state",
        lambda: {"backend": "rq", "queued": 3, "running": 0, "failed": 1, "workers": 0,
                 "newest_heartbeat_age_seconds": None},
    )  # fmt: skip
    answer = client.get("/healthz/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"]["workers"] == {
        "ok": False,
        "alive": 0,
        "newest_heartbeat_age_seconds": None,
    }
    assert answer.json()["checks"]["queue"]["queued"] == 3

    def unreachable():
        raise ConnectionError("redis down")

    monkeypatch.setattr(observability, "queue_state", unreachable)
    answer = client.get("/healthz/ready")
    assert answer.status_code == 503 and answer.json()["checks"]["queue"] == {
        "ok": False,
        "error": "ConnectionError",
    }


@pytest.mark.django_db
def test_database_backend_queue_counts(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from kehu.customers.tasks import find_duplicates

    find_duplicates.enqueue()
    find_duplicates.enqueue()
    DBTaskResult.objects.filter(pk=DBTaskResult.objects.first().pk).update(status="FAILED")
    state = observability.queue_state()
    assert (state["backend"], state["queued"], state["failed"], state["workers"]) == ("db", 1, 1, None)


@pytest.mark.django_db
def test_metrics_latency_per_route_and_access_rule(client, settings, caplog):
    settings.MIDDLEWARE = ["kehu.core.observability.RequestMetricsMiddleware", *settings.MIDDLEWARE]
    with caplog.at_level(logging.INFO, logger="kehu.access"):
        assert client.get("/healthz").status_code == 200
        assert client.get("/no-such-page-anywhere/").status_code in (302, 404)
    access = [r for r in caplog.records if r.name == "kehu.access"]
    assert access[0].route == "/healthz" and access[0].status == 200 and access[0].duration_ms >= 0
    body = client.get("/metrics").content.decode()
    assert re.search(
        r'kehu_http_request_duration_seconds_count\{method="GET",route="/healthz",status="200"\} \d', body
    )
    assert "kehu_task_queue_up 1.0" in body
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403  # not loopback, no token
    settings.KEHU_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 403  # a token is set: loopback alone is not enough
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert (
        client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-me").status_code
        == 200
    )


def test_failed_tasks_are_counted():
    from django_tasks.base import TaskResultStatus

    class Result:
        status = TaskResultStatus.FAILED

        class task:  # noqa: N801
            name = "campaign_tick"

    before = observability.TASKS_FINISHED.labels("campaign_tick", "FAILED")._value.get()
    observability.task_finished(sender=None, task_result=Result())
    assert observability.TASKS_FINISHED.labels("campaign_tick", "FAILED")._value.get() == before + 1


@pytest.mark.django_db
def test_run_schedules_runs_every_job_and_survives_a_failing_one(monkeypatch):
    from django.core.management import call_command

    from kehu.core.management.commands import run_schedules

    monkeypatch.setattr(
        run_schedules,
        "SCHEDULES",
        [("send_reminders", 60, {}), ("no_such_command", 60, {}), ("resume_imports", 300, {})],
    )
    out = __import__("io").StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("run_schedules", "--once", stdout=out)
    assert stopped.value.code == 1
    lines = out.getvalue().splitlines()
    assert (
        lines[0].startswith("send_reminders: enqueued ") and lines[1] == "resume_imports: imports resumed: 0"
    )


def test_every_schedule_names_a_real_command():
    from django.core.management import get_commands

    from kehu.core.management.commands.run_schedules import SCHEDULES

    commands = get_commands()
    assert all(name in commands for name, _, _ in SCHEDULES)
    # the same periodic jobs `make run` starts
    makefile = (ROOT / "Makefile").read_text()
    assert {name for name, _, _ in SCHEDULES} == set(re.findall(r"manage\.py (\w+) [^>]*--every", makefile))


# --- the whole profile, booted ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_prod_demo_boots_and_serves(tmp_path, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("the production profile runs on PostgreSQL: this test runs in the CI PostgreSQL run")
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: scripts/system-deps.sh ci installs it")
    import requests
    from rest_framework.authtoken.models import Token

    from kehu.core.models import Scope

    rep = make_user("customers.customer", actions=("view", "add", "change", "import"), read=Scope.OWN)
    token = Token.objects.create(user=rep).key
    db = connection.settings_dict
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KEHU_", "DJANGO_", "PROMETHEUS_"))},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PY": sys.executable,
        "KEHU_PROD_DIR": str(tmp_path / "prod"),
        "KEHU_PROD_PORT": str(port),
        "KEHU_PROD_REDIS_PORT": str(_free_port()),
        "KEHU_WEB_WORKERS": "2",
        "KEHU_RQ_WORKERS": "1",
        "SEED_CUSTOMERS": "0",
        "KEHU_PROD_SCHEDULER": "0",
        "KEHU_STATIC_COMPRESS": "0",  # hashed names and far-future caching stay; gzip/brotli copies take a minute
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace("@", f":{db['PASSWORD']}@", 1)
    log = open(tmp_path / "prod-demo.out", "w+")  # noqa: SIM115 - read after the process ends
    demo = subprocess.Popen(
        ["bash", str(ROOT / "scripts/prod-demo.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # seconds on a quiet machine
        while "prod-demo ready" not in (tmp_path / "prod-demo.out").read_text():
            assert demo.poll() is None and time.monotonic() < deadline, (
                tmp_path / "prod-demo.out"
            ).read_text()
            time.sleep(0.3)
        session = requests.Session()
        ready = session.get(f"{base}/healthz/ready", timeout=10).json()
        assert ready["checks"]["queue"]["backend"] == "rq" and ready["checks"]["workers"]["alive"] >= 1

        # WhiteNoise serves the collected, hashed static files with a far-future cache lifetime
        login = session.get(f"{base}/accounts/login/", timeout=10)
        assert login.status_code == 200
        stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text).group(1)
        css = session.get(base + stylesheet, timeout=10)
        assert css.status_code == 200 and "max-age=315360000" in css.headers["Cache-Control"]

        # an import through the API: its preview and its run are background tasks, run by the RQ worker
        api = {"Authorization": f"Token {token}"}
        upload = session.post(
            f"{base}/api/imports/", headers=api, timeout=30,
            files={"file": ("prod.csv", "Name,Mobile\r\n生产环境测试有限公司,13812345678\r\n".encode())},
        )  # fmt: skip
        assert upload.status_code == 201, upload.text
        job = f"{base}/api/imports/{upload.json()['id']}/"
        mapped = session.put(job + "mapping/", headers=api, json={"mapping": ["name", "phone"]}, timeout=10)
        assert mapped.status_code == 200, mapped.text
        assert session.post(job + "preview/", headers=api, timeout=10).status_code == 202

        def wait_for(status: str) -> dict:
            until = time.monotonic() + 30
            while True:
                state = session.get(job, headers=api, timeout=10).json()
                if state["status"] == status or time.monotonic() > until:
                    return state
                time.sleep(0.2)

        assert wait_for("ready")["status"] == "ready"
        assert session.post(job + "start/", headers=api, timeout=10).status_code == 202
        done = wait_for("done")
        assert (done["status"], done["created"]) == ("done", 1), done
        customers = session.get(f"{base}/api/customers/", headers=api, timeout=10).json()
        assert [c["name"] for c in customers["results"]] == ["生产环境测试有限公司"]

        metrics = session.get(f"{base}/metrics", timeout=10).text
        assert re.search(r'kehu_tasks_finished_total\{status="SUCCESSFUL",task="import_work"\} 2\.0', metrics)
        assert re.search(
            r'kehu_http_request_duration_seconds_count\{method="POST",[^}]*status="201"\} 1\.0', metrics
        )
        assert "kehu_task_workers 1.0" in metrics and "kehu_task_queued 0.0" in metrics
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        connection.close()
    output = (tmp_path / "prod-demo.out").read_text()
    assert "prod-demo stopped" in output, output
    access = [
        json.loads(line) for line in (tmp_path / "prod/web.log").read_text().splitlines() if line.strip()
    ]
    assert any(line.get("logger") == "kehu.access" and line.get("status") == 201 for line in access)
