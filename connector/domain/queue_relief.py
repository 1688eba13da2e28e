"""Queue relief (pure): when a handoff stays with the bot instead of joining the operators' queue.

LINE Mobile's design: when people cannot take the chat in reasonable time, or the customer is not
entitled to operator chat (configurable: everyone, or entitled customers only), the bot keeps the
chat, says so honestly (with the expected wait, or that nobody is available), and the Case is
marked for follow-up. Entitled customers are never relieved: they keep their place and priority.

The expected wait is the one customers are told in queue notices (queue_position.py) for a session
joining the end of its queue now. "Over the limit" is strictly longer than the limit: a wait at the
limit still queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from .queue_position import expected_wait_s
from .routing import Presence, RoutingState

NOT_ENTITLED, WAIT_OVER_LIMIT, NOBODY_AVAILABLE = "not_entitled", "wait", "nobody"


@dataclass(frozen=True)
class ReliefRules:
    """config `routing.queue_relief_max_wait_minutes` and `routing.operator_chat_for`."""

    max_wait_s: float | None = None  # None: no limit
    entitled_only: bool = False


def wait_for_newcomer(
    state: RoutingState, avg_handle_time_s: float, skills: frozenset[str] = frozenset()
) -> int | None:
    """Expected wait (s) of a session with `skills` that joined its queue now, without priority;
    None when no Available operator could take it."""
    ahead = sum(1 for t in state.queue if t.skills == frozenset(skills))
    cap = free = 0
    for op in state.operators.values():
        if op.status is Presence.AVAILABLE and frozenset(skills) <= op.skills:
            cap += op.capacity
            free += max(0, op.capacity - op.load)
    return expected_wait_s(ahead, cap, free, avg_handle_time_s)


def relieve(rules: ReliefRules | None, entitled: bool, wait) -> tuple[str, int | None] | None:
    """Why this handoff stays with the bot, with the expected wait: (reason, wait_s), or None to
    queue it. `wait` is a callable giving the expected wait (s) or None (nobody available); it is
    called only when a limit applies."""
    if rules is None or entitled:
        return None
    if rules.entitled_only:
        return NOT_ENTITLED, None
    if rules.max_wait_s is None:
        return None
    seconds = wait()
    if seconds is None:
        return NOBODY_AVAILABLE, None
    if seconds > rules.max_wait_s:
        return WAIT_OVER_LIMIT, seconds
    return None
