"""Salesforce outages: one pause for every worker, a probe that lifts it, and nothing dead-lettered.

A transient failure of a Salesforce call (5xx, timeout, connection error, session or rate limit:
the gateway's `Retryable`) is counted in Redis. After `salesforce.outage.failures_to_pause` in a
row (REQUEST_LIMIT_EXCEEDED: at once), writes pause for all workers. While paused, drains still
answer on LINE (the bot, the welcome) and keep what they decided beside the inbox, in order;
a conversation with nothing new to answer waits out of the ready set (`Store.claim`/`commit`).
When the pause is over, ONE worker probes with one cheap call (the org's limits): success lifts
the pause and makes every held conversation ready again, so its records are written in order;
failure doubles the pause, up to `max_pause_seconds`.

Redis holds the waiting events meanwhile: `check_memory` warns before its maxmemory.
"""

from __future__ import annotations

import logging
import time

from connector.gateways.errors import GatewayError, Paused, RateLimited
from connector.storage import StorageError

log = logging.getLogger(__name__)
PROBE_LEASE = "salesforce-probe"
RESERVE = "API_RESERVE"  # the pause's code when the org's API budget, not Salesforce, stops writes
BUDGET_WARN = 0.8  # share of our part of the daily limit from which a warning is logged


def writes_paused(rt, now: float | None = None) -> bool:
    """Whether Salesforce writes are paused now. When the pause is over, probes (one worker at a
    time; the others keep waiting for its answer)."""
    outage = rt.store.outage()
    if outage is None:
        # at the reserve line already (another worker's last write took it there): do not write
        return check_budget(rt, now, note=False) is not None and rt.store.outage() is not None
    now = time.time() if now is None else now
    if outage["until"] > now:
        return True
    return not probe(rt)


def pause_reason(rt) -> str | None:
    """The gateway's gate (runtime.py): why no Salesforce call may be made now - the pause's code
    (an outage's, or API_RESERVE) - or None. Every job's calls wait out a pause, not only the
    drain's writes, so none of them spends the reserve or hammers a Salesforce that is down."""
    try:
        if not writes_paused(rt):
            return None
        pause = rt.store.outage()
    except StorageError:  # the pause cannot be seen: the call goes (Salesforce has the last word)
        return None
    return (pause or {}).get("code") or "PAUSED"


def probe(rt) -> bool:
    """One cheap call through the gateway. Returns True when Salesforce answered and the pause is lifted."""
    o = rt.settings.salesforce.outage
    token = rt.leases.acquire(PROBE_LEASE, int((rt.settings.salesforce.timeout_seconds * 2 + 1) * 1000))
    if token is None:
        return False
    try:
        outage = rt.store.outage()
        if outage is None:
            return True
        try:
            rt.salesforce.probe()
            usage = rt.api_usage()
            if usage is not None:  # the day as Salesforce sees it now, for every process
                rt.store.note_api_usage(usage[0], usage[1], time.time())
            share = budget_share(rt)
            if share is not None and share >= 1:  # Salesforce is up, but our part of the day is used
                r = rt.settings.salesforce.api_reserve_pause_seconds
                until = rt.store.probe_failed(
                    now=time.time(), pause_s=r, max_pause_s=max(r, o.max_pause_seconds), min_pause_s=r, code=RESERVE
                )
                log.warning(
                    "salesforce api usage still at %.0f%% of the connector's part of the daily limit; "
                    "writes stay paused, next look in %.0f s",
                    share * 100,
                    until - time.time(),
                )
                return False
        except GatewayError as exc:
            if exc.retryable:
                until = rt.store.probe_failed(
                    now=time.time(),
                    pause_s=o.pause_seconds,
                    max_pause_s=o.max_pause_seconds,
                    min_pause_s=_min_pause(exc),
                    code=_code(exc),
                )
                rt.store.count("salesforce_probes_failed")
                log.warning(
                    "salesforce still unavailable (%s); writes stay paused, next probe in %.0f s",
                    _code(exc),
                    until - time.time(),
                )
                return False
            # Salesforce answered (with an error about the request): it is up.
        held = rt.store.lift()
        rt.store.count("salesforce_pauses_lifted")
        log.warning(
            "salesforce answers again after %.0f s; writes resume, %d held conversation(s) ready",
            time.time() - outage["since"],
            held,
        )
        from connector.jobs import enqueue_drains

        enqueue_drains(rt, 1)
        return True
    finally:
        rt.leases.release(PROBE_LEASE, token)


def write_failed(rt, exc: GatewayError) -> float:
    """Count a transient Salesforce failure. Returns when the probe is due if writes are paused now (else 0)."""
    if isinstance(exc, Paused):  # not sent because of the pause: nothing failed
        pause = rt.store.outage()
        return pause["until"] if pause else 0.0
    o = rt.settings.salesforce.outage
    until = rt.store.write_failed(
        now=time.time(),
        after=o.failures_to_pause,
        pause_s=o.pause_seconds,
        min_pause_s=_min_pause(exc),
        code=_code(exc),
    )
    if until:
        rt.store.count("salesforce_write_failures_paused")
        log.warning(
            "salesforce unavailable (%s): writes paused for all workers, probe in %.0f s; LINE answers go on",
            _code(exc),
            until - time.time(),
        )
    return until


