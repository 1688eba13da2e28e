"""Voice decisions: numbers, call status ordering, the Task, one-time codes, the IVR, Call to LINE."""

from __future__ import annotations

import hashlib
import random
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.domain import voice as V
from connector.gateways.twilio import render_twiml
from connector.i18n import DEFAULT_TEXTS

SID = "CA" + "1" * 32


def text(key: str, **values) -> str:
    return DEFAULT_TEXTS["ja"][key].format(**values)


CTX = V.IvrContext(text=text, desk_number=None, caller_id="+815012345678")


def url(step: str) -> str:
    return f"https://relay.example.com/twilio/gather?step={step}"


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("090-1234-5678", "+819012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("03-1234-5678", "+81312345678"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, e164):
    assert V.normalise(raw) == e164


@pytest.mark.parametrize(
    "raw", ["anonymous", "+266696687", "+7378742833", "+86282452253", "restricted", "", None, "client:web-x", "12"]
)
def test_withheld_and_invalid_caller_ids_are_not_numbers(raw):
    assert V.normalise(raw) is None and V.is_withheld(raw)


def test_pnp_reaches_only_mobiles_of_japan_taiwan_thailand():
    assert V.pnp_eligible("+819012345678")
    assert V.pnp_eligible("+66812345678") and V.pnp_eligible("+886912345678")
    assert not V.pnp_eligible("+81312345678")  # a Tokyo fixed line
    assert not V.pnp_eligible("+815012345678")  # 050: IP phone
    assert not V.pnp_eligible("+14155550100")


def test_pnp_addresses_the_sha256_of_the_e164_number():
    assert V.pnp_hash("+818000001234") == hashlib.sha256(b"+818000001234").hexdigest()


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\+8190[0-9]{8}", fullmatch=True))
def test_a_masked_number_keeps_only_country_code_and_last_four_digits(e164):
    masked = V.mask(e164, "last4")
    assert masked.startswith("+81") and masked.endswith(e164[-4:])
    middle = masked[3:-4]
    assert middle and set(middle) == {"*"}
    assert e164[3:-4] not in masked


def test_mask_modes():
    assert V.mask("+819012345678", "none") == "+819012345678"
    assert V.mask("+819012345678", "all") == "***"
    assert V.mask("anonymous", "last4") == "anonymous"


# --------------------------------------------------------------------------- status ordering


def _events(final: str, duration: int, *, leg: str = "inbound") -> list[dict]:
    """The status callbacks of one call, in the order Twilio fires them."""
    flow = ["initiated", "ringing"] + (["in-progress"] if final == "completed" else []) + [final]
    out = []
    for seq, status in enumerate(flow):
        params = {
            "CallSid": SID,
            "CallStatus": status,
            "SequenceNumber": str(seq),
            "Direction": leg,
            "From": "+819012345678",
            "To": "+815012345678",
            "Timestamp": f"Mon, 16 Nov 2026 10:00:{seq * 5:02d} +0000",
        }
        if status == "completed":
            params["CallDuration"] = str(duration)
        out.append(V.callback_event(params))
    return out


@settings(max_examples=300, deadline=None)
@given(
    final=st.sampled_from(sorted(V.FINAL_STATUSES)),
    duration=st.integers(0, 7200),
    seed=st.integers(0, 2**32),
    repeats=st.lists(st.integers(0, 4), max_size=8),
)
def test_any_arrival_order_and_repeats_end_in_the_final_status(final, duration, seed, repeats):
    events = _events(final, duration)
    arrived = events + [events[i % len(events)] for i in repeats]
    random.Random(seed).shuffle(arrived)
    call = V.fold_all(arrived)
    assert call == V.fold_all(events)
    assert call["status"] == final and call["seq"] == len(events) - 1
    fields = V.task_fields(call, V.CallLink(), subject="s")
    assert fields["CallDisposition"] == final and fields["Status"] == "Completed"
    if final == "completed":
        assert fields["CallDurationInSeconds"] == duration
    else:
        assert "CallDurationInSeconds" not in fields


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), cut=st.integers(1, 4))
def test_status_never_moves_backward(seed, cut):
    """Folding events one at a time, in any order, never goes from a later status to an earlier one."""
    events = _events("completed", 30)
    random.Random(seed).shuffle(events)
    state, last = None, (False, -2, -1)
    for event in events[:cut]:
        state = V.fold(state, event)
        rank = V._rank(state["status"], state["seq"])
        assert rank >= last
        last = rank


def test_duration_only_from_completed():
    events = _events("busy", 0)
    events[-1]["duration"] = 99  # even if something claimed one
    assert "duration" not in V.fold_all(events)


