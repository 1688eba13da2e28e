"""Finding 10 (issue 17): a signed event of a shape LINE never sends is ignored with a log line,
never a crash of the domain (which dead-lettered it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from connector.domain import conversation
from connector.domain import events as ev
from tests.domain.test_conversation import ctx, event
from tests.fuzz.test_webhooks_fuzz import line_event


def test_finding10_event_with_type_null_is_ignored_with_a_note():
    res = conversation.apply(None, dict(event(), type=None), ctx())
    assert (res.upserts, res.replies, res.content, res.signals) == ([], [], [], [])
    assert res.note == "malformed event ignored: type is null"
    assert res.state == {}


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ({"message": "hello"}, "message is a string"),
        ({"message": {"id": "1", "type": "text", "text": ["a"]}}, "message.text is a list"),
        ({"timestamp": "soon"}, "timestamp is a string"),
        ({"timestamp": 10**20}, "timestamp is out of range"),
        ({"source": {"type": "user", "userId": "U1", "groupId": {}}}, "source.groupId is an object"),
        (
            {"message": {"id": "1", "type": "text", "text": "x", "emojis": [{"index": "a"}]}},
            "message.emojis[0].index is a string",
        ),
    ],
)
def test_events_with_fields_of_the_wrong_type_are_ignored_and_the_state_kept(change, note):
    first = conversation.apply(None, event(1), ctx())
    res = conversation.apply(first.state, {**event(2), **change}, ctx())
    assert res.note == f"malformed event ignored: {note}"
    assert res.upserts == [] and res.replies == [] and res.state == first.state


def test_a_well_formed_event_is_not_called_malformed():
    assert ev.malformed(event()) is None
    assert ev.malformed({"type": "things", "things": {"type": "link"}}) is None  # unknown shapes of logged types


def test_a_message_event_without_its_message_is_recorded_as_an_event_not_a_crash():
    # found by the property below (hypothesis): {"type": "message"} with no "message" at all
    first = conversation.apply(None, event(1), ctx())
    bare = {k: v for k, v in event(2).items() if k != "message"}
    res = conversation.apply(first.state, bare, ctx())
    assert res.note == "message of unknown type None: recorded as event"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(e=line_event)
def test_any_event_shape_is_applied_or_ignored_never_a_crash(e):
    e = json.loads(json.dumps(e))  # as stored: JSON
    first = conversation.apply(None, event(1), ctx())
    res = conversation.apply(first.state, e, ctx())
    if ev.malformed(e) and not str(e.get("type")).startswith(conversation.INTERNAL_PREFIX):
        assert res.upserts == [] and res.replies == [] and res.state == first.state
        assert res.note.startswith("malformed event ignored: ")
