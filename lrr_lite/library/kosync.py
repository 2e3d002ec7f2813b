"""KOReader progress sync (the kosync protocol): document fingerprints, and positions pushed and pulled.

KOReader names a document by a fingerprint of the file on the device: by default the "binary" partial MD5
(`partial_md5`, KOReader's `util.partialMD5`), or, if the user picks it, the MD5 of the file's name. Ingest
stores both for each archive (`store_fingerprints`, table `doc_hashes`), so a hash finds its archive in one
indexed lookup. The binary one is of the file as it is on disk, which is what `/api/archives/{id}/download`
(the OPDS acquisition link) serves, byte for byte.

A position pushed for an archive moves LANraragi's `progress`/`lastreadtime` through `Archives.update_progress`
(what the API's progress route and PSE page reads call), so every client sees one position; the push itself
(device, percentage, KOReader's progress string) is kept in `kosync_progress`. A pull answers whichever is
newer: the last push for the archive, or the archive's own progress set by another client (then the device is
`SERVER_DEVICE`). A document no archive matches is stored and answered like any kosync server would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from typing import IO, Any

from lrr_lite.errors import Invalid, NotFound
from lrr_lite.library import records
from lrr_lite.library.jobs import JobContext
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

log = logging.getLogger(__name__)

SAMPLE = 1024
# util.partialMD5 reads 1 KiB at lshift(1024, 2*i) for i = -1..10. LuaJIT's bit.lshift works on 32 bits and
# masks the shift count to 5 bits: for i = -1 that is 1024 << 30, which wraps to 0. So: 0, 1 KiB, 4 KiB, … 1 GiB.
OFFSETS = (0,) + tuple(1024 << (2 * i) for i in range(11))
SERVER_DEVICE = "lrr_lite"  # the device a pull names when the position was set by a LANraragi client
SERVER_DEVICE_ID = "lrr_lite-server"
BACKFILL_TASK = "kosync_fingerprints"
BACKFILL_BATCH = 200
BINARY, FILENAME = 0, 1  # doc_hashes.kind


def partial_md5(fh: IO[bytes], head: bytes = b"") -> str:
    """KOReader's "binary" document hash of an open file. `head`: the file's first bytes if the caller read
    them already (ingest reads 512,000 for the ID, which covers the samples up to 256 KiB): not read twice."""
    digest = hashlib.md5()
    for offset in OFFSETS:
        if offset + SAMPLE <= len(head):
            sample = head[offset:offset + SAMPLE]
        else:
            fh.seek(offset)
            sample = fh.read(SAMPLE)
        if not sample:  # Lua's file:read answers nil at the end of the file: the loop stops there
            break
        digest.update(sample)
    return digest.hexdigest()


def filename_md5(path: str) -> str:
    """KOReader's "filename" document hash: the MD5 of the file's name (no folder), as its bytes."""
    return hashlib.md5(os.fsencode(os.path.basename(path))).hexdigest()


def store_fingerprints(conn: sqlite3.Connection, archive_id: str, path: str, binary: str | None) -> None:
    """Inside ingest's transaction: the archive's binary hash (replacing an older one: new bytes at the same ID)
    and the name of this path (added: a copy or an old name of the file still names the same archive)."""
    row = conn.execute("SELECT num FROM archives WHERE id=?", (archive_id,)).fetchone()
    if row is None:
        return
    if binary:
        conn.execute("DELETE FROM doc_hashes WHERE num=? AND kind=?", (row["num"], BINARY))
        conn.execute("INSERT OR REPLACE INTO doc_hashes(hash, num, kind) VALUES (?, ?, ?)",
                     (bytes.fromhex(binary), row["num"], BINARY))
    conn.execute("INSERT OR IGNORE INTO doc_hashes(hash, num, kind) VALUES (?, ?, ?)",
                 (bytes.fromhex(filename_md5(path)), row["num"], FILENAME))


def find_archive(db: Database, document: str) -> str | None:
    """The archive a document hash names; None when none does, or when several do (two archives with one file
    name): moving the wrong archive's progress would be worse than keeping the position to itself."""
    if len(document) != 32:
        return None
    try:
        digest = bytes.fromhex(document)
    except ValueError:
        return None
    rows = db.query("SELECT a.id FROM doc_hashes h JOIN archives a ON a.num = h.num WHERE h.hash=? LIMIT 2",
                    (digest,))
    return rows[0]["id"] if len(rows) == 1 else None


