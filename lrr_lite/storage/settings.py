"""Server settings a client can see or change: stored in SQLite, cached in memory.

Keys are LANraragi's configuration names, so a backup or a habit carries over.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lrr_lite.storage.db import Database

DEFAULTS: dict[str, Any] = {
    "htmltitle": "LANraragi",
    "motd": "Welcome to this Library running LANraragi!",
    "apikey": "",
    "enablepass": 1,          # password protection on: API-key endpoints need auth
    "password": "kamimamita", # LANraragi's default web password (the web UI is a later issue)
    "nofunmode": 0,           # every /api route needs auth
    "pagesize": 100,          # archives_per_page
    "localprogress": 0,       # 1 = progress kept by clients only
    "authprogress": 0,        # 1 = progress updates need auth
    "enablecors": 0,
    "usedateadded": 1,        # add date_added:<epoch> to new archives
    "usedatemodified": 0,     # ... using the file's mtime instead of now
    "tempmaxsize": 500,       # MB for the page cache of stream-only archives (max 4096)
    "excludednamespaces": "source, date_added",
    "enableresize": 0,
    "sizethreshold": 1000,    # KB
    "readerquality": 50,
    "replacedupe": 0,
    "hqthumbpages": 0,
    "tagruleson": 1,
    "debugmode": 0,
    "downloadmaxsize": 2048,  # MB, largest file /api/download_url will fetch
    "downloadtimeout": 60,    # s without data before a download is abandoned
    "downloaddeadline": 120,  # s a whole URL download may take (connect, redirects, every read): slow servers end
    "downloadallowlocal": 0,  # 1 = URL downloads may reach loopback, link-local and this server's own addresses
    "total_pages_read": 0,
    "cache_last_cleared": 0,
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int)}


class Settings:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._values: dict[str, Any] = dict(DEFAULTS)
        for row in db.query("SELECT key, value FROM settings"):
            self._values[row["key"]] = self._parse(row["key"], row["value"])
        if not self._values["cache_last_cleared"]:
            self.set("cache_last_cleared", int(time.time()))

    @staticmethod
    def _parse(key: str, raw: str) -> Any:
        if key in _INT_KEYS:
            try:
                return int(raw)
            except ValueError:
                return DEFAULTS[key]
        return raw

    def get(self, key: str) -> Any:
        return self._values.get(key, DEFAULTS.get(key))

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(key)
        value = self._parse(key, str(value))
        with self._lock, self._db.write() as conn:
            conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))
            self._values[key] = value

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
        fresh = dict(DEFAULTS)
        for row in self._db.query("SELECT key, value FROM settings"):
            fresh[row["key"]] = self._parse(row["key"], row["value"])
        self._values = fresh

    @property
    def excluded_namespaces(self) -> list[str]:
        return [ns.strip() for ns in str(self.get("excludednamespaces")).split(",") if ns.strip()]

    @property
    def temp_max_bytes(self) -> int:
        return max(1, min(int(self.get("tempmaxsize")), 4096)) * 1024 * 1024
