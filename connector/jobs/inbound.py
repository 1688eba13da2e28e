"""Drain: apply queued LINE events to Salesforce and answer on LINE, in order, exactly once.

One drain job claims every ready conversation it can (up to `batch_max_events` events), so a
backlog turns into few, large Salesforce calls while a quiet system answers each event at once.
In a backlog, one batch's Salesforce write overlaps the next batch's LINE calls (`Drainer.run`).
While Salesforce writes are paused (outage.py), a drain only answers on LINE: what it decided is
kept beside the inbox, and written, in order, once Salesforce is back (`Drainer._hold`).
See store.py for the ordering and locking, conversation.py for what each event means.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector import metrics
from connector.domain import batching, conversation
from connector.domain import events as ev
from connector.domain.records import SESSION, SessionStatus, Upsert, merge
from connector.gateways.errors import GatewayError, RateLimited, Retryable
from connector.jobs import FETCH_CONTENT, bot, delivery, describe_error, enqueue, enqueue_drains, job_id, outage
from connector.jobs.signals import dispatch as dispatch_signals
from connector.runtime import Runtime, get_runtime
from connector.storage import StorageError
from connector.storage.queue import worker_count
from connector.storage.store import Claimed, Outcome

log = logging.getLogger(__name__)


def drain() -> int:
    """RQ entry point: drain until nothing is claimable. Returns the number of events applied."""
    rt = get_runtime()
    rt.store.drain_started()
    start, outcome = time.perf_counter(), "error"
    try:
        applied = Drainer(rt).run()
        outcome = "ok"
    finally:
        metrics.DRAIN_SECONDS.observe(time.perf_counter() - start)
        metrics.DRAINS.labels(outcome).inc()
    metrics.DRAIN_EVENTS.inc(applied)
    return applied


@dataclass
class Step:
    raw: bytes
    entry: dict
    eid: str
    result: conversation.Result | None = None
    error: str | None = None  # the domain could not apply it (a bug or bad data): dead letter
    state: dict | None = None  # the conversation's state after this step (None: not known here)
    cached: bool = False  # decided (and answered) by an earlier batch; its records still wait
    delivered: list[Upsert] = field(default_factory=list)  # its replies' delivery outcomes, as record fields

    @property
    def upserts(self) -> list[Upsert]:
        return (self.result.upserts + self.delivered) if self.result else []

    def decision(self) -> dict:
        """What is kept while its records wait (see Claimed.decisions)."""
        if self.result is None:
            return {"eid": self.eid, "error": self.error}
        return {"eid": self.eid, **conversation.decision(self.result)}


@dataclass
class Plan:
    claimed: Claimed
    steps: list[Step] = field(default_factory=list)


# A batch claimed from Redis, answered on LINE, whose records are still to be written.
Group = tuple[str, list[Claimed], list[Plan]]
POLL_S = 0.02  # while a write waits for company, how often to look for more
# One worker at a time gathers during a window (the others leave it what arrives), so that a
# write carries the arrivals of all workers, not a share; the lease outlives a window a little.
COLLECTOR = "drain-collector"
COLLECTOR_SLACK_MS = 2000
# A claim takes its share of the ready conversations among the workers (domain/batching.py), but
# never fewer than SHARE_MIN (a small backlog is one write) nor more than the claim scans.
SHARE_MIN = 100
CLAIM_SCAN = 1000
WORKERS_TTL_S = 5.0


class Drainer:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.qs = rt.settings.queue
        self.keeper = LockKeeper(rt.store, self.qs.lock_seconds * 1000)
        self.rules = batching.WindowRules(
            max_s=self.qs.batch_window_max_ms / 1000,
            target_events=self.qs.batch_window_target_events,
            min_rate=self.qs.batch_window_min_rate,
        )
        self.write_s = batching.Average(0.15)
        self.collecting: str | None = None  # our COLLECTOR lease while our window is open
        self.gap_s = 0.0  # a window closes early after this long without a new claim
        self._workers_n, self._workers_at = 1, -WORKERS_TTL_S

    def run(self, max_batches: int | None = None) -> int:
        """Drain batch after batch; after half the job timeout, hand over to a fresh job.

        In a backlog (a batch as large as `batch_max_events`) batches overlap by one: while a
        batch's records are written to Salesforce and committed (on the writer thread), the next
        batch is claimed and answered on LINE, so neither waits for the other (burst benchmark:
        docs/benchmarks.md). Still one Salesforce call at a time: a batch is written only once
        the one before it is committed. No conversation is in two batches at once: the first
        holds its lock until its commit, and a claim that finds nothing waits for that commit and
        looks again.

        A smaller batch is answered on LINE at once; its write may wait for company (adaptive
        batching, domain/batching.py): while messages keep arriving, what is claimed during the
        window is answered on LINE too and written with it, in one Composite call. When messages
        come slowly the window is 0 and each batch is written before the next claim.

        While Salesforce writes are paused, each batch is only answered on LINE and held
        (`_hold`): the claim reads only what is not answered yet.

        A large backlog is shared: a claim takes its share of the ready conversations among the
        workers (at least SHARE_MIN), and one that leaves a backlog behind asks for a drain job
        for another worker (`_call_for_help`), so every worker takes part in a burst.
        """
        done = batches = 0
        deadline = time.monotonic() + self.qs.job_timeout_seconds / 2
        writing: Future | None = None
        waiting: list[Group] = []  # answered on LINE; their write waits until `write_at`
        write_at = last_claim = 0.0
        try:
            while max_batches is None or batches < max_batches:
                if time.monotonic() > deadline:
                    enqueue_drains(self.rt, 1)
                    break
                answer_only = outage.writes_paused(self.rt)
                if answer_only and writing is not None:
                    done += writing.result()
                    writing = None
                if not waiting and writing is None and not answer_only and self.rt.leases.held(COLLECTOR):
                    break  # another worker's window takes what arrives; the doorbell brings us back
                ready = self.rt.store.pending()
                share = batching.claim_share(ready, self._workers(), SHARE_MIN, CLAIM_SCAN)
                token, claimed = self.rt.store.claim(
                    max_events=self.qs.batch_max_events,
                    lock_ms=self.qs.lock_seconds * 1000,
                    answer_only=answer_only,
                    scan=share,
                )
                if claimed:
                    self.keeper.hold(token, [c.conv for c in claimed])
                    if ready - len(claimed) >= SHARE_MIN:
                        self._call_for_help()
                if not claimed:
                    now = time.monotonic()
                    if waiting and now < write_at and now - last_claim < self.gap_s:
                        time.sleep(min(POLL_S, write_at - now))
                        continue
                    if waiting:
                        done += self._finish(self._close_window(waiting))
                        waiting = []
                        continue
                    if writing is None:
                        break
                    done += writing.result()  # its conversations may have more events waiting
                    writing = None
                    continue
                events = sum(len(c.entries) for c in claimed)
                self.rt.store.note_claimed(events, time.time())
                last_claim = time.monotonic()
                # more is waiting than this claim took (its event budget or its share of a backlog)
                backlog = events >= self.qs.batch_max_events or ready - len(claimed) >= SHARE_MIN
                plans = self._decide_and_deliver(claimed)
                if answer_only:
                    try:
                        self._hold(token, plans)
                    finally:
                        self.keeper.release(token)
                    batches += 1
                    continue
                if writing is not None:
                    done += writing.result()
                    writing = None
                group: Group = (token, claimed, plans)
                if backlog:  # more is waiting: claim it and answer it on LINE while this is written
                    writing = self.rt.writer_pool.submit(self._finish, self._close_window([*waiting, group]))
                    waiting = []
                else:
                    if not waiting:
                        write_at = time.monotonic() + self._open_window()
                    waiting.append(group)
                    held = sum(len(c.entries) for _, cs, _ in waiting for c in cs)
                    if time.monotonic() >= write_at or held >= self.qs.batch_max_events:
                        done += self._finish(self._close_window(waiting))
                        waiting = []
                batches += 1
        finally:
            try:
                if writing is not None:
                    done += writing.result()
            finally:
                try:
                    if waiting:
                        done += self._finish(self._close_window(waiting))
                finally:
                    self._close_window([])
                    self.keeper.close()
        return done

    def _workers(self) -> int:
        """Workers on the queue, read again every few seconds (a dyno added or gone)."""
        now = time.monotonic()
        if now - self._workers_at > WORKERS_TTL_S:
            self._workers_n, self._workers_at = max(1, worker_count(self.rt.queue)), now
        return self._workers_n

    def _call_for_help(self) -> None:
        """More is ready than this claim took: a drain job for an idle worker, unless one waits
        already (each job that starts does the same, so a backlog brings in every worker; without
        this the others slept until the next webhook or the sweeper's tick)."""
        if self._workers() > 1 and self.rt.queue.count == 0:
            enqueue_drains(self.rt, 1)

    def _open_window(self) -> float:
        """How long this small batch's write may wait for company (domain/batching.py): 0 when
        traffic is light, or when another worker is gathering already (its window just opened)."""
        rate = self.rt.store.claim_rate(time.time())  # all workers': one of them gathers for all
        window = batching.window_seconds(self.rules, rate, self.write_s.value, outage.budget_share(self.rt))
        if window <= 0:
            return 0.0
        self.gap_s = batching.quiet_gap(rate, window)
        self.collecting = self.rt.leases.acquire(COLLECTOR, int(window * 1000) + COLLECTOR_SLACK_MS)
        return window if self.collecting else 0.0

    def _close_window(self, groups: list[Group]) -> list[Group]:
        """The window is over (its write starts): another worker may gather the next one."""
        if self.collecting:
            self.rt.leases.release(COLLECTOR, self.collecting)
            self.collecting = None
        return groups

    # -- one batch ------------------------------------------------------------------------------
    def _finish(self, groups: list[Group]) -> int:
        """Write delivered batches to Salesforce (one write for all of them) and commit each;
        returns the events applied."""
        tokens = [token for token, _, _ in groups]
        try:
            if outage.writes_paused(self.rt):  # paused while these were on LINE: they wait too
                for token, _, plans in groups:
                    self._hold(token, plans)
                return 0
            steps = [s for _, _, plans in groups for p in plans for s in p.steps if s.result]
            self._refresh_pending(steps)
            started = time.monotonic()
            results, failure = self._write(steps)
            self.write_s.add(time.monotonic() - started)
            committing = []
            for token, _, plans in groups:
                outcomes, applied, content, signals = [], 0, [], []
                for plan in plans:
                    outcome, n, media, sigs = self._outcome(plan, results, failure)
                    outcomes.append(outcome)
                    applied += n
                    content.extend(media)
                    signals.extend(sigs)
                committing.append((token, outcomes, applied, content, signals))
        finally:
            for token in tokens:
                self.keeper.release(token)  # the commit below ends the locks (or finds them lost)
        total = 0
        for token, outcomes, applied, content, signals in committing:
            lost = self.rt.store.commit(token, outcomes)
            if lost:
                log.warning("drain: lock lost for %d conversation(s); another worker will redo them", len(lost))
            for channel_id, item in content:
                if outcome_conv_ok(item, lost):
                    enqueue(self.rt, FETCH_CONTENT, channel_id, item, key=job_id("content", item["message_key"]))
            dispatch_signals(self.rt, [sig for sig in signals if sig.get("conv") not in lost])
            total += applied
        self.rt.store.count("events_applied", total)
        return total

    def _hold(self, token: str, plans: list[Plan]) -> None:
        """Keep a batch answered on LINE whose records cannot be written now (Salesforce paused).

        Nothing leaves the inbox and the committed state stays where the written records are;
        what was decided is appended beside the inbox (with the state it led to), so the next
        batch neither answers these events again nor decides them differently, and writes them
        first, in order. Media are fetched from LINE now (LINE keeps them only for a while); the
        fetch job uploads them once Salesforce and the message record are there.
        """
        outcomes, content = [], []
        for plan in plans:
            c = plan.claimed
            fresh = plan.steps[len(c.decisions) :]
            outcomes.append(
                Outcome(
                    c.conv,
                    0,
                    None,
                    hold=True,
                    answered=c.offset + len(plan.steps),
                    decisions=[s.decision() for s in fresh],
                    pstate=fresh[-1].state if fresh else None,
                )
            )
            content.extend((s.entry["channel"], m) for s in fresh if s.result for m in s.result.content)
        lost = self.rt.store.commit(token, outcomes)
        for channel_id, item in content:
            if outcome_conv_ok(item, lost):
                enqueue(self.rt, FETCH_CONTENT, channel_id, item, key=job_id("content", item["message_key"]))
        held = sum(len(p.steps) - len(p.claimed.decisions) for p in plans)
        self.rt.store.count("events_answered_while_paused", held)
        log.info("drain: salesforce paused; %d event(s) answered on LINE, their records wait", held)

    def _decide_and_deliver(self, claimed: list[Claimed]) -> list[Plan]:
        """The batch's LINE side, pipelined across conversations.

        A new friend's profile is fetched on the LINE pool, and the loading animation is shown
        where the bot will answer; as soon as that is done, the conversation is decided (here,
        one at a time: the domain and the bot are not shared across threads) and its replies go
        back to the pool, in order within the conversation. No conversation waits for the
        slowest profile of the batch. Replies of events decided by an earlier batch find their
        delivery marker and are not sent again.
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
        will answer, and the profile of a friend not seen before (returned; None otherwise).
        Events decided by an earlier batch were answered then: nothing is shown for them."""
        new = c.entries[len(c.decisions) :]
        last = {}
        for entry in new:  # one animation per user: the last message of the batch covers it
            last[ev.user_id(entry["event"])] = entry
        for entry in last.values():
            try:
                channel = self.rt.config.channel(entry["channel"])
            except KeyError:
                continue
            if bot.wants_loading(channel, entry["event"]) and not _with_operator(_base_state(c)):
                bot.show_loading(self.rt, channel, entry["event"])
        return self._new_friend_profile(c, new)

    def _new_friend_profile(self, c: Claimed, new: list[dict]) -> dict | None:
        """The LINE profile of a friend this conversation has not seen before (None otherwise)."""
        if (_base_state(c) or {}).get("friend"):
            return None
        for entry in new:
            uid = ev.user_id(entry["event"])
            if uid and ev.source_key(entry["event"]) == uid and "replay" not in entry:
                return self._profile(entry["channel"], entry["event"])
        return None

    def _decide(self, c: Claimed, profile: dict | None, now: datetime, responders: dict) -> Plan:
        """Each entry's Result: as an earlier batch decided it (c.decisions), else from `apply`."""
        plan = Plan(c)
        for i, (raw, entry, kept) in enumerate(zip(c.raw, c.entries, c.decisions)):
            eid = ev.event_id(entry["event"])
            try:
                plan.steps.append(_cached_step(raw, entry, eid, kept, c.pstate if i == c.decided - 1 else None))
            except (LookupError, TypeError, ValueError):
                break
        if len(plan.steps) < len(c.decisions):  # the inbox and what was kept beside it disagree: decide again
            log.error("drain: kept decisions of conv=%s do not match its inbox; deciding again", _short(c.conv))
            plan.steps = []
            c.decisions, c.pstate, c.decided = [], None, 0
        state = plan.steps[-1].state if plan.steps else _base_state(c)
        s = self.rt.settings
        for raw, entry in list(zip(c.raw, c.entries))[len(plan.steps) :]:
            event = entry["event"]
            eid = ev.event_id(event)
            step = Step(raw, entry, eid)
            try:
                if "replay" in entry:
                    step.result = _replayed(entry["replay"], state)
                else:
                    channel = self.rt.config.channel(entry["channel"])
                    ctx = conversation.Context(
                        channel_id=channel.id,
                        text=channel.text,
                        profile=profile if not (state or {}).get("friend") else None,
                        reopen_window_ms=s.salesforce.case.reopen_window_minutes * 60_000,
                        subject_max_chars=s.salesforce.case.subject_max_chars,
                        reply_in_groups=channel.settings.reply_in_groups,
                        responder=self._responder(channel, now, responders),
                        survey=channel.settings.survey.rules(),
                        account_link_words=_account_link_words(s, channel.id),
                        ask_support_id=channel.id in s.support_id.ask_on_channels,
                    )
                    step.result = conversation.apply(state, event, ctx)
                state = step.result.state
                log.info("event %s %s conv=%s: %s", eid, event.get("type"), _short(c.conv), step.result.note)
            except Exception as exc:
                step.error = describe_error(exc)
                log.exception("event %s could not be applied; dead-lettered", eid)
            step.state = state
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
                step.delivered += delivery.record_upserts(outcome, reply.record_keys, step.eid)

    def _refresh_pending(self, steps: list[Step]) -> None:
        """Replies handed to a job (LINE was unavailable) may have gone out since: the records
        carry the outcome their markers hold now (the job does not create a missing record)."""
        for step in steps:
            if not any(u.fields.get("Delivery_Status__c") == "Pending" for u in step.delivered):
                continue
            step.delivered = []
            for reply in step.result.replies:
                outcome = self.rt.store.marker(reply.key) or {"status": "Pending", "at": None}
                step.delivered += delivery.record_upserts(outcome, reply.record_keys, step.eid)

    def _write(self, steps: list[Step]):
        """Write every step's upserts in as few calls as possible. Returns (per-record results, call failure)."""
        upserts = [u for s in steps for u in s.upserts]
        if not upserts:
            return {}, None
        try:
            results = self.rt.salesforce.upsert_many(merge(upserts))
        except GatewayError as exc:
            log.warning("salesforce write failed for %d records: %s", len(upserts), describe_error(exc))
            if exc.retryable:
                outage.write_failed(self.rt, exc)
            return {}, exc
        down = next((r for r in results.values() if r.service_down), None)
        if down is not None:  # some records were refused because Salesforce is unavailable
            outage.write_failed(self.rt, Retryable("salesforce", "records: service unavailable", code=down.code))
        else:
            outage.write_succeeded(self.rt)
        return results, None

    def _outcome(self, plan: Plan, results: dict, failure: GatewayError | None):
        """How far this conversation got: the finished prefix, its state, and what to retry.

        Only a permanent error (bad data, schema) or a record failing past the retry schedule
        dead-letters an event. When Salesforce was unavailable, the conversation stops at that
        event and tries again later - after a pause, however long - with what it decided kept.
        """
        c, store = plan.claimed, self.rt.store
        done, state, media, signals, attempts = 0, None, [], [], c.attempts
        for step in plan.steps:
            if step.error:
                store.dead_letter(step.raw, conv=c.conv, kind="event", error=step.error, attempts=attempts + 1)
                done += 1
                state = step.state
                continue
            idents = {u.ident for u in step.upserts}
            unavailable = False
            if failure is not None and idents:
                error, retryable, unavailable = describe_error(failure), failure.retryable, failure.retryable
            else:
                bad = [results.get(k) for k in idents if not (results.get(k) and results[k].ok)]
                error = "; ".join(sorted({r.summary if r else "no result" for r in bad}))[:300] if bad else None
                unavailable = any(r is not None and r.service_down for r in bad)
                retryable = unavailable or any(r is None or r.retryable for r in bad) or _parent_failed(step, results)
            if error is None:
                done += 1
                state = step.state
                media.extend((step.entry["channel"], m) for m in step.result.content)
                signals.extend(dict(sig, conv=c.conv, channel=step.entry["channel"]) for sig in step.result.signals)
                continue
            if not unavailable and (not retryable or attempts + 1 > len(self.qs.retry_intervals_seconds)):
                log.error("event %s dead-lettered after %d attempt(s): %s", step.eid, attempts + 1, error)
                store.dead_letter(
                    step.raw,
                    conv=c.conv,
                    kind="event",
                    error=error,
                    attempts=attempts + 1,
                    decision=conversation.decision(_as_delivered(step)),
                )
                done += 1
                state = step.state
                attempts = 0
                continue
            kept = plan.steps[max(len(c.decisions), done) :]
            rest = {
                "answered": c.offset + len(plan.steps),
                "decisions": [s.decision() for s in kept],
                "pstate": kept[-1].state if kept else None,
            }
            if unavailable and store.outage() is not None:  # wait for the probe, not for a backoff
                return Outcome(c.conv, done, state, hold=True, **rest), done, media, signals
            delay = self._backoff(attempts, failure)
            outcome = Outcome(c.conv, done, state, retry_at=time.time() + delay, failed=not unavailable, **rest)
            return outcome, done, media, signals
        return Outcome(c.conv, done, state), done, media, signals

    def _backoff(self, attempts: int, failure: GatewayError | None) -> float:
        intervals = self.qs.retry_intervals_seconds
        base = intervals[min(attempts, len(intervals) - 1)]
        if isinstance(failure, RateLimited) and failure.retry_after:
            base = max(base, failure.retry_after)
        jitter = self.qs.retry_jitter
        return base * (1 + random.uniform(-jitter, jitter))


class LockKeeper:
    """Renews the locks of the batches a drainer has in flight, every third of the lease.

    The lease (`queue.lock_seconds`) is short, so the conversations of a worker killed mid-batch
    are free again within seconds; a batch that takes longer (a slow Salesforce write, LINE
    retries) keeps its conversations for as long as its drainer is alive to renew them.
    """

    def __init__(self, store, lock_ms: int):
        self.store = store
        self.lock_ms = lock_ms
        self._held: dict[str, list[str]] = {}  # token -> conversations of a batch in flight
        self._mutex = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, token: str, convs: list[str]) -> None:
        with self._mutex:
            self._held[token] = list(convs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lock-keeper", daemon=True)
                self._thread.start()

    def release(self, token: str) -> None:
        with self._mutex:
            self._held.pop(token, None)

    def close(self) -> None:
        with self._mutex:
            self._held.clear()
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.lock_ms / 3000):
            self.renew()

    def renew(self) -> None:
        with self._mutex:
            held = list(self._held.items())
        for token, convs in held:
            try:
                lost = self.store.extend_locks(token, convs, self.lock_ms)
            except StorageError as exc:  # the next tick tries again; the lease outlives one miss
                log.warning("drain: could not renew %d lock(s): %s", len(convs), type(exc).__name__)
                continue
            with self._mutex:
                in_flight = token in self._held
            if lost and in_flight:
                log.warning(
                    "drain: lock lost for %d conversation(s) in flight; their commit will be refused", len(lost)
                )


