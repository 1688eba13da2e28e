"""Every Redis key name the relay uses, in one place, under one configurable prefix.

Nothing outside `connector.storage` builds a key: stores take a `Keys` and ask it. Lua scripts
receive the prefix and the fragments below (`LOCK`, `INBOX`, ...) as arguments, so a script and
the Python side can never disagree about a name.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "ln:"

# Fragments the Lua scripts in store.py append a conversation id to.
INBOX = "inbox:"
LOCK = "lock:"
STATE = "state:"
ATTEMPTS = "attempts:"
DECIDED = "decided:"
PSTATE = "pstate:"


@dataclass(frozen=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    # -- inbound pipeline (store.Store) ---------------------------------------------------------
    def dedupe(self, channel_id: str, event_id: str) -> str:
        return f"{self.prefix}dedupe:{channel_id}:{event_id}"

    def inbox(self, conv: str) -> str:
        return f"{self.prefix}{INBOX}{conv}"

    def lock(self, conv: str) -> str:
        return f"{self.prefix}{LOCK}{conv}"

    def state(self, conv: str) -> str:
        return f"{self.prefix}{STATE}{conv}"

    def attempts(self, conv: str) -> str:
        return f"{self.prefix}{ATTEMPTS}{conv}"

    def decided(self, conv: str) -> str:
        """What was decided (and answered on LINE) for the inbox's head events, not yet written."""
        return f"{self.prefix}{DECIDED}{conv}"

    def pstate(self, conv: str) -> str:
        """The state after the last decided event (the committed state lags behind it)."""
        return f"{self.prefix}{PSTATE}{conv}"

    @property
    def ready(self) -> str:
        return self.prefix + "ready"

    @property
    def doorbell(self) -> str:
        return self.prefix + "doorbell"

    @property
    def dead_letters(self) -> str:
        return self.prefix + "dlq"

    @property
    def dead_letter_index(self) -> str:
        return self.prefix + "dlq:index"

    def marker(self, name: str) -> str:
        return f"{self.prefix}sent:{name}"

    def pause(self, service: str) -> str:
        """A hash: consecutive failures, and while writes are paused their level, since and until."""
        return f"{self.prefix}pause:{service}"

    def held(self, service: str) -> str:
        """Conversations whose every event is answered and waits for `service` (out of `ready`)."""
        return f"{self.prefix}held:{service}"

    @property
    def metrics(self) -> str:
        return self.prefix + "metrics"

    def claimed(self, second: int) -> str:
        """A counter: events drains claimed in that second (all workers; the batching window's rate)."""
        return f"{self.prefix}claimed:{second}"

    @property
    def api_usage(self) -> str:
        """A hash: the org's daily API usage Salesforce last reported (used, limit, at)."""
        return self.prefix + "sf:api-usage"

    # -- leases and once-per-interval flags (leases.Leases) -------------------------------------
    def lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    # -- sealed bytes (blobs.Blobs) -------------------------------------------------------------
    def blob(self, kind: str, ident: str) -> str:
        return f"{self.prefix}{kind}:{ident}"

    # -- routing (routing.RoutingStore) ---------------------------------------------------------
    def routing(self, name: str) -> str:
        return f"{self.prefix}routing:{name}"

    # -- Knowledge index (knowledge.KnowledgeStore) ---------------------------------------------
    def knowledge(self, lang: str, part: str = "") -> str:
        return f"{self.prefix}kb:{lang}" + (f":{part}" if part else "")

    @property
    def knowledge_sync_due(self) -> str:
        return self.prefix + "kb:sync-due"

    # -- voice with Twilio (voice.VoiceStore) ---------------------------------------------------
    def voice(self, name: str) -> str:
        return f"{self.prefix}voice:{name}"

    # -- identity-image retention (retention.RetentionStore) ------------------------------------
    def retention(self, name: str) -> str:
        return f"{self.prefix}retention:{name}"

    # -- support IDs (support_id.SupportIdStore) ------------------------------------------------
    def support_id(self, name: str) -> str:
        return f"{self.prefix}support-id:{name}"

    # -- LINE account link (account_link.AccountLinkStore) --------------------------------------
    def account_link(self, name: str) -> str:
        return f"{self.prefix}account-link:{name}"

    # -- Prometheus snapshots of the worker processes (store.Store; issue 22) --------------------
    @property
    def metrics_snapshots(self) -> str:
        """A hash: worker id -> its latest counters in Prometheus' text format, with when."""
        return self.prefix + "metrics:snapshots"

    # -- settings synced from Salesforce custom metadata (store.Store; issue 22) -----------------
    @property
    def synced_settings(self) -> str:
        """A hash: the last good overrides (JSON), their digest, and the last sync's status (JSON)."""
        return self.prefix + "settings:synced"
