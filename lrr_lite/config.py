"""Boot configuration: one schema, three sources (INI file < environment < CLI flags).

These are the settings a process needs before it can open its database: where things live and
where to listen. Settings a client can see or change (API key, No-Fun mode, page size …) live in
SQLite (see `settings.py`); the values given here for them only seed the database on first start,
except `api_key`, which when given always wins so a service file can pin it.
"""

from __future__ import annotations

import argparse
import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    type: type = str
    env: tuple[str, ...] = ()


# section "server" of the INI file; env names are LANraragi's where it has one.
SCHEMA: tuple[Option, ...] = (
    Option("content", "./content", "Folder holding the archives (scanned recursively).", str,
           ("LRR_CONTENT_DIRECTORY", "LRR_CONTENT")),
    Option("data", "./data", "Folder for the SQLite database and everything else lrr_lite writes.", str,
           ("LRR_DATA_DIRECTORY",)),
    Option("thumbs", "", "Thumbnail folder (default: <data>/thumb).", str, ("LRR_THUMB_DIRECTORY",)),
    Option("temp", "", "Temporary folder: page cache for stream-only archives, uploads (default: <data>/temp).",
           str, ("LRR_TEMP_DIRECTORY",)),
    Option("logs", "", "Log folder (default: <data>/log; empty log file name = stderr only).", str,
           ("LRR_LOG_DIRECTORY",)),
    Option("host", "127.0.0.1", "Address to listen on.", str, ("LRR_HOST",)),
    Option("port", 3000, "Port to listen on.", int, ("LRR_PORT",)),
    Option("network", "", "LANraragi-style listen URL, e.g. http://*:3000 (overrides host and port).", str,
           ("LRR_NETWORK",)),
    Option("api_key", None, "API key; when set it replaces the stored one at start-up.", str,
           ("LRR_API_KEY",)),
    Option("threads", 8, "waitress worker threads.", int, ("LRR_THREADS",)),
    Option("job_workers", 2, "Background job threads (thumbnails, scans, uploads).", int,
           ("LRR_JOB_WORKERS",)),
    Option("decode_concurrency", 2, "Images decoded at once at most (bounds memory on a Pi).", int,
           ("LRR_DECODE_CONCURRENCY",)),
    Option("scan_on_start", True, "Scan the content folder at start-up.", bool, ("LRR_SCAN_ON_START",)),
    Option("log_level", "INFO", "Logging level.", str, ("LRR_LOG_LEVEL",)),
    Option("watch", "auto", "Content folder watching: auto (inotify, else polling), inotify, poll or off.", str,
           ("LRR_WATCH",)),
    Option("poll_interval", 30.0, "Seconds between polls of the content folder when polling (NFS/SMB).", float,
           ("LRR_POLL_INTERVAL",)),
    Option("base_url_path", "", "URL prefix when served under a sub-path by a reverse proxy, e.g. /lrr: put "
           "before every URL the server generates; requests are accepted with or without it.", str,
           ("LRR_BASE_URL_PATH",)),
)


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

    @property
    def db_path(self) -> Path:
        return self.data / "database.sqlite"


def _coerce(opt: Option, raw: Any) -> Any:
    if raw is None or opt.type is str:
        return raw
    if opt.type is bool:
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    try:
        return opt.type(raw)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"config: {opt.name} must be {opt.type.__name__}, got {raw!r}") from exc


def _parse_network(value: str) -> tuple[str | None, int | None]:
    """LANraragi's LRR_NETWORK looks like http://*:3000 or http://[::]:3000."""
    rest = value.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if host == "*":
        host = "0.0.0.0"
    return (host or None), (int(port) if port.isdigit() else None)


def load(ini_path: str | os.PathLike | None = None, cli: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> Config:
    """Merge defaults, the INI file's [server] section, the environment and CLI values."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {opt.name: opt.default for opt in SCHEMA}
    ini_path = ini_path or env.get("LRR_CONFIG")
    if ini_path:
        parser = configparser.ConfigParser()
        if not parser.read(str(ini_path), encoding="utf-8"):
            raise SystemExit(f"config: cannot read {ini_path}")
        if parser.has_section("server"):
            known = {opt.name for opt in SCHEMA}
            for key, raw in parser.items("server"):
                if key not in known:
                    raise SystemExit(f"config: unknown key {key!r} in [server] of {ini_path}")
                values[key] = raw
    for opt in SCHEMA:
        for name in opt.env:
            if env.get(name):
                values[opt.name] = env[name]
                break
    for key, raw in (cli or {}).items():
        if raw is not None:
            values[key] = raw
    by_name = {opt.name: opt for opt in SCHEMA}
    values = {k: _coerce(by_name[k], v) for k, v in values.items()}
    if values["network"]:
        host, port = _parse_network(values["network"])
        values["host"] = host or values["host"]
        values["port"] = port or values["port"]
    data = Path(values["data"]).expanduser().resolve()
    return Config(
        content=Path(values["content"]).expanduser().resolve(),
        data=data,
        thumbs=Path(values["thumbs"]).expanduser().resolve() if values["thumbs"] else data / "thumb",
        temp=Path(values["temp"]).expanduser().resolve() if values["temp"] else data / "temp",
        logs=Path(values["logs"]).expanduser().resolve() if values["logs"] else data / "log",
        host=values["host"],
        port=values["port"],
        api_key=values["api_key"],
        threads=max(1, values["threads"]),
        job_workers=max(1, values["job_workers"]),
        decode_concurrency=max(1, values["decode_concurrency"]),
        scan_on_start=values["scan_on_start"],
        log_level=str(values["log_level"]).upper(),
        watch=str(values["watch"]).lower(),
        poll_interval=max(0.2, float(values["poll_interval"])),
        base_url_path=_url_prefix(values["base_url_path"]),
    )


def _url_prefix(raw: str | None) -> str:
    """SEMANTICS §20: starts with '/', no trailing '/'; '' or '/' = none. 'lrr/' is taken as '/lrr'."""
    value = (raw or "").strip().strip("/")
    if not value:
        return ""
    if any(ch in value for ch in "?#\\") or any(part in ("", ".", "..") for part in value.split("/")):
        raise SystemExit(f"config: base_url_path must be a plain path like /lrr, got {raw!r}")
    return "/" + value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per schema option (underscores become dashes)."""
    for opt in SCHEMA:
        flag = "--" + opt.name.replace("_", "-")
        if opt.type is bool:
            parser.add_argument(flag, dest=opt.name, default=None, action=argparse.BooleanOptionalAction,
                                help=opt.help)
        else:
            parser.add_argument(flag, dest=opt.name, default=None, type=opt.type, help=opt.help)
