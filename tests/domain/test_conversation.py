"""The conversation state machine: what each LINE event becomes in Salesforce and on LINE."""

from __future__ import annotations

from connector.domain import conversation
from connector.domain.records import CASE, CONTACT, FRIEND, MESSAGE, SESSION

CH = "1000000001"
USER = "U" + "a" * 32
TEXTS = {"welcome": "ようこそ", "follow": "友だち追加ありがとう"}


def ctx(**kw):
    return conversation.Context(channel_id=CH, text=TEXTS.__getitem__, profile={"displayName": "田中 花子"}, **kw)


def event(n=1, type_="message", ts=1700000000000 + 1000, **extra):
    e = {
        "type": type_,
        "mode": "active",
        "timestamp": ts + n,
        "webhookEventId": f"EV{n:024d}",
        "replyToken": f"rt{n}",
        "source": {"type": "user", "userId": USER},
    }
    if type_ == "message":
        e["message"] = extra.pop("message", {"id": f"9{n:017d}", "type": "text", "text": "こんにちは"})
    e.update(extra)
    return e


def by_type(result):
    out = {}
    for u in result.upserts:
        out.setdefault(u.sobject, []).append(u)
    return out


def test_first_message_from_a_new_friend_creates_contact_friend_case_session_message_and_a_welcome():
    res = conversation.apply(None, event(), ctx())
    records = by_type(res)
    assert [u.key for u in records[CONTACT]] == [f"{CH}:{USER}"]
    assert records[CONTACT][0].fields["LastName"] == "田中 花子"
    assert records[FRIEND][0].fields["Contact__r"] == {"LINE_Contact_Key__c": f"{CH}:{USER}"}
    case = records[CASE][0]
    assert case.fields["Origin"] == "LINE" and case.fields["Subject"] == "LINE: こんにちは"
    session_key = records[SESSION][0].key
    inbound = [u for u in records[MESSAGE] if u.fields["Direction__c"] == "Inbound"][0]
    assert inbound.key == "900000000000000001"
    assert inbound.fields["Chat_Session__r"] == {"Session_Key__c": session_key}
    assert [r.messages for r in res.replies] == [[{"type": "text", "text": "ようこそ"}]]
    assert res.replies[0].reply_token == "rt1"


def test_second_message_in_an_open_session_writes_only_the_message_and_the_session_time():
    first = conversation.apply(None, event(1), ctx())
    second = conversation.apply(first.state, event(2, message={"id": "2", "type": "text", "text": "まだ?"}), ctx())
    assert sorted(u.sobject for u in second.upserts) == [MESSAGE, SESSION]
    assert second.replies == []


def test_applying_the_same_event_twice_gives_the_same_writes():
    a = conversation.apply(None, event(), ctx())
    b = conversation.apply(None, event(), ctx())
    assert [(u.sobject, u.key, u.fields) for u in a.upserts] == [(u.sobject, u.key, u.fields) for u in b.upserts]


def test_standby_events_are_recorded_but_never_answered():
    res = conversation.apply(None, event(mode="standby"), ctx())
    assert res.replies == []
    assert any(u.fields.get("Standby__c") for u in res.upserts if u.sobject == MESSAGE)


def test_unsend_clears_the_text_and_marks_the_message_in_its_own_session():
    first = conversation.apply(None, event(1, message={"id": "42", "type": "text", "text": "消したい"}), ctx())
    res = conversation.apply(first.state, event(3, "unsend", unsend={"messageId": "42"}), ctx())
    assert [(u.key, u.fields["Text__c"], u.fields["Unsent__c"], u.fields["Chat_Session__r"]) for u in res.upserts] == [
        ("42", "", True, {"Session_Key__c": first.state["session"]["key"]})
    ]


def test_unsend_of_a_message_never_recorded_writes_nothing():
    res = conversation.apply(
        {"friend": {"key": "k", "user_id": USER}}, event(3, "unsend", unsend={"messageId": "42"}), ctx()
    )
    assert res.upserts == [] and "not recorded" in res.note


def test_an_edited_message_gets_its_new_text():
    first = conversation.apply(None, event(1, message={"id": "43", "type": "text", "text": "明日"}), ctx())
    edited = event(2, "messageEdited", message={"id": "43", "type": "text", "text": "明後日"})
    res = conversation.apply(first.state, edited, ctx())
    assert [(u.key, u.fields["Text__c"]) for u in res.upserts] == [("43", "明後日")]


def test_follow_sets_the_friend_status_and_greets():
    res = conversation.apply(None, event(1, "follow"), ctx())
    friend = [u for u in res.upserts if u.sobject == FRIEND]
    assert friend[-1].fields["Status__c"] == "Following"
    assert res.replies[0].messages == [{"type": "text", "text": "友だち追加ありがとう"}]
    assert res.state["session"] if "session" in res.state else True


def test_unfollow_then_follow_again_works():
    s = conversation.apply(None, event(1, "unfollow"), ctx()).state
    assert s["friend"]["status"] == "Unfollowed"
    s = conversation.apply(s, event(2, "follow"), ctx()).state
    assert s["friend"]["status"] == "Following"


