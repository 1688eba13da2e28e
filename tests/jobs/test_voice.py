"""Voice end to end on the sandbox: Twilio-signed requests to the web edge, jobs in-process, real
Redis, the Salesforce stand-in with the deployed schema, the LINE and Twilio stand-ins."""

from __future__ import annotations

import hashlib
import random
import re
import time
import xml.etree.ElementTree as ET

import jwt as pyjwt
import pytest

from connector.domain import voice as V
from connector.i18n import DEFAULT_TEXTS
from connector.jobs import routing
from connector.jobs import voice as voice_jobs
from tests.jobs.operator_fixtures import operators
from tests.jobs.voice_fixtures import (  # noqa: F401
    CALLER,
    CHANNEL,
    CUSTOMER,
    CUSTOMER2,
    call,
    customer_writes,
    lifecycle,
    linked_friend,
    make_rt,
    new_sid,
    op_redis,
    op_sandbox,
    rt,
    run_jobs,
    sb,
    session_key,
    status,
    tasks,
    twilio_post,
    web,
)

JA = DEFAULT_TEXTS["ja"]


def twiml(resp) -> ET.Element:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return ET.fromstring(resp.get_data())


def says(root: ET.Element) -> list[str]:
    return [s.text for s in root.iter("Say")]


def task_of(sb, sid: str) -> dict:
    found = tasks(sb, LINE_Call_Sid__c=sid)
    assert len(found) == 1, found
    return found[0]


def line_pushes(sb, user: str) -> list[dict]:
    """Pushes to `user` carrying the Call-to-LINE message (the chat's own welcome is not one)."""
    return [
        d
        for d in sb.line.delivered(user_id=user, method="push")
        if any(m.get("text") == JA["call_to_line_message"] for m in d["messages"])
    ]


def press_1(rt, client, sid: str, caller: str = CALLER) -> list[str]:
    """Call, press 1, let the job run, and hear the outcome."""
    twiml(twilio_post(client, "/twilio/voice", call(sid, caller)))
    root = twiml(twilio_post(client, "/twilio/gather?step=menu", call(sid, caller, Digits="1")))
    heard = says(root)
    if root.find("Redirect") is not None:
        run_jobs(rt)
        heard += says(twiml(twilio_post(client, "/twilio/gather?step=line-result&try=1", call(sid, caller))))
    return heard


def finish(rt, client, sid: str, caller: str = CALLER, final: str = "completed", duration: int = 95) -> None:
    for params in lifecycle(sid, final, duration, caller):
        assert twilio_post(client, "/twilio/status", params).status_code == 200
    run_jobs(rt)


# --------------------------------------------------------------------------- call records


@pytest.mark.parametrize("seed", range(4))
def test_status_callbacks_out_of_order_and_repeated_end_in_one_task_with_the_final_status(rt, sb, seed):
    client, sid = web(rt), new_sid()
    twilio_post(client, "/twilio/voice", call(sid))
    callbacks = lifecycle(sid, "completed", 137)
    rng = random.Random(seed)
    arrived = callbacks + [rng.choice(callbacks) for _ in range(3)]
    rng.shuffle(arrived)
    half = len(arrived) // 2
    for params in arrived[:half]:
        twilio_post(client, "/twilio/status", params)
    run_jobs(rt)  # a Task exists after the first half, whatever it held
    for params in arrived[half:]:
        twilio_post(client, "/twilio/status", params)
    run_jobs(rt)
    task = task_of(sb, sid)
    assert task["CallDisposition"] == "completed" and task["CallDurationInSeconds"] == 137
    assert task["Status"] == "Completed" and task["CallType"] == "Inbound" and task["CallObject"] == sid
    assert task["LINE_Call_Status__c"] == "completed" and task["LINE_Call_Sequence__c"] == 3
    assert task["LINE_Call_From__c"] == "+81******5678" and "12345678" not in str(task)
    assert len(tasks(sb)) == 1