def tracks_progress(settings: Settings) -> bool:
    """Whether pushes move the archive's progress: the rule of the API's progress route (client-side progress
    only, unless progress updates need auth, which a kosync push always has)."""
    return not (settings.get("localprogress") and not settings.get("authprogress"))


def page_of(progress: str, percentage: float, pagecount: int) -> int | None:
    """KOReader's position in a page-based document (CBZ, PDF) is the page number, 1-based, as text. Anything
    else (an XPointer of a reflowed document) is placed by its percentage. None: no page count known."""
    if pagecount <= 0:
        return None
    try:
        page = int(float(progress))
    except (TypeError, ValueError, OverflowError):
        page = round(percentage * pagecount)
    return max(1, min(pagecount, page))


def _position(row: sqlite3.Row, document: str) -> dict[str, Any]:
    return {"document": document, "progress": row["progress"], "percentage": row["percentage"],
            "device": row["device"], "device_id": row["device_id"], "timestamp": row["timestamp"]}


def push(ctx: Any, document: str, progress: str, percentage: float, device: str, device_id: str) -> int:
    """PUT /syncs/progress; returns the timestamp stored. A matched archive's progress moves (when the server
    tracks progress); the push is kept in either case."""
    db: Database = ctx.db
    archive_id = find_archive(db, document)
    now, page = int(time.time()), None
    if archive_id is not None and tracks_progress(ctx.settings):
        row = records.get_row(db, archive_id)
        page = page_of(progress, percentage, int(row["pagecount"] or 0)) if row is not None else None
        if page is not None:
            try:
                now = ctx.archives.update_progress(archive_id, page, force=False)
            except (Invalid, NotFound) as exc:  # deleted meanwhile, or its page count changed: keep the push
                log.info("kosync: %s not moved to page %s: %s", archive_id, page, exc.message)
                page = None
    with db.write() as conn:
        conn.execute("INSERT INTO kosync_progress(document, progress, percentage, device, device_id, timestamp, "
                     "page) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(document) DO UPDATE SET "
                     "progress=excluded.progress, percentage=excluded.percentage, device=excluded.device, "
                     "device_id=excluded.device_id, timestamp=excluded.timestamp, page=excluded.page",
                     (document, progress, percentage, device, device_id, now, page))
    return now


def pull(ctx: Any, document: str) -> dict[str, Any]:
    """GET /syncs/progress/{document}: the position as kosync answers it, {} when there is none (KOReader then
    says "No progress found")."""
    db: Database = ctx.db
    archive_id = find_archive(db, document)
    if archive_id is None:
        own = db.query_one("SELECT * FROM kosync_progress WHERE document=?", (document,))
        return _position(own, document) if own is not None else {}
    # the pushes under any of the archive's hashes: a device matching by file name sees one matching by bytes
    pushes = db.query("SELECT k.* FROM archives a JOIN doc_hashes h ON h.num = a.num JOIN kosync_progress k "
                      "ON k.document = lower(hex(h.hash)) WHERE a.id=?", (archive_id,))
    if not pushes:  # pushed under a hash written otherwise (upper case): still this document's own
        pushes = db.query("SELECT * FROM kosync_progress WHERE document=?", (document,))
    arc = records.get_row(db, archive_id)
    if arc is not None and tracks_progress(ctx.settings) and int(arc["progress"]) > 0:
        progress, when = int(arc["progress"]), int(arc["lastreadtime"] or 0)
        # The push that set the archive's position set this very page, and nothing came after it (timestamps
        # are seconds: in one second a push and an API call are told apart by the page)
        setters = [row for row in pushes if row["page"] == progress and row["timestamp"] >= when]
        if setters:
            return _position(max(setters, key=lambda row: row["timestamp"]), document)
        pagecount = int(arc["pagecount"] or 0)
        return {"document": document, "progress": str(progress),
                "percentage": round(min(progress / pagecount, 1.0), 4) if pagecount else 0,
                "device": SERVER_DEVICE, "device_id": SERVER_DEVICE_ID, "timestamp": when}
    return _position(max(pushes, key=lambda row: row["timestamp"]), document) if pushes else {}


