"""`connector` command line. Configuration errors print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys

from connector.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connector", description="LINE <-> Salesforce Service Cloud connector")
    parser.add_argument(
        "--config",
        help="config YAML (default: $CONNECTOR_CONFIG, else $CONNECTOR_CONFIG_YAML's text, else ./config.yaml)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("check-config", help="validate the configuration and the secrets it names")
    w = sub.add_parser(
        "worker", help="run an RQ worker (its sweeper moves due retries onto the queue; no RQ scheduler process)"
    )
    w.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    sub.add_parser("web", help="run the web app with Flask's server (development; production uses gunicorn)")
    sub.add_parser("keygen", help="print a new encryption key for CONNECTOR_ENCRYPTION_KEYS")
    r = sub.add_parser("redact", help="mask card data in standard input, line by line")
    r.add_argument("--no-config", action="store_true", help="built-in rules only, ignore the configuration's rules")

    failed = sub.add_parser("failed", help="dead-letter registry").add_subparsers(dest="action", required=True)
    failed.add_parser("list", help="list dead letters (ids, errors; no message text)")
    rp = failed.add_parser("replay", help="put dead letters back to be processed (idempotent)")
    rp.add_argument("id", nargs="?")
    rp.add_argument("--all", action="store_true")

    bot = sub.add_parser("bot", help="auto-reply bot").add_subparsers(dest="action", required=True)
    bot.add_parser("eval", help="evaluate the answer engine on a KB and questions", add_help=False)

    kb = sub.add_parser("knowledge", help="Knowledge articles for the bot").add_subparsers(dest="action", required=True)
    ks = kb.add_parser("sync", help="pull changed Knowledge articles into the bot's index now")
    ks.add_argument("--full", action="store_true", help="re-read every Online article and rebuild the index")
    ks.add_argument("--language", help="only this channel language (default: every bot-enabled channel's)")

    st = sub.add_parser("settings", help="settings admins keep in Salesforce custom metadata")
    st.add_subparsers(dest="action", required=True).add_parser(
        "sync", help="read, validate and publish them now; print the result (exit 1 when invalid)"
    )

    sub.add_parser("dev", help="run sandbox + web + worker in the foreground for trying things by hand")
    sub.add_parser("demo", help="run the scripted demo on the sandbox and print what happened")

    args, rest = parser.parse_known_args(argv)
    if rest and not (args.command == "bot" and args.action == "eval"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # Argument errors come before the configuration is read: a typo is named as one, not as a
    # configuration problem.
    if args.command == "failed" and args.action == "replay" and bool(args.id) == bool(args.all):
        rp.error("give a dead letter's ID or --all (one of them)")
    try:
        return _run(args, rest) or 0
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("line-sfdc-connector")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _runtime(args):
    from connector.config import load_config
    from connector.runtime import Runtime, set_runtime

    rt = Runtime(load_config(args.config))
    set_runtime(rt)
    return rt


def _run(args, rest) -> int:
    cmd = args.command
    if cmd == "keygen":
        from connector.storage.vault import new_key

        print(new_key())
    elif cmd == "check-config":
        rt = _runtime(args)
        print(
            f"configuration ok: {len(rt.config.channels)} LINE channel(s), salesforce auth {rt.settings.salesforce.auth}"
        )
    elif cmd == "redact":
        from connector.domain.redaction import Redactor, redact_stream

        redactor = Redactor() if args.no_config else _runtime(args).redactor
        for line in redact_stream(sys.stdin, redactor):
            sys.stdout.write(line)
            sys.stdout.flush()
    elif cmd == "worker":
        from connector.entrypoints.worker import run_worker
        from connector.logs import configure_logging

        rt = _runtime(args)
        configure_logging(rt.settings.log_level, rt.settings.log_format)
        run_worker(rt, burst=args.burst)
    elif cmd == "web":
        from connector.entrypoints.app import create_app

        rt = _runtime(args)
        create_app(rt.config).run(host="127.0.0.1", port=5000)
    elif cmd == "failed":
        return _failed(args)
    elif cmd == "bot":
        from connector.entrypoints import bot_eval

        return bot_eval.main(rest)
    elif cmd == "knowledge":
        from connector.jobs.knowledge import run_sync
        from connector.logs import configure_logging

        rt = _runtime(args)
        # On a terminal, the sync's progress (fetched, indexing, done) as it goes.
        configure_logging("INFO" if sys.stderr.isatty() else rt.settings.log_level, rt.settings.log_format)
        results = run_sync(rt, language=args.language, full=args.full)
        for stats in results.values():
            print(json.dumps(stats, ensure_ascii=False))
        if not results:
            print("no channel has the bot enabled (line.channels[].bot.enabled); nothing to sync", file=sys.stderr)
    elif cmd == "settings":
        from connector.jobs.settings_sync import sync

        rt = _runtime(args)
        if not rt.settings.settings_sync.enabled:
            print("settings_sync.enabled is false: the relay uses its YAML alone; nothing to sync", file=sys.stderr)
            return 2
        status = sync(rt)
        print(json.dumps(status, ensure_ascii=False))
        return 0 if status["ok"] else 1
    elif cmd in ("dev", "demo"):
        from connector.local import devstack

        return devstack.dev() if cmd == "dev" else devstack.demo()
    return 0


def _failed(args) -> int:
    from connector.jobs.failed import replay

    rt = _runtime(args)
    if args.action == "list":
        rows = rt.store.dead_letters()
        for row in rows:
            print(
                json.dumps({k: row[k] for k in ("id", "kind", "conv", "attempts", "at", "error")}, ensure_ascii=False)
            )
        print(f"{len(rows)} dead letter(s)", file=sys.stderr)
        return 0
    ids = [r["id"] for r in rt.store.dead_letters()] if args.all else [args.id]
    replayed = sum(1 for i in ids if replay(rt, i))
    print(f"replayed {replayed} of {len(ids)}")
    return 0 if replayed == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
