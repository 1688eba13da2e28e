"""The Heroku button's app boots (issue 22): built the way Heroku's Python buildpack builds it and
run with only what app.json declares.

A copy of the repository's files (what a fresh clone holds) gets a fresh venv with the Python that
`.python-version` names and `pip install -r requirements.txt` alone (no test extras, which used to
hide a missing runtime dependency). The Procfile's `web` and `worker` commands then run with an
environment made of app.json's variables only, filled in as the Heroku form would be (its
defaults, `generator: secret` output, the channel's secrets), plus what Heroku itself sets (PORT,
REDIS_URL) and the sandbox's addresses in place of LINE's and Salesforce's.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
import yaml

from connector.local.devstack import ROOT, LocalStack, wait_for

pytestmark = pytest.mark.slow

_NOT_SHIPPED = {".git", ".venv", "node_modules", ".dev", "__pycache__", "build", ".pytest_cache", ".ruff_cache"}


def _fresh_clone(dest: Path) -> Path:
    """The files a clone of the repository holds (tracked, or new and not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        files = [f for f in listed.split("\0") if f and (ROOT / f).is_file()]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but local state
        files = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not _NOT_SHIPPED & set(p.relative_to(ROOT).parts)
        ]
    for f in files:
        if f.startswith("sfdc_metadata/"):  # deployed to Salesforce, not part of the slug's app
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)
    return dest


