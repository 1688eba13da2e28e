"""Issue 22: configuration from the environment alone (Heroku), the key Heroku's generator makes,
and the command line's conventions (--version, argument errors first, JSON logs)."""

from __future__ import annotations

import io
import json
import logging
import secrets

import pytest
import yaml

from connector.config import ConfigError, load_config
from connector.entrypoints.cli import main
from connector.logs import configure_logging
from connector.storage.vault import Vault
from tests.conftest import base_settings


def env_only(environ, data=None) -> dict:
    return {**environ, "CONNECTOR_CONFIG_YAML": yaml.safe_dump(data or base_settings())}


def test_the_configuration_can_come_from_an_environment_variable_alone(environ, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.yaml here
    config = load_config(environ=env_only(environ))
    assert config.channels[0].name == "main"


def test_a_configuration_file_named_in_connector_config_wins_over_the_yaml_variable(environ, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_settings(log_level="DEBUG")))
    config = load_config(environ={**env_only(environ), "CONNECTOR_CONFIG": str(path)})
    assert config.settings.log_level == "DEBUG"


def test_a_bad_yaml_variable_is_named_in_the_error(environ):
    with pytest.raises(ConfigError) as err:
        load_config(environ={**environ, "CONNECTOR_CONFIG_YAML": "line: [unclosed"})
    assert err.value.problems[0].startswith("CONNECTOR_CONFIG_YAML: line 1: not valid YAML")


def test_without_any_configuration_the_error_names_both_ways(environ, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="CONNECTOR_CONFIG to a file, or CONNECTOR_CONFIG_YAML"):
        load_config(environ=environ)


def test_herokus_generated_secret_is_an_encryption_key_that_seals_and_opens(environ):
    generated = secrets.token_hex(32)  # what app.json's `generator: secret` produces
    config = load_config(data=base_settings(), environ={**environ, "CONNECTOR_ENCRYPTION_KEYS": generated})
    vault = Vault(config.encryption_keys)
    assert vault.open(vault.seal(b"kept")) == b"kept"
    # the same digits in upper case are the same key
    again = load_config(data=base_settings(), environ={**environ, "CONNECTOR_ENCRYPTION_KEYS": generated.upper()})
    assert Vault(again.encryption_keys).open(vault.seal(b"kept")) == b"kept"


def test_a_hex_string_of_the_wrong_length_is_not_a_key(environ):
    with pytest.raises(ConfigError, match="CONNECTOR_ENCRYPTION_KEYS: not a key"):
        load_config(data=base_settings(), environ={**environ, "CONNECTOR_ENCRYPTION_KEYS": secrets.token_hex(16)})


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("connector 0.")


def test_replay_without_an_id_is_an_argument_error_even_without_a_configuration(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(tmp_path / "missing.yaml"), "failed", "replay"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "give a dead letter's ID or --all" in err and "configuration error" not in err


def test_json_log_format_writes_one_object_per_line():
    root = logging.getLogger()
    handlers = [h for h in root.handlers if getattr(h, "_connector", False)]
    stream = io.StringIO()
    configure_logging("INFO", "json")
    handler = next(h for h in root.handlers if getattr(h, "_connector", False))
    old_stream = handler.setStream(stream)
    try:
        logging.getLogger("connector.test").info("drain conv=%s events=%d", "c1", 3)
        entry = json.loads(stream.getvalue().splitlines()[-1])
        assert entry["level"] == "INFO" and entry["logger"] == "connector.test"
        assert entry["message"] == "drain conv=c1 events=3" and entry["time"].endswith("Z")
    finally:
        handler.setStream(old_stream)
        configure_logging("INFO", "text")
        if not handlers:  # leave logging as this test found it
            root.removeHandler(handler)
            root._connector_configured = False
