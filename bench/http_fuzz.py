"""HTTP fuzz of the web process as production runs it: gunicorn with gunicorn.conf.py (gevent
worker), bound to 127.0.0.1, on a private Redis; raw sockets, so anything HTTP allows (and some
of what it does not) reaches the server.

Every inbound endpoint gets requests from a seeded generator: signed and unsigned, bodies nested
up to 100,000 deep, numbers of up to 100,000 digits, text in any script, invalid UTF-8, bodies
over the size limits, chunked bodies (sizes, extensions, broken framing), bodies dribbled slower
than the read deadline or shorter than their Content-Length, headers that are non-ASCII,
overlong, too many, duplicated or contradictory, wrong methods, odd paths and tokens. Each case
knows the one status it must get (the oracle); the run also checks that each status is one
docs/openapi.yaml documents for that endpoint and method, and that every answer from the app
carries X-Content-Type-Options: nosniff.

Phases: Redis up (then replays of accepted callouts -> 409, redeliveries of stored webhooks ->
200 with nothing stored twice, and the backlog must hold exactly the events acknowledged),
Redis down (503 where Redis is needed, everything else unchanged), Redis back.

The test (tests/fuzz/test_http_server.py) runs about 2,500 requests; the long run:
    python -m bench.http_fuzz --requests 50000 --seed 7
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LINE_SECRET = "fuzz-line-channel-secret-0123456789"
CALLOUT_SECRET = "fuzz-callout-secret-0123456789abcdef"
CHANNEL = "2000000001"
BODY_LIMIT = 1024 * 1024  # line.max_body_bytes and routing.callout_max_body_bytes (the defaults)
BODY_TIMEOUT_S = 1.0  # web.body_timeout_seconds in the fuzz config
MAX_DEPTH = 64  # connector/web/edge.py MAX_JSON_DEPTH
SKEW_S = 300
TWILIO_TOKEN = "fuzz-twilio-auth-token-0123456789"
PUBLIC_BASE_URL = "https://relay.example.com"
SUPPORT_NUMBER = "+815012345678"
TWILIO_ENDPOINTS = ["/twilio/voice", "/twilio/gather", "/twilio/status", "/twilio/fallback"]
POST_ENDPOINTS = {
    "/line/webhook",
    "/line/webhook/{name}",
    "/salesforce/callout",
    "/salesforce/voice-token",
    "/call/token",
    *TWILIO_ENDPOINTS,
}
ENDPOINTS = [
    "/line/webhook",
    "/line/webhook/{name}",
    "/salesforce/callout",
    "/media/{token}",
    "/healthz",
    "/readyz",
    "/metrics",
    *TWILIO_ENDPOINTS,
    "/call/token",
    "/salesforce/voice-token",
]
WEIGHTS = [30, 10, 30, 15, 5, 5, 5, 8, 8, 8, 4, 6, 6]
# What the HTTP server itself answers, before the app, for HTTP it cannot take (docs/openapi.yaml,
# x-server-responses); 408 and 413 come from the app's edge for any POST.
SERVER_LEVEL = {"431", "414", "501", "417", "400"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


# -- the server under test --------------------------------------------------------------------------
class Server:
    """A private redis-server and gunicorn as the Procfile starts it, on loopback. Stops what it started."""

    def __init__(self, workers: int = 2, worker_class: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="http-fuzz-"))
        self.redis_port, self.port = free_port(), free_port()
        self.workers = workers
        self.worker_class = worker_class  # None: gunicorn.conf.py's default (gevent)
        self.redis: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        from connector.storage.vault import new_key

        self.keys = [new_key()]

    def start(self) -> "Server":
        self.start_redis()
        config = {
            "public_base_url": "https://relay.example.com",
            "log_level": "WARNING",
            "line": {
                "channels": [
                    {"id": CHANNEL, "name": "main", "secret_env": "FUZZ_LINE_SECRET", "access_token_env": "FUZZ_TOKEN"}
                ],
            },
            # Nothing listens there: /readyz reports Salesforce unavailable at once.
            "salesforce": {"auth": "password", "login_url": f"https://127.0.0.1:{free_port()}", "timeout_seconds": 2},
            "routing": {"callout_max_skew_seconds": SKEW_S},
            "web": {"body_timeout_seconds": BODY_TIMEOUT_S},
            "twilio": {
                "enabled": True,
                "web_call": True,
                "console_phone": True,
                "twiml_app_sid": "AP" + "2" * 32,
            },
        }
        config["line"]["channels"][0]["voice"] = {"enabled": True, "support_number": SUPPORT_NUMBER}
        (self.dir / "config.yaml").write_text(yaml.safe_dump(config))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_CONCURRENCY"))},
            "PYTHONPATH": str(ROOT),
            "CONNECTOR_CONFIG": str(self.dir / "config.yaml"),
            "REDIS_URL": self.redis_url,
            "CONNECTOR_ENCRYPTION_KEYS": ",".join(self.keys),
            "FUZZ_LINE_SECRET": LINE_SECRET,
            "FUZZ_TOKEN": "fuzz-token",
            "SF_USERNAME": "fuzz@example.com",
            "SF_CONSUMER_KEY": "fuzz",
            "SF_PASSWORD": "fuzz",
            "SF_CONSUMER_SECRET": "fuzz",
            "CONNECTOR_CALLOUT_SECRETS": CALLOUT_SECRET,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_API_KEY_SID": "SK" + "1" * 32,
            "TWILIO_API_KEY_SECRET": "fuzz-twilio-api-key-secret",
            "WEB_CONCURRENCY": str(self.workers),
            **({"GUNICORN_WORKER_CLASS": self.worker_class} if self.worker_class else {}),
        }
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "connector.entrypoints.wsgi:app"]
        self.log = open(self.dir / "web.log", "wb")
        self.web = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._answers("/healthz"), 30, "gunicorn")
        return self

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._redis_answers, 10, "redis-server")

    def stop_redis(self) -> None:
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)

    def _redis_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _answers(self, path: str) -> bool:
        if self.web.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {(self.dir / 'web.log').read_text()[-2000:]}")
        try:
            return send(self.port, Case("probe", "GET", path, expected={200})).status == 200
        except OSError:
            return False

    def put_media(self, version_id: str, data: bytes) -> None:
        import redis

        from connector.config import Settings
        from connector.storage.blobs import MEDIA, Blobs
        from connector.storage.keys import Keys
        from connector.storage.vault import Vault

        prefix = Settings.model_fields["redis"].default_factory().key_prefix
        Blobs(redis.Redis.from_url(self.redis_url), Vault(self.keys), Keys(prefix)).put(MEDIA, version_id, data, 3600)

    def log_tail(self) -> str:
        return (self.dir / "web.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.web and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            try:
                self.web.wait(25)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait(5)
        self.stop_redis()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- one request --------------------------------------------------------------------------------------
@dataclass
class Case:
    endpoint: str  # one of ENDPOINTS
    method: str
    target: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    expected: set = field(default_factory=set)  # the statuses it may get; None: closed without an answer
    kind: str = ""  # what shape it is, for the failure report
    chunks: list[int] | None = None  # chunked framing: the chunk sizes
    raw_body: bytes | None = None  # sent as is after the headers (broken framing)
    dribble_s: float | None = None  # send the body a byte at a time, this far apart
    slow_headers: bool = False
    events: list[str] = field(default_factory=list)  # webhook event ids stored when answered 200
    callout_id: str | None = None  # accepted when answered 202
    replay: bool = False


@dataclass
class Answer:
    status: int | None
    headers: dict[str, str]
    elapsed: float
    body: bytes = b""  # what arrived of it with the headers


def request_bytes(case: Case) -> tuple[bytes, bytes]:
    """(head, body) as sent on the wire."""
    lines = [f"{case.method} {case.target} HTTP/1.1".encode("latin-1", "replace")]
    names = {name.lower() for name, _ in case.headers}
    if b"host" not in names:
        lines.append(b"Host: 127.0.0.1")
    if case.raw_body is not None:
        body = case.raw_body
    elif case.chunks is not None:
        body, pos = b"", 0
        for size in case.chunks:
            body += f"{size:x}".encode() + b"\r\n" + case.body[pos : pos + size] + b"\r\n"
            pos += size
        body += b"0\r\n\r\n"
        if b"transfer-encoding" not in names:
            lines.append(b"Transfer-Encoding: chunked")
    else:
        body = case.body
        if b"content-length" not in names and (case.body or case.method in ("POST", "PUT", "PATCH")):
            lines.append(b"Content-Length: " + str(len(case.body)).encode())
    lines += [name + b": " + value for name, value in case.headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n", body


def send(port: int, case: Case, timeout: float = 20.0) -> Answer:
    head, body = request_bytes(case)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if case.slow_headers:
            for i in range(len(head)):
                s.sendall(head[i : i + 1])
                if _readable(s, 0.5):
                    break
                if time.monotonic() - start > timeout:
                    break
        elif case.dribble_s is not None:
            s.sendall(head)
            for i in range(len(body)):
                if _readable(s, case.dribble_s) or time.monotonic() - start > timeout:
                    break
                s.sendall(body[i : i + 1])
        else:
            try:
                s.sendall(head + body)
            except OSError:
                pass  # the server may answer and close before it has read everything (413, 431)
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                part = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not part:
                break
            data += part
        # The body may come in a later segment than the head: read what Content-Length announces.
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        length = _content_length(head_raw)
        while length and len(rest) < min(length, 300):  # the report keeps 300 bytes of a body
            try:
                part = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not part:
                break
            rest += part
            data += part
    elapsed = time.monotonic() - start
    if not data.startswith(b"HTTP/1."):
        return Answer(None, {}, elapsed)
    head_raw, _, body_start = data.partition(b"\r\n\r\n")
    head_part = head_raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in head_part[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(head_part[0].split()[1]), headers, elapsed, body_start[:300])


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def _readable(s: socket.socket, wait: float) -> bool:
    return bool(select.select([s], [], [], wait)[0])


# -- the generator ---------------------------------------------------------------------------------
def line_signature(body: bytes, secret: str = LINE_SECRET) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def _wire(value: str) -> bytes:
    """A header value as bytes: latin-1 where it can be (the server decodes headers as latin-1)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def callout_signature(ts: str, body: bytes, secret: str = CALLOUT_SECRET) -> bytes:
    mac = hmac.new(secret.encode(), ts.encode("latin-1", "replace") + b"." + body, hashlib.sha256).hexdigest()
    return b"v1=" + mac.encode()


