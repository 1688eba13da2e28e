"""Custom metadata records as overrides of the YAML (domain/settings_records.py)."""

from __future__ import annotations

from datetime import date

from connector.domain.business_hours import BusinessHours
from connector.domain.settings_records import apply, channel_overrides, overrides_of

CHANNELS = [{"id": "111", "name": "main", "language": "ja"}, {"id": "222", "name": "shop", "language": "ja"}]


def hours(name: str, rid: str, **days) -> dict:
    return {"Id": rid, "DeveloperName": name, "Time_Zone__c": "Asia/Tokyo", "Japanese_Holidays__c": False, **days}


def test_a_channels_own_text_wins_over_the_text_for_every_channel():
    records = {
        "LINE_Channel_Setting__mdt": [{"Id": "m00A", "DeveloperName": "shop", "Channel_Id__c": "222"}],
        "LINE_Text__mdt": [
            {
                "DeveloperName": "ja_welcome_shop",
                "Channel__c": "m00A",
                "Language__c": "ja",
                "Key__c": "welcome",
                "Text__c": "店舗です",
            },
            {
                "DeveloperName": "ja_welcome",
                "Channel__c": None,
                "Language__c": "ja",
                "Key__c": "welcome",
                "Text__c": "共通です",
            },
            {
                "DeveloperName": "en_welcome",
                "Channel__c": None,
                "Language__c": "en",
                "Key__c": "welcome",
                "Text__c": "Hi",
            },
        ],
    }
    overrides = channel_overrides(records, CHANNELS)
    assert overrides["shop"]["texts"] == {"welcome": "店舗です"}
    assert overrides["main"]["texts"] == {"welcome": "共通です"}  # no record of its own, and ja only


def test_holidays_become_closures_of_the_hours_they_name_by_id_or_name():
    records = {
        "LINE_Business_Hours__mdt": [hours("Default", "m01A", Monday__c="09:00-12:00, 13:00-18:00")],
        "LINE_Holiday__mdt": [
            {
                "DeveloperName": "Year_End",
                "Business_Hours__c": "m01A",
                "Start_Date__c": "2026-12-29",
                "End_Date__c": "2027-01-03",
            },
            {
                "DeveloperName": "Founding",
                "Business_Hours__c": "Default",
                "Start_Date__c": "2026-06-01",
                "End_Date__c": None,
            },
        ],
    }
    bh = channel_overrides(records, CHANNELS)["main"]["bot"]["business_hours"]
    parsed = BusinessHours.from_config(bh)
    assert parsed.weekly[0][1][0].hour == 13 and 1 not in parsed.weekly  # Tuesday blank: closed
    assert date(2027, 1, 2) in parsed.closures and date(2026, 6, 1) in parsed.closures


def test_overrides_are_laid_over_the_yaml_and_keep_what_they_do_not_name():
    data = {
        "line": {"channels": [{"name": "main", "id": "111", "texts": {"follow": "YAML"}, "bot": {"enabled": True}}]}
    }
    merged = apply(
        data, {"channels": {"main": {"texts": {"welcome": "SF"}, "bot": {"business_hours": {"weekly": {}}}}}}
    )
    [ch] = merged["line"]["channels"]
    assert ch["texts"] == {"follow": "YAML", "welcome": "SF"}
    assert ch["bot"] == {"enabled": True, "business_hours": {"weekly": {}}}


def test_without_records_nothing_is_overridden():
    assert channel_overrides({}, CHANNELS) == {}


def test_the_default_routing_record_sets_routing_and_case_settings_for_every_channel():
    records = {
        "LINE_Routing_Setting__mdt": [
            {
                "DeveloperName": "Default",
                "Default_Capacity__c": 5.0,
                "Close_Case_Status__c": None,
                "Case_Subject_Max_Chars__c": 60.0,
            },
            {"DeveloperName": "Other", "Default_Capacity__c": 9.0},
        ]
    }
    data = {"routing": {"default_capacity": 3, "close_case_status": "Closed"}, "line": {"channels": []}}
    merged = apply(data, overrides_of(records, []))
    assert merged["routing"] == {"default_capacity": 5, "close_case_status": None}  # blank: leave the Case as it is
    assert merged["salesforce"] == {"case": {"subject_max_chars": 60}}


def test_a_channels_survey_is_its_own_record_else_the_default():
    records = {
        "LINE_Survey_Setting__mdt": [
            {"DeveloperName": "Default", "Enabled__c": False, "Scale__c": "Five_Point", "Window_Hours__c": 24.0},
            {"DeveloperName": "shop", "Enabled__c": True, "Scale__c": "Three_Point", "Window_Hours__c": 48.0},
        ]
    }
    overrides = channel_overrides(records, CHANNELS)
    assert overrides["shop"]["survey"] == {"enabled": True, "scale": "three_point", "window_hours": 48}
    assert overrides["main"]["survey"] == {"enabled": False, "scale": "five_point", "window_hours": 24}


def test_identity_image_retention_comes_from_the_active_records_of_that_class():
    from connector.domain.settings_records import section_overrides

    records = {
        "LINE_Channel_Setting__mdt": [{"Id": "m01", "DeveloperName": "shop", "Channel_Id__c": "222"}],
        "LINE_Retention_Setting__mdt": [
            {
                "DeveloperName": "Identity_Images",
                "Active__c": True,
                "Data_Class__c": "Identity_Image",
                "Retention_Days__c": 14.0,
            },
            {
                "DeveloperName": "Shop",
                "Active__c": True,
                "Channel__c": "m01",
                "Data_Class__c": "Identity_Image",
                "Retention_Days__c": 7.0,
            },
            {"DeveloperName": "Old", "Active__c": False, "Data_Class__c": "Identity_Image", "Retention_Days__c": 999.0},
        ],
    }
    assert section_overrides(records, CHANNELS)["retention"] == {
        "identity_image_days": 14,
        "identity_image_days_by_channel": {"222": 7},
    }
