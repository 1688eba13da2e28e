"""Routing policy: one behaviour per test. Times are float seconds."""

import json

import pytest

from connector.domain.routing import (
    Assignment,
    Operator,
    Policy,
    Presence,
    QueuedSession,
    Released,
    Requeued,
    RoutingConfig,
    RoutingError,
    RoutingState,
    decline,
    effect_from_dict,
    enqueue,
    expire_stale,
    heartbeat,
    operator_of,
    release,
    route,
    set_presence,
    transfer,
)

T0 = 1_700_000_000.0


def op(id, *, load=0, capacity=3, status=Presence.AVAILABLE, last=None, seen=T0, skills=()):
    return Operator(
        id=id,
        status=status,
        capacity=capacity,
        active=frozenset(f"{id}-held-{i}" for i in range(load)),
        last_assigned_at=last,
        last_seen_at=seen,
        skills=frozenset(skills),
    )


def state_of(*ops, queue=()):
    assigned = {k: QueuedSession(k, "ch", T0 - 600) for o in ops for k in o.active}
    return RoutingState(operators={o.id: o for o in ops}, queue=tuple(queue), assigned=assigned)


def queued(state, *keys, at=T0, **kw):
    for i, k in enumerate(keys):
        state, _ = enqueue(state, k, "ch", at + i, **kw)
    return state


def check_invariants(state):
    held = [k for o in state.operators.values() for k in o.active]
    assert len(held) == len(set(held)), "a session held by two operators"
    assert set(held) == set(state.assigned)
    assert not set(state.assigned) & {t.session_key for t in state.queue}


# --------------------------------------------------------------- operator choice


def test_least_load_wins():
    s = queued(state_of(op("a", load=2), op("b", load=1), op("c", load=2)), "s1")
    s, out = route(s, T0 + 10)
    assert [(a.session_key, a.operator_id, a.reason) for a in out] == [("s1", "b", "least_load")]
    check_invariants(s)


def test_tie_on_load_goes_to_longest_since_last_assignment():
    s = queued(state_of(op("a", load=1, last=T0 - 10), op("b", load=1, last=T0 - 300)), "s1")
    _, out = route(s, T0 + 10)
    assert (out[0].operator_id, out[0].reason) == ("b", "longest_wait")


def test_never_assigned_beats_assigned_long_ago():
    s = queued(state_of(op("a", last=T0 - 86_400), op("b", last=None)), "s1")
    _, out = route(s, T0 + 10)
    assert out[0].operator_id == "b"


def test_full_tie_is_broken_by_operator_id():
    s = queued(state_of(op("b"), op("a")), "s1")
    _, out = route(s, T0 + 10)
    assert (out[0].operator_id, out[0].reason) == ("a", "operator_id")


def test_least_load_is_absolute_chat_count_not_share_of_capacity():
    # 1 of 2 slots (50 %) beats 2 of 10 (20 %): the rule is "fewest active chats"
    s = queued(state_of(op("big", load=2, capacity=10), op("small", load=1, capacity=2)), "s1")
    _, out = route(s, T0)
    assert out[0].operator_id == "small"


def test_capacity_is_respected():
    s = queued(state_of(op("a", capacity=2), op("b", capacity=1)), "s1", "s2", "s3", "s4", "s5")
    s, out = route(s, T0 + 10)
    assert len(out) == 3
    assert s.operators["a"].load == 2 and s.operators["b"].load == 1
    assert [t.session_key for t in s.queue] == ["s4", "s5"]
    check_invariants(s)


def test_zero_capacity_operator_gets_nothing():
    s = queued(state_of(op("a", capacity=0)), "s1")
    s2, out = route(s, T0)
    assert out == [] and s2 == s


@pytest.mark.parametrize("status", [Presence.BUSY, Presence.AWAY, Presence.OFFLINE])
def test_busy_away_offline_get_nothing(status):
    s = queued(state_of(op("a", status=status)), "s1")
    s2, out = route(s, T0)
    assert out == []
    assert [t.session_key for t in s2.queue] == ["s1"]


def test_route_assigns_as_many_as_possible_spreading_load():
    s = queued(state_of(op("a"), op("b"), op("c")), *[f"s{i}" for i in range(6)])
    s, out = route(s, T0 + 10)
    assert len(out) == 6
    assert sorted(o.load for o in s.operators.values()) == [2, 2, 2]
    check_invariants(s)


