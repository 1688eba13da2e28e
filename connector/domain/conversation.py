"""The conversation with one LINE user (or group) on one channel, as a state machine.

`apply(state, event, ctx)` is pure: it returns the next state, the Salesforce upserts that record
the event, and the LINE replies to send. Keys are derived from the event, so applying the same
event to the same state twice yields the same writes - which is what makes a retried job harmless.

State (JSON-able dict, stored sealed in Redis):
    friend:  {key, user_id, display_name, contact_key, contact_id, status}   (user conversations)
    session: {key, status, case_key, started_ms, last_ms}  or None
    last_case: {key, closed_ms}  the previous session's Case, for the reopen window
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.domain import account_link as AL
from connector.domain import events as ev
from connector.domain import survey as sv
from connector.domain.records import CASE, CONTACT, FRIEND, MESSAGE, SESSION, SessionStatus, Upsert, ref, sf_datetime
from connector.domain.support_id import id_hash as support_id_hash
from connector.domain.support_id import normalise as normalise_support_id
from connector.domain.survey import SurveyRules


@dataclass
class Turn:
    """What the bot says in answer to one customer event (see `Context.responder`)."""

    messages: list[dict]  # LINE message objects (text, quickReply, flex...)
    records: list[dict] = field(default_factory=list)  # per message: extra fields for its record
    upserts: list[Upsert] = field(default_factory=list)  # other writes (Case status, question examples...)
    status: str | None = None  # new session status, e.g. QUEUED on handoff
    signals: list[dict] = field(default_factory=list)  # work for other jobs, e.g. {"kind": "queued", ...}
    note: str = ""
    # The customer said the bot's answer solved it: {"article", "question"}. With the survey on,
    # the session closes and the survey follows the bot's text (domain/survey.py).
    solved: dict | None = None


# A responder decides what the bot says to a customer's message or postback while the session is
# with the bot: (state, event, opened) -> Turn | None. It may update state["session"] in place.
Responder = Callable[[dict, dict, bool], "Turn | None"]
# The relay's own events (type "x-connector.<name>", e.g. operator actions) go through the same
# ordered per-conversation inbox as LINE events; `internal_handler` names their handlers.
INTERNAL_PREFIX = "x-connector."


@dataclass(frozen=True)
class Context:
    channel_id: str
    text: Callable[[str], str]  # channel text by key (configured or default, in its language)
    profile: dict | None = None  # LINE profile of a friend not seen before
    reopen_window_ms: int = 0
    subject_max_chars: int = 80
    reply_in_groups: bool = False
    responder: Responder | None = None  # None: only the welcome text on a new inquiry
    survey: SurveyRules | None = None  # None: no satisfaction survey on this channel
    # support ID: ask an unverified customer for it when they open an inquiry on this channel
    ask_support_id: bool = False
    # account link: (keywords, unlink keywords) when the channel has a linking page, else None
    account_link_words: tuple[tuple[str, ...], tuple[str, ...]] | None = None


@dataclass
class Reply:
    """A LINE reply to send: by reply token while fresh, else by push with a retry key."""

    key: str  # stable id: marker and retry-key seed
    to: str  # user/group/room id (for push)
    reply_token: str | None
    event_ms: int  # when the token was issued
    messages: list[dict]
    record_keys: list[str]  # message records that stand for these messages


@dataclass
class Result:
    state: dict
    upserts: list[Upsert] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    content: list[dict] = field(
        default_factory=list
    )  # media to fetch: {message_id, message_key, session_key, case_key, type}
    signals: list[dict] = field(default_factory=list)  # work for other jobs (see Turn.signals)
    note: str = ""  # log line (ids only, never text)


def decision(res: Result) -> dict:
    """What `apply` decided, without the state, as JSON-able data (kept while its records wait)."""
    return {
        "upserts": [[u.sobject, u.key, u.fields, u.event_id] for u in res.upserts],
        "replies": [[r.key, r.to, r.reply_token, r.event_ms, r.messages, r.record_keys] for r in res.replies],
        "content": res.content,
        "signals": res.signals,
        "note": res.note,
    }


def from_decision(data: dict, state: dict) -> Result:
    """The Result that `decision` kept, with the state it led to (or the unchanged one)."""
    return Result(
        state=state,
        upserts=[Upsert(o, k, dict(f), e) for o, k, f, e in data.get("upserts") or []],
        replies=[Reply(k, t, tok, ms, m, rk) for k, t, tok, ms, m, rk in data.get("replies") or []],
        content=list(data.get("content") or []),
        signals=list(data.get("signals") or []),
        note=data.get("note") or "",
    )


def apply(state: dict | None, event: dict, ctx: Context) -> Result:
    problem = ev.malformed(event) if not str(event.get("type")).startswith(INTERNAL_PREFIX) else None
    if problem:
        return Result(state=copy.deepcopy(state) if state else {}, note=f"malformed event ignored: {problem}")
    state = copy.deepcopy(state) if state else {}
    eid = ev.event_id(event)
    etype = event.get("type", "")
    treatment = ev.treatment(event)
    standby = event.get("mode") == "standby"
    src = ev.source_key(event)
    res = Result(state=state)

    if etype.startswith(INTERNAL_PREFIX):
        handler = internal_handler(etype[len(INTERNAL_PREFIX) :])
        if handler is None:
            res.note = f"{etype}: no handler, ignored"
            return res
        return handler(state, event, ctx)

    if etype == "delivery":  # a notification message by phone number (PNP) reached its recipient
        res.signals.append({"kind": "line_delivery", "data": str((event.get("delivery") or {}).get("data") or "")})
        res.note = "delivery: notification message delivered"
        return res

    if src == "-" or treatment == "log":
        res.note = f"{etype or 'unknown'} event: logged, nothing to record"
        return res

    is_user = not src.startswith(("g:", "r:"))
    ts = int(event.get("timestamp") or 0)
    if is_user:
        _ensure_friend(state, res, event, ctx, ts)

    if treatment == "friend":
        _friend_event(state, res, event, ctx, ts, eid, standby)
        return res

    if etype in ("unsend", "messageEdited"):
        _change_recorded_message(state, res, event, eid, ts)
        return res

    if is_user and not standby and _survey_answer(state, res, event, ctx, eid):
        return res

    mtype = (event.get("message") or {}).get("type") if etype == "message" else None
    if etype == "message" and mtype not in ev.MESSAGE_TYPES:  # also a message event without its message
        res.note = f"message of unknown type {mtype!r}: recorded as event"

    opened = _ensure_session(state, res, event, ctx, ts, eid, is_user)
    session = state["session"]
    session["last_ms"] = ts
    res.upserts.append(Upsert(SESSION, session["key"], {"Last_Message_At__c": sf_datetime(ts)}, eid))
    record = _message_record(event, eid, ts, standby)
    record.fields["Chat_Session__r"] = ref(SESSION, session["key"])
    res.upserts.append(record)
    support_id = _support_id(event, is_user, standby)
    if support_id:
        # A support ID is a credential: only its hash goes on (to the verifying job), never the ID.
        record.fields["Text__c"] = SUPPORT_ID_PLACEHOLDER
        res.signals.append(
            {
                "kind": "support_id",
                "hash": support_id_hash(support_id),
                "channel": ctx.channel_id,
                "user": event["source"]["userId"],
                "session_key": session["key"],
                "event_id": eid,
            }
        )
    if etype == "message":
        _remember(state, record.key, session["key"])
    if etype == "message" and record.fields.get("Type__c") in ev.MEDIA_TYPES:
        msg = event["message"]
        if (msg.get("contentProvider") or {}).get("type", "line") == "line":
            res.content.append(
                {
                    "message_id": str(msg["id"]),
                    "message_key": record.key,
                    "type": msg["type"],
                    "session_key": session["key"],
                    "case_key": session.get("case_key"),
                    "file_name": msg.get("fileName"),
                }
            )

    link_action = _account_link_action(event, ctx, is_user, standby)
    if link_action:
        signal = {"kind": "account_link", "action": link_action, "channel": ctx.channel_id, "event_id": eid}
        signal.update(user=event["source"]["userId"], session_key=session["key"])
        if link_action == AL.LINKED:
            link = event.get("link") or {}
            signal.update(result=str(link.get("result") or ""), nonce_hash=AL.nonce_hash(link.get("nonce") or ""))
        res.signals.append(signal)
    answer = not standby and (is_user or ctx.reply_in_groups) and etype in ("message", "postback")
    answer = answer and not support_id and not link_action
    if answer and ctx.responder is not None and session["status"] == SessionStatus.BOT:
        turn = ctx.responder(state, event, opened)
        if turn is not None:
            if turn.solved is not None and ctx.survey is not None and is_user:
                _close_solved(state, event, ctx, eid, session, turn, ts)
            apply_turn(res, event, eid, session, turn, ts)
    elif answer and opened and etype == "message":
        _reply(res, event, eid, session, [{"type": "text", "text": ctx.text("welcome")}])
    if ctx.ask_support_id and opened and is_user and etype == "message" and not standby and not support_id:
        if not (state.get("friend") or {}).get("verified"):
            _ask_for_support_id(res, event, eid, session, ctx)
    res.note = res.note or f"{etype}: recorded" + (" (standby, not answered)" if standby else "")
    return res


def _ask_for_support_id(res: Result, event: dict, eid: str, session: dict, ctx: Context) -> None:
    """Add "please send your support ID" to this event's answer (or answer with it)."""
    prompt = {"type": "text", "text": ctx.text("support_id_prompt")}
    mine = next((r for r in res.replies if r.key == f"r:{eid}"), None)
    if mine is None:
        _reply(res, event, eid, session, [prompt])
        return
    if len(mine.messages) >= 5:
        return
    key = f"bot:{eid}:{len(mine.messages)}"
    mine.messages.append(prompt)
    mine.record_keys.append(key)
    fields = {
        "Chat_Session__r": ref(SESSION, session["key"]),
        "Direction__c": "Bot",
        "Type__c": "text",
        "Text__c": prompt["text"],
        "Sent_At__c": sf_datetime(int(event.get("timestamp") or 0)),
        "Delivery_Status__c": "Pending",
    }
    res.upserts.append(Upsert(MESSAGE, key, fields, eid))


