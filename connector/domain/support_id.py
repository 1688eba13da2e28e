"""Support IDs: what one looks like, how it is hashed, and whether a stored one may be used now.

Salesforce issues them (Apex `LineSupportIdService`): 12 characters of Crockford base32 (60 random
bits), shown as `XXXX-XXXX-XXXX`: digits and capital letters without I, L, O, U, so it is easy to
read out and type on a phone. Only SHA-256 of the normalised ID is stored
(`LINE_Support_Id__c.Id_Hash__c`); the relay hashes what the customer sends and asks for that hash.
A customer may type it in lower case, with spaces or dashes, full-width, or with O/I/L for 0/1/1.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

LENGTH = 12
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―ー－]+")
_SHAPE = re.compile(r"^[0-9A-Z]{12}$")

VERIFIED = "verified"
NOT_CONFIRMED = "not_confirmed"  # unknown, expired or used: the customer is told the same for all


def normalise(text: str) -> str | None:
    """The canonical 12-character ID in `text` (the whole message), or None when it is not one."""
    if not text or len(text) > 40:
        return None
    flat = unicodedata.normalize("NFKC", text).strip().upper()
    flat = _SEPARATORS.sub("", flat).translate(_CONFUSABLE)
    if not _SHAPE.match(flat) or any(c not in _ALPHABET for c in flat):
        return None
    if flat.isdigit() or flat.isalpha():
        return None  # a phone or order number, or a word: an issued ID mixes both
    return flat


def id_hash(canonical: str) -> str:
    """What Salesforce stores (Id_Hash__c): lowercase hex SHA-256 of the canonical ID."""
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Stored:
    """A LINE_Support_Id__c record as the relay reads it."""

    contact_id: str | None
    account_id: str | None
    expires_at: datetime | None
    reusable: bool
    used: bool
    entitled: bool


def check(stored: Stored | None, now: datetime) -> str:
    """VERIFIED, or NOT_CONFIRMED for an unknown, expired, already used or unlinked ID."""
    if stored is None or not (stored.contact_id or stored.account_id):
        return NOT_CONFIRMED
    if stored.expires_at is not None and stored.expires_at <= now:
        return NOT_CONFIRMED
    if stored.used and not stored.reusable:
        return NOT_CONFIRMED
    return VERIFIED