# -- archives recorded before fingerprints existed ---------------------------------------------------------------

# The backfill is a one-off for the archives recorded before schema 13 (since then ingest stores the hashes):
# once it has run, this `meta` key says so, and a file it could not read (a library on a disk that was not
# mounted, a record whose file is gone) is not tried again on every start; it gets its hashes when a scan
# reads it again.
BACKFILL_DONE_KEY = "kosync_backfill_done"


def missing_fingerprints(db: Database) -> bool:
    """Whether the one-off backfill still has to run: it never finished and some archive with a file has no
    binary hash (recorded before schema 13)."""
    if db.query_one("SELECT 1 FROM meta WHERE key = ?", (BACKFILL_DONE_KEY,)) is not None:
        return False
    return db.query_one("SELECT 1 FROM archives a WHERE a.path != '' AND NOT EXISTS (SELECT 1 FROM doc_hashes h "
                        "WHERE h.num = a.num AND h.kind = ?) LIMIT 1", (BINARY,)) is not None


def request_backfill(ctx: Any) -> None:
    """Queue the job that fingerprints the archives recorded before schema 13, unless one is waiting."""
    if ctx.jobs.find_pending(BACKFILL_TASK, []) is None:
        ctx.jobs.enqueue(BACKFILL_TASK, [])


def backfill(db: Database, job: JobContext | None = None) -> dict[str, int]:
    """Fingerprint every archive that has a file and no binary hash: files read outside the write lock, a batch
    written per transaction. An unreadable file is skipped (the next scan that reads it records its hashes).
    Logs one line when it starts and one when it ends (a big library on a USB disk takes minutes)."""
    done = failed = 0
    after = 0
    started = time.monotonic()
    log.info("kosync: fingerprinting the archives recorded before fingerprints existed ...")
    while True:
        rows = db.query("SELECT a.num, a.id, a.path FROM archives a WHERE a.num > ? AND a.path != '' AND NOT EXISTS "
                        "(SELECT 1 FROM doc_hashes h WHERE h.num = a.num AND h.kind = ?) "
                        "ORDER BY a.num LIMIT ?", (after, BINARY, BACKFILL_BATCH))
        if not rows:
            break
        after = rows[-1]["num"]
        found: list[tuple[str, str, str]] = []
        for row in rows:
            try:
                with open(row["path"], "rb") as fh:
                    found.append((row["id"], row["path"], partial_md5(fh)))
            except OSError as exc:
                failed += 1
                log.debug("kosync: cannot fingerprint %s: %s", row["id"], exc)  # counted in the summary
        with db.write() as conn:
            for archive_id, path, binary in found:
                if conn.execute("SELECT 1 FROM archives WHERE id=? AND path=?", (archive_id, path)).fetchone():
                    store_fingerprints(conn, archive_id, path, binary)
                    done += 1
        if job is not None:
            job.note(fingerprinted=done, failed=failed)
    with db.write() as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                     "excluded.value", (BACKFILL_DONE_KEY, str(int(time.time()))))
    log.info("kosync: fingerprinted %d archives in %.1f s (%d files could not be read: they get theirs when a "
             "scan reads them again)", done, time.monotonic() - started, failed)
    return {"fingerprinted": done, "failed": failed}
