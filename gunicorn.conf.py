"""gunicorn settings for the web process (Heroku: `web: gunicorn connector.wsgi:app`)."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30            # LINE gives up after 2 s; a request that takes 30 s is a bug
graceful_timeout = 20   # Heroku sends SIGKILL 30 s after SIGTERM
keepalive = 5
accesslog = None        # request lines carry no ids we need; the app logs what matters
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
forwarded_allow_ips = "*"  # Heroku's router; ProxyFix in the app trusts one hop
