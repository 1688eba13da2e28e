"""Routing jobs: queue handed-off sessions, route them to operators, apply the effects.

Every change of the routing state goes through `run`: under the routing lock it applies one pure
operation (connector/domain/routing.py), then `route`, then decides the queue notices due
(connector/domain/queue_position.py), and saves the state with the effects in an outbox
(connector/storage/routing.py). `apply_outbox` then applies the effects, in one Salesforce call
for the whole batch:

* Assignment -> session Status__c Operator / Operator__c / Assigned_At__c, Case OwnerId, a
  LINE_Routing__c record (upsert on Routing_Key__c = "{session key}:{assigned ms}"), an internal
  `session.assigned` event so the conversation knows (the bot stays quiet), and (if configured)
  a short "you are connected" text on LINE.
* Requeued -> session Status__c Queued, Operator__c cleared, internal `session.requeued`.
* QueueNotice -> a LINE push (retry key + marker) of the position / expected wait, recorded as a
  System message of the session.
* Released -> the session's routing facts are dropped.

Entry points: the `queued` signal (the bot's or `session.handoff`'s handoff) -> `queued` job;
Salesforce callouts other than message.send -> `callout` job; the worker's sweeper -> `tick`
(presence expiry, routing, notices, leftover effects, the outbound sweep).
"""

from __future__ import annotations

import logging
import math
import time

from connector.domain import operator as operator_domain
from connector.domain import routing as R
from connector.domain.queue_position import QueueNotice, notices_due
from connector.domain.records import (
    CASE,
    MESSAGE,
    ROUTING,
    SESSION,
    SessionStatus,
    Upsert,
    merge,
    parse_sf_datetime,
    ref,
    sf_datetime,
)
from connector.gateways.errors import GatewayError
from connector.jobs import OUTBOUND_SWEEP, ROUTING_FLUSH, ROUTING_QUEUED, delivery, enqueue, job_id, submit_internal
from connector.runtime import get_runtime

log = logging.getLogger(__name__)


def routing_config(settings) -> R.RoutingConfig:
    s = settings.routing
    return R.RoutingConfig(
        default_capacity=s.default_capacity,
        presence_ttl_s=s.presence_ttl_seconds,
        entitled_priority=s.entitled_priority,
        notice_position_step=s.notice_position_step,
        notice_wait_change_s=s.notice_wait_change_seconds,
        notice_min_interval_s=s.notice_min_interval_seconds,
    )


# --------------------------------------------------------------------------- state changes


def run(rt, op=None, *, now: float | None = None, expire: bool = False, apply: bool = True) -> list[dict]:
    """op(state, now) -> (state, effects); then route and queue notices; save; apply the effects.
    Returns the effects (as dicts). RoutingError from `op` propagates and nothing is saved."""
    now = time.time() if now is None else now
    cfg = routing_config(rt.settings)
    aht = rt.settings.routing.avg_handle_time_seconds

    def step(state, last_sent):
        effects: list = []
        if expire:
            state, eff = R.expire_stale(state, now, config=cfg)
            effects += eff
            state, eff = R.expire_holds(state, now)
            effects += eff
        if op is not None:
            state, eff = op(state, now)
            effects += eff
        state, eff = R.route(state, now, config=cfg)
        effects += eff
        gone = {e.session_key for e in effects if isinstance(e, (R.Assignment, R.Released))}
        last = {k: v for k, v in last_sent.items() if k not in gone}
        notices = notices_due(state, now, aht, last, cfg)
        return state, [e.to_dict() for e in effects] + [n.to_dict() for n in notices], notices, gone

    _, effects = rt.routing_store.transact(step)
    if effects:
        log.info("routing: %s", ", ".join(f"{e['kind']}" for e in effects))
    if apply and effects:
        apply_outbox(rt)
    return effects


