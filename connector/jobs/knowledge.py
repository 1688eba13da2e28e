"""Knowledge sync: published Salesforce Knowledge articles -> a local answer index in Redis.

`sync()` (RQ job; also `connector knowledge sync [--full] [--language ja]`, and scheduled by the
worker every `knowledge.sync_interval_seconds`) pulls, per language of the channels whose bot is
enabled:

* Online article versions changed since the last sync's high-water mark (LastModifiedDate, minus
  `knowledge.overlap_seconds` for transactions that committed late) and upserts them;
* Archived versions changed since the mark and removes their articles (unless that article has
  a newer Online version);
* approved question examples (`LINE_Question_Example__c`, Status Approved) as `Article.examples`.

A full sync (`--full`, or when there is no cached index) reads every Online article and rebuilds,
so articles that stopped being Online for any reason disappear. Field names come from
`knowledge.fields` (orgs differ). The index state, its version counter and the mark live in Redis
(storage/knowledge.py).

Answering a message reads only the in-process copy (`KnowledgeStore.load_index`): no Salesforce call.
`learn_from_case(case_key)` turns articles operators sent on a Case into question-example candidates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import logging
import re
import time
from datetime import timedelta

from connector.domain.knowledge import Article, KnowledgeIndex, is_greeting, is_handoff_request, synonym_groups
from connector.domain.knowledge.calibration import calibrate
from connector.domain.records import CASE, EXAMPLE, Upsert, parse_sf_datetime, ref
from connector.gateways import soql
from connector.gateways.errors import GatewayError
from connector.jobs import KNOWLEDGE_SYNC, enqueue
from connector.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

MAX_EXAMPLES_PER_ARTICLE = 50
LOCK_SECONDS = 600


# -- entry points --------------------------------------------------------------------------------
def sync(language: str | None = None, full: bool = False) -> dict:
    """RQ entry point. Returns {language: stats}."""
    return run_sync(get_runtime(), language=language, full=full)


def run_sync(rt: Runtime, language: str | None = None, full: bool = False) -> dict:
    langs = [language] if language else rt.config.bot_languages
    return {lang: sync_language(rt, lang, full=full) for lang in langs}


def maybe_schedule(rt: Runtime) -> bool:
    """Called by every worker's sweeper: enqueue a sync once per interval across all workers."""
    interval = rt.settings.knowledge.sync_interval_seconds
    if not interval or not rt.config.bot_languages:
        return False
    if not rt.knowledge_store.sync_due(interval):
        return False
    enqueue(
        rt,
        KNOWLEDGE_SYNC,
        key=f"kb-sync-{int(time.time()) // max(1, int(interval))}",
        retry=False,
        failure_ttl_s=24 * 3600,
    )
    return True


# -- sync ----------------------------------------------------------------------------------------
def sync_language(rt: Runtime, lang: str, *, full: bool = False) -> dict:
    kb = rt.knowledge_store
    token = kb.lock(lang, LOCK_SECONDS)
    if token is None:
        log.info("knowledge sync %s: another sync is running; skipped", lang)
        return {"language": lang, "skipped": True}
    try:
        return _sync(rt, lang, full)
    finally:
        kb.unlock(lang, token)


