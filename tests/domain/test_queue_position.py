"""Queue positions, expected wait and the anti-spam notice rules. Times are float seconds."""

import json

import pytest

from connector.domain.queue_position import (
    QueueNotice,
    expected_wait_s,
    notices_due,
    queue_positions,
    should_notify,
)
from connector.domain.routing import (
    Operator,
    Presence,
    RoutingConfig,
    RoutingState,
    decline,
    enqueue,
    route,
)

T0 = 1_700_000_000.0
AHT = 600.0  # 10 minutes per chat


def full_ops(*caps, status=Presence.AVAILABLE, skills=()):
    """Available operators, each full (load == capacity)."""
    return {
        f"o{i}": Operator(
            id=f"o{i}",
            status=status,
            capacity=c,
            active=frozenset(f"o{i}-{j}" for j in range(c)),
            last_seen_at=T0,
            skills=frozenset(skills),
        )
        for i, c in enumerate(caps)
    }


def with_queue(ops, *keys, **kw):
    s = RoutingState(operators=ops)
    for i, k in enumerate(keys):
        s, _ = enqueue(s, k, "ch", T0 + i, **kw)
    return s


def n(pos, wait, at=T0, key="s"):
    return QueueNotice(key, "ch", pos, wait, at)


# --------------------------------------------------------------- positions and wait


def test_positions_follow_routing_order():
    s = with_queue(full_ops(2), "a", "b")
    s, _ = enqueue(s, "vip", "ch", T0 + 10, priority=1)
    assert [(x.session_key, x.position) for x in queue_positions(s, T0 + 11, AHT)] == [
        ("vip", 1),
        ("a", 2),
        ("b", 3),
    ]


def test_expected_wait_formula_with_everyone_full():
    # 2 operators x 2 slots = 4 slots freeing at 4/AHT: k-th in line waits k * AHT / 4
    s = with_queue(full_ops(2, 2), "a", "b", "c")
    waits = [x.expected_wait_s for x in queue_positions(s, T0, AHT)]
    assert waits == [150, 300, 450]


def test_expected_wait_is_zero_when_a_free_slot_is_waiting_for_it():
    assert expected_wait_s(ahead=1, capacity=4, free=2, avg_handle_time_s=AHT) == 0
    assert expected_wait_s(ahead=2, capacity=4, free=2, avg_handle_time_s=AHT) == 150


def test_expected_wait_is_unknown_when_nobody_available():
    s = with_queue(full_ops(3, status=Presence.AWAY), "a")
    assert queue_positions(s, T0, AHT) == [QueueNotice("a", "ch", 1, None, T0)]


def test_expected_wait_counts_only_operators_who_could_take_it():
    ops = {**full_ops(2), **{"x": Operator("x", Presence.AVAILABLE, 1, frozenset({"x-0"}), skills=frozenset({"th"}))}}
    s = RoutingState(operators=ops)
    s, _ = enqueue(s, "thai", "ch", T0, skills={"th"})
    s, _ = enqueue(s, "plain", "ch", T0 + 1)
    got = {x.session_key: (x.position, x.expected_wait_s) for x in queue_positions(s, T0, AHT)}
    # separate queues, both first in line; thai: only x (1 slot); plain: o0 (2) and x (1) = 3 slots
    assert got["thai"] == (1, 600)
    assert got["plain"] == (1, 200)  # o0 (2 slots) and x (1 slot): 3 slots


def test_decliner_is_not_counted_for_that_session():
    ops = {"a": Operator("a", Presence.AVAILABLE, 1, last_seen_at=T0), **full_ops(1)}
    s = with_queue(ops, "s1")
    s, _ = route(s, T0 + 1)
    s, _ = decline(s, "s1", "a", T0 + 2)
    [notice] = queue_positions(s, T0 + 3, AHT)
    # only o0 (1 slot, full) counts; a's free slot is not for s1
    assert (notice.position, notice.expected_wait_s) == (1, 600)


def test_negative_handle_time_is_rejected():
    with pytest.raises(ValueError):
        queue_positions(RoutingState(), T0, -1)


# --------------------------------------------------------------- notice rules


def test_first_notice_is_always_sent():
    assert should_notify(None, n(7, 900))


def test_small_changes_are_not_sent():
    assert not should_notify(n(7, 900), n(6, 840, at=T0 + 300))


def test_position_gain_of_step_is_sent_after_min_interval():
    cfg = RoutingConfig(notice_position_step=3, notice_min_interval_s=60)
    assert should_notify(n(7, 900), n(4, 850, at=T0 + 60), cfg)


def test_wait_change_of_two_minutes_is_sent_either_way():
    assert should_notify(n(7, 900), n(7, 1020, at=T0 + 61))
    assert should_notify(n(7, 900), n(6, 780, at=T0 + 61))
    assert not should_notify(n(7, 900), n(7, 1019, at=T0 + 61))


def test_nothing_is_sent_within_the_min_interval_even_for_big_changes():
    assert not should_notify(n(9, 1800), n(1, 0, at=T0 + 59))


def test_min_interval_is_configurable():
    cfg = RoutingConfig(notice_min_interval_s=300)
    assert not should_notify(n(9, 1800), n(1, 0, at=T0 + 299), cfg)
    assert should_notify(n(9, 1800), n(1, 0, at=T0 + 300), cfg)


def test_wait_becoming_known_or_unknown_is_sent():
    assert should_notify(n(3, None), n(3, 600, at=T0 + 60))
    assert should_notify(n(3, 600), n(3, None, at=T0 + 60))
    assert not should_notify(n(3, None), n(2, None, at=T0 + 60))


def test_notices_due_sends_first_notices_then_only_meaningful_ones():
    s = with_queue(full_ops(1, 1), *[f"s{i}" for i in range(6)])
    first = notices_due(s, T0 + 10, AHT, {})
    assert [x.session_key for x in first] == [f"s{i}" for i in range(6)]
    last_sent = {x.session_key: x for x in first}
    # 30 s later, nothing changed: nothing sent
    assert notices_due(s, T0 + 40, AHT, last_sent) == []
    # one more operator becomes available (full): waits drop by a third, positions same
    ops = {**s.operators, **{"o9": Operator("o9", Presence.AVAILABLE, 1, frozenset({"o9-0"}), last_seen_at=T0)}}
    s2 = RoutingState(operators=ops, queue=s.queue)
    due = notices_due(s2, T0 + 100, AHT, last_sent)
    # waits were 300,600,...,1800 -> 200,400,...,1200: only changes >= 120 s are sent
    assert [x.session_key for x in due] == ["s1", "s2", "s3", "s4", "s5"]


def test_notice_round_trips_through_json():
    x = n(2, None)
    assert QueueNotice.from_dict(json.loads(json.dumps(x.to_dict()))) == x