def apply_turn(res: Result, event: dict, eid: str, session: dict, turn: Turn, ts: int) -> None:
    """Fold a bot Turn into the result: its messages, records, writes, status and signals."""
    if turn.messages:
        _reply(res, event, eid, session, turn.messages, turn.records)
    res.upserts.extend(turn.upserts)
    res.signals.extend(turn.signals)
    if turn.status and turn.status != session["status"]:
        session["status"] = turn.status
        fields = {"Status__c": turn.status}
        if turn.status == SessionStatus.QUEUED:
            fields["Queued_At__c"] = sf_datetime(ts)
        res.upserts.append(Upsert(SESSION, session["key"], fields, eid))
    if turn.note:
        res.note = turn.note


RECENT_MESSAGES = 200  # LINE allows unsend within 24 h; remember where recent messages were recorded


def _remember(state: dict, message_key: str, session_key: str) -> None:
    recent = state.setdefault("recent", [])
    recent.append([message_key, session_key])
    del recent[:-RECENT_MESSAGES]


def _change_recorded_message(state: dict, res: Result, event: dict, eid: str, ts: int) -> None:
    """Unsend clears a message's text; an edit replaces it. Only messages we recorded are touched.

    The write names the message's own session, so it can never create an orphan record or move
    a message; an unsend of a message we never recorded (older than we remember) is only logged.
    """
    if event["type"] == "unsend":
        mid = str((event.get("unsend") or {}).get("messageId") or "")
        fields = {"Text__c": "", "Unsent__c": True, "Unsent_At__c": sf_datetime(ts)}
    else:
        msg = event.get("message") or {}
        mid = str(msg.get("id") or "")
        fields = {"Text__c": ev.render_text(msg)}
    session_key = next((s for k, s in reversed(state.get("recent", [])) if k == mid), None)
    if not session_key:
        res.note = f"{event['type']}: message not recorded here; nothing to change"
        return
    fields["Chat_Session__r"] = ref(SESSION, session_key)
    res.upserts.append(Upsert(MESSAGE, mid, fields, eid))
    res.note = "unsend: message text removed" if event["type"] == "unsend" else "messageEdited: text replaced"


