"""Configuration: config.yaml validated, secrets resolved from the environment.

Secrets never live in the YAML. Every secret setting is a `*_env` key naming the environment
variable that holds it; `load_config` resolves them once and checks what they hold (keys decode,
the PEM loads, the Redis URL is one), as the YAML's values are checked (URLs, languages, regular
expressions, business hours): a bad configuration stops start-up with one line per problem naming
the key or variable (never its value), not a traceback at the first request.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connector.i18n import DEFAULT_TEXTS

DEFAULT_CONFIG_ENV = "CONNECTOR_CONFIG"
# Environment-only mode (Heroku): the configuration's YAML itself, used when no file is named.
CONFIG_YAML_ENV = "CONNECTOR_CONFIG_YAML"


class ConfigError(Exception):
    """Bad or missing settings: `problems` has one line per problem, naming the key; str() joins them."""

    def __init__(self, *problems: str):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("not an http(s) URL: bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("not an http(s) URL (e.g. https://your-app.herokuapp.com)")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(_Section):
    url_env: str = "REDIS_URL"
    default_url: str = "redis://127.0.0.1:6379/0"
    tls_verify: bool = True
    dedupe_ttl_hours: int = Field(48, ge=24)
    socket_timeout_seconds: float = Field(5.0, gt=0)
    # The web process answers LINE, which gives up after 2 s: a hung Redis must cost it less.
    web_socket_timeout_seconds: float = Field(0.5, gt=0, le=60)
    key_prefix: str = Field("ln:", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")
    memory_warn_ratio: float = Field(0.8, gt=0, le=1)


class EncryptionSettings(_Section):
    keys_env: str = "CONNECTOR_ENCRYPTION_KEYS"


class QueueSettings(_Section):
    name: str = "connector"
    batch_max_events: int = Field(1000, ge=1, le=5000)
    lock_seconds: int = Field(15, ge=5)
    retry_intervals_seconds: list[float] = Field(default_factory=lambda: [5, 30, 120, 600, 1800, 3600])
    retry_jitter: float = Field(0.2, ge=0, le=1)
    sweep_interval_seconds: float = Field(10, gt=0)
    job_timeout_seconds: int = Field(600, ge=10)
    # Adaptive batching (domain/batching.py): while messages keep arriving, a small batch's
    # Salesforce write waits up to this long for more conversations to share its Composite call
    # (never the LINE replies; wider as the org's daily API usage nears its reserve). 0: never.
    batch_window_max_ms: int = Field(600, ge=0, le=10_000)
    # What one write should carry when traffic allows, and the rate (events/s, all workers) below
    # which nothing waits.
    batch_window_target_events: int = Field(12, ge=1, le=1000)
    batch_window_min_rate: float = Field(2.0, ge=0)

    @field_validator("retry_intervals_seconds")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if not v or any(x <= 0 for x in v):
            raise ValueError("must be a non-empty list of positive numbers")
        return v


# -- auto-reply bot -------------------------------------------------------------------
_SF_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"  # a Salesforce API name: safe to put into SOQL


class BotSettings(_Section):
    """Per channel: the auto-reply bot (docs/bot.md, "Integration")."""

    enabled: bool = False
    # None: the scorer model's own thresholds (docs/bot.md), which differ with and without knowledge.semantic.
    answer_threshold: float | None = Field(None, ge=0, le=1)
    clarify_threshold: float | None = Field(None, ge=0, le=1)
    max_unsuccessful: int = Field(2, ge=1, le=20)
    unsolved_hands_off: bool = True
    bot_only: bool = False
    business_hours: dict[str, Any] = Field(default_factory=dict)
    article_url_template: str | None = None
    max_answer_chars: int = Field(500, ge=100, le=5000)
    related_articles: int = Field(2, ge=0, le=5)
    loading_seconds: int = Field(20, ge=5, le=60)
    # Queue relief (domain/queue_relief.py): a handoff stays with the bot when the expected wait is
    # longer than this (None: no limit), or, with operator_chat_for entitled_only, when the customer
    # is not entitled. Entitled customers always queue, with their priority.
    queue_relief_max_wait_minutes: int | None = Field(None, ge=0, le=9999)
    operator_chat_for: Literal["everyone", "entitled_only"] = "everyone"

    def relief(self):
        """The domain's ReliefRules, or None when queue relief is off."""
        from connector.domain.queue_relief import ReliefRules

        if self.queue_relief_max_wait_minutes is None and self.operator_chat_for == "everyone":
            return None
        max_wait = self.queue_relief_max_wait_minutes
        return ReliefRules(None if max_wait is None else max_wait * 60.0, self.operator_chat_for == "entitled_only")

    @model_validator(mode="after")
    def _check(self) -> "BotSettings":
        if (
            self.clarify_threshold is not None
            and self.answer_threshold is not None
            and self.clarify_threshold > self.answer_threshold
        ):
            raise ValueError("clarify_threshold must not be above answer_threshold")
        from connector.domain.business_hours import BusinessHours

        BusinessHours.from_config(self.business_hours)  # raises ValueError naming the bad key
        if self.article_url_template:
            try:
                self.article_url_template.format(url_name="x", id="x", article_number="x", language="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"article_url_template: unknown placeholder {exc}; "
                    "use {url_name}, {id}, {article_number}, {language}"
                ) from None
        return self

    def hours(self):
        from connector.domain.business_hours import BusinessHours

        return BusinessHours.from_config(self.business_hours)


