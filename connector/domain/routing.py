"""Operator presence, capacity and routing of queued LINE chats (pure logic, no I/O).

Time
----
Every ``now`` / timestamp in this module is a **float number of seconds**: a POSIX timestamp
(``time.time()``) in production, seconds since the start in the simulation. Durations are seconds
too. Nothing here reads a clock; the caller passes ``now``.

State and effects
-----------------
:class:`RoutingState` is a frozen value: every operation returns a *new* state plus a list of
effects and never mutates its input. Effects are plain records the caller applies:

* :class:`Assignment` -- set the Case owner and the session's operator, write a routing record,
  tell the operator's console (and optionally the customer) that the chat was taken.
* :class:`Requeued` -- the session went back to the queue (declined, transferred to the queue,
  operator went offline or stale): clear the session's operator, set its status to Queued.
* :class:`Released` -- the session left routing (closed).

All state objects serialise with ``to_dict()`` / ``from_dict()`` to JSON-safe dicts.

The whole state is one routing decision domain: the caller must apply an operation and store the
new state under one lock (e.g. a Redis lock around load -> operate -> store), because ``route``
compares every operator with every queued session.

Typical job::

    state, effects = set_presence(state, "005xx", Presence.AVAILABLE, now, config=config)
    state, more = route(state, now)
    notices = notices_due(state, now, aht_s, last_sent, config)   # queue_position.py
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Union

__all__ = [
    "Presence",
    "Policy",
    "RoutingConfig",
    "Operator",
    "QueuedSession",
    "RoutingState",
    "Assignment",
    "Requeued",
    "Released",
    "Effect",
    "RoutingError",
    "set_presence",
    "heartbeat",
    "expire_stale",
    "enqueue",
    "route",
    "release",
    "transfer",
    "decline",
    "operator_of",
    "queue_order",
    "effect_from_dict",
]

STATE_VERSION = 1


class RoutingError(ValueError):
    """A request that cannot be honoured (unknown operator/session, target cannot take a chat)."""


class Presence(str, Enum):
    AVAILABLE = "Available"
    BUSY = "Busy"
    AWAY = "Away"
    OFFLINE = "Offline"


class Policy(str, Enum):
    LEAST_LOAD = "least_load"  # production: fewest active chats, then longest since last assignment
    ROUND_ROBIN = "round_robin"  # baseline for the simulation: fixed cyclic order by operator id


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Routing settings (from the relay's configuration, `routing:`; the caller maps them).

    With the settings sync on, the LINE_Routing_Setting record named Default that admins edit in
    Salesforce is laid over the YAML's (domain/settings_records.py, docs/configuration.md).
    """

    default_capacity: int = 3
    presence_ttl_s: float = 90.0  # no heartbeat for this long -> Offline (console beats every ~30 s)
    entitled_priority: int = 1  # priority given to entitled customers; 0 = no priority (pure FCFS)
    policy: Policy = Policy.LEAST_LOAD
    # queue-position notices (see queue_position.should_notify)
    notice_position_step: int = 3  # notify when the position improved by at least this much
    notice_wait_change_s: float = 120.0  # ... or the expected wait changed by at least this much
    notice_min_interval_s: float = 60.0  # ... and never more often than this

    def __post_init__(self) -> None:
        if self.default_capacity < 0:
            raise ValueError("routing.default_capacity must be >= 0")
        if self.presence_ttl_s <= 0:
            raise ValueError("routing.presence_ttl_s must be > 0")
        if self.notice_position_step < 1:
            raise ValueError("routing.notice_position_step must be >= 1")
        if self.notice_min_interval_s < 0 or self.notice_wait_change_s < 0:
            raise ValueError("routing notice intervals must be >= 0")
        object.__setattr__(self, "policy", Policy(self.policy))

    def priority_for(self, entitled: bool) -> int:
        return self.entitled_priority if entitled else 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["policy"] = self.policy.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RoutingConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown routing setting(s): {', '.join(sorted(unknown))}")
        return cls(**dict(d))


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    status: Presence = Presence.OFFLINE
    capacity: int = 3
    active: frozenset[str] = frozenset()  # session keys this operator holds
    last_assigned_at: float | None = None  # None = never assigned (counts as waiting longest)
    last_seen_at: float | None = None  # last presence change or heartbeat
    skills: frozenset[str] = frozenset()
    # Chats of `active` on hold that do not count against capacity (`routing.hold_counts_against_capacity`
    # false); a chat that leaves `active` leaves this too.
    on_hold: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Presence(self.status))
        object.__setattr__(self, "active", frozenset(self.active))
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "on_hold", frozenset(self.on_hold) & self.active)
        if self.capacity < 0:
            raise ValueError(f"operator {self.id}: capacity must be >= 0")

    @property
    def load(self) -> int:
        return len(self.active - self.on_hold)

    @property
    def free(self) -> int:
        """Free chat slots for *new* chats (0 unless Available)."""
        if self.status is not Presence.AVAILABLE:
            return 0
        return max(0, self.capacity - self.load)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "capacity": self.capacity,
            "active": sorted(self.active),
            "last_assigned_at": self.last_assigned_at,
            "last_seen_at": self.last_seen_at,
            "skills": sorted(self.skills),
            "on_hold": sorted(self.on_hold),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Operator":
        return cls(
            id=d["id"],
            status=Presence(d.get("status", "Offline")),
            capacity=int(d.get("capacity", 3)),
            active=frozenset(d.get("active", ())),
            last_assigned_at=d.get("last_assigned_at"),
            last_seen_at=d.get("last_seen_at"),
            skills=frozenset(d.get("skills", ())),
            on_hold=frozenset(d.get("on_hold", ())),
        )


