"""An admin changes custom metadata records in the (sandbox) org and the bot behaves accordingly,
without a restart; an invalid record keeps the last good settings and is reported (issue 22).

The sandbox org loads the records shipped in sfdc_metadata/ (today's defaults); a test edits them
as an admin would in Setup, runs the sync job in-process and sends the next LINE message through
the same Runtime the whole time.
"""

from __future__ import annotations

import logging

import pytest

from connector.config import load_config
from connector.entrypoints.app import create_app
from connector.jobs import knowledge, settings_sync
from connector.jobs.inbound import Drainer
from connector.runtime import Runtime, set_runtime
from tests import stack
from tests.jobs import test_knowledge_sync as kb
from tests.jobs.operator_fixtures import CALLOUT_SECRET, CHANNEL, CHANNEL_SECRET, op_sandbox, sign_like_apex  # noqa: F401

ALWAYS_OPEN = {"weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
DAYS = ("Monday__c", "Tuesday__c", "Wednesday__c", "Thursday__c", "Friday__c", "Saturday__c", "Sunday__c")


@pytest.fixture
def sb(op_sandbox, redis_url):
    op_sandbox.reset()  # the records as shipped
    return op_sandbox


def runtime(sb, redis_url, *, bot: dict) -> Runtime:
    environ = stack.relay_environ(redis_url, CHANNEL_SECRET, CONNECTOR_CALLOUT_SECRETS=CALLOUT_SECRET)
    data = {
        "line": stack.line_settings(sb, stack.channel_settings(bot=bot)),
        "salesforce": stack.salesforce_settings(sb),
        "settings_sync": {"enabled": True},
    }
    return Runtime(load_config(data=data, environ=environ))


def admin_edits(sb, type_name: str, developer_name: str, **values) -> None:
    """What an admin saves in Setup > Custom Metadata Types."""
    [record] = sb.salesforce.find(type_name, DeveloperName=developer_name)
    sb.salesforce.update(type_name, record["Id"], values)


def ask(rt, sb, user: str, text: str) -> str:
    sb.line.add_user(CHANNEL, user, "テスト 太郎")
    event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
    stack.store_event(rt, event)
    Drainer(rt).run()
    return sb.line.delivered(user_id=user)[-1]["messages"][0]["text"]


def fresh_config_reaches(rt) -> None:
    """Processes look for synced settings every SYNCED_CHECK_S; a test does not wait for it."""
    rt._synced_checked_at = 0.0


def test_closing_the_desk_in_salesforce_makes_the_bot_say_when_people_are_back(sb, redis_url):
    kb.seed_all(sb)
    admin_edits(sb, "LINE_Business_Hours__mdt", "Default", **dict.fromkeys(DAYS, "00:00-24:00"))
    admin_edits(sb, "LINE_Business_Hours__mdt", "Default", Japanese_Holidays__c=False)
    admin_edits(sb, "LINE_Channel_Setting__mdt", "main", Bot_Enabled__c=True)  # the shipped record has it off
    rt = runtime(sb, redis_url, bot={"enabled": False})
    knowledge.run_sync(rt)
    assert settings_sync.sync(rt)["ok"]
    fresh_config_reaches(rt)
    open_answer = ask(rt, sb, "U" + "1" * 32, "オペレーターと話したい")
    assert "未定" not in open_answer

    admin_edits(sb, "LINE_Business_Hours__mdt", "Default", **dict.fromkeys(DAYS))  # closed every day
    status = settings_sync.sync(rt)
    assert status["ok"] and status["applied"]
    fresh_config_reaches(rt)
    closed_answer = ask(rt, sb, "U" + "2" * 32, "オペレーターと話したい")
    assert "未定" in closed_answer  # no opening hours ahead: "we will answer, time to be decided"
    assert len([c for c in sb.salesforce.records("Case") if c["LINE_Follow_Up__c"]]) == 1  # kept for later


def test_a_text_an_admin_rewrites_is_what_the_next_customer_reads(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    assert (
        ask(rt, sb, "U" + "3" * 32, "返品したいです")
        == "お問い合わせありがとうございます。内容を確認し、順番にご返信いたします。"
    )

    admin_edits(sb, "LINE_Text__mdt", "ja_welcome", Text__c="ご連絡ありがとうございます。担当より折り返します。")
    settings_sync.sync(rt)
    fresh_config_reaches(rt)
    assert ask(rt, sb, "U" + "4" * 32, "返品したいです") == "ご連絡ありがとうございます。担当より折り返します。"


def test_an_invalid_record_keeps_the_last_good_settings_and_is_reported(sb, redis_url, caplog):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    admin_edits(sb, "LINE_Text__mdt", "ja_welcome", Text__c="いつもありがとうございます。")
    assert settings_sync.sync(rt)["ok"]

    admin_edits(sb, "LINE_Business_Hours__mdt", "Default", Monday__c="19:00-10:00")  # ends before it starts
    admin_edits(sb, "LINE_Text__mdt", "ja_welcome", Text__c="直した後に届く文です。")
    with caplog.at_level(logging.WARNING, logger="connector.jobs.settings_sync"):
        status = settings_sync.sync(rt)
    assert status["ok"] is False and not status["applied"]
    assert status["problems"] == [
        "LINE_Business_Hours__mdt.Default: weekly.mon: interval 19:00-10:00 ends before it starts; "
        "intervals may not cross midnight, split them at 24:00"
    ]
    assert "LINE_Business_Hours__mdt.Default: weekly.mon" in caplog.text

    fresh_config_reaches(rt)
    assert ask(rt, sb, "U" + "5" * 32, "返品したいです") == "いつもありがとうございます。"  # the last good text
    shown = create_app(rt.config).test_client().get("/metrics?format=json").get_json()["settings_sync"]
    set_runtime(None)
    assert shown["ok"] is False and shown["problems"] == status["problems"]

    # ... and on the Connector status records the admin reviews in Salesforce
    [summary] = sb.salesforce.find("LINE_Connector_Status__c", Status_Key__c="config:settings-sync")
    assert summary["Severity__c"] == "Error" and "weekly.mon" in summary["Message__c"]
    [record] = sb.salesforce.find("LINE_Connector_Status__c", Status_Key__c="config:LINE_Business_Hours__mdt.Default")
    assert record["Severity__c"] == "Error"

    admin_edits(sb, "LINE_Business_Hours__mdt", "Default", Monday__c="10:00-19:00")  # the admin fixes it
    assert settings_sync.sync(rt)["ok"]
    [record] = sb.salesforce.find("LINE_Connector_Status__c", Status_Key__c="config:LINE_Business_Hours__mdt.Default")
    [summary] = sb.salesforce.find("LINE_Connector_Status__c", Status_Key__c="config:settings-sync")
    assert record["Severity__c"] == "OK" and summary["Severity__c"] == "OK" and summary["Last_Good_At__c"]
    fresh_config_reaches(rt)
    assert ask(rt, sb, "U" + "6" * 32, "返品したいです") == "直した後に届く文です。"  # now the newest text is in force


def test_a_text_for_a_key_the_relay_does_not_know_is_reported_by_name(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    sb.salesforce.insert(
        "LINE_Text__mdt",
        {"DeveloperName": "ja_welcom", "Language__c": "ja", "Key__c": "welcom", "Text__c": "x", "Channel__c": None},
    )
    status = settings_sync.sync(rt)
    assert status["ok"] is False
    assert status["problems"] == ["LINE_Text__mdt.ja_welcom: Key__c: unknown key 'welcom'"]


def test_syncing_unchanged_records_twice_publishes_once(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    assert settings_sync.sync(rt)["applied"] is True
    assert settings_sync.sync(rt)["applied"] is False


def test_an_admins_signed_settings_changed_callout_queues_a_sync(sb, redis_url):
    app = create_app(runtime(sb, redis_url, bot={"enabled": False}).base_config)
    try:
        body, headers = sign_like_apex(CALLOUT_SECRET, "settings.changed", "save-1", {})
        assert app.test_client().post("/salesforce/callout", data=body, headers=headers).status_code == 202
        jobs = app.extensions["connector"].queue.jobs
        assert [j.func_name for j in jobs] == ["connector.jobs.settings_sync.run"]
    finally:
        set_runtime(None)  # create_app made its Runtime the process's


def test_an_admin_who_turns_the_bot_off_leaves_new_inquiries_to_people(sb, redis_url):
    kb.seed_all(sb)
    admin_edits(sb, "LINE_Channel_Setting__mdt", "main", Bot_Enabled__c=True)
    rt = runtime(sb, redis_url, bot={"enabled": False})
    knowledge.run_sync(rt)
    settings_sync.sync(rt)
    fresh_config_reaches(rt)
    welcome = "お問い合わせありがとうございます。内容を確認し、順番にご返信いたします。"
    assert ask(rt, sb, "U" + "7" * 32, "返品したいです") != welcome
    assert sb.line.loading  # the bot answered (LINE's loading animation while it looked)

    admin_edits(sb, "LINE_Channel_Setting__mdt", "main", Bot_Enabled__c=False)
    settings_sync.sync(rt)
    fresh_config_reaches(rt)
    assert ask(rt, sb, "U" + "8" * 32, "返品したいです") == welcome


def test_an_admins_default_routing_record_sets_how_many_chats_an_operator_takes(sb, redis_url):
    from connector.jobs.routing import routing_config

    rt = runtime(sb, redis_url, bot={"enabled": False})
    admin_edits(sb, "LINE_Routing_Setting__mdt", "Default", Default_Capacity__c=1, Close_Case_Status__c=None)
    assert settings_sync.sync(rt)["ok"]
    fresh_config_reaches(rt)
    assert routing_config(rt.settings).default_capacity == 1
    assert rt.settings.routing.close_case_status is None  # blank: closing a chat leaves the Case as it is


def test_an_admin_who_turns_the_survey_on_and_shortens_retention_changes_the_relay(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    assert rt.config.channel(CHANNEL).settings.survey.rules() is None  # the shipped record: off
    admin_edits(sb, "LINE_Survey_Setting__mdt", "Default", Enabled__c=True, Scale__c="Three_Point")
    admin_edits(sb, "LINE_Retention_Setting__mdt", "Identity_Images", Retention_Days__c=7)
    assert settings_sync.sync(rt)["ok"]
    fresh_config_reaches(rt)
    survey = rt.config.channel(CHANNEL).settings.survey
    assert survey.enabled and survey.scale == "three_point"
    assert rt.settings.retention.identity_image_days == 7


def test_a_process_that_cannot_reach_redis_keeps_the_settings_it_has(sb, redis_url, monkeypatch, caplog):
    from connector.storage import StorageError

    rt = runtime(sb, redis_url, bot={"enabled": False})
    admin_edits(sb, "LINE_Text__mdt", "ja_welcome", Text__c="いつもありがとうございます。")
    settings_sync.sync(rt)
    fresh_config_reaches(rt)
    assert rt.config.channel(CHANNEL).text("welcome") == "いつもありがとうございます。"

    def redis_down():
        raise StorageError("connection refused")

    monkeypatch.setattr(rt.store, "synced_settings_digest", redis_down)
    with caplog.at_level(logging.WARNING, logger="connector.runtime"):
        for _ in range(3):
            fresh_config_reaches(rt)
            assert rt.config.channel(CHANNEL).text("welcome") == "いつもありがとうございます。"
    assert caplog.text.count("synced settings unavailable") == 1  # said once, not every look


def through_the_webhook(rt, sb, user: str, text: str) -> None:
    """A customer's message as the web process takes it (it masks before anything is stored)."""
    import json

    from connector.web.line import signature_of

    app = create_app(rt.base_config)  # a web process of its own: it picks up the synced settings from Redis
    try:
        event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
        body = json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()
        headers = {"x-line-signature": signature_of(CHANNEL_SECRET, body), "Content-Type": "application/json"}
        assert app.test_client().post("/line/webhook", data=body, headers=headers).status_code == 200
    finally:
        set_runtime(None)
    Drainer(rt).run()


def inbound_texts(sb) -> list[str]:
    rows = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    return [m["Text__c"] for m in sorted(rows, key=lambda m: m["Id"])]


def test_a_redaction_rule_an_admin_adds_masks_the_next_message_before_it_is_stored(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    sb.salesforce.insert(
        "LINE_Redaction_Rule__mdt",
        {
            "DeveloperName": "order_number",
            "Active__c": True,
            "Pattern__c": r"ORD-\d{6}",
            "Action__c": "mask",
            "Replacement__c": None,
            "Sort_Order__c": 20,
        },
    )
    assert settings_sync.sync(rt)["ok"]
    fresh_config_reaches(rt)
    through_the_webhook(rt, sb, "U" + "a" * 32, "注文 ORD-123456 が届きません")
    assert inbound_texts(sb) == ["注文 ***-****** が届きません"]  # masked, separators kept


def test_a_redaction_rule_that_does_not_compile_is_reported_and_the_rules_in_force_stay(sb, redis_url):
    rt = runtime(sb, redis_url, bot={"enabled": False})
    admin_edits(sb, "LINE_Redaction_Rule__mdt", "member_number", Pattern__c="会員番号([unclosed")
    status = settings_sync.sync(rt)
    assert status["ok"] is False
    [problem] = status["problems"]
    assert problem.startswith("LINE_Redaction_Rule__mdt.member_number: ")
    fresh_config_reaches(rt)
    through_the_webhook(rt, sb, "U" + "b" * 32, "会員番号 12345678 です")
    assert inbound_texts(sb) == ["会員番号 12345678 です"]  # the YAML's rules (none here) stay in force
