"""Library scan: walk the content folder, import new archives, follow moved and vanished files.

A rescan costs one stat per file: files whose path, size and mtime are unchanged are skipped.
A file that cannot be read is recorded with its reason and skipped; the scan always finishes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import formats, library
from .db import Database
from .errors import ArchiveError
from .settings import Settings

log = logging.getLogger(__name__)

ID_BYTES = 512_000  # LANraragi hashes the first 512 000 bytes (not 512 KiB)
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"


def compute_id(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(ID_BYTES)
    return hashlib.sha1(head).hexdigest()


def split_name(filename: str) -> tuple[str, str]:
    """(name without its last extension, JSON extension) as LANraragi derives them."""
    stem, dot, _ = filename.rpartition(".")
    if not dot:
        return filename, ""
    return stem, formats.json_extension(filename)


@dataclass
class ScanReport:
    seen: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    vanished: int = 0
    seconds: float = 0.0
    new_ids: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"seen": self.seen, "added": self.added, "updated": self.updated, "skipped": self.skipped,
                "failed": self.failed, "vanished": self.vanished, "seconds": round(self.seconds, 3)}


def walk_archives(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(absolute path, stat) of every archive under root, symlinks followed, each directory once."""
    seen_dirs: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a symlink loop
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        dirnames.sort()
        for name in sorted(filenames):
            if not formats.is_archive_name(name):
                continue
            full = os.path.join(dirpath, name)
            try:
                fst = os.stat(full)
            except OSError as exc:
                log.warning("scan: cannot stat %s: %s", full, exc)
                continue
            if os.path.isfile(full):
                yield full, fst


def import_file(db: Database, settings: Settings, path: str, st: os.stat_result,
                archive_id: str | None = None) -> tuple[str, bool]:
    """Import or refresh one archive file; returns (id, created). Raises ArchiveError if unreadable."""
    if st.st_size == 0:
        raise ArchiveError("empty file")
    archive_id = archive_id or compute_id(Path(path))
    row = db.query_one("SELECT id, pagecount FROM archives WHERE id=?", (archive_id,))
    pages: list[str] | None = None
    if row is None or not library.page_list(db, archive_id):
        pages = formats.list_pages(Path(path))
    name = os.path.basename(path)
    stem, ext = split_name(name)
    with db.write() as conn:
        if row is None:
            now = int(time.time())
            conn.execute(
                "INSERT INTO archives(id, path, filename, extension, title, size, isnew, added) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                (archive_id, path, stem, ext, stem, st.st_size, now),
            )
            library.write_title(conn, archive_id, stem)
            if settings.get("usedateadded"):
                stamp = int(st.st_mtime) if settings.get("usedatemodified") else now
                library.write_tags(conn, archive_id, f"date_added:{stamp}")
        else:
            conn.execute("UPDATE archives SET path=?, filename=?, extension=?, size=? WHERE id=?",
                         (path, stem, ext, st.st_size, archive_id))
        if pages is not None:
            library.store_pages(conn, archive_id, pages)
        conn.execute("INSERT INTO files(path, archive_id, size, mtime_ns) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(path) DO UPDATE SET archive_id=excluded.archive_id, size=excluded.size, "
                     "mtime_ns=excluded.mtime_ns", (path, archive_id, st.st_size, st.st_mtime_ns))
        conn.execute("DELETE FROM bad_files WHERE path=?", (path,))
    return archive_id, row is None


def rekey(conn, old_id: str, new_id: str) -> None:
    """Move an archive entry and everything that refers to it from old_id to new_id, inside the caller's
    transaction (changed content = new ID; metadata, categories, tanks, toc and stamps follow it).
    Foreign keys are checked at COMMIT, so parent and children can change in any order."""
    conn.execute("PRAGMA defer_foreign_keys = ON")  # reset by SQLite when the transaction ends
    conn.execute("UPDATE archives SET id=?, thumbhash=NULL WHERE id=?", (new_id, old_id))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'archives'")]
    for table in tables:
        if any(r[1] == "archive_id" for r in conn.execute(f'PRAGMA table_info("{table}")')):
            conn.execute(f'UPDATE OR REPLACE "{table}" SET archive_id=? WHERE archive_id=?', (new_id, old_id))


def _replace(db: Database, settings: Settings, thumbs: Path | None, path: str, st: os.stat_result, old_id: str,
             new_id: str) -> str:
    """New content at a known path: re-key the entry when nothing else holds the old ID, else import."""
    page_names = formats.list_pages(Path(path))  # outside the write lock; memoized for import_file
    rekeyed = False
    with db.write() as conn:
        has_new = conn.execute("SELECT 1 FROM archives WHERE id=?", (new_id,)).fetchone() is not None
        has_old = conn.execute("SELECT 1 FROM archives WHERE id=?", (old_id,)).fetchone() is not None
        other = conn.execute("SELECT path FROM files WHERE archive_id=? AND path != ? LIMIT 1",
                             (old_id, path)).fetchone()
        if has_old and not has_new and other is None:
            rekey(conn, old_id, new_id)
            library.store_pages(conn, new_id, page_names)
            rekeyed = True
        else:
            conn.execute("UPDATE archives SET path=? WHERE id=? AND path=?",
                         (other["path"] if other else "", old_id, path))
        _, created = import_file(db, settings, path, st, archive_id=new_id)
    if rekeyed:
        log.info("scan: %s changed: %s re-keyed to %s", path, old_id, new_id)
        if thumbs is not None:  # the old ID's thumbnails show the old content
            (thumbs / old_id[:2] / f"{old_id}.jpg").unlink(missing_ok=True)
            shutil.rmtree(thumbs / old_id[:2] / old_id, ignore_errors=True)
        return "rekeyed"
    return "added" if created else "updated"


