"""`make demo`, voice with Twilio (docs/voice.md): LINE to Call and Call to LINE.

Channel 1 gets voice: support number +81 50-1234-5678 in the Twilio sandbox, whose console
settings point at the relay (voice URL, fallback URL, status callback with every event). The
Twilio sandbox plays the callers: it fetches TwiML from the web process, presses keys, rings
the operator's phone and posts signed status callbacks - shuffled and duplicated, as Twilio may.

* LINE to Call: an operator offers a call from the console (the signed `call.offer` callout);
  the customer gets a Flex message with a tel: button and a code, calls, keys 2 and the code,
  and reaches that operator's phone; the call's Task appears on the Case with its duration, and
  the chat transcript shows it. Then the operator takes calls in the browser (the console
  phone's token from /salesforce/voice-token) and the next offered call rings there, with the Case.
* Call to LINE: a caller whose number is on a verified LINE friend's Contact presses 1 and gets
  the LINE message; a withheld caller hears the spoken guidance instead; an unknown mobile
  number gets a notification message by phone number (PNP), delivered.
"""

from __future__ import annotations

import re
import secrets

import jwt
import requests

from connector.local.sandbox.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from connector.local.sandbox.twilio_voice import Answer

SUPPORT = "+815012345678"
OPERATOR_PHONE = "+819011112222"
OFFER_USER = "U5f0c1a2b3d" + "3" * 22
LINKED_USER = "U5f0c1a2b3d" + "4" * 22
LINKED_MOBILE = "090-2222-3333"
PNP_USER = "U5f0c1a2b3d" + "5" * 22
PNP_MOBILE = "+819044445555"


