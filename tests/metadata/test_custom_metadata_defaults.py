"""The custom metadata records shipped in sfdc_metadata/ hold today's relay defaults, and the
machine-readable list of types and fields in docs/salesforce.md matches the metadata."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from connector.config import BotSettings, CaseSettings, ChannelSettings, RoutingSettings, parse_settings
from connector.domain.business_hours import BusinessHours
from connector.i18n import DEFAULT_TEXTS

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "sfdc_metadata/force-app/main/default"
MD = "{http://soap.sforce.com/2006/04/metadata}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
EXAMPLE = yaml.safe_load((REPO / "config.example.yaml").read_text(encoding="utf-8"))
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def record(type_short: str, name: str) -> dict[str, object]:
    """A CustomMetadata record as {field: Python value}; nil is None, numbers are int or float."""
    root = ET.parse(DEFAULT / "customMetadata" / f"{type_short}.{name}.md-meta.xml").getroot()
    values: dict[str, object] = {}
    for v in root.findall(f"{MD}values"):
        node = v.find(f"{MD}value")
        kind = node.get(f"{XSI}type")
        text = node.text
        if node.get(f"{XSI}nil") == "true":
            values[v.find(f"{MD}field").text] = None
        elif kind == "xsd:boolean":
            values[v.find(f"{MD}field").text] = text == "true"
        elif kind == "xsd:double":
            number = float(text)
            values[v.find(f"{MD}field").text] = int(number) if number.is_integer() else number
        else:
            values[v.find(f"{MD}field").text] = text
    return values


def records(type_short: str) -> dict[str, dict[str, object]]:
    return {
        p.name.split(".")[1]: record(type_short, p.name.split(".")[1])
        for p in (DEFAULT / "customMetadata").glob(f"{type_short}.*.md-meta.xml")
    }


def test_texts_are_the_relay_defaults_in_both_languages() -> None:
    texts = records("LINE_Text")
    shipped = {(r["Language__c"], r["Key__c"]): r["Text__c"] for r in texts.values() if r["Channel__c"] is None}
    expected = {(lang, key): text for lang, table in DEFAULT_TEXTS.items() for key, text in table.items()}
    assert shipped == expected
    picklist = ET.parse(DEFAULT / "objects/LINE_Text__mdt/fields/Key__c.field-meta.xml").getroot()
    keys = [v.text for v in picklist.iter(f"{MD}fullName")][1:]
    assert keys == list(DEFAULT_TEXTS["ja"])


def test_channel_record_has_the_bot_and_channel_defaults() -> None:
    main = record("LINE_Channel_Setting", "main")
    bot, example = BotSettings(), EXAMPLE["line"]["channels"][0]
    channel = ChannelSettings(id=example["id"], name=example["name"], secret_env="X", access_token_env="Y")
    assert main["Channel_Id__c"] == example["id"]
    assert main["Language__c"] == channel.language
    assert main["Reply_In_Groups__c"] is channel.reply_in_groups
    assert main["Bot_Enabled__c"] is bot.enabled
    assert main["Bot_Only__c"] is bot.bot_only
    assert main["Answer_Threshold__c"] is bot.answer_threshold is None
    assert main["Clarify_Threshold__c"] is bot.clarify_threshold is None
    assert main["Max_Unsuccessful__c"] == bot.max_unsuccessful
    assert main["Unsolved_Hands_Off__c"] is bot.unsolved_hands_off
    assert main["Article_URL_Template__c"] is bot.article_url_template is None
    assert main["Max_Answer_Chars__c"] == bot.max_answer_chars
    assert main["Related_Articles__c"] == bot.related_articles
    assert main["Loading_Seconds__c"] == bot.loading_seconds
    assert main["Knowledge_Language__c"] is None
    assert (main["Business_Hours__c"], main["Routing_Setting__c"], main["Survey_Setting__c"]) == ("Default",) * 3


def test_routing_record_has_the_relay_defaults() -> None:
    default, routing, case = record("LINE_Routing_Setting", "Default"), RoutingSettings(), CaseSettings()
    assert default == {
        "Default_Capacity__c": routing.default_capacity,
        "Entitled_Priority__c": routing.entitled_priority,
        "Avg_Handle_Time_Seconds__c": routing.avg_handle_time_seconds,
        "Notice_Position_Step__c": routing.notice_position_step,
        "Notice_Wait_Change_Seconds__c": routing.notice_wait_change_seconds,
        "Notice_Min_Interval_Seconds__c": routing.notice_min_interval_seconds,
        "Notify_Assignment__c": routing.notify_assignment,
        "Close_Case_Status__c": routing.close_case_status,
        "Case_Reopen_Window_Minutes__c": case.reopen_window_minutes,
        "Case_Subject_Max_Chars__c": case.subject_max_chars,
        "Queue_Relief_Max_Wait_Minutes__c": BotSettings().queue_relief_max_wait_minutes,
        "Operator_Chat_For__c": {"everyone": "Everyone", "entitled_only": "Entitled_Only"}[
            BotSettings().operator_chat_for
        ],
    }


def business_hours_from_records(name: str) -> BusinessHours:
    """What a sync would build from a LINE_Business_Hours__mdt record and its LINE_Holiday__mdt."""
    hours = record("LINE_Business_Hours", name)
    weekly = {
        day[:3].lower(): [part.strip() for part in hours[f"{day}__c"].split(",")] for day in DAYS if hours[f"{day}__c"]
    }
    closures = []
    for holiday in records("LINE_Holiday").values():
        if holiday["Business_Hours__c"] == name:
            closures.append(
                holiday["Start_Date__c"]
                if not holiday["End_Date__c"]
                else f"{holiday['Start_Date__c']}..{holiday['End_Date__c']}"
            )
    return BusinessHours.from_config(
        {
            "timezone": hours["Time_Zone__c"],
            "weekly": weekly,
            "japanese_holidays": hours["Japanese_Holidays__c"],
            "closures": closures,
        }
    )


def test_business_hours_and_holidays_are_the_example_configuration() -> None:
    example = EXAMPLE["line"]["channels"][0]["bot"]["business_hours"]
    assert business_hours_from_records("Default") == BusinessHours.from_config(example)
    # ... which is the relay's default week plus the example's year-end closure.
    assert business_hours_from_records("Default").weekly == BusinessHours.from_config({}).weekly


def test_redaction_rules_are_the_example_rules_and_compile() -> None:
    rules = sorted(records("LINE_Redaction_Rule").values(), key=lambda r: r["Sort_Order__c"])
    settings = parse_settings(EXAMPLE).redaction.rules
    assert [(r["Pattern__c"], r["Action__c"], r["Replacement__c"]) for r in rules] == [
        (s.pattern, s.action, s.replacement) for s in settings
    ]
    for rule in rules:
        assert re.search(rule["Pattern__c"], "会員番号: 12345678")


def test_survey_record_has_the_relay_defaults() -> None:
    from connector.config import SurveySettings

    default, survey = record("LINE_Survey_Setting", "Default"), SurveySettings()
    assert default == {
        "Enabled__c": survey.enabled,
        "Scale__c": {"five_point": "Five_Point", "three_point": "Three_Point"}[survey.scale],
        "Window_Hours__c": survey.window_hours,
        "Ask_Comment__c": survey.ask_comment,
        "Unsatisfied_At_Or_Below__c": survey.unsatisfied_at_or_below,
    }


def test_what_is_not_built_yet_ships_switched_off() -> None:
    assert record("LINE_Survey_Setting", "Default")["Enabled__c"] is False


def test_identity_image_retention_ships_as_the_relay_default() -> None:
    shipped = record("LINE_Retention_Setting", "Identity_Images")
    assert shipped["Active__c"] is True and shipped["Channel__c"] is None
    assert shipped["Retention_Days__c"] == EXAMPLE["retention"]["identity_image_days"] == 30


# --------------------------------------------------------------------------- docs/salesforce.md
def documented_types() -> dict[str, dict[str, str]]:
    doc = (REPO / "docs/salesforce.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- custom-metadata-map -->\s*```yaml\n(.*?)```", doc, re.S)
    assert block, "docs/salesforce.md has no custom-metadata-map yaml block"
    return yaml.safe_load(block.group(1))


@pytest.mark.parametrize(
    "type_dir", sorted(p.name for p in (DEFAULT / "objects").glob("*__mdt")) + ["LINE_Connector_Status__c"]
)
def test_the_documented_map_lists_every_field(type_dir: str) -> None:
    documented = documented_types()
    assert type_dir in documented, f"{type_dir} is missing from the map in docs/salesforce.md"
    fields = {p.name.split(".")[0] for p in (DEFAULT / "objects" / type_dir / "fields").glob("*.field-meta.xml")}
    assert set(documented[type_dir]["fields"]) == fields
