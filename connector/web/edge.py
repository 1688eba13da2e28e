"""What every request and response of the web process goes through, before and after Flask.

* A POST's body is read in full before the app sees it, within `web.body_timeout_seconds` and a
  size cap: a client that dribbles its body (or declares more than it sends) is answered 408 at
  the deadline instead of holding a connection for as long as it cares to, and a body whose
  chunked framing is broken is answered 400. gunicorn's gevent worker bounds only the wait for
  the headers (its keepalive timeout), not the body.
* JSON bodies are parsed by `parse_json`, which refuses nesting deeper than any request LINE or
  Apex sends (MAX_JSON_DEPTH), so nothing behind it (sealing, event ids) recurses without bound.
* Every response carries headers that keep a browser from sniffing a type (the media endpoint
  serves bytes from Salesforce), framing the relay or leaking its URLs. The one page the relay
  serves (the web call, web/call_page.py) sets a Content-Security-Policy of its own, which is
  kept: it allows its own scripts and Twilio's media servers and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading

import orjson

MAX_JSON_DEPTH = 64  # LINE's webhook bodies nest about 6 deep, Apex's callout envelopes about 5
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
]
_SECURITY_NAMES = {name.lower() for name, _ in SECURITY_HEADERS}
_CSP = "content-security-policy"


def parse_json(body: bytes):
    """The JSON value of `body`; ValueError if it is not JSON or nests deeper than MAX_JSON_DEPTH."""
    value = orjson.loads(body)  # JSONDecodeError is a ValueError; orjson itself stops at 1,024 levels
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:  # else it cannot nest that deep
        _check_depth(value)
    return value


def _check_depth(value) -> None:
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth == MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in node)


class BodyTimeout(Exception):
    """The request body did not arrive within the deadline."""


class Edge:
    """WSGI middleware around the Flask app (see the module docstring)."""

    def __init__(self, app, *, max_body_bytes: int, body_timeout_s: float):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            own_csp = [h for h in headers if h[0].lower() == _CSP]
            headers = [h for h in headers if h[0].lower() not in _SECURITY_NAMES]
            headers += [h for h in SECURITY_HEADERS if not (own_csp and h[0].lower() == _CSP)] + own_csp
            return start_response(status, headers, exc_info)

        if environ.get("REQUEST_METHOD") == "POST":
            refusal = self._buffer_body(environ)
            if refusal is not None:
                status, message = refusal
                return _json(start, status, message)
        return self.app(environ, start)

    def _buffer_body(self, environ) -> tuple[str, str] | None:
        """Replace wsgi.input by the whole body, read in time; or say why not (status, error)."""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared = environ.get("CONTENT_LENGTH") or ""
        if chunked:
            want = self.max_body_bytes + 1
        elif not declared:
            want = 0
        elif not declared.isascii() or not declared.isdigit():
            return "400 Bad Request", "malformed Content-Length"
        else:
            want = int(declared)
            if want > self.max_body_bytes:
                _end_reads(environ)
                return "413 Request Entity Too Large", "request body too large"
        body = b""
        if want:
            try:
                with _deadline(self.body_timeout_s, environ):
                    body = _read(environ["wsgi.input"], want)
            except BodyTimeout:
                _end_reads(environ)
                return "408 Request Timeout", "request body not received in time"
            except Exception:  # noqa: BLE001 - broken chunked framing or a reset: the client's fault
                _end_reads(environ)
                return "400 Bad Request", "malformed request body"
            if len(body) > self.max_body_bytes:
                _end_reads(environ)
                return "413 Request Entity Too Large", "request body too large"
            if not chunked and len(body) < want:
                return "400 Bad Request", "request body shorter than its Content-Length"
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return None


def _read(stream, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = stream.read(min(size - got, 64 * 1024))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _json(start, status: str, message: str):
    body = json.dumps({"error": message}).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _deadline(seconds: float, environ):
    """A context in which a blocked body read ends with BodyTimeout after `seconds`."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):  # gunicorn's gevent worker
        import gevent

        return gevent.Timeout(seconds, BodyTimeout)
    sock = environ.get("gunicorn.socket")
    if sock is not None:  # a thread per connection (gthread): end the socket's reads at the deadline
        return _ReadsEndAt(sock, seconds)
    return contextlib.nullcontext()  # in-process (tests, the development server): the body is at hand


class _ReadsEndAt:
    def __init__(self, sock, seconds: float):
        self.fired = False
        self.timer = threading.Timer(seconds, self._fire, args=(sock,))
        self.timer.daemon = True

    def _fire(self, sock) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)  # the blocked recv() returns: end of stream

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        if self.fired:
            raise BodyTimeout()


def _end_reads(environ) -> None:
    """The rest of this connection's input is unreadable: end it once the answer is sent."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
