"""The company's site registers an account-link nonce (LINE account link, docs/data-protection.md).

`POST /account-link/nonce` `{"nonce", "contactId", "entitled"?}`, signed like a Salesforce callout
(`X-Connector-Timestamp`, `X-Connector-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." +
body)>` with a CONNECTOR_CALLOUT_SECRETS secret), after the customer logged in and before the site
redirects them to `https://access.line.me/dialog/bot/accountLink?linkToken=...&nonce=...`. The
nonce (16 to 255 URL-safe characters; LINE recommends 128 bits or more) is kept only as its hash,
for `account_link.nonce_ttl_minutes`, and used once.

201 registered · 400 not such a body · 401 bad/missing/stale signature · 409 nonce already
registered · 413 too large · 503 Redis unavailable.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, current_app, jsonify

from connector.domain.account_link import nonce_hash
from connector.storage import StorageError
from connector.web.edge import parse_json
from connector.web.salesforce import _signed_body

log = logging.getLogger(__name__)
bp = Blueprint("account_link", __name__)
_NONCE = re.compile(r"[A-Za-z0-9_\-.~]{16,255}")
_CONTACT = re.compile(r"003[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")


@bp.post("/account-link/nonce")
def register_nonce():
    rt = current_app.extensions["connector"]
    body, refused = _signed_body(rt)
    if refused:
        return refused
    try:
        data = parse_json(body)
        nonce, contact = data["nonce"], data["contactId"]
        if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
            raise ValueError("bad nonce")
        if not isinstance(contact, str) or not _CONTACT.fullmatch(contact):
            raise ValueError("bad contact id")
        entitled = data.get("entitled", False)
        if not isinstance(entitled, bool):
            raise ValueError("bad entitled")
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("account-link nonce refused: %s", exc)
        return jsonify(error="malformed body"), 400
    try:
        ttl = rt.settings.account_link.nonce_ttl_minutes * 60
        if not rt.account_link_store.register(nonce_hash(nonce), contact, entitled, ttl):
            return jsonify(error="nonce already registered"), 409
    except StorageError as exc:
        log.error("account-link nonce: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    return jsonify(registered=True), 201