def test_assignment_records_the_routing_facts():
    s = state_of(op("a", load=1, capacity=3), op("b", load=2))
    s, _ = enqueue(s, "s1", "ch9", T0, priority=1)
    s, out = route(s, T0 + 42.5)
    assert out == [
        Assignment(
            session_key="s1",
            channel_id="ch9",
            operator_id="a",
            queued_at=T0,
            assigned_at=T0 + 42.5,
            wait_s=42.5,
            operator_load=1,
            operator_capacity=3,
            reason="least_load",
            priority=1,
            eligible=2,
        )
    ]
    assert s.operators["a"].last_assigned_at == T0 + 42.5
    assert operator_of(s, "s1") == "a"


def test_only_eligible_reason():
    s = queued(state_of(op("a"), op("b", status=Presence.AWAY)), "s1")
    _, out = route(s, T0)
    assert (out[0].reason, out[0].eligible) == ("only_eligible", 1)


def test_route_with_nothing_to_do_returns_same_state():
    s = state_of(op("a"))
    assert route(s, T0) == (s, [])


# --------------------------------------------------------------- queue order


def test_priority_before_fcfs():
    s = state_of(op("a", capacity=1))
    s, _ = enqueue(s, "early", "ch", T0)
    s, _ = enqueue(s, "entitled", "ch", T0 + 60, priority=1)
    s, out = route(s, T0 + 61)
    assert [a.session_key for a in out] == ["entitled"]
    assert [t.session_key for t in s.queue] == ["early"]


def test_fcfs_within_priority():
    s = state_of(op("a", capacity=2))
    s, _ = enqueue(s, "second", "ch", T0 + 5, priority=1)
    s, _ = enqueue(s, "first", "ch", T0, priority=1)
    s, _ = enqueue(s, "third", "ch", T0 + 9, priority=1)
    _, out = route(s, T0 + 10)
    assert [a.session_key for a in out] == ["first", "second"]


def test_priority_disabled_by_config_is_plain_fcfs():
    cfg = RoutingConfig(entitled_priority=0)
    s = state_of(op("a", capacity=1))
    s, _ = enqueue(s, "early", "ch", T0, priority=cfg.priority_for(False))
    s, _ = enqueue(s, "entitled", "ch", T0 + 1, priority=cfg.priority_for(True))
    _, out = route(s, T0 + 2)
    assert [a.session_key for a in out] == ["early"]


def test_enqueue_is_idempotent():
    s = queued(state_of(op("a", status=Presence.AWAY)), "s1", at=T0)
    s2, _ = enqueue(s, "s1", "ch", T0 + 100)
    assert s2 == s
    assert s2.queue[0].queued_at == T0


def test_enqueue_of_an_assigned_session_changes_nothing():
    s, _ = route(queued(state_of(op("a")), "s1"), T0)
    s2, _ = enqueue(s, "s1", "ch", T0 + 5)
    assert s2 == s


# --------------------------------------------------------------- skills


def test_skill_session_goes_only_to_operators_with_the_skill():
    s = state_of(op("plain"), op("biller", load=2, skills={"billing"}))
    s, _ = enqueue(s, "s1", "ch", T0, skills={"billing"})
    _, out = route(s, T0)
    assert out[0].operator_id == "biller"


def test_unservable_skill_session_does_not_block_the_queue_behind_it():
    s = state_of(op("plain"))
    s, _ = enqueue(s, "needs-thai", "ch", T0, skills={"th"})
    s, _ = enqueue(s, "general", "ch", T0 + 1)
    s, out = route(s, T0 + 2)
    assert [a.session_key for a in out] == ["general"]
    assert [t.session_key for t in s.queue] == ["needs-thai"]


def test_per_channel_queue_as_a_skill():
    s = state_of(op("a", skills={"channel:111"}), op("b", skills={"channel:222"}))
    s, _ = enqueue(s, "s1", "222", T0, skills={"channel:222"})
    _, out = route(s, T0)
    assert out[0].operator_id == "b"


# --------------------------------------------------------------- transfer, decline, release


