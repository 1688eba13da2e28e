"""When operators are available, as the bot and the customer see it."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from connector.domain.business_hours import BusinessHours, is_japanese_holiday

JST = ZoneInfo("Asia/Tokyo")
UTC = UTC


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


DEFAULT = BusinessHours()


# --- Japanese public holidays ---------------------------------------------

HOLIDAYS = {
    2025: [
        "01-01",
        "01-13",
        "02-11",
        "02-23",
        "02-24",
        "03-20",
        "04-29",
        "05-03",
        "05-04",
        "05-05",
        "05-06",
        "07-21",
        "08-11",
        "09-15",
        "09-23",
        "10-13",
        "11-03",
        "11-23",
        "11-24",
    ],
    2026: [
        "01-01",
        "01-12",
        "02-11",
        "02-23",
        "03-20",
        "04-29",
        "05-03",
        "05-04",
        "05-05",
        "05-06",
        "07-20",
        "08-11",
        "09-21",
        "09-22",
        "09-23",
        "10-12",
        "11-03",
        "11-23",
    ],
    2027: [
        "01-01",
        "01-11",
        "02-11",
        "02-23",
        "03-21",
        "03-22",
        "04-29",
        "05-03",
        "05-04",
        "05-05",
        "07-19",
        "08-11",
        "09-20",
        "09-23",
        "10-11",
        "11-03",
        "11-23",
    ],
}


@pytest.mark.parametrize("year", sorted(HOLIDAYS))
def test_japanese_holidays_of_the_year_are_exactly_the_official_ones(year):
    expected = {date.fromisoformat(f"{year}-{md}") for md in HOLIDAYS[year]}
    days = (date(year, 1, 1) + timedelta(days=n) for n in range(366))
    assert {d for d in days if d.year == year and is_japanese_holiday(d)} == expected


@pytest.mark.parametrize(
    "day, why",
    [
        ("2026-01-12", "成人の日 (second Monday of January)"),
        ("2026-03-20", "春分の日 (equinox)"),
        ("2026-05-06", "振替休日 for 5/3 on a Sunday"),
        ("2026-09-22", "国民の休日 between two holidays"),
        ("2026-09-23", "秋分の日 (equinox)"),
        ("2027-03-22", "振替休日 for the equinox on a Sunday"),
        ("2019-05-01", "accession day 2019"),
        ("2020-07-24", "Olympic move of スポーツの日 2020"),
        ("2021-07-23", "Olympic move of スポーツの日 2021"),
    ],
)
def test_special_holiday_rules(day, why):
    assert is_japanese_holiday(date.fromisoformat(day)), why


@pytest.mark.parametrize("day", ["2026-05-07", "2026-09-24", "2026-01-02", "2026-12-29", "2020-10-12", "2021-10-11"])
def test_ordinary_days_are_not_holidays(day):
    assert not is_japanese_holiday(date.fromisoformat(day))


# --- open / closed ---------------------------------------------------------


@pytest.mark.parametrize(
    "moment, is_open",
    [
        ("2026-11-25T09:59:59", False),
        ("2026-11-25T10:00:00", True),
        ("2026-11-25T18:59:59", True),
        ("2026-11-25T19:00:00", False),
        ("2026-11-21T12:00:00", False),  # Saturday
        ("2026-11-22T12:00:00", False),  # Sunday
    ],
)
def test_default_hours_are_weekdays_ten_to_seven_jst(moment, is_open):
    assert DEFAULT.is_open(jst(moment)) is is_open


def test_public_holiday_on_a_weekday_is_closed():
    assert DEFAULT.is_open(jst("2026-11-23T12:00")) is False  # 勤労感謝の日, Monday


def test_public_holiday_is_open_when_holidays_are_not_observed():
    hours = BusinessHours(observe_japanese_holidays=False)
    assert hours.is_open(jst("2026-11-23T12:00")) is True


def test_configured_closure_day_is_closed():
    hours = BusinessHours(closures=(date(2026, 11, 25),))
    assert hours.is_open(jst("2026-11-25T12:00")) is False
    assert hours.is_open(jst("2026-11-26T12:00")) is True


@pytest.mark.parametrize(
    "utc_moment, is_open",
    [
        ("2026-11-25T00:59:59", False),  # 09:59:59 JST
        ("2026-11-25T01:00:00", True),  # 10:00 JST
        ("2026-11-25T09:59:59", True),  # 18:59:59 JST
        ("2026-11-25T10:00:00", False),  # 19:00 JST
        ("2026-11-22T15:00:00", False),  # Sunday in UTC, 00:00 Monday holiday in JST
    ],
)
def test_now_in_utc_is_converted_to_the_desk_timezone(utc_moment, is_open):
    now = datetime.fromisoformat(utc_moment).replace(tzinfo=UTC)
    assert DEFAULT.is_open(now) is is_open


def test_desk_in_another_timezone_uses_its_own_local_time():
    taipei = BusinessHours(timezone="Asia/Taipei", observe_japanese_holidays=False)
    assert taipei.is_open(jst("2026-11-25T10:30")) is False  # 09:30 in Taipei
    assert taipei.is_open(jst("2026-11-25T11:00")) is True  # 10:00 in Taipei


def test_daylight_saving_time_is_honoured():
    london = BusinessHours(
        timezone="Europe/London", observe_japanese_holidays=False, weekly={0: ((time(9), time(17)),)}
    )
    summer = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # 09:30 BST, Monday
    winter = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 08:30 GMT, Monday
    assert london.is_open(summer) is True
    assert london.is_open(winter) is False


@pytest.mark.parametrize("method", ["is_open", "next_opening", "describe_next_opening"])
def test_naive_now_is_rejected(method):
    with pytest.raises(ValueError, match="timezone-aware"):
        getattr(DEFAULT, method)(datetime(2026, 11, 25, 12, 0))


def test_lunch_break_between_two_intervals_is_closed():
    hours = BusinessHours(weekly={2: ((time(10), time(12)), (time(13), time(19)))})
    assert hours.is_open(jst("2026-11-25T12:30")) is False
    assert hours.next_opening(jst("2026-11-25T12:30")) == jst("2026-11-25T13:00")


# --- midnight --------------------------------------------------------------


def test_interval_crossing_midnight_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="weekly.mon.*cross midnight.*24:00"):
        BusinessHours.from_config({"weekly": {"mon": ["22:00-02:00"]}})


def test_night_shift_split_at_midnight_is_open_on_both_sides():
    hours = BusinessHours.from_config(
        {"weekly": {"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]}, "japanese_holidays": False}
    )
    assert hours.is_open(jst("2026-11-23T23:59:59")) is True
    assert hours.is_open(jst("2026-11-24T00:00")) is True
    assert hours.is_open(jst("2026-11-24T06:00")) is False


def test_whole_day_interval_is_open_at_every_moment():
    hours = BusinessHours.from_config({"weekly": {"sun": ["00:00-24:00"]}})
    assert hours.is_open(jst("2026-11-22T00:00")) is True
    assert hours.is_open(jst("2026-11-22T23:59:59.999999")) is True
    assert hours.is_open(jst("2026-11-23T00:00")) is False


# --- next opening ----------------------------------------------------------


def test_next_opening_is_now_when_open():
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 12:00 JST
    assert DEFAULT.next_opening(now) == now


def test_next_opening_later_the_same_morning():
    assert DEFAULT.next_opening(jst("2026-11-25T08:00")) == jst("2026-11-25T10:00")


@pytest.mark.parametrize(
    "now, expected, why",
    [
        ("2026-11-20T19:00", "2026-11-24T10:00", "weekend, then 勤労感謝の日 on Monday"),
        ("2026-05-01T19:00", "2026-05-07T10:00", "Golden Week incl. 振替休日 5/6"),
        ("2026-09-18T19:00", "2026-09-24T10:00", "Silver Week incl. 国民の休日 9/22"),
        ("2026-12-31T19:00", "2027-01-04T10:00", "New Year's Day, then the weekend"),
    ],
)
def test_next_opening_skips_weekends_and_holidays(now, expected, why):
    assert DEFAULT.next_opening(jst(now)) == jst(expected), why


def test_next_opening_skips_year_end_closures():
    hours = BusinessHours.from_config({"closures": ["2026-12-29..2027-01-03", "2027-01-04"]})
    assert hours.next_opening(jst("2026-12-28T19:00")) == jst("2027-01-05T10:00")


def test_next_opening_is_given_in_the_desk_timezone():
    opening = DEFAULT.next_opening(datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    assert opening.tzinfo == JST and opening.hour == 10


def test_next_opening_is_none_when_never_open():
    assert BusinessHours(weekly={}).next_opening(jst("2026-11-25T12:00")) is None


# --- describing the next opening ------------------------------------------


@pytest.mark.parametrize(
    "language, expected",
    [
        ("ja", "11月24日(火) 10:00"),
        ("en", "Tue, Nov 24, 10:00"),
        ("en-US", "Tue, Nov 24, 10:00"),
    ],
)
def test_describe_next_opening_for_the_bot_text(language, expected):
    assert DEFAULT.describe_next_opening(jst("2026-11-21T12:00"), language) == expected


def test_describe_next_opening_defaults_to_japanese():
    assert DEFAULT.describe_next_opening(jst("2026-12-31T19:00")) == "1月4日(月) 10:00"


@pytest.mark.parametrize("language, expected", [("ja", "未定"), ("en", "to be announced")])
def test_describe_next_opening_when_never_open(language, expected):
    hours = BusinessHours(weekly={})
    assert hours.describe_next_opening(jst("2026-11-21T12:00"), language) == expected


def test_describe_next_opening_rejects_unsupported_language():
    with pytest.raises(ValueError, match="'fr'"):
        DEFAULT.describe_next_opening(jst("2026-11-21T12:00"), "fr")


# --- configuration ---------------------------------------------------------


def test_from_config_reads_the_documented_yaml_shape():
    config = yaml.safe_load("""
        timezone: Asia/Tokyo
        weekly:
          mon: ["10:00-19:00"]
          sat: ["10:00-15:00"]
        closures: [2026-12-29, "2026-12-30"]
        japanese_holidays: true
    """)
    hours = BusinessHours.from_config(config)
    assert hours == BusinessHours(
        timezone="Asia/Tokyo",
        weekly={0: ((time(10), time(19)),), 5: ((time(10), time(15)),)},
        closures=(date(2026, 12, 29), date(2026, 12, 30)),
        observe_japanese_holidays=True,
    )


def test_from_config_empty_mapping_gives_the_defaults():
    assert BusinessHours.from_config({}) == BusinessHours()


def test_days_left_out_of_weekly_are_closed():
    hours = BusinessHours.from_config({"weekly": {"sat": ["10:00-15:00"], "sun": []}})
    assert hours.is_open(jst("2026-11-21T14:59")) is True  # Saturday
    assert hours.is_open(jst("2026-11-22T12:00")) is False  # Sunday, empty list
    assert hours.is_open(jst("2026-11-25T12:00")) is False  # Wednesday, left out


@pytest.mark.parametrize(
    "config, message",
    [
        ({"timezone": "Asia/Osaka"}, "timezone"),
        ({"timezone": 9}, "timezone"),
        ({"weekly": {"monday": ["10:00-19:00"]}}, "weekly: unknown day 'monday'"),
        ({"weekly": {"mon": ["10-19"]}}, "weekly.mon: expected 'HH:MM-HH:MM'"),
        ({"weekly": {"mon": ["10:00-25:00"]}}, "weekly.mon: invalid time"),
        ({"weekly": {"mon": [600]}}, "weekly.mon"),
        ({"weekly": {"tue": ["10:00-15:00", "14:00-19:00"]}}, "weekly.tue: intervals overlap"),
        ({"weekly": {"wed": ["10:00-10:00"]}}, "weekly.wed"),
        ({"weekly": ["10:00-19:00"]}, "weekly: expected a mapping"),
        ({"closures": ["2026-13-01"]}, "closures"),
        ({"closures": "2026-12-29"}, "closures: expected a list"),
        ({"closures": ["2027-01-03..2026-12-29"]}, "closures: range .* ends before it starts"),
        ({"japanese_holidays": "yes"}, "japanese_holidays"),
        ({"holidays": True}, "unknown key.*holidays"),
    ],
)
def test_from_config_errors_name_the_bad_key(config, message):
    with pytest.raises(ValueError, match=message):
        BusinessHours.from_config(config)


def test_weekly_hours_cannot_be_changed_after_construction():
    with pytest.raises(TypeError):
        DEFAULT.weekly[5] = ((time(10), time(15)),)