def _sync(rt: Runtime, lang: str, full: bool) -> dict:
    ks = rt.settings.knowledge
    kb = rt.knowledge_store
    encoder = rt.encoder
    cached = kb.state(lang)
    mark_raw = kb.mark(lang)
    mark = parse_sf_datetime(mark_raw)
    groups = synonym_groups(ks.synonym_packs, ks.synonyms)
    # Other synonym groups than the cached index's (the configuration changed): every article is
    # analysed again.
    regroup = cached is not None and _groups_of(cached) != groups
    full = full or cached is None or mark is None or regroup
    code = ks.languages.get(lang, lang)
    since = None if full else mark - timedelta(seconds=ks.overlap_seconds)
    f = ks.fields
    cols = ["Id", "KnowledgeArticleId", "LastModifiedDate", "UrlName", "ArticleNumber"]
    for name in (f.title, f.question, f.answer, f.body, f.url, f.verified_only):
        if name and name not in cols:
            cols.append(name)
    online = soql.knowledge_versions(
        rt.salesforce, ks.sobject, cols, status="Online", language=code, modified_since=since
    )
    calls = 1
    archived: list[dict] = []
    if not full:
        archived = soql.knowledge_versions(
            rt.salesforce,
            ks.sobject,
            ["Id", "KnowledgeArticleId", "LastModifiedDate"],
            status="Archived",
            language=code,
            modified_since=since,
        )
        calls += 1
    examples = _approved_examples(rt) if ks.question_examples else None
    calls += examples is not None
    log.info(
        "knowledge sync %s: %d article version(s) fetched (%s); indexing",
        lang,
        len(online),
        "full" if full else "changes",
    )

    upserted = removed = examples_changed = 0
    if full:
        old_ids = set((cached or {}).get("meta", {}))
        meta: dict[str, dict] = {}
        articles: dict[str, Article] = {}
        for rec in online:
            a = _article(rec, f, lang, examples or {})
            articles[a.id] = a
            meta[a.id] = _meta(rec)
        index = KnowledgeIndex.build(articles.values(), encoder=encoder, synonyms=groups)
        upserted = len(articles)
        removed = len(old_ids - set(articles))
        changed = True
    else:
        index = KnowledgeIndex.from_state(cached["index"], encoder=encoder)
        meta = dict(cached.get("meta") or {})
        online_ids = set()
        for rec in online:
            current_examples = examples if examples is not None else {}
            a = _article(rec, f, lang, current_examples)
            if examples is None and a.id in index:  # examples unavailable: keep what we had
                a = dataclasses.replace(a, examples=index.get(a.id).examples)
            online_ids.add(a.id)
            current = index.get(a.id)
            if current != a:
                index.upsert(a)
                if current is not None and dataclasses.replace(current, examples=a.examples) == a:
                    examples_changed += 1
                else:
                    upserted += 1
            meta[a.id] = _meta(rec)
        for rec in archived:
            aid = rec.get("KnowledgeArticleId") or rec["Id"]
            if aid in online_ids or aid not in index:
                continue
            indexed_version = (meta.get(aid) or {}).get("v")
            if indexed_version in (None, rec["Id"]):
                index.remove(aid)
                meta.pop(aid, None)
                removed += 1
        if examples is not None:
            for a in index.articles:
                want = examples.get(a.id, ())
                if a.examples != want:
                    index.upsert(dataclasses.replace(a, examples=want))
                    examples_changed += 1
        changed = bool(upserted or removed or examples_changed)

    changed = changed or (not ks.calibrate and index.calibration is not None)  # switched off
    if changed:
        if ks.calibrate:
            calibrate(index)  # this KB's own answer threshold (docs/bot.md, "Held-out domains")
        else:
            index.calibration = None

    new_mark = max(
        [d for rec in online + archived if (d := parse_sf_datetime(rec.get("LastModifiedDate")))]
        + ([mark] if mark else []),
        default=None,
    )
    kb.save(
        lang,
        {"language": lang, "synced_at": time.time(), "index": index.to_state(), "meta": meta} if changed else None,
        soql.datetime_literal(new_mark) if new_mark is not None else None,
    )
    stats = {
        "language": lang,
        "full": full,
        "fetched": len(online),
        "archived_seen": len(archived),
        "upserted": upserted,
        "removed": removed,
        "examples_changed": examples_changed,
        "articles": len(index),
        "changed": changed,
        "queries": calls,
    }
    log.info("knowledge sync %s: %s", lang, " ".join(f"{k}={v}" for k, v in stats.items() if k != "language"))
    return stats


def _groups_of(cached: dict) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in ((cached.get("index") or {}).get("synonyms") or {}).items()}


def _approved_examples(rt: Runtime) -> dict[str, tuple[str, ...]] | None:
    """Approved question examples by article id; None when the object is not there (not deployed)."""
    try:
        rows = soql.approved_examples(rt.salesforce)
    except GatewayError as exc:
        log.warning("knowledge sync: question examples unavailable (%s); keeping the current ones", exc)
        return None
    out: dict[str, list[str]] = {}
    for row in rows:
        aid, q = row.get("Article_Id__c"), " ".join(str(row.get("Question__c") or "").split())
        if aid and q and q not in out.setdefault(aid, []):
            out[aid].append(q)
    return {aid: tuple(sorted(qs)[:MAX_EXAMPLES_PER_ARTICLE]) for aid, qs in out.items()}


def _article(rec: dict, f, lang: str, examples: dict) -> Article:
    aid = rec.get("KnowledgeArticleId") or rec["Id"]
    return Article(
        id=aid,
        title=_plain(rec.get(f.title)),
        question=_plain(rec.get(f.question)) if f.question else "",
        answer=_plain(rec.get(f.answer)),
        body=_plain(rec.get(f.body)) if f.body else "",
        url=(rec.get(f.url) or None) if f.url else None,
        language=lang,
        examples=tuple(examples.get(aid, ())),
        verified_only=_flag(rec.get(f.verified_only)) if f.verified_only else False,
    )


