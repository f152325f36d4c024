"""gunicorn settings of the production profile: `gunicorn -c python:kehu.gunicorn_conf kehu.wsgi`.

Environment: KEHU_BIND (127.0.0.1:8000), KEHU_WEB_WORKERS (2 × cores), KEHU_WEB_THREADS (4: gthread workers,
so a slow request does not hold a whole process), KEHU_WEB_TIMEOUT (120 s: imports read whole files in the
upload request), KEHU_WEB_KEEPALIVE (75 s). Logs: gunicorn's own lines as JSON on stderr; the access log is the app's (`kehu.access`, one JSON
line per request with its route and duration), so gunicorn's access log stays off. With PROMETHEUS_MULTIPROC_DIR
set, a dead worker's metric files are marked so that its gauges leave the sum (kehu/core/observability.py).
"""

import multiprocessing
import os

bind = os.environ.get("KEHU_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KEHU_WEB_WORKERS", str(2 * multiprocessing.cpu_count())))
threads = int(os.environ.get("KEHU_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("KEHU_WEB_TIMEOUT", "120"))
graceful_timeout = 30
# an idle keep-alive connection is kept longer than clients and proxies keep theirs (nginx 60 s, cloud balancers
# 60 s): when the server closes first, a client sending its next request on that connection at the same moment gets
# "connection reset" (most likely what the load test saw with gunicorn's default of 2 s: 2 of 192 requests). gthread workers park idle
# connections in a poller, not in a thread.
keepalive = int(os.environ.get("KEHU_WEB_KEEPALIVE", "75"))
max_requests = 5000  # recycle workers now and then (memory fragmentation), staggered
max_requests_jitter = 500
accesslog = None
control_socket_disable = True  # gunicorn 25+: no control socket in $HOME (several instances on one machine)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "kehu.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
