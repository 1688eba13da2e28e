"""The runner shared by every sandbox service.

``ServiceApp`` is the WSGI application of one service: it serves ``/__sandbox__/...`` control
endpoints, applies baseline latency and injected faults, calls the service's ``dispatch`` and
records each request. ``ServiceServer`` runs it on a threaded werkzeug server in a daemon thread.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .faults import Fault, FaultRegistry

CONTROL_PREFIX = "/__sandbox__/"


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = Response(data, status=status, headers=headers or {})
    if body is not None:
        response.content_type = "application/json;charset=UTF-8"
    return response


def read_json(request: Request) -> Any:
    """The request body as JSON; raises ValueError on malformed JSON."""
    raw = request.get_data(cache=True)
    if not raw:
        return None
    return json.loads(raw)


class Hub:
    """What all services share: the fault registry and a stop signal for sleeping threads."""

    def __init__(self, faults: FaultRegistry | None = None):
        self.faults = faults or FaultRegistry()
        self.stopping = threading.Event()
        self.resetters: list[Callable[[], None]] = []

    def sleep(self, ms: float) -> None:
        """Sleep, but wake up at once when the sandbox stops (so stop() never hangs)."""
        if ms > 0:
            self.stopping.wait(ms / 1000.0)

    def reset(self) -> None:
        self.faults.clear()
        self.faults.reset_latency()
        for reset in self.resetters:
            reset()


class Service:
    """Base class of a simulated API. Subclasses implement ``dispatch`` and ``error_response``."""

    name = "service"

    def dispatch(self, request: Request) -> Response:
        raise NotImplementedError

    def control(self, request: Request, subpath: str) -> Response | None:
        """Service-specific control endpoints under /__sandbox__/ (None = not handled)."""
        return None

    def error_response(self, kind: str, status: int, fault: Fault | None = None) -> Response:
        raise NotImplementedError

    def decorate(self, request: Request, response: Response) -> None:
        """Add headers every response of this service carries."""


class RequestLog:
    """A bounded, thread-safe log of the requests a service answered."""

    def __init__(self, maxlen: int = 100_000):
        self._entries: deque[dict] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ServiceApp:
    """WSGI app: control endpoints, latency, faults, dispatch, request log."""

    def __init__(self, service: Service, hub: Hub, log: RequestLog):
        self.service = service
        self.hub = hub
        self.log = log

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.get_data(cache=True)  # drain the body so the connection can be kept alive
        if request.path.startswith(CONTROL_PREFIX):
            response = self._control(request)
        else:
            response = self._serve(request)
            if response is None:  # connection reset
                return []
        return response(environ, start_response)

    # -- regular requests ---------------------------------------------------------------
    def _serve(self, request: Request) -> Response | None:
        started = time.perf_counter()
        name = self.service.name
        self.hub.sleep(self.hub.faults.latency_ms(name))
        fault = self.hub.faults.match(name, request.method, request.path)
        applied = True
        if fault is None:
            response = self.service.dispatch(request)
        elif fault.kind == "latency":
            self.hub.sleep(fault.ms or 0)
            response = self.service.dispatch(request)
        elif fault.kind == "after_apply_status":
            self.service.dispatch(request)
            response = self.service.error_response("status", fault.status or 500, fault)
        elif fault.kind == "reset":
            self._record(request, None, fault, started, applied=False)
            _reset_connection(request.environ)
            return None
        else:
            applied = False
            if fault.kind == "timeout":
                self.hub.sleep(fault.ms if fault.ms is not None else 30000)
                response = self.service.error_response("status", 504, fault)
            elif fault.kind == "rate_limit":
                response = self.service.error_response("rate_limit", fault.status or 429, fault)
                if fault.retry_after is not None:
                    response.headers["Retry-After"] = str(fault.retry_after)
            else:
                response = self.service.error_response(fault.kind, fault.status or 500, fault)
        self.service.decorate(request, response)
        self._record(request, response, fault, started, applied)
        return response

    def _record(
        self, request: Request, response: Response | None, fault: Fault | None, started: float, applied: bool
    ) -> None:
        self.log.append(
            {
                "service": self.service.name,
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("latin-1"),
                "status": response.status_code if response is not None else None,
                "fault": fault.kind if fault else None,
                "fault_id": fault.id if fault else None,
                "applied": applied,
                "counted": bool(request.environ.get("sandbox.counted")),
                "ms": round((time.perf_counter() - started) * 1000, 3),
                "at": time.time(),
            }
        )

    # -- control endpoints --------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        subpath = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        try:
            if subpath == "faults":
                return self._faults(request)
            if subpath.startswith("faults/") and request.method == "DELETE":
                removed = self.hub.faults.remove(subpath.split("/", 1)[1])
                return json_response({"removed": removed}, 200 if removed else 404)
            if subpath == "latency" and request.method == "POST":
                body = read_json(request) or {}
                self.hub.faults.set_latency(body.get("service", self.service.name), int(body.get("ms", 0)))
                return json_response({"latency": self.hub.faults.latencies()})
            if subpath == "latency":
                return json_response({"latency": self.hub.faults.latencies()})
            if subpath == "reset" and request.method == "POST":
                self.hub.reset()
                return json_response({"reset": True})
            if subpath == "requests":
                return json_response(self.log.entries())
            response = self.service.control(request, subpath)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        if response is None:
            return json_response({"error": f"no control endpoint {request.method} {request.path}"}, 404)
        return response

    def _faults(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self.hub.faults.list())
        if request.method == "DELETE":
            self.hub.faults.clear()
            return json_response({"cleared": True})
        body = read_json(request) or {}
        service = body.pop("service", self.service.name)
        kind = body.pop("kind")
        fault_id = self.hub.faults.add(service, kind, **body)
        return json_response({"id": fault_id}, 201)


def _reset_connection(environ) -> None:
    """Abort the TCP connection (RST) without writing a response."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionResetError("sandbox fault: reset")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    # werkzeug treats ConnectionError as "client went away" and stays quiet.
    raise ConnectionResetError("sandbox fault: reset")


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive WSGI handler, without per-request log lines.

    werkzeug's own handler always answers ``Connection: close`` (http.server cannot drain
    unread bodies). ``ServiceApp`` always reads the whole body, so this handler can keep
    connections open. That matters for benchmarks, and above all for the HTTPS service, where
    every new connection costs a TLS handshake.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers
            return lambda data: None

        try:
            result = self.server.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except ConnectionError:
            self.close_connection = True  # a "reset" fault, or the client went away
            return
        code, _, reason = started["status"].partition(" ")
        self.send_response(int(code), reason)
        has_length = False
        for key, value in started["headers"]:
            has_length = has_length or key.lower() == "content-length"
            self.send_header(key, value)
        if not has_length and int(code) not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def log_request(self, *args, **kwargs):
        pass

    def log(self, type, message, *args):
        if type == "error":
            super().log(type, message, *args)


class ServiceServer:
    """One service on one port, served by a threaded werkzeug server in a daemon thread."""

    def __init__(self, app: ServiceApp, host: str, port: int = 0, ssl_context=None):
        self.app = app
        self._server = make_server(
            host, port or 0, app, threaded=True, request_handler=_KeepAliveHandler, ssl_context=ssl_context
        )
        self._server.timeout = 0.5
        self.host = host
        self.port = self._server.server_port
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{self.app.service.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
