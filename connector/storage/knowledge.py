"""The bot's Knowledge index in Redis, and the in-process copy each worker answers from.

Per language (keys.py):
    kb:{lang}           JSON {"format", "index": KnowledgeIndex.to_state(), "meta": {id: {v, u, n}}}
    kb:{lang}:version   a new random token whenever the index changes (workers reload on change)
    kb:{lang}:mark      LastModifiedDate high-water mark of the last sync (Salesforce's clock)
    kb:{lang}:lock      one sync per language at a time
"""

from __future__ import annotations

import json
import logging
import secrets
import threading

import redis

from connector.domain.knowledge import KnowledgeIndex
from connector.storage.keys import Keys

log = logging.getLogger(__name__)
STATE_FORMAT = "line-kb/1"


class KnowledgeStore:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys
        self._lock = threading.Lock()
        self._copies: dict[str, tuple[bytes | None, KnowledgeIndex, dict]] = {}

    # -- the sync's side -------------------------------------------------------------------------
    def lock(self, lang: str, ttl_s: int) -> str | None:
        token = secrets.token_hex(8)
        return token if self.r.set(self.keys.knowledge(lang, "lock"), token, nx=True, ex=ttl_s) else None

    def unlock(self, lang: str, token: str) -> None:
        key = self.keys.knowledge(lang, "lock")
        if (self.r.get(key) or b"").decode() == token:
            self.r.delete(key)

    def state(self, lang: str) -> dict | None:
        """The stored index state, or None when there is none (or it is of another format)."""
        raw = self.r.get(self.keys.knowledge(lang))
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("format") == STATE_FORMAT else None

    def mark(self, lang: str) -> str | None:
        raw = self.r.get(self.keys.knowledge(lang, "mark"))
        return raw.decode() if raw else None

    def save(self, lang: str, state: dict | None, mark: str | None) -> None:
        """Store a changed index (a new version: every worker reloads) and/or the new mark, at once."""
        pipe = self.r.pipeline(transaction=True)
        if state is not None:
            pipe.set(
                self.keys.knowledge(lang),
                json.dumps(dict(state, format=STATE_FORMAT), ensure_ascii=False, separators=(",", ":")),
            )
            pipe.set(self.keys.knowledge(lang, "version"), secrets.token_hex(8))  # unique even after a flush
        if mark is not None:
            pipe.set(self.keys.knowledge(lang, "mark"), mark)
        pipe.execute()

    def sync_due(self, interval_s: int) -> bool:
        """True for one caller per interval across all workers."""
        return bool(self.r.set(self.keys.knowledge_sync_due, "1", nx=True, ex=max(1, int(interval_s))))

    # -- the answering side ----------------------------------------------------------------------
    def load_index(self, lang: str, encoder=None) -> tuple[KnowledgeIndex, dict]:
        """(index, meta) of `lang`: the in-process copy, reloaded only when Redis has a newer version.

        Costs one Redis GET per call and never a Salesforce call. Without a synced index the bot still
        greets and hands off (an empty index matches nothing). With an `encoder` (semantic.Encoder),
        the vectors the sync stored are reused; articles without them are embedded here.
        """
        version = self.r.get(self.keys.knowledge(lang, "version"))
        with self._lock:
            cur = self._copies.get(lang)
            if cur is not None and cur[0] == version and cur[1].encoder is encoder:
                return cur[1], cur[2]
            state = self.state(lang)
            if state is None:
                index, meta = KnowledgeIndex.build([], encoder=encoder), {}
            else:
                index = KnowledgeIndex.from_state(state["index"], encoder=encoder)
                meta = state.get("meta") or {}
            self._copies[lang] = (version, index, meta)
            log.info(
                "knowledge index %s loaded: version %s, %d article(s)",
                lang,
                version.decode() if version else "-",
                len(index),
            )
            return index, meta
