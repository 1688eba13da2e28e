"""Configuration: a bad or missing setting stops start-up with one line naming the key."""

import subprocess
import sys

import pytest

from connector.config import ConfigError, load_config
from tests.conftest import base_settings


def test_valid_configuration_resolves_secrets_from_the_environment(environ):
    config = load_config(data=base_settings(), environ=environ)
    assert config.channels[0].secrets == ["8c570fa6dd201bb328f1c1eac23a96d8"]
    assert config.channels[0].access_token == "test-token"


def test_secrets_do_not_show_in_repr(environ):
    config = load_config(data=base_settings(), environ=environ)
    assert "test-token" not in repr(config.channels[0].access_token)
    assert "8c570fa6" not in repr(config.channels[0].secrets)


def test_unknown_key_is_named(environ):
    data = base_settings(line={"channels": base_settings()["line"]["channels"], "timeout_secnds": 3})
    with pytest.raises(ConfigError) as err:
        load_config(data=data, environ=environ)
    assert (
        str(err.value)
        == "config: line.timeout_secnds: unknown setting (check the spelling against config.example.yaml)"
    )


def test_bad_value_is_named_with_its_position(environ):
    channels = base_settings()["line"]["channels"]
    channels[0]["name"] = "has space"
    with pytest.raises(ConfigError) as err:
        load_config(data=base_settings(line={"channels": channels}), environ=environ)
    assert str(err.value).startswith("config: line.channels[0].name: String should match pattern")


def test_missing_required_section_is_named(environ):
    with pytest.raises(ConfigError, match=r"^config: line: required setting is missing$"):
        load_config(data={}, environ=environ)


def test_missing_secret_names_the_key_and_the_variable(environ):
    del environ["LINE_MAIN_TOKEN"]
    with pytest.raises(ConfigError) as err:
        load_config(data=base_settings(), environ=environ)
    assert str(err.value) == "line.channels[0].access_token_env: environment variable LINE_MAIN_TOKEN is not set"


def test_previous_secret_is_accepted_during_rotation(environ):
    data = base_settings()
    data["line"]["channels"][0]["previous_secret_env"] = "LINE_MAIN_SECRET_OLD"
    environ["LINE_MAIN_SECRET_OLD"] = "old-secret"
    config = load_config(data=data, environ=environ)
    assert config.channels[0].secrets == ["8c570fa6dd201bb328f1c1eac23a96d8", "old-secret"]


def test_duplicate_channel_ids_are_rejected(environ):
    data = base_settings()
    data["line"]["channels"].append(dict(data["line"]["channels"][0], name="other", bot_user_id="U2"))
    with pytest.raises(ConfigError, match="channel id must be unique; repeated: 1000000001"):
        load_config(data=data, environ=environ)


def test_unknown_text_key_is_rejected(environ):
    data = base_settings()
    data["line"]["channels"][0]["texts"] = {"welcom": "hi"}
    with pytest.raises(ConfigError, match="unknown text key"):
        load_config(data=data, environ=environ)


def test_invalid_yaml_reports_the_line(tmp_path, environ):
    path = tmp_path / "config.yaml"
    path.write_text("line:\n  channels: [\n")
    with pytest.raises(ConfigError, match=r"config.yaml: line \d+: not valid YAML"):
        load_config(path, environ=environ)


def test_the_example_configuration_is_valid(environ):
    from tests.test_config_startup import RSA_PEM

    env = dict(environ, LINE_MAIN_CHANNEL_SECRET="s", LINE_MAIN_ACCESS_TOKEN="t", SF_PRIVATE_KEY=RSA_PEM)
    config = load_config("config.example.yaml", environ=env)
    assert config.channels[0].name == "main"


def test_cli_prints_one_line_and_exits_2_on_a_bad_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("line:\n  channels: []\n")
    proc = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"configuration error: {path}: line.channels: List should have at least 1 item after validation, not 0"
    ]