def test_a_call_that_was_not_answered_has_no_duration(rt, sb):
    client, sid = web(rt), new_sid()
    finish(rt, client, sid, final="no-answer")
    task = task_of(sb, sid)
    assert task["CallDisposition"] == "no-answer" and task.get("CallDurationInSeconds") is None


def test_writing_a_call_again_changes_nothing_and_costs_no_call(rt, sb):
    client, sid = web(rt), new_sid()
    finish(rt, client, sid)
    calls = sb.salesforce.api_calls
    assert voice_jobs.record_call(sid) == "completed"
    assert sb.salesforce.api_calls == calls


def test_a_late_old_callback_never_moves_the_status_back(rt, sb):
    client, sid = web(rt), new_sid()
    finish(rt, client, sid)
    late = status(sid, "ringing", 1)
    late["Timestamp"] = "Mon, 16 Nov 2026 10:00:00 +0000"
    twilio_post(client, "/twilio/status", {**late, "SequenceNumber": "1"})
    run_jobs(rt)
    assert task_of(sb, sid)["CallDisposition"] == "completed"


def test_unwritten_calls_are_picked_up_by_the_sweep(rt, sb):
    client, sid = web(rt), new_sid()
    for params in lifecycle(sid):
        twilio_post(client, "/twilio/status", params)
    rt.queue.empty()  # the jobs were lost (a Redis failover, a flushed queue)
    for job_id in rt.queue.scheduled_job_registry.get_job_ids():
        rt.queue.scheduled_job_registry.remove(job_id)
    assert tasks(sb) == []
    voice_jobs.tick(rt, now=time.time() + 60)
    run_jobs(rt)
    assert task_of(sb, sid)["CallDisposition"] == "completed"


def test_a_salesforce_outage_leaves_calls_pending_and_nothing_dead_lettered(rt, sb):
    client, sid = web(rt), new_sid()
    fault = sb.faults.add("salesforce", "status", status=503)
    finish(rt, client, sid)
    assert tasks(sb) == [] and rt.store.dead_letters() == []
    assert rt.voice_store.pending(time.time() + 60) == [sid]
    sb.faults.remove(fault)
    rt.store.lift()  # Salesforce answers again (the probe would find it)
    voice_jobs.tick(rt, now=time.time() + 60)
    run_jobs(rt)
    assert task_of(sb, sid)["CallDisposition"] == "completed" and rt.store.dead_letters() == []


# --------------------------------------------------------------------------- Call to LINE


def test_a_caller_whose_number_belongs_to_a_linked_friend_gets_a_line_message(rt, sb):
    linked = linked_friend(sb, rt, CUSTOMER, "090-1234-5678")
    client, sid = web(rt), new_sid()
    heard = press_1(rt, client, sid)
    assert JA["voice_line_wait"] in heard and JA["voice_line_sent"] in heard
    pushes = line_pushes(sb, CUSTOMER)
    assert len(pushes) == 1 and pushes[0]["retry_key"]
    finish(rt, client, sid)
    task = task_of(sb, sid)
    assert task["LINE_Call_Flow__c"] == "Call to LINE" and task["LINE_Guide_Result__c"] == "LINE Sent"
    assert task["WhoId"] == linked["contact_id"]
    case = sb.salesforce.get("Case", task["WhatId"])
    assert case["ContactId"] == linked["contact_id"] and not case["IsClosed"]
    # recorded in the friend's open chat too
    system = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="System", Text__c=JA["call_to_line_message"])
    assert len(system) == 1 and system[0]["Delivery_Status__c"] == "Sent"


