"""The satisfaction survey after a chat (pure: no I/O, no clock; times come from the events).

When a session closes (an operator closes it, or the customer taps the bot's 「解決した」 while
the survey is on), `offer` adds one survey message with quick replies for the score. The
customer's answer is a postback; then, if configured, their next text message is an optional
comment (or they tap "skip"); a thank-you ends it. The survey lives in `state["survey"]`:

    {session_key, case_key, closed_ms, bot_only, article, question, step, score}
    step: "score" (sent, waiting for the score), "comment" (waiting for the comment), "done"

Rules (tests/domain/test_survey.py):
* once per closed session: a session that already had its survey gets none again;
* not sent to a friend who unfollowed or blocked the account (LINE reports both as unfollow);
* not sent when the close is applied later than the window after the session closed;
* an answer after the window is recorded, marked late;
* a second answer changes nothing (no write, no reply);
* an unsatisfied score (at or below the configured score; "unsatisfied" on the three-point
  scale) sets `Survey_Unsatisfied__c` on the session and the Case, for review;
* an unsatisfied bot-only session becomes a learning-loop candidate: the customer's question
  and the article the bot answered with, as a question example with source "Unsatisfied".

Postback data: `survey:score:<n>:<session key>` and `survey:skip:<session key>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from connector.domain.records import CASE, EXAMPLE, MESSAGE, SESSION, Upsert, ref, sf_datetime

PREFIX = "survey:"
FIVE_POINT, THREE_POINT = "five_point", "three_point"
UNSATISFIED = "Unsatisfied"  # LINE_Question_Example__c.Source__c
COMMENT_MAX = 1000  # Survey_Comment__c


@dataclass(frozen=True)
class SurveyRules:
    """A channel's survey (config `line.channels[].survey`, or LINE_Survey_Setting__mdt)."""

    scale: str = FIVE_POINT
    window_ms: int = 24 * 3600 * 1000
    ask_comment: bool = True
    unsatisfied_at_or_below: int = 2

    @property
    def scores(self) -> list[int]:
        """The scores offered, best first."""
        return [5, 4, 3, 2, 1] if self.scale == FIVE_POINT else [3, 2, 1]

    def unsatisfied(self, score: int) -> bool:
        return score <= 1 if self.scale == THREE_POINT else score <= self.unsatisfied_at_or_below


def is_answer(event: dict) -> bool:
    """Whether the event is a survey answer (a postback of the survey's quick replies)."""
    pb = event.get("postback") if event.get("type") == "postback" else None
    return isinstance(pb, dict) and str(pb.get("data") or "").startswith(PREFIX)


def awaits_comment(state: dict, event: dict, rules: SurveyRules | None) -> bool:
    """Whether this customer text is the survey's optional comment (asked for, within the window)."""
    survey = state.get("survey") or {}
    msg = event.get("message") if event.get("type") == "message" else None
    return (
        rules is not None
        and survey.get("step") == "comment"
        and isinstance(msg, dict)
        and msg.get("type") == "text"
        and int(event.get("timestamp") or 0) - int(survey.get("closed_ms") or 0) <= rules.window_ms
    )


def offer(
    state: dict,
    session: dict,
    *,
    closed_ms: int,
    now_ms: int,
    rules: SurveyRules | None,
    text,
    eid: str,
    bot_answer: dict | None = None,
) -> tuple[list[dict], list[Upsert], str]:
    """The survey for the session that just closed: (LINE messages, writes, note). Empty when
    the survey is off, already sent for this session, the friend unfollowed or blocked, the
    conversation is not with one user, or the window has passed."""
    friend = state.get("friend") or {}
    if rules is None:
        return [], [], ""
    if not friend or not session.get("case_key"):
        return [], [], "survey: not a one-to-one chat; not sent"
    if (state.get("survey") or {}).get("session_key") == session["key"]:
        return [], [], "survey: already sent for this session"
    if friend.get("status") == "Unfollowed":
        return [], [], "survey: friend unfollowed or blocked; not sent"
    if now_ms - closed_ms > rules.window_ms:
        return [], [], "survey: window passed; not sent"
    state["survey"] = {
        "session_key": session["key"],
        "case_key": session["case_key"],
        "closed_ms": closed_ms,
        "bot_only": not session.get("operator_id") and not session.get("had_operator"),
        "article": (bot_answer or {}).get("article"),
        "question": (bot_answer or {}).get("question"),
        "step": "score",
    }
    labels = {3: text("survey_label_satisfied"), 2: text("survey_label_neutral"), 1: text("survey_label_unsatisfied")}
    items = [
        _quick_reply(str(n) if rules.scale == FIVE_POINT else labels[n], f"{PREFIX}score:{n}:{session['key']}")
        for n in rules.scores
    ]
    question = text("survey_question" if rules.scale == FIVE_POINT else "survey_question_three")
    message = {"type": "text", "text": question, "quickReply": {"items": items}}
    upserts = [Upsert(SESSION, session["key"], {"Survey_Sent_At__c": sf_datetime(now_ms)}, eid)]
    return [message], upserts, "survey sent"


@dataclass
class Answer:
    """What a survey answer does: writes, LINE messages (answered with the event's reply token)."""

    upserts: list[Upsert]
    messages: list[dict]
    note: str


