"""Run the sandbox standalone.

    python -m connector.local.sandbox --port-base 8700 \\
        --channel 1000000001:secret:token:Ubot0001:http://127.0.0.1:5000/line/webhook \\
        --metadata-dir sfdc_metadata/force-app/main/default --ca-out /tmp/sandbox-ca.pem

or ``--config sandbox.yaml`` with the same keys (channels as a list of mappings). Prints the
URLs as one JSON line on stdout when ready, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

import yaml

from .line import SandboxChannel
from .salesforce_store import SalesforceUser
from .sandbox import SERVICE_ORDER, Sandbox


def parse_channel(text: str) -> SandboxChannel:
    parts = text.split(":", 4)
    if len(parts) != 5:
        raise argparse.ArgumentTypeError("--channel is id:secret:token:botUserId:webhookUrl")
    return SandboxChannel(*parts)


def build(argv: list[str] | None = None) -> Sandbox:
    parser = argparse.ArgumentParser(
        prog="python -m connector.local.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="YAML file with the options below")
    parser.add_argument("--host", default=None)
    parser.add_argument(
        "--port-base", type=int, default=None, help="line_api=base+1, line_data=+2, salesforce=+3, twilio=+4"
    )
    parser.add_argument("--channel", action="append", type=parse_channel, default=[])
    parser.add_argument("--metadata-dir")
    parser.add_argument("--ca-out", help="where to write the CA certificate (PEM)")
    parser.add_argument("--api-limit", type=int)
    args = parser.parse_args(argv)
    config = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    channels = [SandboxChannel(**c) for c in config.get("channels", [])] + args.channel
    port_base = args.port_base if args.port_base is not None else config.get("port_base")
    ports = dict(config.get("ports") or {})
    if port_base:
        ports = {name: port_base + i + 1 for i, name in enumerate(SERVICE_ORDER)}
    users = [SalesforceUser(**u) for u in config.get("salesforce_users", [])] or None
    twilio = config.get("twilio") or {}
    kwargs = {}
    if twilio.get("account_sid"):
        kwargs["twilio_account_sid"] = twilio["account_sid"]
    if twilio.get("auth_token"):
        kwargs["twilio_auth_token"] = twilio["auth_token"]
    return Sandbox(
        channels,
        metadata_dir=args.metadata_dir or config.get("metadata_dir"),
        host=args.host or config.get("host", "127.0.0.1"),
        ports=ports,
        salesforce_users=users,
        api_limit=args.api_limit or config.get("api_limit", 100_000),
        ca_out=args.ca_out or config.get("ca_out"),
        **kwargs,
    )


def main(argv: list[str] | None = None) -> int:
    sandbox = build(argv).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(json.dumps({**sandbox.urls, "ca_path": sandbox.ca_path}), flush=True)
    try:
        done.wait()
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
