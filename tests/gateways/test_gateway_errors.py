"""Gateways turn every failure of LINE, Salesforce and Twilio into a few project errors."""

from __future__ import annotations

import time

import pytest

from connector.domain.records import CONTACT, Upsert
from connector.gateways.errors import AuthError, Permanent, RateLimited, Retryable
from connector.gateways.line import InvalidReplyToken
from tests.gateways.conftest import CHANNEL, USER

TEXT = [{"type": "text", "text": "こんにちは"}]


# -- LINE -------------------------------------------------------------------------------------
def test_line_5xx_is_retryable(sb, runtime):
    sb.faults.add("line_api", "status", status=500, count=1)
    with pytest.raises(Retryable) as err:
        runtime.line.push(CHANNEL, USER, TEXT, key="k1")
    assert err.value.status == 500 and not isinstance(err.value, Permanent)


def test_line_429_is_rate_limited_with_retry_after(sb, runtime):
    sb.faults.add("line_api", "rate_limit", retry_after=7, count=1)
    with pytest.raises(RateLimited) as err:
        runtime.line.push(CHANNEL, USER, TEXT, key="k2")
    assert err.value.retry_after == 7


def test_line_connection_reset_is_retryable(sb, runtime):
    sb.faults.add("line_api", "reset", count=1)
    with pytest.raises(Retryable):
        runtime.line.profile(CHANNEL, USER)


def test_line_used_reply_token_is_reported_as_such(sb, runtime):
    event = sb.line.send_user_message(CHANNEL, USER, {"type": "text", "text": "hi"}, deliver=False)
    runtime.line.reply(CHANNEL, event["replyToken"], TEXT)
    with pytest.raises(InvalidReplyToken):
        runtime.line.reply(CHANNEL, event["replyToken"], TEXT)


def test_line_push_with_the_same_retry_key_is_delivered_once(sb, runtime):
    assert runtime.line.push(CHANNEL, USER, TEXT, key="same")
    assert runtime.line.push(CHANNEL, USER, TEXT, key="same") == []  # 409: already accepted
    assert len(sb.line.delivered(user_id=USER)) == 1


def test_line_bad_token_is_an_auth_error(sb, runtime):
    from connector.gateways.line import LineGateway

    class Bad:
        id, access_token = CHANNEL, "wrong"

    gw = LineGateway([Bad], api_base_url=sb.urls["line_api"], data_base_url=sb.urls["line_data"], timeout_s=2)
    with pytest.raises(AuthError):
        gw.push(CHANNEL, USER, TEXT, key="k3")


def test_line_invalid_message_is_permanent(sb, runtime):
    with pytest.raises(Permanent):
        runtime.line.push(CHANNEL, USER, [{"type": "text", "text": "x" * 6000}], key="k4")


def test_line_content_comes_from_the_data_host_and_is_size_limited(sb, runtime):
    from connector.gateways.line import ContentTooLarge

    event = sb.line.send_user_message(CHANNEL, USER, {"type": "image"}, deliver=False, content_size=2048)
    data = runtime.line.content(CHANNEL, event["message"]["id"], max_bytes=10_000)
    assert data.startswith(b"\x89PNG") and len(data) == 2048
    with pytest.raises(ContentTooLarge):
        runtime.line.content(CHANNEL, event["message"]["id"], max_bytes=1000)


# -- Salesforce -------------------------------------------------------------------------------
def contact(key="k"):
    return Upsert(CONTACT, key, {"LastName": "テスト"})


def test_salesforce_expired_session_is_refreshed_once_and_the_call_retried(sb, runtime):
    runtime.salesforce.upsert_many([contact("a")])
    sb.salesforce.expire_sessions()
    results = runtime.salesforce.upsert_many([contact("b")])
    assert results[("Contact", "b")].ok
    logins = [e for e in sb.request_log("salesforce") if e["path"].endswith("/oauth2/token")]
    assert len(logins) == 2


def test_salesforce_session_invalid_twice_is_an_auth_error(sb, runtime):
    runtime.salesforce.upsert_many([contact("a")])
    sb.faults.add("salesforce", "invalid_session", path="/services/data/", count=2)
    with pytest.raises(AuthError):
        runtime.salesforce.upsert_many([contact("c")])


def test_salesforce_request_limit_exceeded_is_rate_limited(sb, runtime):
    sb.faults.add("salesforce", "limit_exceeded", path="/services/data/", count=1)
    with pytest.raises(RateLimited) as err:
        runtime.salesforce.upsert_many([contact()])
    assert err.value.code == "REQUEST_LIMIT_EXCEEDED" and err.value.retry_after


