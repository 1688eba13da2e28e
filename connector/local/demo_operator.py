"""`make demo`, operator chat: presence -> handoff -> least-loaded routing -> an operator's reply
through the signed callout -> LINE (once) -> a replay refused -> close.

Everything goes through the real processes: callouts are POSTed to the web process signed
exactly like Apex `LineConnectorCallout` (secret from the stack's CONNECTOR_CALLOUT_SECRETS), the
worker routes, writes Salesforce and pushes to LINE. The handoff is submitted as the relay's
internal `session.handoff` event into the customer's ordered inbox: if the bot already handed
the session off (its own "queued" signal), that event changes nothing; otherwise (bot disabled,
or outside business hours) it queues the session the same way the bot would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime

import requests

CUSTOMER = "U4af4980629" + "0" * 22
OTHER = "U7c1e2b5d3a" + "1" * 22
CLOSE_REASON = "配送状況をご案内し、解決"


def operator_steps(stack, step, says) -> None:
    from connector.jobs import submit_internal
    from connector.runtime import Runtime

    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    channel = stack.channels[0].channel_id
    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    rt = Runtime(stack.load_config())
    users = {u["Id"]: u.get("Name") for u in sf.records("User")}
    aiko, ken = list(users)[1:3]

    def callout(type_: str, subject: str, data: dict, raw: tuple[bytes, dict] | None = None):
        body, headers = raw or _signed(secret, type_, subject, data)
        resp = requests.post(stack.web_url + "/salesforce/callout", data=body, headers=headers, timeout=5)
        return resp, (body, headers)

    def session_of(user: str) -> dict:
        return stack.wait_until(
            lambda: (rt.store.get_state(f"{channel}:{user}") or {}).get("session"), what="the customer's session"
        )

    def hand_off(user: str) -> str:
        session = session_of(user)
        submit_internal(
            rt,
            channel,
            {"type": "user", "userId": user},
            "session.handoff",
            {"priority": 0},
            idempotency_key=f"demo-handoff:{session['key']}",
        )
        return session["key"]

    def operator_of(key: str) -> str:
        return stack.wait_until(
            lambda: next(
                (
                    s.get("Operator__c")
                    for s in sf.find("LINE_Chat_Session__c", Session_Key__c=key)
                    if s.get("Status__c") == "Operator"
                ),
                None,
            ),
            what="the assignment",
        )

    step("Operator chat: Aiko comes online in the console (presence.update callout, signed like Apex)")
    resp, _ = callout("presence.update", aiko, {"userId": aiko, "status": "Available", "capacity": 3})
    print(f"  {users[aiko]}: Available, capacity 3   (callout answered {resp.status_code})")

    step("Another customer asks for a person; only Aiko is available")
    line.send_user_message(
        channel,
        OTHER,
        {"type": "text", "text": "支払い方法を変更したいので担当の方と話せますか"},
        display_name="佐藤 次郎",
    )
    other_key = hand_off(OTHER)
    print(
        f"  customer 2 → LINE: 「支払い方法を変更したいので担当の方と話せますか」 → queued → {users[operator_of(other_key)]}"
    )

    step("Ken comes online too; our customer asks for a person")
    resp, _ = callout("presence.update", ken, {"userId": ken, "status": "Available", "capacity": 3})
    print(f"  {users[ken]}: Available, capacity 3   (callout answered {resp.status_code})")
    stack.wait_until(lambda: ken in loads(rt), what="Ken's presence")
    before_loads = loads(rt)
    print("  chats per operator now: " + ", ".join(f"{users[k]} {v}" for k, v in before_loads.items()))
    before = len(line.delivered(user_id=CUSTOMER))
    says({"type": "text", "text": "オペレーターと話したいです"}, "「オペレーターと話したいです」")
    key = hand_off(CUSTOMER)
    operator = operator_of(key)
    record = stack.wait_until(
        lambda: next(
            (r for r in sf.records("LINE_Routing__c") if r.get("Routing_Key__c", "").startswith(key + ":")), None
        ),
        what="the routing record",
    )
    case = sf.find("Case", LINE_Inquiry_Key__c=session_of(CUSTOMER).get("case_key") or key)
    print(
        f"  routed to {users[operator]} (reason {record.get('Reason__c')}: {record.get('Operator_Load__c')} active "
        f"chat(s) against {max(before_loads.values())}; waited {record.get('Wait_Seconds__c')} s)"
    )
    print(f"  Case owner → {users.get(case[0].get('OwnerId')) if case else '?'}; routing record {record.get('Name')}")
    stack.wait_until(lambda: len(line.delivered(user_id=CUSTOMER)) > before, what="the 'connected' text")
    for d in line.delivered(user_id=CUSTOMER)[before:]:
        for m in d["messages"]:
            print(f"  LINE → customer ({d['method']}): 「{m.get('text')}」")

    step(f"{users[operator]} replies in the console: a message record + the trigger's signed message.send callout")
    session_id = sf.find("LINE_Chat_Session__c", Session_Key__c=key)[0]["Id"]
    text = "お待たせしました。担当の佐藤です。ご注文の配送状況をお調べしますね。"
    rid = sf.insert(
        "LINE_Chat_Message__c",
        {
            "Chat_Session__c": session_id,
            "Direction__c": "Operator",
            "Delivery_Status__c": "Pending",
            "Type__c": "text",
            "Text__c": text,
            "Operator__c": operator,
            "Message_Key__c": f"op:pending:{secrets.token_hex(8)}",
        },
    )
    sf.update("LINE_Chat_Message__c", rid, {"Message_Key__c": "op:" + rid})  # what the after-insert trigger does
    record_json = {
        "id": rid,
        "messageKey": "op:" + rid,
        "sessionKey": key,
        "messageType": "text",
        "text": text,
        "stickerPackageId": None,
        "stickerId": None,
        "contentVersionId": None,
    }
    before = len(line.delivered(user_id=CUSTOMER))
    resp, raw = callout("message.send", rid, {"records": [record_json]})
    print(f"  POST /salesforce/callout message.send → {resp.status_code}")
    stack.wait_until(
        lambda: any(m.get("text") == text for d in line.delivered(user_id=CUSTOMER) for m in d["messages"]),
        what="the operator's reply on LINE",
    )
    sent = stack.wait_until(
        lambda: (
            (sf.get("LINE_Chat_Message__c", rid) or {}).get("Delivery_Status__c") == "Sent"
            and sf.get("LINE_Chat_Message__c", rid)
        ),
        what="the delivery status",
    )
    push = [d for d in line.delivered(user_id=CUSTOMER) if any(m.get("text") == text for m in d["messages"])][0]
    print(f"  LINE → customer ({push['method']}, X-Line-Retry-Key {push['retry_key'][:8]}…): 「{text}」")
    print(
        f"  message record: Delivery_Status__c {sent.get('Delivery_Status__c')}, LINE_Message_Id__c {sent.get('LINE_Message_Id__c')}"
    )

    step("The same callout arrives again (a replay)")
    resp, _ = callout("message.send", rid, {}, raw=raw)
    replay_status = resp.status_code
    print(f"  POST /salesforce/callout (same envelope) → {replay_status} (refused as a replay)")
    time.sleep(1.0)
    copies = sum(1 for d in line.delivered(user_id=CUSTOMER) for m in d["messages"] if m.get("text") == text)
    print(f"  the reply is on LINE {copies} time(s)")

    image_checks = _image_step(stack, step, users[operator], rt, key, session_id, operator, callout)

    step(f"{users[operator]} closes the chat")
    resp, _ = callout("session.close", session_id, {"sessionKey": key, "userId": operator, "reason": CLOSE_REASON})
    print(f"  POST /salesforce/callout session.close → {resp.status_code}")
    closed = stack.wait_until(
        lambda: next(
            (s for s in sf.find("LINE_Chat_Session__c", Session_Key__c=key) if s.get("Status__c") == "Closed"), None
        ),
        what="the session closed",
    )
    case = stack.wait_until(
        lambda: next((c for c in sf.find("Case", LINE_Inquiry_Key__c=key) if c.get("Status") == "Closed"), None),
        what="the Case closed",
    )
    stack.wait_until(
        lambda: any(
            m.get("text", "").startswith("お問い合わせありがとうございました")
            for d in line.delivered(user_id=CUSTOMER)
            for m in d["messages"]
        ),
        what="the closing text",
    )
    print(
        f"  session {closed.get('Name')}: Closed by {users.get(closed.get('Closed_By__c'))} 「{closed.get('Close_Reason__c')}」"
    )
    print(f"  Case #{case.get('CaseNumber')}: Status {case.get('Status')}")
    print(f"  LINE → customer (push): 「{rt.config.channel(channel).text('session_closed')}」")
    load = loads(rt)
    print(f"  chats per operator now: {', '.join(f'{users[k]} {v}' for k, v in load.items())}")

    step("Operator chat checks")
    routings = sf.records("LINE_Routing__c")
    checks = {
        "routed to the least-loaded operator": before_loads.get(operator)
        == min(before_loads.values())
        == record.get("Operator_Load__c")
        and record.get("Reason__c") in ("least_load", "longest_wait", "operator_id"),
        "routing record written (queued/assigned/wait/load/reason)": all(
            record.get(f) is not None
            for f in ("Queued_At__c", "Assigned_At__c", "Wait_Seconds__c", "Operator_Load__c", "Reason__c")
        )
        and len(routings) >= 2,
        "Case owner is the operator": bool(sf.find("Case", LINE_Inquiry_Key__c=key, OwnerId=operator)),
        "operator reply on LINE exactly once": copies == 1,
        "replayed callout refused (409)": replay_status == 409,
        "delivery status written back (Sent)": sent.get("Delivery_Status__c") == "Sent",
        "session and Case closed, operator freed": bool(closed and case)
        and load.get(operator) == before_loads[operator],
        **image_checks,
    }
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    if not all(checks.values()):
        raise TimeoutError("an operator chat check failed")


def loads(rt) -> dict[str, int]:
    """Active chats per Available operator, from the routing state in Redis."""
    ops = rt.routing_store.load().operators.values()
    return {o.id: len(o.active) for o in ops if o.status.value == "Available"}


def _signed(secret: str, type_: str, subject: str, data: dict) -> tuple[bytes, dict]:
    """Body and headers exactly as LineConnectorCallout.send builds them."""
    now_ms = int(time.time() * 1000)
    env = {
        "type": type_,
        "id": f"{subject}:{type_}:{now_ms}:{secrets.token_hex(4)}",
        "sentAt": datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "data": data,
    }
    body = json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(now_ms // 1000)
    signature = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Connector-Timestamp": timestamp,
        "X-Connector-Signature": signature,
    }


def _image_step(stack, step, name: str, rt, key: str, session_id: str, operator: str, callout) -> dict[str, bool]:
    """An operator's photo, opened by the customer the next morning (issue 17, finding 11)."""
    import base64
    import io

    from PIL import Image, ImageDraw

    from connector.storage.blobs import MEDIA

    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    step(f"{name} sends a photo of the parcel label; the customer opens LINE the next morning")
    img = Image.new("RGB", (1600, 1200), (245, 240, 230))
    ImageDraw.Draw(img).rectangle((200, 300, 1400, 900), outline=(20, 20, 20), width=12)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    photo = buf.getvalue()
    version_id = rt.salesforce.call(
        "file",
        lambda client: client.ContentVersion.create(
            {"Title": "label", "PathOnClient": "label.jpg", "VersionData": base64.b64encode(photo).decode()}
        ),
    )["id"]
    rid = sf.insert(
        "LINE_Chat_Message__c",
        {
            "Chat_Session__c": session_id,
            "Direction__c": "Operator",
            "Delivery_Status__c": "Pending",
            "Type__c": "image",
            "Operator__c": operator,
            "Message_Key__c": f"op:pending:{secrets.token_hex(8)}",
        },
    )
    sf.update("LINE_Chat_Message__c", rid, {"Message_Key__c": "op:" + rid})
    record = {
        "id": rid,
        "messageKey": "op:" + rid,
        "sessionKey": key,
        "messageType": "image",
        "contentVersionId": version_id,
    }
    callout("message.send", rid, {"records": [record]})
    msg = stack.wait_until(
        lambda: next(
            (m for d in line.delivered(user_id=CUSTOMER) for m in d["messages"] if m.get("type") == "image"), None
        ),
        what="the photo on LINE",
    )
    days = rt.settings.routing.operator_image_link_days
    print(f"  LINE → customer: an image; its links work for {days} days (original + preview)")
    rt.blobs.delete(MEDIA, version_id)  # the night passes: Redis kept the bytes only for the first hour
    calls = sf.api_calls
    original = requests.get(stack.web_url + "/media/" + msg["originalContentUrl"].rsplit("/", 1)[1], timeout=10)
    preview = requests.get(stack.web_url + "/media/" + msg["previewImageUrl"].rsplit("/", 1)[1], timeout=10)
    size = Image.open(io.BytesIO(preview.content)).size if preview.ok else None
    print(
        f"  next morning: GET original → {original.status_code} ({len(original.content):,} bytes, fetched from"
        f" Salesforce: {sf.api_calls - calls} API call); preview → {preview.status_code}"
        f" ({len(preview.content):,} bytes, {size[0] if size else '?'}×{size[1] if size else '?'} px)"
    )
    return {
        "the photo opens the next morning, from Salesforce": original.ok and original.content == photo,
        "its preview is within LINE's 1 MB": preview.ok and len(preview.content) <= 1024 * 1024,
    }