TEXTS = [
    "こんにちは、注文の件で",
    "Hello 👋 my order #12345",
    "訂單編號 A-9981 還沒到",
    "สวัสดีครับ สินค้ายังไม่มา",
    "مرحبا",
    "\u202etxet desrever\u202c",
    "zero\u200bwidth\u2028line\u2029para",
    "a\x00b\x01c",
    "😀" * 50,
    "x" * 3000,
    "",
]


class Generator:
    def __init__(self, seed: int, keys: list[str]):
        self.r = random.Random(seed)
        self.keys = keys
        self.n = 0
        self.media_stored = [self._version_id() for _ in range(3)]
        self.media_missing = [self._version_id() for _ in range(3)]

    # ---- small pieces ----
    def _uid(self, prefix: str = "") -> str:
        self.n += 1
        return f"{prefix}{self.n:08d}{self.r.getrandbits(40):010x}"

    def _version_id(self) -> str:
        return "068" + "".join(self.r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(15))

    def _nested(self, depth: int) -> str:
        opener, closer = self.r.choice([("[", "]"), ('{"a":', "}")])
        return opener * depth + "1" + closer * depth

    def _number(self) -> tuple[str, bool]:
        """(a JSON number, whether it is a finite double)."""
        r = self.r
        form = r.randrange(4)
        if form == 0:
            n = r.randint(20, 300)
            return r.choice(["", "-"]) + "9" * n, True
        if form == 1:
            n = r.choice([320, 1000, 5000, 100_000])
            return r.choice(["", "-"]) + "1" * n, False
        if form == 2:
            k = r.choice([10, 300, 400, 999_999])
            return f"1e{k}", k <= 300
        return f"-1e-{r.choice([10, 400, 999_999])}", True

    def _event(self, kind: str | None = None, weird: bool = True) -> dict:
        r = self.r
        eid = self._uid("01F")
        user = "U" + hashlib.sha256(str(r.randrange(50)).encode()).hexdigest()[:32]
        kind = kind or r.choice(["text", "text", "text", "follow", "postback", "image", "sticker", "location", "join"])
        event = {
            "type": "message",
            "mode": r.choice(["active", "active", "standby"]),
            "timestamp": int(time.time() * 1000),
            "webhookEventId": eid,
            "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": user},
            "replyToken": self._uid("rt"),
        }
        if kind == "text":
            event["message"] = {"id": self._uid(), "type": "text", "text": r.choice(TEXTS), "quoteToken": "q"}
        elif kind == "image":
            event["message"] = {"id": self._uid(), "type": "image", "contentProvider": {"type": "line"}}
        elif kind == "sticker":
            event["message"] = {"id": self._uid(), "type": "sticker", "packageId": "1", "stickerId": "2"}
        elif kind == "location":
            event["message"] = {"id": self._uid(), "type": "location", "latitude": 35.6, "longitude": 139.7}
        elif kind == "join":
            event.update(type="join", source={"type": "group", "groupId": "C" + "0" * 32})
        else:
            event["type"] = kind
            if kind == "postback":
                event["postback"] = {"data": r.choice(TEXTS)}
        if weird and r.random() < 0.2:  # values of types LINE never sends: stored, ignored later by the domain
            field_name = r.choice(["type", "timestamp", "message", "source", "mode", "replyToken"])
            event[field_name] = r.choice([None, [], {}, 1.5, "x", True, [1, [2]], {"a": {"b": None}}])
        return event

    def _junk_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers that change nothing the app decides on: non-ASCII, duplicated, forwarded, odd."""
        r = self.r
        out = []
        for _ in range(r.randint(1, 4)):
            out.append(
                r.choice(
                    [
                        (b"User-Agent", "ＬＩＮＥ-Bot/2.0 日本語".encode()),
                        (b"X-Note", bytes(r.randrange(0x80, 0x100) for _ in range(r.randint(1, 200)))),
                        (b"X-Forwarded-For", b"1.2.3.4, \xff\xfe, ::1, not-an-ip"),
                        (b"X-Forwarded-Host", "ホスト.example".encode()),
                        (b"Accept", b"*/*"),
                        (b"Accept", b"application/json"),
                        (b"Content-Language", b"ja, \xe9"),
                        (b"X-Empty", b""),
                        (b"Cookie", b"a=" + b"b" * 4000),
                        (b"Accept-Language", b"ja-JP;q=" + b"9" * 200),
                    ]
                )
            )
        return out

    def _server_level(self, case: Case) -> Case:
        """A mutation the HTTP server itself refuses, before the app."""
        r = self.r
        choice = r.randrange(10)
        if choice == 0:
            case.headers.append((b"X-Long", b"a" * r.choice([8191, 20000, 100_000])))
            case.expected = {431}
        elif choice == 1:
            case.headers += [(f"X-H{i}".encode(), b"1") for i in range(101)]
            case.expected = {431}
        elif choice == 2:
            case.target = case.target + "?" + "q" * r.choice([4100, 10_000])
            case.expected = {414}
        elif choice == 3:
            case.headers.append((r.choice([b"Bad Name", b"X-\xe9t\xe9", b"(x)", b"", b"x{y}", b"@x"]), b"1"))
            case.expected = {400}
        elif choice == 4:
            case.headers += [(b"Content-Length", b"5"), (b"Content-Length", b"6")]
            case.expected = {400}
        elif choice == 5:
            coding = r.choice([b"gzip", b"bogus"])  # a coding without chunked has no length: 400
            case.headers.append((b"Transfer-Encoding", coding))
            case.expected = {400 if coding == b"gzip" else 501}
        elif choice == 6:
            case.headers.append((b"Expect", b"the-unexpected"))
            case.expected = {417}
        elif choice == 7:
            case.headers += [(b"X-Forwarded-Proto", b"https"), (b"X-Forwarded-Ssl", b"off")]
            case.expected = {400}
        elif choice == 8:
            case.headers.append((b"X-Nul", b"a\x00b"))
            case.expected = {400}
        else:  # singleton fields (RFC 9110 5.3) repeated
            name = r.choice([b"Host", b"Content-Type"])
            case.headers += [(name, b"127.0.0.1" if name == b"Host" else b"application/json")] * 2
            case.expected = {400}
        case.kind += "+server:" + str(choice)
        return case

    # ---- cases per endpoint ----
    def case(self, down: bool = False) -> Case:
        r = self.r
        endpoint = r.choices(ENDPOINTS, weights=WEIGHTS)[0]
        case = {
            "/line/webhook": self._webhook,
            "/line/webhook/{name}": self._webhook,
            "/salesforce/callout": self._callout,
            "/media/{token}": self._media,
            "/call/token": self._call_token,
            "/salesforce/voice-token": self._voice_token,
            **dict.fromkeys(TWILIO_ENDPOINTS, self._twilio),
        }.get(endpoint, self._ops)(endpoint, down)
        explicit_length = any(name.lower() == b"content-length" for name, _ in case.headers)
        if r.random() < 0.08 and case.method == "POST" and case.body and case.dribble_s is None and not explicit_length:
            case.chunks = self._chunk_sizes(len(case.body))
            case.kind += "+chunked"
        if r.random() < 0.2:
            case.headers += self._junk_headers()
            case.kind += "+junk headers"
        if r.random() < 0.06:
            case.method = r.choice(["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO", "POST", "POST"])
            allowed = {"POST"} if endpoint in POST_ENDPOINTS else {"GET", "HEAD"}
            if case.method not in allowed:
                case.expected, case.events, case.callout_id = {405}, [], None
            case.kind += "+method " + case.method
        if r.random() < 0.07 and case.chunks is None:
            case = self._server_level(case)
            case.events, case.callout_id = [], None
        elif r.random() < 0.02 and case.method == "POST" and case.expected != {405} and not explicit_length:
            case.chunks, case.dribble_s = None, None
            case.raw_body = r.choice([b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"5\r\nabcde0\r\n\r\n"])
            case.headers.append((b"Transfer-Encoding", b"chunked"))
            case.expected, case.events, case.callout_id = {400}, [], None
            case.kind += "+broken chunks"
        return case

    def _chunk_sizes(self, n: int) -> list[int]:
        sizes = []
        while n > 0:
            size = min(n, self.r.choice([1, 7, 100, 4096, 70000]))
            sizes.append(size)
            n -= size
        return sizes

    def _webhook(self, endpoint: str, down: bool) -> Case:
        r = self.r
        name = "main"
        target = "/line/webhook"
        unknown = False
        if endpoint == "/line/webhook/{name}":
            if r.random() < 0.7:
                target = "/line/webhook/main"
            else:
                unknown = True
                name = r.choice(["other", "%E3%83%A1%E3%82%A4%E3%83%B3", "x" * 2000, "%00", "main%20", "..", "%FF"])
                target = "/line/webhook/" + name
        shape = r.choices(
            ["valid", "empty", "deep", "number", "text", "not json", "wrong shape", "oversize"],
            weights=[30, 5, 20, 12, 8, 8, 8, 3],
        )[0]
        events: list[str] = []
        expected: int
        if shape == "valid":
            evs = [self._event() for _ in range(r.randint(1, 3))]
            body = json.dumps({"destination": "Ubot", "events": evs}, ensure_ascii=r.random() < 0.5).encode()
            events = [e["webhookEventId"] for e in evs]
            expected = 503 if down else 200
        elif shape == "empty":
            body, expected = b'{"destination":"Ubot","events":[]}', 200
        elif shape == "deep":
            depth = r.choice([r.randint(1, 58), r.randint(61, 2000), r.choice([1023, 1025, 10_000, 100_000])])
            evs = [self._event("text", weird=False)]
            spot = r.choice(["event", "top"])
            base = 4 if spot == "event" else 1
            if spot == "event":
                evs[0]["message"]["extra"] = "@@"
            text = json.dumps({"destination": "@@" if spot == "top" else "Ubot", "events": evs})
            body = text.replace('"@@"', self._nested(depth), 1).encode()
            ok = base + depth <= MAX_DEPTH
            events = [evs[0]["webhookEventId"]] if ok else []
            expected = (503 if down else 200) if ok else 400
        elif shape == "number":
            number, finite = self._number()
            evs = [self._event("text", weird=False)]
            evs[0]["message"]["extra"] = "@@"
            body = json.dumps({"destination": "Ubot", "events": evs}).replace('"@@"', number).encode()
            events = [evs[0]["webhookEventId"]] if finite else []
            expected = (503 if down else 200) if finite else 400
        elif shape == "text":
            evs = [self._event("text", weird=False)]
            bad = r.choice([b"\xff\xfe", b"\xed\xa0\x80", b"\\ud800", b"\xc3"])  # invalid UTF-8, a lone surrogate
            body = (
                json.dumps({"destination": "Ubot", "events": evs})
                .encode()
                .replace(b'"quoteToken": "', b'"q": "' + bad, 1)
            )
            expected = 400
        elif shape == "not json":
            body = bytes(r.randrange(256) for _ in range(r.randint(1, 3000)))
            body = b"\x00" + body  # never valid JSON
            expected = 400
        elif shape == "wrong shape":
            body = r.choice([b"[]", b"{}", b'{"events": {}}', b'{"events": [1, 2]}', b'{"events": null}', b"1", b'"x"'])
            body = body + b" " * r.randint(0, 3)
            expected = 400
        else:
            body = b'{"events": [], "pad": "' + b"p" * (BODY_LIMIT + r.randint(1, 100_000)) + b'"}'
            expected = 413
        sign = r.choices(["good", "none", "bad", "non-ascii", "twice", "old secret"], weights=[70, 8, 8, 5, 5, 4])[0]
        headers = [(b"Content-Type", b"application/json")]
        if sign == "good":
            headers.append((b"x-line-signature", line_signature(body)))
        elif sign == "bad":
            headers.append((b"x-line-signature", line_signature(body + b"x")))
        elif sign == "non-ascii":
            headers.append((b"x-line-signature", "é".encode() * 22))
        elif sign == "twice":
            headers += [(b"x-line-signature", line_signature(body))] * 2
        elif sign == "old secret":
            headers.append((b"x-line-signature", line_signature(body, "not-the-secret")))
        if len(body) > BODY_LIMIT:  # refused before anything else
            expected, events = 413, []
        if sign != "good" and expected != 413:
            expected, events = 401, []
        if unknown and expected != 413:
            expected, events = 404, []
        case = Case(endpoint, "POST", target, headers, body, {expected}, f"webhook {shape} sig={sign}", events=events)
        self._maybe_slow(case)
        return case

    def _maybe_slow(self, case: Case) -> None:
        r = self.r
        if r.random() < 0.01 and case.expected != {413} and len(case.body) > 20:
            case.dribble_s = BODY_TIMEOUT_S / 4  # the whole body would take far longer than the deadline
            case.expected, case.events, case.callout_id = {408}, [], None
            case.kind += "+dribbled"
        elif r.random() < 0.005 and case.expected != {413} and case.body:
            case.headers.append((b"Content-Length", str(len(case.body) + 100).encode()))  # 100 bytes never come
            case.expected, case.events, case.callout_id = {408}, [], None
            case.kind += "+short body"

    def _callout(self, endpoint: str, down: bool) -> Case:
        r = self.r
        cid = self._uid("cid-")
        shape = r.choices(
            ["valid", "invalid", "deep", "number", "oversize", "not json"], weights=[40, 20, 15, 10, 3, 5]
        )[0]
        env_type = r.choice(["message.send", "session.close", "session.transfer", "session.read", "presence.update"])
        data: dict = {"sessionKey": f"{CHANNEL}:U{'a' * 32}:01J", "status": "Available"}
        if env_type == "message.send":
            data = {
                "records": [
                    {
                        "messageKey": "op:" + self._uid(),
                        "sessionKey": f"{CHANNEL}:U{'a' * 32}:01J",
                        "messageType": r.choice(["text", "sticker", "image"]),
                        "text": r.choice(TEXTS),
                    }
                    for _ in range(r.randint(1, 3))
                ]
            }
        env = {"type": env_type, "id": cid, "sentAt": "2026-01-01T00:00:00Z", "data": data}
        accepted = 503 if down else 202
        if shape == "valid":
            body, expected = json.dumps(env, ensure_ascii=r.random() < 0.5).encode(), accepted
        elif shape == "invalid":
            broken = r.choice(
                [
                    {**env, "type": r.choice([None, "bogus", 1, ["message.send"]])},
                    {**env, "id": r.choice([None, "", "i" * 201, 5, {"a": 1}])},
                    {**env, "data": r.choice([None, [], "x", 1])},
                    {
                        **env,
                        "type": "message.send",
                        "data": {"records": r.choice([[], None, [1], [{"messageKey": "x"}]])},
                    },
                    [env],
                ]
            )
            body, expected = json.dumps(broken).encode(), 400
        elif shape == "deep":
            depth = r.choice([r.randint(1, 60), r.randint(63, 3000), r.choice([1025, 100_000])])
            env["data"]["extra"] = "@@"
            body = json.dumps(env).replace('"@@"', self._nested(depth), 1).encode()
            expected = accepted if 2 + depth <= MAX_DEPTH else 400
        elif shape == "number":
            number, finite = self._number()
            env["data"]["extra"] = "@@"
            body = json.dumps(env).replace('"@@"', number).encode()
            expected = accepted if finite else 400
        elif shape == "oversize":
            env["data"]["pad"] = "p" * (BODY_LIMIT + r.randint(1, 50_000))
            body, expected = json.dumps(env).encode(), 413
        else:
            body, expected = b"\xff" + bytes(r.randrange(256) for _ in range(r.randint(0, 500))), 400
        now = int(time.time())
        ts_kind = r.choices(
            ["now", "stale", "future", "digits 5000", "superscript", "arabic", "plus", "space", "empty", "twice"],
            weights=[80, 3, 3, 3, 3, 2, 2, 2, 1, 1],
        )[0]
        ts = {
            "now": str(now),
            "stale": str(now - SKEW_S - 100),
            "future": str(now + SKEW_S + 100),
            "digits 5000": "9" * 5000,
            "superscript": "²",
            "arabic": "١٧٠٠٠٠٠٠٠٠",
            "plus": f"+{now}",
            "space": f"{str(now)[:4]} {str(now)[4:]}",
            "empty": "",
        }.get(ts_kind, str(now))
        sig_kind = r.choices(["good", "bad", "missing", "non-ascii", "no prefix"], weights=[85, 5, 4, 3, 3])[0]
        sig = {
            "good": callout_signature(ts, body),
            "bad": callout_signature(ts, body + b"!"),
            "missing": None,
            "non-ascii": b"v1=" + "é".encode() * 32,
            "no prefix": callout_signature(ts, body)[3:],
        }[sig_kind]
        headers = [(b"Content-Type", b"application/json")]
        if ts_kind == "twice":
            headers += [(b"X-Connector-Timestamp", ts.encode())] * 2
        else:
            headers.append((b"X-Connector-Timestamp", _wire(ts)))
        if sig is not None:
            headers.append((b"X-Connector-Signature", sig))
        if len(body) > BODY_LIMIT:  # refused before anything else
            expected = 413
        if expected != 413 and (ts_kind != "now" or sig_kind != "good"):
            expected = 401
        case = Case(
            endpoint,
            "POST",
            "/salesforce/callout",
            headers,
            body,
            {expected},
            f"callout {shape} ts={ts_kind} sig={sig_kind}",
        )
        case.callout_id = cid if expected == 202 else None
        self._maybe_slow(case)
        if case.expected == {408}:
            case.callout_id = None
        return case

    def _media(self, endpoint: str, down: bool) -> Case:
        from connector.domain.media import make_token

        r = self.r
        now = int(time.time())
        shape = r.choices(
            ["stored", "missing", "expired", "tampered", "random", "unicode", "long"],
            weights=[30, 15, 10, 10, 15, 10, 10],
        )[0]
        if shape == "stored":
            token, expected = make_token(self.keys, r.choice(self.media_stored), now + 3600), 503 if down else 200
        elif shape == "missing":  # not in Redis: asked of Salesforce, which this run does not have
            token, expected = make_token(self.keys, r.choice(self.media_missing), now + 3600), 503
        elif shape == "expired":
            token, expected = make_token(self.keys, r.choice(self.media_stored), now - 10), 404
        elif shape == "tampered":
            good = make_token(self.keys, r.choice(self.media_stored), now + 3600)
            token, expected = good[:-1] + ("0" if good[-1] != "0" else "1"), 404
        elif shape == "random":
            token, expected = "".join(r.choice("abcdefABCDEF0123456789._-~") for _ in range(r.randint(1, 80))), 404
        elif shape == "unicode":
            token, expected = (
                r.choice(["%E2%91%A0" * 9, "%C2%B2" * 10, "%00", "%FF%FE", "..%5C..%5Cetc%5Cpasswd", "068%20"]),
                404,
            )
        else:
            token, expected = "A" * r.choice([100, 1000, 4000]), 404
        method = "HEAD" if r.random() < 0.1 else "GET"
        return Case(endpoint, method, "/media/" + token, [], b"", {expected}, f"media {shape} {method}")

    def _twilio(self, endpoint: str, down: bool) -> Case:
        """A Twilio webhook: form parameters in any script and shape, signed by the twilio library
        for the public URL (or not). The oracle: 403 unsigned; else what the IVR answers - TwiML
        (200, the apology while Redis is down), 400 for what is not a call, 503 for a status
        callback Redis cannot take."""
        from urllib.parse import urlencode

        from twilio.request_validator import RequestValidator

        from connector.domain.voice import STATUSES

        r = self.r
        target = endpoint
        step = None
        if endpoint == "/twilio/gather":
            step = r.choice(["menu", "code", "line-result", "dial-done", "bogus", "", "menu%00"])
            target += f"?step={step}"
            if r.random() < 0.4:
                target += "&try=" + r.choice(["2", "x", "%C2%B2", "9" * 30, "-1", ""])
        status = r.choice([*sorted(STATUSES), "bogus", "", "COMPLETED", "in progress"])
        number = lambda: r.choice(
            ["+819012345678", "anonymous", "+266696687", "client:anon-1", "client:web-" + self._uid(), "", "é" * 9]
            + ["０９０１２３４５６７８", "+1" + "9" * 40, "\u202e+81", "x" * 3000]
        )
        digit_text = ["0", "1", "99", "x", "-1", "²", "١٢", "9" * 40, "", "1.5"]
        params = {
            "CallSid": r.choice(["CA" + self._uid()[:32].ljust(32, "0"), "", "CA", "é" * 34]),
            "AccountSid": "AC" + "0" * 32,
            "From": number(),
            "To": r.choice([SUPPORT_NUMBER] * 4 + [number()]),
            "CallStatus": status,
            "Direction": r.choice(["inbound", "outbound-dial", ""]),
            "Digits": r.choice(["1", "2", "123456", "*#", "", "１", "9" * 200]),
            "SequenceNumber": r.choice(digit_text),
            "CallDuration": r.choice(digit_text),
            "Timestamp": r.choice(["Mon, 07 Dec 2026 06:00:00 +0000", "yesterday", "", "Mon, 99 Foo 9999"]),
        }
        for _ in range(r.randint(0, 3)):
            params[r.choice(["ParentCallSid", "DialCallStatus", "ErrorCode", r.choice(TEXTS)[:20]])] = r.choice(TEXTS)
        params = {k: v for k, v in params.items() if r.random() < 0.9 or k == "CallSid"}
        shape = r.choices(["form", "garbage"], weights=[90, 10])[0]
        if shape == "form":
            body = urlencode(params).encode()
        else:
            body = bytes(r.randrange(256) for _ in range(r.randint(0, 2000)))
        sign = r.choices(["good", "none", "bad", "other url"], weights=[80, 7, 7, 6])[0]
        headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
        validator = RequestValidator(TWILIO_TOKEN)
        if sign == "good":
            headers.append(
                (b"X-Twilio-Signature", validator.compute_signature(PUBLIC_BASE_URL + target, params).encode())
            )
        elif sign == "bad":
            headers.append((b"X-Twilio-Signature", validator.compute_signature(PUBLIC_BASE_URL + target, {}).encode()))
        elif sign == "other url":  # what a relay that trusted the Host header would check
            url = "http://127.0.0.1" + target
            headers.append((b"X-Twilio-Signature", validator.compute_signature(url, params).encode()))
        if shape == "garbage":  # whatever form the bytes parse to may even match a signature over {}
            expected = {200, 400, 403, 503}
        elif sign != "good":
            expected = {403}
        elif endpoint == "/twilio/status":
            is_call = bool(params.get("CallSid")) and (params.get("CallStatus") or "").lower() in STATUSES
            expected = {(503 if down else 200) if is_call else 400}
        elif endpoint == "/twilio/gather" and step not in ("menu", "code", "line-result", "dial-done"):
            expected = {200 if down else 400}  # Redis is asked first: down, the caller hears the apology
        else:
            expected = {200}  # TwiML, or the apology while Redis is down
        if len(body) > BODY_LIMIT:
            expected = {413}
        case = Case(endpoint, "POST", target, headers, body, expected, f"twilio {shape} step={step} sig={sign}")
        self._maybe_slow(case)
        return case

    def _call_token(self, endpoint: str, down: bool) -> Case:
        """The web-call page's token: anonymous or with a code nobody issued; limited per address."""
        r = self.r
        shape = r.choice(["anonymous", "code", "not an object", "garbage", "empty"])
        body = {
            "anonymous": b"{}",
            "code": json.dumps({"c": r.choice([self._uid(), "", "x" * 5000, "é", "../../x"])}).encode(),
            "not an object": r.choice([b"[]", b'"c"', b"1", b"null", b'[{"c": "x"}]']),
            "garbage": bytes(r.randrange(256) for _ in range(r.randint(1, 300))),
            "empty": b"",
        }[shape]
        code = shape == "code" and json.loads(body)["c"]
        expected = {503} if down else ({410, 429} if code else {200, 429})
        case = Case(endpoint, "POST", "/call/token", [(b"Content-Type", b"application/json")], body, expected)
        case.kind = f"call token {shape}"
        self._maybe_slow(case)
        return case

    def _voice_token(self, endpoint: str, down: bool) -> Case:
        """The console phone's token: signed like a callout, for a user id (or not)."""
        r = self.r
        user = r.choice(["005000000000001AAA", "005000000000001", "003000000000001AAA", "", "005" + "é" * 15, None])
        env = {"type": r.choice(["voice.device"] * 4 + ["call.offer", None]), "id": self._uid("vt-"), "data": {}}
        if user is not None:
            env["data"]["userId"] = user
        if r.random() < 0.1:
            env = r.choice([[env], {**env, "data": [1]}, {**env, "id": ""}])
        body = json.dumps(env, ensure_ascii=r.random() < 0.5).encode()
        ts = str(int(time.time()))
        sig = r.choices(["good", "bad", "missing"], weights=[85, 8, 7])[0]
        headers = [(b"Content-Type", b"application/json"), (b"X-Connector-Timestamp", ts.encode())]
        if sig != "missing":
            headers.append((b"X-Connector-Signature", callout_signature(ts, body + (b"!" if sig == "bad" else b""))))
        valid = (
            isinstance(env, dict)
            and env.get("type") == "voice.device"
            and bool(env.get("id"))
            and isinstance(env.get("data"), dict)
            and env["data"].get("userId") in ("005000000000001AAA", "005000000000001")
        )
        expected = {401} if sig != "good" else ({503 if down else 200} if valid else {400})
        case = Case(endpoint, "POST", "/salesforce/voice-token", headers, body, expected, f"voice token sig={sig}")
        self._maybe_slow(case)
        return case

    def _ops(self, endpoint: str, down: bool) -> Case:
        status = {"/healthz": 200, "/readyz": 503, "/metrics": 503 if down else 200}[endpoint]
        body = b"" if self.r.random() < 0.8 else bytes(self.r.randrange(256) for _ in range(100))
        return Case(endpoint, "GET", endpoint, [], body, {status}, f"ops {endpoint}")

    def slow_headers(self) -> Case:
        case = Case("/line/webhook", "POST", "/line/webhook", [(b"X-Slow", b"a" * 200)], b"{}", {None}, "slow headers")
        case.slow_headers = True
        return case

    def replay_of(self, case: Case) -> Case:
        """The same signed callout again, freshly timestamped by the same signer: 409 (a replay)."""
        body = case.body
        ts = str(int(time.time()))
        headers = [(b"Content-Type", b"application/json"), (b"X-Connector-Timestamp", ts.encode())]
        headers.append((b"X-Connector-Signature", callout_signature(ts, body)))
        return Case(case.endpoint, "POST", case.target, headers, body, {409}, "callout replay", replay=True)

    def redelivery_of(self, case: Case) -> Case:
        """A stored webhook delivered again (LINE redelivers): 200, nothing stored twice."""
        return Case(
            case.endpoint, "POST", case.target, list(case.headers), case.body, {200}, "webhook redelivery", replay=True
        )


