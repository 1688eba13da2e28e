"""The in-process stack that the job and gateway tests run on, written once: the sandbox (LINE, Salesforce
and Twilio stand-ins), the environment a relay process reads, and the settings that point it at the sandbox.

The sandbox and the relay's settings must agree - on the channel id, its secret and token, the integration
user's name, password and consumer key - so these helpers own those values together and a test file states
only what is particular to it (its Redis database, its timeouts, its channel options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.storage.vault import new_key

if TYPE_CHECKING:
    from connector.local.sandbox import Sandbox

CHANNEL = "1000000001"  # the one LINE channel, named "main" in the settings
CHANNEL_TOKEN = "tok"
BOT_USER_ID = "Ubot"
INTEGRATION_USER = "integration@example.com"
INTEGRATION_PASSWORD = "pw"
CONSUMER_KEY = "consumer"
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def start_sandbox(channel_secret: str = "sec", *, strict: bool = True) -> Sandbox:
    """A running sandbox with the one channel (CHANNEL, token "tok") and the integration user that
    relay_environ's SF_* variables log in as. Stop it when done; `with start_sandbox() as sb:` does.

    strict: the sandbox org enforces the objects and fields shipped in sfdc_metadata, so a write the real
    org would refuse fails here too; strict=False accepts any field (for what the metadata does not ship).
    """
    # imported here, not above: the root conftest imports this module for every test, most need no sandbox
    from connector.local.devstack import METADATA_DIR
    from connector.local.sandbox import Sandbox, SandboxChannel
    from connector.local.sandbox.salesforce_store import SalesforceUser

    return Sandbox(
        channels=[SandboxChannel(CHANNEL, channel_secret, CHANNEL_TOKEN, BOT_USER_ID, None)],
        metadata_dir=str(METADATA_DIR) if strict else None,
        salesforce_users=[SalesforceUser(INTEGRATION_USER, INTEGRATION_PASSWORD, CONSUMER_KEY)],
    ).start()


def relay_environ(redis_url: str, channel_secret: str = "sec", channel_token: str = CHANNEL_TOKEN, **extra) -> dict:
    """The environment variables a relay process reads (extra ones added as given): the channel's secret
    and token, the integration user's credentials, and a new encryption key each time, so nothing one
    test sealed opens in another."""
    return {
        "REDIS_URL": redis_url,
        "CONNECTOR_ENCRYPTION_KEYS": new_key(),
        "LINE_MAIN_SECRET": channel_secret,
        "LINE_MAIN_TOKEN": channel_token,
        "SF_USERNAME": INTEGRATION_USER,
        "SF_CONSUMER_KEY": CONSUMER_KEY,
        "SF_PASSWORD": INTEGRATION_PASSWORD,
        "SF_CONSUMER_SECRET": "cs",
        **extra,
    }


def channel_settings(**extra) -> dict:
    """The settings of channel "main" (CHANNEL), its secret and token read from the LINE_MAIN_* variables
    that relay_environ sets; extra keys (bot, voice, survey, ...) added as given."""
    return {
        "id": CHANNEL,
        "name": "main",
        "bot_user_id": BOT_USER_ID,
        "secret_env": "LINE_MAIN_SECRET",
        "access_token_env": "LINE_MAIN_TOKEN",
        **extra,
    }


def line_settings(sb: Sandbox, channel: dict, **extra) -> dict:
    """The `line` section: the sandbox's LINE API and the one channel (extra keys, e.g. timeout_seconds)."""
    return {"api_base_url": sb.urls["line_api"], "data_base_url": sb.urls["line_data"], **extra, "channels": [channel]}


def salesforce_settings(sb: Sandbox, **extra) -> dict:
    """The `salesforce` section: the sandbox org, logged in to with the password flow as the integration
    user, over TLS that trusts the sandbox's own CA (extra keys, e.g. timeout_seconds, as given)."""
    return {"auth": "password", "login_url": sb.urls["salesforce"], "ca_bundle": sb.ca_path, **extra}


def always_open(**extra) -> dict:
    """Business hours open all day every day, so that whether a bot answers never depends on the clock."""
    return {"weekly": {d: ["00:00-24:00"] for d in EVERY_DAY}, **extra}


def installed_runtime(config):
    """A Runtime on `config`, installed as the process's for one test - the web handlers and the jobs look
    it up - and uninstalled afterwards. For fixtures: `yield from installed_runtime(...)`."""
    from connector.runtime import Runtime, set_runtime  # imported when a test needs it, as the fixtures did

    runtime = Runtime(config)
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


def store_event(rt, event: dict, channel: str = CHANNEL) -> None:
    """Put a LINE event in the relay's inbox as the webhook would (one event, group commit of one),
    so a test can drive the drain directly without the web layer."""
    from connector.domain import events as ev

    rt.store.ingest([(channel, ev.event_id(event), ev.conversation_id(channel, event), event)])
