"""When operators are available.

Outside business hours the bot keeps the chat and tells the customer when
people are back ("担当者は11月24日(火) 10:00から対応いたします"). The hours
come from the relay's configuration (`line.channels[].bot.business_hours`),
or, with the settings sync on, from the LINE_Business_Hours and LINE_Holiday
custom metadata records admins edit in Salesforce (domain/settings_records.py,
docs/configuration.md); this module turns either into answers to "is it open
now?" and "when does it open next?".

Decisions:

* Opening intervals are half-open, ``[start, end)``: at 10:00 the desk is
  open, at 19:00 it is closed.
* An interval must not cross midnight ("22:00-02:00" is rejected). A night
  shift is written as two intervals, "22:00-24:00" on one day and
  "00:00-02:00" on the next; "24:00" (stored as ``time(0)`` in the end
  position) means the end of the day.
* Japanese public holidays come from the ``jpholiday`` package (maintained,
  pure Python, tracks law changes such as the 2019-2021 special years) rather
  than a hand-written calendar. A private instance is used so that
  ``jpholiday.register`` calls elsewhere cannot change our answers.
* ``now`` is always a parameter and must be timezone-aware; it is converted
  to the desk's timezone, so a UTC timestamp from a webhook works as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jpholiday import JPHoliday

__all__ = ["BusinessHours", "Interval", "is_japanese_holiday"]

Interval = tuple[time, time]

_HOLIDAYS = JPHoliday()
_SEARCH_DAYS = 366
_END_OF_DAY = time(0)  # in the end position: 24:00

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CONFIG_KEYS = frozenset({"timezone", "weekly", "closures", "japanese_holidays"})
_INTERVAL_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

_JA_WEEKDAYS = "月火水木金土日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_japanese_holiday(day: date) -> bool:
    """True on Japanese public holidays, substitute and citizens' holidays."""
    return _HOLIDAYS.is_holiday(day)


def _default_weekly() -> Mapping[int, tuple[Interval, ...]]:
    return {d: ((time(10), time(19)),) for d in range(5)}


def _ends_after(end: time, moment: time) -> bool:
    """``moment < end``, where an end of 00:00 means 24:00."""
    return end == _END_OF_DAY or moment < end


