"""Command line: `lrr-lite serve|scan|set|show-config`.

Anything a user can cause (a bad flag or config file, a folder that is missing, a file or unwritable, a port in
use, a bad setting value) ends with one line `lrr-lite: what, which path or value, what to do` and exit code 2
(usage and configuration) or 1 (the machine's state). A traceback means a bug: only the last-resort guard in
`main` prints one.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import logging
import logging.handlers
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any, NoReturn

import waitress

from lrr_lite import __version__, config
from lrr_lite.context import Context
from lrr_lite.errors import Invalid
from lrr_lite.http.api.shinobu import start_if_enabled
from lrr_lite.http.app import create_app
from lrr_lite.http.web import session
from lrr_lite.library import tasks
from lrr_lite.library.intake import lrrclient, lrrimport, scan
from lrr_lite.library.intake.ingest import shown
from lrr_lite.media import memory
from lrr_lite.storage.settings import BY_KEY, CHECK_EVERY, SETTABLE, Setting

LOG_FILE_BYTES = 5 * 1024 * 1024  # the log file rotates at this size ...
LOG_FILE_BACKUPS = 3              # ... keeping this many old ones (lrr_lite.log.1 …)
PICKED_UP = f"(a running server picks this up within {int(CHECK_EVERY) + 1} s)"


class UserError(Exception):
    """A condition the user can fix: printed as one line, the process exits with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error of lrr-lite (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"lrr-lite: {message} (see `{self.prog} --help`)\n")


# -- logging -------------------------------------------------------------------------------------------------

def _escape_controls(record: logging.LogRecord) -> bool:
    """A file or member name with a newline (or another control character) must not forge a log line: the
    message is written with such characters escaped (a traceback, added by the formatter, keeps its lines)."""
    message = record.getMessage()
    if not message.isprintable():
        record.msg = shown(message)
        record.args = None
    return True


def setup_logging(cfg: config.Config, to_file: bool = True, one_shot: bool = False) -> None:
    """stderr, plus a size-rotated file under the log folder; under systemd (JOURNAL_STREAM) stderr only and
    without timestamps: the journal stamps, stores and rotates the lines itself.

    A one-shot command (set, scan, import-lanraragi) prints its own result: the library's INFO lines (a
    migration applied, the scan's summary) would only repeat or bury it, so it logs warnings and errors
    only, unless the configuration asks for DEBUG (someone diagnosing)."""
    journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if journal else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if to_file and not journal:
        try:
            cfg.logs.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.handlers.RotatingFileHandler(
                cfg.logs / "lrr_lite.log", maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"))
        except OSError as exc:
            print(f"lrr-lite: no log file in {cfg.logs}: {exc.strerror or exc} (logging to stderr only)",
                  file=sys.stderr)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(fmt))
        handler.addFilter(_escape_controls)
    level = getattr(logging, cfg.log_level, logging.INFO)
    if one_shot and level != logging.DEBUG:
        level = max(level, logging.WARNING)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.getLogger("libarchive").setLevel(logging.WARNING)  # it logs its own version details at INFO


# -- the parser ----------------------------------------------------------------------------------------------

def _short_allowed(spec: Setting) -> str:
    if spec.kind == "bool":
        return "0|1"
    if spec.kind == "int":
        return f"{spec.low}..{spec.high}"
    if spec.kind == "password":
        return "text|-"
    return f"text<={spec.high}" if spec.high else "text"


def settings_help() -> str:
    lines = ["settable keys (KEY  VALUES  what it does); booleans also take true/false, yes/no, on/off:"]
    for spec in SETTABLE:
        lines.append(f"  {spec.key:<19} {_short_allowed(spec):<12} {spec.help}")
    lines.append(f"A running server picks a change up within {int(CHECK_EVERY) + 1} s; "
                 "`set password -` reads the password from stdin.")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lrr-lite", description="A LANraragi-compatible archive server.")
    parser.add_argument("--version", action="version", version=f"lrr-lite {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name, help_text in (("serve", "run the server (default)"),
                            ("scan", "scan the content folder once and exit"),
                            ("show-config", "print the merged configuration"),
                            ("set", "change a stored server setting, e.g. `set apikey SECRET`")):
        extra = {"epilog": settings_help(), "formatter_class": argparse.RawDescriptionHelpFormatter} \
            if name == "set" else {}
        p = sub.add_parser(name, help=help_text, description=help_text, **extra)  # type: ignore[arg-type]
        p.add_argument("--config", help="INI file (section [server]); also LRR_CONFIG")
        config.add_arguments(p)
        if name == "set":
            p.add_argument("key", metavar="KEY", help="a setting name (listed below)")
            p.add_argument("value", metavar="VALUE", help="its new value")
    add_import_parser(sub)
    return parser


