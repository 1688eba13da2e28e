"""Logging: one line per event, ids only. Message text and secrets never reach a log.

Libraries that write request or response bodies (personal data: a LINE profile, a message) or
URLs with query strings (SOQL with quoted values) below WARNING never reach the log, whatever
`log_level` says: line-bot-sdk writes every response body at DEBUG when its configuration is in
debug mode, urllib3 every URL at DEBUG, twilio every request's parameters at INFO. Their loggers
are held at WARNING, and the handler drops their records below WARNING even if a library lowers
its own logger's level again.
"""

from __future__ import annotations

import logging
import sys

BODY_LOGGERS = ("linebot", "urllib3", "twilio", "simple_salesforce", "requests", "http.client")


class NoBodies(logging.Filter):
    """Drops what the libraries that log bodies or URLs say below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        name = record.name
        return not any(name == lib or name.startswith(lib + ".") for lib in BODY_LOGGERS)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_connector_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(NoBodies())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("werkzeug", "rq.worker", "rq.scheduler", *BODY_LOGGERS):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    root._connector_configured = True
