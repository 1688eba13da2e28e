"""The auto-reply bot, plugged into the drain (see hooks.py): a responder per channel.

The responder answers from the in-process copy of the channel's Knowledge index (refreshed when
the sync job bumps its Redis version), so answering costs no Salesforce call; the bot's messages
are recorded with the customer's event in the drain's one write. While it decides, the LINE
loading animation runs (1:1 chats; errors are ignored). A channel whose bot is disabled gets no
responder, so the welcome text of conversation.py remains.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from connector.jobs import hooks

log = logging.getLogger(__name__)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def responder_factory(rt, channel):
    settings = channel.settings.bot
    if not settings.enabled:
        return None
    # Imported here: a worker whose channels have no bot never loads the index, numpy or the model.
    from connector.domain.bot import BotResponder
    from connector.domain.knowledge import Answerer
    from connector.gateways.embedder import get_encoder
    from connector.jobs.knowledge import load_index
    hours = _hours(channel)

    def respond(state: dict, event: dict, opened: bool):
        if event.get("type") not in ("message", "postback"):
            return None
        _show_loading(rt, channel, event, settings.loading_seconds)
        index, meta = load_index(rt.redis, channel.language, get_encoder(rt.settings.knowledge.semantic))
        answerer = Answerer(index, answer_threshold=settings.answer_threshold,
                            clarify_threshold=settings.clarify_threshold)
        template = settings.article_url_template

        def article_url(article):
            if article.url or not template:
                return article.url
            m = meta.get(article.id) or {}
            if not m.get("u") and "{url_name}" in template:
                return None
            return template.format(url_name=m.get("u") or "", id=article.id, article_number=m.get("n") or "",
                                   language=article.language)

        bot = BotResponder(answerer, hours, settings, channel.text, now_utc, language=channel.language,
                           article_url=article_url)
        return bot(state, event, opened)

    return respond


_hours_cache: dict[str, tuple[object, object]] = {}


def _hours(channel):
    """BusinessHours of a channel, parsed once per settings object."""
    settings = channel.settings.bot
    cached = _hours_cache.get(channel.id)
    if cached is None or cached[0] is not settings:
        cached = (settings, settings.hours())
        _hours_cache[channel.id] = cached
    return cached[1]


def _show_loading(rt, channel, event: dict, seconds: int) -> None:
    src = event.get("source")
    if not isinstance(src, dict) or src.get("type") != "user" or not src.get("userId") or event.get("mode") == "standby":
        return
    try:
        rt.line.show_loading(channel.id, src["userId"], seconds)
    except Exception as exc:  # noqa: BLE001 - a missing animation must never cost the answer
        log.info("loading animation not shown: %s", type(exc).__name__)


def warm(rt) -> None:
    """Load what a worker's first answer would otherwise wait for (~0.4 s): each bot language's
    index, the embedding model and the Janome dictionary. Run by a starting worker, off its queue."""
    from connector.domain.knowledge import Answerer
    from connector.gateways.embedder import get_encoder
    from connector.jobs.knowledge import load_index
    encoder = get_encoder(rt.settings.knowledge.semantic)
    for lang in rt.config.bot_languages:
        index, _ = load_index(rt.redis, lang, encoder)
        Answerer(index).decide("配送状況を知りたい")  # touches the analyser, the model and the index


def on_closed(rt, signal: dict) -> None:
    """Signal handler: a session closed. Learn from the articles its operators sent (own job)."""
    from connector.jobs import delivery, job_id
    rt.queue.enqueue("connector.jobs.knowledge.learn_from_case", signal["case_key"],
                     job_id=job_id("learn", signal["session_key"]), retry=delivery.retry_policy(rt),
                     result_ttl=0, failure_ttl=7 * 24 * 3600, on_failure=delivery.to_dead_letter)


hooks.responder_factories.append(responder_factory)
hooks.signal_handlers["closed"] = on_closed
