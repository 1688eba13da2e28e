"""Finding 5 (issue 17): no input produces a 500 from the real server.

gunicorn runs as production runs it (gunicorn.conf.py, gevent worker) on 127.0.0.1 with a private
Redis; requests go over raw sockets (bench/http_fuzz.py). HTTP_FUZZ_REQUESTS and HTTP_FUZZ_SEED
change the run; `python -m bench.http_fuzz --requests 50000` is the long one.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from bench.http_fuzz import (
    ENDPOINTS,
    LINE_SECRET,
    Case,
    Server,
    callout_signature,
    fuzz,
    line_signature,
    send,
)
from connector.domain.media import make_token

pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server"), reason="needs redis-server (a private one is started)"
)


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.fixture
def server():
    s = Server(workers=1).start()
    yield s
    s.stop()


def webhook(body: bytes, **kw) -> Case:
    headers = [(b"Content-Type", b"application/json"), (b"x-line-signature", line_signature(body, LINE_SECRET))]
    return Case("/line/webhook", "POST", "/line/webhook", headers, body, **kw)


def callout(body: bytes, ts: bytes) -> Case:
    sig = callout_signature(ts.decode("latin-1"), body)
    headers = [(b"X-Connector-Timestamp", ts), (b"X-Connector-Signature", sig)]
    return Case("/salesforce/callout", "POST", "/salesforce/callout", headers, body)


def test_finding5_the_five_shapes_that_gave_a_500_get_their_documented_status(server):
    event = {"type": "message", "webhookEventId": "01DEEP", "source": {"type": "user", "userId": "U1"}, "x": "@@"}
    deep_webhook = json.dumps({"events": [event]}).replace('"@@"', nested(1000)).encode()
    assert send(server.port, webhook(deep_webhook)).status == 400

    envelope = json.dumps({"type": "session.close", "id": "c1", "data": "@@"})
    now = str(int(time.time())).encode()
    assert send(server.port, callout(envelope.replace('"@@"', nested(100_000)).encode(), now)).status == 400
    plain = envelope.replace('"@@"', "{}").encode()
    assert send(server.port, callout(plain, b"9" * 5000)).status == 401
    assert send(server.port, callout(plain, "²".encode("latin-1"))).status == 401

    token = make_token(server.keys, "068000000000001AAA", int(time.time()) + 600)
    server.stop_redis()
    answer = send(server.port, Case("/media/{token}", "GET", f"/media/{token}"))
    assert (answer.status, json.loads(answer.body)) == (503, {"error": "temporarily unavailable"})


def test_a_client_dribbling_its_body_is_answered_408_at_the_deadline(server):
    body = json.dumps({"events": []}).encode() + b" " * 50
    answer = send(server.port, webhook(body, dribble_s=0.2))
    assert answer.status == 408 and json.loads(answer.body) == {"error": "request body not received in time"}
    assert answer.elapsed < 1.0 + 0.5  # web.body_timeout_seconds in the fuzz config is 1 s


def test_the_body_deadline_holds_with_gthread_workers_too():
    server = Server(workers=1, worker_class="gthread").start()  # GUNICORN_WORKER_CLASS=gthread
    try:
        body = json.dumps({"events": []}).encode() + b" " * 50
        answer = send(server.port, webhook(body, dribble_s=0.2))
        assert answer.status == 408 and answer.elapsed < 1.5
        assert send(server.port, webhook(body)).status == 200  # the server goes on serving
    finally:
        server.stop()


def test_a_chunked_body_is_read_like_any_other(server):
    body = json.dumps({"destination": "Ubot", "events": []}).encode()
    assert send(server.port, webhook(body, chunks=[1, 5, 10, len(body) - 16])).status == 200


def test_finding5_no_request_shape_gets_a_500_over_http_from_gunicorn():
    requests = int(os.environ.get("HTTP_FUZZ_REQUESTS", "2500"))
    report = fuzz(requests, seed=int(os.environ.get("HTTP_FUZZ_SEED", "17")), concurrency=8, slow=3)
    print(report.table(), json.dumps(report.phases), sep="\n")  # shown with -s
    assert report.failures == [], "\n".join(report.failures[:30]) + "\n" + getattr(report, "log_tail", "")
    for endpoint in ENDPOINTS:
        assert report.sent[endpoint] >= requests // 50, endpoint
        assert not any(isinstance(s, int) and s >= 500 and s != 503 and s != 501 for s in report.statuses[endpoint])
    seen = {s for counts in report.statuses.values() for s in counts}
    # every kind of refusal was exercised, not only the easy ones
    assert {200, 202, 400, 401, 404, 405, 408, 409, 413, 414, 431, 503, "closed"} <= seen
    assert report.phases["redis up"]["events stored"] == report.phases["redis up"]["events acknowledged"] > 0
