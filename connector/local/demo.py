"""`make demo`: a scripted LINE conversation through the real processes, on the local sandbox.

Starts the sandbox, the web process (gunicorn) and a worker; a simulated customer writes on
LINE through signed webhooks; then it prints what LINE delivered and what Salesforce holds.
"""

from __future__ import annotations

import sys
import time

from connector.local.devstack import LocalStack

USER = "U4af4980629" + "0" * 22
WIDTH = 78


def run() -> int:
    print("Starting the sandbox (LINE, Salesforce, Twilio stand-ins), the web process and a worker...")
    from connector.local import (
        demo_bot,  # the bot runs on channels 2 and 3
        demo_identity,  # support ID, identity images with compressed retention
        demo_supervision,  # survey on channel 1, queue relief on channel 4
        demo_voice,  # voice with Twilio on channel 1
    )

    with demo_supervision.configure(
        demo_identity.configure(demo_voice.configure(demo_bot.configure(LocalStack(channels=4))))
    ) as stack:
        try:
            _scenario(stack)
        except TimeoutError as exc:
            print(f"\nDEMO FAILED: {exc}\n{stack.logs()}", file=sys.stderr)
            return 1
    print("\nStopped everything the demo started.")
    return 0


def _scenario(stack: LocalStack) -> None:
    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    channel = stack.channels[0].channel_id
    t0 = time.time()

    def step(title: str) -> None:
        print(f"\n[{time.time() - t0:5.1f}s] {title}")

    def says(message: dict, label: str) -> dict:
        event = line.send_user_message(channel, USER, message, display_name="田中 花子")
        print(f"  customer → LINE: {label}   (webhook answered {event['status']})")
        return event

    def wait_records(sobject: str, n: int, **match) -> list[dict]:
        return stack.wait_until(
            lambda: len(sf.find(sobject, **match)) >= n and sf.find(sobject, **match), what=f"{n} {sobject} record(s)"
        )

    step("A new friend writes to the Official Account")
    first = says(
        {"type": "text", "text": "こんにちは。注文した商品がまだ届きません"},
        "「こんにちは。注文した商品がまだ届きません」",
    )
    stack.wait_until(lambda: line.delivered(user_id=USER), what="the reply on LINE")
    for d in line.delivered(user_id=USER):
        for m in d["messages"]:
            print(f"  LINE → customer ({d['method']}): 「{m.get('text')}」")

    step("The customer sends a card number, a sticker and a photo")
    says(
        {"type": "text", "text": "カード番号は 4111-1111-1111-1111 で、セキュリティコードは 123 です"},
        "「カード番号は 4111-1111-1111-1111 で、セキュリティコードは 123 です」",
    )
    says({"type": "sticker", "packageId": "446", "stickerId": "1988", "keywords": ["Thanks"]}, "(sticker 446/1988)")
    says({"type": "image"}, "(photo)")

    step("LINE redelivers the first event (same webhookEventId)")
    again = line.redeliver(channel, first)
    print(f"  webhook answered {again['status']}; it must not be recorded twice")

    step("The customer unsends the sticker")
    sticker_id = None
    msgs = wait_records("LINE_Chat_Message__c", 4, Direction__c="Inbound")
    for m in msgs:
        if m.get("Type__c") == "sticker":
            sticker_id = m["Message_Key__c"]
    line.send_event(
        channel, {"type": "unsend", "source": {"type": "user", "userId": USER}, "unsend": {"messageId": sticker_id}}
    )
    stack.wait_until(lambda: any(m.get("Unsent__c") for m in sf.find("LINE_Chat_Message__c")), what="the unsend")
    stack.wait_until(
        lambda: any(m.get("Content_Status__c") == "Stored" for m in sf.find("LINE_Chat_Message__c")),
        what="the photo stored as a Salesforce file",
    )

    step("What Salesforce now holds")
    contact = sf.records("Contact")[0]
    friend = sf.records("LINE_Friend__c")[0]
    case = sf.records("Case")[0]
    session = sf.records("LINE_Chat_Session__c")[0]
    print(
        f"  Contact   {contact['Id']}  {contact.get('LastName')}  (LINE_Contact_Key__c {contact.get('LINE_Contact_Key__c')[:18]}…)"
    )
    print(f"  Friend    {friend['Id']}  {friend.get('Display_Name__c')}  status {friend.get('Status__c')}")
    print(
        f"  Case      {case['Id']}  #{case.get('CaseNumber')}  Origin {case.get('Origin')}  Status {case.get('Status')}"
    )
    print(f"            Subject 「{case.get('Subject')}」")
    print(f"  Session   {session['Id']}  {session.get('Name')}  Status {session.get('Status__c')}")
    print("  Messages (in order):")
    for m in sorted(sf.records("LINE_Chat_Message__c"), key=lambda r: r["Id"]):
        body = m.get("Text__c") or ""
        if m.get("Type__c") == "sticker":
            body = f"sticker {m.get('Sticker_Package_Id__c')}/{m.get('Sticker_Id__c')} ({m.get('Sticker_Keywords__c')})"
        if m.get("Type__c") == "image":
            body = f"image → Salesforce file {m.get('Content_Document_Id__c')} ({m.get('Content_Status__c')})"
        flag = "  [unsent]" if m.get("Unsent__c") else ""
        print(
            f"    {m.get('Direction__c'):<8} {m.get('Type__c'):<8} {m.get('Delivery_Status__c') or '':<9} {body}{flag}"
        )
    files = sf.records("ContentDocument")
    print(f"  Files     {len(files)} ContentDocument(s) linked to the Case")

    step("Checks")
    checks = {
        "one Contact, one Case, one session": (
            len(sf.records("Contact")),
            len(sf.records("Case")),
            len(sf.records("LINE_Chat_Session__c")),
        )
        == (1, 1, 1),
        "redelivered event recorded once": len(sf.find("LINE_Chat_Message__c", Direction__c="Inbound")) == 4,
        "card number masked (first 6 / last 4)": any(
            "4111-11**-****-1111" in (m.get("Text__c") or "") for m in sf.records("LINE_Chat_Message__c")
        ),
        "security code masked": not any(
            "123 です" in (m.get("Text__c") or "") for m in sf.records("LINE_Chat_Message__c")
        ),
        "photo stored as a file": len(files) == 1,
        "exactly one reply on LINE": len(line.delivered(user_id=USER)) == 1,
    }
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    print(
        f"  Salesforce API calls used: {sf.api_calls}  (for {len(sf.find('LINE_Chat_Message__c', Direction__c='Inbound')) + 1} inbound events and 1 file)"
    )
    if not all(checks.values()):
        raise TimeoutError("a check failed")

    # the auto-reply bot (connector/local/demo_bot.py)
    from connector.local.demo_bot import bot_steps

    bot_checks = bot_steps(stack, step, says)
    step("Checks (bot)")
    for name, ok in bot_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(bot_checks.values()):
        raise TimeoutError("a bot check failed")

    from connector.local.demo_operator import operator_steps

    operator_steps(stack, step, says)  # operator chat

    from connector.local.demo_outage import outage_steps

    outage_checks = outage_steps(stack, step)  # Salesforce down for a few seconds
    step("Checks (Salesforce outage)")
    for name, ok in outage_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(outage_checks.values()):
        raise TimeoutError("an outage check failed")

    from connector.local.demo_hostile import hostile_steps

    hostile_checks = hostile_steps(stack, step)  # hostile input and bad configuration
    step("Checks (hostile input, configuration)")
    for name, ok in hostile_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(hostile_checks.values()):
        raise TimeoutError("a hostile-input check failed")

    from connector.local.demo_settings import settings_steps

    settings_checks = settings_steps(step)  # an admin's custom metadata changes the bot (own stack)
    step("Checks (settings from Salesforce)")
    for name, ok in settings_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(settings_checks.values()):
        raise TimeoutError("a settings check failed")

    from connector.local.demo_voice import signed_callout, voice_steps

    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    voice_checks = voice_steps(stack, step, lambda *a: signed_callout(stack, secret, *a))
    step("Checks (voice)")
    for name, ok in voice_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(voice_checks.values()):
        raise TimeoutError("a voice check failed")

    from connector.local.demo_supervision import supervision_steps

    supervision_checks = supervision_steps(stack, step)  # survey, whisper, hold, queue relief
    step("Checks (survey and supervision)")
    for name, ok in supervision_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(supervision_checks.values()):
        raise TimeoutError("a supervision check failed")
    from connector.local.demo_identity import identity_steps

    identity_checks = identity_steps(stack, step, lambda *a: signed_callout(stack, secret, *a))  # issue 21
    step("Checks (support ID, identity images)")
    for name, ok in identity_checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(identity_checks.values()):
        raise TimeoutError("an identity check failed")
