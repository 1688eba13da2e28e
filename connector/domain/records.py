"""Salesforce writes as data: every write is an upsert on an external id.

The domain produces `Upsert`s; the Salesforce gateway packs any number of them into Composite
calls of sObject Collection upserts. Parents are referenced by their external ids
(`{"Chat_Session__r": {"Session_Key__c": key}}`), so nothing needs an Id looked up first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

CONTACT = "Contact"
FRIEND = "LINE_Friend__c"
CASE = "Case"
SESSION = "LINE_Chat_Session__c"
MESSAGE = "LINE_Chat_Message__c"
EXAMPLE = "LINE_Question_Example__c"
ROUTING = "LINE_Routing__c"
TASK = "Task"  # a call (voice): CallType, CallDurationInSeconds, CallDisposition
DELETION = "LINE_Data_Deletion__c"  # audit of an identity-image deletion (retention)
SUPPORT_ID = "LINE_Support_Id__c"  # a support ID Salesforce issued (hash only)
STATUS = "LINE_Connector_Status__c"  # what the relay reports to admins (settings sync)

KEY_FIELDS = {
    CONTACT: "LINE_Contact_Key__c",
    FRIEND: "Friend_Key__c",
    CASE: "LINE_Inquiry_Key__c",
    SESSION: "Session_Key__c",
    MESSAGE: "Message_Key__c",
    EXAMPLE: "Example_Key__c",
    ROUTING: "Routing_Key__c",
    TASK: "LINE_Call_Sid__c",
    DELETION: "Deletion_Key__c",
    SUPPORT_ID: "Id_Hash__c",
    STATUS: "Status_Key__c",
}


class SessionStatus(StrEnum):
    """A chat session's status: LINE_Chat_Session__c.Status__c and `state["session"]["status"]`."""

    BOT = "Bot"  # the bot answers
    QUEUED = "Queued"  # handed to people, waiting for an operator
    OPERATOR = "Operator"  # an operator has it
    CLOSED = "Closed"


# Parents before children: one Composite call runs its subrequests in this order.
WRITE_ORDER = [CONTACT, FRIEND, CASE, SESSION, ROUTING, MESSAGE, EXAMPLE, TASK, DELETION, SUPPORT_ID, STATUS]


@dataclass
class Upsert:
    sobject: str
    key: str
    fields: dict = field(default_factory=dict)
    event_id: str | None = None  # the event this write serves (for per-event outcomes)

    @property
    def key_field(self) -> str:
        return KEY_FIELDS[self.sobject]

    @property
    def ident(self) -> tuple[str, str]:
        return (self.sobject, self.key)


def ref(sobject: str, key: str) -> dict:
    """An external-id reference to a parent record."""
    return {KEY_FIELDS[sobject]: key}


def merge(upserts: Iterable[Upsert]) -> list[Upsert]:
    """Collapse writes to the same record (later fields win), keeping first-seen order.

    A Collections request may not name the same external id twice, and two events of one
    conversation in one batch often touch the same session record.
    """
    merged: dict[tuple[str, str], Upsert] = {}
    for u in upserts:
        if u.ident in merged:
            merged[u.ident].fields.update(u.fields)
        else:
            merged[u.ident] = Upsert(u.sobject, u.key, dict(u.fields), u.event_id)
    return list(merged.values())


def parse_sf_datetime(value) -> datetime | None:
    """A Salesforce datetime (`2026-12-07T05:00:00.000+0000`, `...Z`, or ISO with a colon in the
    offset) -> an aware datetime (UTC when it names no zone); None when blank or not a datetime."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def sf_datetime(ms: int | float) -> str:
    """LINE millisecond timestamp -> Salesforce datetime literal."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
