"""Covers that failed: recorded on the archive with their reason, retried with back-off.

An archive whose first page cannot be decoded fails the same way every time. Without a record, the cover job
queued after each import batch tried every such archive again (31-77 s and 2-3 GB per run on a library with a
few of them, delaying every new cover). Now a failure waits 1 minute, then 2, 4 … up to a day before it is
tried again, and its reason is logged once, shown in the job's result and kept for the thumbnail route.
"""

from __future__ import annotations

import logging
import time

from lrr_lite.storage.db import Database

log = logging.getLogger(__name__)

FIRST_WAIT = 60  # seconds before a failed cover is tried again
LONGEST_WAIT = 24 * 3600


def record_failure(db: Database, archive_id: str, reason: str) -> bool:
    """Record a cover that could not be made; False (nothing recorded) for an archive not in the library any
    more, e.g. whose file left while its cover was made (path ''): it has no cover to retry."""
    with db.write() as conn:
        row = conn.execute("SELECT failures FROM cover_failures WHERE archive_id=?", (archive_id,)).fetchone()
        if conn.execute("SELECT 1 FROM archives WHERE id=? AND path != ''", (archive_id,)).fetchone() is None:
            return False
        failures = (row["failures"] if row else 0) + 1
        wait = min(FIRST_WAIT * 2 ** (failures - 1), LONGEST_WAIT)
        conn.execute("INSERT OR REPLACE INTO cover_failures(archive_id, reason, failures, retry_at) "
                     "VALUES (?, ?, ?, ?)", (archive_id, reason, failures, int(time.time()) + wait))
    if failures == 1:  # once: the next failures of the same archive are the same story
        log.warning("cover of %s could not be made: %s (retried with back-off)", archive_id, reason)
    return True


def clear_failure(db: Database, archive_id: str) -> None:
    if db.query_one("SELECT 1 FROM cover_failures WHERE archive_id=?", (archive_id,)) is not None:
        with db.write() as conn:
            conn.execute("DELETE FROM cover_failures WHERE archive_id=?", (archive_id,))


def failed_ids(db: Database) -> set[str]:
    """Every archive with a failure on record (waiting or due)."""
    return {r[0] for r in db.query("SELECT archive_id FROM cover_failures")}


def record_made(db: Database, made: list[tuple[str, str]], failed_before: set[str]) -> None:
    """Covers made: store their (thumbhash, archive id) pairs and clear their failures, in one transaction."""
    with db.write() as conn:
        conn.executemany("UPDATE archives SET thumbhash=? WHERE id=?", made)
        cleared = [(archive_id,) for _, archive_id in made if archive_id in failed_before]
        if cleared:
            conn.executemany("DELETE FROM cover_failures WHERE archive_id=?", cleared)


def waiting(db: Database) -> set[str]:
    """Archives whose cover failed and whose next try has not come yet."""
    return {r[0] for r in db.query("SELECT archive_id FROM cover_failures WHERE retry_at > ?", (int(time.time()),))}


def failure(db: Database, archive_id: str) -> str | None:
    """The reason the archive's cover failed, while it waits for its next try."""
    row = db.query_one("SELECT reason FROM cover_failures WHERE archive_id=? AND retry_at > ?",
                       (archive_id, int(time.time())))
    return None if row is None else str(row["reason"])