def test_transfer_to_operator():
    s, _ = route(queued(state_of(op("a"), op("b", load=1)), "s1", at=T0), T0 + 30)
    assert operator_of(s, "s1") == "a"
    s, eff = transfer(s, "s1", "b", T0 + 100)
    assert operator_of(s, "s1") == "b"
    a = eff[0]
    assert (a.reason, a.from_operator_id, a.operator_id, a.wait_s, a.operator_load, a.queued_at) == (
        "transfer",
        "a",
        "b",
        0.0,
        1,
        T0,
    )
    assert s.operators["a"].load == 0 and s.operators["b"].load == 2
    check_invariants(s)


def test_transfer_to_full_or_away_operator_is_refused_unless_forced():
    s, _ = route(queued(state_of(op("a"), op("b", load=1, capacity=1)), "s1"), T0)
    with pytest.raises(RoutingError):
        transfer(s, "s1", "b", T0 + 1)
    s2, eff = transfer(s, "s1", "b", T0 + 1, force=True)
    assert operator_of(s2, "s1") == "b" and s2.operators["b"].load == 2


def test_transfer_to_offline_operator_is_refused_even_forced():
    s, _ = route(queued(state_of(op("a"), op("b", status=Presence.OFFLINE)), "s1"), T0)
    with pytest.raises(RoutingError):
        transfer(s, "s1", "b", T0 + 1, force=True)


def test_transfer_of_unknown_session_or_to_unknown_operator_raises():
    s, _ = route(queued(state_of(op("a")), "s1"), T0)
    with pytest.raises(RoutingError):
        transfer(s, "nope", "a", T0)
    with pytest.raises(RoutingError):
        transfer(s, "s1", "ghost", T0)


def test_transfer_back_to_queue_keeps_place_and_excludes_the_giver():
    s = state_of(op("a", capacity=1), op("b", capacity=1, status=Presence.AWAY))
    s = queued(s, "s1", at=T0)
    s, _ = route(s, T0 + 1)  # a takes s1
    s, _ = enqueue(s, "s2", "ch", T0 + 50)
    s, eff = transfer(s, "s1", None, T0 + 100)
    assert eff == [Requeued("s1", "ch", "a", T0 + 100, "transferred")]
    assert [t.session_key for t in s.queue] == ["s1", "s2"]  # ahead of the later s2
    s, out = route(s, T0 + 101)
    assert [(x.session_key, x.operator_id) for x in out] == [("s2", "a")]  # a does not get s1 back
    s, _ = set_presence(s, "b", Presence.AVAILABLE, T0 + 102)
    s, out = route(s, T0 + 102)
    assert [(x.session_key, x.operator_id, x.wait_s) for x in out] == [("s1", "b", 2.0)]


def test_transfer_back_to_queue_can_retarget_skills():
    s = state_of(op("a"), op("biller", status=Presence.AWAY, skills={"billing"}))
    s, _ = route(queued(s, "s1"), T0)
    s, _ = transfer(s, "s1", None, T0 + 10, skills={"billing"})
    s, out = route(s, T0 + 11)
    assert out == []
    s, _ = set_presence(s, "biller", Presence.AVAILABLE, T0 + 12)
    _, out = route(s, T0 + 12)
    assert out[0].operator_id == "biller"


def test_transfer_of_queued_session_assigns_it_directly():
    s = queued(state_of(op("a", status=Presence.AWAY)), "s1", at=T0)
    s, _ = set_presence(s, "b", Presence.AVAILABLE, T0)
    s, eff = transfer(s, "s1", "b", T0 + 20)
    assert (eff[0].operator_id, eff[0].wait_s, eff[0].from_operator_id) == ("b", 20.0, None)
    assert s.queue == ()
    check_invariants(s)


def test_decline_excludes_the_decliner_and_keeps_the_place():
    s = state_of(op("a", capacity=1), op("b", capacity=1, status=Presence.AWAY))
    s = queued(s, "s1", at=T0)
    s, out = route(s, T0 + 5)
    assert out[0].operator_id == "a"
    s, _ = enqueue(s, "s2", "ch", T0 + 10)
    s, eff = decline(s, "s1", "a", T0 + 20)
    assert eff == [Requeued("s1", "ch", "a", T0 + 20, "declined")]
    assert [t.session_key for t in s.queue] == ["s1", "s2"]
    s, out = route(s, T0 + 21)
    assert [(x.session_key, x.operator_id) for x in out] == [("s2", "a")]
    s, _ = set_presence(s, "b", Presence.AVAILABLE, T0 + 30)
    s, out = route(s, T0 + 30)
    # the declined customer's wait kept running from the first queueing
    assert [(x.session_key, x.operator_id, x.wait_s) for x in out] == [("s1", "b", 30.0)]
    check_invariants(s)


