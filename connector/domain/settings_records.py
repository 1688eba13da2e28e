"""What admins decide in Salesforce custom metadata, as overrides of the relay's configuration.

The settings sync (jobs/settings_sync.py) reads the records of LINE_Business_Hours__mdt,
LINE_Holiday__mdt, LINE_Channel_Setting__mdt, LINE_Text__mdt, LINE_Routing_Setting__mdt,
LINE_Redaction_Rule__mdt, LINE_Survey_Setting__mdt and LINE_Retention_Setting__mdt; this module
turns them into the YAML's shape (per channel name: `line.channels[].bot` - switches, thresholds
and business hours -, `reply_in_groups`, `texts`, `survey`; for all: `routing`, `salesforce.case`,
`redaction.rules`, `retention`), so that the very validators the YAML goes through judge them
(config.parse_settings).

- A channel's record is the LINE_Channel_Setting whose Channel_Id__c is the channel's id, else the
  one whose DeveloperName is the channel's name. Its Business_Hours__c names the opening hours
  (blank, or no record for the channel: the record named Default). Hours with no record at all
  leave the YAML's.
- A weekday field holds intervals `HH:MM-HH:MM` separated by commas; blank is closed. Holidays
  (LINE_Holiday__mdt) of those hours are closures, a day or an inclusive range.
- Texts: the records of the channel's language; one whose Channel__c names the channel wins over
  one for every channel. Keys the relay does not know are left to the validators, which name them.

A relationship field (MetadataRelationship) reads as the related record's Id in an org, and as its
DeveloperName in the sfdx source (what the sandbox loads): both are resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUSINESS_HOURS = "LINE_Business_Hours__mdt"
HOLIDAY = "LINE_Holiday__mdt"
CHANNEL_SETTING = "LINE_Channel_Setting__mdt"
TEXT = "LINE_Text__mdt"
ROUTING = "LINE_Routing_Setting__mdt"
REDACTION_RULE = "LINE_Redaction_Rule__mdt"
SURVEY = "LINE_Survey_Setting__mdt"
RETENTION = "LINE_Retention_Setting__mdt"
TYPES = (BUSINESS_HOURS, HOLIDAY, CHANNEL_SETTING, TEXT, ROUTING, REDACTION_RULE, SURVEY, RETENTION)

# LINE_Survey_Setting__mdt field -> line.channels[].survey key. A channel's survey is the record
# named like the channel, else the one named Default.
_SURVEY_FIELDS = {
    "Enabled__c": "enabled",
    "Scale__c": "scale",
    "Window_Hours__c": "window_hours",
    "Ask_Comment__c": "ask_comment",
    "Unsatisfied_At_Or_Below__c": "unsatisfied_at_or_below",
}

# LINE_Routing_Setting__mdt field -> (section path, key). The relay routes all channels alike, so
# the record named Default is read; a blank Close_Case_Status__c leaves the Case as it is.
_ROUTING_FIELDS = {
    "Default_Capacity__c": (("routing",), "default_capacity"),
    "Entitled_Priority__c": (("routing",), "entitled_priority"),
    "Avg_Handle_Time_Seconds__c": (("routing",), "avg_handle_time_seconds"),
    "Notice_Position_Step__c": (("routing",), "notice_position_step"),
    "Notice_Wait_Change_Seconds__c": (("routing",), "notice_wait_change_seconds"),
    "Notice_Min_Interval_Seconds__c": (("routing",), "notice_min_interval_seconds"),
    "Notify_Assignment__c": (("routing",), "notify_assignment"),
    "Close_Case_Status__c": (("routing",), "close_case_status"),
    "Case_Reopen_Window_Minutes__c": (("salesforce", "case"), "reopen_window_minutes"),
    "Case_Subject_Max_Chars__c": (("salesforce", "case"), "subject_max_chars"),
}

_WEEKDAYS = (
    ("mon", "Monday__c"),
    ("tue", "Tuesday__c"),
    ("wed", "Wednesday__c"),
    ("thu", "Thursday__c"),
    ("fri", "Friday__c"),
    ("sat", "Saturday__c"),
    ("sun", "Sunday__c"),
)


# LINE_Channel_Setting__mdt field -> line.channels[].bot key (blank thresholds: the model's own)
_BOT_FIELDS = {
    "Bot_Enabled__c": "enabled",
    "Bot_Only__c": "bot_only",
    "Answer_Threshold__c": "answer_threshold",
    "Clarify_Threshold__c": "clarify_threshold",
    "Max_Unsuccessful__c": "max_unsuccessful",
    "Unsolved_Hands_Off__c": "unsolved_hands_off",
    "Article_URL_Template__c": "article_url_template",
    "Max_Answer_Chars__c": "max_answer_chars",
    "Related_Articles__c": "related_articles",
    "Loading_Seconds__c": "loading_seconds",
}
_NULLABLE = {"answer_threshold", "clarify_threshold", "article_url_template"}


def _number(value):
    """Salesforce numbers arrive as floats: 2.0 is the integer setting 2."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _bot(own: dict) -> dict:
    bot = {}
    for field, key in _BOT_FIELDS.items():
        if field in own and (own[field] is not None or key in _NULLABLE):
            bot[key] = _number(own[field])
    return bot