def _procfile(app: Path) -> dict[str, str]:
    lines = (app / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def _form_values(app_json: dict, filled: dict[str, str]) -> dict[str, str]:
    """app.json's variables as the Heroku button's form sets them."""
    env = {}
    for name, spec in app_json["env"].items():
        if name in filled:
            env[name] = filled[name]
        elif spec.get("generator") == "secret":
            env[name] = secrets.token_hex(32)  # what Heroku's generator makes: 64 hex digits
        elif "value" in spec:
            env[name] = spec["value"]
        else:
            assert not spec.get("required"), f"the test fills in every required variable: {name}"
    return env


def _wheelhouse(app: Path) -> Path:
    """The wheels requirements.txt resolves to (and the project's build backend), fetched from the
    package index once per set of dependency files: the registry is slow to ask 80 times a run.
    Installing from it with `--no-index -r requirements.txt` still fails for any runtime dependency
    requirements.txt does not bring (the wheelhouse holds only what that same file resolved to)."""
    digest = hashlib.sha256()
    for name in ("requirements.txt", "constraints.txt", "pyproject.toml", ".python-version"):
        digest.update((app / name).read_bytes())
    house = ROOT / ".venv" / "heroku-wheelhouse" / digest.hexdigest()[:16]
    if (house / ".complete").exists():
        return house
    shutil.rmtree(house.parent, ignore_errors=True)  # wheels of older dependency sets (~160 MB each)
    build_requires = tomllib.loads((app / "pyproject.toml").read_text())["build-system"]["requires"]
    pip = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", str(house)]
    for args in (["-r", "requirements.txt"], build_requires):
        fetched = subprocess.run([*pip, *args], cwd=app, capture_output=True, text=True, timeout=900)
        assert fetched.returncode == 0, fetched.stderr[-3000:]
    (house / ".complete").touch()
    return house


@pytest.fixture(scope="module")
def heroku_app(tmp_path_factory) -> Path:
    """The slug: a fresh clone, built with requirements.txt alone into a venv of its own."""
    app = _fresh_clone(tmp_path_factory.mktemp("slug"))
    version = (app / ".python-version").read_text().strip()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == version, "run with the Python Heroku uses"
    house = _wheelhouse(app)
    venv = app / ".heroku" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # --no-compile: the test runs the code once; compiling every module of every wheel took a minute
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # only the wheelhouse
    build = subprocess.run(
        [*pip, "--no-index", "--find-links", str(house), "-r", "requirements.txt"],
        cwd=app,
        env={**env, "PIP_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return app


def test_the_heroku_button_app_boots_web_and_worker_from_app_json_alone(heroku_app):
    app_json = json.loads((heroku_app / "app.json").read_text())
    procfile = _procfile(heroku_app)
    stack = LocalStack(workers=0)  # the sandbox and a private Redis; none of the stack's own processes
    try:
        stack.start(web=False)
        stack_env, channel = stack.env, stack.channels[0]
        config = yaml.safe_load(app_json["env"]["CONNECTOR_CONFIG_YAML"]["value"])
        config["line"]["channels"][0]["id"] = channel.channel_id  # what the integrator types into the form
        urls = stack.sandbox.urls
        config["line"].update(api_base_url=urls["line_api"], data_base_url=urls["line_data"])
        config["salesforce"] = {"login_url": urls["salesforce"], "ca_bundle": stack.sandbox.ca_path}
        env = _form_values(
            app_json,
            {
                "CONNECTOR_CONFIG_YAML": yaml.safe_dump(config),
                "SF_USERNAME": stack_env["SF_USERNAME"],
                "SF_CONSUMER_KEY": stack_env["SF_CONSUMER_KEY"],
                "SF_PRIVATE_KEY": stack_env["SF_PRIVATE_KEY"],
                "LINE_MAIN_CHANNEL_SECRET": channel.secret,
                "LINE_MAIN_ACCESS_TOKEN": channel.access_token,
            },
        )
        bin_dir = heroku_app / ".heroku" / "python" / "bin"
        env |= {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(heroku_app),
            "PORT": str(stack.web_port),
            "REDIS_URL": stack.redis_url,
            "DYNO": "web.1",
        }
        procs = []
        try:
            for name in ("web", "worker"):
                log = open(heroku_app / f"{name}.log", "wb")
                procs.append(
                    subprocess.Popen(
                        procfile[name],
                        shell=True,
                        cwd=heroku_app,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

            def healthy():
                try:
                    return requests.get(f"{stack.web_url}/healthz", timeout=2).status_code == 200
                except requests.RequestException:  # not listening yet, or its workers still booting
                    return False

            try:
                wait_for(healthy, 60, what="web /healthz")
                user = "U" + "5" * 32
                stack.sandbox.line.send_user_message(channel.channel_id, user, {"type": "text", "text": "hello"})
                wait_for(lambda: stack.sandbox.salesforce.find("LINE_Chat_Message__c"), 60, what="the message's record")
                # what a Prometheus scrape of the web dyno reads: its gunicorn workers' counters and
                # the worker dyno's (left in Redis by its sweeper)
                scraped = wait_for(lambda: _scrape(stack.web_url, "connector_drain_jobs_total"), 30, what="metrics")
                assert scraped.get(("connector_webhooks_total", (("status", "200"),)), 0) >= 1
                assert scraped[("connector_drain_jobs_total", (("outcome", "ok"),))] >= 1
                # the settings sync app.json turns on has read the org's custom metadata and said so
                sync = {"Status_Key__c": "config:settings-sync"}
                wait_for(lambda: stack.sandbox.salesforce.find("LINE_Connector_Status__c", **sync), 30, what="sync")
                [status] = stack.sandbox.salesforce.find("LINE_Connector_Status__c", **sync)
                assert status["Severity__c"] == "OK", status["Message__c"]
            except TimeoutError as exc:
                pytest.fail(f"{exc}: {_logs(heroku_app)}")
        finally:
            for proc in procs:
                try:
                    os.killpg(proc.pid, 15)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 15
            for proc in procs:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait(5)
    finally:
        stack.stop()


def _scrape(url: str, wanted: str) -> dict | None:
    """The samples of /metrics parsed with prometheus_client's parser, once `wanted` is among them."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{url}/metrics", timeout=5).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return samples if any(name == wanted for name, _ in samples) else None


def _logs(app: Path) -> str:
    return " ".join(f"[{p.name}: {p.read_text(errors='replace')[-1500:]}]" for p in sorted(app.glob("*.log")))
