"""``POST /services/oauth2/token``: username-password and JWT bearer flows.

Errors use the OAuth body Salesforce sends: HTTP 400 ``{"error": ..., "error_description": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt

from .salesforce_store import SalesforceState, SalesforceUser

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


def token(state: SalesforceState, form: dict) -> dict:
    """The token response for a token request form; raises OAuthError."""
    grant = form.get("grant_type")
    if grant == "password":
        user = _password_user(state, form)
    elif grant == JWT_GRANT:
        user = _jwt_user(state, form.get("assertion") or "")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    access_token = state.issue_session(user.username)
    issued_at = str(int(time.time() * 1000))
    user_id = state.integration_user_id
    identity = f"{state.instance_url}/id/{state.org_id}/{user_id}"
    signature = base64.b64encode(
        hmac.new(b"sandbox", (identity + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    return {
        "access_token": access_token,
        "scope": "api",
        "instance_url": state.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
    }


def _user_by_key(state: SalesforceState, consumer_key: str | None) -> list[SalesforceUser]:
    users = [u for u in state.users if u.consumer_key == consumer_key]
    if not users:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    return users


def _password_user(state: SalesforceState, form: dict) -> SalesforceUser:
    users = _user_by_key(state, form.get("client_id"))
    for user in users:
        if user.username != form.get("username"):
            continue
        if user.consumer_secret is not None and form.get("client_secret") != user.consumer_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        if user.password != form.get("password"):
            break
        return user
    raise OAuthError("invalid_grant", "authentication failure")


def _jwt_user(state: SalesforceState, assertion: str) -> SalesforceUser:
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "invalid assertion")
    users = _user_by_key(state, claims.get("iss"))
    user = next((u for u in users if u.username == claims.get("sub")), None)
    if user is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    audiences = list(LOGIN_AUDIENCES) + [state.instance_url]
    if claims.get("aud") not in audiences:
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        exp = float(claims.get("exp"))
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if exp < time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    if user.public_key_pem is not None:
        try:
            jwt.decode(
                assertion, user.public_key_pem, algorithms=["RS256"], options={"verify_aud": False, "verify_exp": False}
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
    return user