def tick(rt, now: float | None = None) -> None:
    """Periodic (the worker's sweeper thread): presence expiry, routing and queue notices (Redis
    only), then jobs for what needs the network: leftover effects, the outbound sweep."""
    run(rt, None, now=now, expire=True, apply=False)
    if rt.routing_store.outbox_pending():
        enqueue(rt, ROUTING_FLUSH, key="routing-flush", retry=False, failure_ttl_s=3600)
    from connector.jobs.outbound import sweep_due

    if _operators_seen(rt, now) and sweep_due(rt):
        enqueue(rt, OUTBOUND_SWEEP, key="outbound-sweep", retry=False, failure_ttl_s=3600)


def _operators_seen(rt, now: float | None, within_s: float = 24 * 3600) -> bool:
    """Operator messages only exist where operators work: without any presence in the last day
    (or ever), the outbound sweep would only spend an API call a minute on nothing."""
    now = time.time() if now is None else now
    return any(
        op.last_seen_at is not None and now - op.last_seen_at < within_s
        for op in rt.routing_store.load().operators.values()
    )


def flush() -> int:
    """RQ job: apply leftover routing effects."""
    return apply_outbox(get_runtime())


# --------------------------------------------------------------------------- entry points


def on_queued(rt, signal: dict) -> None:
    """Signal handler: a session was handed to people. Routing runs in its own job."""
    item = {k: signal.get(k) for k in ("session_key", "case_key", "priority", "entitled", "skills", "channel")}
    enqueue(rt, ROUTING_QUEUED, item, key=job_id("queued", item["session_key"]))


def queued(item: dict) -> list[dict]:
    rt = get_runtime()
    key = item["session_key"]
    channel = item.get("channel") or operator_domain.parse_session_key(key)[0]
    st = rt.routing_store
    st.set_session(key, {"case_key": item.get("case_key")})
    priority = int(item.get("priority") or 0) or routing_config(rt.settings).priority_for(bool(item.get("entitled")))
    return run(rt, lambda s, now: R.enqueue(s, key, channel, now, priority=priority, skills=item.get("skills") or ()))


def callout(sealed: bytes) -> str:
    """RQ job for a Salesforce callout other than message.send (already verified and deduped)."""
    rt = get_runtime()
    env = rt.vault.open_json(sealed)
    kind, data = env["type"], env.get("data") or {}
    cfg = routing_config(rt.settings)
    if kind == "presence.update":
        status = data.get("status")
        if status not in {p.value for p in R.Presence} or not data.get("userId"):
            log.warning("presence.update ignored: bad status or user")
            return "ignored"
        cap = data.get("capacity")
        cap = None if cap is None else max(0, min(50, int(cap)))
        run(rt, lambda s, now: R.set_presence(s, data["userId"], status, now, capacity=cap, config=cfg))
        if rt.settings.twilio.enabled:
            from connector.jobs.voice import remember_reach  # where the operator takes offered calls

            remember_reach(rt, data)
        return "presence"
    key = data.get("sessionKey") or ""
    try:
        channel_id, source, _ = operator_domain.parse_session_key(key)
        rt.config.channel(channel_id)
    except (ValueError, KeyError):
        log.warning("%s ignored: not a session of a configured channel", kind)
        return "ignored"
    if kind == "identity.link":
        # The customer proved who they are (support id checked in Salesforce): from now on the
        # conversation uses that Contact, and an entitled customer is routed with priority.
        if not str(data.get("contactId") or "").startswith("003"):
            log.warning("identity.link ignored: not a Contact id")
            return "ignored"
        submit_internal(
            rt,
            channel_id,
            source,
            "identity.linked",
            {"contact_id": data["contactId"], "entitled": bool(data.get("entitled"))},
            idempotency_key=env["id"],
        )
        return "linked"
    if kind == "session.read":
        if source["type"] == "user":
            rt.line.mark_as_read(channel_id, source["userId"])
        return "read"
    try:
        if kind == "session.close":
            run(rt, lambda s, now: R.release(s, key, now))
            sent = parse_sf_datetime(env.get("sentAt"))
            closed_ms = int(sent.timestamp() * 1000) if sent else int(time.time() * 1000)
            submit_internal(
                rt,
                channel_id,
                source,
                operator_domain.CLOSED,
                {
                    "session_key": key,
                    "closed_by": data.get("userId"),
                    "reason": data.get("reason"),
                    "closed_ms": closed_ms,
                    "case_status": rt.settings.routing.close_case_status,
                },
                idempotency_key=env["id"],
            )
            return "closed"
        if kind == "session.transfer":
            run(rt, lambda s, now: R.transfer(s, key, data.get("toUserId") or None, now))
            return "transferred"
        if kind == "session.hold":
            minutes = rt.settings.routing.hold_timeout_minutes
            counts = rt.settings.routing.hold_counts_against_capacity
            memo = str(data.get("memo") or "")[:255]
            run(
                rt,
                lambda s, now: R.put_on_hold(
                    s, key, data.get("userId") or "", now, now + minutes * 60, counts=counts, memo=memo
                ),
            )
            return "held"
        if kind == "session.resume":
            run(rt, lambda s, now: R.resume(s, key, data.get("userId") or "", now))
            return "resumed"
        if kind == "session.decline":
            run(rt, lambda s, now: R.decline(s, key, data.get("userId") or "", now))
            return "declined"
    except R.RoutingError as exc:
        log.warning("%s refused by routing: %s", kind, exc)
        return "refused"
    return "ignored"


