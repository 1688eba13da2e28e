"""Development tools touch only what they created (issue 17, findings 7 and 8; issue 19's .dev/env).

* Finding 7: `make demo` and the dev stack ran FLUSHDB on whatever $REDIS_URL was exported.
* Finding 8: the dev stack bound gunicorn to 0.0.0.0 and left its temp folder and the
  sandbox's TLS private keys in /tmp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis as redis_lib
import requests

from connector.local.devstack import ROOT, LocalStack, wait_for
from connector.local.redis_server import NotOurDatabase, RedisServer
from tests.conftest import fresh_redis

pytestmark = pytest.mark.slow


@pytest.fixture
def integrators_redis():
    """Someone's Redis, with their data in database 0 (what $REDIS_URL points at in their shell)."""
    with RedisServer() as server:
        client = redis_lib.Redis.from_url(server.url)
        client.set("app:customer:42", "precious")
        client.rpush("ln:inbox:their-production", "queued event")
        yield server


def _untouched(server: RedisServer) -> bool:
    client = redis_lib.Redis.from_url(server.url)
    return client.get("app:customer:42") == b"precious" and client.dbsize() == 2


@pytest.fixture
def private_tmp(monkeypatch, tmp_path):
    """Every temporary file of this process goes to a folder of the test's own."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_finding_7_the_dev_stack_ignores_the_exported_redis_url(integrators_redis, monkeypatch):
    monkeypatch.setenv("REDIS_URL", integrators_redis.url)
    with LocalStack(workers=1) as stack:
        assert f":{integrators_redis.port}/" not in stack.redis_url
        user = "U" + "7" * 32
        stack.sandbox.line.send_user_message(stack.channels[0].channel_id, user, {"type": "text", "text": "hi"})
        stack.wait_until(lambda: stack.sandbox.salesforce.find("LINE_Chat_Message__c"), 20, what="the message")
    assert _untouched(integrators_redis)


def test_finding_7_a_stack_given_someone_elses_database_refuses_to_flush_it(integrators_redis):
    with pytest.raises(NotOurDatabase, match="refusing to flush"):
        LocalStack(redis_url=integrators_redis.url, workers=0).start(web=False)
    assert _untouched(integrators_redis)


def test_finding_7_the_test_fixtures_refuse_someone_elses_database(integrators_redis):
    with pytest.raises(NotOurDatabase):
        next(fresh_redis(integrators_redis.url))
    assert _untouched(integrators_redis)


def test_finding_7_make_targets_run_on_a_private_redis_never_the_exported_one(integrators_redis, tmp_path):
    env = {
        **os.environ,
        "REDIS_URL": integrators_redis.url,
        "TEST_REDIS_URL": integrators_redis.url,
        "TMPDIR": str(tmp_path),
    }
    out = subprocess.run(
        [
            str(ROOT / "scripts/with-redis.sh"),
            "sh",
            "-c",
            'echo "$REDIS_URL $TEST_REDIS_URL"; redis-cli -u "$REDIS_URL" dbsize',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    redis_url, test_url, size = out
    port = redis_url.split(":")[2].split("/")[0]
    assert port not in (str(integrators_redis.port), "6379") and test_url.startswith(f"redis://127.0.0.1:{port}/")
    assert size == "0"  # its own, empty
    assert _untouched(integrators_redis)
    assert list(tmp_path.iterdir()) == []  # the private server's folder is gone with it
    with pytest.raises(redis_lib.ConnectionError):
        redis_lib.Redis.from_url(redis_url, socket_connect_timeout=1).ping()


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_finding_8_the_dev_stack_listens_on_loopback_only():
    with LocalStack(workers=0) as stack:
        ports = {"web": stack.web_port, "redis": int(stack.redis_url.split(":")[2].split("/")[0])}
        ports.update({name: int(url.rsplit(":", 1)[1]) for name, url in stack.sandbox.urls.items()})
        bound = {name: _listening(port) for name, port in ports.items()}
    assert all(addresses and addresses <= LOOPBACK for addresses in bound.values()), bound


def test_finding_8_a_stack_leaves_no_files_or_keys_behind(private_tmp):
    stack = LocalStack(workers=0)
    with stack:
        keys = [p for p in private_tmp.rglob("*") if p.suffix in (".key", ".pem")]
        assert any(p.name.endswith(".key") for p in keys), "the sandbox's TLS key is in the temp folder"
    assert list(private_tmp.iterdir()) == []


def test_finding_8_a_stack_that_fails_leaves_nothing_behind(private_tmp):
    with pytest.raises(RuntimeError, match="scenario failed"), LocalStack(workers=0):
        raise RuntimeError("scenario failed")
    assert list(private_tmp.iterdir()) == []


def _read_env(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["sh", "-c", f'set -a; . "{path}"; set +a; env -0'], capture_output=True, check=True, env={}
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def test_connector_dev_writes_dev_env_that_drives_every_side_and_cleans_up_on_ctrl_c(tmp_path):
    workdir, tmp = tmp_path / "project", tmp_path / "tmp"
    workdir.mkdir()
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.entrypoints.cli", "dev"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    dev_env = workdir / ".dev" / "env"
    try:
        wait_for(lambda: dev_env.exists() and dev_env.read_text().count("\n") > 5, 60, what=".dev/env")
        assert dev_env.stat().st_mode & 0o077 == 0, "readable by this user only"
        v = _read_env(dev_env)

        body = json.dumps({"destination": "U0", "events": []}).encode()
        sig = base64.b64encode(hmac.new(v["LINE_CHANNEL_SECRET"].encode(), body, hashlib.sha256).digest()).decode()
        webhook = f"{v['RELAY_URL']}/line/webhook"
        assert requests.post(webhook, data=body, headers={"x-line-signature": sig}, timeout=5).status_code == 200
        assert requests.post(webhook, data=body, headers={"x-line-signature": "x" + sig}, timeout=5).status_code == 401

        sf = requests.get(
            f"{v['SF_INSTANCE_URL']}/services/data/v63.0/query",
            params={"q": "SELECT Id FROM Contact"},
            headers={"Authorization": f"Bearer {v['SF_ACCESS_TOKEN']}"},
            verify=v["SF_CA_BUNDLE"],
            timeout=5,
        )
        assert sf.status_code == 200, sf.text

        ts = str(int(time.time()))
        callout = b'{"type": "unknown.type", "id": "dev-env-check", "sentAt": "2026-01-01T00:00:00Z", "data": {}}'
        signed = (
            "v1=" + hmac.new(v["CALLOUT_SECRET"].encode(), ts.encode() + b"." + callout, hashlib.sha256).hexdigest()
        )
        answer = requests.post(
            f"{v['RELAY_URL']}/salesforce/callout",
            data=callout,
            headers={"X-Connector-Timestamp": ts, "X-Connector-Signature": signed, "Content-Type": "application/json"},
            timeout=5,
        )
        assert answer.status_code != 401, answer.text  # the signature is accepted (the type is not)

        twilio = requests.get(
            f"{v['TWILIO_API_URL']}/2010-04-01/Accounts/{v['TWILIO_ACCOUNT_SID']}/Calls/CA0.json",
            auth=(v["TWILIO_ACCOUNT_SID"], v["TWILIO_AUTH_TOKEN"]),
            timeout=5,
        )
        assert twilio.status_code == 404  # authenticated: no such call
        assert requests.get(f"{v['LINE_API_URL']}/v2/bot/info", timeout=5).status_code == 401  # it is LINE's API
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    assert not (workdir / ".dev").exists()
    assert list(tmp.iterdir()) == [], "temp files left behind"
    with pytest.raises(requests.ConnectionError):
        requests.get(v["RELAY_URL"] + "/healthz", timeout=2)
