"""LINE account link (docs/data-protection.md): offer the company's linking page, link the friend
when LINE's accountLink event brings a nonce the company's site registered, unlink on request.

One job per event (`account_link` signal), idempotent: what it decided is kept in a marker before
anything is sent, and every push has a retry key. Logs carry no nonce, token or user id.
"""

from __future__ import annotations

import logging

from connector.domain import account_link as AL
from connector.jobs import ACCOUNT_LINK, delivery, enqueue, job_id, submit_internal
from connector.runtime import get_runtime

log = logging.getLogger(__name__)
MARKER_TTL_S = 7 * 24 * 3600


def on_signal(rt, signal: dict) -> None:
    enqueue(rt, ACCOUNT_LINK, rt.vault.seal_json(signal), key=job_id("account-link", signal["event_id"]))


def run(sealed: bytes) -> str:
    rt = get_runtime()
    sig = rt.vault.open_json(sealed)
    channel = rt.config.channel(sig["channel"])
    marker = f"account-link:{sig['event_id']}"
    decided = rt.store.marker(marker)
    if decided is None:
        decided = _decide(rt, sig)
        rt.store.set_marker(marker, decided, ttl_s=MARKER_TTL_S)
    text = channel.text(decided["text"], **decided.get("values", {}))
    delivery.notify_once(
        rt,
        channel.id,
        sig["user"],
        text,
        key=marker + ":push",
        session_key=sig["session_key"],
        record_key="sys:" + job_id("al", sig["event_id"]),
    )
    rt.store.count(f"account_link_{decided['outcome']}")
    log.info("account link: %s", decided["outcome"])
    return decided["outcome"]


def _decide(rt, sig: dict) -> dict:
    source = {"type": "user", "userId": sig["user"]}
    if sig["action"] == AL.OFFER:
        base = rt.settings.account_link.linking_urls[sig["channel"]]
        token = rt.line.link_token(sig["channel"], sig["user"])
        return {"outcome": "offered", "text": "account_link_offer", "values": {"url": AL.linking_url(base, token)}}
    if sig["action"] == AL.UNLINK:
        submit_internal(rt, sig["channel"], source, "identity.unlinked", {}, idempotency_key=f"al:{sig['event_id']}")
        return {"outcome": "unlinked", "text": "account_link_unlinked"}
    kept = f"account-link:{sig['event_id']}:nonce"  # a retry after the nonce was taken still has it
    taken = rt.store.marker(kept)
    if taken is None and sig.get("result") == "ok":
        taken = rt.account_link_store.take(sig["nonce_hash"])
        if taken:
            rt.store.set_marker(kept, taken, ttl_s=MARKER_TTL_S)
    if not taken:
        return {"outcome": "failed", "text": "account_link_failed"}
    submit_internal(
        rt,
        sig["channel"],
        source,
        "identity.linked",
        {"contact_id": taken["contact_id"], "entitled": bool(taken.get("entitled")), "by": "Account_Link"},
        idempotency_key=f"al:{sig['event_id']}",
    )
    return {"outcome": "linked", "text": "account_link_done"}