def write_succeeded(rt) -> None:
    rt.store.write_succeeded()
    check_budget(rt)


NOTED_FRESH_S = 60  # a usage another process noted counts for this long


def api_usage(rt, now: float | None = None) -> tuple[int, int] | None:
    """(used, limit) of the org's day: this process's last Salesforce answer, or what another
    process noted in Redis in the last minute when it has seen more of the day used."""
    usage = rt.api_usage()
    noted = rt.store.api_usage()
    now = time.time() if now is None else now
    if noted and now - noted["at"] < NOTED_FRESH_S:
        if usage is None or (noted["limit"] == usage[1] and noted["used"] > usage[0]):
            usage = (noted["used"], noted["limit"])
    return usage


def budget_share(rt, now: float | None = None) -> float | None:
    """How much of the connector's part of the org's daily API limit is used (1.0: the reserve
    line, where writes pause); None before Salesforce has said."""
    usage = api_usage(rt, now)
    if usage is None:
        return None
    return usage[0] / (usage[1] * (1 - rt.settings.salesforce.api_reserve_share))


def check_budget(rt, now: float | None = None, *, note: bool = True) -> float | None:
    """After a write (`note`: the usage Salesforce reported is noted for every process) and before
    one: warn from `BUDGET_WARN`, and at the reserve line pause writes for every worker (like an
    outage: LINE answers go on, the records wait) so that the connector never takes what the org's
    other integrations need, and never meets REQUEST_LIMIT_EXCEEDED itself. Returns the share
    used (None: not known)."""
    now = time.time() if now is None else now
    mine = rt.api_usage()
    if note and mine is not None:
        rt.store.note_api_usage(mine[0], mine[1], now)
    usage = api_usage(rt, now)
    if usage is None:
        return None
    share = usage[0] / (usage[1] * (1 - rt.settings.salesforce.api_reserve_share))
    if share >= 1:
        r = rt.settings.salesforce.api_reserve_pause_seconds
        until = rt.store.write_failed(now=now, after=1, pause_s=r, min_pause_s=r, code=RESERVE)
        if until and rt.leases.once("api-reserve-pause", 60):
            rt.store.count("salesforce_reserve_pauses")
            log.warning(
                "salesforce api usage %d of %d: the reserve for other integrations (%.0f%%) is reached; "
                "writes paused for all workers, next look in %.0f s; LINE answers go on",
                usage[0],
                usage[1],
                rt.settings.salesforce.api_reserve_share * 100,
                until - now,
            )
    elif share >= BUDGET_WARN and rt.leases.once("api-budget-warning", 60):
        rt.store.count("salesforce_budget_warnings")
        log.warning(
            "salesforce api usage %d of %d: %.0f%% of the connector's part of the daily limit; writes are "
            "gathered into fewer calls",
            usage[0],
            usage[1],
            share * 100,
        )
    return share


def probe_if_due(rt) -> None:
    """Periodic (the worker's sweeper): probe when a pause is over, even if no drain is running."""
    writes_paused(rt)


def check_memory(rt) -> dict | None:
    """Periodic: warn when Redis' memory passes `redis.memory_warn_ratio` of its maxmemory (events
    wait there while Salesforce is down). Returns {"used", "max", "ratio"} when over, else None."""
    mem = rt.store.memory()
    if not mem["max"]:
        return None
    ratio = mem["used"] / mem["max"]
    if ratio < rt.settings.redis.memory_warn_ratio:
        return None
    if rt.leases.once("redis-memory-warning", 60):
        outage = rt.store.outage()
        log.warning(
            "redis memory at %.0f%% of maxmemory (%d of %d bytes)%s",
            ratio * 100,
            mem["used"],
            mem["max"],
            f"; salesforce paused for {time.time() - outage['since']:.0f} s, events wait in redis" if outage else "",
        )
        rt.store.count("redis_memory_warnings")
    return {**mem, "ratio": round(ratio, 3)}


def status(rt) -> dict:
    """For /metrics: the pause (if any) and Redis memory."""
    outage = rt.store.outage()
    mem = rt.store.memory()
    usage = rt.store.api_usage()
    return {
        "salesforce_paused": outage is not None,
        "salesforce_outage": outage,
        "salesforce_api": {
            **usage,
            "reserve_share": rt.settings.salesforce.api_reserve_share,
            "budget_share": round(budget_share(rt) or 0, 4),
        }
        if usage
        else None,
        "redis_memory": {
            **mem,
            "ratio": round(mem["used"] / mem["max"], 3) if mem["max"] else None,
            "warn_ratio": rt.settings.redis.memory_warn_ratio,
        },
    }


def _min_pause(exc: GatewayError) -> float:
    """A pause the service asked for (REQUEST_LIMIT_EXCEEDED: the gateway advises 15 minutes): at once."""
    return float(exc.retry_after or 0) if isinstance(exc, RateLimited) else 0.0


def _code(exc: GatewayError) -> str:
    return str(exc.code or (f"HTTP {exc.status}" if exc.status else type(exc).__name__))
