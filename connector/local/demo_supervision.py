"""`make demo`, after the chat and over the operators' shoulders (issue 20): a closed chat answered
with a survey score and comment reaching the Case, an unsatisfied score flagged, a supervisor's
whisper the operator sees and LINE never receives, a held chat resumed, and a handoff kept by the
bot through queue relief.

Channel 1 has the survey on; channel 4 has a bot whose operator chat is for entitled customers
only (`bot.operator_chat_for: entitled_only`). Callouts are signed like Apex (demo_operator).
"""

from __future__ import annotations

import secrets
import time

import requests

from connector.local.demo_operator import _signed

CUSTOMER = "U4af4980629" + "0" * 22
THIRD = "U9d2f3c4b5a" + "2" * 22
WHISPER = "返金は経理承認が必要です。受付番号だけ伝えてください。"
HOLD_MEMO = "在庫を倉庫に確認中"


def configure(stack):
    """Survey on channel 1, queue relief on channel 4 (call before the stack starts)."""
    stack.channel_cfg[0]["survey"] = {"enabled": True}
    stack.channel_cfg[3]["bot"] = {
        "enabled": True,
        "business_hours": {"weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
        "operator_chat_for": "entitled_only",
    }
    return stack


def supervision_steps(stack, step) -> dict[str, bool]:
    from connector.jobs import submit_internal
    from connector.runtime import Runtime

    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    ch1, ch4 = stack.channels[0].channel_id, stack.channels[3].channel_id
    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    rt = Runtime(stack.load_config())
    texts1 = rt.config.channel(ch1).text
    users = {u["Id"]: u.get("Name") for u in sf.records("User")}
    aiko = list(users)[1]

    def callout(type_: str, subject: str, data: dict) -> int:
        body, headers = _signed(secret, type_, subject, data)
        return requests.post(stack.web_url + "/salesforce/callout", data=body, headers=headers, timeout=5).status_code

    def line_texts(user: str) -> list[str]:
        return [m.get("text") or "" for d in line.delivered(user_id=user) for m in d["messages"]]

    def write(channel: str, user: str, text: str) -> None:
        line.send_user_message(channel, user, {"type": "text", "text": text}, display_name="鈴木 一郎")
        print(f"  customer → LINE: 「{text}」")

    def tap(channel: str, user: str, data: str, label: str) -> None:
        line.send_event(
            channel, {"type": "postback", "source": {"type": "user", "userId": user}, "postback": {"data": data}}
        )
        print(f"  customer taps 「{label}」")

    def session(user: str, channel: str = ch1) -> dict:
        return stack.wait_until(
            lambda: (rt.store.get_state(f"{channel}:{user}") or {}).get("session"), what="the customer's session"
        )

    def record(key: str) -> dict:
        return sf.find("LINE_Chat_Session__c", Session_Key__c=key)[0]

    step("Supervision: a third customer's chat goes to an operator")
    callout("presence.update", aiko, {"userId": aiko, "status": "Available", "capacity": 3})
    write(ch1, THIRD, "先週注文した商品の返金について相談したいです")
    key = session(THIRD)["key"]
    submit_internal(rt, ch1, {"type": "user", "userId": THIRD}, "session.handoff", {}, idempotency_key=f"demo-sv:{key}")
    stack.wait_until(lambda: record(key).get("Status__c") == "Operator", what="the assignment")
    operator = record(key)["Operator__c"]
    print(f"  routed to {users.get(operator)}")

    step("The supervisor view asks the relay for the operators' presence (signed, answered at once)")
    body, headers = _signed(secret, "presence.snapshot", "005SUPERVISOR", {})
    snap = requests.post(stack.web_url + "/salesforce/presence", data=body, headers=headers, timeout=5)
    for op in snap.json().get("operators", []) if snap.status_code == 200 else []:
        print(
            f"  {users.get(op['userId'], op['userId'])}: {op['status']}, {op['load']}/{op['capacity']} chats, {op['onHold']} on hold"
        )
    print(f"  POST /salesforce/presence → {snap.status_code}; queued {snap.json().get('queued')}")

    step("A supervisor whispers advice to the operator (an Internal message record)")
    sid = record(key)["Id"]
    wid = sf.insert(
        "LINE_Chat_Message__c",
        {
            "Chat_Session__c": sid,
            "Direction__c": "Internal",
            "Type__c": "text",
            "Text__c": WHISPER,
            "Message_Key__c": f"int:{secrets.token_hex(8)}",
        },
    )
    print(
        f"  transcript: [Internal] 「{sf.get('LINE_Chat_Message__c', wid)['Text__c']}」 (the console marks it 社内メモ)"
    )
    asked = callout(
        "message.send",
        wid,
        {
            "records": [
                {
                    "id": wid,
                    "messageKey": "op:" + wid,
                    "direction": "Internal",
                    "sessionKey": key,
                    "messageType": "text",
                    "text": WHISPER,
                }
            ]
        },
    )
    print(f"  even if asked to send it: POST /salesforce/callout message.send → {asked} (refused)")

    step(f"{users.get(operator)} puts the chat on hold with a memo, then takes it back")
    held = callout("session.hold", sid, {"sessionKey": key, "userId": operator, "memo": HOLD_MEMO})
    stack.wait_until(lambda: record(key).get("Held_At__c"), what="the hold")
    stack.wait_until(lambda: texts1("session_on_hold") in line_texts(THIRD), what="the hold notice")
    print(
        f"  session.hold → {held}; Hold_Memo__c 「{record(key).get('Hold_Memo__c')}」, back to the queue at {record(key).get('Hold_Until__c')} unless resumed"
    )
    print(f"  LINE → customer (push): 「{texts1('session_on_hold')}」")
    resumed = callout("session.resume", sid, {"sessionKey": key, "userId": operator})
    stack.wait_until(lambda: not record(key).get("Held_At__c"), what="the resume")
    print(f"  session.resume → {resumed}; still with {users.get(record(key).get('Operator__c'))}")

    step(f"{users.get(operator)} closes the chat: the survey follows the closing text")
    callout("session.close", sid, {"sessionKey": key, "userId": operator, "reason": "返金手続きをご案内"})
    stack.wait_until(lambda: texts1("survey_question") in line_texts(THIRD), what="the survey on LINE")
    print(f"  LINE → customer (push): 「{texts1('session_closed')}」")
    print(f"  LINE → customer (push): 「{texts1('survey_question')}」  [5] [4] [3] [2] [1]")
    tap(ch1, THIRD, f"survey:score:2:{key}", "2")
    stack.wait_until(lambda: texts1("survey_comment") in line_texts(THIRD), what="the comment question")
    write(ch1, THIRD, "返金までの流れをもう少し早く知りたかったです")
    stack.wait_until(lambda: record(key).get("Survey_Comment__c"), what="the comment in Salesforce")
    stack.wait_until(lambda: texts1("survey_thanks") in line_texts(THIRD), what="the thank-you")
    tap(ch1, THIRD, f"survey:score:5:{key}", "5 (again)")
    time.sleep(1.0)
    s = record(key)
    case = sf.find("Case", LINE_Inquiry_Key__c=key)[0]
    print(
        f"  session {s.get('Name')}: Survey_Score__c {s.get('Survey_Score__c')}, unsatisfied {s.get('Survey_Unsatisfied__c')}, comment 「{s.get('Survey_Comment__c')}」"
    )
    print(
        f"  Case #{case.get('CaseNumber')}: LINE_Survey_Score__c {case.get('LINE_Survey_Score__c')}, LINE_Survey_Unsatisfied__c {case.get('LINE_Survey_Unsatisfied__c')}  (list view: Unsatisfied Surveys)"
    )

    step("Queue relief: on channel 4 operator chat is for entitled customers only")
    before = len(line_texts(THIRD))
    write(ch4, THIRD, "オペレーターと話したい")
    relief_text = rt.config.channel(ch4).text("bot_relief_not_entitled")
    stack.wait_until(lambda: relief_text in line_texts(THIRD)[before:], what="the bot's honest answer")
    s4 = session(THIRD, ch4)
    case4 = stack.wait_until(
        lambda: next(
            (c for c in sf.find("Case", LINE_Inquiry_Key__c=s4["case_key"]) if c.get("LINE_Follow_Up__c")), None
        ),
        what="the Case marked for follow-up",
    )
    print(f"  LINE → customer (reply): 「{relief_text}」")
    print(
        f"  session stays {s4['status']}; Case #{case4.get('CaseNumber')} LINE_Follow_Up__c {case4.get('LINE_Follow_Up__c')}"
    )

    whisper_on_line = any(WHISPER in t for t in line_texts(THIRD))
    return {
        "supervisor view got the operators' presence": snap.status_code == 200
        and any(op["userId"] == operator for op in snap.json()["operators"]),
        "survey score and comment on session and Case": (s.get("Survey_Score__c"), case.get("LINE_Survey_Score__c"))
        == (2, 2)
        and bool(case.get("LINE_Survey_Comment__c")),
        "unsatisfied score flagged": bool(s.get("Survey_Unsatisfied__c") and case.get("LINE_Survey_Unsatisfied__c")),
        "a second answer changed nothing": s.get("Survey_Score__c") == 2,
        "whisper kept in the transcript, never on LINE": asked == 400 and not whisper_on_line,
        "held chat told, resumed with the same operator": held == 202
        and resumed == 202
        and s.get("Operator__c") in (operator, None),
        "handoff kept by queue relief, Case for follow-up": s4["status"] == "Bot" and bool(case4),
    }
