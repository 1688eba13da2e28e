"""What a process needs at run time, built once from the configuration and kept.

The Runtime owns every process-wide object: the Redis client and the stores on it, the queue,
the gateways, thread pools and caches. Nothing else keeps module-level state, so a test builds a
Runtime and gets a process of its own. Workers run jobs in-process (no fork per job), so what is
built here lives as long as the worker.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from connector.config import Config, load_config
from connector.storage import redis_client
from connector.storage.blobs import Blobs
from connector.storage.keys import Keys
from connector.storage.leases import Leases
from connector.storage.store import Store
from connector.storage.vault import Vault

log = logging.getLogger(__name__)
_current: "Runtime | None" = None
_current_lock = threading.Lock()


SYNCED_CHECK_S = 2.0  # how often a process looks whether the settings synced from Salesforce changed


class Runtime:
    def __init__(self, config: Config, *, web: bool = False):
        self.base_config = config  # the YAML's (and the environment's)
        self._config = config
        self._synced_digest: str | None = None
        self._synced_checked_at = 0.0
        self._synced_lock = threading.Lock()
        self._synced_failing = False
        self.web = web  # the web process: Redis gets the shorter `redis.web_socket_timeout_seconds`
        self.salesforce_ok_at = 0.0  # when Salesforce last authenticated for /readyz

    # -- the effective configuration -------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The YAML's configuration with the settings synced from Salesforce laid over it
        (`settings_sync.enabled`; jobs/settings_sync.py): a change reaches every process within
        SYNCED_CHECK_S of the sync, without a restart."""
        if self.base_config.settings.settings_sync.enabled:
            now = time.monotonic()
            if now - self._synced_checked_at >= SYNCED_CHECK_S and self._synced_lock.acquire(blocking=False):
                try:
                    self._synced_checked_at = now
                    self._refresh_synced()
                finally:
                    self._synced_lock.release()
        return self._config

    @property
    def settings(self):
        return self.config.settings

    def _refresh_synced(self) -> None:
        from connector.config import ConfigError, overlaid
        from connector.storage import StorageError

        try:
            digest = self.store.synced_settings_digest()
            self._synced_failing = False
            if digest == self._synced_digest:
                return
            digest, overrides = self.store.synced_settings()
            self._config = overlaid(self.base_config, overrides) if overrides else self.base_config
            self._synced_digest = digest
        except StorageError as exc:  # keep what we have; the next look tries again (said once)
            if not self._synced_failing:
                log.warning("synced settings unavailable (%s); keeping the current ones", type(exc).__name__)
            self._synced_failing = True
        except ConfigError as exc:  # validated before it was saved: only a changed YAML gets here
            log.error("synced settings do not fit this configuration; keeping the current ones: %s", exc)
            self._synced_digest = digest

    # -- Redis and what lives there ------------------------------------------------------------
    @functools.cached_property
    def redis(self):
        s = self.settings.redis
        timeout = s.web_socket_timeout_seconds if self.web else s.socket_timeout_seconds
        return redis_client(self.config.redis_url, tls_verify=s.tls_verify, timeout_s=timeout)

    @functools.cached_property
    def worker_redis(self):
        """RQ's worker loop gets a client of its own: RQ raises its socket timeout above the
        blocking dequeue's wait (about a minute), which must not apply to the relay's commands."""
        s = self.settings.redis
        return redis_client(self.config.redis_url, tls_verify=s.tls_verify, timeout_s=s.socket_timeout_seconds)

    @functools.cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis.key_prefix)

    @functools.cached_property
    def vault(self) -> Vault:
        return Vault(self.config.encryption_keys)

    @functools.cached_property
    def store(self) -> Store:
        return Store(self.redis, self.vault, dedupe_ttl_s=self.settings.redis.dedupe_ttl_hours * 3600, keys=self.keys)

    @functools.cached_property
    def leases(self) -> Leases:
        return Leases(self.redis, self.keys)

    @functools.cached_property
    def blobs(self) -> Blobs:
        return Blobs(self.redis, self.vault, self.keys)

    @functools.cached_property
    def routing_store(self):
        from connector.storage.routing import RoutingStore

        return RoutingStore(self.redis, self.vault, keys=self.keys)

    @functools.cached_property
    def knowledge_store(self):
        from connector.storage.knowledge import KnowledgeStore

        return KnowledgeStore(self.redis, self.keys)

    @functools.cached_property
    def voice_store(self):
        from connector.storage.voice import VoiceStore

        return VoiceStore(self.redis, self.vault, self.keys, dedupe_ttl_s=self.settings.redis.dedupe_ttl_hours * 3600)

    @functools.cached_property
    def retention_store(self):
        from connector.storage.retention import RetentionStore

        return RetentionStore(self.redis, self.keys)

    @functools.cached_property
    def support_id_store(self):
        from connector.storage.support_id import SupportIdStore

        return SupportIdStore(self.redis, self.keys)

    @functools.cached_property
    def account_link_store(self):
        from connector.storage.account_link import AccountLinkStore

        return AccountLinkStore(self.redis, self.vault, self.keys)

    @functools.cached_property
    def queue(self):
        from connector.storage.queue import make_queue

        return make_queue(self.settings.queue.name, self.redis, timeout_s=self.settings.queue.job_timeout_seconds)

    # -- domain helpers built from configuration -----------------------------------------------
    @property
    def redactor(self):
        """Built once per set of rules (the synced settings may bring new ones)."""
        rules = self.settings.redaction.rules
        built = self.__dict__.get("_redactor")
        if built is None or built[0] is not rules:
            from connector.domain.redaction import Redactor, rules_from_config

            built = (rules, Redactor(rules_from_config([r.model_dump() for r in rules])))
            self._redactor = built
        return built[1]

    # -- gateways ------------------------------------------------------------------------------
    @functools.cached_property
    def line(self):
        from connector.gateways.line import LineGateway

        s = self.settings.line
        return LineGateway(
            self.config.channels,
            api_base_url=s.api_base_url,
            data_base_url=s.data_base_url,
            timeout_s=s.timeout_seconds,
        )

    @functools.cached_property
    def salesforce(self):
        from connector.gateways.salesforce import SalesforceGateway
        from connector.jobs import outage

        gateway = SalesforceGateway(self.config)
        gateway.gate = lambda: outage.pause_reason(self)
        return gateway

    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API requests, as Salesforce's last answer to this
        process said (Sforce-Limit-Info); None before any answer."""
        gateway = self.__dict__.get("salesforce")  # never built just to ask
        usage = gateway.api_usage if gateway is not None else None
        return usage if usage and usage[1] else None

    @functools.cached_property
    def twilio(self):
        from connector.gateways.twilio import TwilioGateway

        s = self.settings.twilio
        if not s.enabled:
            raise RuntimeError("twilio is not enabled in the configuration (twilio.enabled)")
        return TwilioGateway(
            self.config.twilio_account_sid,
            self.config.twilio_auth_token,
            base_url=s.api_base_url,
            timeout_s=s.timeout_seconds,
        )

    @functools.cached_property
    def twilio_verifier(self):
        """Checks X-Twilio-Signature (None when Twilio is not enabled: every request is refused)."""
        from connector.gateways.twilio import SignatureVerifier

        return SignatureVerifier(self.config.twilio_auth_token) if self.settings.twilio.enabled else None

    @functools.cached_property
    def encoder(self):
        """The bot's sentence encoder (None when `knowledge.semantic` is off); loaded once."""
        from connector.gateways.embedder import get_encoder

        return get_encoder(self.settings.knowledge.semantic)

    @functools.cached_property
    def hours_cache(self) -> dict:
        """Each channel's parsed business hours, by its settings object (parsing holidays is not free)."""
        return {}

    # -- thread pools --------------------------------------------------------------------------
    @functools.cached_property
    def line_pool(self) -> ThreadPoolExecutor:
        """LINE calls of different conversations overlap; Salesforce gets one call per batch anyway."""
        return ThreadPoolExecutor(max_workers=16, thread_name_prefix="line")

    @functools.cached_property
    def writer_pool(self) -> ThreadPoolExecutor:
        """One batch's Salesforce write and commit, while the next batch is claimed and answered on LINE."""
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="salesforce-write")


def get_runtime(*, web: bool = False) -> Runtime:
    """The process's runtime; built from $CONNECTOR_CONFIG on first use (`web`: for the web process)."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Runtime(load_config(os.environ.get("CONNECTOR_CONFIG")), web=web)
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
