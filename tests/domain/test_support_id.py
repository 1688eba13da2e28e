"""What counts as a support ID a customer typed, and when a stored one may be used."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from connector.domain import support_id as S

NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "typed",
    ["7K4Q-9MX2-PD3R", "7k4q 9mx2 pd3r", "７Ｋ４Ｑ－９ＭＸ２－ＰＤ３Ｒ", "7K4Q9MX2PD3R", " 7K4Q ー 9MX2 ー PD3R "],
)
def test_the_ways_a_customer_types_an_id_are_one_id(typed):
    assert S.normalise(typed) == "7K4Q9MX2PD3R"


def test_letters_that_look_like_digits_are_read_as_digits():
    assert S.normalise("7K4Q-9MX2-PD3O") == S.normalise("7K4Q-9MX2-PD30")
    assert S.normalise("IK4Q-9MX2-PD3L") == "1K4Q9MX2PD31"


@pytest.mark.parametrize(
    "text", ["0901-2345-6789", "HELLO-WORLD-X", "7K4Q-9MX2-PD3", "my id is 7K4Q-9MX2-PD3R", "", "7K4Q-9MX2-PD3U"]
)
def test_phone_numbers_words_and_sentences_are_not_ids(text):
    assert S.normalise(text) is None


def test_the_stored_hash_is_sha256_of_the_canonical_id():
    assert S.id_hash("7K4Q9MX2PD3R") == hashlib.sha256(b"7K4Q9MX2PD3R").hexdigest()


def stored(**kw) -> S.Stored:
    base = dict(contact_id="003x", account_id=None, expires_at=NOW + dt.timedelta(days=1), reusable=False)
    return S.Stored(**{**base, "used": False, "entitled": False, **kw})


def test_a_fresh_id_is_verified_and_an_expired_used_or_unlinked_one_is_not():
    assert S.check(stored(), NOW) == S.VERIFIED
    assert S.check(stored(expires_at=NOW), NOW) == S.NOT_CONFIRMED
    assert S.check(stored(used=True), NOW) == S.NOT_CONFIRMED
    assert S.check(stored(used=True, reusable=True), NOW) == S.VERIFIED
    assert S.check(stored(contact_id=None), NOW) == S.NOT_CONFIRMED
    assert S.check(None, NOW) == S.NOT_CONFIRMED