class KnowledgeFieldSettings(_Section):
    """Which Knowledge__kav fields hold what (orgs differ). null: the org has no such field."""

    title: str = Field("Title", pattern=_SF_NAME)
    question: str | None = Field(None, pattern=_SF_NAME)
    answer: str = Field("Summary", pattern=_SF_NAME)
    body: str | None = Field(None, pattern=_SF_NAME)
    url: str | None = Field(None, pattern=_SF_NAME)
    # a checkbox: the article is answered only to customers verified by a support ID or an
    # account link; the bot asks the others for their support ID (docs/data-protection.md)
    verified_only: str | None = Field(None, pattern=_SF_NAME)


class KnowledgeSettings(_Section):
    """Knowledge sync for the bot (docs/bot.md, "Integration")."""

    sobject: str = Field("Knowledge__kav", pattern=_SF_NAME)
    fields: KnowledgeFieldSettings = Field(default_factory=KnowledgeFieldSettings)
    languages: dict[str, str] = Field(default_factory=dict)
    sync_interval_seconds: int = Field(900, ge=0)
    overlap_seconds: int = Field(60, ge=0, le=86400)
    question_examples: bool = True
    # Rank with sentence embeddings (multilingual-E5, bundled) next to BM25; false: BM25 alone.
    semantic: bool = True
    # Optional packs of synonym groups (connector/domain/knowledge/synonyms.py SYNONYM_PACKS, e.g.
    # ["shop"]); none by default: the groups are one domain's words and mislead elsewhere.
    synonym_packs: list[str] = Field(default_factory=list)
    # The admin's own groups, concept -> variants (added to a pack's group of the same name).
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    # Calibrate the answer threshold on the KB at each sync (calibration.py); off: the model's.
    calibrate: bool = False

    @field_validator("synonym_packs")
    @classmethod
    def _packs(cls, v: list[str]) -> list[str]:
        from connector.domain.knowledge.synonyms import SYNONYM_PACKS

        unknown = sorted(set(v) - set(SYNONYM_PACKS))
        if unknown:
            raise ValueError(f"unknown synonym pack {', '.join(unknown)} (known: {', '.join(sorted(SYNONYM_PACKS))})")
        return v

    @field_validator("synonyms")
    @classmethod
    def _groups(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = sorted(k for k, variants in v.items() if not k.strip() or not any(x.strip() for x in variants))
        if empty:
            raise ValueError(f"synonym group without a name or variants: {', '.join(empty)}")
        return {k: [x for x in variants if x.strip()] for k, variants in v.items()}

    @field_validator("languages")
    @classmethod
    def _codes(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        bad = sorted(k for k, code in v.items() if not re.match(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$", code))
        if bad:
            raise ValueError(f"not a Knowledge language code for {', '.join(bad)} (e.g. ja, en_US)")
        return v


class VoiceChannelSettings(_Section):
    """Per channel: voice with Twilio (docs/voice.md). Needs `twilio.enabled`."""

    enabled: bool = False
    # The Twilio number customers call for this channel (E.164); the offer's tel: button.
    support_number: str | None = None
    # Where the IVR sends a caller who chooses nothing (your call centre); null: goodbye.
    desk_number: str | None = None
    # The IVR offers 「LINEで続ける」 (press 1).
    call_to_line: bool = True
    # LINE notification messages by phone number (PNP): needs LINE's approval for the channel.
    pnp: bool = False
    # Send unmatched callers the friend-add link by SMS (off: Japanese Twilio numbers generally
    # cannot send SMS); from sms_from (default: support_number).
    sms_fallback: bool = False
    sms_from: str | None = None
    # The channel's friend-add link (https://lin.ee/...), for the SMS fallback.
    friend_url: str | None = None
    # <Say language> (default from the channel language: ja-JP, en-US) and Twilio voice (e.g. Polly.Mizuki).
    say_language: str | None = None
    say_voice: str | None = None
    # Region assumed for numbers written without a country code (Contact phones like 090-...).
    default_region: str = Field("JP", pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def _check(self) -> "VoiceChannelSettings":
        from connector.domain.voice import normalise

        for key in ("support_number", "desk_number", "sms_from"):
            value = getattr(self, key)
            if value is not None and normalise(value, self.default_region) != value:
                raise ValueError(f"{key}: not a phone number in E.164 form (e.g. +815012345678)")
        if self.enabled and not self.support_number:
            raise ValueError("support_number is required when voice is enabled")
        if self.sms_fallback and not self.friend_url:
            raise ValueError("friend_url is required for sms_fallback")
        return self


class SurveySettings(_Section):
    """Per channel: the satisfaction survey after a chat (domain/survey.py, docs/supervision.md).
    The Salesforce side is LINE_Survey_Setting__mdt (same fields)."""

    enabled: bool = False
    scale: Literal["five_point", "three_point"] = "five_point"
    window_hours: int = Field(24, ge=1, le=999)
    ask_comment: bool = True
    unsatisfied_at_or_below: int = Field(2, ge=1, le=4)

    def rules(self):
        """The domain's SurveyRules, or None when the survey is off."""
        from connector.domain.survey import SurveyRules

        if not self.enabled:
            return None
        return SurveyRules(self.scale, self.window_hours * 3600 * 1000, self.ask_comment, self.unsatisfied_at_or_below)


class ChannelSettings(_Section):
    id: str = Field(pattern=r"^\S+$")
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    bot_user_id: str | None = None
    secret_env: str
    previous_secret_env: str | None = None
    access_token_env: str
    language: str = "ja"
    reply_in_groups: bool = False
    texts: dict[str, str] = Field(default_factory=dict)
    bot: BotSettings = Field(default_factory=BotSettings)
    voice: VoiceChannelSettings = Field(default_factory=VoiceChannelSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)

    @field_validator("language")
    @classmethod
    def _supported_language(cls, v: str) -> str:
        if v not in DEFAULT_TEXTS:  # the channel's LINE texts and the bot's replies exist in these
            raise ValueError(f"unsupported language {v!r} (supported: {', '.join(sorted(DEFAULT_TEXTS))})")
        return v

    @field_validator("texts")
    @classmethod
    def _known_texts(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DEFAULT_TEXTS["ja"]))
        if unknown:
            raise ValueError(
                f"unknown text key(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFAULT_TEXTS['ja']))}"
            )
        return v


class LineSettings(_Section):
    api_base_url: HttpUrl = "https://api.line.me"
    data_base_url: HttpUrl = "https://api-data.line.me"
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    reply_token_max_age_seconds: float = Field(50, gt=0, le=600)
    max_content_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    channels: list[ChannelSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_channels(self) -> "LineSettings":
        for attr in ("id", "name", "bot_user_id"):
            values = [getattr(c, attr) for c in self.channels if getattr(c, attr)]
            dup = {v for v in values if values.count(v) > 1}
            if dup:
                raise ValueError(f"channel {attr} must be unique; repeated: {', '.join(sorted(dup))}")
        return self


class CaseSettings(_Section):
    reopen_window_minutes: int = Field(0, ge=0)
    subject_max_chars: int = Field(80, ge=10, le=255)


class OutageSettings(_Section):
    failures_to_pause: int = Field(1, ge=1)
    pause_seconds: float = Field(5, gt=0)
    max_pause_seconds: float = Field(300, gt=0)


class SalesforceSettings(_Section):
    login_url: HttpUrl = "https://login.salesforce.com"
    api_version: str = Field("63.0", pattern=r"^\d+\.\d$")
    auth: Literal["jwt", "password"] = "jwt"
    username_env: str = "SF_USERNAME"
    consumer_key_env: str = "SF_CONSUMER_KEY"
    private_key_env: str = "SF_PRIVATE_KEY"
    password_env: str = "SF_PASSWORD"
    security_token_env: str = "SF_SECURITY_TOKEN"
    consumer_secret_env: str = "SF_CONSUMER_SECRET"
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    # The share of the org's daily API limit left to its other integrations: at the line, writes
    # pause (answers on LINE go on, records wait in Redis) until Salesforce reports usage below it.
    api_reserve_share: float = Field(0.2, ge=0, le=0.9)
    # How long such a pause lasts before the next look at the usage (seconds).
    api_reserve_pause_seconds: float = Field(300, gt=0)
    ca_bundle: str | None = None
    case: CaseSettings = Field(default_factory=CaseSettings)
    outage: OutageSettings = Field(default_factory=OutageSettings)


class TwilioSettings(_Section):
    """Voice with Twilio (docs/voice.md); channels opt in with `voice.enabled`."""

    api_base_url: HttpUrl = "https://api.twilio.com"
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    enabled: bool = False
    # The web-call page (/call): access tokens are signed with an API key and name a TwiML App
    # whose Voice URL is {public_base_url}/twilio/voice.
    web_call: bool = False
    api_key_sid_env: str = "TWILIO_API_KEY_SID"
    api_key_secret_env: str = "TWILIO_API_KEY_SECRET"
    twiml_app_sid: str | None = Field(None, pattern=r"^AP[0-9a-fA-F]{32}$")
    # How long an access token for the web call lives (seconds).
    web_token_ttl_seconds: int = Field(300, ge=60, le=3600)
    # The console phone (LWC lineVoiceDevice): operators take offered calls in the browser with
    # tokens from POST /salesforce/voice-token (the API key above signs them).
    console_phone: bool = False
    # How long the console phone's access token lives (seconds); the LWC renews it before it ends.
    operator_token_ttl_seconds: int = Field(3600, ge=300, le=24 * 3600)
    # Web calls per client IP and hour (with or without a code), and anonymous web calls per minute overall.
    web_calls_per_ip_per_hour: int = Field(10, ge=1)
    anonymous_calls_per_minute: int = Field(30, ge=0)
    # One-time codes of "offer a call": digits, lifetime, tries per call, offers per session per
    # hour, wrong codes per caller number per hour.
    code_digits: int = Field(6, ge=4, le=10)
    code_ttl_minutes: int = Field(30, ge=1, le=24 * 60)
    code_attempts_per_call: int = Field(3, ge=1, le=10)
    offers_per_session_per_hour: int = Field(5, ge=1)
    code_failures_per_caller_per_hour: int = Field(10, ge=1)
    # Phone numbers written to Salesforce: last4 (+81******5678), all (***) or none (whole).
    mask_numbers: Literal["last4", "all", "none"] = "last4"
    # A notification message (PNP) with no `delivery` event after this long is marked undelivered.
    pnp_delivery_hours: float = Field(24, gt=0, le=72)
    # Seconds the caller waits for the Call-to-LINE outcome before hearing a generic goodbye.
    line_result_wait_seconds: int = Field(6, ge=1, le=14)
    # How long an operator's or the desk's phone rings (seconds).
    dial_timeout_seconds: int = Field(20, ge=5, le=120)
    gather_timeout_seconds: int = Field(5, ge=1, le=30)


class RedactionRuleSettings(_Section):
    name: str
    pattern: str
    action: Literal["mask", "remove"] = "mask"
    replacement: str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> "RedactionRuleSettings":
        from connector.domain.redaction import rules_from_config

        try:
            rules_from_config([self.model_dump()])  # what the redactor builds: the pattern compiles, and so on
        except ValueError as exc:
            raise ValueError(str(exc.__cause__ or exc)) from None
        return self


class RedactionSettings(_Section):
    rules: list[RedactionRuleSettings] = Field(default_factory=list)


class RoutingSettings(_Section):
    """Operator chat on the relay side (see docs/operator-chat.md and docs/routing.md)."""

    default_capacity: int = Field(3, ge=0, le=50)
    # The console beats every 60 s while Available: 150 s tolerates one lost beat.
    presence_ttl_seconds: float = Field(150, gt=0)
    entitled_priority: int = Field(1, ge=0)
    avg_handle_time_seconds: float = Field(300, gt=0)
    notice_position_step: int = Field(3, ge=1)
    notice_wait_change_seconds: float = Field(120, ge=0)
    notice_min_interval_seconds: float = Field(60, ge=0)
    notify_assignment: bool = True
    callout_max_skew_seconds: int = Field(300, ge=10, le=3600)
    callout_max_body_bytes: int = Field(1024 * 1024, gt=0)
    outbound_sweep_delay_seconds: float = Field(120, gt=0)
    outbound_sweep_interval_seconds: float = Field(60, gt=0)
    # an operator's image: its bytes stay in Redis this long after it is sent (LINE usually fetches
    # at once); its links work for operator_image_link_days, served from Salesforce after that hour
    media_url_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    operator_image_link_days: int = Field(30, ge=1, le=365)
    close_case_status: str | None = "Closed"
    # Hold (docs/supervision.md): a held chat returns to the queue after this many minutes unless
    # its operator takes it back; while held it takes one of their chat slots if this is true.
    hold_timeout_minutes: int = Field(10, ge=1, le=24 * 60)
    hold_counts_against_capacity: bool = True


class WebSettings(_Section):
    """The web process's edge (connector/web/edge.py)."""

    # A request body must arrive within this time, or the request is answered 408: LINE sends a
    # webhook in one go and gives up after a few seconds, so only a stalled client waits this long.
    body_timeout_seconds: float = Field(10, gt=0, le=120)


class RetentionSettings(_Section):
    """How long identity-verification images are kept (docs/data-protection.md, issue 21)."""

    # Days an identity image is kept after it arrived (or was marked), for every channel...
    identity_image_days: int = Field(30, ge=1, le=3650)
    # ...unless its channel has its own (channel id -> days).
    identity_image_days_by_channel: dict[str, int] = Field(default_factory=dict)
    # An image that arrives this long after an operator asked for an ID document is identity-class.
    identity_request_window_minutes: float = Field(30, gt=0, le=7 * 24 * 60)
    # The length of a "day" in seconds: 86400 in production; the demo and tests compress time here.
    day_seconds: float = Field(86400, gt=0)
    # How often due deletions are looked for in Redis (seconds); Salesforce is swept once a day.
    check_interval_seconds: float = Field(60, gt=0)

    @field_validator("identity_image_days_by_channel")
    @classmethod
    def _positive_days(cls, v: dict[str, int]) -> dict[str, int]:
        bad = sorted(k for k, d in v.items() if not 1 <= int(d) <= 3650)
        if bad:
            raise ValueError(f"days must be 1..3650 (channel(s) {', '.join(bad)})")
        return v


class SupportIdSettings(_Section):
    """Support IDs a customer sends on LINE (issue 21): attempts allowed before a pause."""

    max_attempts_per_user: int = Field(5, ge=1, le=100)  # per LINE user, in user_window_minutes
    user_window_minutes: float = Field(60, gt=0)
    max_attempts_per_id: int = Field(10, ge=1, le=1000)  # per ID (whoever sends it), in id_window_minutes
    id_window_minutes: float = Field(24 * 60, gt=0)
    # channels whose unverified customers are asked for their support ID when they open an inquiry
    ask_on_channels: list[str] = Field(default_factory=list)


class AccountLinkSettings(_Section):
    """LINE account link (issue 21): the company's linking page per channel, and the words that ask."""

    # channel id -> the company's linking page; the relay appends ?linkToken=... (docs/data-protection.md)
    linking_urls: dict[str, HttpUrl] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=lambda: ["アカウント連携", "account link"])
    unlink_keywords: list[str] = Field(default_factory=lambda: ["連携解除", "unlink account"])
    # how long a nonce the company's site registered waits for LINE's accountLink event
    nonce_ttl_minutes: float = Field(10, gt=0, le=60)


class SettingsSyncSettings(_Section):
    """Settings admins keep in Salesforce custom metadata (docs/configuration.md), laid over these."""

    enabled: bool = False
    # How often a worker reads the records (8 API calls each time; an admin's "sync now" callout
    # does not wait for it).
    interval_seconds: float = Field(900, ge=60)


class Settings(_Section):
    public_base_url: HttpUrl = "http://127.0.0.1:5000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    redis: RedisSettings = Field(default_factory=RedisSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    line: LineSettings
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    support_id: SupportIdSettings = Field(default_factory=SupportIdSettings)
    account_link: AccountLinkSettings = Field(default_factory=AccountLinkSettings)
    settings_sync: SettingsSyncSettings = Field(default_factory=SettingsSyncSettings)


class Secret(str):
    """A str that never shows itself in repr() or logs."""

    def __repr__(self) -> str:
        return "Secret('***')"


class Channel:
    """One LINE Official Account: its settings and resolved secrets."""

    def __init__(self, settings: ChannelSettings, secrets: list[Secret], access_token: Secret):
        self.settings = settings
        self.id = settings.id
        self.name = settings.name
        self.bot_user_id = settings.bot_user_id
        self.language = settings.language
        self.secrets = secrets  # current first; the previous one during a rotation
        self.access_token = access_token

    def text(self, key: str, **values: Any) -> str:
        template = self.settings.texts.get(key) or DEFAULT_TEXTS.get(self.language, DEFAULT_TEXTS["ja"])[key]
        return template.format(**values)

    def __repr__(self) -> str:
        return f"Channel(id={self.id!r}, name={self.name!r})"


class Config:
    """Validated settings plus the secrets they name."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]):
        self._environ = environ  # to build the configuration again with synced settings (`overlaid`)
        self.settings = settings
        problems: list[str] = []

        def require(var: str, key: str) -> str:
            value = environ.get(var)
            if not value:
                problems.append(f"{key}: environment variable {var} is not set")
            return value or ""

        url_var = settings.redis.url_env
        self.redis_url = environ.get(url_var) or settings.redis.default_url
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append(f"{url_var}: not a Redis URL (redis://, rediss:// or unix://)")
        keys_var = settings.encryption.keys_env
        keys = [k.strip() for k in require(keys_var, "encryption.keys_env").split(",") if k.strip()]
        problems += [f"{keys_var}: not a key ({problem})" for problem in _key_problems(keys)]
        self.encryption_keys = [Secret(_canonical_key(k)) for k in keys]
        self.channels: list[Channel] = []
        for i, ch in enumerate(settings.line.channels):
            where = f"line.channels[{i}]"
            secrets = [Secret(require(ch.secret_env, f"{where}.secret_env"))]
            if ch.previous_secret_env and environ.get(ch.previous_secret_env):
                secrets.append(Secret(environ[ch.previous_secret_env]))
            token = Secret(require(ch.access_token_env, f"{where}.access_token_env"))
            self.channels.append(Channel(ch, secrets, token))
        sf = settings.salesforce
        self.sf_username = require(sf.username_env, "salesforce.username_env")
        self.sf_consumer_key = require(sf.consumer_key_env, "salesforce.consumer_key_env")
        if sf.auth == "jwt":
            pem = require(sf.private_key_env, "salesforce.private_key_env").replace("\\n", "\n")
            if pem and (problem := _pem_problem(pem)):
                problems.append(f"{sf.private_key_env}: {problem}")
            self.sf_private_key = Secret(pem)
            self.sf_password = self.sf_consumer_secret = None
        else:
            self.sf_private_key = None
            self.sf_password = Secret(
                require(sf.password_env, "salesforce.password_env") + environ.get(sf.security_token_env, "")
            )
            self.sf_consumer_secret = Secret(require(sf.consumer_secret_env, "salesforce.consumer_secret_env"))
        if sf.ca_bundle and not Path(sf.ca_bundle).is_file():
            problems.append(f"salesforce.ca_bundle: no such file {sf.ca_bundle}")
        tw = settings.twilio
        self.twilio_account_sid = environ.get(tw.account_sid_env) if tw.enabled else None
        self.twilio_auth_token = Secret(environ.get(tw.auth_token_env, "")) if tw.enabled else None
        if tw.enabled:
            require(tw.account_sid_env, "twilio.account_sid_env")
            require(tw.auth_token_env, "twilio.auth_token_env")
        self.twilio_api_key_sid = self.twilio_api_key_secret = None
        if tw.enabled and tw.web_call and not tw.twiml_app_sid:
            problems.append("twilio.twiml_app_sid: required for the web call (twilio.web_call)")
        if tw.enabled and (tw.web_call or tw.console_phone):
            self.twilio_api_key_sid = require(tw.api_key_sid_env, "twilio.api_key_sid_env")
            self.twilio_api_key_secret = Secret(require(tw.api_key_secret_env, "twilio.api_key_secret_env"))
        for i, ch in enumerate(settings.line.channels):
            if ch.voice.enabled and not tw.enabled:
                problems.append(f"line.channels[{i}].voice.enabled: needs twilio.enabled")
        self.callout_secrets = [
            Secret(s.strip()) for s in environ.get("CONNECTOR_CALLOUT_SECRETS", "").split(",") if s.strip()
        ]
        if problems:
            raise ConfigError(*problems)

    def channel(self, channel_id: str) -> Channel:
        for ch in self.channels:
            if ch.id == channel_id:
                return ch
        raise KeyError(channel_id)

    def voice_channel(self, number: str | None) -> Channel | None:
        """The voice-enabled channel whose support number was called, else the first voice channel."""
        voice = [ch for ch in self.channels if ch.settings.voice.enabled]
        return next((ch for ch in voice if ch.settings.voice.support_number == number), voice[0] if voice else None)

    def channel_by_name(self, name: str) -> Channel | None:
        return next((ch for ch in self.channels if ch.name == name), None)

    @property
    def bot_languages(self) -> list[str]:
        """Languages of the channels whose bot is enabled (none: no index, no Knowledge query)."""
        return list(dict.fromkeys(ch.language for ch in self.channels if ch.settings.bot.enabled))


_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def _canonical_key(key: str) -> str:
    """An encryption key as the vault takes it: 64 hex digits (what Heroku's `generator: secret`
    makes) are the same 32 bytes as url-safe base64; anything else is kept as given."""
    if _HEX_KEY.match(key):
        return base64.urlsafe_b64encode(bytes.fromhex(key)).decode("ascii")
    return key


SYNC_SOURCE = "Salesforce custom metadata"


def overlaid(config: Config, overrides: Mapping[str, dict]) -> Config:
    """`config` with the channels' settings synced from Salesforce laid over it, validated as the
    YAML is (ConfigError naming the setting when the result is not a valid configuration)."""
    from connector.domain.settings_records import apply

    data = apply(config.settings.model_dump(mode="json"), overrides)
    return Config(parse_settings(data, SYNC_SOURCE), config._environ)


def _key_problems(keys: list[str]) -> list[str]:
    """What is wrong with each encryption key (never its value): each must decode to 32 bytes."""
    problems = []
    for i, key in enumerate(keys, 1):
        key = _canonical_key(key)
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32 and len(key) == 44
        except (binascii.Error, UnicodeEncodeError, ValueError):
            ok = False
        if not ok:
            problems.append(
                f"key {i} of {len(keys)}: url-safe base64 of 32 bytes or 64 hex digits expected;"
                " make one with: connector keygen"
            )
    return problems


def _pem_problem(pem: str) -> str | None:
    """What is wrong with the JWT bearer's private key (never its content), or None."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        return "not a PEM private key (it is encrypted; give the key without a passphrase)"
    except (ValueError, UnicodeEncodeError):
        return "not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- expected)"
    except Exception as exc:  # noqa: BLE001 - e.g. an unsupported algorithm: still one line, no traceback
        return f"not a PEM private key ({type(exc).__name__})"
    if not isinstance(key, RSAPrivateKey):
        return "not an RSA private key (JWT bearer signs with RS256)"
    return None


def _format_errors(exc: ValidationError, source: str) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling against config.example.yaml)"
        elif err["type"] == "missing":
            msg = "required setting is missing"
        lines.append(f"{source}: {loc or '<top>'}: {msg}")
    return lines


def parse_settings(data: Any, source: str = "config") -> Settings:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must hold a YAML mapping of settings")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(*_format_errors(exc, source)) from None


def load_config(
    path: str | os.PathLike | None = None, *, data: dict | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Load settings from `data`, or the YAML at `path`; without a path, from $CONNECTOR_CONFIG (a
    file), else $CONNECTOR_CONFIG_YAML (the YAML itself: environment-only mode), else ./config.yaml."""
    environ = os.environ if environ is None else environ
    source = "config"
    if data is None:
        path = path or environ.get(DEFAULT_CONFIG_ENV)
        if not path and environ.get(CONFIG_YAML_ENV, "").strip():
            source = CONFIG_YAML_ENV
            data = _parse_yaml(environ[CONFIG_YAML_ENV], source)
        else:
            path = Path(path or "config.yaml")
            source = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    f"{source}: configuration file not found (set {DEFAULT_CONFIG_ENV} to a file,"
                    f" or {CONFIG_YAML_ENV} to the YAML itself, or copy config.example.yaml)"
                ) from None
            data = _parse_yaml(text, source)
    return Config(parse_settings(data, source), environ)


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
