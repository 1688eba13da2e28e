"""Where the drain asks other capabilities for help, without knowing them.

* responder factories: given (runtime, channel) return a conversation.Responder (the bot) or None.
* signal handlers: work a conversation step asks for after it is committed, by kind
  (e.g. "queued" -> routing). A signal with no handler is logged, never silently dropped.
* internal event handlers live in the domain: conversation.internal_handlers.

Capabilities register themselves when their module is imported; PLUGINS lists those modules.
"""
from __future__ import annotations

import importlib
import logging
from typing import Callable

log = logging.getLogger(__name__)

PLUGINS: list[str] = [
    "connector.jobs.bot",  # issue 4: the auto-reply bot (responder factory)
    "connector.jobs.routing",  # issue 5: operator routing ("queued" signal, session.* internal events)
]
responder_factories: list[Callable] = []
signal_handlers: dict[str, Callable] = {}
_loaded = False


def load_plugins() -> None:
    global _loaded
    if not _loaded:
        for name in PLUGINS:
            importlib.import_module(name)
        _loaded = True


def responder(rt, channel):
    load_plugins()
    for factory in responder_factories:
        r = factory(rt, channel)
        if r is not None:
            return r
    return None


def dispatch(rt, signals: list[dict]) -> None:
    load_plugins()
    for signal in signals:
        handler = signal_handlers.get(signal.get("kind"))
        if handler is None:
            log.warning("signal %s has no handler; ignored", signal.get("kind"))
            continue
        handler(rt, signal)
