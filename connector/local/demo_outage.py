"""`make demo`, Salesforce outage: Salesforce answers 503 while a customer asks the bot two
questions, then comes back. The bot answers both at once on LINE; the records wait in Redis (writes
paused for every worker) and land, in order and once, when a probe finds Salesforce back.
Nothing is dead-lettered. The dev stack compresses the pause (first 1 s, at most 8 s).
"""

from __future__ import annotations

import time

USER = "U0a7e5d1c9b" + "2" * 22
QUESTIONS = ["ポイントの有効期限はいつまでですか", "返品したいのですが、どうすればいいですか"]


def outage_steps(stack, step) -> dict[str, bool]:
    """Run the scenario on channel 2 (its bot is set up by demo_bot); returns the checks."""
    from connector.runtime import Runtime

    line, sf = stack.sandbox.line, stack.sandbox.salesforce
    channel = stack.channels[1].channel_id
    rt = Runtime(stack.load_config())

    def written() -> bool:  # the first write of a new friend creates its LINE_Friend__c
        return any(f.get("LINE_User_Id__c") == USER for f in sf.records("LINE_Friend__c"))

    step("Salesforce goes down (the sandbox answers 503); a customer asks the bot")
    fault = stack.sandbox.faults.add("salesforce", "status", status=503, path=r"^/services/data/")
    t_down = time.time()
    for text in QUESTIONS:
        before = len(line.delivered(user_id=USER))
        ev = line.send_user_message(channel, USER, {"type": "text", "text": text}, display_name="佐藤 一郎")
        print(f"  customer → LINE: 「{text}」   (webhook answered {ev['status']})")
        delivered = stack.wait_until(
            lambda before=before: len(line.delivered(user_id=USER)) > before and line.delivered(user_id=USER),
            what="the bot's answer",
        )
        first = (delivered[-1]["messages"] or [{}])[0]
        said = " ".join((first.get("text") or first.get("altText") or "").split())[:40]
        print(f"  LINE → customer after {time.time() - t_down:.1f} s: 「{said}」")
    answered_while_down = len(line.delivered(user_id=USER)) == len(QUESTIONS)
    paused = stack.wait_until(rt.store.outage, timeout=20, what="the pause")
    print(
        f"  relay: Salesforce writes paused for every worker ({paused['code']}); "
        f"{rt.store.backlog()['events']} event(s) wait in Redis; written to Salesforce yet: {written()}"
    )
    none_while_down = not written()

    step("Salesforce is back: a probe (GET /limits) lifts the pause; the records land in order")
    stack.sandbox.faults.remove(fault)
    t_up = time.time()
    stack.wait_until(lambda: rt.store.outage() is None, timeout=30, what="the probe to lift the pause")
    print(f"  pause lifted {time.time() - t_up:.1f} s after Salesforce came back (probes back off up to 8 s)")
    records = stack.wait_until(
        lambda: (
            (rows := [m for m in sf.records("LINE_Chat_Message__c") if m.get("Chat_Session__c") == _session(sf)])
            and len(rows) >= 2 * len(QUESTIONS)
            and rows
        ),
        timeout=30,
        what="the records",
    )
    records = sorted(records, key=lambda m: (m["CreatedDate"], m["Id"]))
    for m in records:
        text = " ".join((m.get("Text__c") or "").split())[:40]
        print(f"  {m['Direction__c']:8} {m.get('Delivery_Status__c') or '':9} 「{text}」")
    inbound = [m["Text__c"] for m in records if m["Direction__c"] == "Inbound"]
    return {
        "the bot answered on LINE while Salesforce was down": answered_while_down,
        "no record was written while it was down": none_while_down,
        "the records landed in order once it was back": inbound == QUESTIONS,
        "each answer recorded as sent, and sent once": len(line.delivered(user_id=USER)) == len(QUESTIONS)
        and all(m.get("Delivery_Status__c") == "Sent" for m in records if m["Direction__c"] == "Bot"),
        "nothing dead-lettered": rt.store.dead_letters() == [],
    }


def _session(sf) -> str | None:
    friend = [f for f in sf.records("LINE_Friend__c") if f.get("LINE_User_Id__c") == USER]
    sessions = [s for s in sf.records("LINE_Chat_Session__c") if friend and s.get("Friend__c") == friend[0]["Id"]]
    return sessions[0]["Id"] if sessions else None