def _ensure_friend(state: dict, res: Result, event: dict, ctx: Context, ts: int) -> None:
    if state.get("friend"):
        return
    uid = ev.user_id(event)
    key = f"{ctx.channel_id}:{uid}"
    profile = ctx.profile or {}
    name = (profile.get("displayName") or "LINE User").strip() or "LINE User"
    state["friend"] = {
        "key": key,
        "user_id": uid,
        "display_name": name,
        "contact_key": key,
        "contact_id": None,
        "status": "Unknown",
    }
    res.upserts.append(Upsert(CONTACT, key, {"LastName": name[:80]}))
    fields = {
        "Name": name[:80],
        "LINE_User_Id__c": uid,
        "Channel_Id__c": ctx.channel_id,
        "Display_Name__c": name[:255],
        "Contact__r": ref(CONTACT, key),
        "Status__c": "Unknown",
    }
    if profile.get("pictureUrl"):
        fields["Picture_URL__c"] = profile["pictureUrl"][:255]
    if profile.get("language"):
        fields["Language__c"] = profile["language"][:16]
    res.upserts.append(Upsert(FRIEND, key, fields))


def _contact_ref(friend: dict) -> dict:
    if friend.get("contact_id"):
        return {"ContactId": friend["contact_id"]}
    return {"Contact": ref(CONTACT, friend["contact_key"])}