def configure(stack):
    """Give channel 1 voice (call before the stack starts). Returns the stack."""
    # the account and auth token are the stack's (its Twilio sandbox signs with them); the API key
    # only signs the web call's access tokens
    stack.env.setdefault("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    stack.env.setdefault("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    stack.env.update(
        {"TWILIO_API_KEY_SID": "SK" + secrets.token_hex(16), "TWILIO_API_KEY_SECRET": secrets.token_hex(32)}
    )
    twilio = stack.overrides.setdefault("twilio", {})
    twilio.update({"enabled": True, "web_call": True, "console_phone": True, "twiml_app_sid": "AP" + "0" * 31 + "1"})
    stack.channel_cfg[0]["voice"] = {"enabled": True, "support_number": SUPPORT, "pnp": True}
    return stack


def console_settings(stack) -> None:
    """What an admin enters in the Twilio console for the support number (docs/voice.md)."""
    base = stack.web_url
    stack.sandbox.twilio.voice.configure_number(
        SUPPORT,
        voice_url=f"{base}/twilio/voice",
        fallback_url=f"{base}/twilio/fallback",
        status_callback=f"{base}/twilio/status",
        status_events=("initiated", "ringing", "answered", "completed"),
    )
    stack.sandbox.line.pnp_auto_delivery_s = 0.5


def voice_steps(stack, step, callout) -> dict[str, bool]:
    """The voice scenario; `callout(type, subject, data)` posts a callout signed like Apex."""
    line, sf, twilio = stack.sandbox.line, stack.sandbox.salesforce, stack.sandbox.twilio
    channel = stack.channels[0].channel_id
    console_settings(stack)
    users = {u["Id"]: u.get("Name") for u in sf.records("User")}
    aiko = list(users)[1]
    checks: dict[str, bool] = {}

    def customer_writes(user: str, text: str, name: str) -> None:
        line.send_user_message(channel, user, {"type": "text", "text": text}, display_name=name)
        print(f"  customer → LINE: 「{text}」")

    def session_of(user: str) -> dict:
        return stack.wait_until(
            lambda: (
                next(iter(sf.find("LINE_Friend__c", LINE_User_Id__c=user)), None)
                and next(
                    (
                        s
                        for s in sf.records("LINE_Chat_Session__c")
                        if s.get("Session_Key__c", "").startswith(f"{channel}:{user}:")
                    ),
                    None,
                )
            ),
            what="the customer's session",
        )

    def task(sid: str) -> dict:
        return stack.wait_until(
            lambda: next((t for t in sf.find("Task", LINE_Call_Sid__c=sid) if t.get("Status") == "Completed"), None),
            what=f"the Task of call {sid[:10]}…",
        )

    # -- LINE to Call -----------------------------------------------------------------------------
    step("Voice: LINE to Call - Aiko takes calls on her phone (presence.update with a phone number)")
    resp = callout(
        "presence.update", aiko, {"userId": aiko, "status": "Available", "capacity": 3, "phone": OPERATOR_PHONE}
    )
    print(f"  {users[aiko]}: Available, phone +81 90-****-2222   (callout answered {resp.status_code})")
    customer_writes(OFFER_USER, "電話で相談できますか", "鈴木 一郎")
    session = session_of(OFFER_USER)
    case = stack.wait_until(
        lambda: sf.get("Case", session.get("Case__c")) if session.get("Case__c") else None, what="the Case"
    )

    step(f"{users[aiko]} clicks 「通話を提案」 in the console (call.offer callout)")
    resp = callout(
        "call.offer",
        aiko,
        {
            "sessionKey": session["Session_Key__c"],
            "caseId": case["Id"],
            "contactId": case.get("ContactId"),
            "userId": aiko,
        },
    )
    print(f"  POST /salesforce/callout call.offer → {resp.status_code}")
    flex = stack.wait_until(
        lambda: next(
            (m for d in line.delivered(user_id=OFFER_USER) for m in d["messages"] if m["type"] == "flex"), None
        ),
        what="the offer on LINE",
    )
    body = flex["contents"]["body"]["contents"][0]["text"]
    buttons = [b["action"] for b in flex["contents"]["footer"]["contents"]]
    code = re.search(r"(\d{6})$", buttons[0]["uri"]).group(1)
    print(f"  LINE → customer (flex): 「{body}」")
    for b in buttons:
        print(f"    [{b['label']}] {b['uri'][:60]}{'…' if len(b['uri']) > 60 else ''}")

    step("The customer taps 「電話をかける」: the Twilio sandbox calls the support number and keys 2, then the code")
    call = twilio.voice.incoming_call(
        "+819087654321",
        SUPPORT,
        digits=["2", code],
        answers={OPERATOR_PHONE: Answer(True, 185)},
        shuffle=True,
        duplicate=True,
        seed=7,
    )
    for text in call.heard:
        print(f"  IVR (ja-JP): 「{text}」")
    for leg in call.legs:
        print(f"  <Dial> {leg['to'][:6]}****{leg['to'][-4:]} → {leg['status']} after {leg['duration']} s of talk")
    print(f"  {len(call.callbacks)} signed status callbacks posted (shuffled, some twice)")
    parent, child = task(call.sid), task(call.legs[0]["sid"])
    print(
        f"  Task {parent['Id']}: {parent.get('Subject')}, CallType {parent.get('CallType')}, "
        f"{parent.get('CallDurationInSeconds')} s, disposition {parent.get('CallDisposition')}, "
        f"from {parent.get('LINE_Call_From__c')}, on Case #{case.get('CaseNumber')}"
    )
    print(
        f"  Task {child['Id']} (the operator's leg): CallType {child.get('CallType')}, "
        f"{child.get('CallDurationInSeconds')} s"
    )
    transcript = stack.wait_until(
        lambda: [
            m
            for m in sf.find("LINE_Chat_Message__c", Chat_Session__c=session["Id"], Type__c="call")
            if len(sf.find("LINE_Chat_Message__c", Chat_Session__c=session["Id"], Type__c="call")) >= 3
        ],
        what="the call in the transcript",
    )
    for m in sorted(transcript, key=lambda m: m.get("Sent_At__c") or ""):
        print(f"    transcript  System  「{m.get('Text__c')}」")
    checks["the caller reached the operator who offered the call"] = [leg["to"] for leg in call.legs] == [
        OPERATOR_PHONE
    ]
    checks["one Task per leg, on the Case, final status and duration"] = (
        len(sf.find("Task", LINE_Call_Sid__c=call.sid)) == 1
        and parent.get("WhatId") == case["Id"]
        and parent.get("CallDisposition") == "completed"
        and parent.get("CallDurationInSeconds") == call.duration
        and child.get("CallDurationInSeconds") == 185
    )
    checks["the code works once"] = (
        twilio.voice.incoming_call("+819087654321", SUPPORT, digits=["2", code, code, code]).legs == []
    )

    # -- the console phone ------------------------------------------------------------------------
    step(f"{users[aiko]} takes calls in the browser instead: the console phone (LWC lineVoiceDevice)")
    token = voice_token(stack, aiko)
    grant = jwt.decode(token["token"], options={"verify_signature": False})["grants"]
    print(
        f"  POST /salesforce/voice-token (signed like Apex) → identity {token['identity']}, "
        f"incoming calls {'allowed' if grant['voice']['incoming']['allow'] else 'refused'}, {token['ttl']} s"
    )
    callout(
        "call.offer",
        aiko,
        {
            "sessionKey": session["Session_Key__c"],
            "caseId": case["Id"],
            "contactId": case.get("ContactId"),
            "userId": aiko,
        },
    )
    second = stack.wait_until(
        lambda: [
            re.search(r"(\d{6})$", b["action"]["uri"]).group(1)
            for d in line.delivered(user_id=OFFER_USER)
            for m in d["messages"]
            if m["type"] == "flex"
            for b in m["contents"]["footer"]["contents"][:1]
        ][1:],
        what="the second offer on LINE",
    )[0]
    call = twilio.voice.incoming_call(
        "+819087654321", SUPPORT, digits=["2", second], answers={f"client:{token['identity']}": Answer(True, 42)}
    )
    dial = next(s for s in call.steps if s["verb"] == "Dial")
    print(f"  <Dial><Client>{dial['to']}</Client> with {dial['parameters']} → {dial['status']}")
    checks["the console phone rang with the chat's Case"] = (
        dial["kind"] == "Client" and dial["to"] == token["identity"] and dial["parameters"] == {"caseId": case["Id"]}
    )

    # -- Call to LINE -----------------------------------------------------------------------------
    step("Voice: Call to LINE - a customer verified on LINE (identity.link) calls and presses 1")
    contact = sf.insert("Contact", {"LastName": "高橋", "FirstName": "美咲", "MobilePhone": LINKED_MOBILE})
    customer_writes(LINKED_USER, "会員番号を連携しました", "高橋 美咲")
    linked_session = session_of(LINKED_USER)
    resp = callout("identity.link", contact, {"sessionKey": linked_session["Session_Key__c"], "contactId": contact})
    stack.wait_until(
        lambda: any(f.get("Verified__c") for f in sf.find("LINE_Friend__c", LINE_User_Id__c=LINKED_USER)),
        what="the verified friend",
    )
    before = len(line.delivered(user_id=LINKED_USER))
    call = twilio.voice.incoming_call("+819022223333", SUPPORT, digits=["1"])
    pushed = stack.wait_until(lambda: line.delivered(user_id=LINKED_USER)[before:], what="the LINE message")
    for text in call.heard:
        print(f"  IVR: 「{text}」")
    print(f"  LINE → customer ({pushed[0]['method']}, retry key): 「{pushed[0]['messages'][0]['text']}」")
    t = task(call.sid)
    print(f"  Task: flow {t.get('LINE_Call_Flow__c')}, result {t.get('LINE_Guide_Result__c')}, WhoId {t.get('WhoId')}")
    checks["a linked caller got the LINE message"] = (
        t.get("LINE_Guide_Result__c") == "LINE Sent" and t.get("WhoId") == contact and len(pushed) == 1
    )

    step("A caller with a withheld number presses 1")
    call = twilio.voice.incoming_call("anonymous", SUPPORT, digits=["1"])
    for text in call.heard[1:]:
        print(f"  IVR: 「{text}」")
    t = task(call.sid)
    print(f"  Task: result {t.get('LINE_Guide_Result__c')}; nothing sent on LINE")
    checks["a withheld caller got the spoken fallback"] = t.get("LINE_Guide_Result__c") == "Withheld"

    step("An unknown mobile number presses 1: a LINE notification message by phone number (PNP)")
    line.register_phone(channel, PNP_USER, PNP_MOBILE)
    call = twilio.voice.incoming_call(PNP_MOBILE, SUPPORT, digits=["1"])
    for text in call.heard[2:]:
        print(f"  IVR: 「{text}」")
    pnp = stack.wait_until(lambda: line.delivered(method="pnp"), what="the PNP message")
    print(f"  POST /bot/pnp/push to sha256(+81904444****) X-Line-Delivery-Tag {pnp[0]['delivery_tag'][:12]}…")
    t = stack.wait_until(
        lambda: next(
            (x for x in sf.find("Task", LINE_Call_Sid__c=call.sid) if x.get("LINE_Guide_Result__c") == "PNP Delivered"),
            None,
        ),
        what="the delivery event",
    )
    print(f"  LINE → relay: delivery event → Task result {t.get('LINE_Guide_Result__c')}")
    checks["PNP sent, then marked delivered by the delivery event"] = t.get("LINE_Guide_Result__c") == "PNP Delivered"
    return checks


def signed_callout(stack, secret: str, type_: str, subject: str, data: dict) -> requests.Response:
    from connector.local.demo_operator import _signed

    body, headers = _signed(secret, type_, subject, data)
    return requests.post(stack.web_url + "/salesforce/callout", data=body, headers=headers, timeout=5)


def voice_token(stack, user_id: str) -> dict:
    """What Apex LineVoiceController.deviceToken asks: the console phone's token, signed like a callout."""
    from connector.local.demo_operator import _signed

    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    body, headers = _signed(secret, "voice.device", user_id, {"userId": user_id})
    resp = requests.post(stack.web_url + "/salesforce/voice-token", data=body, headers=headers, timeout=5)
    resp.raise_for_status()
    return resp.json()
