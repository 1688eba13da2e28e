"""The `connector` command line as an admin or integrator uses it."""

import subprocess
import sys

from cryptography.fernet import Fernet


def run(*args, stdin=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_redact_masks_card_data_line_by_line_and_keeps_other_text():
    out = run("redact", "--no-config", stdin="カード 4111 1111 1111 1111\n注文番号 1234567890123\nCVV: 123\n")
    assert out.returncode == 0
    assert out.stdout.splitlines() == ["カード 4111 11** **** 1111", "注文番号 1234567890123", "CVV: ***"]


def test_redact_masks_card_numbers_written_with_other_separators_or_over_lines():
    numbers = [
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "4111,1111,1111,1111",
        "4111\t1111\t1111\t1111",
        "4111  1111  1111  1111",
        "4111\u00a01111\u00a01111\u00a01111",
    ]
    stdin = "".join(f"card {n} ok\n" for n in numbers) + "4111 1111\n1111 1111\n裏の3桁は123です\n"
    out = run("redact", "--no-config", stdin=stdin, env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"})
    assert out.returncode == 0, out.stderr
    sep = lambda n: n[4 : 4 + (len(n) - 16) // 3]
    assert out.stdout.splitlines() == [f"card 4111{sep(n)}11**{sep(n)}****{sep(n)}1111 ok" for n in numbers] + [
        "4111 11**",
        "**** 1111",
        "裏の3桁は***です",
    ]


def test_redact_applies_the_admin_rules_of_the_configuration(tmp_path, environ):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "line:\n  channels: [{id: '1', name: main, secret_env: LINE_MAIN_SECRET, access_token_env: LINE_MAIN_TOKEN}]\n"
        "salesforce: {auth: password}\n"
        "redaction:\n  rules: [{name: member, pattern: '会員番号\\d{6}', action: remove}]\n"
    )
    out = run("--config", str(cfg), "redact", stdin="会員番号123456 です\n", env={**environ, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == " です\n"


def test_keygen_prints_a_usable_encryption_key():
    key = run("keygen").stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_check_config_reports_ok_for_a_valid_configuration(tmp_path, environ):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "line:\n  channels: [{id: '1', name: main, secret_env: LINE_MAIN_SECRET, access_token_env: LINE_MAIN_TOKEN}]\n"
        "salesforce: {auth: password}\n"
    )
    out = run("--config", str(cfg), "check-config", env={**environ, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.startswith("configuration ok: 1 LINE channel(s)")