def test_the_voice_webhook_counts_as_the_start_and_is_superseded_by_any_callback():
    start = V.callback_event({"CallSid": SID, "CallStatus": "ringing", "From": "+819012345678"})
    assert start["seq"] == -1
    call = V.fold_all([V.callback_event({"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "0"}), start])
    assert call["status"] == "completed"


def test_task_fields_of_a_completed_call():
    call = V.fold_all(_events("completed", 200))
    link = V.CallLink(flow=V.FLOW_LINE_TO_CALL, case_id="500000000000001AAA", contact_id="003000000000001AAA")
    fields = V.task_fields(call, link, subject="通話")
    assert fields["CallObject"] == SID and fields["CallType"] == "Inbound"
    assert fields["CallDurationInSeconds"] == 200 and fields["CallDisposition"] == "completed"
    assert fields["WhatId"] == link.case_id and fields["WhoId"] == link.contact_id
    assert fields["LINE_Call_From__c"] == "+81******5678"
    assert "12345678" not in str(fields)
    assert fields["LINE_Call_Started_At__c"].startswith("2026-11-16T10:00:00")
    assert fields["ActivityDate"] == "2026-11-16"


def test_dial_legs_are_outbound():
    assert V.call_type("outbound-dial") == "Outbound" and V.call_type("inbound") == "Inbound"


def test_transcript_shows_started_answered_ended():
    assert [s for s, _ in V.transcript_steps(V.fold_all(_events("completed", 5)))] == ["started", "answered", "ended"]
    assert [s for s, _ in V.transcript_steps(V.fold_all(_events("no-answer", 0)))] == ["started", "not_connected"]


# --------------------------------------------------------------------------- codes


def test_offer_status():
    offer = {"expires_at": 1000.0}
    assert V.offer_status(offer, 999) == "ok"
    assert V.offer_status(offer, 1000) == "expired"
    assert V.offer_status({**offer, "used_at": 500}, 600) == "used"
    assert V.offer_status(None, 0) == "unknown"


def test_code_format():
    rules = V.CodeRules(digits=6)
    assert rules.well_formed("012345")
    assert not rules.well_formed("12345") and not rules.well_formed("12345a") and not rules.well_formed(None)


# --------------------------------------------------------------------------- the IVR, rendered by the library


def _twiml(plan: V.Plan) -> ET.Element:
    return ET.fromstring(render_twiml(plan.verbs, language=plan.language, voice=plan.voice))


def test_welcome_offers_line_and_code_in_japanese():
    root = _twiml(V.welcome(CTX, withheld=False, url=url))
    gather = root.find("Gather")
    assert gather.get("action") == url("menu") and gather.get("numDigits") == "1"
    say = gather.find("Say")
    assert say.get("language") == "ja-JP" and "LINE" in say.text and "1" in say.text
    assert root[-1].tag == "Hangup"


def test_a_withheld_caller_is_not_offered_line():
    say = _twiml(V.welcome(CTX, withheld=True, url=url)).find("Gather/Say")
    assert say.text == text("voice_menu_code_only")


def test_no_choice_goes_to_the_desk_when_configured():
    ctx = V.IvrContext(text=text, desk_number="+81312345678")
    root = _twiml(V.welcome(ctx, withheld=False, url=url))
    assert root.find("Dial/Number").text == "+81312345678"


def test_pressing_1_waits_for_the_line_outcome():
    choice, plan = V.menu_choice(CTX, "1", withheld=False, url=url)
    root = _twiml(plan)
    assert choice == "line" and root.find("Redirect").text == url("line-result&try=1")


def test_pressing_1_withheld_gets_spoken_guidance_and_no_guess():
    choice, plan = V.menu_choice(CTX, "1", withheld=True, url=url)
    assert choice == "withheld"
    assert text("voice_line_withheld") in [s.text for s in _twiml(plan).iter("Say")]


def test_three_wrong_codes_end_the_call():
    assert _twiml(V.code_refused(CTX, 1, url)).find("Gather") is not None
    root = _twiml(V.code_refused(CTX, 3, url))
    assert root.find("Gather") is None and root[-1].tag == "Hangup"


def test_a_valid_code_dials_the_operators_phone_with_leg_callbacks():
    target = V.operator_target({"phone": "090-1111-2222"}, "005000000000001AAA")
    plan = V.connect_operator(CTX, target, available=True, status_url="https://r/twilio/status", action_url=url("x"))
    number = _twiml(plan).find("Dial/Number")
    assert number.text == "+819011112222" and number.get("statusCallback") == "https://r/twilio/status"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"


def test_without_a_phone_the_operators_client_identity_is_dialled():
    target = V.operator_target(None, "005000000000001AAA")
    plan = V.connect_operator(CTX, target, available=True, status_url="s", action_url="a", case_id="500A")
    client = _twiml(plan).find("Dial/Client")
    assert client.find("Identity").text == "operator-005000000000001AAA"
    assert [(p.get("name"), p.get("value")) for p in client.findall("Parameter")] == [("caseId", "500A")]


def test_a_phone_is_dialled_without_parameters():
    plan = V.connect_operator(
        CTX, V.DialTarget("number", "+819011112222"), available=True, status_url="s", action_url="a", case_id="500A"
    )
    assert _twiml(plan).find("Dial/Number").text == "+819011112222"


def test_an_offline_operator_is_not_dialled():
    plan = V.connect_operator(CTX, V.DialTarget("number", "+1"), available=False, status_url="s", action_url="a")
    assert _twiml(plan).find("Dial") is None


@pytest.mark.parametrize(
    ("outcome", "key"),
    [
        ({"route": V.LINE_PUSH, "status": "Sent"}, "voice_line_sent"),
        ({"route": V.PNP, "status": "Sent"}, "voice_line_pnp"),
        ({"route": "fallback", "status": "Fallback"}, "voice_line_fallback"),
        ({"route": V.LINE_PUSH, "status": "Failed"}, "voice_line_fallback"),
    ],
)
def test_the_caller_hears_how_they_were_moved_to_line(outcome, key):
    says = [s.text for s in _twiml(V.line_result(CTX, outcome, tries=1, max_tries=6, url=url)).iter("Say")]
    assert text(key) in says


def test_while_the_job_runs_the_caller_waits_then_hears_a_generic_goodbye():
    root = _twiml(V.line_result(CTX, None, tries=2, max_tries=6, url=url))
    assert root.find("Redirect").text == url("line-result&try=3")
    says = [s.text for s in _twiml(V.line_result(CTX, None, tries=6, max_tries=6, url=url)).iter("Say")]
    assert text("voice_line_pending") in says


# --------------------------------------------------------------------------- Call to LINE


def _row(user: str, phone: str, **kw) -> dict:
    row = {
        "LINE_User_Id__c": user,
        "Friend_Key__c": f"1:{user}",
        "Channel_Id__c": "1",
        "Contact__c": "003" + user[-15:],
        "Verified__c": True,
        "Status__c": "Following",
        "Contact__r": {"Phone": None, "MobilePhone": phone},
    }
    row.update(kw)
    return row


def test_a_number_matches_a_verified_following_friend_only_exactly():
    rows = [
        _row("U" + "a" * 32, "090-1234-5678"),
        _row("U" + "b" * 32, "080-9999-5678"),  # same last digits, other number
        _row("U" + "c" * 32, "090-1234-5678", Verified__c=False),
        _row("U" + "d" * 32, "090-1234-5678", Status__c="Unfollowed"),
        _row("U" + "e" * 32, "090-1234-5678", Channel_Id__c="2"),
    ]
    friends = V.matching_friends("+819012345678", rows, "1")
    assert [f.user_id for f in friends] == ["U" + "a" * 32]


def test_one_friend_gets_a_push():
    friend = V.Friend("U1", "1:U1", "003x", "1")
    assert V.route_to_line("+819012345678", [friend], pnp_enabled=True) == V.LINE_PUSH


def test_two_line_users_with_one_number_is_not_a_match():
    friends = [V.Friend("U1", "1:U1", "003x", "1"), V.Friend("U2", "1:U2", "003y", "1")]
    assert V.route_to_line("+819012345678", friends, pnp_enabled=False) == V.FALLBACK_UNMATCHED
    assert V.route_to_line("+819012345678", friends, pnp_enabled=True) == V.PNP


def test_unmatched_numbers_use_pnp_only_where_enabled_and_deliverable():
    assert V.route_to_line("+819012345678", [], pnp_enabled=True) == V.PNP
    assert V.route_to_line("+819012345678", [], pnp_enabled=False) == V.FALLBACK_UNMATCHED
    assert V.route_to_line("+81312345678", [], pnp_enabled=True) == V.FALLBACK_UNMATCHED
    assert V.route_to_line(None, [], pnp_enabled=True) == V.FALLBACK_WITHHELD


@pytest.mark.parametrize("text", ["²", "١٢", "-1", "1.5", "", None, "9" * 40, "x"])
def test_a_status_callback_with_a_number_that_is_not_ascii_digits_is_still_a_callback(text):
    event = V.callback_event(
        {"CallSid": "CA" + "0" * 32, "CallStatus": "completed", "SequenceNumber": text, "CallDuration": text}
    )
    assert event["seq"] == -1 and "duration" not in event and event["status"] == "completed"


def test_a_code_keyed_in_full_width_digits_is_not_well_formed():
    assert not V.CodeRules(digits=6, ttl_s=60, attempts_per_call=3).well_formed("１２３４５６")
