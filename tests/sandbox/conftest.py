"""Fixtures: one sandbox for the session (reset before each test), a tiny LINE webhook
receiver that verifies signatures with line-bot-sdk's WebhookParser, and official clients
pointed at the sandbox."""

from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob
from simple_salesforce import Salesforce
from werkzeug.serving import make_server

from connector.local.sandbox import Sandbox, SandboxChannel

CHANNEL_ID = "1000000001"
SECRET = "sandbox-channel-secret"
TOKEN = "sandbox-access-token"
BOT = "Ubot0001"


class Receiver:
    """A LINE webhook endpoint: verifies x-line-signature, keeps the parsed events."""

    def __init__(self):
        self.parser = WebhookParser(SECRET)
        self.events, self.bodies, self.status = [], [], 200
        app = Flask("receiver")

        @app.post("/line/webhook")
        def webhook():
            body = request.get_data(as_text=True)
            try:
                events = self.parser.parse(body, request.headers.get("x-line-signature", ""))
            except InvalidSignatureError:
                abort(400)
            self.events.extend(events)
            self.bodies.append(body)
            return "", self.status

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/line/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def clear(self):
        self.events.clear()
        self.bodies.clear()
        self.status = 200


@pytest.fixture(scope="session")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="session")
def session_sandbox(receiver):
    sandbox = Sandbox(channels=[SandboxChannel(CHANNEL_ID, SECRET, TOKEN, BOT, receiver.url)])
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sb(session_sandbox, receiver):
    session_sandbox.reset()
    receiver.clear()
    return session_sandbox


def sf_session(sandbox) -> requests.Session:
    """A requests session that trusts the sandbox CA.

    trust_env=False matters: with REQUESTS_CA_BUNDLE set, requests ignores Session.verify."""
    session = requests.Session()
    session.verify = sandbox.ca_path
    session.trust_env = False
    return session


def sf_client(sandbox) -> Salesforce:
    return Salesforce(
        instance_url=sandbox.urls["salesforce"],
        session_id=sandbox.salesforce.issue_session(),
        session=sf_session(sandbox),
        version="63.0",
    )


@pytest.fixture
def sf(sb) -> Salesforce:
    return sf_client(sb)


@pytest.fixture
def line_api(sb):
    with ApiClient(Configuration(host=sb.urls["line_api"], access_token=TOKEN)) as client:
        yield MessagingApi(client)


@pytest.fixture
def line_blob(sb):
    """MessagingApiBlob needs its own Configuration: a configured host replaces the SDK's
    built-in https://api-data.line.me, so content calls go to the sandbox's data host."""
    with ApiClient(Configuration(host=sb.urls["line_data"], access_token=TOKEN)) as client:
        yield MessagingApiBlob(client)
