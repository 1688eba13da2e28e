"""Encryption of personal data at rest in Redis: AES-256-GCM, rotatable.

Keys (CONNECTOR_ENCRYPTION_KEYS) come newest first, as url-safe base64 32-byte keys (`connector
keygen`). Data is sealed with the first and opened with any, so a rotation is "prepend a new key,
deploy, let the data sealed with the old one expire or be rewritten (conversation state is
re-sealed at the customer's next message; there is no bulk re-seal command), then drop the old".

A sealed value is `b"\\x01" | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)`.
Each configured key is stretched with HKDF-SHA256 into the AES key; the key id (from that AES key,
not the key itself) says which key opens a value without trying them all. The nonce is random:
fine for 2^32 seals per key, which at 1,000 messages a second is a century. Nonces are read from
the OS a block at a time (`_Nonces`): one getrandom() per seal cost the webhook about 20 us on
these machines (docs/benchmarks.md).

Values written by earlier versions with Fernet (tokens starting with "gAAAAA") are still opened,
with the same keys, so an upgrade strands nothing in Redis; everything written now is AES-GCM
(Fernet's AES-CBC + HMAC in Python cost 15 us per webhook, AES-GCM 2 us: docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
_HEADER = 1 + 4 + 12
_INFO = b"line-sfdc-connector vault aes-256-gcm v1"
_JSON_OPTS = orjson.OPT_NON_STR_KEYS  # like json.dumps: int keys become strings


class _Nonces:
    """12-byte AES-GCM nonces from the OS's CSPRNG, read a block at a time.

    Each nonce is handed out once: under a lock across threads, and a forked child (gunicorn's
    workers are forks) throws away the block it inherited, so parent and child never share one.
    """

    SIZE, BLOCK = 12, 512

    def __init__(self):
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()  # a lock held by another thread at fork time stays held
        self._block, self._pos = b"", 0

    def take(self) -> bytes:
        with self._lock:
            if self._pos == len(self._block):
                self._block, self._pos = os.urandom(self.SIZE * self.BLOCK), 0
            self._pos += self.SIZE
            return self._block[self._pos - self.SIZE : self._pos]


_nonce = _Nonces().take


def _aead_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(base64.urlsafe_b64decode(key))


class Vault:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one encryption key is required")
        raw = [k.encode() if isinstance(k, str) else k for k in keys]
        try:
            self._fernet = MultiFernet([Fernet(k) for k in raw])  # validates the keys; opens old values
        except ValueError:
            raise ValueError(
                "encryption keys must be url-safe base64 32-byte Fernet keys (make one with: connector keygen)"
            ) from None
        self._keys: dict[bytes, AESGCM] = {}
        for k in raw:
            aead_key = _aead_key(k)
            self._keys.setdefault(hashlib.sha256(aead_key).digest()[:4], AESGCM(aead_key))
        self._kid = hashlib.sha256(_aead_key(raw[0])).digest()[:4]
        self._seal = self._keys[self._kid].encrypt

    def seal(self, data: bytes) -> bytes:
        nonce = _nonce()
        return VERSION + self._kid + nonce + self._seal(nonce, data, None)

    def open(self, token: bytes) -> bytes:
        if token[:1] == VERSION:
            aead = self._keys.get(bytes(token[1:5]))
            if aead is not None:
                try:
                    return aead.decrypt(bytes(token[5:_HEADER]), bytes(token[_HEADER:]), None)
                except InvalidTag:
                    raise ValueError("cannot decrypt: the sealed value is damaged") from None
        else:
            try:
                return self._fernet.decrypt(token)
            except InvalidToken:
                pass
        raise ValueError("cannot decrypt: data was sealed with a key that is no longer configured")

    def seal_json(self, obj: Any) -> bytes:
        try:
            data = orjson.dumps(obj, option=_JSON_OPTS)
        except TypeError:  # e.g. an int beyond 64 bits: the standard library takes any
            try:
                data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
            except (TypeError, ValueError, RecursionError) as exc:
                raise ValueError(f"cannot seal: not serialisable as JSON ({type(exc).__name__})") from None
        return self.seal(data)

    def open_json(self, token: bytes) -> Any:
        return orjson.loads(self.open(token))

    def rotate(self, token: bytes) -> bytes:
        """The value sealed again with the newest key (and in the current format)."""
        return self.seal(self.open(token))


def new_key() -> str:
    return Fernet.generate_key().decode()
