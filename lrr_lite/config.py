"""Boot configuration: one schema, three sources (INI file < environment < CLI flags).

These are the settings a process needs before it can open its database: where things live and
where to listen. Settings a client can see or change (API key, No-Fun mode, page size …) live in
SQLite (see `settings.py`); the values given here for them only seed the database on first start,
except `api_key`, which when given always wins so a service file can pin it.

Every value is checked the same way whichever source gave it (range, choices, boolean words), and a bad one
raises `ConfigError` naming the source (`--port`, `LRR_PORT`, `port in /etc/…/config.ini`) and what is allowed.
"""

from __future__ import annotations

import argparse
import configparser
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(SystemExit):
    """A configuration value or file the user must fix; the message is one line.

    A SystemExit, so a caller that does not catch it still ends with the message and no traceback;
    `lrr-lite` itself catches it and exits 2 (a usage error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    type: type = str
    env: tuple[str, ...] = ()
    low: float | None = None      # numbers: smallest allowed value
    high: float | None = None     # numbers: largest allowed value
    choices: tuple[str, ...] = ()  # text: the allowed words (compared case-insensitively, stored as written here)

    def allowed(self) -> str:
        """What a value may be, for help texts and error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false (also 1/0, yes/no, on/off)"
        if self.type in (int, float):
            kind = "a whole number" if self.type is int else "a number"
            if self.low is not None and self.high is not None:
                return f"{kind} from {self.low:g} to {self.high:g}"
            if self.low is not None:
                return f"{kind} of at least {self.low:g}"
            return kind
        return "text"


