"""Drain: apply queued LINE events to Salesforce and answer on LINE, in order, exactly once.

One drain job claims every ready conversation it can (up to `batch_max_events` events), so a
backlog turns into few, large Salesforce calls while a quiet system answers each event at once.
In a backlog, one batch's Salesforce write overlaps the next batch's LINE calls (`Drainer.run`).
See store.py for the ordering and locking, conversation.py for what each event means.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.domain import conversation
from connector.domain import events as ev
from connector.domain.records import SessionStatus, merge
from connector.gateways.errors import GatewayError, RateLimited
from connector.jobs import FETCH_CONTENT, bot, delivery, enqueue, enqueue_drains, job_id
from connector.jobs.signals import dispatch as dispatch_signals
from connector.runtime import Runtime, get_runtime
from connector.storage.store import Claimed, Outcome

log = logging.getLogger(__name__)


def drain() -> int:
    """RQ entry point: drain until nothing is claimable. Returns the number of events applied."""
    rt = get_runtime()
    rt.store.drain_started()
    return Drainer(rt).run()


@dataclass
class Step:
    raw: bytes
    entry: dict
    eid: str
    result: conversation.Result | None = None
    error: str | None = None  # the domain could not apply it (a bug or bad data): dead letter


@dataclass
class Plan:
    claimed: Claimed
    steps: list[Step] = field(default_factory=list)


class Drainer:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.qs = rt.settings.queue
        # Until when this drainer's own last write was told to wait (REQUEST_LIMIT_EXCEEDED): the
        # batch answered on LINE meanwhile is not written before then. Other workers' pauses are
        # seen in Redis before each claim (run).
        self._paused_until = 0.0

    def run(self, max_batches: int | None = None) -> int:
        """Drain batch after batch; after half the job timeout, hand over to a fresh job.

        In a backlog (a batch as large as `batch_max_events`) batches overlap by one: while a
        batch's records are written to Salesforce and committed (on the writer thread), the next
        batch is claimed and answered on LINE, so neither waits for the other (burst benchmark:
        docs/benchmarks.md). Still one Salesforce call at a time: a batch is written only once
        the one before it is committed. No conversation is in two batches at once: the first
        holds its lock until its commit, and a claim that finds nothing waits for that commit and
        looks again. A smaller batch is written before the next claim, so that what arrives
        during its write goes out in the next write, not the one after (pipeline benchmark).
        """
        done = batches = 0
        deadline = time.monotonic() + self.qs.job_timeout_seconds / 2
        writing: Future | None = None
        try:
            while max_batches is None or batches < max_batches:
                if self.rt.store.paused_until("salesforce") > time.time():
                    break
                if time.monotonic() > deadline:
                    enqueue_drains(self.rt, 1)
                    break
                token, claimed = self.rt.store.claim(
                    max_events=self.qs.batch_max_events, lock_ms=self.qs.lock_seconds * 1000
                )
                if not claimed:
                    if writing is None:
                        break
                    done += writing.result()  # its conversations may have more events waiting
                    writing = None
                    continue
                backlog = sum(len(c.entries) for c in claimed) >= self.qs.batch_max_events
                plans = self._decide_and_deliver(claimed)
                if writing is not None:
                    done += writing.result()
                    writing = None
                if backlog:  # more is waiting: claim it and answer it on LINE while this is written
                    writing = self.rt.writer_pool.submit(self._finish, token, claimed, plans)
                else:  # what arrives meanwhile is claimed after this write, as one batch
                    done += self._finish(token, claimed, plans)
                batches += 1
        finally:
            if writing is not None:
                done += writing.result()
        return done

    # -- one batch ------------------------------------------------------------------------------
    def _finish(self, token: str, claimed: list[Claimed], plans: list[Plan]) -> int:
        """Write a delivered batch to Salesforce and commit it; returns the events applied."""
        self.rt.store.extend_locks(token, [c.conv for c in claimed], self.qs.lock_seconds * 1000)
        results, failure = self._write([s for p in plans for s in p.steps if s.result])
        outcomes, applied, content, signals = [], 0, [], []
        for plan in plans:
            outcome, n, media, sigs = self._outcome(plan, results, failure)
            outcomes.append(outcome)
            applied += n
            content.extend(media)
            signals.extend(sigs)
        lost = self.rt.store.commit(token, outcomes)
        if lost:
            log.warning("drain: lock lost for %d conversation(s); another worker will redo them", len(lost))
        for channel_id, item in content:
            if outcome_conv_ok(item, lost):
                enqueue(self.rt, FETCH_CONTENT, channel_id, item, key=job_id("content", item["message_key"]))
        dispatch_signals(self.rt, [sig for sig in signals if sig.get("conv") not in lost])
        self.rt.store.count("events_applied", applied)
        return applied

    def _decide_and_deliver(self, claimed: list[Claimed]) -> list[Plan]:
        """The batch's LINE side, pipelined across conversations.

        A new friend's profile is fetched on the LINE pool, and the loading animation is shown
        where the bot will answer; as soon as that is done, the conversation is decided (here,
        one at a time: the domain and the bot are not shared across threads) and its replies go
        back to the pool, in order within the conversation. No conversation waits for the
        slowest profile of the batch.
        """
        pool = self.rt.line_pool
        now = datetime.now(UTC)
        responders: dict[str, object] = {}
        fetches = {pool.submit(self._before_deciding, c): i for i, c in enumerate(claimed)}
        plans: list[Plan | None] = [None] * len(claimed)
        sends = []
        for future in as_completed(fetches):
            i = fetches[future]
            plans[i] = self._decide(claimed[i], future.result(), now, responders)
            steps = [s for s in plans[i].steps if s.result and s.result.replies]
            if steps:
                sends.append(pool.submit(self._deliver_conversation, steps))
        for future in sends:
            future.result()
        return plans

    def _before_deciding(self, c: Claimed) -> dict | None:
        """The LINE side before a conversation is decided: the loading animation where the bot
        will answer, and the profile of a friend not seen before (returned; None otherwise)."""
        last = {}
        for entry in c.entries:  # one animation per user: the last message of the batch covers it
            last[ev.user_id(entry["event"])] = entry
        for entry in last.values():
            try:
                channel = self.rt.config.channel(entry["channel"])
            except KeyError:
                continue
            if bot.wants_loading(channel, entry["event"]) and not _with_operator(c.state):
                bot.show_loading(self.rt, channel, entry["event"])
        return self._new_friend_profile(c)

    def _new_friend_profile(self, c: Claimed) -> dict | None:
        """The LINE profile of a friend this conversation has not seen before (None otherwise)."""
        if (c.state or {}).get("friend"):
            return None
        for entry in c.entries:
            uid = ev.user_id(entry["event"])
            if uid and ev.source_key(entry["event"]) == uid:
                return self._profile(entry["channel"], entry["event"])
        return None

    def _decide(self, c: Claimed, profile: dict | None, now: datetime, responders: dict) -> Plan:
        plan = Plan(c)
        state = c.state
        s = self.rt.settings
        for raw, entry in zip(c.raw, c.entries):
            event = entry["event"]
            eid = ev.event_id(event)
            step = Step(raw, entry, eid)
            try:
                channel = self.rt.config.channel(entry["channel"])
                ctx = conversation.Context(
                    channel_id=channel.id,
                    text=channel.text,
                    profile=profile if not (state or {}).get("friend") else None,
                    reopen_window_ms=s.salesforce.case.reopen_window_minutes * 60_000,
                    subject_max_chars=s.salesforce.case.subject_max_chars,
                    reply_in_groups=channel.settings.reply_in_groups,
                    responder=self._responder(channel, now, responders),
                )
                step.result = conversation.apply(state, event, ctx)
                state = step.result.state
                log.info("event %s %s conv=%s: %s", eid, event.get("type"), _short(c.conv), step.result.note)
            except Exception as exc:
                step.error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("event %s could not be applied; dead-lettered", eid)
            plan.steps.append(step)
        return plan

    def _responder(self, channel, now: datetime, responders: dict):
        """The channel's bot for this batch (its index loaded once per batch), or None."""
        if channel.id not in responders:
            responders[channel.id] = bot.responder(self.rt, channel, now, self.rt.hours_cache)
        return responders[channel.id]

    def _profile(self, channel_id: str, event: dict) -> dict | None:
        uid = ev.user_id(event)
        if not uid or ev.source_key(event) != uid:
            return None
        try:
            return self.rt.line.profile(channel_id, uid)
        except GatewayError as exc:
            log.warning("profile of a new friend unavailable (%s); using a placeholder name", exc)
            return None

    def _deliver_conversation(self, steps: list[Step]) -> None:
        for step in steps:
            for reply in step.result.replies:
                outcome = delivery.deliver_reply(self.rt, step.entry["channel"], reply)
                step.result.upserts += delivery.record_upserts(outcome, reply.record_keys, step.eid)

    def _write(self, steps: list[Step]):
        """Write every step's upserts in as few calls as possible. Returns (per-record results, call failure)."""
        upserts = [u for s in steps for u in s.result.upserts]
        if not upserts:
            return {}, None
        paused = self._paused_until - time.time()
        if paused > 0:  # the batch before this one hit the API limit while this one was on LINE
            return {}, RateLimited("salesforce", "writes paused after REQUEST_LIMIT_EXCEEDED", retry_after=paused)
        try:
            return self.rt.salesforce.upsert_many(merge(upserts)), None
        except GatewayError as exc:
            log.warning("salesforce write failed for %d records: %s", len(upserts), exc)
            if isinstance(exc, RateLimited):
                self._paused_until = time.time() + (exc.retry_after or 60)
                self.rt.store.pause("salesforce", self._paused_until)
            return {}, exc

    def _outcome(self, plan: Plan, results: dict, failure: GatewayError | None):
        """How far this conversation got: the finished prefix, its state, and what to retry."""
        c, store = plan.claimed, self.rt.store
        done, state, media, signals, attempts = 0, None, [], [], c.attempts
        for step in plan.steps:
            if step.error:
                store.dead_letter(step.raw, conv=c.conv, kind="event", error=step.error, attempts=attempts + 1)
                done += 1
                continue
            idents = {u.ident for u in step.result.upserts}
            if failure is not None and idents:
                error, retryable = str(failure), failure.retryable
            else:
                bad = [results.get(i) for i in idents if not (results.get(i) and results[i].ok)]
                error = "; ".join(r.message or "" if r else "no result" for r in bad)[:300] if bad else None
                retryable = any(r is None or r.retryable for r in bad) or _parent_failed(step, results)
            if error is None:
                done += 1
                state = step.result.state
                media.extend((step.entry["channel"], m) for m in step.result.content)
                signals.extend(dict(sig, conv=c.conv, channel=step.entry["channel"]) for sig in step.result.signals)
                continue
            if not retryable or attempts + 1 > len(self.qs.retry_intervals_seconds):
                log.error("event %s dead-lettered after %d attempt(s): %s", step.eid, attempts + 1, error)
                store.dead_letter(step.raw, conv=c.conv, kind="event", error=error, attempts=attempts + 1)
                done += 1
                state = step.result.state
                attempts = 0
                continue
            delay = self._backoff(attempts, failure)
            return Outcome(c.conv, done, state, retry_at=time.time() + delay, failed=True), done, media, signals
        return Outcome(c.conv, done, state), done, media, signals

    def _backoff(self, attempts: int, failure: GatewayError | None) -> float:
        intervals = self.qs.retry_intervals_seconds
        base = intervals[min(attempts, len(intervals) - 1)]
        if isinstance(failure, RateLimited) and failure.retry_after:
            base = max(base, failure.retry_after)
        jitter = self.qs.retry_jitter
        return base * (1 + random.uniform(-jitter, jitter))


def _parent_failed(step: Step, results: dict) -> bool:
    """A child fails when its parent in the same batch failed; that is worth a retry."""
    return any(r is not None and r.parent_missing for r in (results.get(u.ident) for u in step.result.upserts))


def _with_operator(state: dict | None) -> bool:
    """Whether the conversation's session is with people (the bot stays silent then)."""
    session = (state or {}).get("session") or {}
    return session.get("status") not in (SessionStatus.BOT, SessionStatus.CLOSED, None)


def outcome_conv_ok(item: dict, lost: list[str]) -> bool:
    return not any(item["session_key"].startswith(conv + ":") for conv in lost)


def _short(conv: str) -> str:
    channel, _, rest = conv.partition(":")
    return f"{channel}:{rest[:6]}…" if len(rest) > 6 else conv