def answer(state: dict, event: dict, rules: SurveyRules | None, text, eid: str) -> Answer:
    """Apply a survey postback (score or skip) to `state["survey"]`."""
    data = str((event.get("postback") or {}).get("data") or "")
    verb, _, rest = data[len(PREFIX) :].partition(":")
    survey = state.get("survey") or {}
    ts = int(event.get("timestamp") or 0)
    if verb == "score":
        raw, _, session_key = rest.partition(":")
        score = int(raw) if raw.isdigit() else 0
    else:
        session_key, score = rest, 0
    if not survey or survey.get("session_key") != session_key:
        return Answer([], [], "survey: answer for a survey not sent here; ignored")
    if rules is None:
        rules = SurveyRules()
    if verb == "skip":
        if survey.get("step") != "comment":
            return Answer([], [], "survey: skip when no comment is asked; nothing changes")
        survey["step"] = "done"
        return Answer([], [_text(text("survey_thanks"))], "survey: comment skipped")
    if verb != "score" or score not in rules.scores:
        return Answer([], [], "survey: unknown answer; ignored")
    if survey.get("step") != "score":
        return Answer([], [], "survey: already answered; a second answer changes nothing")
    late = ts - int(survey.get("closed_ms") or 0) > rules.window_ms
    unsatisfied = rules.unsatisfied(score)
    survey["score"] = score
    survey["step"] = "comment" if rules.ask_comment and not late else "done"
    fields = {
        "Survey_Score__c": score,
        "Survey_Answered_At__c": sf_datetime(ts),
        "Survey_Late__c": late,
        "Survey_Unsatisfied__c": unsatisfied,
    }
    upserts = [
        Upsert(SESSION, session_key, fields, eid),
        Upsert(
            CASE,
            survey["case_key"],
            {"LINE_Survey_Score__c": score, "LINE_Survey_Unsatisfied__c": unsatisfied},
            eid,
        ),
        _inbound(session_key, f"ev:{eid}", event, str(score), eid),
    ]
    if unsatisfied and survey.get("bot_only") and survey.get("article") and survey.get("question"):
        upserts.append(_candidate(survey))
    if survey["step"] == "comment":
        message = _text(text("survey_comment"))
        message["quickReply"] = {"items": [_quick_reply(text("survey_label_skip"), f"{PREFIX}skip:{session_key}")]}
    else:
        message = _text(text("survey_thanks"))
    note = f"survey: score {score}" + (" (late)" if late else "") + (", unsatisfied" if unsatisfied else "")
    return Answer(upserts, [message], note)


def comment(state: dict, event: dict, text, eid: str, comment_text: str) -> Answer:
    """The customer's free comment after the score (see `awaits_comment`)."""
    survey = state["survey"]
    survey["step"] = "done"
    session_key = survey["session_key"]
    clipped = comment_text[:COMMENT_MAX]
    msg = event.get("message") or {}
    upserts = [
        Upsert(SESSION, session_key, {"Survey_Comment__c": clipped}, eid),
        Upsert(CASE, survey["case_key"], {"LINE_Survey_Comment__c": clipped}, eid),
        _inbound(session_key, str(msg.get("id") or f"ev:{eid}"), event, comment_text, eid),
    ]
    return Answer(upserts, [_text(text("survey_thanks"))], "survey: comment recorded")


def _inbound(session_key: str, key: str, event: dict, text: str, eid: str) -> Upsert:
    """The customer's answer in the closed session's transcript."""
    ts = int(event.get("timestamp") or 0)
    fields = {
        "Chat_Session__r": ref(SESSION, session_key),
        "Direction__c": "Inbound",
        "Type__c": "postback" if event.get("type") == "postback" else "text",
        "Text__c": text,
        "Sent_At__c": sf_datetime(ts),
        "Delivery_Status__c": "Received",
        "Webhook_Event_Id__c": eid[:32],
    }
    if event.get("type") == "postback":
        fields["Postback_Data__c"] = str((event.get("postback") or {}).get("data") or "")[:300]
    else:
        fields["LINE_Message_Id__c"] = str((event.get("message") or {}).get("id") or "")[:64]
    return Upsert(MESSAGE, key, fields, eid)


def _candidate(survey: dict) -> Upsert:
    """A learning-loop candidate: the question the bot answered, unsatisfactorily, with the article."""
    key = "unsatisfied:" + hashlib.sha256(f"{survey['session_key']}|{survey['article']}".encode()).hexdigest()[:40]
    return Upsert(
        EXAMPLE,
        key,
        {
            "Question__c": survey["question"],
            "Article_Id__c": str(survey["article"])[:18],
            "Source__c": UNSATISFIED,
            "Status__c": "Candidate",
            "Session_Key__c": survey["session_key"][:120],
            "Case__r": ref(CASE, survey["case_key"]),
        },
    )


def _text(value: str) -> dict:
    return {"type": "text", "text": value}


def _quick_reply(label: str, data: str) -> dict:
    label = " ".join((label or "").split())[:20] or "-"
    return {"type": "action", "action": {"type": "postback", "label": label, "data": data[:300], "displayText": label}}
