"""Library scan: walk the content folder, import new archives, follow moved and vanished files.

A rescan costs one stat per file: files whose path, size and mtime are unchanged are skipped.
A file that cannot be read is recorded with its reason and skipped; the scan always finishes.
"""

from __future__ import annotations

import hashlib
import logging
import os
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


def scan(db: Database, settings: Settings, root: Path,
         progress: Callable[[ScanReport], None] | None = None) -> ScanReport:
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
                    archive_id, created = import_file(db, settings, path, st)
                except (ArchiveError, OSError) as exc:
                    reason = str(exc) or exc.__class__.__name__
                    report.failed += 1
                    report.errors[path] = reason
                    log.warning("scan: skipped %s: %s", path, reason)
                    with db.write() as conn:
                        conn.execute("INSERT OR REPLACE INTO bad_files(path, size, mtime_ns, reason) "
                                     "VALUES (?, ?, ?, ?)", (path, st.st_size, st.st_mtime_ns, reason))
                else:
                    if created:
                        report.added += 1
                        report.new_ids.append(archive_id)
                    else:
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
