"""The archive service: every write a client, the CLI or a job makes to one archive record.

Each method takes the archive's lock (writers of one archive take turns, see locks.py) and marks the search
cache stale when the write can change a search result, so no caller can forget either. Reads that need no
lock stay plain functions in records.py.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from lrr_lite.errors import Conflict
from lrr_lite.library import pages, records, stamps
from lrr_lite.library.intake import upload
from lrr_lite.library.locks import Locks
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

LOCK = "archive-write"
CHANGED_SINCE = "This archive's metadata changed since you opened it: nothing was saved."


def metadata_version(row: sqlite3.Row) -> str:
    """A short digest of the stored title, tags and summary: what an edit form carries to detect that someone
    else saved in between (update_metadata_checked)."""
    values = [row["title"] or "", row["tags"] or "", row["summary"] or ""]
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode("utf-8")).hexdigest()[:20]


class Archives:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.db: Database = ctx.db
        self.settings: Settings = ctx.settings
        self.locks: Locks = ctx.locks

    def update_metadata(self, archive_id: str, title: str | None, tags: str | None, summary: str | None) -> str:
        """PUT …/metadata; returns the title now shown."""
        with self.locks.hold(LOCK, archive_id):
            title_now = records.update_metadata(self.db, archive_id, title, tags, summary)
        self.settings.touch_cache()
        return title_now

    def update_metadata_checked(self, archive_id: str, expected: str, title: str | None, tags: str | None,
                                summary: str | None) -> tuple[str, str]:
        """update_metadata for the web edit form: only while the stored metadata is still the version the form
        loaded (`expected`, from metadata_version), compared under the archive's lock so no write slips in
        between. Otherwise Conflict carrying the stored values and their version, and nothing is written.
        Returns (title now shown, new version). The API's PUT keeps LANraragi's last-writer-wins."""
        with self.locks.hold(LOCK, archive_id):
            row = records.require_row(self.db, archive_id)
            current = metadata_version(row)
            if current != expected:
                raise Conflict(CHANGED_SINCE, version=current, title=row["title"] or row["filename"],
                               tags=row["tags"] or "", summary=row["summary"] or "")
            title_now = records.update_metadata(self.db, archive_id, title, tags, summary)
            version = metadata_version(records.require_row(self.db, archive_id))
        self.settings.touch_cache()
        return title_now, version

    def delete(self, archive_id: str) -> str | None:
        """Delete the file and the record; the deleted file's path, or None when the ID is unknown."""
        with self.locks.hold(LOCK, archive_id):
            return upload.delete_archive(self.ctx, archive_id)

    def set_isnew(self, archive_id: str, isnew: bool) -> sqlite3.Row:
        with self.locks.hold(LOCK, archive_id):
            row = records.set_isnew(self.db, archive_id, isnew)
        self.settings.touch_cache()
        return row

    def update_progress(self, archive_id: str, page: int, *, force: bool) -> int:
        """Store the reading position; returns the lastreadtime written."""
        with self.locks.hold(LOCK, archive_id):
            when, cleared_new = records.update_progress(self.db, archive_id, page, force=force)
        self.settings.add_pages_read(1)
        if cleared_new:  # "new only" searches must not keep showing it
            self.settings.touch_cache()
        return when

    def add_toc(self, archive_id: str, page: int, title: str) -> None:
        with self.locks.hold(LOCK, archive_id):
            records.add_toc(self.db, archive_id, page, title)

    def remove_toc(self, archive_id: str, page: int) -> None:
        with self.locks.hold(LOCK, archive_id):
            records.remove_toc(self.db, archive_id, page)

    def set_cover(self, archive_id: str, page: int) -> Path:
        with self.locks.hold(LOCK, archive_id):
            return pages.set_cover(self.ctx, archive_id, page)

    def add_stamp(self, archive_id: str, page: int, content: str, position: str) -> str:
        with self.locks.hold(LOCK, archive_id):
            return stamps.add_stamp(self.db, archive_id, page, content, position)

    def update_stamp(self, stamp_id: str, content: str | None, position: str | None) -> None:
        with self.locks.hold("stamp-write", stamp_id):
            stamps.update_stamp(self.db, stamp_id, content, position)

    def delete_stamp(self, stamp_id: str) -> None:
        with self.locks.hold("stamp-write", stamp_id):
            stamps.delete_stamp(self.db, stamp_id)
