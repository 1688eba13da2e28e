"""The auto-reply bot's inputs, prepared by the drain before the domain decides.

The domain's BotResponder is pure: it is handed the channel's Knowledge index (the in-process
copy, refreshed when the sync job bumps its Redis version, so answering costs no Salesforce
call), the channel's business hours and the time the batch was claimed. The LINE loading
animation is sent by the drain beside the new-friend profile fetch (`show_loading`), before the
batch is decided. A channel whose bot is disabled gets no responder, so the welcome text of
conversation.py remains.
"""

from __future__ import annotations

import logging
from datetime import datetime

from connector.jobs import LEARN_FROM_CASE, enqueue, job_id

log = logging.getLogger(__name__)


def responder(rt, channel, now: datetime, hours_by_settings: dict):
    """The channel's BotResponder for one batch, or None when its bot is disabled.

    `hours_by_settings` caches each channel's parsed business hours (kept by the caller for the
    worker's life: parsing holidays is not free).
    """
    settings = channel.settings.bot
    if not settings.enabled:
        return None
    # Imported here: a worker whose channels have no bot never loads the index, numpy or the model.
    from connector.domain.bot import BotResponder
    from connector.domain.knowledge import Answerer

    hours = hours_by_settings.get(id(settings))
    if hours is None or hours[0] is not settings:
        hours = hours_by_settings[id(settings)] = (settings, settings.hours())
    index, meta = rt.knowledge_store.load_index(channel.language, rt.encoder)
    answerer = Answerer(index, answer_threshold=settings.answer_threshold, clarify_threshold=settings.clarify_threshold)
    template = settings.article_url_template

    def article_url(article):
        if article.url or not template:
            return article.url
        m = meta.get(article.id) or {}
        if not m.get("u") and "{url_name}" in template:
            return None
        return template.format(
            url_name=m.get("u") or "", id=article.id, article_number=m.get("n") or "", language=article.language
        )

    relief = settings.relief()
    return BotResponder(
        answerer,
        hours[1],
        settings,
        channel.text,
        lambda: now,
        language=channel.language,
        article_url=article_url,
        relief=relief,
        queue_wait=_queue_wait(rt) if relief is not None else None,
    )


def _queue_wait(rt):
    """The expected wait of a newcomer to the queue, read from Redis at most once per batch."""
    from connector.domain.queue_relief import wait_for_newcomer

    memo: list = []

    def wait() -> int | None:
        if not memo:
            memo.append(wait_for_newcomer(rt.routing_store.load(), rt.settings.routing.avg_handle_time_seconds))
        return memo[0]

    return wait


def wants_loading(channel, event: dict) -> bool:
    """Whether the bot will think about this event in a 1:1 chat (the animation is for those)."""
    src = event.get("source")
    return (
        channel.settings.bot.enabled
        and event.get("type") in ("message", "postback")
        and isinstance(src, dict)
        and src.get("type") == "user"
        and bool(src.get("userId"))
        and event.get("mode") != "standby"
    )


def show_loading(rt, channel, event: dict) -> None:
    try:
        rt.line.show_loading(channel.id, event["source"]["userId"], channel.settings.bot.loading_seconds)
    except Exception as exc:  # noqa: BLE001 - a missing animation must never cost the answer
        log.info("loading animation not shown: %s", type(exc).__name__)


def warm(rt) -> None:
    """Load what a worker's first answer would otherwise wait for (~0.4 s): each bot language's
    index, the embedding model and the Janome dictionary. Run by a starting worker, off its queue."""
    from connector.domain.knowledge import Answerer

    for lang in rt.config.bot_languages:
        index, _ = rt.knowledge_store.load_index(lang, rt.encoder)
        Answerer(index).decide("配送状況を知りたい")  # touches the analyser, the model and the index


def on_closed(rt, signal: dict) -> None:
    """Signal handler: a session closed. Learn from the articles its operators sent (own job)."""
    enqueue(rt, LEARN_FROM_CASE, signal["case_key"], key=job_id("learn", signal["session_key"]))
