"""A customer sent a support ID on LINE: verify it, link the friend, answer in plain words.

The conversation step (domain/conversation.py) recognises a message that is a whole support ID,
records `[support ID]` instead of it, and signals its hash. This job, once per event:

1. counts the attempt per LINE user and per ID (`support_id.*` settings); over either limit the
   customer is told to try later, and Salesforce is not asked;
2. asks Salesforce for `LINE_Support_Id__c` with that hash; unknown, expired, used (single-use)
   or unlinked IDs all get the same answer, so nothing tells whether an ID exists;
3. when valid: marks it used (`Used_At__c`), links the friend to the Contact (the Account's first
   Contact for an Account ID) through the ordered `identity.linked` event, which also marks the
   friend Verified by Support_ID with when, and makes an entitled customer's sessions priority;
4. pushes the answer (retry key: once) and records it as a System message.

Logs carry no ID, hash or user id.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from connector.domain import support_id as S
from connector.domain.records import SUPPORT_ID, Upsert, parse_sf_datetime
from connector.gateways import soql
from connector.jobs import VERIFY_SUPPORT_ID, delivery, enqueue, job_id, submit_internal
from connector.runtime import get_runtime

log = logging.getLogger(__name__)
LOCKED = "locked"
TEXTS = {S.VERIFIED: "support_id_verified", S.NOT_CONFIRMED: "support_id_not_confirmed", LOCKED: "support_id_locked"}


def on_signal(rt, signal: dict) -> None:
    """Signal handler (jobs/signals.py): verify in a job of its own."""
    enqueue(rt, VERIFY_SUPPORT_ID, rt.vault.seal_json(signal), key=job_id("support-id", signal["event_id"]))


def verify(sealed: bytes) -> str:
    rt = get_runtime()
    sig = rt.vault.open_json(sealed)
    marker = f"support-id:{sig['event_id']}"
    done = rt.store.marker(marker)
    if done:
        return done["outcome"]  # answered already (a retried job)
    outcome = rt.store.marker(marker + ":decided")
    outcome = outcome["outcome"] if outcome else _decide(rt, sig)
    rt.store.set_marker(marker + ":decided", {"outcome": outcome}, ttl_s=7 * 24 * 3600)
    channel = rt.config.channel(sig["channel"])
    text = channel.text(TEXTS[outcome])
    delivery.notify_once(
        rt,
        channel.id,
        sig["user"],
        text,
        key=marker + ":push",
        session_key=sig["session_key"],
        record_key="sys:" + job_id("sid", sig["event_id"]),
    )
    rt.store.set_marker(marker, {"outcome": outcome}, ttl_s=7 * 24 * 3600)
    rt.store.count(f"support_id_{outcome}")
    log.info("support id: %s", outcome)
    return outcome


def _decide(rt, sig: dict) -> str:
    cfg = rt.settings.support_id
    counted = rt.store.marker(f"support-id:{sig['event_id']}:counted")  # a retried job counts once
    if counted is None:
        by_user, by_id = rt.support_id_store.attempt(
            sig["channel"], sig["user"], sig["hash"], cfg.user_window_minutes * 60, cfg.id_window_minutes * 60
        )
        counted = {"by_user": by_user, "by_id": by_id}
        rt.store.set_marker(f"support-id:{sig['event_id']}:counted", counted, ttl_s=7 * 24 * 3600)
    by_user, by_id = counted["by_user"], counted["by_id"]
    if by_user > cfg.max_attempts_per_user or by_id > cfg.max_attempts_per_id:
        return LOCKED
    row = soql.support_id_by_hash(rt.salesforce, sig["hash"])
    stored = None
    if row:
        stored = S.Stored(
            contact_id=row.get("Contact__c"),
            account_id=row.get("Account__c"),
            expires_at=parse_sf_datetime(row.get("Expires_At__c")),
            reusable=bool(row.get("Reusable__c")),
            used=bool(row.get("Used_At__c")),
            entitled=bool(row.get("Entitled__c")),
        )
    owner = f"{sig['channel']}:{sig['user']}"
    now = datetime.now(UTC)
    if S.check(stored, now) != S.VERIFIED:
        # A single-use ID this very user redeemed (its answer was lost, they send it again) stays theirs.
        mine = stored is not None and rt.support_id_store.claimed_by(sig["hash"]) == owner
        if not (mine and S.check(dataclasses.replace(stored, used=False), now) == S.VERIFIED):
            return S.NOT_CONFIRMED
    if not stored.reusable and not rt.support_id_store.claim(sig["hash"], owner):
        return S.NOT_CONFIRMED  # another LINE user took it first
    contact_id = stored.contact_id or soql.first_contact_of_account(rt.salesforce, stored.account_id)
    if not contact_id:
        return S.NOT_CONFIRMED
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rt.salesforce.upsert_many([Upsert(SUPPORT_ID, sig["hash"], {"Used_At__c": now, "Last_Used_By__c": owner[:120]})])
    submit_internal(
        rt,
        sig["channel"],
        {"type": "user", "userId": sig["user"]},
        "identity.linked",
        {"contact_id": contact_id, "entitled": stored.entitled, "by": "Support_ID"},
        idempotency_key=f"support-id:{sig['event_id']}",
    )
    rt.support_id_store.forgive(sig["channel"], sig["user"])
    return S.VERIFIED