# section "server" of the INI file; env names are LANraragi's where it has one.
SCHEMA: tuple[Option, ...] = (
    Option("content", "./content", "Folder holding the archives (scanned recursively). It must exist, unless it is "
           "the default ./content or --create-content is given: a mistyped path would serve an empty library.",
           str, ("LRR_CONTENT_DIRECTORY", "LRR_CONTENT")),
    Option("create_content", False, "Create the content folder when it does not exist.", bool,
           ("LRR_CREATE_CONTENT",)),
    Option("data", "./data", "Folder for the SQLite database and everything else lrr_lite writes.", str,
           ("LRR_DATA_DIRECTORY",)),
    Option("thumbs", "", "Thumbnail folder (default: <data>/thumb).", str, ("LRR_THUMB_DIRECTORY",)),
    Option("temp", "", "Temporary folder: page cache for stream-only archives, uploads (default: <data>/temp).",
           str, ("LRR_TEMP_DIRECTORY",)),
    Option("logs", "", "Log folder (default: <data>/log): lrr_lite.log, rotated at 5 MB, 3 old files kept; "
           "none under systemd (JOURNAL_STREAM set), where the journal keeps the log.", str,
           ("LRR_LOG_DIRECTORY",)),
    Option("host", "127.0.0.1", "Address to listen on.", str, ("LRR_HOST",)),
    Option("port", 3000, "Port to listen on.", int, ("LRR_PORT",), low=1, high=65535),
    Option("network", "", "LANraragi-style listen URL, e.g. http://*:3000 (overrides host and port).", str,
           ("LRR_NETWORK",)),
    Option("api_key", None, "API key; when set it replaces the stored one at start-up.", str,
           ("LRR_API_KEY",)),
    Option("threads", 8, "waitress worker threads.", int, ("LRR_THREADS",), low=1, high=256),
    Option("job_workers", 2, "Background job threads (thumbnails, scans, uploads).", int,
           ("LRR_JOB_WORKERS",), low=1, high=64),
    Option("decode_concurrency", 2, "Images decoded at once at most (bounds memory on a Pi).", int,
           ("LRR_DECODE_CONCURRENCY",), low=1, high=64),
    Option("scan_on_start", True, "Scan the content folder at start-up.", bool, ("LRR_SCAN_ON_START",)),
    Option("log_level", "INFO", "Logging level.", str, ("LRR_LOG_LEVEL",),
           choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    Option("watch", "auto", "Content folder watching: auto (inotify, else polling), inotify, poll or off.", str,
           ("LRR_WATCH",), choices=("auto", "inotify", "poll", "off")),
    Option("poll_interval", 30.0, "Seconds between polls of the content folder when polling (NFS/SMB).", float,
           ("LRR_POLL_INTERVAL",), low=0.2, high=86400),
    Option("base_url_path", "", "URL prefix when served under a sub-path by a reverse proxy, e.g. /lrr: put "
           "before every URL the server generates; requests are accepted with or without it.", str,
           ("LRR_BASE_URL_PATH",)),
    Option("kosync_path", "/kosync", "Where the KOReader progress sync server answers (KOReader's \"custom sync "
           "server\" is this URL); off to turn it off.", str, ("LRR_KOSYNC_PATH",)),
    Option("folder_archives", True, "A folder of images (no sub-folder with images, no archive file inside) is "
           "one archive; off: folders are only walked for archive files.", bool, ("LRR_FOLDER_ARCHIVES",)),
)

BY_NAME = {opt.name: opt for opt in SCHEMA}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Config:
    content: Path
    data: Path
    thumbs: Path
    temp: Path
    logs: Path
    host: str
    port: int
    api_key: str | None
    threads: int
    job_workers: int
    decode_concurrency: int
    scan_on_start: bool
    log_level: str
    watch: str = "auto"
    poll_interval: float = 30.0
    base_url_path: str = ""
    # True when a missing content folder may be made: --create-content, or the content value is the default
    # ./content (so the README's first command works in a fresh clone).
    create_content: bool = False
    kosync_path: str | None = "/kosync"  # None: no KOReader sync server; "" at the root
    folder_archives: bool = True  # folders of images are archives (media/formats/folder.py)

    @property
    def db_path(self) -> Path:
        return self.data / "database.sqlite"


def flag(opt: Option) -> str:
    return "--" + opt.name.replace("_", "-")


def check(opt: Option, raw: Any) -> Any:
    """`raw` (a string from a file, the environment or a flag, or an already typed value) as the option's type,
    within its range or choices; ValueError with a message saying what is allowed otherwise."""
    if raw is None:
        return None
    if opt.type is bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"{raw!r} is not {opt.allowed()}")
    if opt.choices:
        for choice in opt.choices:
            if str(raw).strip().lower() == choice.lower():
                return choice
        raise ValueError(f"{raw!r} is not {opt.allowed()}")
    if opt.type in (int, float):
        try:
            value = opt.type(str(raw).strip()) if isinstance(raw, str) else opt.type(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not {opt.allowed()}") from None
        if value != value or (opt.low is not None and value < opt.low) or (opt.high is not None and value > opt.high):
            raise ValueError(f"{raw!r} is not {opt.allowed()}")  # value != value: NaN
        return value
    return str(raw)


def _parse_network(value: str, source: str) -> tuple[str | None, int | None]:
    """LANraragi's LRR_NETWORK looks like http://*:3000 or http://[::]:3000."""
    rest = value.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if host == "*":
        host = "0.0.0.0"
    if not port.isdigit():
        raise ConfigError(f"{source}: {value!r} has no port; write it like http://*:3000")
    try:
        number = check(BY_NAME["port"], port)
    except ValueError as exc:
        raise ConfigError(f"{source}: the port in {value!r}: {exc}") from None
    return (host or None), number


def read_ini(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """{key: (raw value, source)} of the file's [server] section; ConfigError for anything wrong with the file."""
    shown = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"config file {shown} does not exist (check --config or LRR_CONFIG)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {shown} is a folder, not a file") from None
    except PermissionError:
        raise ConfigError(f"cannot read config file {shown}: permission denied "
                          "(let the user running lrr-lite read it)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {shown} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {shown}: {exc.strerror or exc}") from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=shown)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"config file {shown}, line {exc.lineno}: a setting before any section; "
                          "start the file with a [server] line") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {shown}: {first}") from None
    for section in parser.sections():
        if section != "server":
            raise ConfigError(f"config file {shown}: unknown section [{section}]; lrr_lite reads only [server]")
    if not parser.has_section("server"):
        return {}
    found: dict[str, tuple[str, str]] = {}
    for key, raw in parser.items("server"):
        if key not in BY_NAME:
            raise ConfigError(f"config file {shown}: unknown key {key!r} in [server]; "
                              f"known keys: {', '.join(BY_NAME)}")
        found[key] = (raw, f"{key} in {shown}")
    return found