def _friend_event(state: dict, res: Result, event: dict, ctx: Context, ts: int, eid: str, standby: bool) -> None:
    friend = state["friend"]
    if event["type"] == "follow":
        friend["status"] = "Following"
        fields = {"Status__c": "Following", "Followed_At__c": sf_datetime(ts)}
        greeting = ctx.text("follow")
        if greeting and not standby and event.get("replyToken"):
            res.replies.append(
                Reply(
                    key=f"r:{eid}",
                    to=friend["user_id"],
                    reply_token=event["replyToken"],
                    event_ms=ts,
                    messages=[{"type": "text", "text": greeting}],
                    record_keys=[],
                )
            )
        res.note = "follow: friend status Following"
    else:
        friend["status"] = "Unfollowed"
        fields = {"Status__c": "Unfollowed", "Unfollowed_At__c": sf_datetime(ts)}
        res.note = "unfollow: friend status Unfollowed"
    res.upserts.append(Upsert(FRIEND, friend["key"], fields, eid))


def _ensure_session(state: dict, res: Result, event: dict, ctx: Context, ts: int, eid: str, is_user: bool) -> bool:
    session = state.get("session")
    if session and session["status"] != SessionStatus.CLOSED:
        return False
    src = ev.source_key(event)
    key = f"{ctx.channel_id}:{src}:{eid}"
    fields = {
        "Channel_Id__c": ctx.channel_id,
        "Status__c": SessionStatus.BOT,
        "Started_At__c": sf_datetime(ts),
        "Source_Type__c": "user" if is_user else ("group" if src.startswith("g:") else "room"),
    }
    case_key = None
    if is_user:
        friend = state["friend"]
        last = state.get("last_case")
        if last and ctx.reopen_window_ms and ts - last["closed_ms"] <= ctx.reopen_window_ms:
            case_key = last["key"]
            res.upserts.append(Upsert(CASE, case_key, {"Status": "New"}, eid))
        else:
            case_key = key
            subject = _subject(event, friend["display_name"], ctx.subject_max_chars)
            res.upserts.append(
                Upsert(
                    CASE,
                    case_key,
                    {
                        "Subject": subject,
                        "Origin": "LINE",
                        "Status": "New",
                        "LINE_Friend__r": ref(FRIEND, friend["key"]),
                        **_contact_ref(friend),
                    },
                    eid,
                )
            )
        fields.update({"Friend__r": ref(FRIEND, friend["key"]), "Case__r": ref(CASE, case_key)})
        if friend.get("contact_id"):
            fields["Contact__c"] = friend["contact_id"]
        else:
            fields["Contact__r"] = ref(CONTACT, friend["contact_key"])
    else:
        fields["Group_Id__c"] = src[2:]
    state["session"] = {"key": key, "status": SessionStatus.BOT, "case_key": case_key, "started_ms": ts, "last_ms": ts}
    res.upserts.append(Upsert(SESSION, key, fields, eid))
    return True