def test_a_closed_session_is_followed_by_a_new_session_and_case():
    first = conversation.apply(None, event(1), ctx())
    state = first.state
    state["session"]["status"] = "Closed"
    nxt = conversation.apply(state, event(2), ctx())
    new_session = [u for u in nxt.upserts if u.sobject == SESSION][0].key
    assert new_session != first.state["session"]["key"]
    assert [u.sobject for u in nxt.upserts].count(CASE) == 1


def test_a_case_is_reopened_within_the_reopen_window():
    first = conversation.apply(None, event(1), ctx(reopen_window_ms=3_600_000))
    state = first.state
    case_key = state["session"]["case_key"]
    state["session"]["status"] = "Closed"
    state["last_case"] = {"key": case_key, "closed_ms": 1700000001000}
    nxt = conversation.apply(state, event(2), ctx(reopen_window_ms=3_600_000))
    assert [u.key for u in nxt.upserts if u.sobject == CASE] == [case_key]


def test_emoji_are_kept_as_placeholders():
    msg = {
        "id": "5",
        "type": "text",
        "text": "$ ありがとう $",
        "emojis": [
            {"index": 0, "length": 1, "productId": "P1", "emojiId": "001"},
            {"index": 8, "length": 1, "productId": "P2", "emojiId": "002"},
        ],
    }
    res = conversation.apply(None, event(message=msg), ctx())
    inbound = [u for u in res.upserts if u.sobject == MESSAGE and u.key == "5"][0]
    assert inbound.fields["Text__c"] == "(emoji:P1/001) ありがとう (emoji:P2/002)"


def test_sticker_location_and_media_fields():
    sticker = conversation.apply(
        None,
        event(
            message={
                "id": "7",
                "type": "sticker",
                "packageId": "446",
                "stickerId": "1988",
                "keywords": ["Thanks", "OK"],
            }
        ),
        ctx(),
    )
    fields = [u for u in sticker.upserts if u.key == "7"][0].fields
    assert fields["Sticker_Keywords__c"] == "Thanks, OK"
    assert fields["Preview_URL__c"].endswith("/sticker/1988/android/sticker.png")
    loc = conversation.apply(
        None,
        event(
            message={
                "id": "8",
                "type": "location",
                "title": "東京駅",
                "address": "東京都千代田区",
                "latitude": 35.68,
                "longitude": 139.76,
            }
        ),
        ctx(),
    )
    assert [u for u in loc.upserts if u.key == "8"][0].fields["Latitude__c"] == 35.68
    img = conversation.apply(
        None, event(message={"id": "9", "type": "image", "contentProvider": {"type": "line"}}), ctx()
    )
    assert img.content[0]["message_id"] == "9"
    assert [u for u in img.upserts if u.key == "9"][0].fields["Content_Status__c"] == "Pending"


def test_group_messages_are_recorded_without_contact_or_case_and_not_answered():
    e = event(source={"type": "group", "groupId": "Cgroup1", "userId": USER})
    res = conversation.apply(None, e, ctx())
    assert sorted({u.sobject for u in res.upserts}) == [MESSAGE, SESSION]
    assert res.replies == []


def test_channel_level_and_unknown_events_are_only_logged():
    for e in (
        {"type": "activated", "timestamp": 1, "webhookEventId": "A"},
        {"type": "somethingNew", "timestamp": 1, "webhookEventId": "B", "source": {"type": "user", "userId": USER}},
    ):
        res = conversation.apply(None, e, ctx())
        assert res.upserts == [] and res.replies == [] and res.note


def test_identity_linking_moves_the_friend_and_the_open_inquiry_to_the_verified_contact():
    first = conversation.apply(None, event(1), ctx())
    link = {
        "type": "x-connector.identity.linked",
        "webhookEventId": "X1",
        "timestamp": 1700000005000,
        "source": {"type": "user", "userId": USER},
        "data": {"contact_id": "003000000000001AAA"},
    }
    res = conversation.apply(first.state, link, ctx())
    assert {(u.sobject, tuple(sorted(u.fields.items()))) for u in res.upserts} == {
        (FRIEND, (("Contact__c", "003000000000001AAA"), ("Verified__c", True))),
        (SESSION, (("Contact__c", "003000000000001AAA"),)),
        (CASE, (("ContactId", "003000000000001AAA"),)),
    }
    res.state["session"]["status"] = "Closed"
    later = conversation.apply(res.state, event(2), ctx())
    new_case = [u for u in later.upserts if u.sobject == CASE][0]
    assert new_case.fields["ContactId"] == "003000000000001AAA" and "Contact" not in new_case.fields


def test_an_unknown_internal_event_is_ignored_with_a_note():
    res = conversation.apply(
        None,
        {
            "type": "x-connector.nope",
            "webhookEventId": "X2",
            "timestamp": 1,
            "source": {"type": "user", "userId": USER},
        },
        ctx(),
    )
    assert res.upserts == [] and "no handler" in res.note
