"""`make demo`, who the customer is and images that are gone when they must be (issue 21):

1. Salesforce issued a support ID for an annual-plan Contact (stored as a hash, as Apex
   `LineSupportIdService` does); the customer sends it on LINE, is told in plain words, linked to
   the Contact ("verified by support ID") and, handed to people, queued with priority.
2. An operator asks for an ID document (signed `identity.request` callout); the photo the customer
   sends then is identity-class. Its retention (1 day, compressed to a few seconds through
   `retention.day_seconds`) passes; the worker deletes the file, its recycle-bin entry and the
   Redis copy, leaves a placeholder on the message and writes one audit record.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

CUSTOMER = "U9d2f7a1c4e" + "5" * 22
DAY_S = 4.0  # the demo's day: an identity image of a 1-day channel is gone a few seconds later
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def configure(stack):
    """Compress retention (call before the stack starts). Returns the stack."""
    stack.overrides.setdefault("retention", {}).update(
        {"identity_image_days": 1, "day_seconds": DAY_S, "check_interval_seconds": 0.5}
    )
    return stack


def _new_support_id() -> str:
    """What LineSupportIdService.newId makes: 12 Crockford base32 characters, digits and letters."""
    while True:
        canonical = "".join(secrets.choice(ALPHABET) for _ in range(12))
        if not canonical.isdigit() and not canonical.isalpha():
            return canonical


def identity_steps(stack, step, callout) -> dict[str, bool]:
    from connector.jobs import submit_internal
    from connector.runtime import Runtime

    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    channel = stack.channels[0].channel_id
    rt = Runtime(stack.load_config())

    def says(message: dict, label: str) -> None:
        event = line.send_user_message(channel, CUSTOMER, message, display_name="鈴木 一郎")
        print(f"  customer → LINE: {label}   (webhook answered {event['status']})")

    def new_answers(before: int) -> list[str]:
        stack.wait_until(lambda: len(line.delivered(user_id=CUSTOMER)) > before, what="an answer on LINE")
        return [m.get("text") for d in line.delivered(user_id=CUSTOMER)[before:] for m in d["messages"]]

    step("Support ID: Salesforce issues one for an annual-plan customer (only its hash is stored)")
    contact = sf.insert("Contact", {"LastName": "鈴木", "FirstName": "一郎", "Email": "ichiro@example.com"})
    canonical = _new_support_id()
    shown = f"{canonical[:4]}-{canonical[4:8]}-{canonical[8:]}"
    sf.insert(
        "LINE_Support_Id__c",
        {
            "Id_Hash__c": hashlib.sha256(canonical.encode()).hexdigest(),
            "Contact__c": contact,
            "Expires_At__c": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            "Reusable__c": False,
            "Entitled__c": True,
        },
    )
    print(f"  support ID given to the customer: {shown}  (single use, 30 days, entitled)")

    step("The customer starts with it on LINE, typed on a phone")
    before = len(line.delivered(user_id=CUSTOMER))
    says({"type": "text", "text": shown.lower().replace("-", " ")}, f"「{shown.lower().replace('-', ' ')}」")
    for text in new_answers(before):
        print(f"  LINE → customer: 「{text}」")
    friend = stack.wait_until(
        lambda: next((f for f in sf.find("LINE_Friend__c", Contact__c=contact) if f.get("Verified__c")), None),
        what="the friend linked to the Contact",
    )
    print(
        f"  friend → Contact {contact}; console: verified by {friend['Verified_By__c']} at {friend['Verified_At__c']}"
    )
    recorded = [m.get("Text__c") for m in sf.records("LINE_Chat_Message__c") if m.get("Direction__c") == "Inbound"]

    step("The customer asks for a person: queued with priority")
    session = stack.wait_until(
        lambda: (rt.store.get_state(f"{channel}:{CUSTOMER}") or {}).get("session"), what="the session"
    )
    submit_internal(
        rt,
        channel,
        {"type": "user", "userId": CUSTOMER},
        "session.handoff",
        {"priority": 0},
        idempotency_key=f"demo-identity-handoff:{session['key']}",
    )

    def ticket():
        state = rt.routing_store.load()
        return next((t for t in state.queue if t.session_key == session["key"]), None) or state.assigned.get(
            session["key"]
        )

    routed = stack.wait_until(ticket, what="the routing ticket")
    print(f"  routing priority {routed.priority} (an unverified customer: 0)")

    step("An operator asks for an ID document; the customer sends a photo")
    users = [u["Id"] for u in sf.records("User")]
    resp = callout("identity.request", session["key"], {"sessionKey": session["key"], "userId": users[1]})
    print(f"  identity.request callout answered {resp.status_code}")
    stack.wait_until(lambda: rt.retention_store.asked_at(session["key"]), what="the request noted")
    says({"type": "image"}, "(photo of a driving licence)")
    photo = stack.wait_until(
        lambda: next(
            (
                m
                for m in sf.find("LINE_Chat_Message__c", Type__c="image")
                if m.get("Identity_Class__c") and m.get("Content_Document_Id__c")
            ),
            None,
        ),
        what="the photo stored as an identity document",
    )
    document = photo["Content_Document_Id__c"]
    print(f"  stored as file {document}; identity document, retention until {photo['Retention_Until__c']}")

    step(f"Retention passes (1 day = {DAY_S:.0f} s here): the worker deletes it everywhere")
    audit = stack.wait_until(
        lambda: next(iter(sf.find("LINE_Data_Deletion__c", Deletion_Key__c=photo["Message_Key__c"])), None),
        timeout=30,
        what="the audit record",
    )
    [message] = sf.find("LINE_Chat_Message__c", Message_Key__c=photo["Message_Key__c"])
    in_org = any(d["Id"] == document for d in sf.records("ContentDocument", include_deleted=True))
    print(f"  message now reads 「{message.get('Text__c')}」 (Content_Status__c {message.get('Content_Status__c')})")
    print(
        f"  audit {audit.get('Name') or audit['Id']}: {audit['Data_Class__c']} · {audit['Rule__c']} · "
        f"{audit['Trigger__c']} · {audit['Outcome__c']} · {audit['Deleted_At__c']}"
    )
    print(f"  file {document} in the org or its recycle bin: {'yes' if in_org else 'no'}")
    return {
        "support ID verified, friend linked to the Contact": friend.get("Verified_By__c") == "Support_ID",
        "support ID never recorded, only [support ID]": "[support ID]" in recorded
        and not any(canonical in (t or "").upper().replace(" ", "") for t in recorded),
        "verified customer queued with priority": routed.priority > 0,
        "identity photo gone from Salesforce and its recycle bin": not in_org,
        "placeholder on the message, one audit record": message.get("Content_Status__c") == "Deleted"
        and len(sf.find("LINE_Data_Deletion__c")) == 1,
    }
