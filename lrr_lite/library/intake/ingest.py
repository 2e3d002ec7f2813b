"""One way in for every archive file: new, changed, moved or vanished.

The scan job, `lrr-lite scan`, the watcher, upload and download_url all hand files to `Ingest`, which does
the same steps in the same order for each: compute the ID, read the page list, write the record, apply the
metadata the caller supplied (an upload's form fields), run the enabled auto-run plugins, add to a category,
queue the cover. The record and the supplied metadata are written in one transaction, so no reader ever sees
one without the other and a crash keeps both or neither.

Who owns a file: a caller that places a file into the content folder itself (upload, download) `claim`s the
path before the file appears there and records it before letting go. The watcher may see the file arrive
at any moment in between; for a claimed path it does nothing, and afterwards the file map already holds the
file's exact size and mtime, so the watcher finds it unchanged. (The alternative, a temporary name the
watcher ignores and a rename after the import, would also rename under a user's feet on a cross-device move
and leave odd names behind after a crash; a claim is in memory only and a crash forgets it.)

Same bytes under two paths: the record keeps the file it has (title, filename and extension all from that
one file); the second path is a duplicate, mapped to the same ID in the file map so it is not hashed again,
and reported in the log and in the scan report. When the first file is gone, the record moves to the copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrr_lite.errors import ArchiveError, DomainError
from lrr_lite.library import collections, kosync, pages, records
from lrr_lite.library.foreground import Foreground
from lrr_lite.library.locks import Locks
from lrr_lite.media import formats
from lrr_lite.media.formats import folder
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

log = logging.getLogger(__name__)

ID_BYTES = 512_000  # LANraragi hashes the first 512 000 bytes (not 512 KiB)
COVERS_TASK = "regen_all_thumbnails"


def compute_id(path: Path | str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(ID_BYTES)
    return hashlib.sha1(head).hexdigest()


def compute_fingerprints(path: Path | str) -> tuple[str, str]:
    """(LANraragi ID, KOReader's partial MD5) from one open of the file: the partial MD5's samples up to
    256 KiB lie in the head read for the ID; the few beyond are 1 KiB reads."""
    with open(path, "rb") as fh:
        head = fh.read(ID_BYTES)
        return hashlib.sha1(head).hexdigest(), kosync.partial_md5(fh, head)


def split_name(filename: str) -> tuple[str, str]:
    """(name without its last extension, JSON extension) as LANraragi derives them, fit to show: bytes of
    a file name that are not UTF-8 become U+FFFD (the path itself keeps them, to open the file again)."""
    filename = filename.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    stem, dot, _ = filename.rpartition(".")
    if not dot:
        return filename, ""
    return stem, formats.json_extension(filename)


FOLDER_EXTENSION = "folder"  # the `extension` of a folder archive; the clients' models take any string


def archive_names(path: str) -> tuple[str, str]:
    """(filename, extension) of the archive at `path`: split_name for a file; for a folder of images its
    whole name (a dot in "Vol. 2" is no extension) and FOLDER_EXTENSION."""
    if os.path.isdir(path):
        return os.path.basename(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace"), FOLDER_EXTENSION
    return split_name(os.path.basename(path))


def archive_stat(path: str, st: os.stat_result | None = None) -> os.stat_result:
    """The stat ingest compares and records for `path`: the file's own, or for a folder of images the
    synthesized one of folder.folder_stat (size of the pages, newest mtime). OSError/ArchiveError."""
    st = os.stat(path) if st is None else st
    return folder.folder_stat(Path(path)) if stat.S_ISDIR(st.st_mode) else st


def shown(text: str) -> str:
    """A path (or any text) fit for a log line: control characters (a newline would forge a line) and the
    surrogate escapes of bytes that are not UTF-8 written as escapes; everything printable as it is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Supplied:
    """Metadata a caller sends with a file (upload form fields, a download's source tag)."""

    title: str | None = None
    tags: str | None = None
    summary: str | None = None
    category_id: str | None = None


@dataclass
class Outcome:
    """What became of one file. status: unchanged | added | updated | rekeyed | duplicate | claimed | failed.

    `reason`: why it failed; for a duplicate, the path of the file the record keeps."""

    path: str
    status: str
    archive_id: str | None = None
    reason: str = ""

    @property
    def is_new(self) -> bool:
        """A record now shows content it did not show before: it needs a cover."""
        return self.status in ("added", "rekeyed")


@dataclass
class _Prepared:
    path: str
    st: os.stat_result
    archive_id: str
    pages: list[str] | None
    binary: str = ""  # KOReader's partial MD5 of the file (library/kosync.py)


class Ingest:
    def __init__(self, db: Database, settings: Settings, thumbs: Path, *,
                 plugins: Callable[[str], Any] | None = None, jobs: Any = None,
                 categories: collections.Collections | None = None, folder_archives: bool = True,
                 foreground: Foreground | None = None) -> None:
        """`plugins(archive_id)` runs the enabled auto-run plugins on a new archive; `jobs` (a JobQueue)
        receives the cover job; `categories` takes category writes under their locks. All are optional so
        benchmarks can import with the bare database. `folder_archives`: the config setting, read by the
        scan and the watcher (folders of images are archives). `foreground`: the requests being answered, which
        the reading of files, the scan's walk and the cover jobs give way to."""
        self.foreground = foreground or Foreground()
        self.folder_archives = folder_archives
        self.categories = categories or collections.Collections(db, settings, Locks())
        self.db = db
        self.settings = settings
        self.thumbs = thumbs
        self.plugins = plugins
        self.jobs = jobs
        self._claims: dict[str, int] = {}  # path -> thread id of the caller that is placing the file
        self._claims_lock = threading.Lock()

    # -- ownership -------------------------------------------------------------------------------------------

    @contextmanager
    def claim(self, path: str) -> Iterator[None]:
        """Reserve `path` for the calling thread while it moves a file there and records it."""
        me = threading.get_ident()
        with self._claims_lock:
            owner = self._claims.get(path)
            if owner is not None and owner != me:
                raise DomainError(f"{os.path.basename(path)} is being added by another request.")
            self._claims[path] = me
        try:
            yield
        finally:
            with self._claims_lock:
                self._claims.pop(path, None)

    def _claimed_by_other(self, path: str) -> bool:
        owner = self._claims.get(path)
        return owner is not None and owner != threading.get_ident()

    # -- files -----------------------------------------------------------------------------------------------

    def file(self, path: str, *, supplied: Supplied | None = None, queue_cover: bool = True) -> Outcome:
        """Ingest one file now (upload, download, the CLI)."""
        try:
            st = archive_stat(path)
        except (ArchiveError, OSError) as exc:
            return Outcome(path, "failed", reason=str(exc))
        return self.files([(path, st)], supplied=supplied, queue_cover=queue_cover)[0]

    def files(self, batch: list[tuple[str, os.stat_result]], *, supplied: Supplied | None = None,
              queue_cover: bool = True) -> list[Outcome]:
        """Ingest several files: they are read (hash, page list) outside the write lock, then recorded in
        one transaction, each file in a savepoint of its own so one failure never undoes the others."""
        outcomes: dict[str, Outcome] = {}
        ready: list[_Prepared] = []
        for path, st in batch:
            self.foreground.give_way()  # reading a file is CPU and I/O a waiting request needs more
            got = self._prepare(path, st)
            if isinstance(got, Outcome):
                outcomes[path] = got
            else:
                ready.append(got)
        rekeyed: list[str] = []
        if ready:
            with self.db.write() as conn:
                for item in ready:
                    outcomes[item.path] = self._record_one(conn, item, supplied, rekeyed)
        for old_id in rekeyed:  # the old ID's thumbnails show the old content
            pages.drop_thumbnails(self.thumbs, old_id)
        results = [outcomes[path] for path, _ in batch]
        self._after(results, supplied, queue_cover)
        return results

    def _prepare(self, path: str, st: os.stat_result) -> _Prepared | Outcome:
        if self._claimed_by_other(path):
            return Outcome(path, "claimed")
        sig = (st.st_size, st.st_mtime_ns)
        row = self.db.query_one("SELECT archive_id, size, mtime_ns FROM files WHERE path=?", (path,))
        if row is not None and (row["size"], row["mtime_ns"]) == sig:
            return Outcome(path, "unchanged", row["archive_id"])
        bad = self.db.query_one("SELECT size, mtime_ns, reason FROM bad_files WHERE path=?", (path,))
        if bad is not None and (bad["size"], bad["mtime_ns"]) == sig:
            return Outcome(path, "failed", reason=bad["reason"])
        try:
            if st.st_size == 0:
                raise ArchiveError("empty file")
            if stat.S_ISDIR(st.st_mode):
                # A folder of images: its page list is one directory read, and its ID is made from it;
                # KOReader's binary hash is of what a reader downloads: the ZIP made on the fly.
                pages: list[str] | None = folder.list_pages(Path(path))
                archive_id = folder.folder_id(Path(path), pages)
                with folder.FolderZip(Path(path), pages).open() as made:
                    binary = kosync.partial_md5(made)
            else:
                archive_id, binary = compute_fingerprints(path)
                pages = formats.list_pages(Path(path)) if self._needs_pages(path, st, archive_id, row) else None
        except (ArchiveError, OSError) as exc:
            return self._failed(path, st, exc)
        return _Prepared(path, st, archive_id, pages, binary)

    def _needs_pages(self, path: str, st: os.stat_result, archive_id: str, file_row: sqlite3.Row | None) -> bool:
        """Whether the page list must be read: a new ID, no list stored, or the same head with another tail."""
        if not records.has_page_list(self.db, archive_id):
            return True
        return file_row is not None and file_row["archive_id"] == archive_id and file_row["size"] != st.st_size

    def _failed(self, path: str, st: os.stat_result, exc: Exception) -> Outcome:
        with self.db.write() as conn:
            return _record_bad(conn, path, st, exc)

    def _record_one(self, conn: sqlite3.Connection, item: _Prepared, supplied: Supplied | None,
                    rekeyed: list[str]) -> Outcome:
        conn.execute("SAVEPOINT ingest_file")
        try:
            outcome = self._record(conn, item, supplied, rekeyed)
        except (ArchiveError, OSError) as exc:
            conn.execute("ROLLBACK TO ingest_file")
            conn.execute("RELEASE ingest_file")
            return _record_bad(conn, item.path, item.st, exc)
        except BaseException:
            conn.execute("ROLLBACK TO ingest_file")
            conn.execute("RELEASE ingest_file")
            raise
        conn.execute("RELEASE ingest_file")
        return outcome

    def _record(self, conn: sqlite3.Connection, item: _Prepared, supplied: Supplied | None,
                rekeyed: list[str]) -> Outcome:
        """Write one file's record inside the caller's transaction. Everything is decided again here, under
        the write lock: what was read before may have changed meanwhile."""
        path, st, archive_id = item.path, item.st, item.archive_id
        file_row = conn.execute("SELECT archive_id, size, mtime_ns FROM files WHERE path=?", (path,)).fetchone()
        if file_row is not None and (file_row["size"], file_row["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            return Outcome(path, "unchanged", file_row["archive_id"])
        status = ""
        old_id = file_row["archive_id"] if file_row is not None else None
        if old_id is not None and old_id != archive_id:
            status = self._content_changed(conn, path, old_id, archive_id)
            if status == "rekeyed":
                rekeyed.append(old_id)
        arc = conn.execute("SELECT id, path FROM archives WHERE id=?", (archive_id,)).fetchone()
        pages = item.pages
        stem, ext = archive_names(path)
        duplicate_of = ""
        if arc is None:
            self._insert(conn, path, st, archive_id, stem, ext)
            status = "added"
            if pages is None:
                pages = formats.list_pages(Path(path))
        elif arc["path"] and arc["path"] != path and self._still_there(conn, arc["path"], archive_id):
            duplicate_of = arc["path"]  # the record keeps its own file; this path only maps to it
            status = "duplicate"
        else:
            conn.execute("UPDATE archives SET path=?, filename=?, extension=?, size=? WHERE id=?",
                         (path, stem, ext, st.st_size, archive_id))
            status = status or "updated"
        if status != "duplicate":
            if pages is None and not records.has_page_list(self.db, archive_id):
                pages = formats.list_pages(Path(path))
            if pages is not None:
                records.store_pages(conn, archive_id, pages)
            if supplied is not None:
                self._apply_supplied(conn, archive_id, supplied)
        conn.execute("INSERT INTO files(path, archive_id, size, mtime_ns) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(path) DO UPDATE SET archive_id=excluded.archive_id, size=excluded.size, "
                     "mtime_ns=excluded.mtime_ns", (path, archive_id, st.st_size, st.st_mtime_ns))
        conn.execute("DELETE FROM bad_files WHERE path=?", (path,))
        # A duplicate's file name names the archive too; the binary hash stays the record's own file's: that
        # is the file the download serves (a copy may differ after the 512,000 bytes of the ID)
        # A folder is downloaded, and so saved by a reader, as "<name>.cbz": that name names it.
        named = path + ".cbz" if ext == FOLDER_EXTENSION else path
        kosync.store_fingerprints(conn, archive_id, named, None if status == "duplicate" else item.binary)
        if status == "duplicate":
            log.warning("ingest: %s has the same content as %s (archive %s): kept as a duplicate path",
                        shown(path), shown(duplicate_of), archive_id)
        return Outcome(path, status, archive_id, reason=duplicate_of)

    @staticmethod
    def _still_there(conn: sqlite3.Connection, path: str, archive_id: str) -> bool:
        known = conn.execute("SELECT 1 FROM files WHERE path=? AND archive_id=?", (path, archive_id)).fetchone()
        return known is not None and pages.archive_present(Path(path))

    def _insert(self, conn: sqlite3.Connection, path: str, st: os.stat_result, archive_id: str, stem: str,
                ext: str) -> None:
        now = int(time.time())
        # The title's search and sort forms go in with the row: a later UPDATE would build search_text twice.
        title, title_lc, sort_key = records.title_fields(stem)
        conn.execute("INSERT INTO archives(id, path, filename, extension, title, title_lc, sort_key, size, isnew, "
                     "added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                     (archive_id, path, stem, ext, title, title_lc, sort_key, st.st_size, now))
        if self.settings.get("usedateadded"):
            stamp = int(st.st_mtime) if self.settings.get("usedatemodified") else now
            records.write_tags(conn, archive_id, f"date_added:{stamp}")

    @staticmethod
    def _apply_supplied(conn: sqlite3.Connection, archive_id: str, supplied: Supplied) -> None:
        if supplied.tags:
            # An upload keeps the client's tag string as given, with the stored tags (date_added) after it.
            current = conn.execute("SELECT tags FROM archives WHERE id=?", (archive_id,)).fetchone()["tags"]
            records.write_tags(conn, archive_id, supplied.tags + ("," + current if current else ""))
        if supplied.title and supplied.title.strip():
            records.write_title(conn, archive_id, supplied.title.strip())
        if supplied.summary and supplied.summary.strip():
            conn.execute("UPDATE archives SET summary=? WHERE id=?", (supplied.summary, archive_id))

    def _content_changed(self, conn: sqlite3.Connection, path: str, old_id: str, new_id: str) -> str:
        """New content at a known path: the old record follows (re-keyed) when nothing else holds the old
        content; otherwise the path leaves the old record."""
        has_new = conn.execute("SELECT 1 FROM archives WHERE id=?", (new_id,)).fetchone() is not None
        has_old = conn.execute("SELECT 1 FROM archives WHERE id=?", (old_id,)).fetchone() is not None
        other = conn.execute("SELECT path FROM files WHERE archive_id=? AND path != ? LIMIT 1",
                             (old_id, path)).fetchone()
        if has_old and not has_new and other is None:
            rekey(conn, old_id, new_id)
            log.info("ingest: %s changed: %s re-keyed to %s", shown(path), old_id, new_id)
            return "rekeyed"
        conn.execute("UPDATE archives SET path=? WHERE id=? AND path=?", (other["path"] if other else "", old_id, path))
        return ""

    def _after(self, results: list[Outcome], supplied: Supplied | None, queue_cover: bool) -> None:
        """Steps after the record: plugins on new archives, the category, the cover, the search cache."""
        changed = False
        for outcome in results:
            if outcome.status in ("unchanged", "claimed", "failed") or outcome.archive_id is None:
                continue
            changed = True
            if outcome.status == "added" and self.plugins is not None:
                self.plugins(outcome.archive_id)
            if supplied is not None and supplied.category_id and outcome.status != "duplicate":
                try:
                    self.categories.add_to_category(supplied.category_id, outcome.archive_id)
                except DomainError as exc:  # LANraragi ignores a failed category add on upload
                    log.info("ingest: %s not added to category %s: %s", outcome.archive_id,
                             supplied.category_id, exc.message)
        if changed:
            self.settings.touch_cache()
        if queue_cover and any(o.is_new for o in results):
            self.request_covers()

    def request_covers(self) -> None:
        """Queue the job that makes missing covers, unless one is already waiting to run."""
        if self.jobs is None:
            return
        waiting = self.db.query_one("SELECT 1 FROM jobs WHERE task=? AND state='inactive'", (COVERS_TASK,))
        if waiting is None:
            self.jobs.enqueue(COVERS_TASK, [str(self.thumbs), 0])

    # -- vanished files --------------------------------------------------------------------------------------

    def vanished(self, paths: set[str] | list[str]) -> int:
        """Drop vanished paths from the file map; an archive whose file is gone keeps its metadata but leaves
        the listings (path ''), or moves to another copy of itself if one is known. Returns how many of the
        paths were known."""
        known = 0
        with self.db.write() as conn:
            for path in paths:
                conn.execute("DELETE FROM bad_files WHERE path=?", (path,))
                gone = conn.execute("DELETE FROM files WHERE path=?", (path,)).rowcount
                row = conn.execute("SELECT id FROM archives WHERE path=?", (path,)).fetchone()
                if row is None:
                    known += bool(gone)
                    continue
                known += 1
                other = conn.execute("SELECT path, size FROM files WHERE archive_id=? LIMIT 1", (row["id"],)).fetchone()
                if other is None:
                    conn.execute("UPDATE archives SET path='' WHERE id=?", (row["id"],))
                else:  # a duplicate copy takes over: the record now describes that file
                    stem, ext = archive_names(other["path"])
                    conn.execute("UPDATE archives SET path=?, filename=?, extension=?, size=? WHERE id=?",
                                 (other["path"], stem, ext, other["size"], row["id"]))
        if known:
            self.settings.touch_cache()
        return known

    def forget_unreadable(self, paths: set[str]) -> None:
        """Unreadable files that are gone from the folder leave the list of bad files."""
        with self.db.write() as conn:
            conn.executemany("DELETE FROM bad_files WHERE path=?", [(p,) for p in paths])


def _record_bad(conn: sqlite3.Connection, path: str, st: os.stat_result, exc: Exception) -> Outcome:
    """Log and remember a file that cannot be read (retried when its size or mtime changes)."""
    reason = str(exc) or exc.__class__.__name__
    log.warning("ingest: skipped %s: %s", shown(path), reason)
    conn.execute("INSERT OR REPLACE INTO bad_files(path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
                 (path, st.st_size, st.st_mtime_ns, reason))
    return Outcome(path, "failed", reason=reason)


def rekey(conn: sqlite3.Connection, old_id: str, new_id: str) -> None:
    """Move an archive entry and everything that refers to it from old_id to new_id, inside the caller's
    transaction (changed content = new ID; metadata, categories, tanks, toc and stamps follow it).
    Foreign keys are checked at COMMIT, so parent and children can change in any order."""
    conn.execute("PRAGMA defer_foreign_keys = ON")  # reset by SQLite when the transaction ends
    conn.execute("UPDATE archives SET id=?, thumbhash=NULL WHERE id=?", (new_id, old_id))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'archives'")]
    for table in tables:
        if any(r[1] == "archive_id" for r in conn.execute(f'PRAGMA table_info("{table}")')):
            conn.execute(f'UPDATE OR REPLACE "{table}" SET archive_id=? WHERE archive_id=?', (new_id, old_id))
