"""LINE account link in the sandbox, through line-bot-sdk: link token, then the accountLink event."""

from __future__ import annotations

import pytest
from linebot.v3.messaging.exceptions import ApiException as MessagingApiException
from linebot.v3.webhooks import AccountLinkEvent

from .conftest import CHANNEL_ID

USER = "U" + "e" * 32


def test_a_link_token_is_issued_for_a_friend_and_its_first_use_links(sb, line_api, receiver):
    sb.line.add_user(CHANNEL_ID, USER, "Taro")
    token = line_api.issue_link_token(USER).link_token
    sb.line.complete_account_link(CHANNEL_ID, token, "n" * 32)
    sb.line.complete_account_link(CHANNEL_ID, token, "m" * 32)  # a token is used once
    events = [e for e in receiver.events if isinstance(e, AccountLinkEvent)]
    assert [(e.link.result, e.link.nonce, e.source.user_id) for e in events] == [
        ("ok", "n" * 32, USER),
        ("failed", "m" * 32, USER),
    ]


def test_no_link_token_for_someone_who_is_not_a_friend(sb, line_api):
    with pytest.raises(MessagingApiException) as err:
        line_api.issue_link_token("U" + "f" * 32)
    assert err.value.status == 400
