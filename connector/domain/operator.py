"""Operator chat in the conversation state machine (pure: no I/O, no clock).

The relay's own events go through the conversation's ordered inbox (`jobs.submit_internal`), so
an operator action and the customer's messages are applied in the order they arrived. This
module holds their handlers (`HANDLERS`, looked up by `conversation.internal_handler`):

* `session.handoff`  {session_key?, priority, skills?}: hand the current Bot session to people
  (for callers other than the bot: tests, the demo, a future console "take over"). Sets the
  session Queued and emits the same `queued` signal as the bot's handoff. A session that is not
  with the bot any more (already Queued/Operator/Closed) is left alone, so it is harmless after
  the bot's own handoff.
* `session.assigned` {session_key, operator_id, assigned_ms}: routing gave the session to an
  operator. Salesforce was written by the routing job; this tells the state (the bot stays quiet).
* `session.requeued` {session_key, operator_id, reason}: back in the queue.
* `session.closed`   {session_key, closed_by, reason, closed_ms, case_status}: the operator closed
  it: session Closed (who, when, why), the Case per configuration, a closing text to the
  customer, and `last_case` for the reopen window. The customer's next message opens a new
  session with the bot first.

Events naming a session that is not the conversation's current one are ignored with a note: a
late action must never close or re-route the customer's *next* session.
"""

from __future__ import annotations

from connector.domain import survey
from connector.domain.conversation import Reply, Result
from connector.domain.records import CASE, MESSAGE, SESSION, SessionStatus, Upsert, ref, sf_datetime

HANDOFF = "session.handoff"
ASSIGNED = "session.assigned"
REQUEUED = "session.requeued"
CLOSED = "session.closed"


# A whisper: a supervisor's advice to the operator inside a chat (docs/supervision.md). It is a
# message record with Direction__c "Internal" and Message_Key__c "int:<Id>", kept in the transcript,
# and never a LINE message: every path to LINE refuses it (`is_internal`).
INTERNAL = "Internal"
INTERNAL_KEY_PREFIX = "int:"


def is_internal(record: dict | None = None, key: str | None = None) -> bool:
    """Whether a message record (callout or SOQL shape) or a delivery key stands for an internal
    message. Anything marked internal in any of its fields counts: refusing is the safe side."""
    keys = [key] if key is not None else []
    if isinstance(record, dict):
        keys += [record.get("messageKey"), record.get("Message_Key__c")]
        if INTERNAL in (record.get("direction"), record.get("Direction__c")) or record.get("internal") is True:
            return True
    return any(str(k or "").startswith(INTERNAL_KEY_PREFIX) for k in keys)


def parse_session_key(session_key: str) -> tuple[str, dict, str]:
    """`{channelId}:{userId}:{eventId}` (or `{channelId}:g:{groupId}:{eventId}`, `r:` for rooms)
    -> (channel id, the LINE event `source` of the conversation, the push target id).
    Raises ValueError for anything else."""
    parts = (session_key or "").split(":")
    if len(parts) == 3 and parts[0] and parts[1].startswith("U"):
        return parts[0], {"type": "user", "userId": parts[1]}, parts[1]
    if len(parts) == 4 and parts[0] and parts[1] in ("g", "r") and parts[2]:
        kind = "group" if parts[1] == "g" else "room"
        return parts[0], {"type": kind, f"{kind}Id": parts[2]}, parts[2]
    raise ValueError("not a session key")


def _current(state: dict, event: dict, res: Result, name: str) -> dict | None:
    """The session the event is about, if it is the conversation's current and still open one."""
    session = state.get("session")
    key = (event.get("data") or {}).get("session_key")
    if not session or (key and session.get("key") != key):
        res.note = f"{name}: not the current session; ignored"
        return None
    if session.get("status") == SessionStatus.CLOSED:
        res.note = f"{name}: session already closed; ignored"
        return None
    return session


