"""Finding 6 (issue 17): a misconfigured relay stops at start-up with one line per problem naming
the key, instead of starting and then failing every request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connector.config import ConfigError, load_config
from connector.entrypoints.cli import main
from tests.conftest import base_settings


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


ROOT = Path(__file__).resolve().parents[1]
RSA_PEM = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def jwt_settings(**overrides) -> dict:
    data = base_settings(**overrides)
    data["salesforce"] = {"auth": "jwt", "login_url": "https://login.example.com"}
    return data


@pytest.fixture
def jwt_environ(environ):
    return dict(environ, SF_PRIVATE_KEY=RSA_PEM)


def check_config(tmp_path, monkeypatch, capsys, data: dict, environ: dict) -> tuple[int, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    for key in list(environ):
        monkeypatch.setenv(key, environ[key])
    code = main(["--config", str(path), "check-config"])
    return code, capsys.readouterr().err.splitlines()


def with_channel(**changes) -> dict:
    data = jwt_settings()
    data["line"]["channels"][0].update(changes)
    return data


# Each misconfiguration of the finding, and the one line check-config now prints about it.
FINDING6 = [
    (jwt_settings(), {"CONNECTOR_ENCRYPTION_KEYS": "notakey"}, "CONNECTOR_ENCRYPTION_KEYS: not a key"),
    (jwt_settings(), {"SF_PRIVATE_KEY": "notapem"}, "SF_PRIVATE_KEY: not a PEM private key"),
    (
        jwt_settings(redaction={"rules": [{"name": "member", "pattern": "([unclosed", "action": "mask"}]}),
        {},
        "redaction.rules[0]: redaction rule 'member': invalid regular expression",
    ),
    (jwt_settings(public_base_url="not a url"), {}, "public_base_url: not an http(s) URL"),
    (with_channel(language="fr"), {}, "line.channels[0].language: unsupported language 'fr' (supported: en, ja)"),
]


@pytest.mark.parametrize(("data", "env", "line"), FINDING6, ids=["key", "pem", "regex", "url", "language"])
def test_finding6_check_config_refuses_each_misconfiguration_in_one_line(
    tmp_path, monkeypatch, capsys, jwt_environ, data, env, line
):
    code, err = check_config(tmp_path, monkeypatch, capsys, data, {**jwt_environ, **env})
    assert code == 2
    assert len(err) == 1 and err[0].startswith("configuration error: ") and line in err[0], err


def test_every_problem_gets_its_own_line(tmp_path, monkeypatch, capsys, jwt_environ):
    data = with_channel(language="fr")
    data["public_base_url"] = "ftp://files"
    data["line"]["api_base_url"] = "https://"
    code, err = check_config(tmp_path, monkeypatch, capsys, data, jwt_environ)
    assert code == 2 and len(err) == 3, err
    assert all(e.startswith("configuration error: ") for e in err)
    assert any("line.api_base_url" in e for e in err) and any("public_base_url" in e for e in err)

    env = dict(
        jwt_environ, CONNECTOR_ENCRYPTION_KEYS=f"{jwt_environ['CONNECTOR_ENCRYPTION_KEYS']},short", SF_PRIVATE_KEY="x"
    )
    env["REDIS_URL"] = "http://127.0.0.1:6379"
    code, err = check_config(tmp_path, monkeypatch, capsys, jwt_settings(), env)
    assert code == 2
    assert [e.split(":")[1].strip() for e in err] == ["REDIS_URL", "CONNECTOR_ENCRYPTION_KEYS", "SF_PRIVATE_KEY"]
    assert "key 2 of 2" in err[1]


def test_secret_values_never_appear_in_the_error(jwt_environ):
    secret = "Zm9vYmFy-this-is-not-a-key-but-still-secret"
    with pytest.raises(ConfigError) as err:
        load_config(data=jwt_settings(), environ=dict(jwt_environ, CONNECTOR_ENCRYPTION_KEYS=secret))
    assert secret not in str(err.value) and "Zm9v" not in str(err.value)
    bad_pem = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError) as err:
        load_config(data=jwt_settings(), environ=dict(jwt_environ, SF_PRIVATE_KEY=bad_pem))
    assert "c2VjcmV0" not in str(err.value)


def test_a_pem_that_is_not_rsa_is_refused(jwt_environ):
    ec_pem = pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match=r"^SF_PRIVATE_KEY: not an RSA private key \(JWT bearer signs with RS256\)$"):
        load_config(data=jwt_settings(), environ=dict(jwt_environ, SF_PRIVATE_KEY=ec_pem))


def test_a_pem_with_escaped_newlines_as_heroku_config_vars_hold_it_is_accepted(jwt_environ):
    config = load_config(data=jwt_settings(), environ=dict(jwt_environ, SF_PRIVATE_KEY=RSA_PEM.replace("\n", "\\n")))
    assert config.sf_private_key.startswith("-----BEGIN PRIVATE KEY-----\n")


@pytest.mark.parametrize(
    ("hours", "where"),
    [
        ({"weekly": {"mon": ["25:00-26:00"]}}, "line.channels[0].bot: "),
        ({"timezone": "Mars/Olympus_Mons"}, "line.channels[0].bot: "),
        ({"weekly": {"mon": ["19:00-10:00"]}}, "line.channels[0].bot: "),
    ],
)
def test_bad_business_hours_are_named(jwt_environ, hours, where):
    data = with_channel(bot={"enabled": True, "business_hours": hours})
    with pytest.raises(ConfigError) as err:
        load_config(data=data, environ=jwt_environ)
    assert str(err.value).startswith("config: " + where), str(err.value)
    assert "\n" not in str(err.value)


def test_the_web_server_does_not_start_with_a_bad_key(tmp_path, jwt_environ):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(jwt_settings()))
    env = {**jwt_environ, "CONNECTOR_CONFIG": str(path), "CONNECTOR_ENCRYPTION_KEYS": "notakey"}
    env["PATH"] = "/usr/bin:/bin"
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", "127.0.0.1:0", "-w", "1"]
    proc = subprocess.run(
        [*gunicorn, "connector.entrypoints.wsgi:app"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 4  # the server stops: it does not boot workers that fail every request
    errors = [line for line in proc.stderr.splitlines() if "configuration error" in line]
    assert errors == [
        "configuration error: CONNECTOR_ENCRYPTION_KEYS: not a key "
        "(key 1 of 1: url-safe base64 of 32 bytes or 64 hex digits expected; make one with: connector keygen)"
    ]


def test_the_worker_does_not_start_with_a_bad_redaction_pattern(tmp_path, monkeypatch, capsys, jwt_environ):
    data = jwt_settings(redaction={"rules": [{"name": "member", "pattern": "([unclosed", "action": "mask"}]})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    for key, value in jwt_environ.items():
        monkeypatch.setenv(key, value)
    assert main(["--config", str(path), "worker", "--burst"]) == 2
    assert main(["--config", str(path), "redact"]) == 2  # was a 40-line traceback
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("configuration error: ") for e in err)


def test_finding6_readyz_answers_503_never_500_when_salesforce_cannot_even_be_asked(config, monkeypatch):
    from connector.entrypoints.app import create_app

    app = create_app(config)
    gateway = app.extensions["connector"].salesforce

    def broken():
        raise ValueError("Could not deserialize key data")  # what a bad PEM raised before start-up checks

    monkeypatch.setattr(gateway, "client", broken)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["salesforce"] == "unavailable (ValueError)"