def add_import_parser(sub: argparse._SubParsersAction) -> None:
    what = "take progress, categories, tankoubons, stamps, covers… from a running LANraragi"
    p = sub.add_parser("import-lanraragi", help=what, description=what + " (archives with the same ID here)")
    p.add_argument("--url", required=True, help="the old server's base URL, e.g. http://192.168.1.5:3000")
    p.add_argument("--key", required=True, help="its API key (`-` reads it from stdin)")
    p.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    p.add_argument("--timeout", type=float, default=lrrclient.DEFAULT_TIMEOUT,
                   help=f"seconds to wait for each reply (default {lrrclient.DEFAULT_TIMEOUT:g})")
    p.add_argument("--config", help="INI file (section [server]); also LRR_CONFIG")
    config.add_arguments(p)


# -- folders -------------------------------------------------------------------------------------------------

def _first_file_above(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def make_folder(path: Path, what: str, how: str) -> None:
    """Create `path` if needed and check the process may write in it; UserError saying what to do otherwise.
    `how` names the option that chooses the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{what} {path} is a file, not a folder: move it away or choose another folder "
                        f"with {how}") from None
    except NotADirectoryError:
        above = _first_file_above(path)
        raise UserError(f"{what} {path} cannot be made: {above or 'a parent'} is a file, not a folder; "
                        f"choose another folder with {how}") from None
    except PermissionError:
        raise UserError(f"cannot create {what} {path}: permission denied; create it for the user running "
                        f"lrr-lite or choose another folder with {how}") from None
    except OSError as exc:
        raise UserError(f"cannot create {what} {path}: {exc.strerror or exc}; choose another folder "
                        f"with {how}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path} is not writable by this user; fix its permissions or choose "
                        f"another folder with {how}")


def check_data(cfg: config.Config) -> None:
    make_folder(cfg.data, "data folder", "--data (or LRR_DATA_DIRECTORY)")
    make_folder(cfg.thumbs, "thumbnail folder", "--thumbs (or LRR_THUMB_DIRECTORY)")
    make_folder(cfg.temp, "temp folder", "--temp (or LRR_TEMP_DIRECTORY)")
    db = cfg.db_path
    if db.exists() and (not db.is_file() or not os.access(db, os.R_OK | os.W_OK)):
        raise UserError(f"database {db} is not a file this user can read and write; fix its permissions "
                        "or choose another --data folder")


def check_content(cfg: config.Config, create: bool, hint: str = "") -> None:
    """The content folder must be a readable folder; a missing one is made only when `create`, so a typo
    does not quietly serve (or scan) an empty library. `hint` ends the message for a missing folder."""
    path = cfg.content
    how = "--content (or LRR_CONTENT_DIRECTORY)"
    if path.exists() and not path.is_dir():
        raise UserError(f"content folder {path} is a file, not a folder; choose the folder with {how}")
    if not path.exists():
        if not create:
            raise UserError(f"content folder {path} does not exist: check {how}{hint}")
        make_folder(path, "content folder", how)
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except PermissionError:
        raise UserError(f"cannot read content folder {path}: permission denied; let the user running lrr-lite "
                        "read it") from None
    except OSError as exc:
        raise UserError(f"cannot read content folder {path}: {exc.strerror or exc}") from None


def open_context(cfg: config.Config) -> Context:
    check_data(cfg)
    try:
        return Context.open(cfg)
    except sqlite3.DatabaseError as exc:
        # "file is not a database", "database disk image is malformed", "unable to open database file" …
        raise UserError(f"cannot open the database {cfg.db_path}: {exc}; restore a backup, or move the file "
                        "away to start an empty library") from None


# -- commands ------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except KeyboardInterrupt:
        return 130
    except config.ConfigError as exc:
        print(f"lrr-lite: {exc.message}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"lrr-lite: {exc.message}", file=sys.stderr)
        return exc.code
    except Exception:
        # not a user error: a bug, so it keeps its traceback for the report
        logging.getLogger("lrr_lite").exception("lrr-lite: unexpected error (a bug: please report it)")
        return 1


def run(argv: list[str] | None = None) -> int:
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
    if args.command == "set":
        return set_command(cfg, args.key, args.value)
    if args.command == "import-lanraragi":
        check_data(cfg)
        setup_logging(cfg, to_file=False, one_shot=True)
        return import_command(cfg, args)
    if args.command == "scan":
        check_content(cfg, create=False)
        check_data(cfg)
        setup_logging(cfg, to_file=False, one_shot=True)
        return scan_command(cfg)
    check_content(cfg, create=cfg.create_content, hint="; create it first, or add --create-content")
    check_data(cfg)  # before the log file is made under it
    setup_logging(cfg, to_file=True)
    stop = StopSignals(logging.getLogger("lrr_lite"))
    stop.install()  # before the database opens: a stop during a long start-up (migrations) is logged too
    try:
        ctx = open_context(cfg)
        try:
            return serve(ctx, stop)
        finally:
            ctx.close()
    except SystemExit:  # the stop signal came before waitress's loop (which catches its own)
        stop.stopping()
        return stop.code
    finally:
        flush_logs()  # the services' last lines too, whatever ends the process next


def set_command(cfg: config.Config, key: str, value: str) -> int:
    spec = BY_KEY.get(key)
    if spec is None or not spec.settable:
        why = "is kept by the server, not set" if spec is not None else "is not a setting"
        raise UserError(f"{key!r} {why}; settable keys: {', '.join(s.key for s in SETTABLE)} "
                        "(see `lrr-lite set --help`)", code=2)
    if spec.kind == "password" and value == "-":
        # read, so the password lands in neither the shell history nor the process list
        value = getpass.getpass("new password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    try:
        spec.coerce(value)  # checked before anything is opened or created
    except Invalid as exc:
        raise UserError(exc.message, code=2) from None
    setup_logging(cfg, to_file=False, one_shot=True)
    ctx = open_context(cfg)
    try:
        if spec.kind == "password":
            # the web settings form's way: an scrypt hash, and every logged-in session ends
            ctx.settings.set(key, session.hash_password(value))
            session.revoke_all(ctx)
            print(f"password changed {PICKED_UP}")
        elif key == "apikey":
            ctx.settings.set(key, value)
            print(f"apikey changed {PICKED_UP}" if value else f"apikey cleared {PICKED_UP}")
        else:
            ctx.settings.set(key, value)
            when = "(a running server uses it after a restart)" if key == "tempmaxsize" else PICKED_UP
            print(f"{key} = {ctx.settings.get(key)} {when}")
    finally:
        ctx.close()
    return 0


def scan_command(cfg: config.Config) -> int:
    ctx = open_context(cfg)
    try:
        # The same ingest as the server's (plugins, duplicates), then the covers, made here and now.
        report = scan.scan(ctx.ingest, cfg.content)
        tasks.regenerate_covers(ctx, force=False)
        print(f"scanned {shown(str(cfg.content))}: {report.seen} seen, {report.added} added, {report.updated} "
              f"updated, {report.skipped} unchanged, {report.failed} failed, {report.vanished} vanished, "
              f"{len(report.duplicates)} duplicates in {report.seconds:.1f} s")
        # every file the library does not show, with the reason (also those that failed in an earlier scan)
        for row in ctx.db.query("SELECT path, reason FROM bad_files ORDER BY path"):
            print(f"failed: {shown(row['path'])}: {shown(str(row['reason']))}")
        for path, original in sorted(report.duplicates.items()):
            print(f"duplicate: {shown(path)} (the same file as {shown(original)})")
    finally:
        ctx.close()
    return 0


def _import_progress(done: int, total: int, title: str) -> None:
    """A bar on a terminal; plain lines (about 20 per run) when stderr is a pipe or a file."""
    if sys.stderr.isatty():
        width = 30
        filled = width * done // max(total, 1)
        print(f"\rarchives [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr,
              flush=True)
        if done == total:
            print(file=sys.stderr)
    elif done == total or done % max(1, total // 20) == 0:
        print(f"archives {done}/{total}", file=sys.stderr, flush=True)


def import_command(cfg: config.Config, args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip() if args.key == "-" else args.key
    if not args.timeout > 0:
        raise UserError(f"--timeout {args.timeout:g}: give a number of seconds above 0", code=2)
    try:
        client = lrrclient.Client(args.url, key, timeout=args.timeout)
    except lrrclient.RemoteError as exc:
        raise UserError(exc.message, code=2) from None
    ctx = open_context(cfg)
    try:
        importer = lrrimport.Importer(ctx, client, dry_run=args.dry_run, progress=_import_progress)
        try:
            report = importer.run()
        except lrrclient.RemoteError as exc:  # before anything was read: the URL, the key, the network
            raise UserError(exc.message, code=2 if exc.kind == lrrclient.USAGE else 1) from None
        for line in report.table():
            print(shown(line))
    finally:
        ctx.close()
    if report.stopped:
        raise UserError(f"import stopped: {report.stopped}; what was read so far is applied, run the same "
                        "command again to finish")
    return 0


def flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


class StopSignals:
    """SIGTERM (systemd's stop) and SIGINT (Ctrl-C) end the server through its `finally` blocks, which log
    "stopping" once and flush it, wherever the signal lands: in waitress's loop or still starting up."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.code = 0
        self.logged = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._received)
        signal.signal(signal.SIGINT, self._received)

    def _received(self, signum: int, frame: object) -> None:
        # waitress's run() swallows SystemExit (ending its loop): the code is kept here for the exit
        self.code = 130 if signum == signal.SIGINT else 0  # Ctrl-C: the shell's convention; SIGTERM: a clean stop
        raise SystemExit(self.code)

    def stopping(self) -> None:
        """Log "stopping" (once) and get it to the log file or journal now, before the shutdown's work."""
        if not self.logged:
            self.logged = True
            self.log.info("lrr_lite: stopping")
            flush_logs()


def _listen_error(host: str, port: int, exc: Exception) -> UserError:
    where = f"{host}:{port}"
    code = getattr(exc, "errno", None)
    if code == errno.EADDRINUSE:
        why = "address already in use (is another lrr-lite running? choose another with --port)"
    elif code == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges: choose another with --port)"
    elif code == errno.EADDRNOTAVAIL:
        why = "this machine has no such address (check --host)"
    elif isinstance(exc, socket.gaierror | ValueError):
        why = "unknown host name (check --host)"
    else:
        why = f"{getattr(exc, 'strerror', None) or exc} (check --host and --port)"
    return UserError(f"cannot listen on {where}: {why}")


