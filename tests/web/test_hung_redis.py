"""Issue 17, finding 4: a hung Redis (SIGSTOP) held webhooks 10-20 s before the 503, and /readyz 5 s.

LINE gives up on a webhook after 2 s, so the relay must answer 503 (LINE redelivers) well before:
within 1.5 s, with the default configuration, for every request waiting at the time.
"""

from __future__ import annotations

import threading
import time

import pytest

from connector.config import load_config
from connector.entrypoints.app import create_app
from connector.local.redis_server import RedisServer
from tests.conftest import base_settings
from tests.web.test_line_webhook import body_of, post, text_event

pytestmark = pytest.mark.slow
ANSWER_BUDGET_S = 1.5


@pytest.fixture
def rds():
    with RedisServer() as server:
        yield server


@pytest.fixture
def app(environ, rds):
    environ["REDIS_URL"] = rds.url
    app = create_app(load_config(data=base_settings(), environ=environ))  # default timeouts
    app.extensions["connector"].salesforce_ok_at = time.time() + 3600  # /readyz: only Redis is in question
    return app


def _event(i: int) -> dict:
    return text_event(event_id=f"01HZZZZZZZZZZZZZZZZZZZZ{i:03d}", user="U" + f"{i:032d}")


def _timed_posts(app, events: list[dict]) -> list[tuple[int, float]]:
    """Post each event from its own thread at once; (status, seconds) of each."""
    out: list[tuple[int, float]] = [(0, 0.0)] * len(events)

    def one(i: int) -> None:
        t0 = time.monotonic()
        status = post(app.test_client(), body_of(events[i])).status_code
        out[i] = (status, time.monotonic() - t0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_finding_4_a_hung_redis_makes_webhooks_answer_503_within_one_and_a_half_seconds(app, rds):
    assert _timed_posts(app, [_event(0)]) == [(200, pytest.approx(0, abs=ANSWER_BUDGET_S))]
    rds.pause()
    try:
        answers = _timed_posts(app, [_event(i) for i in range(1, 9)])
    finally:
        rds.resume()
    assert [status for status, _ in answers] == [503] * 8
    slowest = max(seconds for _, seconds in answers)
    assert slowest <= ANSWER_BUDGET_S, f"the slowest webhook answered after {slowest:.2f} s"
    # and once Redis answers again, so does the relay (LINE's redelivery is stored)
    assert _timed_posts(app, [_event(1)])[0][0] == 200


def test_finding_4_readyz_answers_quickly_and_says_redis_is_unavailable_when_it_hangs(app, rds):
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    rds.pause()
    try:
        t0 = time.monotonic()
        resp = client.get("/readyz")
        seconds = time.monotonic() - t0
    finally:
        rds.resume()
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["redis"].startswith("unavailable")
    assert seconds <= ANSWER_BUDGET_S, f"/readyz answered after {seconds:.2f} s"