def _subject(event: dict, display_name: str, max_chars: int) -> str:
    msg = event.get("message") or {}
    text = " ".join((ev.render_text(msg) if msg.get("type") == "text" else "").split())
    base = f"LINE: {text}" if text else f"LINE inquiry from {display_name}"
    return base if len(base) <= max_chars else base[: max_chars - 1] + "…"


SUPPORT_ID_PLACEHOLDER = "[support ID]"


def _account_link_action(event: dict, ctx: Context, is_user: bool, standby: bool) -> str | None:
    """OFFER/UNLINK for a keyword a customer wrote, LINKED for LINE's accountLink event, else None."""
    if not is_user or standby or (event.get("source") or {}).get("type") != "user":
        return None
    if event.get("type") == "accountLink":
        return AL.LINKED
    msg = event.get("message") or {}
    if ctx.account_link_words is None or event.get("type") != "message" or msg.get("type") != "text":
        return None
    return AL.keyword_action(str(msg.get("text") or ""), *ctx.account_link_words)


def _support_id(event: dict, is_user: bool, standby: bool) -> str | None:
    """The support ID a customer sent as a whole text message (1:1 chat, active), if any."""
    msg = event.get("message") or {}
    if event.get("type") != "message" or msg.get("type") != "text" or not is_user or standby:
        return None
    if (event.get("source") or {}).get("type") != "user":
        return None
    return normalise_support_id(str(msg.get("text") or ""))


def _message_record(event: dict, eid: str, ts: int, standby: bool) -> Upsert:
    etype = event.get("type", "")
    fields: dict = {
        "Webhook_Event_Id__c": eid[:32],
        "Direction__c": "Inbound",
        "Sent_At__c": sf_datetime(ts),
        "Delivery_Status__c": "Received",
        "Standby__c": standby,
    }
    if etype != "message":
        fields["Type__c"] = etype if etype in _RECORDED_TYPES else "event"
        fields["Direction__c"] = "System" if etype in ("join", "leave", "memberJoined", "memberLeft") else "Inbound"
        if etype == "postback":
            pb = event.get("postback") or {}
            fields["Postback_Data__c"] = (pb.get("data") or "")[:300]
            params = pb.get("params") or {}
            fields["Text__c"] = " ".join(f"{k}={v}" for k, v in params.items()) if params else ""
        elif etype == "beacon":
            b = event.get("beacon") or {}
            fields["Text__c"] = f"beacon {b.get('type', '')} hwid={b.get('hwid', '')}"
        elif etype == "videoPlayComplete":
            fields["Text__c"] = f"video played: {(event.get('videoPlayComplete') or {}).get('trackingId', '')}"
        elif etype in ("memberJoined", "memberLeft"):
            members = (event.get("joined") or event.get("left") or {}).get("members") or []
            fields["Text__c"] = ", ".join(m.get("userId", "") for m in members)
        elif etype == "accountLink":
            link = event.get("link") or {}
            fields["Text__c"] = f"account link {link.get('result', '')}"
        elif etype == "membership":
            m = event.get("membership") or {}
            fields["Text__c"] = f"membership {m.get('type', '')} {m.get('membershipId', '')}"
        return Upsert(MESSAGE, f"ev:{eid}", fields, eid)

    msg = event.get("message") or {}
    mtype = msg.get("type", "")
    fields["Type__c"] = mtype if mtype in ev.MESSAGE_TYPES else "event"
    fields["LINE_Message_Id__c"] = str(msg.get("id", ""))[:64]
    if msg.get("quotedMessageId"):
        fields["Quoted_Message_Key__c"] = str(msg["quotedMessageId"])[:80]
    if mtype == "text":
        fields["Text__c"] = ev.render_text(msg)
    elif mtype == "sticker":
        fields.update(
            {
                "Sticker_Package_Id__c": str(msg.get("packageId", "")),
                "Sticker_Id__c": str(msg.get("stickerId", "")),
                "Preview_URL__c": ev.STICKER_PREVIEW.format(id=msg.get("stickerId", "")),
            }
        )
        keywords = msg.get("keywords") or []
        if keywords:
            fields["Sticker_Keywords__c"] = ", ".join(keywords)[:255]
        if msg.get("text"):
            fields["Text__c"] = msg["text"]
    elif mtype == "location":
        fields.update(
            {
                "Location_Title__c": (msg.get("title") or "")[:255],
                "Location_Address__c": (msg.get("address") or "")[:255],
                "Latitude__c": msg.get("latitude"),
                "Longitude__c": msg.get("longitude"),
            }
        )
    elif mtype in ev.MEDIA_TYPES:
        provider = msg.get("contentProvider") or {}
        if provider.get("type") == "external":
            fields["Preview_URL__c"] = (provider.get("previewImageUrl") or provider.get("originalContentUrl") or "")[
                :255
            ]
            fields["Content_Status__c"] = "Stored"
        else:
            fields["Content_Status__c"] = "Pending"
        if msg.get("fileName"):
            fields["File_Name__c"] = msg["fileName"][:255]
        if msg.get("fileSize") is not None:
            fields["File_Size__c"] = msg["fileSize"]
        if msg.get("duration") is not None:
            fields["Duration_Ms__c"] = msg["duration"]
    key = str(msg.get("id") or f"ev:{eid}")
    return Upsert(MESSAGE, key, fields, eid)