def test_decline_by_someone_not_holding_it_changes_nothing():
    s, _ = route(queued(state_of(op("a"), op("b", load=2)), "s1"), T0)
    assert decline(s, "s1", "b", T0 + 1) == (s, [])
    s2, _ = decline(s, "s1", "a", T0 + 1)
    assert decline(s2, "s1", "a", T0 + 2) == (s2, [])  # repeated job


def test_release_frees_the_slot_for_the_next_in_queue():
    s = queued(state_of(op("a", capacity=1)), "s1", "s2", at=T0)
    s, _ = route(s, T0)
    s, eff = release(s, "s1", T0 + 300)
    assert eff == [Released("s1", "ch", "a", T0 + 300)]
    s, out = route(s, T0 + 300)
    assert [(x.session_key, x.wait_s) for x in out] == [("s2", 299.0)]


def test_release_of_queued_session_drops_it_and_unknown_is_noop():
    s = queued(state_of(op("a", status=Presence.AWAY)), "s1")
    s, eff = release(s, "s1", T0 + 5)
    assert s.queue == () and eff == [Released("s1", "ch", None, T0 + 5)]
    assert release(s, "s1", T0 + 6) == (s, [])


# --------------------------------------------------------------- presence


def test_set_presence_creates_operator_with_default_capacity():
    s, _ = set_presence(RoutingState(), "005A", "Available", T0, config=RoutingConfig(default_capacity=4))
    o = s.operators["005A"]
    assert (o.status, o.capacity, o.last_seen_at, o.load) == (Presence.AVAILABLE, 4, T0, 0)


def test_set_presence_away_keeps_chats_but_gets_no_new_ones():
    s, _ = route(queued(state_of(op("a")), "s1", "s2"), T0)
    s, eff = set_presence(s, "a", Presence.AWAY, T0 + 1)
    assert eff == [] and s.operators["a"].load == 2
    s = queued(s, "s3", at=T0 + 2)
    _, out = route(s, T0 + 3)
    assert out == []


def test_going_offline_requeues_held_chats_at_their_place():
    s = queued(state_of(op("a", capacity=1), op("b", capacity=1, load=1)), "s1", at=T0)
    s, _ = route(s, T0 + 1)
    s, _ = enqueue(s, "s2", "ch", T0 + 10)
    s, eff = set_presence(s, "a", Presence.OFFLINE, T0 + 20)
    assert eff == [Requeued("s1", "ch", "a", T0 + 20, "offline")]
    assert [t.session_key for t in s.queue] == ["s1", "s2"]
    check_invariants(s)


def test_presence_expiry_makes_stale_operator_offline_and_requeues_their_chats_first():
    s = state_of(op("a", seen=T0), op("b", seen=T0, status=Presence.BUSY, load=0))
    s = queued(s, "s1", "s2", at=T0)
    s, _ = route(s, T0 + 1)  # a holds s1, s2
    s, _ = enqueue(s, "s3", "ch", T0 + 10)
    s, _ = heartbeat(s, "b", T0 + 80)
    s, eff = expire_stale(s, T0 + 100, ttl_s=90)
    assert s.operators["a"].status is Presence.OFFLINE and s.operators["a"].load == 0
    assert s.operators["b"].status is Presence.BUSY  # beat at +80: still fresh
    assert [(e.session_key, e.reason) for e in eff] == [("s1", "presence_expired"), ("s2", "presence_expired")]
    # original queued_at: both go ahead of s3, which queued later
    assert [t.session_key for t in s.queue] == ["s1", "s2", "s3"]
    check_invariants(s)


def test_presence_within_ttl_does_not_expire():
    s = state_of(op("a", seen=T0))
    assert expire_stale(s, T0 + 90, ttl_s=90) == (s, [])