@dataclass(frozen=True, slots=True)
class QueuedSession:
    """A session's routing ticket. Kept while queued *and* while an operator holds it, so a
    declined / transferred chat goes back with its place and history."""

    session_key: str
    channel_id: str
    queued_at: float  # when it first entered the queue: fixes its place (FCFS) for good
    priority: int = 0  # > 0 for entitled customers; higher goes first
    skills: frozenset[str] = frozenset()  # required skills (per-skill / per-channel queues)
    declined_by: frozenset[str] = frozenset()  # operators who must not get it again
    waiting_since: float | None = None  # start of the current wait (defaults to queued_at)
    held_until: float | None = None  # on hold (assigned only): back to the queue at this time

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "declined_by", frozenset(self.declined_by))
        if self.waiting_since is None:
            object.__setattr__(self, "waiting_since", self.queued_at)

    @property
    def order_key(self) -> tuple[int, float, str]:
        """Routing order: priority desc, then first queued first, then key (determinism)."""
        return (-self.priority, self.queued_at, self.session_key)

    @property
    def queue_name(self) -> tuple[str, ...]:
        """Sessions with the same required skills form one queue (for positions)."""
        return tuple(sorted(self.skills))

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_key": self.session_key,
            "channel_id": self.channel_id,
            "queued_at": self.queued_at,
            "priority": self.priority,
            "skills": sorted(self.skills),
            "declined_by": sorted(self.declined_by),
            "waiting_since": self.waiting_since,
            "held_until": self.held_until,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "QueuedSession":
        return cls(
            session_key=d["session_key"],
            channel_id=d["channel_id"],
            queued_at=float(d["queued_at"]),
            priority=int(d.get("priority", 0)),
            skills=frozenset(d.get("skills", ())),
            declined_by=frozenset(d.get("declined_by", ())),
            waiting_since=d.get("waiting_since"),
            held_until=d.get("held_until"),
        )


