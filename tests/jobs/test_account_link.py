"""LINE account link: keyword -> link token -> the company's linking page -> nonce -> accountLink
event -> the friend linked to the Contact, as with a support ID; unlinking on request (issue 21)."""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest

from connector.config import AccountLinkSettings
from tests import stack
from tests.jobs.operator_fixtures import *  # noqa: F403
from tests.jobs.operator_fixtures import CALLOUT_SECRET, CHANNEL, CUSTOMER, conv_state, op_config, run_jobs

LINKING_PAGE = "https://shop.example.com/line/link"
DONE = "アカウント連携が完了しました。ご登録内容をもとにご案内します。"
FAILED = "アカウント連携を完了できませんでした。お手数ですが、もう一度お試しください。"
UNLINKED = "アカウント連携を解除しました。"


@pytest.fixture
def rt(sb, op_redis):
    config = op_config(sb)
    link = AccountLinkSettings(linking_urls={CHANNEL: LINKING_PAGE})
    config.settings = config.settings.model_copy(update={"account_link": link})
    yield from stack.installed_runtime(config)


@pytest.fixture
def site(rt):
    """The company's site: registers a nonce with the relay, signed with the shared secret."""
    from connector.entrypoints.app import create_app
    from connector.web.salesforce import sign

    client = create_app(rt.config).test_client()

    def register(nonce: str, contact_id: str, entitled: bool = False, secret: str = CALLOUT_SECRET):
        body = json.dumps({"nonce": nonce, "contactId": contact_id, "entitled": entitled}).encode()
        ts = str(int(time.time()))
        headers = {"X-Connector-Timestamp": ts, "X-Connector-Signature": sign(secret, ts, body)}
        return client.post("/account-link/nonce", data=body, headers={**headers, "Content-Type": "application/json"})

    return register


def ingest(rt, event: dict) -> None:
    from connector.domain import events as ev

    rt.store.ingest([(CHANNEL, event["webhookEventId"], ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt, rounds=5)


def sends(rt, sb, text: str) -> None:
    ingest(rt, sb.line.send_user_message(CHANNEL, CUSTOMER, {"type": "text", "text": text}, deliver=False))


def answers(sb) -> list[str]:
    return [m["text"] for d in sb.line.delivered() if d["to"] == CUSTOMER for m in d["messages"] if m["type"] == "text"]


def friend(sb) -> dict:
    [f] = sb.salesforce.find("LINE_Friend__c", Friend_Key__c=f"{CHANNEL}:{CUSTOMER}")
    return f


def asks_to_link(rt, sb) -> str:
    """The customer writes the keyword and gets the linking page with a link token; returns the token."""
    sends(rt, sb, "アカウント連携")
    url = re.search(r"https://\S+", answers(sb)[-1]).group(0)
    assert url.startswith(LINKING_PAGE + "?linkToken=")
    return url.split("linkToken=", 1)[1]


def test_the_customer_links_their_account_and_is_verified_with_priority(rt, sb, site):
    contact = sb.salesforce.insert("Contact", {"LastName": "山田"})
    token = asks_to_link(rt, sb)
    nonce = secrets.token_urlsafe(32)
    assert site(nonce, contact, entitled=True).status_code == 201  # after the customer logged in
    ingest(rt, sb.line.complete_account_link(CHANNEL, token, nonce, deliver=False))
    assert answers(sb)[-1] == DONE
    f = friend(sb)
    assert (f["Contact__c"], f["Verified__c"], f["Verified_By__c"]) == (contact, True, "Account_Link")
    assert conv_state(rt)["friend"]["entitled"] is True


def test_a_nonce_the_site_never_registered_links_nothing(rt, sb, site):
    token = asks_to_link(rt, sb)
    ingest(rt, sb.line.complete_account_link(CHANNEL, token, secrets.token_urlsafe(32), deliver=False))
    assert answers(sb)[-1] == FAILED
    assert not friend(sb).get("Verified__c")


def test_a_link_token_used_twice_fails_the_second_time(rt, sb, site):
    contact = sb.salesforce.insert("Contact", {"LastName": "山田"})
    token = asks_to_link(rt, sb)
    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    site(first, contact)
    site(second, contact)
    ingest(rt, sb.line.complete_account_link(CHANNEL, token, first, deliver=False))
    ingest(rt, sb.line.complete_account_link(CHANNEL, token, second, deliver=False))
    assert answers(sb)[-2:] == [DONE, FAILED]


def test_the_customer_unlinks_and_is_no_longer_verified(rt, sb, site):
    contact = sb.salesforce.insert("Contact", {"LastName": "山田"})
    token = asks_to_link(rt, sb)
    nonce = secrets.token_urlsafe(32)
    site(nonce, contact, entitled=True)
    ingest(rt, sb.line.complete_account_link(CHANNEL, token, nonce, deliver=False))
    sends(rt, sb, "連携解除")
    assert answers(sb)[-1] == UNLINKED
    f = friend(sb)
    assert not f.get("Verified__c") and not f.get("Verified_By__c")
    assert conv_state(rt)["friend"]["entitled"] is False


def test_the_nonce_endpoint_refuses_unsigned_malformed_and_repeated_nonces(rt, sb, site):
    contact = sb.salesforce.insert("Contact", {"LastName": "山田"})
    nonce = secrets.token_urlsafe(32)
    assert site(nonce, contact, secret="not-the-secret").status_code == 401
    assert site("short", contact).status_code == 400
    assert site(nonce, "001000000000001AAA").status_code == 400  # an Account id, not a Contact
    assert site(nonce, contact).status_code == 201
    assert site(nonce, contact).status_code == 409
    assert not [k for k in rt.redis.keys("*") if nonce.encode() in k]  # kept only as a hash


def test_without_a_linking_page_the_keyword_is_an_ordinary_message(sb, op_redis):
    from connector.runtime import Runtime, set_runtime

    plain = Runtime(op_config(sb))  # no account_link.linking_urls
    set_runtime(plain)
    try:
        sends(plain, sb, "アカウント連携")
    finally:
        set_runtime(None)
    assert not any("linkToken" in t for t in answers(sb))
    assert "アカウント連携" in [m.get("Text__c") for m in sb.salesforce.records("LINE_Chat_Message__c")]