def test_a_call_to_line_job_lost_with_its_worker_is_queued_again_by_the_sweep(rt, sb):
    linked_friend(sb, rt, CUSTOMER, "090-1234-5678")
    client, sid = web(rt), new_sid()
    twilio_post(client, "/twilio/voice", call(sid))
    twilio_post(client, "/twilio/gather?step=menu", call(sid, Digits="1"))
    rt.queue.empty()  # the worker that took the job was killed
    voice_jobs.tick(rt, now=time.time() + 1)
    run_jobs(rt)
    assert line_pushes(sb, CUSTOMER) == []  # not yet: it may still be running somewhere
    rt.leases.forget("voice-sweep")
    voice_jobs.tick(rt, now=time.time() + 30)
    run_jobs(rt)
    assert len(line_pushes(sb, CUSTOMER)) == 1
    rt.leases.forget("voice-sweep")
    voice_jobs.tick(rt, now=time.time() + 60)  # done: not queued again
    assert rt.queue.count == 0


def test_the_contacts_open_case_is_used_when_there_is_one(rt, sb):
    linked = linked_friend(sb, rt, CUSTOMER, "090-1234-5678")
    open_case = sb.salesforce.insert("Case", {"Subject": "配送", "Status": "New", "ContactId": linked["contact_id"]})
    client, sid = web(rt), new_sid()
    press_1(rt, client, sid)
    finish(rt, client, sid)
    assert task_of(sb, sid)["WhatId"] == open_case


def test_call_to_line_runs_once_even_if_the_job_runs_twice(rt, sb):
    linked_friend(sb, rt, CUSTOMER, "090-1234-5678")
    client, sid = web(rt), new_sid()
    press_1(rt, client, sid)
    sealed = rt.vault.seal_json({"sid": sid, "channel_id": CHANNEL, "caller": CALLER, "at": time.time()})
    voice_jobs.call_to_line(sealed)
    rt.voice_store.set_line_outcome(sid, {"route": "line", "status": "Sent"})  # as if the outcome were lost
    voice_jobs.call_to_line(sealed)
    assert len(line_pushes(sb, CUSTOMER)) == 1
    assert len(sb.salesforce.find("Case", LINE_Inquiry_Key__c=f"call:{sid}")) <= 1


def test_a_withheld_caller_gets_the_spoken_fallback_and_nothing_is_looked_up(rt, sb):
    client, sid = web(rt), new_sid()
    calls = sb.salesforce.api_calls
    heard = press_1(rt, client, sid, caller="+266696687")
    assert JA["voice_line_withheld"] in heard
    assert sb.salesforce.api_calls == calls and sb.line.delivered() == []
    finish(rt, client, sid, caller="+266696687")
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "Withheld"


def test_an_unmatched_caller_gets_the_fallback_and_no_guess(rt, sb):
    linked_friend(sb, rt, CUSTOMER, "080-9999-5678")  # same last four digits, another number
    linked_friend(sb, rt, CUSTOMER2, "090-1234-5678", verified=False)  # the number, but never verified
    client, sid = web(rt), new_sid()
    heard = press_1(rt, client, sid)
    assert JA["voice_line_fallback"] in heard and JA["voice_line_sms"] not in heard
    assert line_pushes(sb, CUSTOMER) == [] and line_pushes(sb, CUSTOMER2) == []
    finish(rt, client, sid)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "No Match"


def test_a_number_is_never_enough_to_link_a_line_user(rt, sb):
    linked_friend(sb, rt, CUSTOMER2, "090-1234-5678", verified=False)
    before = {f["Id"]: (f.get("Contact__c"), f.get("Verified__c")) for f in sb.salesforce.records("LINE_Friend__c")}
    sb.line.register_phone(CHANNEL, CUSTOMER2, CALLER)
    client = web(make_pnp(rt))
    press_1(rt, client, new_sid())
    after = {f["Id"]: (f.get("Contact__c"), f.get("Verified__c")) for f in sb.salesforce.records("LINE_Friend__c")}
    assert after == before


def make_pnp(rt):
    return rt  # placeholder for readability: PNP is configured by the tests that need it


def test_sms_fallback_sends_the_friend_link_where_enabled(make_rt, sb):
    rt = make_rt(voice={"sms_fallback": True, "friend_url": "https://lin.ee/abcd"})
    client, sid = web(rt), new_sid()
    heard = press_1(rt, client, sid)
    assert JA["voice_line_sms"] in heard
    (sms,) = sb.twilio.messages
    assert sms["to"] == CALLER and "https://lin.ee/abcd" in sms["body"]