_RECORDED_TYPES = {
    "postback",
    "join",
    "leave",
    "memberJoined",
    "memberLeft",
    "accountLink",
    "beacon",
    "videoPlayComplete",
    "membership",
}


def _reply(
    res: Result, event: dict, eid: str, session: dict, messages: list[dict], records: list[dict] | None = None
) -> None:
    """Answer the event (max 5 LINE messages), recording each bot message as a message record."""
    src = event.get("source") or {}
    to = src.get("groupId") or src.get("roomId") or src.get("userId")
    messages = messages[:5]
    keys = [f"bot:{eid}:{i}" for i in range(len(messages))]
    ts = int(event.get("timestamp") or 0)
    for i, (k, msg) in enumerate(zip(keys, messages)):
        fields = {
            "Chat_Session__r": ref(SESSION, session["key"]),
            "Direction__c": "Bot",
            "Type__c": msg.get("type", "text"),
            "Text__c": msg.get("text") or msg.get("altText") or "",
            "Sent_At__c": sf_datetime(ts),
            "Delivery_Status__c": "Pending",
        }
        if msg.get("type") == "sticker":
            fields.update(
                {"Sticker_Package_Id__c": str(msg.get("packageId", "")), "Sticker_Id__c": str(msg.get("stickerId", ""))}
            )
        if records and i < len(records):
            fields.update(records[i])
        res.upserts.append(Upsert(MESSAGE, k, fields, eid))
    res.replies.append(
        Reply(
            key=f"r:{eid}", to=to, reply_token=event.get("replyToken"), event_ms=ts, messages=messages, record_keys=keys
        )
    )


VERIFIED_BY = {"Support_ID", "Account_Link"}  # LINE_Friend__c.Verified_By__c


