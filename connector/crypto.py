"""Encryption of personal data at rest in Redis (Fernet, rotatable with MultiFernet).

Keys come newest first: data is encrypted with the first and decrypted with any, so a rotation is
"prepend a new key, deploy, run `connector rotate-keys`... or let TTLs expire, then drop the old".
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Vault:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
        except ValueError:
            raise ValueError("encryption keys must be url-safe base64 32-byte Fernet keys "
                             "(make one with: connector keygen)") from None

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ValueError("cannot decrypt: data was sealed with a key that is no longer configured") from None

    def seal_json(self, obj: Any) -> bytes:
        return self.seal(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())

    def open_json(self, token: bytes) -> Any:
        return json.loads(self.open(token))

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


def new_key() -> str:
    return Fernet.generate_key().decode()