# -- the run -------------------------------------------------------------------------------------------
def documented() -> dict[tuple[str, str], set[int]]:
    """(endpoint, method) -> the statuses docs/openapi.yaml documents."""
    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    server = {int(s) for s in spec["x-server-responses"]}
    out = {}
    for path in ENDPOINTS:
        ops = spec["paths"][path]
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"):
            op = ops.get(method.lower()) or (ops.get("get") if method == "HEAD" else None)
            out[(path, method)] = server | ({int(s) for s in op["responses"]} if op else set())
    return out


@dataclass
class Report:
    sent: Counter = field(default_factory=Counter)  # endpoint -> requests
    statuses: dict = field(default_factory=lambda: defaultdict(Counter))  # endpoint -> status -> count
    failures: list = field(default_factory=list)
    acknowledged: set = field(default_factory=set)  # webhook event ids answered 200
    accepted: list = field(default_factory=list)  # callouts answered 202
    stored_webhooks: list = field(default_factory=list)
    slowest_408: float = 0.0
    phases: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, case: Case, answer: Answer, docs: dict) -> None:
        status = answer.status
        problems = []
        if status not in case.expected:
            problems.append(f"expected {sorted(case.expected, key=str)}")
        if status is not None and status not in docs.get((case.endpoint, case.method), set()):
            problems.append("not documented in docs/openapi.yaml")
        if status is not None and answer.headers.get("x-content-type-options") != "nosniff":
            # Only gunicorn's own error pages come without it (the app's edge adds it to everything).
            from_server = answer.headers.get("content-type", "").startswith("text/html") and answer.body.startswith(
                b"<html>"
            )
            if not from_server or str(status) not in SERVER_LEVEL:
                problems.append("no X-Content-Type-Options: nosniff")
        if status == 408:
            if answer.elapsed > BODY_TIMEOUT_S + 2.0:
                problems.append(f"408 only after {answer.elapsed:.1f} s")
        with self.lock:
            self.sent[case.endpoint] += 1
            self.statuses[case.endpoint][status if status is not None else "closed"] += 1
            if status == 408:
                self.slowest_408 = max(self.slowest_408, answer.elapsed)
            if problems:
                self.failures.append(
                    f"{case.method} {case.target[:80]} [{case.kind}] -> {status}: {'; '.join(problems)}"
                    f" ({answer.body[:160]!r})"
                )
            if status == 200 and case.events:
                self.acknowledged.update(case.events)
                if not case.replay:
                    self.stored_webhooks.append(case)
            if status == 202 and case.callout_id:
                self.accepted.append(case)

    def table(self) -> str:
        lines = [f"{'endpoint':24} {'requests':>8}  statuses seen"]
        for endpoint in ENDPOINTS:
            seen = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses[endpoint].items(), key=lambda x: str(x[0])))
            lines.append(f"{endpoint:24} {self.sent[endpoint]:>8}  {seen}")
        lines.append(f"{'total':24} {sum(self.sent.values()):>8}")
        return "\n".join(lines)