@dataclass(frozen=True, slots=True)
class RoutingState:
    """Operators, the queue (sorted in routing order) and the tickets of assigned sessions.

    Invariants: a session key is either in ``queue`` or in ``assigned`` (never both), and every key
    in ``assigned`` is in exactly one operator's ``active``. Treat the dicts as read-only.
    """

    operators: Mapping[str, Operator] = field(default_factory=dict)
    queue: tuple[QueuedSession, ...] = ()
    assigned: Mapping[str, QueuedSession] = field(default_factory=dict)
    rr_last: str | None = None  # round-robin cursor (only the ROUND_ROBIN policy uses it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "queue", tuple(sorted(self.queue, key=lambda t: t.order_key)))

    def is_queued(self, session_key: str) -> bool:
        return any(t.session_key == session_key for t in self.queue)

    def ticket(self, session_key: str) -> QueuedSession | None:
        if session_key in self.assigned:
            return self.assigned[session_key]
        for t in self.queue:
            if t.session_key == session_key:
                return t
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "operators": [self.operators[k].to_dict() for k in sorted(self.operators)],
            "queue": [t.to_dict() for t in self.queue],
            "assigned": [self.assigned[k].to_dict() for k in sorted(self.assigned)],
            "rr_last": self.rr_last,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RoutingState":
        v = d.get("v", STATE_VERSION)
        if v != STATE_VERSION:
            raise ValueError(f"unsupported routing state version {v!r}")
        ops = [Operator.from_dict(o) for o in d.get("operators", ())]
        assigned = [QueuedSession.from_dict(t) for t in d.get("assigned", ())]
        return cls(
            operators={o.id: o for o in ops},
            queue=tuple(QueuedSession.from_dict(t) for t in d.get("queue", ())),
            assigned={t.session_key: t for t in assigned},
            rr_last=d.get("rr_last"),
        )


# --------------------------------------------------------------------------- effects


class _Effect:
    """What routing asks the caller to do; `to_dict` carries its `kind` for effect_from_dict."""

    __slots__ = ()
    kind = ""

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["kind"] = self.kind
        return d


@dataclass(frozen=True, slots=True)
class Assignment(_Effect):
    """A session given to an operator: set Case owner + session operator, write a routing record."""

    session_key: str
    channel_id: str
    operator_id: str
    queued_at: float  # when the session first entered the queue
    assigned_at: float
    wait_s: float  # time in the queue for this assignment (0 for an operator-to-operator transfer)
    operator_load: int  # operator's active chats at that moment, *before* this one
    operator_capacity: int
    reason: str  # only_eligible | least_load | longest_wait | operator_id | round_robin | transfer
    priority: int = 0
    eligible: int = 1  # how many operators could have taken it
    from_operator_id: str | None = None  # set for transfers

    kind = "assignment"


@dataclass(frozen=True, slots=True)
class Requeued(_Effect):
    """A session an operator held went back to the queue."""

    session_key: str
    channel_id: str
    operator_id: str  # who held it
    at: float
    reason: str  # declined | transferred | offline | presence_expired | hold_expired

    kind = "requeued"


@dataclass(frozen=True, slots=True)
class Released(_Effect):
    """A session left routing (closed); ``operator_id`` is None if it was still queued."""

    session_key: str
    channel_id: str
    operator_id: str | None
    at: float

    kind = "released"


@dataclass(frozen=True, slots=True)
class OnHold(_Effect):
    """The operator put a chat on hold (``until`` set) or took it back (``until`` None)."""

    session_key: str
    channel_id: str
    operator_id: str
    at: float
    until: float | None
    memo: str = ""

    kind = "on_hold"


Effect = Union[Assignment, Requeued, Released, OnHold]
_EFFECTS = {c.kind: c for c in (Assignment, Requeued, Released, OnHold)}


def effect_from_dict(d: Mapping[str, Any]) -> Effect:
    d = dict(d)
    cls = _EFFECTS[d.pop("kind")]
    return cls(**d)


# --------------------------------------------------------------------------- helpers


def queue_order(tickets: Iterable[QueuedSession]) -> tuple[QueuedSession, ...]:
    return tuple(sorted(tickets, key=lambda t: t.order_key))


def operator_of(state: RoutingState, session_key: str) -> str | None:
    """The operator holding ``session_key``, or None (queued or unknown)."""
    if session_key not in state.assigned:
        return None
    for op in state.operators.values():
        if session_key in op.active:
            return op.id
    return None  # pragma: no cover - would break the invariant