def _validate_intervals(weekday: int, intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Sort intervals and reject empty, midnight-crossing or overlapping ones."""
    label = _DAY_NAMES[weekday]
    ordered = tuple(sorted(intervals))
    previous_end: time | None = None
    for start, end in ordered:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"weekly.{label}: times must not carry a timezone")
        if not _ends_after(end, start):
            raise ValueError(
                f"weekly.{label}: interval {start:%H:%M}-{end:%H:%M} ends before it starts; "
                "intervals may not cross midnight, split them at 24:00"
            )
        if previous_end is not None and _ends_after(previous_end, start):
            raise ValueError(f"weekly.{label}: intervals overlap")
        previous_end = end
    return ordered


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours of the operator desk.

    ``weekly`` maps weekday (0=Mon .. 6=Sun) to opening intervals; a missing
    weekday is closed all day. ``closures`` are extra closed days such as the
    year-end break.
    """

    timezone: str = "Asia/Tokyo"
    weekly: Mapping[int, tuple[Interval, ...]] = field(default_factory=_default_weekly)
    closures: tuple[date, ...] = ()
    observe_japanese_holidays: bool = True

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"timezone: unknown zone {self.timezone!r}") from exc
        weekly: dict[int, tuple[Interval, ...]] = {}
        for weekday, intervals in self.weekly.items():
            if weekday not in range(7):
                raise ValueError(f"weekly: weekday must be 0 (Mon) to 6 (Sun), got {weekday!r}")
            weekly[weekday] = _validate_intervals(weekday, tuple(intervals))
        # Read-only, so a shared instance cannot be changed under a worker.
        object.__setattr__(self, "weekly", MappingProxyType(weekly))
        object.__setattr__(self, "closures", tuple(sorted(set(self.closures))))

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances

    # -- configuration -----------------------------------------------------

    @classmethod
    def from_config(cls, d: dict) -> BusinessHours:
        """Build from the YAML shape admins write.

        ``{"timezone": "Asia/Tokyo", "weekly": {"mon": ["10:00-19:00"]},
        "closures": ["2026-12-29", "2026-12-30..2027-01-03"],
        "japanese_holidays": true}``. Every key is optional; ``weekly``
        replaces the default Mon-Fri 10:00-19:00 entirely when given, and
        a day left out of it is closed. Closures accept dates (YAML turns
        unquoted ``2026-12-29`` into one), ISO strings and inclusive
        ``start..end`` ranges. Errors name the offending key.
        """
        if not isinstance(d, Mapping):
            raise ValueError("business_hours: expected a mapping")
        unknown = sorted(str(k) for k in d if k not in _CONFIG_KEYS)
        if unknown:
            raise ValueError(
                f"business_hours: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CONFIG_KEYS))}"
            )
        kwargs: dict = {}
        if "timezone" in d:
            if not isinstance(d["timezone"], str):
                raise ValueError("timezone: expected a zone name such as 'Asia/Tokyo'")
            kwargs["timezone"] = d["timezone"]
        if "weekly" in d:
            kwargs["weekly"] = _parse_weekly(d["weekly"])
        if "closures" in d:
            kwargs["closures"] = _parse_closures(d["closures"])
        if "japanese_holidays" in d:
            if not isinstance(d["japanese_holidays"], bool):
                raise ValueError("japanese_holidays: expected true or false")
            kwargs["observe_japanese_holidays"] = d["japanese_holidays"]
        return cls(**kwargs)

    # -- questions ---------------------------------------------------------

    def is_closed_day(self, day: date) -> bool:
        """True for configured closures and (if observed) public holidays."""
        return day in self.closures or (self.observe_japanese_holidays and is_japanese_holiday(day))

    def is_open(self, now: datetime) -> bool:
        """Whether operators are available at ``now`` (timezone-aware)."""
        local = self._localize(now)
        if self.is_closed_day(local.date()):
            return False
        moment = local.time()
        return any(start <= moment and _ends_after(end, moment) for start, end in self.weekly.get(local.weekday(), ()))

    def next_opening(self, now: datetime) -> datetime | None:
        """The next moment operators are available, in the desk's timezone.

        ``now`` itself (converted) when open; ``None`` when nothing opens
        within 366 days (e.g. no weekly hours at all). An opening time that
        falls into a daylight-saving gap is returned as the wall-clock time
        ``zoneinfo`` gives it; the Asian desks this serves have no DST.
        """
        local = self._localize(now)
        if self.is_open(local):
            return local
        for offset in range(_SEARCH_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            if self.is_closed_day(day):
                continue
            for start, _end in self.weekly.get(day.weekday(), ()):
                candidate = datetime.combine(day, start, tzinfo=self._zone)
                if candidate > local:
                    return candidate
        return None

    def describe_next_opening(self, now: datetime, language: str = "ja") -> str:
        """The next opening as a customer reads it, e.g. 「11月24日(火) 10:00」.

        ``language`` is a tag such as "ja", "en" or "en-US"; only the primary
        subtag is used. If nothing opens within 366 days the text says the
        date is not yet decided, so the bot never shows an empty slot.
        """
        primary = language.split("-")[0].split("_")[0].lower()
        if primary not in ("ja", "en"):
            raise ValueError(f"language {language!r} is not supported; use 'ja' or 'en'")
        opening = self.next_opening(now)
        if opening is None:
            return "未定" if primary == "ja" else "to be announced"
        if primary == "ja":
            return f"{opening.month}月{opening.day}日({_JA_WEEKDAYS[opening.weekday()]}) {opening:%H:%M}"
        return f"{_EN_WEEKDAYS[opening.weekday()]}, {_EN_MONTHS[opening.month - 1]} {opening.day}, {opening:%H:%M}"

    def _localize(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return now.astimezone(self._zone)


def _parse_time(text: str, hour: str, minute: str, *, is_end: bool) -> time:
    h, m = int(hour), int(minute)
    if is_end and (h, m) == (24, 0):
        return _END_OF_DAY
    if h > 23 or m > 59:
        raise ValueError(f"invalid time in {text!r}")
    return time(h, m)


def _parse_weekly(value: object) -> dict[int, tuple[Interval, ...]]:
    if not isinstance(value, Mapping):
        raise ValueError("weekly: expected a mapping such as {mon: ['10:00-19:00']}")
    weekly: dict[int, tuple[Interval, ...]] = {}
    for key, intervals in value.items():
        name = str(key).lower()
        if name not in _DAY_NAMES:
            raise ValueError(f"weekly: unknown day {key!r}; use {', '.join(_DAY_NAMES)}")
        if intervals is None:
            intervals = []
        if isinstance(intervals, str):
            intervals = [intervals]
        if not isinstance(intervals, list):
            raise ValueError(f"weekly.{name}: expected a list of 'HH:MM-HH:MM' strings")
        parsed = []
        for item in intervals:
            m = _INTERVAL_RE.match(item) if isinstance(item, str) else None
            if not m:
                raise ValueError(f"weekly.{name}: expected 'HH:MM-HH:MM', got {item!r}")
            try:
                parsed.append((_parse_time(item, m[1], m[2], is_end=False), _parse_time(item, m[3], m[4], is_end=True)))
            except ValueError as exc:
                raise ValueError(f"weekly.{name}: {exc}") from exc
        weekly[_DAY_NAMES.index(name)] = tuple(parsed)
    return weekly


def _parse_date(item: object) -> date:
    if isinstance(item, datetime):
        raise ValueError(f"closures: expected a date, got a date and time {item!r}")
    if isinstance(item, date):
        return item
    if isinstance(item, str):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            pass
    raise ValueError(f"closures: expected 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD', got {item!r}")


def _parse_closures(value: object) -> tuple[date, ...]:
    if not isinstance(value, list):
        raise ValueError("closures: expected a list of dates")
    days: list[date] = []
    for item in value:
        if isinstance(item, str) and ".." in item:
            first_text, last_text = item.split("..", 1)
            first, last = _parse_date(first_text), _parse_date(last_text)
            if last < first:
                raise ValueError(f"closures: range {item!r} ends before it starts")
            if (last - first).days > _SEARCH_DAYS:
                raise ValueError(f"closures: range {item!r} is longer than a year")
            days.extend(first + timedelta(days=n) for n in range((last - first).days + 1))
        else:
            days.append(_parse_date(item))
    return tuple(days)