# --------------------------------------------------------------------------- effects


def apply_outbox(rt) -> int:
    """Apply pending routing effects; returns how many were finished. Safe to run anywhere, any
    number of times (one applier at a time; each effect is idempotent)."""
    st = rt.routing_store
    token = st.try_lock("outbox", 60_000)
    if token is None:
        return 0
    try:
        return _apply(rt, st)
    finally:
        st.unlock("outbox", token)


def _apply(rt, st) -> int:
    entries = st.outbox()
    if not entries:
        return 0
    info = st.sessions(e["effect"]["session_key"] for _, e in entries)
    work = []  # (raw, effect, upserts, internal events)
    for raw, entry in entries:
        eff = entry["effect"]
        try:
            channel = rt.config.channel(eff["channel_id"])
            upserts, internal = _effect(rt, channel, eff, info.get(eff["session_key"]) or {})
        except GatewayError as exc:  # LINE not reachable now: keep it for the next tick
            log.warning("routing effect %s postponed: %s", eff["kind"], exc)
            continue
        except (KeyError, ValueError) as exc:
            log.error("routing effect %s dropped: %s", eff["kind"], type(exc).__name__)
            st.done([raw])
            continue
        work.append((raw, eff, upserts, internal))
    upserts = merge([u for w in work for u in w[2]])
    results = {}
    if upserts and rt.store.outage() is not None:
        return 0  # Salesforce writes are paused: the effects wait (their LINE pushes went out above)
    if upserts:
        try:
            results = rt.salesforce.upsert_many(upserts)
        except GatewayError as exc:
            log.warning("routing effects not written yet (%s); retried on the next tick", exc)
            return 0
    finished, released = [], []
    for raw, eff, ups, internal in work:
        bad = [results.get(u.ident) for u in ups if not (results.get(u.ident) and results[u.ident].ok)]
        if any(r is None or r.retryable for r in bad):
            continue
        for r in bad:
            log.error("routing effect %s: write failed %s", eff["kind"], r.summary)
        for name, data, key in internal:
            _, source, _ = operator_domain.parse_session_key(eff["session_key"])
            submit_internal(rt, eff["channel_id"], source, name, data, idempotency_key=key)
        if eff["kind"] == "released":
            released.append(eff["session_key"])
        finished.append(raw)
    st.done(finished)
    st.drop_sessions(released)
    return len(finished)


