"""What a process needs at run time, built once from the configuration and kept.

Workers run jobs in-process (no fork per job), so the Salesforce session, HTTP connection pools
and caches built here live as long as the worker.
"""
from __future__ import annotations

import functools
import os

from rq import Queue

from connector.config import Config, load_config
from connector.crypto import Vault
from connector.store import Store, redis_client

_current: "Runtime | None" = None


class Runtime:
    def __init__(self, config: Config):
        self.config = config
        self.settings = config.settings

    @functools.cached_property
    def redis(self):
        s = self.settings.redis
        return redis_client(self.config.redis_url, tls_verify=s.tls_verify, timeout_s=s.socket_timeout_seconds)

    @functools.cached_property
    def vault(self) -> Vault:
        return Vault(self.config.encryption_keys)

    @functools.cached_property
    def store(self) -> Store:
        return Store(self.redis, self.vault, dedupe_ttl_s=self.settings.redis.dedupe_ttl_hours * 3600)

    @functools.cached_property
    def queue(self) -> Queue:
        return Queue(self.settings.queue.name, connection=self.redis,
                     default_timeout=self.settings.queue.job_timeout_seconds)

    @functools.cached_property
    def redactor(self):
        from connector.domain.redaction import Redactor, rules_from_config
        return Redactor(rules_from_config([r.model_dump() for r in self.settings.redaction.rules]))

    @functools.cached_property
    def line(self):
        from connector.gateways.line import LineGateway
        s = self.settings.line
        return LineGateway(self.config.channels, api_base_url=s.api_base_url, data_base_url=s.data_base_url,
                           timeout_s=s.timeout_seconds)

    @functools.cached_property
    def salesforce(self):
        from connector.gateways.salesforce import SalesforceGateway
        return SalesforceGateway(self.config)

    @functools.cached_property
    def twilio(self):
        from connector.gateways.twilio import TwilioGateway
        s = self.settings.twilio
        if not s.enabled:
            raise RuntimeError("twilio is not enabled in the configuration (twilio.enabled)")
        return TwilioGateway(self.config.twilio_account_sid, self.config.twilio_auth_token,
                             base_url=s.api_base_url, timeout_s=s.timeout_seconds)


def get_runtime() -> Runtime:
    """The process's runtime; built from $CONNECTOR_CONFIG on first use."""
    global _current
    if _current is None:
        _current = Runtime(load_config(os.environ.get("CONNECTOR_CONFIG")))
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
