"""The auto-reply bot in a conversation: what it says and does, given the answer engine's decision.

Pure (no I/O): the Answerer, business hours, settings, texts and the clock are passed in, so the
same inputs always give the same Turn (a retried drain re-applies an event harmlessly).

A `BotResponder` is a `conversation.Responder`: `(state, event, opened) -> Turn | None`. It is
called for messages and postbacks while the session is with the bot (status "Bot"), and keeps its
counters in `state["session"]["bot"]`:

    misses      unsuccessful attempts in a row (no match, "none of these", "not solved")
    last        {"article", "question"[, "via": "clarify"]}: the last answer and the customer's
                message it answered ("via": the customer chose it from a clarify menu)
    clarify     the message a clarifying choice was offered for
    offered     the article ids that clarify menu offered, best first
    follow_up   True once a handoff happened outside hours (the Case is marked for follow-up)

Postback data of the bot's quick replies (all start with "bot:"; other postbacks return None):

    bot:solved:<articleId>    bot:unsolved:<articleId>    bot:human
    bot:article:<articleId>   (a clarifying choice or a related article)    bot:none

Learning loop (docs/bot.md): the bot writes question-example candidates (LINE_Question_Example__c)
an admin reviews. A choice from a clarify menu is one (Source "Clarify": the customer's own words
and the article they picked); "not solved" on an answer is one (Source "Unsolved"), and "not
solved" on an answer chosen from a menu turns that menu's candidate into an Unsolved one (same
record) rather than adding a second record that contradicts it. A related article tapped under an
answer writes none (browsing is not a label), but the customer's question carries over to it.

Queue relief (domain/queue_relief.py): a handoff while operators are available may still stay with
the bot, when the expected wait is over the configured limit or the customer is not entitled to
operator chat; the bot says so (texts bot_relief_*) and marks the Case for follow-up.

Non-text messages (stickers, images, files, locations...) get a gentle text asking to type the
question, with the "talk to a person" quick reply; they are not counted as unsuccessful. Images
sent for identity checks are recorded (and stored as files) as usual either way.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from connector.domain import events as ev
from connector.domain.business_hours import BusinessHours
from connector.domain.conversation import Turn
from connector.domain.knowledge import (
    ANSWER,
    CLARIFY,
    GREETING,
    HANDOFF_REQUEST,
    Answerer,
    Article,
    Decision,
    short_answer,
)
from connector.domain.queue_relief import NOT_ENTITLED, WAIT_OVER_LIMIT, ReliefRules, relieve
from connector.domain.records import CASE, EXAMPLE, KEY_FIELDS, SessionStatus, Upsert, ref, sf_datetime

log = logging.getLogger(__name__)

# Question-example candidates an admin reviews (sfdc_metadata: LINE_Question_Example__c).
EXAMPLE_KEY = KEY_FIELDS[EXAMPLE]

PREFIX = "bot:"
RELATED_MIN_RATIO = 0.6  # a related article's match score is at least this share of the answer's
LABEL_MAX = 20  # LINE quick reply label
TEXT_MAX = 5000  # LINE text message (UTF-16 units)
QUESTION_MAX = 5000

# Case.LINE_Handoff_Reason__c values
REQUESTED, UNSOLVED, NO_MATCH = "Requested", "Unsolved", "No Match"
# LINE_Question_Example__c.Source__c of a choice from a clarify menu (UNSOLVED is a Source too)
CHOSEN = "Clarify"
VIA_CLARIFY = "clarify"  # bot["last"]["via"] of an answer chosen from a clarify menu


class BotResponder:
    """See the module docstring. `settings` is a channel's `bot:` section (config.BotSettings)."""

    def __init__(
        self,
        answerer: Answerer,
        hours: BusinessHours,
        settings,
        texts: Callable[..., str],
        now_fn: Callable[[], datetime],
        *,
        language: str = "ja",
        article_url: Callable[[Article], str | None] | None = None,
        relief: ReliefRules | None = None,
        queue_wait: Callable[[], int | None] | None = None,
    ):
        self.answerer = answerer
        self.hours = hours
        self.settings = settings
        self.texts = texts
        self.now_fn = now_fn
        primary = language.split("-")[0].split("_")[0].lower()
        self.hours_language = primary if primary in ("ja", "en") else "en"
        self.article_url = article_url or (lambda a: a.url)
        self.relief = relief  # queue relief (domain/queue_relief.py); None: every handoff is queued
        self.queue_wait = queue_wait or (lambda: None)  # expected wait (s) of a newcomer, None: nobody

    # -- entry point -----------------------------------------------------------------------------
    def __call__(self, state: dict, event: dict, opened: bool) -> Turn | None:
        session = state["session"]
        bot = session.setdefault("bot", {})
        bot.setdefault("misses", 0)
        friend = state.get("friend") or {}
        ctx = _Ctx(session, bot, event, entitled=bool(friend.get("entitled")), verified=bool(friend.get("verified")))
        etype = event.get("type")
        if etype == "postback":
            postback = event.get("postback")
            data = str(postback.get("data") or "") if isinstance(postback, dict) else ""
            return self._postback(ctx, data) if data.startswith(PREFIX) else None
        msg = event.get("message")
        if etype != "message" or not isinstance(msg, dict):
            return None
        if msg.get("type") != "text":
            return Turn([self._text("bot_non_text", [self._human()])], note=f"bot: non-text ({msg.get('type')})")
        text = ev.render_text(msg)
        decision = self.answerer.decide(text)
        return self._decided(ctx, text, decision)

    # -- decisions -------------------------------------------------------------------------------
    def _decided(self, ctx: "_Ctx", text: str, d: Decision) -> Turn:
        if d.kind == HANDOFF_REQUEST:
            return self._handoff(ctx, REQUESTED, "words")
        if d.kind == GREETING:
            return Turn([self._text("bot_greeting")], note="bot: greeting")
        if d.kind == ANSWER and d.article is not None:
            return self._answer(ctx, d.article, text, d, f"conf {d.confidence:.2f}")
        if d.kind == CLARIFY and d.candidates:
            ctx.bot["clarify"] = text[:QUESTION_MAX]
            # Remembered so that only a tap on this menu counts as a choice for these words (an
            # older related-article button is not one).
            ctx.bot["offered"] = [c.article_id for c in d.candidates[:3]]
            items = [self._qr(_label(c.title), f"{PREFIX}article:{c.article_id}", c.title) for c in d.candidates[:3]]
            items += [self._qr(self.texts("bot_label_none"), f"{PREFIX}none"), self._human()]
            return Turn(
                [self._text("bot_clarify", items)],
                note=f"bot: clarify {len(d.candidates[:3])} candidates, conf {d.confidence:.2f}",
            )
        return self._miss(ctx, "bot_no_match", f"no match, conf {d.confidence:.2f}")

    def _postback(self, ctx: "_Ctx", data: str) -> Turn | None:
        verb, _, arg = data[len(PREFIX) :].partition(":")
        bot = ctx.bot
        if verb == "human":
            return self._handoff(ctx, REQUESTED, "postback")
        if verb == "solved":
            bot["misses"] = 0
            last = bot.pop("last", None) or {}
            solved = {"article": arg or last.get("article"), "question": last.get("question")}
            return Turn([self._text("bot_solved")], note=f"bot: solved {arg}", solved=solved)
        if verb == "unsolved":
            last = bot.pop("last", None) or {}
            upserts = []
            if arg and last.get("article") == arg and last.get("question"):
                # After a menu choice this rewrites that choice's candidate (its key) as Unsolved:
                # the admin sees one record for these words and this article, with the last word.
                origin = VIA_CLARIFY if last.get("via") == VIA_CLARIFY else "unsolved"
                upserts.append(self._example(ctx, arg, last["question"], UNSOLVED, origin))
            if self.settings.unsolved_hands_off:
                turn = self._handoff(ctx, UNSOLVED, f"not solved {arg}")
            else:
                turn = self._miss(ctx, "bot_unsolved", f"not solved {arg}", reason=UNSOLVED)
            turn.upserts[:0] = upserts
            return turn
        if verb == "article":
            article = self.answerer.index.get(arg) if arg else None
            question, offered = bot.pop("clarify", None), bot.pop("offered", None)
            if article is None:
                return self._miss(ctx, "bot_no_match", f"article {arg} no longer published")
            # `offered` is None for a menu shown before it was remembered (sessions of an older release).
            if question and (offered is None or arg in offered):
                turn = self._answer(ctx, article, question, None, "chosen from the menu", via=VIA_CLARIFY)
                # Recorded like an answer (the article on the bot's message) and, being the
                # customer's own pick for their own words, a candidate example for that article.
                turn.upserts.append(self._example(ctx, article.id, question, CHOSEN, VIA_CLARIFY))
                return turn
            # A related article under an answer: it answers the same message, so "not solved" on it
            # records the customer's words, not the article's title.
            question = (bot.get("last") or {}).get("question") or article.title
            return self._answer(ctx, article, question, None, "related")
        if verb == "none":
            bot.pop("clarify", None)
            bot.pop("offered", None)
            return self._miss(ctx, "bot_unsolved", "none of the choices")
        return None

    # -- turns -----------------------------------------------------------------------------------
    def _answer(
        self, ctx: "_Ctx", article: Article, question: str, d: Decision | None, why: str, via: str | None = None
    ) -> Turn:
        if article.verified_only and not ctx.verified:  # the article asks who the customer is first
            return Turn(
                [self._text("support_id_required", [self._human()])],
                note=f"bot: {article.id} is for verified customers; asked for a support ID",
            )
        text = short_answer(article, max_chars=self.settings.max_answer_chars, url=self.article_url(article))
        text = _clip(text or article.title or article.id)
        items = [
            self._qr(self.texts("bot_label_solved"), f"{PREFIX}solved:{article.id}"),
            self._qr(self.texts("bot_label_unsolved"), f"{PREFIX}unsolved:{article.id}"),
            self._human(),
        ]
        if d is not None and d.candidates and self.settings.related_articles:
            top = d.candidates[0].score or 0.0
            related = [c for c in d.candidates if c.article_id != article.id and c.score >= top * RELATED_MIN_RATIO][
                : self.settings.related_articles
            ]
            items += [self._qr(_label(c.title), f"{PREFIX}article:{c.article_id}", c.title) for c in related]
        ctx.bot["last"] = {"article": article.id, "question": question[:QUESTION_MAX]}
        if via:
            ctx.bot["last"]["via"] = via
        ctx.bot.pop("clarify", None)
        ctx.bot.pop("offered", None)
        return Turn(
            [{"type": "text", "text": text, "quickReply": {"items": items}}],
            records=[{"Knowledge_Article_Id__c": article.id[:18]}],
            note=f"bot: answer {article.id} ({why})",
        )

    def _miss(self, ctx: "_Ctx", text_key: str, why: str, reason: str = NO_MATCH) -> Turn:
        ctx.bot["misses"] = int(ctx.bot.get("misses", 0)) + 1
        if ctx.bot["misses"] >= self.settings.max_unsuccessful:
            return self._handoff(ctx, reason, f"{why}; {ctx.bot['misses']} unsuccessful")
        return Turn([self._text(text_key, [self._human()])], note=f"bot: {why} ({ctx.bot['misses']} unsuccessful)")

    def _handoff(self, ctx: "_Ctx", reason: str, why: str) -> Turn:
        """To the operators' queue when they are available; otherwise say when, mark the Case, keep answering."""
        now = self.now_fn()
        session, bot = ctx.session, ctx.bot
        bot["misses"] = 0
        bot.pop("last", None)
        bot.pop("clarify", None)
        bot.pop("offered", None)
        available = not self.settings.bot_only and self.hours.is_open(now)
        case_fields = {"LINE_Handoff_Reason__c": reason, "LINE_Handoff_At__c": sf_datetime(ctx.ts)}
        if not available:
            case_fields["LINE_Follow_Up__c"] = True
            bot["follow_up"] = True
        case_key = session.get("case_key")
        upserts = [Upsert(CASE, case_key, case_fields, ctx.eid)] if case_key else []
        relieved = relieve(self.relief, ctx.entitled, self.queue_wait) if available else None
        if relieved is not None:
            return self._relieved(ctx, relieved, case_key, reason, why)
        if available:
            return Turn(
                [self._text("bot_handoff")],
                upserts=upserts,
                status=SessionStatus.QUEUED,
                signals=[
                    {
                        "kind": "queued",
                        "session_key": session["key"],
                        "case_key": case_key,
                        "priority": 0,
                        "entitled": ctx.entitled,
                        "reason": reason,
                    }
                ],
                note=f"bot: handoff to the queue ({why})",
            )
        if self.settings.bot_only:
            message = self._text("bot_handoff_bot_only")
        else:
            opening = self.hours.describe_next_opening(now, self.hours_language)
            message = {"type": "text", "text": _clip(self.texts("bot_handoff_closed", next_opening=opening))}
        return Turn([message], upserts=upserts, note=f"bot: handoff outside hours, Case marked for follow-up ({why})")

    def _relieved(self, ctx: "_Ctx", relieved, case_key, reason: str, why: str) -> Turn:
        """Queue relief: the bot keeps the chat, says why, and the Case is marked for follow-up."""
        kind, wait_s = relieved
        ctx.bot["follow_up"] = True
        fields = {
            "LINE_Handoff_Reason__c": reason,
            "LINE_Handoff_At__c": sf_datetime(ctx.ts),
            "LINE_Follow_Up__c": True,
        }
        upserts = [Upsert(CASE, case_key, fields, ctx.eid)] if case_key else []
        if kind == WAIT_OVER_LIMIT:
            text = self.texts("bot_relief_wait", minutes=max(1, -(-int(wait_s) // 60)))
        else:
            text = self.texts("bot_relief_not_entitled" if kind == NOT_ENTITLED else "bot_relief_no_operator")
        return Turn(
            [{"type": "text", "text": _clip(text)}],
            upserts=upserts,
            note=f"bot: handoff kept by queue relief ({kind}), Case marked for follow-up ({why})",
        )

    def _example(self, ctx: "_Ctx", article_id: str, question: str, source: str, origin: str) -> Upsert:
        """A question-example candidate: the customer's words and an article.

        `source` is the signal (Unsolved: the article did not answer them; Clarify: the customer
        picked it from a menu for them); `origin` names the key ("unsolved:" or "clarify:").
        """
        session_key = ctx.session["key"]
        key = f"{origin}:" + hashlib.sha256(f"{session_key}|{article_id}|{question}".encode()).hexdigest()[:40]
        article = self.answerer.index.get(article_id)
        fields = {
            "Question__c": question,
            "Article_Id__c": article_id[:18],
            "Source__c": source,
            "Status__c": "Candidate",
            "Session_Key__c": session_key[:120],
        }
        if article is not None:
            fields["Article_Title__c"] = article.title[:255]
        if ctx.session.get("case_key"):
            fields["Case__r"] = ref(CASE, ctx.session["case_key"])
        # The key covers session, article and the exact question, so a retry of this very event
        # writes the same record (before an admin could have reviewed it), and so does the same
        # choice for the same words later in the session (one record, not a pile of duplicates).
        return Upsert(EXAMPLE, key, fields, ctx.eid)

    # -- LINE message helpers ------------------------------------------------------------------
    def _text(self, key: str, items: list[dict] | None = None) -> dict:
        msg = {"type": "text", "text": _clip(self.texts(key))}
        if items:
            msg["quickReply"] = {"items": items[:13]}
        return msg

    def _human(self) -> dict:
        return self._qr(self.texts("bot_label_human"), f"{PREFIX}human")

    @staticmethod
    def _qr(label: str, data: str, display: str | None = None) -> dict:
        label = _label(label)
        return {
            "type": "action",
            "action": {
                "type": "postback",
                "label": label,
                "data": data[:300],
                "displayText": _clip(display or label, 300),
            },
        }


class _Ctx:
    def __init__(self, session: dict, bot: dict, event: dict, entitled: bool = False, verified: bool = False):
        self.session = session
        self.bot = bot
        self.entitled = entitled
        self.verified = verified
        self.eid = ev.event_id(event)
        self.ts = int(event.get("timestamp") or 0)


def make_responder(answerer: Answerer, hours: BusinessHours, settings, texts, now_fn, **kw) -> BotResponder:
    return BotResponder(answerer, hours, settings, texts, now_fn, **kw)


def _label(text: str) -> str:
    text = " ".join((text or "").split()) or "-"
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _clip(text: str, limit: int = TEXT_MAX) -> str:
    """At most `limit` UTF-16 code units (LINE counts those), never splitting a surrogate pair."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    out, units = [], 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if units + n > limit - 1:
            break
        out.append(ch)
        units += n
    return "".join(out) + "…"
