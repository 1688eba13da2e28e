"""Fault and latency injection, one test per kind."""

from __future__ import annotations

import time

import pytest
import requests
from linebot.v3.messaging import PushMessageRequest, TextMessage
from linebot.v3.messaging.exceptions import ApiException
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError, SalesforceRefusedRequest

from .conftest import CHANNEL_ID


def _push(line_api):
    return line_api.push_message(PushMessageRequest(to="U1", messages=[TextMessage(text="x")]))


@pytest.fixture
def user(sb):
    sb.line.add_user(CHANNEL_ID, "U1")


def test_status_fault_answers_line_error_and_changes_nothing(sb, line_api, user):
    sb.faults.add("line_api", "status", status=500, path="/v2/bot/message/push", count=1)
    with pytest.raises(ApiException) as err:
        _push(line_api)
    assert err.value.status == 500 and "Internal server error" in str(err.value.body)
    assert sb.line.delivered() == []
    _push(line_api)  # count=1: the next one goes through
    assert len(sb.line.delivered()) == 1


def test_rate_limit_fault_sets_retry_after(sb, user):
    sb.faults.add("line", "rate_limit", retry_after=7)
    response = requests.post(
        sb.urls["line_api"] + "/v2/bot/message/push",
        headers={"Authorization": "Bearer sandbox-access-token"},
        json={"to": "U1", "messages": [{"type": "text", "text": "x"}]},
    )
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["message"] == "The API rate limit has been exceeded. Try again later."


def test_timeout_fault_makes_client_time_out(sb, user):
    sb.faults.add("line_api", "timeout", ms=2000)
    with pytest.raises(requests.Timeout):
        requests.get(
            sb.urls["line_api"] + "/v2/bot/info", timeout=0.2, headers={"Authorization": "Bearer sandbox-access-token"}
        )


def test_latency_fault_and_baseline_latency_slow_requests(sb):
    sb.set_latency("line_api", 50)
    sb.faults.add("line_api", "latency", ms=50, count=1)
    started = time.perf_counter()
    requests.get(sb.urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer sandbox-access-token"})
    assert time.perf_counter() - started >= 0.1


def test_reset_fault_closes_connection_without_response(sb):
    sb.faults.add("twilio", "reset", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.urls["twilio"] + "/2010-04-01/Accounts/AC1/Calls/CA1.json")


def test_invalid_session_fault(sb, sf):
    sb.faults.add("salesforce", "invalid_session", count=1)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Contact")
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0


def test_limit_exceeded_fault(sb, sf):
    sb.faults.add("salesforce", "limit_exceeded", method="GET")
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.query("SELECT Id FROM Contact")
    assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_salesforce_503_fault_uses_server_unavailable_body(sb, sf):
    sb.faults.add("salesforce", "status", status=503, path=r"/sobjects/\w+/?$")
    with pytest.raises(SalesforceGeneralError) as err:
        sf.Account.create({"Name": "x"})
    assert err.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sb.salesforce.records("Account") == []
    assert sb.request_log("salesforce")[-1]["fault"] == "status"


def test_after_apply_status_applies_then_fails(sb, sf):
    sb.faults.add("salesforce", "after_apply_status", status=500, method="POST", count=1)
    with pytest.raises(SalesforceGeneralError):
        sf.Account.create({"Name": "did it happen?"})
    assert [a["Name"] for a in sb.salesforce.records("Account")] == ["did it happen?"]


def test_a_scheduled_outage_starts_later_and_ends_by_itself(sb, sf):
    sb.faults.outage("salesforce", duration_s=1.0, starts_in_s=0.3, path="/services/data/", timeout_ms=20)
    sf.Account.create({"Name": "before"})
    time.sleep(0.35)
    failures = 0
    for _ in range(10):
        try:
            sf.Account.create({"Name": "during"})
        except (SalesforceGeneralError, requests.RequestException):
            failures += 1
    assert failures == 10 and [a["Name"] for a in sb.salesforce.records("Account")] == ["before"]
    time.sleep(1.0)
    sf.Account.create({"Name": "after"})
    assert [a["Name"] for a in sb.salesforce.records("Account")] == ["before", "after"]


def test_probability_zero_never_fires(sb):
    sb.faults.add("line_api", "status", status=500, probability=0.0)
    response = requests.get(
        sb.urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer sandbox-access-token"}
    )
    assert response.status_code == 200


def test_faults_over_http_control_endpoint(sb):
    # any service's control API can add a fault for any service
    created = requests.post(
        sb.urls["twilio"] + "/__sandbox__/faults", json={"service": "line_api", "kind": "status", "status": 503}
    )
    assert created.status_code == 201
    response = requests.get(
        sb.urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer sandbox-access-token"}
    )
    assert response.status_code == 503
    requests.delete(sb.urls["twilio"] + "/__sandbox__/faults")
    assert (
        requests.get(
            sb.urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer sandbox-access-token"}
        ).status_code
        == 200
    )


def test_stop_does_not_hang_on_a_sleeping_timeout_fault():
    import threading

    from connector.local.sandbox import Sandbox

    sandbox = Sandbox().start()
    sandbox.faults.add("twilio", "timeout", ms=30000)
    threading.Thread(target=lambda: requests.get(sandbox.urls["twilio"] + "/x", timeout=5), daemon=True).start()
    time.sleep(0.2)
    started = time.perf_counter()
    sandbox.stop()
    assert time.perf_counter() - started < 3
