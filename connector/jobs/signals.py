"""Work a conversation step asks for after it is committed, by kind (Result.signals).

The table is explicit: a signal with no handler is logged, never silently dropped.
"""

from __future__ import annotations

import logging

from connector.jobs import account_link, bot, routing, support_id, voice

log = logging.getLogger(__name__)

HANDLERS = {
    "queued": routing.on_queued,  # a session was handed to people: routing, in its own job
    "closed": bot.on_closed,  # a session closed: learn from the articles its operators sent
    "line_delivery": voice.on_delivery,  # LINE delivered a notification message (PNP)
    "support_id": support_id.on_signal,  # a customer sent a support ID: verify it
    "account_link": account_link.on_signal,  # LINE account link: offer, link, unlink
}


def dispatch(rt, signals: list[dict]) -> None:
    for signal in signals:
        handler = HANDLERS.get(signal.get("kind"))
        if handler is None:
            log.warning("signal %s has no handler; ignored", signal.get("kind"))
            continue
        handler(rt, signal)
