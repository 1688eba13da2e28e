"""Voice through the real processes: the Twilio sandbox calls the gunicorn web process, the worker
writes Salesforce; status callbacks shuffled and repeated, then replayed after a relay restart."""

from __future__ import annotations

import time

import pytest
import requests

from connector.local import demo_voice
from connector.local.devstack import LocalStack
from connector.local.sandbox.twilio import twilio_signature
from connector.local.sandbox.twilio_voice import Answer
from tests.integration.conftest import STACK_REDIS_URL


@pytest.fixture(scope="module")
def stack():
    s = demo_voice.configure(LocalStack(redis_url=STACK_REDIS_URL))
    try:
        s.start()
        demo_voice.console_settings(s)
        yield s
    finally:
        s.stop()


def completed_task(stack, sid):
    sf = stack.sandbox.salesforce
    return stack.wait_until(
        lambda: next((t for t in sf.find("Task", LINE_Call_Sid__c=sid) if t.get("Status") == "Completed"), None),
        timeout=30,
        what=f"the Task of {sid}",
    )


@pytest.mark.slow
def test_calls_with_disordered_callbacks_end_in_one_task_each_even_when_replayed_after_a_restart(stack):
    sim, sf = stack.sandbox.twilio.voice, stack.sandbox.salesforce
    calls = [
        sim.incoming_call(
            f"+8190{i:08d}",
            demo_voice.SUPPORT,
            digits=[None],
            answers={},
            shuffle=True,
            duplicate=True,
            seed=i,
        )
        for i in range(5)
    ]
    for call in calls:
        task = completed_task(stack, call.sid)
        assert task["CallDisposition"] == "completed" and task["CallDurationInSeconds"] == call.duration
    assert len(sf.records("Task")) == len(calls)

    web = stack.procs[0]
    web.terminate()
    web.wait(10)
    stack.procs.remove(web)
    stack.start_web()  # a new relay process: nothing of the first one's memory survives
    api_calls = sf.api_calls
    for call in calls:
        for cb in call.callbacks:
            sig = twilio_signature(stack.env["TWILIO_AUTH_TOKEN"], cb["url"], cb["params"])
            resp = requests.post(cb["url"], data=cb["params"], headers={"X-Twilio-Signature": sig}, timeout=5)
            assert resp.status_code == 200
    time.sleep(2)  # let any (wrongly) queued job run
    assert len(sf.records("Task")) == len(calls) and sf.api_calls == api_calls


@pytest.mark.slow
def test_a_guessed_code_dials_nobody_and_the_call_is_still_recorded(stack):
    sim = stack.sandbox.twilio.voice
    call = sim.incoming_call("+819012340000", demo_voice.SUPPORT, digits=["2", "000000", None], answers={"x": Answer()})
    task = completed_task(stack, call.sid)
    assert call.legs == [] and task["CallDisposition"] == "completed"
    assert "コードが正しくないか、有効期限が切れています。" in call.heard
