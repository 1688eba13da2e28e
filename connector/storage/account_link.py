"""Nonces the company's site registered for LINE account link, by hash, until LINE's event comes.

Key (keys.Keys.account_link): `account-link:nonce:<sha256 of the nonce>` -> sealed
{contact_id, entitled}, expiring after `account_link.nonce_ttl_minutes`. Taken once (GETDEL).
"""

from __future__ import annotations

import redis

from connector.storage.keys import Keys
from connector.storage.vault import Vault


class AccountLinkStore:
    def __init__(self, client: redis.Redis, vault: Vault, keys: Keys):
        self.r = client
        self.vault = vault
        self.keys = keys

    def register(self, nonce_hash: str, contact_id: str, entitled: bool, ttl_s: float) -> bool:
        """False when this nonce is already registered (a nonce is used once)."""
        value = self.vault.seal_json({"contact_id": contact_id, "entitled": bool(entitled)})
        return bool(self.r.set(self.keys.account_link(f"nonce:{nonce_hash}"), value, nx=True, ex=max(1, int(ttl_s))))

    def take(self, nonce_hash: str) -> dict | None:
        raw = self.r.getdel(self.keys.account_link(f"nonce:{nonce_hash}"))
        return None if raw is None else self.vault.open_json(raw)
