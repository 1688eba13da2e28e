"""schemathesis against docs/openapi.yaml, on the real Flask app (WSGI, test Redis).

Every operation is called with generated data as it comes (unsigned: the webhooks must answer a
documented 4xx), and again signed on arrival by a small test-only middleware, so the generated
bodies reach the parsing behind the signature check. Checks: no 5xx other than a documented 503,
status codes and response bodies conform to the spec.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, settings
from twilio.request_validator import RequestValidator

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (test dependency) is not installed")
from schemathesis.specs.openapi.checks import (  # noqa: E402 - only once schemathesis is known to be there
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connector.web.line import signature_of  # noqa: E402
from connector.web.salesforce import sign as callout_sign  # noqa: E402
from tests.conftest import CHANNEL_SECRET  # noqa: E402
from tests.fuzz.conftest import CALLOUT_SECRET, PUBLIC_BASE_URL, TWILIO_TOKEN  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)


class SignOnArrival:
    """Test-only WSGI middleware: when `X-Fuzz-Sign: 1` is sent, sign the raw body as LINE, Apex or
    Twilio would."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_FUZZ_SIGN") == "1":
            n = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(n) if n else b""
            environ["wsgi.input"] = io.BytesIO(body)
            path = environ.get("PATH_INFO", "")
            if path.startswith("/line/webhook"):
                environ["HTTP_X_LINE_SIGNATURE"] = signature_of(CHANNEL_SECRET, body)
            elif path.startswith("/twilio/"):
                query = environ.get("QUERY_STRING", "")
                url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
                form = {k: v[-1] for k, v in parse_qs(body.decode("latin-1"), keep_blank_values=True).items()}
                environ["HTTP_X_TWILIO_SIGNATURE"] = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
            elif path in (
                "/salesforce/callout",
                "/salesforce/voice-token",
                "/salesforce/presence",
                "/account-link/nonce",
            ):
                ts = str(int(time.time()))
                environ["HTTP_X_CONNECTOR_TIMESTAMP"] = ts
                environ["HTTP_X_CONNECTOR_SIGNATURE"] = callout_sign(CALLOUT_SECRET, ts, body)
        return self.app(environ, start_response)


def not_a_server_error(ctx, response, case):
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code}")


@pytest.fixture
def wsgi(app):
    app.wsgi_app = SignOnArrival(app.wsgi_app)
    return app


@schema.exclude(operation_id="readyz").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case, wsgi):
    for signed in (False, True):
        headers = {"X-Fuzz-Sign": "1"} if signed else {}
        response = case.call(app=wsgi, headers=headers)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
        )
