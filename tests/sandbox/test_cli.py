"""`python -m connector.local.sandbox` prints its URLs as one JSON line and serves until SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import requests


def test_cli_prints_urls_and_stops_on_sigterm(tmp_path):
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector.local.sandbox",
            "--channel",
            "1:secret:token:Ubot:http://127.0.0.1:9/webhook",
            "--ca-out",
            str(ca),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = json.loads(proc.stdout.readline())
        assert set(urls) >= {"line_api", "line_data", "salesforce", "twilio"}
        assert ca.exists()
        response = requests.get(urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer token"})
        assert response.json()["userId"] == "Ubot"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