def handoff(state: dict, event: dict, ctx) -> Result:
    res = Result(state=state)
    session = _current(state, event, res, HANDOFF)
    if session is None:
        return res
    if session.get("status") != SessionStatus.BOT:
        res.note = f"{HANDOFF}: session is {session.get('status')}; nothing to do"
        return res
    data = event.get("data") or {}
    ts = int(event.get("timestamp") or 0)
    session["status"] = SessionStatus.QUEUED
    res.upserts.append(
        Upsert(
            SESSION,
            session["key"],
            {"Status__c": SessionStatus.QUEUED, "Queued_At__c": sf_datetime(ts)},
            conversation_event_id(event),
        )
    )
    res.signals.append(
        {
            "kind": "queued",
            "session_key": session["key"],
            "case_key": session.get("case_key"),
            "priority": int(data.get("priority") or 0),
            "skills": list(data.get("skills") or []),
            "entitled": bool((state.get("friend") or {}).get("entitled")),
        }
    )
    res.note = f"{HANDOFF}: session queued for an operator"
    return res


def assigned(state: dict, event: dict, ctx) -> Result:
    res = Result(state=state)
    session = _current(state, event, res, ASSIGNED)
    if session is None:
        return res
    data = event.get("data") or {}
    session["status"] = SessionStatus.OPERATOR
    session["operator_id"] = data.get("operator_id")
    session["had_operator"] = True  # the survey tells bot-only sessions apart
    res.note = f"{ASSIGNED}: session with operator {data.get('operator_id')}"
    return res


def requeued(state: dict, event: dict, ctx) -> Result:
    res = Result(state=state)
    session = _current(state, event, res, REQUEUED)
    if session is None:
        return res
    session["status"] = SessionStatus.QUEUED
    session.pop("operator_id", None)
    res.note = f"{REQUEUED}: back in the queue ({(event.get('data') or {}).get('reason')})"
    return res


def closed(state: dict, event: dict, ctx) -> Result:
    res = Result(state=state)
    session = _current(state, event, res, CLOSED)
    if session is None:
        return res
    data = event.get("data") or {}
    eid = conversation_event_id(event)
    ts = int(data.get("closed_ms") or event.get("timestamp") or 0)
    fields = {
        "Status__c": SessionStatus.CLOSED,
        "Closed_At__c": sf_datetime(ts),
        "Close_Reason__c": (data.get("reason") or "")[:255] or None,
    }
    if data.get("closed_by"):
        fields["Closed_By__c"] = data["closed_by"]
    res.upserts.append(Upsert(SESSION, session["key"], fields, eid))
    case_key = session.get("case_key")
    if case_key and data.get("case_status"):
        res.upserts.append(Upsert(CASE, case_key, {"Status": data["case_status"]}, eid))
    survey_messages, survey_upserts, survey_note = survey.offer(
        state,
        session,
        closed_ms=ts,
        now_ms=int(event.get("timestamp") or ts),
        rules=getattr(ctx, "survey", None),
        text=ctx.text if ctx is not None else None,
        eid=eid,
    )
    res.upserts.extend(survey_upserts)
    session["status"] = SessionStatus.CLOSED
    session.pop("operator_id", None)
    if case_key:
        state["last_case"] = {"key": case_key, "closed_ms": ts}
        # the learning loop: the articles operators used on this Case become question candidates
        res.signals.append({"kind": "closed", "session_key": session["key"], "case_key": case_key})
    text = ctx.text("session_closed") if ctx is not None else ""
    messages = [("sys:close", {"type": "text", "text": text})] if text and data.get("notify", True) else []
    messages += [("sys:survey", m) for m in survey_messages]
    if messages:
        _, source, to = parse_session_key(session["key"])
        for prefix, message in messages:
            res.upserts.append(
                Upsert(
                    MESSAGE,
                    f"{prefix}:{eid}",
                    {
                        "Chat_Session__r": ref(SESSION, session["key"]),
                        "Direction__c": "System",
                        "Type__c": "text",
                        "Text__c": message["text"],
                        "Sent_At__c": sf_datetime(ts),
                        "Delivery_Status__c": "Pending",
                    },
                    eid,
                )
            )
        res.replies.append(
            Reply(
                key=f"close:{eid}",
                to=to,
                reply_token=None,
                event_ms=ts,
                messages=[m for _, m in messages],
                record_keys=[f"{p}:{eid}" for p, _ in messages],
            )
        )
    res.note = f"{CLOSED}: session closed" + (f"; {survey_note}" if survey_note else "")
    return res


def conversation_event_id(event: dict) -> str:
    return event.get("webhookEventId") or ""


HANDLERS = {HANDOFF: handoff, ASSIGNED: assigned, REQUEUED: requeued, CLOSED: closed}
