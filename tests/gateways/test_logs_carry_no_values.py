"""Finding 9, logs half (issue 17): Salesforce errors reach logs as codes and field names only,
and DEBUG logging never writes a request or response body (a LINE profile is personal data)."""

from __future__ import annotations

import logging

import pytest

from connector.domain.records import MESSAGE, SESSION, Upsert, ref
from connector.gateways.errors import safe_detail
from connector.logs import configure_logging
from tests.gateways.conftest import CHANNEL, USER

SECRET_TEXT = "ご注文の田中花子です電話は09012345678"


@pytest.fixture
def debug_logs(caplog):
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield caplog
    configure_logging("INFO")


def logged(caplog) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)


def test_finding9_a_salesforce_error_quoting_the_customer_text_gives_its_code_and_field_only(sb, runtime, debug_logs):
    session = Upsert(SESSION, f"{CHANNEL}:{USER}:s1", {"Channel_Id__c": CHANNEL})
    too_long = Upsert(
        MESSAGE,
        "m-too-long",
        {"Chat_Session__r": ref(SESSION, session.key), "Text__c": "", "Direction__c": "Inbound", "Type__c": "text"},
    )
    too_long.fields["Text__c"] = SECRET_TEXT * 2000  # over the field's length: Salesforce quotes it back
    results = runtime.salesforce.upsert_many([session, too_long])
    bad = results[too_long.ident]
    assert not bad.ok and bad.code == "STRING_TOO_LONG"
    assert bad.message == "STRING_TOO_LONG (Text__c)"
    assert "田中" not in logged(debug_logs) and "0901234" not in logged(debug_logs)


def test_a_missing_parent_is_still_recognised_without_keeping_the_message(sb, runtime):
    orphan = Upsert(
        MESSAGE,
        "m-orphan",
        {"Chat_Session__r": ref(SESSION, f"{CHANNEL}:{USER}:no-such-session"), "Direction__c": "Inbound"},
    )
    result = runtime.salesforce.upsert_many([orphan])[orphan.ident]
    assert not result.ok and result.parent_missing
    assert "no-such-session" not in (result.message or "")


def test_finding9_debug_logging_writes_no_line_response_body(sb, runtime, debug_logs):
    import io

    ours = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # configure_logging's handler
    [handler] = [h for h in logging.getLogger().handlers if h.formatter and h.formatter._fmt == ours]
    runtime.line.profile(CHANNEL, USER)  # the SDK's configuration exists (and set its loggers) from here on
    sdk = logging.getLogger("linebot.v3.messaging")
    before, out = sdk.level, io.StringIO()
    sdk.setLevel(logging.DEBUG)  # what line-bot-sdk does in debug mode: it logs every response body
    old_stream = handler.setStream(out)
    try:
        profile = runtime.line.profile(CHANNEL, USER)
    finally:
        handler.setStream(old_stream)
        sdk.setLevel(before)
    assert profile["displayName"] == "テスト"
    text = out.getvalue()
    assert "connector.gateways.line" in text  # the relay's own DEBUG line is there
    assert "テスト" not in text and "\\u30c6" not in text and "displayName" not in text and "response body" not in text


@pytest.mark.parametrize(
    ("code", "fields", "expected"),
    [
        ("STRING_TOO_LONG", ["Text__c"], "STRING_TOO_LONG (Text__c)"),
        ("REQUIRED_FIELD_MISSING", ["LastName", "Name"], "REQUIRED_FIELD_MISSING (LastName, Name)"),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", [], "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        ("INVALID_FIELD", ["Text__c: 田中 09012345678"], "INVALID_FIELD"),  # not an API name: left out
        ("カード 4111111111111111", ["Text__c"], "UNKNOWN_ERROR (Text__c)"),  # not a code: left out
        (None, None, "UNKNOWN_ERROR"),
    ],
)
def test_safe_detail_keeps_codes_and_api_names_and_drops_anything_else(code, fields, expected):
    assert safe_detail(code, fields) == expected
