"""gunicorn settings for the web process (Heroku: `web: gunicorn connector.entrypoints.wsgi:app`)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent: a webhook spends most of its life waiting for Redis, and a greenlet waits for a socket
# far more cheaply than an OS thread handing the GIL around (measured in docs/benchmarks.md).
# GUNICORN_WORKER_CLASS=gthread goes back to threads.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # gthread only
timeout = 30  # LINE gives up after 2 s; a request that takes 30 s is a bug
graceful_timeout = 20  # Heroku sends SIGKILL 30 s after SIGTERM
keepalive = 5
accesslog = None  # request lines carry no ids we need; the app logs what matters
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
forwarded_allow_ips = "*"  # Heroku's router; ProxyFix in the app trusts one hop

# /metrics adds up the counters of every gunicorn worker (prometheus_client's multiprocess mode):
# each worker writes its own under this directory, a fresh one per server, removed when it stops.
_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    _metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="connector-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir:
        import shutil

        shutil.rmtree(_metrics_dir, ignore_errors=True)