def _flag(value) -> bool:
    """A checkbox as the REST API returns it (true/false), or as text where a field is a formula."""
    return value is True or str(value).strip().lower() == "true"


def _meta(rec: dict) -> dict:
    return {"v": rec["Id"], "u": rec.get("UrlName"), "n": rec.get("ArticleNumber")}


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br\s*/?|/p|/div|/li|/h\d)\s*>", re.I)


def _plain(value) -> str:
    """Rich-text fields hold HTML: keep the text and line breaks for a chat bubble."""
    text = str(value or "")
    if "<" in text and ">" in text:
        text = _TAG.sub("", _BREAK.sub("\n", text))
    text = html.unescape(text) if "&" in text else text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- learning from operators ---------------------------------------------------------------------
_ID = re.compile(r"\b(?:ka|kA)[0-9A-Za-z]{13}(?:[0-9A-Za-z]{3})?\b")


def learn_from_case(case_key: str) -> int:
    """RQ job: question-example candidates from the articles operators sent on a Case.

    The console inserts an article as "title\\nsummary" into the draft; an operator message that
    carries `Knowledge_Article_Id__c`, a Knowledge id, the article's public URL (per the channel's
    `article_url_template`) or starts with an indexed article's title counts as using that article.
    The customer's question is the first inbound text of the session that is not a greeting or a
    request for a person. Returns the number of new candidates (idempotent: keyed by Case and
    article; existing ones, maybe reviewed already, are left alone). Enqueued when a session closes
    (the "closed" signal, jobs/bot.py).
    """
    return run_learn(get_runtime(), case_key)


def run_learn(rt: Runtime, case_key: str) -> int:
    sessions = soql.sessions_of_case(rt.salesforce, case_key)
    upserts: list[Upsert] = []
    for s in sessions:
        msgs = soql.session_transcript(rt.salesforce, s["Id"])
        try:
            channel = rt.config.channel(s.get("Channel_Id__c") or "")
        except KeyError:
            continue
        index, meta = rt.knowledge_store.load_index(channel.language, rt.encoder)
        question = next(
            (
                m["Text__c"]
                for m in msgs
                if m.get("Direction__c") == "Inbound"
                and m.get("Type__c") == "text"
                and m.get("Text__c")
                and not is_greeting(m["Text__c"])
                and not is_handoff_request(m["Text__c"])
            ),
            None,
        )
        if not question:
            continue
        used: list[str] = []
        for m in msgs:
            if m.get("Direction__c") != "Operator":
                continue
            for aid in _articles_in(m, index, meta, channel):
                if aid not in used:
                    used.append(aid)
        for aid in used:
            key = "operator:" + hashlib.sha256(f"{case_key}|{aid}".encode()).hexdigest()[:40]
            article = index.get(aid)
            fields = {
                "Question__c": question,
                "Article_Id__c": aid[:18],
                "Source__c": "Operator",
                "Status__c": "Candidate",
                "Session_Key__c": s["Session_Key__c"][:120],
                "Case__r": ref(CASE, case_key),
            }
            if article is not None:
                fields["Article_Title__c"] = article.title[:255]
            upserts.append(Upsert(EXAMPLE, key, fields))
    if upserts:
        # Only new candidates: never reset a candidate an admin already reviewed.
        existing = soql.existing_example_keys(rt.salesforce, [u.key for u in upserts])
        upserts = [u for u in upserts if u.key not in existing]
    if upserts:
        results = rt.salesforce.upsert_many(upserts)
        bad = [r for r in results.values() if not r.ok]
        if bad:
            raise GatewayError("salesforce", f"question examples: {bad[0].summary}")
    log.info("learn_from_case: %d new candidate(s)", len(upserts))
    return len(upserts)


def _articles_in(message: dict, index: KnowledgeIndex, meta: dict, channel) -> list[str]:
    found: list[str] = []
    if message.get("Knowledge_Article_Id__c"):
        found.append(message["Knowledge_Article_Id__c"])
    text = message.get("Text__c") or ""
    versions = {m.get("v"): aid for aid, m in meta.items()}
    for token in _ID.findall(text):
        aid = token if token in index else versions.get(token)
        if aid:
            found.append(aid)
    template = channel.settings.bot.article_url_template
    first_line = text.strip().splitlines()[0].strip() if text.strip() else ""
    for a in index.articles:
        m = meta.get(a.id) or {}
        if template:
            url = template.format(
                url_name=m.get("u") or "", id=a.id, article_number=m.get("n") or "", language=a.language
            )
            if url in text:
                found.append(a.id)
                continue
        if a.title and first_line == a.title.strip():
            found.append(a.id)
    return [aid for aid in found if aid in index]
