"""How much Redis memory events take while Salesforce is down (issue 17): bytes per 10,000 events.

    python -m bench.outage_memory [events] [users]

In-process against the sandbox, on a Redis database of its own (BENCH_REDIS_URL, database 11 of
REDIS_URL by default; the instance's memory is read, so run it where nothing else writes). Text
messages of 20-60 characters (Japanese, like the demo's) from `users` friends are acknowledged
while Salesforce answers 503; the drain answers each on LINE (welcome) and keeps what it decided.
Reported: Redis' used_memory growth after the webhooks (sealed events + dedupe keys) and after the
drain answered them (+ decisions kept beside the inboxes), per 10,000 events.
"""

from __future__ import annotations

import json
import random
import sys
import time

TEXTS = [
    "注文した商品がまだ届きません。配送状況を教えてください。",
    "返品したいのですが、手続きはどうすればいいですか？",
    "ポイントの有効期限はいつまでですか",
    "パスワードを忘れてしまいました",
    "請求書の宛名を変更できますか？会社名でお願いしたいです。",
    "ありがとうございます！",
]


def run(events: int = 10_000, users: int = 500) -> dict:
    import redis

    from bench.common import BENCH_REDIS_URL
    from connector.config import load_config
    from connector.domain import events as ev
    from connector.jobs.inbound import Drainer
    from connector.local.devstack import METADATA_DIR
    from connector.local.sandbox import Sandbox, SandboxChannel
    from connector.local.sandbox.salesforce_store import SalesforceUser
    from connector.runtime import Runtime
    from connector.storage.vault import new_key

    channel = "1000000001"
    sb = Sandbox(
        channels=[SandboxChannel(channel, "sec", "tok", "Ubot", None)],
        metadata_dir=str(METADATA_DIR),
        salesforce_users=[SalesforceUser("integration@example.com", "pw", "consumer")],
    ).start()
    r = redis.Redis.from_url(BENCH_REDIS_URL)
    r.flushdb()
    try:
        environ = {
            "REDIS_URL": BENCH_REDIS_URL,
            "CONNECTOR_ENCRYPTION_KEYS": new_key(),
            "LINE_MAIN_SECRET": "sec",
            "LINE_MAIN_TOKEN": "tok",
            "SF_USERNAME": "integration@example.com",
            "SF_CONSUMER_KEY": "consumer",
            "SF_PASSWORD": "pw",
            "SF_CONSUMER_SECRET": "cs",
        }
        data = {
            "line": {
                "api_base_url": sb.urls["line_api"],
                "data_base_url": sb.urls["line_data"],
                "channels": [
                    {
                        "id": channel,
                        "name": "main",
                        "bot_user_id": "Ubot",
                        "secret_env": "LINE_MAIN_SECRET",
                        "access_token_env": "LINE_MAIN_TOKEN",
                    }
                ],
            },
            "salesforce": {
                "auth": "password",
                "login_url": sb.urls["salesforce"],
                "ca_bundle": sb.ca_path,
                "outage": {"failures_to_pause": 1, "pause_seconds": 3600},
            },
        }
        rt = Runtime(load_config(data=data, environ=environ))
        ids = [f"U{i:032x}" for i in range(users)]
        for uid in ids:
            sb.line.add_user(channel, uid, "お客様")
        sb.faults.add("salesforce", "status", status=503, path=r"^/services/data/")
        # One event first, so the pause starts and what follows is measured in its steady state.
        first = sb.line.send_user_message(channel, ids[0], {"type": "text", "text": "start"}, deliver=False)
        rt.store.ingest([(channel, ev.event_id(first), ev.conversation_id(channel, first), first)])
        Drainer(rt).run()
        assert rt.store.outage() is not None
        rng = random.Random(5)
        batch = []
        before = r.info("memory")["used_memory"]
        for i in range(events):
            uid = ids[i % users]
            event = sb.line.send_user_message(
                channel, uid, {"type": "text", "text": rng.choice(TEXTS)[: rng.randint(20, 60)]}, deliver=False
            )
            batch.append((channel, ev.event_id(event), ev.conversation_id(channel, event), event))
            if len(batch) == 200:
                rt.store.ingest(batch)
                batch = []
        if batch:
            rt.store.ingest(batch)
        acknowledged = r.info("memory")["used_memory"]
        t0 = time.time()
        Drainer(rt).run()
        answered_s = time.time() - t0
        answered = r.info("memory")["used_memory"]
        backlog = rt.store.backlog()
        per = 10_000 / events
        return {
            "events": events,
            "users": users,
            "held": backlog,
            "bytes_per_10k_events_acknowledged": round((acknowledged - before) * per),
            "bytes_per_10k_events_answered": round((answered - before) * per),
            "answer_s": round(answered_s, 1),
            "line_replies": len(sb.line.delivered()),
        }
    finally:
        r.flushdb()
        sb.stop()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), indent=2))