def _effect(rt, channel, eff: dict, info: dict) -> tuple[list[Upsert], list[tuple[str, dict, str]]]:
    kind, key = eff["kind"], eff["session_key"]
    if kind == "assignment":
        at_ms = int(eff["assigned_at"] * 1000)
        rkey = f"{key}:{at_ms}"
        upserts = [
            Upsert(
                SESSION,
                key,
                {
                    "Status__c": SessionStatus.OPERATOR,
                    "Operator__c": eff["operator_id"],
                    "Assigned_At__c": sf_datetime(at_ms),
                },
            )
        ]
        fields = {
            "Chat_Session__r": ref(SESSION, key),
            "Operator__c": eff["operator_id"],
            "Channel_Id__c": eff["channel_id"],
            "Queued_At__c": sf_datetime(eff["queued_at"] * 1000),
            "Assigned_At__c": sf_datetime(at_ms),
            "Wait_Seconds__c": round(eff["wait_s"]),
            "Operator_Load__c": eff["operator_load"],
            "Operator_Capacity__c": eff["operator_capacity"],
            "Reason__c": eff["reason"],
            "Priority__c": eff.get("priority") or 0,
            "Eligible_Operators__c": eff.get("eligible") or 0,
            "From_Operator__c": eff.get("from_operator_id"),
        }
        if info.get("case_key"):
            upserts.append(Upsert(CASE, info["case_key"], {"OwnerId": eff["operator_id"]}))
            fields["Case__r"] = ref(CASE, info["case_key"])
        upserts.append(Upsert(ROUTING, rkey, fields))
        if rt.settings.routing.notify_assignment and eff["reason"] != "transfer":
            upserts += _system_message(rt, channel, key, channel.text("operator_assigned"), f"as:{rkey}")
        return upserts, [
            (
                operator_domain.ASSIGNED,
                {"session_key": key, "operator_id": eff["operator_id"], "assigned_ms": at_ms},
                f"assigned:{rkey}",
            )
        ]
    if kind == "requeued":
        at_ms = int(eff["at"] * 1000)
        fields = {"Status__c": SessionStatus.QUEUED, "Operator__c": None}
        if eff["reason"] == "hold_expired":
            fields.update({"Held_At__c": None, "Hold_Until__c": None})  # the memo stays for the next operator
        return (
            [Upsert(SESSION, key, fields)],
            [
                (
                    operator_domain.REQUEUED,
                    {"session_key": key, "operator_id": eff["operator_id"], "reason": eff["reason"]},
                    f"requeued:{key}:{at_ms}",
                )
            ],
        )
    if kind == "on_hold":
        at_ms = int(eff["at"] * 1000)
        if eff.get("until") is None:  # resumed: the operator has it live again
            return [Upsert(SESSION, key, {"Held_At__c": None, "Hold_Until__c": None, "Hold_Memo__c": None})], []
        fields = {
            "Held_At__c": sf_datetime(at_ms),
            "Hold_Until__c": sf_datetime(int(eff["until"] * 1000)),
            "Hold_Memo__c": eff.get("memo") or None,
        }
        text = channel.text("session_on_hold")
        return [Upsert(SESSION, key, fields)] + _system_message(rt, channel, key, text, f"hold:{key}:{at_ms}"), []
    if kind == "queue_notice":
        notice = QueueNotice.from_dict(eff)
        return _system_message(rt, channel, key, notice_text(channel, notice), f"qn:{key}:{int(notice.at * 1000)}"), []
    return [], []  # released


def notice_text(channel, notice: QueueNotice) -> str:
    if notice.expected_wait_s is None:
        return channel.text("queue_no_operator", position=notice.position)
    if notice.expected_wait_s == 0:
        return channel.text("queue_soon", position=notice.position)
    return channel.text(
        "queue_position", position=notice.position, minutes=max(1, math.ceil(notice.expected_wait_s / 60))
    )


def _system_message(rt, channel, session_key: str, text: str, key: str) -> list[Upsert]:
    """Push a text to the session's customer once (marker + retry key); returns its record."""
    _, _, to = operator_domain.parse_session_key(session_key)
    result = delivery.push_once(rt, channel.id, to, [{"type": "text", "text": text}], key)
    fields = {
        "Chat_Session__r": ref(SESSION, session_key),
        "Direction__c": "System",
        "Type__c": "text",
        "Text__c": text,
        **delivery.delivery_fields(result),
    }
    return [Upsert(MESSAGE, "sys:" + job_id("n", key), fields)]
