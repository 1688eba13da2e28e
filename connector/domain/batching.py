"""How long a drain may hold a small batch's Salesforce write to gather more conversations into
the same Composite call (docs/benchmarks.md, "Salesforce as a budget").

The LINE side is never held: a batch is answered on LINE as soon as it is claimed; only its
records wait, at most `max_s` (times the widening factor as the org's daily API usage nears its
reserve). When messages arrive slowly nothing waits (a lone message is written at once, as before);
when they keep coming, the window is what it takes for `target_events` more to arrive at the
rate all workers claim (counted in Redis), less the time a write takes anyway. One worker at a
time gathers (jobs/inbound.py, the collector lease), so a write carries what arrived at every
worker, and the next window opens on another worker while this one writes.

Pure: times and rates are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowRules:
    max_s: float  # the longest a write waits (0: never)
    target_events: int  # events one write should carry when traffic allows
    min_rate: float  # events/s (this worker) below which nothing waits
    widen_from: float = 0.5  # share of the daily API limit from which the window widens
    widen_factor: float = 4.0  # how much wider at the reserve line


def window_seconds(rules: WindowRules, rate: float, write_s: float, usage_share: float | None = None) -> float:
    """How long to hold the first small batch's write (seconds, 0 <= w <= max_s * widening)."""
    if rules.max_s <= 0:
        return 0.0
    factor = widening(rules, usage_share)
    if rate < rules.min_rate and factor == 1.0:
        return 0.0
    want = rules.target_events * factor / max(rate, 1e-6) - max(write_s, 0.0)
    return max(0.0, min(want, rules.max_s * factor))


def claim_share(ready: int, workers: int, min_conversations: int, max_conversations: int) -> int:
    """How many ready conversations one claim may take: its share of what is ready among the
    workers, so that a backlog is spread over every worker instead of going to whichever claims
    first (a batch of 1,000 new friends kept one worker on LINE for 13 s while three others had
    nothing; burst benchmark). A small backlog still goes to one claim whole (one write)."""
    share = -(-ready // max(workers, 1))
    return max(min_conversations, min(share, max_conversations))


def quiet_gap(rate: float, window_s: float) -> float:
    """How long without a new claim closes a window early: four mean gaps at `rate` (at least
    0.1 s). When traffic stops - or the rate said more than is coming - a write waits that long,
    not the whole window."""
    return min(window_s, max(0.1, 4.0 / max(rate, 1e-6)))


def widening(rules: WindowRules, usage_share: float | None) -> float:
    """1 until `widen_from` of the daily limit is used, then up to `widen_factor` at the reserve."""
    if usage_share is None or usage_share <= rules.widen_from or rules.widen_from >= 1:
        return 1.0
    reach = min(1.0, (usage_share - rules.widen_from) / (1.0 - rules.widen_from))
    return 1.0 + (rules.widen_factor - 1.0) * reach


class Average:
    """An exponentially weighted mean (a write's duration)."""

    def __init__(self, initial: float, weight: float = 0.2):
        self.value, self.weight = initial, weight

    def add(self, sample: float) -> None:
        self.value += self.weight * (sample - self.value)