def load(ini_path: str | os.PathLike | None = None, cli: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> Config:
    """Merge defaults, the INI file's [server] section, the environment and CLI values (ConfigError if bad)."""
    env = os.environ if environ is None else environ
    values: dict[str, tuple[Any, str]] = {opt.name: (opt.default, "default") for opt in SCHEMA}
    ini_path = ini_path or env.get("LRR_CONFIG")
    if ini_path:
        values.update(read_ini(ini_path))
    for opt in SCHEMA:
        for name in opt.env:
            if env.get(name):
                values[opt.name] = (env[name], name)
                break
    for key, raw in (cli or {}).items():
        if raw is not None:
            values[key] = (raw, flag(BY_NAME[key]))
    typed: dict[str, Any] = {}
    for key, (raw, source) in values.items():
        try:
            typed[key] = check(BY_NAME[key], raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    if typed["network"]:
        host, port = _parse_network(typed["network"], values["network"][1])
        typed["host"] = host or typed["host"]
        typed["port"] = port or typed["port"]
    data = Path(typed["data"]).expanduser().resolve()
    content_raw = str(typed["content"])
    return Config(
        content=Path(content_raw).expanduser().resolve(),
        data=data,
        thumbs=Path(typed["thumbs"]).expanduser().resolve() if typed["thumbs"] else data / "thumb",
        temp=Path(typed["temp"]).expanduser().resolve() if typed["temp"] else data / "temp",
        logs=Path(typed["logs"]).expanduser().resolve() if typed["logs"] else data / "log",
        host=typed["host"],
        port=typed["port"],
        api_key=typed["api_key"],
        threads=typed["threads"],
        job_workers=typed["job_workers"],
        decode_concurrency=typed["decode_concurrency"],
        scan_on_start=typed["scan_on_start"],
        log_level=typed["log_level"],
        watch=typed["watch"],
        poll_interval=float(typed["poll_interval"]),
        base_url_path=_url_prefix(typed["base_url_path"], values["base_url_path"][1]),
        # Path("content") == Path("./content"): the default however it is written, relative to the working folder
        create_content=bool(typed["create_content"]) or Path(content_raw) == Path(BY_NAME["content"].default),
        kosync_path=None if str(typed["kosync_path"]).strip().lower() in ("", "off")
        else _url_prefix(typed["kosync_path"], values["kosync_path"][1]),
        folder_archives=bool(typed["folder_archives"]),
    )


def _url_prefix(raw: str | None, source: str = "base_url_path") -> str:
    """SEMANTICS §20: starts with '/', no trailing '/'; '' or '/' = none. 'lrr/' is taken as '/lrr'."""
    value = (raw or "").strip().strip("/")
    if not value:
        return ""
    if any(ch in value for ch in "?#\\") or any(part in ("", ".", "..") for part in value.split("/")):
        raise ConfigError(f"{source}: {raw!r} is not a plain path like /lrr")
    return "/" + value


def _flag_type(opt: Option) -> Callable[[str], Any]:
    """argparse type for the option: the same check as a file or the environment gets."""

    def parse(raw: str) -> Any:
        try:
            return check(opt, raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = opt.type.__name__  # argparse names the type in some messages
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per schema option (underscores become dashes)."""
    for opt in SCHEMA:
        if opt.type is bool:
            parser.add_argument(flag(opt), dest=opt.name, default=None, action=argparse.BooleanOptionalAction,
                                help=opt.help)
        else:
            extra = f" ({opt.allowed()})" if opt.low is not None else ""  # choices show in the metavar
            parser.add_argument(flag(opt), dest=opt.name, default=None, type=_flag_type(opt),
                                metavar="{" + ",".join(opt.choices) + "}" if opt.choices else None,
                                help=opt.help + extra)