def handle_file(db: Database, settings: Settings, thumbs: Path | None, path: str, st: os.stat_result,
                new_id: str | None = None) -> tuple[str, str | None]:
    """Import, refresh or re-key one archive file: ('unchanged'|'added'|'updated'|'rekeyed', its ID).

    Raises ArchiveError/OSError for a file that cannot be read; the caller records it."""
    row = db.query_one("SELECT archive_id, size, mtime_ns FROM files WHERE path=?", (path,))
    if row is not None and (row["size"], row["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
        return "unchanged", row["archive_id"]
    if st.st_size == 0:
        raise ArchiveError("empty file")
    new_id = new_id or compute_id(Path(path))
    old_id = row["archive_id"] if row is not None else None
    if old_id is not None and old_id != new_id:
        return _replace(db, settings, thumbs, path, st, old_id, new_id), new_id
    if old_id == new_id and row["size"] != st.st_size:
        page_names = formats.list_pages(Path(path))  # same head, other tail: list the pages again
        with db.write() as conn:
            library.store_pages(conn, new_id, page_names)
            import_file(db, settings, path, st, archive_id=new_id)
        return "updated", new_id
    _, created = import_file(db, settings, path, st, archive_id=new_id)
    return ("added" if created else "updated"), new_id


def record_bad(db: Database, path: str, st: os.stat_result, reason: str) -> None:
    with db.write() as conn:
        conn.execute("INSERT OR REPLACE INTO bad_files(path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
                     (path, st.st_size, st.st_mtime_ns, reason))


def scan(db: Database, settings: Settings, root: Path,
         progress: Callable[[ScanReport], None] | None = None, thumbs: Path | None = None) -> ScanReport:
    """Walk `root`; `thumbs` is where stale covers of re-keyed archives are removed from."""
    report = ScanReport()
    started = time.monotonic()
    last_log = started
    known = {r["path"]: (r["size"], r["mtime_ns"], r["archive_id"])
             for r in db.query("SELECT path, size, mtime_ns, archive_id FROM files")}
    bad = {r["path"]: (r["size"], r["mtime_ns"]) for r in db.query("SELECT path, size, mtime_ns FROM bad_files")}
    present: set[str] = set()
    if not root.is_dir():
        log.warning("scan: content folder %s does not exist", root)
    else:
        for path, st in walk_archives(root):
            present.add(path)
            report.seen += 1
            entry = known.get(path)
            if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
                report.skipped += 1
            elif bad.get(path) == (st.st_size, st.st_mtime_ns):
                report.failed += 1
            else:
                try:
                    outcome, archive_id = handle_file(db, settings, thumbs, path, st)
                except (ArchiveError, OSError) as exc:
                    reason = str(exc) or exc.__class__.__name__
                    report.failed += 1
                    report.errors[path] = reason
                    log.warning("scan: skipped %s: %s", path, reason)
                    record_bad(db, path, st, reason)
                else:
                    if outcome in ("added", "rekeyed"):
                        report.added += 1
                        if outcome == "added" and archive_id:
                            report.new_ids.append(archive_id)
                    elif outcome == "updated":
                        report.updated += 1
            now = time.monotonic()
            if now - last_log >= 2.0:
                last_log = now
                rate = report.seen / (now - started)
                log.info("scan: %d files seen (%d new, %d failed), %.0f files/s",
                         report.seen, report.added, report.failed, rate)
                if progress:
                    progress(report)
    report.vanished = forget_vanished(db, set(known) - present)
    with db.write() as conn:
        for path in set(bad) - present:
            conn.execute("DELETE FROM bad_files WHERE path=?", (path,))
    report.seconds = time.monotonic() - started
    if report.added or report.vanished or report.updated:
        settings.touch_cache()
    log.info("scan: done in %.1fs: %d seen, %d new, %d updated, %d unchanged, %d failed, %d vanished",
             report.seconds, report.seen, report.added, report.updated, report.skipped, report.failed,
             report.vanished)
    if progress:
        progress(report)
    return report


def forget_vanished(db: Database, paths: set[str]) -> int:
    """Drop vanished paths from the file map; an archive whose file is gone keeps its metadata but
    leaves the listings (path ''), or moves to another copy of itself if one is known."""
    if not paths:
        return 0
    with db.write() as conn:
        for path in paths:
            conn.execute("DELETE FROM files WHERE path=?", (path,))
            row = conn.execute("SELECT id FROM archives WHERE path=?", (path,)).fetchone()
            if row is None:
                continue
            other = conn.execute("SELECT path FROM files WHERE archive_id=? LIMIT 1", (row["id"],)).fetchone()
            conn.execute("UPDATE archives SET path=? WHERE id=?", (other["path"] if other else "", row["id"]))
    return len(paths)