def _insert(queue: tuple[QueuedSession, ...], ticket: QueuedSession) -> tuple[QueuedSession, ...]:
    if ticket.held_until is not None:  # a queued session is never on hold
        ticket = replace(ticket, held_until=None)
    keys = [t.order_key for t in queue]
    i = bisect.bisect_left(keys, ticket.order_key)
    return queue[:i] + (ticket,) + queue[i:]


def _without(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    d = dict(mapping)
    d.pop(key, None)
    return d


def _requeue_held(state: RoutingState, op: Operator, now: float, reason: str) -> tuple[RoutingState, list[Effect]]:
    """Put every chat ``op`` holds back in the queue, each at its original place."""
    if not op.active:
        return state, []
    queue = state.queue
    assigned = dict(state.assigned)
    effects: list[Effect] = []
    for ticket in queue_order(assigned[k] for k in op.active if k in assigned):
        key = ticket.session_key
        del assigned[key]
        queue = _insert(queue, replace(ticket, waiting_since=now))
        effects.append(Requeued(key, ticket.channel_id, op.id, now, reason))
    ops = dict(state.operators)
    ops[op.id] = replace(op, active=frozenset())
    return replace(state, operators=ops, queue=queue, assigned=assigned), effects


# --------------------------------------------------------------------------- presence


def set_presence(
    state: RoutingState,
    operator_id: str,
    status: Presence | str,
    now: float,
    *,
    capacity: int | None = None,
    skills: Iterable[str] | None = None,
    config: RoutingConfig = RoutingConfig(),
) -> tuple[RoutingState, list[Effect]]:
    """Set an operator's presence (creating the operator on first sight; capacity defaults to
    ``config.default_capacity``). Also counts as a heartbeat.

    Busy and Away keep their chats but get no new ones. Offline holds nothing: its chats go back
    to the queue at their original place (``Requeued(reason="offline")``).
    """
    status = Presence(status)
    op = state.operators.get(operator_id)
    if op is None:
        op = Operator(id=operator_id, capacity=config.default_capacity)
    op = replace(
        op,
        status=status,
        last_seen_at=now,
        capacity=op.capacity if capacity is None else int(capacity),
        skills=op.skills if skills is None else frozenset(skills),
    )
    ops = dict(state.operators)
    ops[operator_id] = op
    state = replace(state, operators=ops)
    if status is Presence.OFFLINE:
        return _requeue_held(state, op, now, "offline")
    return state, []


def heartbeat(state: RoutingState, operator_id: str, now: float) -> tuple[RoutingState, list[Effect]]:
    """The operator's console is still there. Unknown or Offline operators are left alone (a late
    beat must not bring an operator back; the console sets presence again on reconnect)."""
    op = state.operators.get(operator_id)
    if op is None or op.status is Presence.OFFLINE:
        return state, []
    if op.last_seen_at is not None and op.last_seen_at >= now:
        return state, []
    ops = dict(state.operators)
    ops[operator_id] = replace(op, last_seen_at=now)
    return replace(state, operators=ops), []


def expire_stale(
    state: RoutingState, now: float, ttl_s: float | None = None, *, config: RoutingConfig = RoutingConfig()
) -> tuple[RoutingState, list[Effect]]:
    """Operators not Offline whose last heartbeat is older than ``ttl_s`` (default
    ``config.presence_ttl_s``) become Offline; their chats go back to the queue at their original
    place (``Requeued(reason="presence_expired")``) so a closed browser never strands a customer.
    """
    ttl = config.presence_ttl_s if ttl_s is None else ttl_s
    effects: list[Effect] = []
    for op_id in sorted(state.operators):
        op = state.operators[op_id]
        if op.status is Presence.OFFLINE:
            continue
        if op.last_seen_at is not None and now - op.last_seen_at <= ttl:
            continue
        op = replace(op, status=Presence.OFFLINE)
        ops = dict(state.operators)
        ops[op_id] = op
        state, eff = _requeue_held(replace(state, operators=ops), op, now, "presence_expired")
        effects.extend(eff)
    return state, effects


# --------------------------------------------------------------------------- queue


def enqueue(
    state: RoutingState,
    session_key: str,
    channel_id: str,
    now: float,
    *,
    priority: int = 0,
    skills: Iterable[str] = (),
) -> tuple[RoutingState, list[Effect]]:
    """Queue a session for an operator. Idempotent: a session already queued or assigned is left
    as it is (a redelivered handoff job changes nothing)."""
    if session_key in state.assigned or state.is_queued(session_key):
        return state, []
    ticket = QueuedSession(
        session_key=session_key,
        channel_id=channel_id,
        queued_at=now,
        priority=int(priority),
        skills=frozenset(skills),
    )
    return replace(state, queue=_insert(state.queue, ticket)), []


def _eligible(op: Operator, ticket: QueuedSession) -> bool:
    return (
        op.status is Presence.AVAILABLE
        and op.load < op.capacity
        and ticket.skills <= op.skills
        and op.id not in ticket.declined_by
    )


def _least_load_key(op: Operator) -> tuple[int, float, str]:
    # fewest active chats, then longest since last assignment (never assigned = longest), then id
    return (op.load, -math.inf if op.last_assigned_at is None else op.last_assigned_at, op.id)


def _choose_least_load(candidates: list[Operator]) -> tuple[Operator, str]:
    ranked = sorted(candidates, key=_least_load_key)
    best = ranked[0]
    if len(ranked) == 1:
        return best, "only_eligible"
    a, b = _least_load_key(best), _least_load_key(ranked[1])
    if a[0] != b[0]:
        return best, "least_load"
    if a[1] != b[1]:
        return best, "longest_wait"
    return best, "operator_id"


def _choose_round_robin(candidates: list[Operator], order: list[str], last: str | None) -> tuple[Operator, str]:
    by_id = {op.id: op for op in candidates}
    start = bisect.bisect_right(order, last) if last is not None else 0
    for i in range(len(order)):
        op_id = order[(start + i) % len(order)]
        if op_id in by_id:
            return by_id[op_id], "round_robin"
    raise AssertionError("no candidate")  # pragma: no cover


def route(
    state: RoutingState, now: float, *, policy: Policy | str | None = None, config: RoutingConfig = RoutingConfig()
) -> tuple[RoutingState, list[Assignment]]:
    """Assign as many queued sessions as possible.

    Sessions are taken in routing order (priority desc, then first queued first). For each, the
    eligible operators are Available, below capacity, hold every required skill and have not
    declined it. LEAST_LOAD picks the fewest active chats, then the longest since their last
    assignment (never assigned first), then the lowest id. A session nobody can take stays queued
    and does not block the ones behind it that someone can take (e.g. another skill).
    """
    policy = Policy(policy if policy is not None else config.policy)
    ops = dict(state.operators)
    if not any(op.free for op in ops.values()) or not state.queue:
        return state, []
    order = sorted(ops)
    rr_last = state.rr_last
    remaining: list[QueuedSession] = []
    assigned = dict(state.assigned)
    out: list[Assignment] = []
    for ticket in state.queue:
        candidates = [op for op in ops.values() if _eligible(op, ticket)]
        if not candidates:
            remaining.append(ticket)
            continue
        if policy is Policy.ROUND_ROBIN:
            op, reason = _choose_round_robin(candidates, order, rr_last)
            rr_last = op.id
        else:
            op, reason = _choose_least_load(candidates)
        out.append(
            Assignment(
                session_key=ticket.session_key,
                channel_id=ticket.channel_id,
                operator_id=op.id,
                queued_at=ticket.queued_at,
                assigned_at=now,
                wait_s=max(0.0, now - (ticket.waiting_since if ticket.waiting_since is not None else ticket.queued_at)),
                operator_load=op.load,
                operator_capacity=op.capacity,
                reason=reason,
                priority=ticket.priority,
                eligible=len(candidates),
            )
        )
        ops[op.id] = replace(op, active=op.active | {ticket.session_key}, last_assigned_at=now)
        assigned[ticket.session_key] = ticket
    if not out:
        return state, []
    new = replace(state, operators=ops, queue=tuple(remaining), assigned=assigned, rr_last=rr_last)
    return new, out


# --------------------------------------------------------------------------- operator actions


def release(state: RoutingState, session_key: str, now: float) -> tuple[RoutingState, list[Effect]]:
    """The chat is over (closed by the operator, the customer or a timeout): free the slot or
    drop it from the queue. Idempotent: an unknown session changes nothing."""
    ticket = state.assigned.get(session_key)
    if ticket is not None:
        op_id = operator_of(state, session_key)
        ops = dict(state.operators)
        if op_id is not None:
            ops[op_id] = replace(ops[op_id], active=ops[op_id].active - {session_key})
        new = replace(state, operators=ops, assigned=_without(state.assigned, session_key))
        return new, [Released(session_key, ticket.channel_id, op_id, now)]
    for t in state.queue:
        if t.session_key == session_key:
            queue = tuple(x for x in state.queue if x.session_key != session_key)
            return replace(state, queue=queue), [Released(session_key, t.channel_id, None, now)]
    return state, []


def decline(state: RoutingState, session_key: str, operator_id: str, now: float) -> tuple[RoutingState, list[Effect]]:
    """The operator declines a chat routed to them: it goes back to the queue at its original
    place, its wait keeps running (the customer was never served) and that operator will not get
    it again. Idempotent: if the operator does not hold it, nothing changes."""
    op = state.operators.get(operator_id)
    if op is None or session_key not in op.active:
        return state, []
    ticket = state.assigned[session_key]
    ops = dict(state.operators)
    ops[operator_id] = replace(op, active=op.active - {session_key})
    ticket = replace(ticket, declined_by=ticket.declined_by | {operator_id})
    new = replace(
        state,
        operators=ops,
        assigned=_without(state.assigned, session_key),
        queue=_insert(state.queue, ticket),
    )
    return new, [Requeued(session_key, ticket.channel_id, operator_id, now, "declined")]


def transfer(
    state: RoutingState,
    session_key: str,
    to_operator_id: str | None,
    now: float,
    *,
    skills: Iterable[str] | None = None,
    exclude_previous: bool = True,
    force: bool = False,
) -> tuple[RoutingState, list[Effect]]:
    """Move a chat to another operator, or back to the queue (``to_operator_id=None``).

    * To an operator: the target must be Available with a free slot, unless ``force`` (a
      supervisor may overfill a Busy/Away operator; never an Offline one). A queued session can be
      given to an operator this way too. Effect: ``Assignment(reason="transfer")``.
    * To the queue: the session returns at its original place (it was queued before everyone who
      came later), its wait restarts now; ``skills`` may retarget it (e.g. to the billing queue);
      with ``exclude_previous`` the operator who gave it back will not get it again.
      Effect: ``Requeued(reason="transferred")``.

    Raises :class:`RoutingError` for an unknown session or a target that cannot take it.
    Transferring to the operator who already holds it changes nothing.
    """
    ticket = state.ticket(session_key)
    if ticket is None:
        raise RoutingError(f"unknown session {session_key!r}")
    from_id = operator_of(state, session_key)
    ops = dict(state.operators)

    if to_operator_id is None:
        if from_id is None:  # already queued: only a retarget, if any
            if skills is None:
                return state, []
            queue = tuple(t for t in state.queue if t.session_key != session_key)
            return replace(state, queue=_insert(queue, replace(ticket, skills=frozenset(skills)))), []
        ops[from_id] = replace(ops[from_id], active=ops[from_id].active - {session_key})
        ticket = replace(
            ticket,
            waiting_since=now,
            skills=ticket.skills if skills is None else frozenset(skills),
            declined_by=ticket.declined_by | ({from_id} if exclude_previous else frozenset()),
        )
        new = replace(
            state,
            operators=ops,
            assigned=_without(state.assigned, session_key),
            queue=_insert(state.queue, ticket),
        )
        return new, [Requeued(session_key, ticket.channel_id, from_id, now, "transferred")]

    target = ops.get(to_operator_id)
    if target is None:
        raise RoutingError(f"unknown operator {to_operator_id!r}")
    if to_operator_id == from_id:
        return state, []
    if target.status is Presence.OFFLINE:
        raise RoutingError(f"operator {to_operator_id!r} is Offline")
    if not force and (target.status is not Presence.AVAILABLE or target.load >= target.capacity):
        raise RoutingError(
            f"operator {to_operator_id!r} cannot take a chat ({target.status.value}, {target.load}/{target.capacity})"
        )
    if from_id is not None:
        ops[from_id] = replace(ops[from_id], active=ops[from_id].active - {session_key})
        wait = 0.0
        queue = state.queue
    else:
        wait = max(0.0, now - (ticket.waiting_since if ticket.waiting_since is not None else ticket.queued_at))
        queue = tuple(t for t in state.queue if t.session_key != session_key)
    if skills is not None:
        ticket = replace(ticket, skills=frozenset(skills))
    ticket = replace(ticket, held_until=None)  # the new operator gets it live
    assignment = Assignment(
        session_key=session_key,
        channel_id=ticket.channel_id,
        operator_id=target.id,
        queued_at=ticket.queued_at,
        assigned_at=now,
        wait_s=wait,
        operator_load=target.load,
        operator_capacity=target.capacity,
        reason="transfer",
        priority=ticket.priority,
        eligible=1,
        from_operator_id=from_id,
    )
    ops[target.id] = replace(target, active=target.active | {session_key}, last_assigned_at=now)
    assigned = dict(state.assigned)
    assigned[session_key] = ticket
    return replace(state, operators=ops, queue=queue, assigned=assigned), [assignment]


# --------------------------------------------------------------------------- hold


def put_on_hold(
    state: RoutingState, session_key: str, operator_id: str, now: float, until: float, *, counts: bool, memo: str = ""
) -> tuple[RoutingState, list[Effect]]:
    """The operator puts a chat they hold on hold until ``until``: it stays theirs (and comes
    back to them on `resume`), counting against their capacity only if ``counts``; at ``until``
    `expire_holds` puts it back in the queue. Raises RoutingError if they do not hold it."""
    op = state.operators.get(operator_id)
    if op is None or session_key not in op.active:
        raise RoutingError(f"operator {operator_id!r} does not hold {session_key!r}")
    ticket = replace(state.assigned[session_key], held_until=until)
    ops = dict(state.operators)
    ops[operator_id] = replace(op, on_hold=(op.on_hold - {session_key}) | (frozenset() if counts else {session_key}))
    assigned = {**state.assigned, session_key: ticket}
    effect = OnHold(session_key, ticket.channel_id, operator_id, now, until, memo)
    return replace(state, operators=ops, assigned=assigned), [effect]


def resume(state: RoutingState, session_key: str, operator_id: str, now: float) -> tuple[RoutingState, list[Effect]]:
    """The operator takes a held chat back (it counts against their capacity again). Idempotent:
    a chat that is not on hold with them changes nothing (e.g. its hold already timed out)."""
    op = state.operators.get(operator_id)
    ticket = state.assigned.get(session_key)
    if op is None or session_key not in op.active or ticket is None or ticket.held_until is None:
        return state, []
    ops = dict(state.operators)
    ops[operator_id] = replace(op, on_hold=op.on_hold - {session_key})
    assigned = {**state.assigned, session_key: replace(ticket, held_until=None)}
    return replace(state, operators=ops, assigned=assigned), [OnHold(session_key, ticket.channel_id, op.id, now, None)]


def expire_holds(state: RoutingState, now: float) -> tuple[RoutingState, list[Effect]]:
    """Held chats whose time is up go back to the queue at their original place (the operator
    who held them may get them again), ``Requeued(reason="hold_expired")``."""
    effects: list[Effect] = []
    for key in sorted(k for k, t in state.assigned.items() if t.held_until is not None and t.held_until <= now):
        op_id = operator_of(state, key)
        ticket = state.assigned[key]
        ops = dict(state.operators)
        if op_id is not None:
            ops[op_id] = replace(ops[op_id], active=ops[op_id].active - {key})
        state = replace(
            state,
            operators=ops,
            assigned=_without(state.assigned, key),
            queue=_insert(state.queue, replace(ticket, waiting_since=now)),
        )
        effects.append(Requeued(key, ticket.channel_id, op_id or "", now, "hold_expired"))
    return state, effects
