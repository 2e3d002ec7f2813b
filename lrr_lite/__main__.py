"""Command line: `lrr-lite serve|scan|set|show-config`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

import waitress

from lrr_lite import __version__, config
from lrr_lite.context import Context
from lrr_lite.http.api.shinobu import start_if_enabled
from lrr_lite.http.app import create_app
from lrr_lite.library import tasks
from lrr_lite.library.intake import scan
from lrr_lite.library.intake.ingest import shown
from lrr_lite.media import memory
from lrr_lite.storage.settings import DEFAULTS


def _escape_controls(record: logging.LogRecord) -> bool:
    """A file or member name with a newline (or another control character) must not forge a log line: the
    message is written with such characters escaped (a traceback, added by the formatter, keeps its lines)."""
    message = record.getMessage()
    if not message.isprintable():
        record.msg = shown(message)
        record.args = None
    return True


def setup_logging(cfg: config.Config, to_file: bool = True) -> None:
    # Under systemd the journal adds its own timestamps; don't print them twice.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if to_file:
        try:
            cfg.logs.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(cfg.logs / "lrr_lite.log", encoding="utf-8"))
        except OSError as exc:
            print(f"lrr-lite: no log file in {cfg.logs}: {exc}", file=sys.stderr)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(fmt))
        handler.addFilter(_escape_controls)
    logging.basicConfig(level=getattr(logging, cfg.log_level, logging.INFO), handlers=handlers, force=True)
    logging.getLogger("libarchive").setLevel(logging.WARNING)  # it logs its own version details at INFO


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrr-lite", description="A LANraragi-compatible archive server.")
    parser.add_argument("--version", action="version", version=f"lrr-lite {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name, help_text in (("serve", "run the server (default)"),
                            ("scan", "scan the content folder once and exit"),
                            ("show-config", "print the merged configuration"),
                            ("set", "change a stored server setting, e.g. `set apikey SECRET`")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", help="INI file (section [server]); also LRR_CONFIG")
        config.add_arguments(p)
        if name == "set":
            p.add_argument("key")
            p.add_argument("value")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    cli = {opt.name: getattr(args, opt.name, None) for opt in config.SCHEMA}
    cfg = config.load(args.config, cli)
    if args.command == "show-config":
        for key, value in vars(cfg).items():
            print(f"{key} = {value}")
        return 0
    setup_logging(cfg, to_file=args.command == "serve")
    ctx = Context.open(cfg)
    try:
        if args.command == "set":
            if args.key not in DEFAULTS:
                print(f"unknown setting {args.key!r}; known: {', '.join(sorted(DEFAULTS))}", file=sys.stderr)
                return 2
            ctx.settings.set(args.key, args.value)
            print(f"{args.key} = {ctx.settings.get(args.key)}")
            return 0
        if args.command == "scan":
            # The same ingest as the server's (plugins, duplicates), then the covers, made here and now.
            report = scan.scan(ctx.ingest, cfg.content)
            tasks.regenerate_covers(ctx, force=False)
            print(report.as_dict())
            return 0
        return serve(ctx)
    finally:
        ctx.close()


def serve(ctx: Context) -> int:
    log = logging.getLogger("lrr_lite")
    cfg = ctx.config
    cfg.content.mkdir(parents=True, exist_ok=True)
    memory.limit_arenas()  # before any worker thread exists
    ctx.start()
    if cfg.scan_on_start:
        ctx.jobs.enqueue("scan_library", [], priority=10)
    app = create_app(ctx)
    start_if_enabled(ctx)  # unless watch=off; it waits for the start-up scan job first

    def stop(signum, frame):  # waitress exits its loop on KeyboardInterrupt/SystemExit
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("lrr_lite %s: content %s, data %s, listening on http://%s:%d/", __version__, cfg.content,
             cfg.data, cfg.host, cfg.port)
    if ctx.settings.get("enablepass") and not ctx.settings.get("apikey"):
        log.warning("no API key set: clients can read, but every write endpoint answers 401. "
                    "Start with --api-key KEY (or LRR_API_KEY) to set one.")
    try:
        waitress.serve(app, host=cfg.host, port=cfg.port, threads=cfg.threads, ident="lrr_lite",
                       max_request_body_size=8 * 1024**3, channel_timeout=300)
    except (KeyboardInterrupt, SystemExit):
        log.info("lrr_lite: stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())



