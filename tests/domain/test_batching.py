"""Adaptive batching: how long a small batch's Salesforce write may wait for company."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.domain.batching import Average, WindowRules, claim_share, quiet_gap, widening, window_seconds

RULES = WindowRules(max_s=0.6, target_events=6, min_rate=2.0)


def test_a_quiet_system_writes_at_once():
    assert window_seconds(RULES, rate=1.0, write_s=0.15) == 0.0
    assert window_seconds(RULES, rate=0.0, write_s=0.15) == 0.0


def test_steady_traffic_waits_for_about_the_target_number_of_events():
    # 10 events/s: 6 more take 0.6 s, less the 0.15 s a write takes anyway
    assert window_seconds(RULES, rate=10.0, write_s=0.15) == pytest.approx(0.45)


def test_heavy_traffic_needs_no_wait_at_all():
    assert window_seconds(RULES, rate=200.0, write_s=0.15) == 0.0


def test_off_means_never():
    assert window_seconds(WindowRules(max_s=0, target_events=6, min_rate=0), rate=50.0, write_s=0) == 0.0


@given(
    rate=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    write_s=st.floats(min_value=0, max_value=60, allow_nan=False),
    share=st.one_of(st.none(), st.floats(min_value=0, max_value=2, allow_nan=False)),
)
def test_a_write_never_waits_longer_than_its_maximum(rate, write_s, share):
    w = window_seconds(RULES, rate, write_s, share)
    assert 0.0 <= w <= RULES.max_s * RULES.widen_factor
    if share is None or share <= RULES.widen_from:
        assert w <= RULES.max_s


def test_the_window_widens_as_the_daily_limit_nears_and_not_before():
    assert widening(RULES, None) == widening(RULES, 0.3) == widening(RULES, 0.5) == 1.0
    assert 1.0 < widening(RULES, 0.7) < widening(RULES, 0.9) < widening(RULES, 1.0) == RULES.widen_factor
    # near the limit even slow traffic is gathered
    assert window_seconds(RULES, rate=1.0, write_s=0.15, usage_share=0.95) > 0


def test_the_write_time_is_a_moving_average():
    a = Average(0.15)
    for _ in range(50):
        a.add(0.4)
    assert a.value == pytest.approx(0.4, abs=0.01)


def test_a_window_closes_early_after_four_mean_gaps_without_a_claim():
    assert quiet_gap(rate=20.0, window_s=0.6) == pytest.approx(0.2)
    assert quiet_gap(rate=1000.0, window_s=0.6) == 0.1  # never shorter than 0.1 s
    assert quiet_gap(rate=2.0, window_s=0.6) == 0.6  # never longer than the window


def test_a_small_backlog_goes_to_one_claim_whole():
    assert claim_share(ready=80, workers=4, min_conversations=100, max_conversations=1000) == 100


def test_a_large_backlog_is_shared_among_the_workers():
    assert claim_share(ready=2000, workers=4, min_conversations=100, max_conversations=1000) == 500
    assert claim_share(ready=2001, workers=4, min_conversations=100, max_conversations=1000) == 501


def test_one_worker_takes_as_much_as_a_claim_scans():
    assert claim_share(ready=5000, workers=1, min_conversations=100, max_conversations=1000) == 1000


@given(st.integers(0, 10**6), st.integers(0, 64))
def test_the_share_stays_within_its_bounds(ready, workers):
    share = claim_share(ready=ready, workers=workers, min_conversations=100, max_conversations=1000)
    assert 100 <= share <= 1000
    assert share * max(workers, 1) >= min(ready, 1000)  # together the workers can take what is ready
