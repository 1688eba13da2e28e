"""WSGI entry point for gunicorn: `gunicorn connector.entrypoints.wsgi:app` (config from $CONNECTOR_CONFIG)."""

import sys

from connector.config import ConfigError

try:
    from connector.entrypoints.app import create_app

    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(2)