@pytest.mark.parametrize("status", [500, 503])
def test_salesforce_5xx_is_retryable(sb, runtime, status):
    sb.faults.add("salesforce", "status", status=status, path="/services/data/", count=1)
    with pytest.raises(Retryable):
        runtime.salesforce.upsert_many([contact()])


def test_salesforce_bad_query_is_permanent(sb, runtime):
    with pytest.raises(Permanent):
        runtime.salesforce.query("SELECT FROM WHERE")


def test_salesforce_wrong_credentials_are_an_auth_error(sb, runtime):
    runtime.config.sf_password = "wrong"
    with pytest.raises(AuthError, match="login refused"):
        runtime.salesforce.client()


def test_salesforce_per_record_errors_are_returned_not_raised(sb, runtime):
    results = runtime.salesforce.upsert_many([Upsert(CONTACT, "bad", {"NoSuchField__c": 1}), contact("good")])
    assert not results[("Contact", "bad")].ok and results[("Contact", "bad")].code == "INVALID_FIELD"
    assert results[("Contact", "good")].ok


def test_salesforce_any_number_of_records_is_one_call_per_5000(sb, runtime):
    runtime.salesforce.client()
    before = sb.salesforce.api_calls
    results = runtime.salesforce.upsert_many([contact(f"k{i}") for i in range(450)])
    assert all(r.ok for r in results.values()) and len(results) == 450
    assert sb.salesforce.api_calls - before == 1


def test_salesforce_usage_header_is_tracked(sb, runtime):
    runtime.salesforce.upsert_many([contact()])
    used, limit = runtime.salesforce.api_usage
    assert used >= 1 and limit == 100_000


# -- Twilio -----------------------------------------------------------------------------------
def test_twilio_call_is_created_through_the_official_client(sb, runtime):
    sid = runtime.twilio.create_call(to="+819012345678", from_="+815012345678", twiml="<Response/>")
    assert sid.startswith("CA") and sb.twilio.calls[0]["sid"] == sid


def test_twilio_5xx_is_retryable(sb, runtime):
    sb.faults.add("twilio", "status", status=503, count=1)
    with pytest.raises(Retryable):
        runtime.twilio.send_sms(to="+819012345678", from_="+815012345678", body="hi")


def test_twilio_bad_credentials_are_an_auth_error(sb, runtime):
    from connector.gateways.twilio import TwilioGateway

    gw = TwilioGateway(sb.twilio.account_sid, "wrong", base_url=sb.urls["twilio"], timeout_s=2)
    with pytest.raises(AuthError):
        gw.send_sms(to="+819012345678", from_="+815012345678", body="hi")


# -- every call has a timeout -----------------------------------------------------------------
CALLS = {
    "line reply": lambda rt: rt.line.reply(CHANNEL, "token", TEXT),
    "line push": lambda rt: rt.line.push(CHANNEL, USER, TEXT, key="t"),
    "line profile": lambda rt: rt.line.profile(CHANNEL, USER),
    "line content": lambda rt: rt.line.content(CHANNEL, "1", max_bytes=10),
    "line loading": lambda rt: rt.line.show_loading(CHANNEL, USER),
    "salesforce login": lambda rt: rt.salesforce.client(),
    "salesforce query": lambda rt: rt.salesforce.query("SELECT Id FROM Contact"),
    "salesforce upsert": lambda rt: rt.salesforce.upsert_many([contact()]),
    "twilio call": lambda rt: rt.twilio.create_call(to="+81901", from_="+81502", twiml="<Response/>"),
    "twilio sms": lambda rt: rt.twilio.send_sms(to="+81901", from_="+81502", body="x"),
}


@pytest.mark.parametrize("name", CALLS)
def test_every_gateway_call_gives_up_after_its_timeout(sb, environ, name):
    from connector.runtime import Runtime
    from tests.gateways.conftest import sandbox_config

    rt = Runtime(sandbox_config(sb, environ, timeout=0.3))
    if name.startswith("salesforce") and name != "salesforce login":
        rt.salesforce.client()  # log in first; the hang is on the call itself
    service = {"line content": "line_data"}.get(name, name.split()[0] if not name.startswith("line") else "line_api")
    sb.faults.add(service, "timeout", ms=5000)
    started = time.monotonic()
    with pytest.raises(Retryable):
        CALLS[name](rt)
    assert time.monotonic() - started < 2.5