def _ref(records: list[dict], value: str | None) -> dict | None:
    """The record a relationship field names (by Id or DeveloperName)."""
    if not value:
        return None
    return next((r for r in records if value in (r.get("Id"), r.get("DeveloperName"))), None)


def _hours(record: dict, holidays: list[dict], all_hours: list[dict]) -> dict:
    weekly = {}
    for day, field in _WEEKDAYS:
        raw = record.get(field)
        if raw and str(raw).strip():
            weekly[day] = [part.strip() for part in str(raw).split(",") if part.strip()]
    closures = []
    for h in holidays:
        if _ref(all_hours, h.get("Business_Hours__c")) is not record:
            continue
        start, end = h.get("Start_Date__c"), h.get("End_Date__c")
        if start:
            closures.append(f"{start}..{end}" if end and end != start else str(start))
    hours: dict[str, Any] = {"weekly": weekly, "closures": closures}
    if record.get("Time_Zone__c"):
        hours["timezone"] = record["Time_Zone__c"]
    if record.get("Japanese_Holidays__c") is not None:
        hours["japanese_holidays"] = bool(record["Japanese_Holidays__c"])
    return hours


def channel_overrides(records: Mapping[str, list[dict]], channels: list[dict]) -> dict[str, dict]:
    """{channel name: {"bot": {"business_hours": ...}, "texts": {...}}} from the records.

    `channels` are the YAML's channel entries (id, name, language)."""
    all_hours = records.get(BUSINESS_HOURS, [])
    holidays = records.get(HOLIDAY, [])
    settings = records.get(CHANNEL_SETTING, [])
    texts = records.get(TEXT, [])
    out: dict[str, dict] = {}
    for ch in channels:
        own = next((s for s in settings if s.get("Channel_Id__c") == ch["id"]), None) or next(
            (s for s in settings if s.get("DeveloperName") == ch["name"]), None
        )
        override: dict[str, Any] = {}
        bot = _bot(own) if own else {}
        if own and own.get("Reply_In_Groups__c") is not None:
            override["reply_in_groups"] = bool(own["Reply_In_Groups__c"])
        hours = _ref(all_hours, (own or {}).get("Business_Hours__c")) or _ref(all_hours, "Default")
        if hours is not None:
            bot["business_hours"] = _hours(hours, holidays, all_hours)
        if bot:
            override["bot"] = bot
        language = ch.get("language", "ja")
        chosen: dict[str, str] = {}
        for t in sorted(texts, key=lambda t: bool(t.get("Channel__c"))):  # channel's own last: they win
            if t.get("Language__c") != language or not t.get("Key__c") or t.get("Text__c") is None:
                continue
            target = t.get("Channel__c")
            if target and (own is None or _ref(settings, target) is not own):
                continue
            chosen[t["Key__c"]] = t["Text__c"]
        if chosen:
            override["texts"] = chosen
        survey = _survey(records.get(SURVEY, []), ch["name"])
        if survey:
            override["survey"] = survey
        if override:
            out[ch["name"]] = override
    return out


def _survey(records: list[dict], channel_name: str) -> dict:
    record = next((r for r in records if r.get("DeveloperName") == channel_name), None) or next(
        (r for r in records if r.get("DeveloperName") == "Default"), None
    )
    survey: dict[str, Any] = {}
    for field, key in _SURVEY_FIELDS.items():
        value = (record or {}).get(field)
        if value is not None:
            survey[key] = str(value).lower() if key == "scale" else _number(value)
    return survey


def _retention(records: Mapping[str, list[dict]], channels: list[dict]) -> dict:
    """Identity-image retention from the active LINE_Retention_Setting records of that class: the
    one without a channel for every channel, one naming a channel setting for that channel."""
    settings = records.get(CHANNEL_SETTING, [])
    ids = {ch["name"]: ch["id"] for ch in channels}
    out: dict[str, Any] = {}
    by_channel: dict[str, Any] = {}
    for r in records.get(RETENTION, []):
        if not r.get("Active__c") or r.get("Data_Class__c") != "Identity_Image" or r.get("Retention_Days__c") is None:
            continue
        days = _number(r["Retention_Days__c"])
        if not r.get("Channel__c"):
            out["identity_image_days"] = days
            continue
        setting = _ref(settings, r["Channel__c"]) or {}
        channel_id = setting.get("Channel_Id__c") or ids.get(setting.get("DeveloperName"))
        # a record naming no channel the relay serves is kept (by its value) so that it is reported
        by_channel[str(channel_id or r["Channel__c"])] = days
    if by_channel:
        out["identity_image_days_by_channel"] = by_channel
    return out


def _rule(record: dict) -> dict:
    return {
        "name": record.get("DeveloperName"),
        "pattern": record.get("Pattern__c"),
        "action": record.get("Action__c") or "mask",
        "replacement": record.get("Replacement__c"),
    }