def run_cases(port: int, cases: Iterable[Case], report: Report, docs: dict, concurrency: int) -> int:
    """Send the cases from `concurrency` client threads; cases are made as they are taken (a long
    run never holds them all: some bodies are over a megabyte). Returns how many were sent."""
    source, lock, sent = iter(cases), threading.Lock(), [0]

    def client() -> None:
        while True:
            with lock:  # the generator is not thread-safe; taking cases in turn keeps the seed's sequence
                case = next(source, None)
                sent[0] += case is not None
            if case is None:
                return
            try:
                answer = send(port, case)
            except OSError as exc:
                answer = Answer(None, {}, 0.0)
                case.kind += f" ({type(exc).__name__})"
            report.record(case, answer, docs)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0]


def backlog_events(server: Server) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics?format=json", timeout=10) as resp:
        return json.loads(resp.read())["backlog"]["events"]


def fuzz(requests: int = 2500, seed: int = 17, concurrency: int = 8, slow: int = 4, workers: int = 2) -> Report:
    """Run the three phases against a fresh server; returns the report (failures listed in it)."""
    server = Server(workers=workers).start()
    try:
        report, docs, gen = Report(), documented(), Generator(seed, server.keys)
        for version_id in gen.media_stored:
            server.put_media(version_id, b"\x89PNG\r\n\x1a\n" + os.urandom(200))
        t0 = time.monotonic()
        # 1. Redis up: the cases, slow-header connections beside them, then replays and redeliveries.
        cases = itertools.chain(
            (gen.slow_headers() for _ in range(slow)), (gen.case() for _ in range(int(requests * 0.85)))
        )
        sent = run_cases(server.port, cases, report, docs, concurrency)
        again = [gen.replay_of(c) for c in report.accepted[: max(5, len(report.accepted) // 10)]]
        again += [gen.redelivery_of(c) for c in report.stored_webhooks[: max(5, len(report.stored_webhooks) // 10)]]
        sent += run_cases(server.port, again, report, docs, concurrency)
        stored = backlog_events(server)
        if stored != len(report.acknowledged):
            report.failures.append(f"backlog holds {stored} events; {len(report.acknowledged)} were acknowledged")
        report.phases["redis up"] = {"requests": sent, "s": round(time.monotonic() - t0, 1)}
        report.phases["redis up"]["events acknowledged"] = len(report.acknowledged)
        report.phases["redis up"]["events stored"] = stored
        # 2. Redis down.
        t1 = time.monotonic()
        server.stop_redis()
        down = run_cases(
            server.port, (gen.case(down=True) for _ in range(int(requests * 0.13))), report, docs, concurrency
        )
        report.phases["redis down"] = {"requests": down, "s": round(time.monotonic() - t1, 1)}
        # 3. Redis back (empty: no persistence): stored and answered again.
        t2 = time.monotonic()
        server.start_redis()
        for version_id in gen.media_stored:
            server.put_media(version_id, b"\x89PNG\r\n\x1a\n" + os.urandom(200))
        back = []
        while len(back) < max(10, requests // 50):
            c = gen.case()
            if c.expected in ({200}, {202}) and not c.kind.count("+"):
                back.append(c)
        run_cases(server.port, back, report, docs, concurrency)
        report.phases["redis back"] = {"requests": len(back), "s": round(time.monotonic() - t2, 1)}
        if server.web.poll() is not None:
            report.failures.append("gunicorn exited during the run")
        report.log_tail = server.log_tail()
        return report
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slow", type=int, default=20, help="slow-header connections held open beside the run")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server and Redis it started
    t0 = time.monotonic()
    report = fuzz(args.requests, args.seed, args.concurrency, args.slow)
    print(report.table())
    print(json.dumps(report.phases))
    print(
        f"slowest 408: {report.slowest_408:.2f} s; {len(report.failures)} failure(s) in {time.monotonic() - t0:.0f} s"
    )
    for failure in report.failures[:50]:
        print("  " + failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
