"""Queue position and expected wait told to customers on LINE (pure logic, no I/O).

Times are float seconds (see :mod:`connector.domain.routing`).

Position
    1-based place of the session among the queued sessions with the *same required skills* (one
    queue per skill set), in routing order: priority first, then first queued first.

Expected wait (seconds, ``None`` = nobody who could take it is Available)::

    E      = Available operators who could take this session (skills match, did not decline it)
    C      = sum of their capacities (chat slots)
    F      = their free slots right now
    ahead  = position - 1
    wait   = 0                                  if ahead < F
           = ceil((ahead - F + 1) * AHT / C)    otherwise

    i.e. the session needs ``ahead - F + 1`` slots to free up, and C busy slots free up at a
    combined rate of C / AHT, where AHT (``avg_handle_time_s``) is the average duration of an
    operator chat as observed (it already includes the slowdown of handling several at once).

Notices (``should_notify``): always on the first one; afterwards only if at least
``notice_min_interval_s`` (60 s) passed since the last one sent AND either the position improved
by at least ``notice_position_step`` (3) or the expected wait changed by at least
``notice_wait_change_s`` (120 s) -- including "unknown" <-> "known".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .routing import Presence, QueuedSession, RoutingConfig, RoutingState

__all__ = ["QueueNotice", "expected_wait_s", "queue_positions", "should_notify", "notices_due"]


@dataclass(frozen=True, slots=True)
class QueueNotice:
    """Tell the customer of ``session_key`` their position and expected wait (LINE message)."""

    session_key: str
    channel_id: str
    position: int
    expected_wait_s: int | None  # None: no operator who could take it is Available
    at: float

    kind = "queue_notice"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "session_key": self.session_key,
            "channel_id": self.channel_id,
            "position": self.position,
            "expected_wait_s": self.expected_wait_s,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "QueueNotice":
        return cls(
            session_key=d["session_key"],
            channel_id=d["channel_id"],
            position=int(d["position"]),
            expected_wait_s=None if d.get("expected_wait_s") is None else int(d["expected_wait_s"]),
            at=float(d["at"]),
        )


def expected_wait_s(ahead: int, capacity: int, free: int, avg_handle_time_s: float) -> int | None:
    """The wait formula (see module doc). ``capacity``/``free`` are the chat slots of the Available
    operators who could take the session."""
    if capacity <= 0:
        return None
    if ahead < free:
        return 0
    return int(math.ceil((ahead - free + 1) * avg_handle_time_s / capacity))


def queue_positions(state: RoutingState, now: float, avg_handle_time_s: float) -> list[QueueNotice]:
    """Position and expected wait of every queued session, in routing order."""
    if avg_handle_time_s < 0:
        raise ValueError("avg_handle_time_s must be >= 0")
    available = [op for op in state.operators.values() if op.status is Presence.AVAILABLE]
    seen: dict[tuple[str, ...], int] = {}
    out: list[QueueNotice] = []
    for ticket in state.queue:
        q = ticket.queue_name
        seen[q] = seen.get(q, 0) + 1
        position = seen[q]
        cap, free = _slots(available, ticket)
        out.append(
            QueueNotice(
                session_key=ticket.session_key,
                channel_id=ticket.channel_id,
                position=position,
                expected_wait_s=expected_wait_s(position - 1, cap, free, avg_handle_time_s),
                at=now,
            )
        )
    return out


def _slots(available: list, ticket: QueuedSession) -> tuple[int, int]:
    cap = free = 0
    for op in available:
        if ticket.skills <= op.skills and op.id not in ticket.declined_by:
            cap += op.capacity
            free += max(0, op.capacity - op.load)
    return cap, free


def should_notify(previous: QueueNotice | None, new: QueueNotice, config: RoutingConfig = RoutingConfig()) -> bool:
    """Whether ``new`` is worth a LINE message, given the last notice actually *sent*."""
    if previous is None:
        return True
    if new.at - previous.at < config.notice_min_interval_s:
        return False
    if previous.position - new.position >= config.notice_position_step:
        return True
    a, b = previous.expected_wait_s, new.expected_wait_s
    if (a is None) != (b is None):
        return True
    if a is not None and b is not None and abs(b - a) >= config.notice_wait_change_s:
        return True
    return False


def notices_due(
    state: RoutingState,
    now: float,
    avg_handle_time_s: float,
    last_sent: Mapping[str, QueueNotice],
    config: RoutingConfig = RoutingConfig(),
) -> list[QueueNotice]:
    """The notices to send now (caller sends them and stores each as the new ``last_sent``)."""
    return [
        n
        for n in queue_positions(state, now, avg_handle_time_s)
        if should_notify(last_sent.get(n.session_key), n, config)
    ]