def test_pnp_where_enabled_then_the_delivery_event_marks_it_delivered(make_rt, sb):
    rt = make_rt(voice={"pnp": True})
    digest = sb.line.register_phone(CHANNEL, CUSTOMER2, CALLER)
    client, sid = web(rt), new_sid()
    heard = press_1(rt, client, sid)
    assert JA["voice_line_pnp"] in heard
    (pnp,) = sb.line.delivered(method="pnp")
    assert pnp["to"] == digest and pnp["delivery_tag"] == f"c2l-{sid}"
    finish(rt, client, sid)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Sent"
    deliver_pnp_events(rt, sb)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Delivered"


def deliver_pnp_events(rt, sb) -> None:
    """LINE sends the `delivery` event; ingest it as the webhook would and drain."""
    from connector.domain import events as ev

    for event in sb.line.send_pnp_deliveries():
        rt.store.ingest([(CHANNEL, event["webhookEventId"], ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt)


def test_pnp_422_falls_back(make_rt, sb):
    rt = make_rt(voice={"pnp": True})
    client, sid = web(rt), new_sid()
    heard = press_1(rt, client, sid)  # nobody on LINE has the number
    assert JA["voice_line_fallback"] in heard
    finish(rt, client, sid)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Unavailable"


def test_pnp_is_not_used_where_disabled(rt, sb):
    sb.line.register_phone(CHANNEL, CUSTOMER2, CALLER)
    press_1(rt, web(rt), new_sid())
    assert sb.line.delivered(method="pnp") == []


def test_no_delivery_within_24_hours_marks_it_undelivered_and_a_late_one_delivered(make_rt, sb):
    rt = make_rt(voice={"pnp": True})
    sb.line.register_phone(CHANNEL, CUSTOMER2, CALLER)
    client, sid = web(rt), new_sid()
    press_1(rt, client, sid)
    finish(rt, client, sid)
    voice_jobs.tick(rt, now=time.time() + 23 * 3600)
    run_jobs(rt)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Sent"
    rt.leases.forget("voice-sweep")
    voice_jobs.tick(rt, now=time.time() + 25 * 3600)
    run_jobs(rt)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Undelivered"
    deliver_pnp_events(rt, sb)  # LINE's word wins over our window
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Delivered"


def test_pnp_delivered_within_24_hours_is_not_swept(make_rt, sb):
    rt = make_rt(voice={"pnp": True})
    sb.line.register_phone(CHANNEL, CUSTOMER2, CALLER)
    client, sid = web(rt), new_sid()
    press_1(rt, client, sid)
    finish(rt, client, sid)
    deliver_pnp_events(rt, sb)
    voice_jobs.tick(rt, now=time.time() + 25 * 3600)
    run_jobs(rt)
    assert task_of(sb, sid)["LINE_Guide_Result__c"] == "PNP Delivered"


# --------------------------------------------------------------------------- LINE to Call


OPERATOR_PHONE = "+819011112222"


def operator_online(rt, sb, phone: str | None = OPERATOR_PHONE) -> str:
    op = operators(sb)[0]
    data = {"userId": op, "status": "Available", "capacity": 3}
    if phone:
        data["phone"] = phone
    env = {"type": "presence.update", "id": f"p:{time.time_ns()}", "sentAt": None, "data": data}
    routing.callout(rt.vault.seal_json(env))
    return op


def offer_call(rt, sb, op: str, user: str = CUSTOMER) -> dict:
    """The console's "offer a call" callout, run in-process; returns the code and the web token."""
    customer_writes(rt, "電話で話したいです", user=user)
    key = session_key(rt, user)
    case = sb.salesforce.find("Case", LINE_Inquiry_Key__c=key)[0]
    env = {
        "type": "call.offer",
        "id": f"o:{time.time_ns()}",
        "sentAt": None,
        "data": {"sessionKey": key, "caseId": case["Id"], "contactId": case.get("ContactId"), "userId": op},
    }
    assert voice_jobs.callout(rt.vault.seal_json(env)) == "Sent"
    flex = [m for d in sb.line.delivered(user_id=user) for m in d["messages"] if m["type"] == "flex"][-1]
    uris = [b["action"]["uri"] for b in flex["contents"]["footer"]["contents"]]
    code = re.fullmatch(r"tel:\+815012345678,,2,,(\d{6})", uris[0]).group(1)
    token = re.search(r"/call\?c=([^&]+)&openExternalBrowser=1$", uris[1]).group(1)
    return {"code": code, "token": token, "session_key": key, "case_id": case["Id"], "flex": flex}


def key_code(client, sid: str, code: str, caller: str = CALLER) -> ET.Element:
    twiml(twilio_post(client, "/twilio/voice", call(sid, caller)))
    twiml(twilio_post(client, "/twilio/gather?step=menu", call(sid, caller, Digits="2")))
    return twiml(twilio_post(client, "/twilio/gather?step=code", call(sid, caller, Digits=code)))


def test_offer_a_call_sends_a_flex_message_with_a_code_and_records_it_without_the_code(rt, sb):
    offer = offer_call(rt, sb, operator_online(rt, sb))
    text = offer["flex"]["contents"]["body"]["contents"][0]["text"]
    assert offer["code"] in text and "30分" in text
    lines = sb.salesforce.find("LINE_Chat_Message__c", Text__c=JA["call_offered"])
    assert len(lines) == 1 and offer["code"] not in str(sb.salesforce.records("LINE_Chat_Message__c"))


def test_a_caller_keying_the_code_reaches_the_operator_who_offered_and_every_leg_is_a_task(rt, sb):
    op = operator_online(rt, sb)
    offer = offer_call(rt, sb, op)
    client, sid = web(rt), new_sid()
    root = key_code(client, sid, offer["code"])
    assert JA["voice_connecting"] in says(root)
    number = root.find("Dial/Number")
    assert number.text == OPERATOR_PHONE and number.get("statusCallback").endswith("/twilio/status")
    child = new_sid()
    for params in lifecycle(child, "completed", 200, caller="+815012345678"):
        params.update(ParentCallSid=sid, Direction="outbound-dial", To=OPERATOR_PHONE)
        twilio_post(client, "/twilio/status", params)
    finish(rt, client, sid, duration=215)
    parent, leg = task_of(sb, sid), task_of(sb, child)
    assert parent["WhatId"] == offer["case_id"] == leg["WhatId"]
    assert parent["LINE_Call_Flow__c"] == "LINE to Call" and parent["CallDurationInSeconds"] == 215
    assert (
        leg["CallType"] == "Outbound" and leg["LINE_Parent_Call_Sid__c"] == sid and leg["CallDurationInSeconds"] == 200
    )
    session = sb.salesforce.find("LINE_Chat_Session__c", Session_Key__c=offer["session_key"])[0]
    lines = [
        m["Text__c"] for m in sb.salesforce.find("LINE_Chat_Message__c", Chat_Session__c=session["Id"], Type__c="call")
    ]
    assert lines == [JA["call_started"], JA["call_answered"], "通話終了（3分35秒）"] or sorted(lines) == sorted(
        [JA["call_started"], JA["call_answered"], "通話終了（3分35秒）"]
    )


def test_without_a_phone_the_operators_client_identity_is_dialled(rt, sb):
    op = operator_online(rt, sb, phone=None)
    offer = offer_call(rt, sb, op)
    root = key_code(web(rt), new_sid(), offer["code"])
    client = root.find("Dial/Client")
    assert client.find("Identity").text == f"operator-{op}"
    # the console phone rings with the Case of the chat the call was offered in
    assert {p.get("name"): p.get("value") for p in client.findall("Parameter")} == {"caseId": offer["case_id"]}


def test_a_used_code_is_refused(rt, sb):
    offer = offer_call(rt, sb, operator_online(rt, sb))
    client = web(rt)
    assert key_code(client, new_sid(), offer["code"]).find("Dial") is not None
    again = key_code(client, new_sid(), offer["code"])
    assert again.find("Dial") is None and JA["voice_code_wrong"] in says(again)


def test_an_expired_code_is_refused(rt, sb):
    operator_online(rt, sb)
    offer_id, code, _ = rt.voice_store.create_offer(
        {"session_key": "x", "channel_id": CHANNEL, "operator_id": operators(sb)[0], "expires_at": time.time() - 1},
        digits=6,
        ttl_s=60,
    )
    root = key_code(web(rt), new_sid(), code)
    assert root.find("Dial") is None and JA["voice_code_wrong"] in says(root)


def test_guessed_codes_end_the_call_after_three_tries(rt, sb):
    offer = offer_call(rt, sb, operator_online(rt, sb))
    client, sid = web(rt), new_sid()
    wrong = f"{(int(offer['code']) + 1) % 1_000_000:06d}"
    first = key_code(client, sid, wrong)
    assert first.find("Gather") is not None  # asked again
    twiml(twilio_post(client, "/twilio/gather?step=code", call(sid, Digits=wrong)))
    last = twiml(twilio_post(client, "/twilio/gather?step=code", call(sid, Digits=offer["code"][:5])))
    assert last.find("Gather") is None and last[-1].tag == "Hangup"


def test_a_caller_who_guessed_too_often_is_refused_even_the_right_code(make_rt, sb):
    rt = make_rt(twilio={"code_failures_per_caller_per_hour": 2})
    offer = offer_call(rt, sb, operator_online(rt, sb))
    client = web(rt)
    for _ in range(2):
        key_code(client, new_sid(), "000000" if offer["code"] != "000000" else "111111")
    root = key_code(client, new_sid(), offer["code"])
    assert root.find("Dial") is None
    assert key_code(client, new_sid(), offer["code"], caller="+819088887777").find("Dial") is not None


def test_offers_per_session_are_limited(make_rt, sb):
    rt = make_rt(twilio={"offers_per_session_per_hour": 1})
    op = operator_online(rt, sb)
    offer_call(rt, sb, op)
    key = session_key(rt)
    env = {"type": "call.offer", "id": "o:again", "sentAt": None, "data": {"sessionKey": key, "userId": op}}
    assert voice_jobs.callout(rt.vault.seal_json(env)) == "limited"
    assert len([m for d in sb.line.delivered(user_id=CUSTOMER) for m in d["messages"] if m["type"] == "flex"]) == 1


def test_an_offline_operator_is_not_dialled(rt, sb):
    op = operator_online(rt, sb)
    offer = offer_call(rt, sb, op)
    env = {"type": "presence.update", "id": "p:off", "sentAt": None, "data": {"userId": op, "status": "Offline"}}
    routing.callout(rt.vault.seal_json(env))
    root = key_code(web(rt), new_sid(), offer["code"])
    assert root.find("Dial") is None and JA["voice_operator_unavailable"] in says(root)


# --------------------------------------------------------------------------- the web call's token


def test_a_valid_code_gets_a_short_lived_voice_token_once(rt, sb):
    offer = offer_call(rt, sb, operator_online(rt, sb))
    client = web(rt)
    resp = client.post("/call/token", json={"c": offer["token"]})
    assert resp.status_code == 200
    claims = pyjwt.decode(resp.json["token"], "sandbox-api-key-secret-0123456789abcdef", algorithms=["HS256"])
    assert (
        claims["grants"]["identity"]
        == resp.json["identity"]
        == f"web-{rt.voice_store.offer_by_token(offer['token'])['id']}"
    )
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "2" * 32
    assert claims["exp"] - claims["iat"] <= 300 if "iat" in claims else claims["exp"] - time.time() <= 301
    assert client.post("/call/token", json={"c": offer["token"]}).status_code == 410
    # the phone code of the same offer is used up too
    assert key_code(client, new_sid(), offer["code"]).find("Dial") is None


def test_the_browser_call_is_connected_to_the_operator(rt, sb):
    op = operator_online(rt, sb)
    offer = offer_call(rt, sb, op)
    client = web(rt)
    identity = client.post("/call/token", json={"c": offer["token"]}).json["identity"]
    sid = new_sid()
    root = twiml(twilio_post(client, "/twilio/voice", call(sid, f"client:{identity}", To="")))
    assert root.find("Dial/Number").text == OPERATOR_PHONE
    finish(rt, client, sid, caller=f"client:{identity}")
    assert task_of(sb, sid)["LINE_Call_Flow__c"] == "Web Call" and task_of(sb, sid)["WhatId"] == offer["case_id"]


def test_expired_unknown_and_reused_web_codes_get_one_answer(rt, sb):
    client = web(rt)
    _, _, token = rt.voice_store.create_offer(
        {"channel_id": CHANNEL, "expires_at": time.time() - 1}, digits=6, ttl_s=60
    )
    assert client.post("/call/token", json={"c": token}).status_code == 410
    assert client.post("/call/token", json={"c": "guessed-token"}).status_code == 410


def test_anonymous_web_calls_reach_the_menu_within_limits(make_rt, sb):
    rt = make_rt(twilio={"anonymous_calls_per_minute": 2})
    client = web(rt)
    identities = [client.post("/call/token", json={}).json["identity"] for _ in range(2)]
    assert all(i.startswith("anon-") for i in identities)
    assert client.post("/call/token", json={}).status_code == 429
    root = twiml(twilio_post(client, "/twilio/voice", call(new_sid(), f"client:{identities[0]}", To="")))
    assert root.find("Gather/Say").text == JA["voice_menu_code_only"]


def test_web_calls_are_limited_per_address(make_rt, sb):
    rt = make_rt(twilio={"web_calls_per_ip_per_hour": 3})
    client = web(rt)
    codes = [client.post("/call/token", json={"c": "x"}).status_code for _ in range(4)]
    assert codes == [410, 410, 410, 429]


# --------------------------------------------------------------------------- 「LINEで案内」


def test_the_operators_line_guide_sends_to_the_matched_friend_and_records_the_result(rt, sb):
    linked = linked_friend(sb, rt, CUSTOMER, "090-1234-5678")
    case = sb.salesforce.insert("Case", {"Subject": "電話", "Status": "New", "ContactId": linked["contact_id"]})
    env = {
        "type": "call.line_guide",
        "id": "g:1",
        "sentAt": None,
        "data": {"caseId": case, "contactId": linked["contact_id"], "phone": "090-1234-5678", "userId": "005x"},
    }
    assert voice_jobs.callout(rt.vault.seal_json(env)) == V.RESULT_LINE_SENT
    assert voice_jobs.callout(rt.vault.seal_json(env)) == V.RESULT_LINE_SENT  # a retried job
    assert len(line_pushes(sb, CUSTOMER)) == 1
    (task,) = tasks(sb)
    assert task["LINE_Guide_Result__c"] == "LINE Sent" and task["WhatId"] == case and task["Status"] == "Completed"
    # the key LineVoiceController.guideKey polls: "guide:g-" + the first 24 hex of SHA-256(envelope id)
    assert task["LINE_Call_Sid__c"] == "guide:g-" + hashlib.sha256(b"g:1").hexdigest()[:24]


def test_the_line_guide_of_an_unknown_number_says_so(rt, sb):
    env = {"type": "call.line_guide", "id": "g:2", "sentAt": None, "data": {"phone": "03-1234-5678"}}
    assert voice_jobs.callout(rt.vault.seal_json(env)) == V.RESULT_UNMATCHED
    assert sb.line.delivered() == []
