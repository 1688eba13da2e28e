"""Fixtures for the voice tests: the operator-chat sandbox and Redis, plus Twilio enabled on the
channel, a Flask client of the web process on the same Redis, and Twilio-signed requests.

Import what you use: `from tests.jobs.voice_fixtures import *`.
"""

from __future__ import annotations

import time
import uuid

import pytest
from twilio.request_validator import RequestValidator

from connector.config import load_config
from connector.local.sandbox.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from tests import stack
from tests.jobs.operator_fixtures import (  # noqa: F401
    CALLOUT_SECRET,
    CHANNEL,
    CHANNEL_SECRET,
    CUSTOMER,
    CUSTOMER2,
    OP_REDIS_URL,
    customer_writes,
    op_redis,
    op_sandbox,
    sb,
    session_key,
    sign_like_apex,
)
from tests.jobs.operator_fixtures import run_jobs as run_queued

PUBLIC = "https://relay.example.com"


def run_jobs(rt, rounds: int = 3) -> None:
    """Run queued jobs and drains in-process, delayed ones too (a non-final call status waits a
    few seconds before its Task write: here its time has come at once)."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    for _ in range(rounds):
        registry = ScheduledJobRegistry(queue=rt.queue)
        ids = registry.get_jobs_to_schedule(time.time() + 3600)
        for job in Job.fetch_many(ids, connection=rt.redis):
            if job is not None:
                rt.queue._enqueue_job(job)
        for job_id in ids:
            registry.remove(job_id)
        run_queued(rt, rounds=1)


SUPPORT = "+815012345678"
CALLER = "+819012345678"


def voice_config(sb, *, voice: dict | None = None, twilio: dict | None = None):
    environ = stack.relay_environ(
        OP_REDIS_URL,
        CHANNEL_SECRET,
        CONNECTOR_CALLOUT_SECRETS=CALLOUT_SECRET,
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
        TWILIO_API_KEY_SID="SK" + "1" * 32,
        TWILIO_API_KEY_SECRET="sandbox-api-key-secret-0123456789abcdef",
    )
    channel = stack.channel_settings(voice={"enabled": True, "support_number": SUPPORT, **(voice or {})})
    data = {
        "public_base_url": PUBLIC,
        "queue": {"retry_intervals_seconds": [1]},
        "line": stack.line_settings(sb, channel, timeout_seconds=3),
        "salesforce": stack.salesforce_settings(sb, timeout_seconds=5),
        "twilio": {
            "enabled": True,
            "api_base_url": sb.urls["twilio"],
            "web_call": True,
            "twiml_app_sid": "AP" + "2" * 32,
            **(twilio or {}),
        },
    }
    return load_config(data=data, environ=environ)


@pytest.fixture
def make_rt(sb, op_redis):
    """make_rt(voice=..., twilio=...) -> a Runtime (set as the process's) on the sandbox."""
    from connector.runtime import Runtime, set_runtime

    def make(**kw):
        runtime = Runtime(voice_config(sb, **kw))
        set_runtime(runtime)
        return runtime

    yield make
    set_runtime(None)


@pytest.fixture
def rt(make_rt):
    return make_rt()


def web_app(rt):
    """The web process's voice endpoints as a Flask app sharing the runtime (Redis, config)."""
    from flask import Flask

    from connector.web import call_page
    from connector.web import twilio as twilio_web
    from connector.web.edge import Edge

    app = Flask(__name__)
    app.extensions["connector"] = rt
    app.wsgi_app = Edge(app.wsgi_app, max_body_bytes=1024 * 1024, body_timeout_s=5)  # as in production
    app.register_blueprint(twilio_web.bp)
    app.register_blueprint(call_page.bp)
    return app


def web(rt):
    """A test client of the web process sharing the runtime (Redis, config)."""
    return web_app(rt).test_client()


def twilio_post(client, path: str, params: dict):
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def call(sid: str, caller: str = CALLER, **extra) -> dict:
    return {
        "CallSid": sid,
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "From": caller,
        "To": SUPPORT,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **extra,
    }


def status(sid: str, status_: str, seq: int, caller: str = CALLER, duration: int | None = None, **extra) -> dict:
    params = call(
        sid,
        caller,
        CallStatus=status_,
        SequenceNumber=str(seq),
        Timestamp=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(time.time() + seq)),
        CallbackSource="call-progress-events",
        **extra,
    )
    if duration is not None:
        params["CallDuration"] = str(duration)
    return params


def lifecycle(sid: str, final: str = "completed", duration: int = 95, caller: str = CALLER, **extra) -> list[dict]:
    flow = ["initiated", "ringing"] + (["in-progress"] if final == "completed" else []) + [final]
    return [status(sid, s, i, caller, duration if s == "completed" else None, **extra) for i, s in enumerate(flow)]


def tasks(sb, **match) -> list[dict]:
    return sb.salesforce.find("Task", **match)


def linked_friend(sb, rt, user: str, phone: str, *, verified: bool = True) -> dict:
    """A LINE friend whose verified Contact has `phone` (as the identity link leaves it)."""
    customer_writes(rt, "こんにちは", user=user)
    friend = sb.salesforce.find("LINE_Friend__c", LINE_User_Id__c=user)[0]
    contact = sb.salesforce.insert("Contact", {"LastName": "山田", "MobilePhone": phone})
    sb.salesforce.update("LINE_Friend__c", friend["Id"], {"Contact__c": contact, "Verified__c": verified})
    return {"friend": friend, "contact_id": contact}
