"""Identifier generators with the real formats of each platform.

All generators are thread-safe and deterministic enough for tests (counters, not randomness,
where the platform's ids are sequential).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def ulid(timestamp_ms: int | None = None) -> str:
    """A ULID (26 chars, Crockford base32): 48-bit ms timestamp + 80 random bits."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = (ts << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def request_id() -> str:
    """LINE's x-line-request-id is a UUID."""
    return str(uuid.uuid4())


def salesforce_checksum(id15: str) -> str:
    """The 3-character case-safe suffix that turns a 15-char Salesforce id into 18 chars."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _SF_SUFFIX[bits]
    return suffix


def to_id18(value: str) -> str:
    """Normalise a 15- or 18-char id to 18 chars (other strings are returned unchanged)."""
    if len(value) == 15 and value.isalnum():
        return value + salesforce_checksum(value)
    return value


class SalesforceIdFactory:
    """Makes 18-char ids: key prefix (3) + instance '5g' + base62 counter (10) + checksum (3)."""

    def __init__(self, instance: str = "5g"):
        self._instance = instance
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, key_prefix: str) -> str:
        with self._lock:
            n = next(self._counter)
        digits = []
        for _ in range(10):
            n, r = divmod(n, 62)
            digits.append(_BASE62[r])
        id15 = key_prefix + self._instance + "".join(reversed(digits))
        return id15 + salesforce_checksum(id15)


class Counter:
    """A thread-safe integer sequence (LINE message ids, Twilio sids...)."""

    def __init__(self, start: int = 1):
        self._it = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._it)


def twilio_sid(prefix: str) -> str:
    """Twilio sids: two-letter prefix + 32 lowercase hex chars."""
    return prefix + uuid.uuid4().hex