def serve(ctx: Context, stop: StopSignals) -> int:
    cfg = ctx.config
    memory.limit_arenas()  # before any worker thread exists (waitress starts its threads in create_server)
    app = create_app(ctx)
    # Listen first: a port in use ends here, before any scan or job has started.
    try:
        server = waitress.create_server(app, host=cfg.host, port=cfg.port, threads=cfg.threads, ident="lrr_lite",
                                        max_request_body_size=8 * 1024**3, channel_timeout=300)
    except (OSError, ValueError) as exc:
        raise _listen_error(cfg.host, cfg.port, exc) from None
    # Idle memory: after a burst (a full list, a walk of the folder, a batch of writes) glibc keeps the freed
    # heap, every connection keeps its page cache and the hit cache its outdated sets; once the server is
    # quiet all of that goes back to the system.
    trimmer = memory.IdleTrimmer(ctx.release_memory)
    try:
        return _run_server(ctx, server, trimmer, stop)
    finally:
        stop.stopping()
        trimmer.stop()


def _run_server(ctx: Context, server: Any, trimmer: memory.IdleTrimmer, stop: StopSignals) -> int:
    log = logging.getLogger("lrr_lite")
    cfg = ctx.config
    ctx.start()
    trimmer.start()
    if cfg.scan_on_start:
        ctx.jobs.enqueue("scan_library", [], priority=10)
    start_if_enabled(ctx)  # unless watch=off; it waits for the start-up scan job first
    report_to = os.environ.get("LRR_MEMORY_REPORT")
    if report_to:  # a diagnosis aid (scripts/bench_memory.py): SIGUSR1 writes what the memory is, as JSON
        def dump_memory(signum, frame):
            partial = report_to + ".part"
            with open(partial, "w") as fh:
                json.dump(memory.report({"sqlite": ctx.db.memory()}), fh, indent=1)
            os.replace(partial, report_to)  # whole or absent: the reader polls for the file

        signal.signal(signal.SIGUSR1, dump_memory)
    log.info("lrr_lite %s: content %s, data %s, listening on http://%s:%d/", __version__, cfg.content,
             cfg.data, cfg.host, int(getattr(server, "effective_port", cfg.port)))
    if ctx.settings.get("enablepass") and not ctx.settings.get("apikey"):
        log.warning("no API key set: clients can read, but every write endpoint answers 401. "
                    "Start with --api-key KEY (or LRR_API_KEY) to set one.")
    server.run()  # until a stop signal (StopSignals)
    return stop.code

if __name__ == "__main__":
    sys.exit(main())
