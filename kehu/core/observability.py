"""What operators watch (docs/deployment.md, ADR 0021): the readiness check, Prometheus metrics, the access log.

- `/healthz` answers as long as the process serves (liveness); `/healthz/ready` checks the database, the task
  queue and, on Redis, that at least one worker has sent a heartbeat recently: 200 when all pass, 503 otherwise.
- `/metrics` serves the Prometheus text format: request latency per route (a histogram), task outcomes (a
  counter fed by django-tasks' `task_finished` signal in the worker), and, read at scrape time, the queue depth,
  running and failed jobs and live workers. Under gunicorn several processes write one PROMETHEUS_MULTIPROC_DIR
  (`kehu/gunicorn_conf.py`), and the scrape adds them up. Only loopback clients, or a client presenting
  KEHU_METRICS_TOKEN as a bearer token, may read it.
- `RequestMetricsMiddleware` times every request and writes one access line (logger `kehu.access`): method,
  route, status, duration, user id — the JSON formatter turns it into one JSON object.
"""

from __future__ import annotations

import datetime
import hmac
import logging
import os
import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

access_log = logging.getLogger("kehu.access")

REQUEST_LATENCY = Histogram(
    "kehu_http_request_duration_seconds",
    "Time to answer an HTTP request, per route (the URL pattern, not the path) and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0),
)
TASKS_FINISHED = Counter(
    "kehu_tasks_finished_total",
    "Background tasks finished, per task and outcome (SUCCESSFUL or FAILED).",
    ["task", "status"],
)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"  # 404s: one label, whatever the path (no unbounded label values)
    return "/" + (match.route or "")


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = _route(request)
        REQUEST_LATENCY.labels(request.method, route, str(response.status_code)).observe(elapsed)
        user = getattr(request, "user", None)
        access_log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


def task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """django-tasks' `task_finished` signal (sent in the worker that ran the task, on every backend)."""
    TASKS_FINISHED.labels(task_result.task.name, str(task_result.status)).inc()


# --- the task queue, read the same way for /healthz/ready and /metrics -----------------------------------------


def tasks_backend() -> str:
    path = settings.TASKS["default"]["BACKEND"]
    if path.startswith("django_tasks_rq."):
        return "rq"
    if path.startswith("django_tasks_db."):
        return "db"
    return "other"


def queue_state() -> dict[str, Any]:
    """Queued, running and failed jobs and live workers of the configured backend. Raises when the queue's
    store (Redis, the database) cannot be reached."""
    backend = tasks_backend()
    if backend == "rq":
        import django_rq
        from rq import Worker
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        max_age = getattr(settings, "KEHU_WORKER_HEARTBEAT_MAX_AGE", 600)
        now = datetime.datetime.now(datetime.UTC)
        state: dict[str, Any] = {"backend": backend, "queued": 0, "running": 0, "failed": 0, "workers": 0}
        ages: list[float] = []
        names = settings.TASKS["default"].get("QUEUES") or list(settings.RQ_QUEUES)
        seen: set[str] = set()
        for name in names:
            queue = django_rq.get_queue(name)
            queue.connection.ping()
            state["queued"] += queue.count
            state["running"] += StartedJobRegistry(queue=queue).count
            state["failed"] += FailedJobRegistry(queue=queue).count
            for worker in Worker.all(queue=queue):
                if worker.name in seen or worker.last_heartbeat is None:
                    continue
                seen.add(worker.name)
                beat = worker.last_heartbeat
                if beat.tzinfo is None:
                    beat = beat.replace(tzinfo=datetime.UTC)
                age = (now - beat).total_seconds()
                if age <= max_age:
                    ages.append(age)
        state["workers"] = len(ages)
        state["newest_heartbeat_age_seconds"] = round(min(ages), 1) if ages else None
        return state
    if backend == "db":
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        counts = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")).order_by())
        return {
            "backend": backend,
            "queued": counts.get("READY", 0),
            "running": counts.get("RUNNING", 0),
            "failed": counts.get("FAILED", 0),
            "workers": None,  # the database worker keeps no heartbeat: not checked
            "newest_heartbeat_age_seconds": None,
        }
    return {"backend": backend, "queued": None, "running": None, "failed": None, "workers": None}


def health_ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, Any]] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"ok": True}
    except Exception as error:  # noqa: BLE001 - reported, not raised: this page exists to say what is down
        checks["database"] = {"ok": False, "error": type(error).__name__}
    try:
        state = queue_state()
        checks["queue"] = {"ok": True, **{k: state[k] for k in ("backend", "queued", "running", "failed")}}
        if state["workers"] is None:
            checks["workers"] = {"ok": True, "tracked": False}
        else:
            checks["workers"] = {
                "ok": state["workers"] > 0,
                "alive": state["workers"],
                "newest_heartbeat_age_seconds": state["newest_heartbeat_age_seconds"],
            }
    except Exception as error:  # noqa: BLE001
        checks["queue"] = {"ok": False, "error": type(error).__name__}
        checks["workers"] = {"ok": False, "error": "queue unreachable"}
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)


class QueueCollector:
    """Queue gauges read at scrape time (one Redis or database round trip per scrape)."""

    def collect(self):
        try:
            state = queue_state()
            up = 1
        except Exception:  # noqa: BLE001 - the scrape still answers, with kehu_task_queue_up 0
            state, up = {}, 0
        yield GaugeMetricFamily("kehu_task_queue_up", "1 when the task queue's store answered.", value=up)
        for key, help_text in (
            ("queued", "Tasks waiting in the queue."),
            ("running", "Tasks being run by a worker."),
            (
                "failed",
                "Failed tasks kept by the backend (RQ's failed-job registry, the database's FAILED rows).",
            ),
            ("workers", "Workers whose last heartbeat is recent (RQ only)."),
        ):
            value = state.get(key)
            if value is not None:
                yield GaugeMetricFamily(f"kehu_task_{key}", help_text, value=value)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "KEHU_METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in {"127.0.0.1", "::1"}


def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueCollector())
    body += generate_latest(queue_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
