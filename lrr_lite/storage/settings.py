"""Server settings a client can see or change: stored in SQLite, cached in memory.

Keys are LANraragi's configuration names, so a backup or a habit carries over. `SCHEMA` is the one list of
them: each key's kind, allowed values and a one-line description. `Settings.set`, `lrr-lite set` (and its
--help) use it; `DEFAULTS` is derived from it.

Another process (`lrr-lite set`) may change a setting while the server runs: every `set` bumps the
`settings_version` row in the same transaction, and `get` compares that row with the one it loaded at most
once a second (one primary-key read), reloading when it moved.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from lrr_lite.errors import Invalid
from lrr_lite.storage.db import Database

VERSION_KEY = "settings_version"  # not a setting: a counter every Settings.set bumps (see the module doc)
CHECK_EVERY = 1.0  # s between two looks at VERSION_KEY; `lrr-lite set` promises "within 2 s"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    key: str
    default: int | str
    help: str
    kind: str = "int"             # "bool" (stored 0/1), "int", "str", or "password" (stored as a hash)
    low: int | None = None        # int: smallest allowed value
    high: int | None = None       # int: largest allowed; str: longest allowed length
    settable: bool = True         # False: a counter or stamp the server keeps; `lrr-lite set` refuses it

    def allowed(self) -> str:
        if self.kind == "bool":
            return "1 or 0 (also true/false, yes/no, on/off)"
        if self.kind == "int":
            if self.low is not None and self.high is not None:
                return f"a whole number from {self.low} to {self.high}"
            return "a whole number"
        if self.kind == "password":
            return "a non-empty password"
        return f"text of at most {self.high} characters" if self.high else "text"

    def coerce(self, value: Any) -> int | str:
        """The value as stored, or Invalid naming the key and what it accepts."""
        text = str(value).strip() if self.kind in ("bool", "int") else str(value)
        if self.kind == "bool":
            if text.lower() in _TRUE:
                return 1
            if text.lower() in _FALSE:
                return 0
        elif self.kind == "int":
            try:
                number = int(text)
            except ValueError:
                number = None
            if number is not None and (self.low is None or number >= self.low) and \
                    (self.high is None or number <= self.high):
                return number
        elif text and self.kind == "password":
            return text
        elif self.kind == "str" and (self.high is None or len(text) <= self.high):
            return text
        raise Invalid(f"{self.key}: {shown_value(value)} is not allowed; it takes {self.allowed()}")


def shown_value(value: Any) -> str:
    text = repr(str(value))
    return text if len(text) <= 60 else text[:57] + "...'"


SCHEMA: tuple[Setting, ...] = (
    Setting("htmltitle", "lrr_lite", "Title of the web pages and OPDS feed.", "str", high=100),
    Setting("motd", "Welcome to this library running lrr_lite!", "Message of the day on the web pages.", "str",
            high=500),
    Setting("apikey", "", "API key clients send (empty = none: every write endpoint answers 401).", "str",
            high=200),
    Setting("enablepass", 1, "Password protection: writes need the API key or a web login.", "bool"),
    # LANraragi's default web password; `lrr-lite set password` and the web form store a scrypt hash instead
    Setting("password", "kamimamita", "Web login password (stored hashed; VALUE - reads it from stdin).",
            "password"),
    Setting("nofunmode", 0, "No-Fun mode: every API route and page needs auth.", "bool"),
    Setting("pagesize", 100, "Archives per page of search results.", "int", 1, 1000),
    Setting("localprogress", 0, "Reading progress is kept by the clients only.", "bool"),
    Setting("authprogress", 0, "Progress updates need auth.", "bool"),
    Setting("enablecors", 0, "Answer cross-origin requests (CORS headers).", "bool"),
    Setting("usedateadded", 1, "Tag new archives with date_added.", "bool"),
    Setting("usedatemodified", 0, "... using the file's modification time instead of now.", "bool"),
    Setting("tempmaxsize", 500, "Page cache of stream-only archives, in MB (read at start-up).", "int", 1, 4096),
    Setting("excludednamespaces", "source, date_added", "Namespaces left out of tag statistics, comma-separated.",
            "str", high=500),
    Setting("enableresize", 0, "Resize large pages in the reader.", "bool"),
    Setting("sizethreshold", 1000, "Pages larger than this (KB) are resized.", "int", 1, 100000),
    Setting("readerquality", 50, "JPEG quality of resized pages.", "int", 1, 100),
    Setting("replacedupe", 0, "An upload of a duplicate replaces the stored one.", "bool"),
    Setting("hqthumbpages", 0, "High-quality page thumbnails.", "bool"),
    Setting("tagruleson", 1, "Apply tag rules to plugin results.", "bool"),
    Setting("debugmode", 0, "Debug mode.", "bool"),
    Setting("downloadmaxsize", 2048, "Largest file /api/download_url fetches, in MB.", "int", 1, 102400),
    Setting("downloadtimeout", 60, "Seconds without data before a URL download is abandoned.", "int", 1, 3600),
    Setting("downloaddeadline", 120, "Seconds a whole URL download may take.", "int", 1, 86400),
    Setting("downloadallowlocal", 0, "URL downloads may reach loopback, link-local and this server's addresses.",
            "bool"),
    Setting("total_pages_read", 0, "Pages served to readers (a counter).", settable=False),
    Setting("cache_last_cleared", 0, "When the search cache was last invalidated (a stamp).", settable=False),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SCHEMA}
DEFAULTS: dict[str, Any] = {s.key: s.default for s in SCHEMA}
SETTABLE: tuple[Setting, ...] = tuple(s for s in SCHEMA if s.settable)


class Settings:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._next_check = time.monotonic() + CHECK_EVERY
        self._version = self._stored_version()
        self._values: dict[str, Any] = self._load()
        if not self._values["cache_last_cleared"]:
            self.set("cache_last_cleared", int(time.time()))

    @staticmethod
    def _parse(key: str, raw: str) -> Any:
        """A stored value as the code uses it; one the schema would refuse (an old or hand-edited row) reads
        as the default rather than failing every request."""
        spec = BY_KEY.get(key)
        if spec is None:
            return raw
        try:
            return spec.coerce(raw)
        except Invalid:
            return spec.default

    def _stored_version(self) -> str:
        row = self._db.query_one("SELECT value FROM settings WHERE key=?", (VERSION_KEY,))
        return row["value"] if row is not None else ""

    def _load(self) -> dict[str, Any]:
        values = dict(DEFAULTS)
        for row in self._db.query("SELECT key, value FROM settings"):
            values[row["key"]] = self._parse(row["key"], row["value"])
        return values

    def get(self, key: str) -> Any:
        now = time.monotonic()
        # one float compare on the hot path; the thread that wins the lock looks at the version row
        if now >= self._next_check and self._check_lock.acquire(blocking=False):
            try:
                self._next_check = now + CHECK_EVERY
                if self._stored_version() != self._version:
                    self.reload()
            finally:
                self._check_lock.release()
        return self._values.get(key, DEFAULTS.get(key))

    def set(self, key: str, value: Any) -> None:
        """Store a setting, checked against SCHEMA (Invalid when refused); counters are writable here too."""
        spec = BY_KEY.get(key)
        if spec is None:
            raise Invalid(f"unknown setting {key!r}")
        stored = spec.coerce(value)
        with self._lock, self._db.write() as conn:
            conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(stored)))
            conn.execute("INSERT INTO settings(key, value) VALUES (?, '1') ON CONFLICT(key) "
                         "DO UPDATE SET value = CAST(value AS INTEGER) + 1", (VERSION_KEY,))
            self._version = conn.execute("SELECT value FROM settings WHERE key=?", (VERSION_KEY,)).fetchone()[0]
            self._values[key] = stored

    def add_pages_read(self, n: int = 1) -> None:
        with self._lock, self._db.write() as conn:
            conn.execute("INSERT INTO settings(key, value) VALUES ('total_pages_read', ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = CAST(value AS INTEGER) + ?", (str(n), n))
            row = conn.execute("SELECT value FROM settings WHERE key='total_pages_read'").fetchone()
            self._values["total_pages_read"] = int(row[0])

    def touch_cache(self) -> None:
        """A write that can change a search result happened: clients re-fetch after this stamp."""
        self._values["cache_last_cleared"] = int(time.time())

    def reload(self) -> None:
        version = self._stored_version()
        fresh = self._load()
        # touch_cache keeps its stamp in memory only: a reload must not move it back to the stored one
        fresh["cache_last_cleared"] = max(int(fresh["cache_last_cleared"] or 0),
                                          int(self._values.get("cache_last_cleared") or 0))
        self._values = fresh
        self._version = version

    @property
    def excluded_namespaces(self) -> list[str]:
        return [ns.strip() for ns in str(self.get("excludednamespaces")).split(",") if ns.strip()]

    @property
    def temp_max_bytes(self) -> int:
        return max(1, min(int(self.get("tempmaxsize")), 4096)) * 1024 * 1024
