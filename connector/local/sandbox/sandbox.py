"""``Sandbox``: the four stand-in servers (LINE api, LINE data, Salesforce, Twilio) as one object."""

from __future__ import annotations

import shutil

from .faults import FaultRegistry
from .line import LineState, SandboxChannel
from .line_api import LineApiService, LineDataService
from .salesforce import SalesforceService
from .salesforce_store import SalesforceState, SalesforceUser
from .server import Hub, RequestLog, ServiceApp, ServiceServer
from .tls import generate as generate_tls
from .twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioService, TwilioState

SERVICE_ORDER = ("line_api", "line_data", "salesforce", "twilio")


class Sandbox:
    """Local stand-ins for the LINE, Salesforce and Twilio APIs.

    >>> sb = Sandbox(channels=[SandboxChannel("1000000001", "secret", "token", "Ubot0001",
    ...                                       "http://127.0.0.1:5000/line/webhook")]).start()
    >>> sb.urls["salesforce"]            # https://127.0.0.1:<port>
    >>> sb.stop()
    """

    def __init__(
        self,
        channels: list[SandboxChannel] | tuple = (),
        *,
        metadata_dir: str | None = None,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        salesforce_users: list[SalesforceUser] | None = None,
        api_limit: int = 100_000,
        reply_token_ttl: float = 60.0,
        twilio_account_sid: str = DEFAULT_ACCOUNT_SID,
        twilio_auth_token: str = DEFAULT_AUTH_TOKEN,
        ca_out: str | None = None,
    ):
        self.host = host
        self.ports = dict(ports or {})
        self.ca_out = ca_out
        self.hub = Hub(FaultRegistry())
        self.faults = self.hub.faults
        self.line = LineState(list(channels), reply_token_ttl=reply_token_ttl)
        self.salesforce = SalesforceState(metadata_dir=metadata_dir, users=salesforce_users, api_limit=api_limit)
        self.twilio = TwilioState(twilio_account_sid, twilio_auth_token)
        self.logs = {name: RequestLog() for name in SERVICE_ORDER}
        self.salesforce.request_log_source = self.logs["salesforce"]
        self.hub.resetters += [
            self.line.clear,
            self.salesforce.reset,
            self.twilio.clear,
            *(log.clear for log in self.logs.values()),
        ]
        self._servers: dict[str, ServiceServer] = {}
        self._tls = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        if self._servers:
            return self
        self._tls = generate_tls(ca_out=self.ca_out, hosts=_tls_hosts(self.host))
        services = {
            "line_api": LineApiService(self.line),
            "line_data": LineDataService(self.line),
            "salesforce": SalesforceService(self.salesforce),
            "twilio": TwilioService(self.twilio),
        }
        self.hub.stopping.clear()
        try:
            for name in SERVICE_ORDER:
                app = ServiceApp(services[name], self.hub, self.logs[name])
                context = self._tls.server_context() if name == "salesforce" else None
                self._servers[name] = ServiceServer(app, self.host, self.ports.get(name) or 0, ssl_context=context)
        except OSError:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()
            raise
        self.salesforce.instance_url = self._servers["salesforce"].url
        for server in self._servers.values():
            server.start()
        return self

    def stop(self) -> None:
        self.hub.stopping.set()  # wakes threads sleeping in latency/timeout faults
        try:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()
        finally:
            if self._tls is not None:  # the server's private key and certificates go with it
                shutil.rmtree(self._tls.directory, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self._servers.items()}

    @property
    def ca_path(self) -> str | None:
        return self._tls.ca_path if self._tls else None

    # -- control ----------------------------------------------------------------------------
    def set_latency(self, service: str, ms: int) -> None:
        """Baseline latency added to every non-control request of a service ("line" = both)."""
        self.faults.set_latency(service, ms)

    def reset(self) -> None:
        """Clear faults, latency, and every service's data (channels and users stay)."""
        self.hub.reset()

    def request_log(self, service: str) -> list[dict]:
        return self.logs[service].entries()


def _tls_hosts(host: str) -> tuple[str, ...]:
    hosts = ["127.0.0.1", "localhost"]
    if host not in hosts and host not in ("0.0.0.0", "::"):
        hosts.insert(0, host)
    return tuple(hosts)
