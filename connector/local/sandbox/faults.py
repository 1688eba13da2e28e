"""Fault and latency injection shared by every sandbox service.

A fault matches requests by service, optional HTTP method and optional path (a prefix, or a
regular expression searched in the path). It fires ``count`` times (or forever), during
``duration_s`` seconds (or forever) from ``starts_in_s`` seconds after it was added (or at once),
each time with ``probability`` (or always). The first matching fault wins. ``outage`` schedules
a service outage as a whole: mostly 503s, some timeouts and reset connections. What a fault *does* is decided by the service runner (``server.py``),
which asks the service for its realistic error body.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field

SERVICES = ("line_api", "line_data", "salesforce", "twilio")
# "line" is a convenience alias that matches both LINE hosts.
SERVICE_ALIASES = {"line": ("line_api", "line_data")}

KINDS = (
    "status",  # answer `status` with the service's error body; nothing is applied
    "rate_limit",  # 429 (+ Retry-After when retry_after is given)
    "timeout",  # wait `ms` (default 30000) then answer 504; nothing is applied
    "latency",  # add `ms` and then serve the request normally
    "reset",  # close the connection without any response
    "invalid_session",  # Salesforce 401 INVALID_SESSION_ID
    "limit_exceeded",  # Salesforce 403 REQUEST_LIMIT_EXCEEDED
    "after_apply_status",  # apply the request, then answer `status` (default 500) anyway
)


@dataclass
class Fault:
    id: str
    service: str
    kind: str
    method: str | None = None
    path: str | None = None
    count: int | None = None
    duration_s: float | None = None
    probability: float | None = None
    status: int | None = None
    ms: int | None = None
    retry_after: int | None = None
    starts_in_s: float | None = None
    created_at: float = field(default_factory=time.time)
    hits: int = 0
    _regex: re.Pattern | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("_regex", None)
        return data

    def matches(self, service: str, method: str, path: str, now: float) -> bool:
        if self.service != service and service not in SERVICE_ALIASES.get(self.service, ()):
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path and not path.startswith(self.path):
            if self._regex is None or not self._regex.search(path):
                return False
        start = self.created_at + (self.starts_in_s or 0)
        if now < start:
            return False
        if self.duration_s is not None and now > start + self.duration_s:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        return True


class FaultRegistry:
    """Thread-safe list of active faults plus per-service baseline latency."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._latency_ms: dict[str, int] = {}
        self._rng = random.Random()

    def add(
        self,
        service: str,
        kind: str,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        duration_s: float | None = None,
        probability: float | None = None,
        status: int | None = None,
        ms: int | None = None,
        retry_after: int | None = None,
        starts_in_s: float | None = None,
    ) -> str:
        if service not in SERVICES and service not in SERVICE_ALIASES:
            raise ValueError(f"unknown service {service!r}; expected one of {SERVICES + tuple(SERVICE_ALIASES)}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if kind == "status" and status is None:
            raise ValueError("a 'status' fault needs status=")
        regex = None
        if path:
            try:
                regex = re.compile(path)
            except re.error:
                regex = None
        with self._lock:
            fault = Fault(
                id=f"f{next(self._ids)}",
                service=service,
                kind=kind,
                method=method,
                path=path,
                count=count,
                duration_s=duration_s,
                probability=probability,
                status=status,
                ms=ms,
                retry_after=retry_after,
                starts_in_s=starts_in_s,
                _regex=regex,
            )
            self._faults.append(fault)
        return fault.id

    def outage(
        self,
        service: str,
        *,
        duration_s: float,
        starts_in_s: float = 0,
        path: str | None = None,
        timeout_ms: int = 2000,
        status: int = 503,
    ) -> list[str]:
        """The service is down for `duration_s` seconds from `starts_in_s` on: one request in ten
        times out (after `timeout_ms`), one in ten has its connection reset, the rest get `status`.
        Returns the ids of the faults (remove them to end it early)."""
        window = {"duration_s": duration_s, "starts_in_s": starts_in_s, "path": path}
        return [
            self.add(service, "timeout", ms=timeout_ms, probability=0.1, **window),
            self.add(service, "reset", probability=0.1, **window),
            self.add(service, "status", status=status, **window),
        ]

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def match(self, service: str, method: str, path: str) -> Fault | None:
        """Return the first fault that fires for this request, counting the hit."""
        now = time.time()
        with self._lock:
            if not self._faults:
                return None
            for fault in self._faults:
                if not fault.matches(service, method, path, now):
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                fault.hits += 1
                return fault
        return None

    def set_latency(self, service: str, ms: int) -> None:
        targets = SERVICE_ALIASES.get(service, (service,))
        for target in targets:
            if target not in SERVICES:
                raise ValueError(f"unknown service {service!r}")
        with self._lock:
            for target in targets:
                self._latency_ms[target] = max(0, int(ms))

    def latency_ms(self, service: str) -> int:
        return self._latency_ms.get(service, 0)

    def latencies(self) -> dict[str, int]:
        with self._lock:
            return dict(self._latency_ms)

    def reset_latency(self) -> None:
        with self._lock:
            self._latency_ms.clear()