def _base_state(c: Claimed) -> dict | None:
    """The state new events of `c` are decided from: after what was decided before, if anything."""
    return c.pstate if c.decided else c.state


def _cached_step(raw: bytes, entry: dict, eid: str, kept: dict, state: dict | None) -> Step:
    step = Step(raw, entry, eid, state=state, cached=True)
    if kept.get("eid") != eid:
        raise LookupError
    if kept.get("error"):
        step.error = kept["error"]
    else:
        step.result = conversation.from_decision(kept, state or {})
    return step


def _replayed(kept: dict, state: dict | None) -> conversation.Result:
    """A dead letter's records as first decided, written again: in their own session, with their
    own LINE timestamps, never answered twice on LINE and changing nothing in the conversation
    (a session's last-message time is not moved back)."""
    res = conversation.from_decision(kept, state or {})
    res.replies, res.signals = [], []
    for u in res.upserts:
        if u.sobject == SESSION:
            u.fields.pop("Last_Message_At__c", None)
    res.upserts = [u for u in res.upserts if u.fields or u.sobject != SESSION]
    res.note = "replayed: records as first decided"
    return res


def _as_delivered(step: Step) -> conversation.Result:
    """The step's Result with its replies' latest delivery outcome folded into its records."""
    res = conversation.from_decision(conversation.decision(step.result), {})
    res.upserts = merge(res.upserts + step.delivered)
    return res


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


def _account_link_words(settings, channel_id: str):
    """(keywords, unlink keywords) when the channel has a linking page (account link), else None."""
    al = settings.account_link
    if channel_id not in al.linking_urls:
        return None
    return tuple(al.keywords), tuple(al.unlink_keywords)
