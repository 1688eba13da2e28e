"""The vault: personal data in Redis is encrypted, opens with any configured key, survives upgrades."""

from __future__ import annotations

import os
import threading

import pytest
from cryptography.fernet import Fernet

from connector.storage.vault import Vault, new_key

OLD, NEW = new_key(), new_key()


def test_a_sealed_value_opens_and_does_not_show_its_text():
    vault = Vault([NEW])
    sealed = vault.seal_json({"text": "田中です 090-1234-5678"})
    assert "田中".encode() not in sealed and b"090" not in sealed
    assert vault.open_json(sealed) == {"text": "田中です 090-1234-5678"}


def test_sealing_the_same_value_twice_gives_different_bytes():
    vault = Vault([NEW])
    assert vault.seal(b"same") != vault.seal(b"same")


def test_after_a_key_rotation_values_sealed_with_the_old_key_still_open():
    sealed = Vault([OLD]).seal(b"before the rotation")
    assert Vault([NEW, OLD]).open(sealed) == b"before the rotation"


def test_once_the_old_key_is_dropped_its_values_fail_with_a_clear_error():
    sealed = Vault([OLD]).seal(b"x")
    with pytest.raises(ValueError, match="no longer configured"):
        Vault([NEW]).open(sealed)


def test_rotate_reseals_with_the_newest_key():
    rotated = Vault([NEW, OLD]).rotate(Vault([OLD]).seal(b"kept"))
    assert Vault([NEW]).open(rotated) == b"kept"


def test_values_written_by_the_fernet_vault_of_earlier_versions_still_open():
    legacy = Fernet(OLD.encode()).encrypt(b'{"conv":"c:U1"}')
    assert Vault([NEW, OLD]).open_json(legacy) == {"conv": "c:U1"}


def test_a_damaged_value_is_refused():
    sealed = bytearray(Vault([NEW]).seal(b"payload"))
    sealed[-1] ^= 1
    with pytest.raises(ValueError, match="damaged"):
        Vault([NEW]).open(bytes(sealed))


def test_json_keeps_what_the_standard_library_kept():
    vault = Vault([NEW])
    obj = {1: "int key", "big": 2**70, "f": 1732000000.123456}
    assert vault.open_json(vault.seal_json(obj)) == {"1": "int key", "big": 2**70, "f": 1732000000.123456}


def test_a_key_that_is_not_a_fernet_key_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match="connector keygen"):
        Vault(["not-a-key"])


def _nonce_of(sealed: bytes) -> bytes:
    return sealed[5:17]


def test_no_two_seals_share_a_nonce_even_across_threads():
    vault = Vault([new_key()])
    nonces: list[bytes] = []

    def seal_many():
        nonces.extend(_nonce_of(vault.seal(b"x")) for _ in range(2_000))

    threads = [threading.Thread(target=seal_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(nonces)) == len(nonces) == 8_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_does_not_reuse_its_parents_nonces():
    vault = Vault([new_key()])
    vault.seal(b"x")  # the parent now holds a block of nonces, as a gunicorn master would
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a web worker
        os.write(write, _nonce_of(vault.seal(b"child")))
        os._exit(0)
    os.waitpid(pid, 0)
    child_nonce = os.read(read, 12)
    assert child_nonce != _nonce_of(vault.seal(b"parent"))
