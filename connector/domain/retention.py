"""Identity-verification images: which images are identity-class, when they must be gone, and what
the message record and the audit record say once they are (docs/data-protection.md).

Pure: no I/O. The schedule lives in Redis (storage/retention.py) and on the message record in
Salesforce (`Retention_Until__c`); jobs/retention.py deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

IDENTITY_IMAGE = "Identity_Image"  # LINE_Retention_Setting__mdt.Data_Class__c
BATCH = 200  # files per purge: emptyRecycleBin takes at most 200 ids a call

# How a file came to be deleted (LINE_Data_Deletion__c.Trigger__c).
BY_RETENTION = "Retention"
BY_OPERATOR = "Operator"

# What the deletion found (LINE_Data_Deletion__c.Outcome__c).
DELETED = "Deleted"  # the file was there and is gone, recycle bin included
ALREADY_GONE = "Already_Gone"  # nothing was left to delete (an earlier attempt, or never stored)


@dataclass(frozen=True)
class Rule:
    """The retention rule that applies to one channel's identity images."""

    channel_id: str
    days: int
    day_seconds: float

    @property
    def seconds(self) -> float:
        return self.days * self.day_seconds

    @property
    def name(self) -> str:
        """What the audit record names: the class and the period (never any content)."""
        return f"{IDENTITY_IMAGE}: {self.days} days (channel {self.channel_id})"


def rule_for(settings, channel_id: str) -> Rule:
    """The rule of `channel_id` from `retention` settings (a channel's own days, else the default)."""
    days = settings.identity_image_days_by_channel.get(channel_id, settings.identity_image_days)
    return Rule(channel_id, int(days), float(settings.day_seconds))


def is_identity_image(message_type: str, requested_at: float | None, arrived_at: float, window_s: float) -> bool:
    """An image that arrived within `window_s` after someone asked the customer for an ID document."""
    return message_type == "image" and requested_at is not None and 0 <= arrived_at - requested_at <= window_s


def due_at(start: float, rule: Rule) -> float:
    return start + rule.seconds


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def placeholder(deleted_at: float, trigger: str) -> str:
    """What the message record says instead of the image (no content, only the fact)."""
    day = datetime.fromtimestamp(deleted_at, UTC).strftime("%Y-%m-%d")
    why = "retention period" if trigger == BY_RETENTION else "deleted by an operator"
    return f"[identity image deleted on {day} UTC: {why}]"


def outcome(purge_result: str) -> str | None:
    """The audit outcome of the purge resource's answer for one file; None when it must be retried."""
    return {"purged": DELETED, "gone": ALREADY_GONE}.get(purge_result)


def batches(items: list, size: int = BATCH) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