def _identity_linked(state: dict, event: dict, ctx: Context) -> Result:
    """The customer proved who they are (support id, account link): use their existing Contact.

    The friend record points at the verified Contact from now on, and so do later Cases and
    sessions; the open session and its Case are moved to it too.
    """
    res = Result(state=state)
    eid = ev.event_id(event)
    contact_id = (event.get("data") or {}).get("contact_id")
    friend = state.get("friend")
    if not friend or not contact_id:
        res.note = "identity.linked: no friend or contact id; ignored"
        return res
    friend["contact_id"] = contact_id
    data = event.get("data") or {}
    friend["entitled"] = bool(data.get("entitled"))  # e.g. an annual-plan customer
    friend["verified"] = True
    fields = {"Contact__c": contact_id, "Verified__c": True}
    if data.get("by") in VERIFIED_BY:  # how the customer proved it (the console shows it, with when)
        fields.update(Verified_By__c=data["by"], Verified_At__c=sf_datetime(int(event.get("timestamp") or 0)))
    res.upserts.append(Upsert(FRIEND, friend["key"], fields, eid))
    session = state.get("session")
    if session and session["status"] != SessionStatus.CLOSED:
        res.upserts.append(Upsert(SESSION, session["key"], {"Contact__c": contact_id}, eid))
        if session.get("case_key"):
            res.upserts.append(Upsert(CASE, session["case_key"], {"ContactId": contact_id}, eid))
    res.note = "identity.linked: friend linked to a verified Contact"
    return res


def _survey_answer(state: dict, res: Result, event: dict, ctx: Context, eid: str) -> bool:
    """A survey answer (score, skip or the comment) is applied to the closed session's survey and
    opens no new session. Returns whether the event was one."""
    survey = state.get("survey") or {}
    if sv.is_answer(event):
        outcome = sv.answer(state, event, ctx.survey, ctx.text, eid)
    elif sv.awaits_comment(state, event, ctx.survey) and (state.get("session") or {}).get("status") in (
        None,
        SessionStatus.CLOSED,
    ):
        outcome = sv.comment(state, event, ctx.text, eid, ev.render_text(event["message"]))
    else:
        if survey.get("step") == "comment" and event.get("type") == "message":
            survey["step"] = "done"  # the customer moved on: a later text is a new inquiry, not the comment
        return False
    res.upserts.extend(outcome.upserts)
    if outcome.messages:
        _reply(res, event, eid, {"key": survey["session_key"]}, outcome.messages)
    res.note = outcome.note
    return True


def _close_solved(state: dict, event: dict, ctx: Context, eid: str, session: dict, turn: Turn, ts: int) -> None:
    """The customer tapped 「解決した」 with the survey on: the session closes, the survey follows."""
    turn.status = SessionStatus.CLOSED
    turn.upserts.append(
        Upsert(SESSION, session["key"], {"Closed_At__c": sf_datetime(ts), "Close_Reason__c": "Solved by the bot"}, eid)
    )
    if session.get("case_key"):
        state["last_case"] = {"key": session["case_key"], "closed_ms": ts}
    messages, upserts, note = sv.offer(
        state, session, closed_ms=ts, now_ms=ts, rules=ctx.survey, text=ctx.text, eid=eid, bot_answer=turn.solved
    )
    turn.messages = turn.messages[:4] + messages
    turn.upserts.extend(upserts)
    turn.note = f"{turn.note}; session closed" + (f"; {note}" if note else "")


def _identity_unlinked(state: dict, event: dict, ctx: Context) -> Result:
    """The customer unlinked their LINE account from the company's account: no longer verified or
    entitled (the friend keeps its Contact and history)."""
    res = Result(state=state)
    friend = state.get("friend")
    if not friend:
        res.note = "identity.unlinked: no friend; ignored"
        return res
    friend["entitled"] = False
    friend["verified"] = False
    fields = {"Verified__c": False, "Verified_By__c": None, "Verified_At__c": None}
    res.upserts.append(Upsert(FRIEND, friend["key"], fields, ev.event_id(event)))
    res.note = "identity.unlinked: friend no longer verified"
    return res


def internal_handler(name: str) -> Callable[[dict, dict, Context], Result] | None:
    """The handler of the relay's own event `name`: (state, event, ctx) -> Result, or None."""
    from connector.domain import operator  # operator's handlers build on this module's types

    return {**operator.HANDLERS, "identity.linked": _identity_linked, "identity.unlinked": _identity_unlinked}.get(name)
