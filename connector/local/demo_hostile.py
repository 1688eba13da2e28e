"""`make demo`, hostile input and bad configuration: what an attacker or a careless operator gets.

Requests the relay must refuse with a documented status (never a 500) go to the running web
process, and a configuration with a broken encryption key is checked as every process checks it
when it starts. The full HTTP fuzz is bench/http_fuzz.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def hostile_steps(stack, step) -> dict[str, bool]:
    channel = stack.channels[0]
    step("Hostile requests to the web process (documented answers, never a 500)")
    event = {"type": "message", "webhookEventId": "01DEMODEEP", "source": {"type": "user", "userId": "U1"}, "x": "@@"}
    deep = json.dumps({"events": [event]}).replace('"@@"', "[" * 1000 + "]" * 1000).encode()
    sig = base64.b64encode(hmac.new(channel.secret.encode(), deep, hashlib.sha256).digest()).decode()
    deep_status, deep_headers = _post(f"{stack.web_url}/line/webhook", deep, {"x-line-signature": sig})
    print(f"  signed webhook nested 1,000 deep        → {deep_status}")
    body, ts = b'{"type":"session.close","id":"demo","data":{}}', "²"
    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Connector-Timestamp": ts, "X-Connector-Signature": "v1=" + mac}  # sent as the byte 0xB2
    ts_status, ts_headers = _post(f"{stack.web_url}/salesforce/callout", body, headers)
    print(f"  Salesforce callout with timestamp '²'   → {ts_status}")
    print(f"  X-Content-Type-Options on those answers: {deep_headers.get('X-Content-Type-Options')}")

    step("A configuration with a broken key stops start-up, one line naming it")
    env = {**stack.environ(), "CONNECTOR_ENCRYPTION_KEYS": "notakey"}
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "check-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = proc.stderr.strip().splitlines()
    for line in lines:
        print(f"  {line}")
    print(f"  (exit {proc.returncode} after {time.time() - started:.1f} s)")
    return {
        "hostile webhook refused with 400": deep_status == 400,
        "hostile callout timestamp refused with 401": ts_status == 401,
        "answers carry nosniff": deep_headers.get("X-Content-Type-Options")
        == ts_headers.get("X-Content-Type-Options")
        == "nosniff",
        "bad key refused at start-up in one line": proc.returncode == 2
        and lines == [line for line in lines if line.startswith("configuration error: CONNECTOR_ENCRYPTION_KEYS:")]
        and len(lines) == 1,
    }
