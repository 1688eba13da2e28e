"""The media endpoint and the headers every response of the app carries (issue 17, findings 5 and 10)."""

from __future__ import annotations

import time

import pytest

from connector.config import load_config
from connector.domain.media import make_token
from connector.entrypoints.app import create_app
from connector.storage.blobs import MEDIA
from tests.conftest import base_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
VERSION = "068000000000001AAA"


@pytest.fixture
def app(config):
    return create_app(config)


def token(app, exp_in=600):
    return make_token(app.extensions["connector"].config.encryption_keys, VERSION, int(time.time()) + exp_in)


def test_finding10_media_is_served_with_nosniff(app):
    app.extensions["connector"].blobs.put(MEDIA, VERSION, PNG, 60)
    resp = app.test_client().get(f"/media/{token(app)}")
    assert (resp.status_code, resp.data, resp.mimetype) == (200, PNG, "image/png")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("POST", "/line/webhook", 401),
        ("POST", "/salesforce/callout", 401),
        ("GET", "/media/nope", 404),
        ("GET", "/no/such/path", 404),
        ("DELETE", "/line/webhook", 405),
    ],
)
def test_every_response_carries_the_security_headers(app, method, path, status):
    resp = app.test_client().open(path, method=method, data=b"{}")
    assert resp.status_code == status
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_finding5_media_with_a_valid_token_answers_503_while_redis_and_salesforce_are_unreachable(environ):
    environ["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app = create_app(load_config(data=base_settings(), environ=environ))
    resp = app.test_client().get(f"/media/{token(app)}")
    assert resp.status_code == 503
    assert resp.get_json() == {"error": "temporarily unavailable"}


def test_media_sealed_with_a_key_no_longer_configured_is_asked_of_salesforce_again(app, environ):
    other = create_app(load_config(data=base_settings(), environ=dict(environ, CONNECTOR_ENCRYPTION_KEYS=_key())))
    other.extensions["connector"].blobs.put(MEDIA, VERSION, PNG, 60)  # same Redis, another key
    resp = app.test_client().get(f"/media/{token(app)}")
    assert resp.status_code == 503  # no Salesforce in this test: "ask again later", never a 500
    assert resp.headers["Retry-After"] == "60"


def _key():
    from connector.storage.vault import new_key

    return new_key()