def test_presence_expiry_uses_config_ttl_by_default():
    s = state_of(op("a", seen=T0))
    s2, _ = expire_stale(s, T0 + 31, config=RoutingConfig(presence_ttl_s=30))
    assert s2.operators["a"].status is Presence.OFFLINE


def test_late_heartbeat_does_not_revive_an_offline_operator():
    s = state_of(op("a", status=Presence.OFFLINE, seen=T0))
    assert heartbeat(s, "a", T0 + 5) == (s, [])
    assert heartbeat(s, "ghost", T0 + 5) == (s, [])


# --------------------------------------------------------------- round robin, serialisation


def test_round_robin_cycles_in_fixed_order_ignoring_load():
    s = queued(state_of(op("a", load=2), op("b"), op("c")), "s1", "s2", "s3")
    s, out = route(s, T0, policy=Policy.ROUND_ROBIN)
    assert [x.operator_id for x in out] == ["a", "b", "c"]
    s = queued(s, "s4", at=T0 + 10)
    _, out = route(s, T0 + 10, policy="round_robin")
    assert [x.operator_id for x in out] == ["b"]  # a is full, cycle continues after c


def test_state_round_trips_through_json():
    s = queued(state_of(op("a", capacity=1, skills={"billing"}), op("b", status=Presence.AWAY)), "s1", "s2")
    s, _ = enqueue(s, "s3", "ch", T0 + 9, priority=2, skills={"billing"})
    s, _ = route(s, T0 + 10)
    s, _ = enqueue(s, "s4", "ch", T0 + 11)
    s, _ = decline(s, "s3", "a", T0 + 12)
    back = RoutingState.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s


def test_effects_round_trip_through_json():
    effs = [
        Assignment("s", "c", "o", T0, T0 + 1, 1.0, 0, 3, "least_load"),
        Requeued("s", "c", "o", T0, "declined"),
        Released("s", "c", None, T0),
    ]
    assert [effect_from_dict(json.loads(json.dumps(e.to_dict()))) for e in effs] == effs


def test_config_rejects_unknown_keys_with_their_name():
    with pytest.raises(ValueError, match="capacty"):
        RoutingConfig.from_dict({"capacty": 3})
    assert RoutingConfig.from_dict(RoutingConfig().to_dict()) == RoutingConfig()


# --------------------------------------------------------------- invariants under any sequence

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = ["a", "b", "c"]
_KEYS = [f"s{i}" for i in range(6)]
_action = st.one_of(
    st.tuples(st.just("presence"), st.sampled_from(_OPS), st.sampled_from(list(Presence))),
    st.tuples(st.just("enqueue"), st.sampled_from(_KEYS), st.integers(0, 1)),
    st.tuples(st.just("release"), st.sampled_from(_KEYS)),
    st.tuples(st.just("decline"), st.sampled_from(_KEYS), st.sampled_from(_OPS)),
    st.tuples(st.just("to_queue"), st.sampled_from(_KEYS)),
    st.tuples(st.just("expire"), st.integers(0, 200)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_action, max_size=40))
def test_any_sequence_keeps_invariants_and_never_exceeds_capacity_by_routing(actions):
    s = RoutingState()
    now = T0
    for act in actions:
        now += 7
        kind = act[0]
        if kind == "presence":
            s, _ = set_presence(s, act[1], act[2], now, capacity=2)
        elif kind == "enqueue":
            s, _ = enqueue(s, act[1], "ch", now, priority=act[2])
        elif kind == "release":
            s, _ = release(s, act[1], now)
        elif kind == "decline":
            s, _ = decline(s, act[1], act[2], now)
        elif kind == "to_queue":
            if s.ticket(act[1]) is not None:
                s, _ = transfer(s, act[1], None, now)
        else:
            s, _ = expire_stale(s, now + act[1], ttl_s=100)
        s, out = route(s, now)
        check_invariants(s)
        assert all(o.load <= o.capacity for o in s.operators.values())
        assert all(o.load == 0 for o in s.operators.values() if o.status is Presence.OFFLINE)
        # nothing routable left behind: each queued session has no eligible operator
        for t in s.queue:
            assert not any(
                o.status is Presence.AVAILABLE and o.load < o.capacity and o.id not in t.declined_by
                for o in s.operators.values()
            )
        assert RoutingState.from_dict(s.to_dict()) == s
