"""Sealed bytes held in Redis for a while: media downloaded from LINE until Salesforce has them,
images an operator sends (and their previews) for the first fetches, after which they come from
Salesforce again."""

from __future__ import annotations

import redis

from connector.storage.keys import Keys
from connector.storage.vault import Vault

CONTENT = "content"  # a customer's image/video/audio/file, by message key
MEDIA = "media"  # an operator's image, by ContentVersion id
MEDIA_PREVIEW = "media-preview"  # its preview, by ContentVersion id


class Blobs:
    def __init__(self, client: redis.Redis, vault: Vault, keys: Keys):
        self.r = client
        self.vault = vault
        self.keys = keys

    def get(self, kind: str, ident: str) -> bytes | None:
        raw = self.r.get(self.keys.blob(kind, ident))
        return None if raw is None else self.vault.open(raw)

    def exists(self, kind: str, ident: str) -> bool:
        return bool(self.r.exists(self.keys.blob(kind, ident)))

    def put(self, kind: str, ident: str, data: bytes, ttl_s: int) -> None:
        self.r.set(self.keys.blob(kind, ident), self.vault.seal(data), ex=max(1, int(ttl_s)))

    def delete(self, kind: str, ident: str) -> None:
        self.r.delete(self.keys.blob(kind, ident))