def _active_rules(records: Mapping[str, list[dict]]) -> list[dict]:
    active = [r for r in records.get(REDACTION_RULE, []) if r.get("Active__c")]
    return sorted(active, key=lambda r: (r.get("Sort_Order__c") or 0, r.get("DeveloperName") or ""))


def section_overrides(records: Mapping[str, list[dict]], channels: list[dict] | None = None) -> dict:
    """Routing and Case settings from the LINE_Routing_Setting record named Default, and the active
    LINE_Redaction_Rule records (in Sort_Order__c; when there are records at all, they replace the
    YAML's `redaction.rules`), in the YAML's shape."""
    default = next((r for r in records.get(ROUTING, []) if r.get("DeveloperName") == "Default"), None)
    out: dict[str, Any] = {}
    for field, (path, key) in _ROUTING_FIELDS.items():
        if default is None or field not in default:
            continue
        value = default[field]
        if value is None and key != "close_case_status":
            continue
        section = out
        for part in path:
            section = section.setdefault(part, {})
        section[key] = _number(value) if value is not None else None
    if records.get(REDACTION_RULE):
        out["redaction"] = {"rules": [_rule(r) for r in _active_rules(records)]}
    retention = _retention(records, channels or [])
    if retention:
        out["retention"] = retention
    return out


def overrides_of(records: Mapping[str, list[dict]], channels: list[dict]) -> dict:
    """Everything the records override: {"channels": {name: ...}, "sections": {...}}."""
    return {"channels": channel_overrides(records, channels), "sections": section_overrides(records, channels)}


def _deep_merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _deep_merge(out.get(k) or {}, v) if isinstance(v, Mapping) else v
    return out


def apply(data: dict, overrides: Mapping[str, dict]) -> dict:
    """The configuration `data` (the YAML's shape) with the records' overrides (`overrides_of`) laid over it."""
    data = _deep_merge(data, overrides.get("sections", {}))
    by_channel = overrides.get("channels", {})
    channels = []
    for ch in data["line"]["channels"]:
        o = by_channel.get(ch["name"])
        if o:
            merged = {**ch, **o, "texts": {**(ch.get("texts") or {}), **o.get("texts", {})}}
            if "bot" in o:
                merged["bot"] = {**(ch.get("bot") or {}), **o["bot"]}
            ch = merged
        channels.append(ch)
    return {**data, "line": {**data["line"], "channels": channels}}


def record_problems(records: Mapping[str, list[dict]], known_text_keys: set[str]) -> list[str]:
    """One line per record the relay cannot use, naming the record (for the admin) and the field."""
    from connector.domain.business_hours import BusinessHours

    problems = []
    all_hours = records.get(BUSINESS_HOURS, [])
    for r in all_hours:
        try:
            BusinessHours.from_config(_hours(r, records.get(HOLIDAY, []), all_hours))
        except ValueError as exc:
            problems.append(f"{BUSINESS_HOURS}.{r.get('DeveloperName')}: {exc}")
    from connector.domain.redaction import rules_from_config

    for r in _active_rules(records):
        try:
            rules_from_config([_rule(r)])
        except ValueError as exc:
            problems.append(f"{REDACTION_RULE}.{r.get('DeveloperName')}: {exc.__cause__ or exc}")
    for t in records.get(TEXT, []):
        if t.get("Key__c") not in known_text_keys:
            problems.append(f"{TEXT}.{t.get('DeveloperName')}: Key__c: unknown key {t.get('Key__c')!r}")
    return problems


def status_records(problems: list[str], earlier: list[str], *, at: str, version: str) -> list[tuple[str, dict]]:
    """LINE_Connector_Status__c rows (Status_Key__c, fields) for a sync: one for the sync, one per
    record with a problem, and an OK for each record whose problem of the sync before is gone."""
    ok = not problems
    rows = [
        (
            "config:settings-sync",
            {
                "Severity__c": "OK" if ok else "Error",
                "Source__c": "LINE_* custom metadata",
                "Message__c": "The settings are in force."
                if ok
                else "The settings were not applied; the last good ones stay in force:\n" + "\n".join(problems),
                "Checked_At__c": at,
                **({"Last_Good_At__c": at} if ok else {}),
            },
        )
    ]
    sources = {}
    for p in problems:
        sources.setdefault(p.split(": ", 1)[0], []).append(p.split(": ", 1)[-1])
    for source, messages in sources.items():
        rows.append(
            (f"config:{source}", {"Severity__c": "Error", "Source__c": source, "Message__c": "\n".join(messages)})
        )
    for p in earlier:
        source = p.split(": ", 1)[0]
        if source not in sources and f"config:{source}" not in {k for k, _ in rows}:
            rows.append((f"config:{source}", {"Severity__c": "OK", "Source__c": source, "Message__c": "Fixed."}))
    for _, fields in rows:
        fields.update({"Component__c": "settings sync", "Relay_Version__c": version, "Checked_At__c": at})
        fields["Source__c"] = fields["Source__c"][:255]
    return rows
