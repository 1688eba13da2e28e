"""Hold: an operator parks a chat; it stays theirs, counts against capacity as configured, and
comes back to them on resume or to the queue when the hold times out."""

from __future__ import annotations

import pytest

from connector.domain.routing import (
    OnHold,
    Presence,
    Requeued,
    RoutingError,
    RoutingState,
    enqueue,
    expire_holds,
    put_on_hold,
    resume,
    route,
    set_presence,
)

CH = "1000000001"
T0 = 1_000.0
TEN_MIN = 600.0


def one_chat_with(op_id="005A", capacity=1) -> RoutingState:
    state, _ = set_presence(RoutingState(), op_id, Presence.AVAILABLE, T0, capacity=capacity)
    state, _ = enqueue(state, "s1", CH, T0)
    state, _ = route(state, T0)
    assert "s1" in state.operators[op_id].active
    return state


@pytest.mark.parametrize(("counts", "load"), [(True, 1), (False, 0)])
def test_a_held_chat_counts_against_capacity_only_if_configured(counts, load):
    state, effects = put_on_hold(one_chat_with(), "s1", "005A", T0 + 1, T0 + TEN_MIN, counts=counts, memo="在庫確認中")
    assert state.operators["005A"].load == load
    assert effects == [OnHold("s1", CH, "005A", T0 + 1, T0 + TEN_MIN, "在庫確認中")]
    # a new chat: the operator's only slot is free again only when the held chat does not count
    state, _ = enqueue(state, "s2", CH, T0 + 2)
    state, _ = route(state, T0 + 2)
    assert ("s2" in state.operators["005A"].active) is (not counts)


def test_resume_brings_the_chat_back_to_the_same_operator():
    state, _ = put_on_hold(one_chat_with(), "s1", "005A", T0 + 1, T0 + TEN_MIN, counts=False)
    state, effects = resume(state, "s1", "005A", T0 + 60)
    assert "s1" in state.operators["005A"].active and state.operators["005A"].load == 1
    assert effects == [OnHold("s1", CH, "005A", T0 + 60, None)]
    assert expire_holds(state, T0 + 2 * TEN_MIN) == (state, [])  # no hold left to time out


def test_the_hold_times_out_into_the_queue_at_its_original_place():
    state, _ = put_on_hold(one_chat_with(), "s1", "005A", T0 + 1, T0 + TEN_MIN, counts=True)
    state, _ = enqueue(state, "s2", CH, T0 + 5)  # came later
    assert expire_holds(state, T0 + TEN_MIN - 1)[1] == []  # not yet
    state, effects = expire_holds(state, T0 + TEN_MIN)
    assert effects == [Requeued("s1", CH, "005A", T0 + TEN_MIN, "hold_expired")]
    assert [t.session_key for t in state.queue] == ["s1", "s2"]
    assert state.queue[0].held_until is None
    assert "s1" not in state.operators["005A"].active


def test_only_the_operator_holding_a_chat_can_put_it_on_hold():
    with pytest.raises(RoutingError):
        put_on_hold(one_chat_with(), "s1", "005B", T0 + 1, T0 + TEN_MIN, counts=True)


def test_a_hold_survives_the_state_being_saved_and_loaded():
    state, _ = put_on_hold(one_chat_with(), "s1", "005A", T0 + 1, T0 + TEN_MIN, counts=False)
    again = RoutingState.from_dict(state.to_dict())
    assert again.assigned["s1"].held_until == T0 + TEN_MIN and again.operators["005A"].on_hold == {"s1"}
