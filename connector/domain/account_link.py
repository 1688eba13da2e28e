"""LINE account link: which words ask for it, and what identifies a nonce (pure, no I/O).

Flow (docs/data-protection.md): the customer writes a keyword -> the relay issues a link token and
sends the company's linking URL with it -> the company's site logs the customer in, registers a
random nonce with the relay (with the Contact it belongs to) and redirects to LINE's accountLink
dialog -> LINE sends the `accountLink` event with the nonce -> the relay links the friend to that
Contact, as a support ID does. Unlinking: the customer writes an unlink keyword.
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import urlencode, urlsplit, urlunsplit

OFFER = "offer"
UNLINK = "unlink"
LINKED = "linked"


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def keyword_action(text: str, keywords, unlink_keywords) -> str | None:
    """OFFER or UNLINK when the whole message is one of the keywords (any case, width, spacing)."""
    folded = _fold(text)
    if not folded:
        return None
    if folded in {_fold(k) for k in unlink_keywords}:
        return UNLINK
    if folded in {_fold(k) for k in keywords}:
        return OFFER
    return None


def nonce_hash(nonce: str) -> str:
    """Nonces are kept (in Redis, for minutes) only as this hash."""
    return hashlib.sha256(str(nonce).encode()).hexdigest()


def linking_url(base: str, link_token: str) -> str:
    """The company's linking page with the link token added to its query."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode({"linkToken": link_token})) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
