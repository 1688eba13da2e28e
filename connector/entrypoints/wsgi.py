"""WSGI entry point for gunicorn: `gunicorn connector.entrypoints.wsgi:app` (config from $CONNECTOR_CONFIG).

A bad configuration exits with gunicorn's APP_LOAD_ERROR (4), which stops the whole server: with
any other code gunicorn would boot new workers forever, holding the port and serving nothing.
"""

import sys

from connector.config import ConfigError

try:
    from connector.entrypoints.app import create_app

    app = create_app()
except ConfigError as exc:  # a clear line per problem instead of a traceback
    for problem in exc.problems:
        print(f"configuration error: {problem}", file=sys.stderr)
    sys.exit(4)
