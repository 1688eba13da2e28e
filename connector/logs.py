"""Logging: one line per event, ids only. Message text and secrets never reach a log.

Libraries that write request or response bodies (personal data: a LINE profile, a message) or
URLs with query strings (SOQL with quoted values) below WARNING never reach the log, whatever
`log_level` says: line-bot-sdk writes every response body at DEBUG when its configuration is in
debug mode, urllib3 every URL at DEBUG, twilio every request's parameters at INFO. Their loggers
are held at WARNING, and the handler drops their records below WARNING even if a library lowers
its own logger's level again.
"""

from __future__ import annotations

import json
import logging
import sys
import time

BODY_LOGGERS = ("linebot", "urllib3", "twilio", "simple_salesforce", "requests", "http.client")


class NoBodies(logging.Filter):
    """Drops what the libraries that log bodies or URLs say below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        name = record.name
        return not any(name == lib or name.startswith(lib + ".") for lib in BODY_LOGGERS)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`log_format: json`), for log platforms that parse fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    if getattr(root, "_connector_configured", False):
        root.setLevel(level)
        for handler in root.handlers:
            if getattr(handler, "_connector", False):
                handler.setFormatter(_formatter(fmt))
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._connector = True
    handler.setFormatter(_formatter(fmt))
    handler.addFilter(NoBodies())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("werkzeug", "rq.worker", "rq.scheduler", *BODY_LOGGERS):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    root._connector_configured = True
