"""The web-call page in headless Chromium (Debian's `chromium`; `make test` installs it as root):
it renders with the bundled Voice SDK, gets a token only with a valid code, refuses an expired or
reused one, and offers the tel: button where the browser cannot call."""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.serving import make_server

from connector.i18n import DEFAULT_TEXTS
from tests.jobs.voice_fixtures import (  # noqa: F401
    CHANNEL,
    SUPPORT,
    make_rt,
    op_redis,
    op_sandbox,
    rt,
    sb,
    web_app,
)
from tests.web.cdp import Browser, chromium

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="headless Chromium is not installed (apt-get install -y chromium; make test does it)"
)
JA = DEFAULT_TEXTS["ja"]
NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"


@pytest.fixture(scope="module")
def browser():
    b = Browser(chromium())
    yield b
    b.close()


@pytest.fixture
def relay(rt):
    server = make_server("127.0.0.1", 0, web_app(rt), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def offer(rt, *, expires_in: float = 1800) -> tuple[str, str, str]:
    return rt.voice_store.create_offer(
        {"session_key": f"{CHANNEL}:U{'a' * 32}:01J", "channel_id": CHANNEL, "expires_at": time.time() + expires_in},
        digits=6,
        ttl_s=1800,
    )


def test_the_page_renders_with_the_bundled_sdk_and_no_cdn(browser, relay, rt):
    _, _, token = offer(rt)
    page = browser.new_page()
    page.open(f"{relay}/call?c={token}&openExternalBrowser=1")
    assert page.wait_state("ready") == "ready"
    assert page.evaluate("document.title") == JA["callpage_title"]
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    scripts = page.evaluate("Array.from(document.scripts).filter(s => s.src).map(s => new URL(s.src).pathname)")
    assert scripts == ["/call/static/twilio-voice-sdk.min.js", "/call/static/call.js"]
    assert page.evaluate("document.getElementById('call').hidden") is False
    assert page.evaluate("document.getElementById('tel').hidden") is True


def test_the_page_keeps_its_own_content_security_policy_behind_the_edge(relay, rt):
    import requests

    _, _, token = offer(rt)
    headers = requests.get(f"{relay}/call?c={token}", timeout=5).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert (
        requests.get(f"{relay}/twilio/voice", timeout=5)
        .headers["Content-Security-Policy"]
        .startswith("default-src 'none'")
    )


def test_a_valid_code_gets_a_token_when_the_customer_calls(browser, relay, rt):
    offer_id, _, token = offer(rt)
    page = browser.new_page()
    page.open(f"{relay}/call?c={token}")
    page.wait_state("ready")
    page.evaluate("document.getElementById('call').click()")
    identity = page.wait(lambda: page.evaluate("document.body.getAttribute('data-identity')"), "the token")
    assert identity == f"web-{offer_id}"
    assert rt.voice_store.offer(offer_id)["used_at"]  # single use: the code is spent
    # the sandbox has no network to Twilio: the SDK's connection fails and the tel: button shows
    assert page.wait_state("connecting", "error", "in-call") in ("connecting", "error", "in-call")


def test_an_expired_code_is_refused_with_the_phone_number(browser, relay, rt):
    _, _, token = offer(rt, expires_in=-1)
    page = browser.new_page()
    page.open(f"{relay}/call?c={token}")
    assert page.wait_state("invalid") == "invalid"
    assert page.evaluate("document.getElementById('status').textContent") == JA["callpage_invalid"]
    assert page.evaluate("document.getElementById('tel').getAttribute('href')") == f"tel:{SUPPORT}"
    assert page.evaluate("document.getElementById('call').hidden") is True


def test_a_code_used_meanwhile_is_refused_on_call(browser, relay, rt):
    offer_id, _, token = offer(rt)
    page = browser.new_page()
    page.open(f"{relay}/call?c={token}")
    page.wait_state("ready")
    assert web_app(rt).test_client().post("/call/token", json={"c": token}).status_code == 200  # another tab
    page.evaluate("document.getElementById('call').click()")
    assert page.wait_state("invalid") == "invalid"
    assert page.evaluate("document.body.getAttribute('data-identity')") is None


def test_without_webrtc_the_page_offers_the_tel_button_with_the_code(browser, relay, rt):
    _, code, token = offer(rt)
    page = browser.new_page(before_scripts=(NO_WEBRTC,))
    page.open(f"{relay}/call?c={token}")
    assert page.wait_state("no-webrtc") == "no-webrtc"
    assert page.evaluate("document.getElementById('tel').hidden") is False
    assert page.evaluate("document.getElementById('tel').getAttribute('href')") == f"tel:{SUPPORT},,2,,{code}"
    assert page.evaluate("document.getElementById('status').textContent") == JA["callpage_no_webrtc"]


def test_without_a_code_the_page_places_an_anonymous_call(browser, relay, rt):
    page = browser.new_page()
    page.open(f"{relay}/call")
    page.wait_state("ready")
    assert page.evaluate("document.getElementById('intro').textContent") == JA["callpage_anonymous_intro"]
    page.evaluate("document.getElementById('call').click()")
    identity = page.wait(lambda: page.evaluate("document.body.getAttribute('data-identity')"), "the token")
    assert identity.startswith("anon-")
