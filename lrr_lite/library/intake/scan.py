"""Library scan: walk the content folder and hand every new or changed file to `Ingest`; forget what vanished.

The scan job, `lrr-lite scan` and the watcher's full passes all use this one walk. A rescan costs one stat
per file: files whose path, size and mtime are unchanged are skipped without being opened. A file that
cannot be read is recorded with its reason and skipped; the scan always finishes.

A folder of images (media/formats/folder.py, when the `folder_archives` setting is on) is one archive: it
is listed with its parent's files under its own path, with the stat ingest.archive_stat makes for it (one
stat per page), and not walked into. A folder of chapter folders stays a folder: each chapter is an archive.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lrr_lite.errors import ArchiveError
from lrr_lite.library.intake.ingest import Ingest, Outcome, archive_stat, shown
from lrr_lite.media import formats
from lrr_lite.media.formats import folder as folders
from lrr_lite.storage.db import Database

log = logging.getLogger(__name__)

CHUNK = 32  # files recorded per write transaction: fewer commits, and a short hold of the write lock


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
    duplicates: dict[str, str] = field(default_factory=dict)  # duplicate path -> the path the record keeps

    def as_dict(self) -> dict[str, object]:
        return {"seen": self.seen, "added": self.added, "updated": self.updated, "skipped": self.skipped,
                "failed": self.failed, "vanished": self.vanished, "duplicates": len(self.duplicates),
                "seconds": round(self.seconds, 3)}

    def count(self, outcome: Outcome) -> None:
        if outcome.status in ("added", "rekeyed"):
            self.added += 1
            if outcome.status == "added" and outcome.archive_id:
                self.new_ids.append(outcome.archive_id)
        elif outcome.status == "updated":
            self.updated += 1
        elif outcome.status == "duplicate":
            self.duplicates[outcome.path] = outcome.reason
        elif outcome.status == "failed":
            self.failed += 1
            self.errors[outcome.path] = outcome.reason
        else:
            self.skipped += 1


@dataclass
class _Folder:
    """One folder of the walk: its archive names and subfolder names, sorted. `files` is None for a folder
    that is not walked (it cannot be read, or a symlink loop leads back to one already walked). `bundles`:
    the names in `files` that are folders of images (archives themselves, not in `dirs`)."""

    path: str
    files: list[str] | None
    dirs: list[str]
    bundles: frozenset[str] = frozenset()


def is_folder_archive(path: str, root: str, thumbs: str | None = None) -> bool:
    """A folder of images under `root` that is one archive (folder.is_folder_archive), not inside a hidden
    folder (a NAS's `@eaDir/<file name>/` holds thumbnails) nor the thumbnail folder (a data folder kept
    inside the content folder); the caller checks the setting."""
    inside = os.path.relpath(path, root).split(os.sep)
    if inside[0] in (".", "..") or any(folders.is_hidden_folder(part) for part in inside):
        return False
    if thumbs and (path == thumbs or path.startswith(thumbs.rstrip(os.sep) + os.sep)):
        return False
    return folders.is_folder_archive(Path(path))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks, like os.walk(followlinks=True)
    except OSError:
        return False


def _walk_folders(root: str, bundles: bool = False, thumbs: str | None = None) -> Iterator[_Folder]:
    """Every folder under root, top-down, each listed once and sorted (the order files are imported in:
    the first of two copies keeps the record), symlinks followed. Only one folder's names are held at a time,
    plus the paths of the subfolders still to visit. A name the file system gives as bytes that are not UTF-8
    comes back with surrogate escapes (os.fsdecode), so it can be opened again; it is only escaped where shown.
    bundles=True: a subfolder that is a folder of images is listed among the files, not walked."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key in seen:  # a symlink loop
                yield _Folder(path, None, [])
                continue
            seen.add(key)
            with os.scandir(path) as it:
                entries = [(e.name, _is_dir(e)) for e in it]
        except OSError as exc:
            log.warning("scan: cannot read folder %s: %s", shown(path), exc)
            yield _Folder(path, None, [])
            continue
        dirs = sorted(name for name, is_dir in entries if is_dir)
        files = sorted(name for name, is_dir in entries if not is_dir and formats.is_archive_name(name))
        del entries
        found: frozenset[str] = frozenset()
        if bundles:
            found = frozenset(name for name in dirs if is_folder_archive(os.path.join(path, name), root, thumbs))
            if found:
                dirs = [name for name in dirs if name not in found]
                files = sorted(files + list(found))
        yield _Folder(path, files, dirs, found)
        stack.extend(os.path.join(path, name) for name in reversed(dirs))


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _stat_file(path: str, bundle: bool = False) -> os.stat_result | None:
    """The stat of a regular file (symlinks followed), None for anything else or a file that cannot be read.
    bundle=True: the path is a folder of images; its stat is the one ingest.archive_stat makes."""
    try:
        st = os.stat(path)
        if bundle and stat.S_ISDIR(st.st_mode):
            return archive_stat(path, st)
    except (OSError, ArchiveError) as exc:
        log.warning("scan: cannot stat %s: %s", shown(path), exc)
        return None
    return st if stat.S_ISREG(st.st_mode) else None


# -- reading the file map a slice at a time --------------------------------------------------------------------
# The walk never loads the whole `files` (or `bad_files`) table: each folder's names are looked up LOOKUP at a
# time, and the rows under the folder are read back in pages of PAGE, in the order of the path index, to find
# those whose file is gone. Paths are compared as SQLite stores them (the adapter of storage.db turns surrogate
# escapes into private-use characters on the way in and back on the way out), so ranges are built from the
# same Python strings on both sides. Short queries, not one long cursor: the ingest writes between them.
LOOKUP = 256  # paths per `IN (...)` lookup (well below SQLite's limit on bound parameters)
PAGE = 512  # rows per page of a range read


def _lookup(db: Database, table: str, paths: list[str]) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime_ns)} of the given paths that `table` (files or bad_files) holds."""
    if not paths:
        return {}
    marks = ",".join("?" * len(paths))
    return {r["path"]: (r["size"], r["mtime_ns"])
            for r in db.query(f"SELECT path, size, mtime_ns FROM {table} WHERE path IN ({marks})", paths)}


def _paths_in(db: Database, table: str, lo: str, hi: str | None) -> Iterator[str]:
    """The paths of `table` in [lo, hi) (hi None: no upper bound), in index order, a page at a time."""
    op = ">="
    while True:
        bound = "" if hi is None else " AND path < ?"
        rows = db.query(f"SELECT path FROM {table} WHERE path {op} ?{bound} ORDER BY path LIMIT {PAGE}",
                        (lo,) if hi is None else (lo, hi))
        for row in rows:
            yield row["path"]
        if len(rows) < PAGE:
            return
        lo, op = rows[-1]["path"], ">"


def _paths_below(db: Database, table: str, folder: str, walked: set[str]) -> Iterator[tuple[str, str | None]]:
    """The paths of `table` under `folder`: (path, name) for one directly in it, (path, None) for one under a
    subfolder that is not in `walked`; the paths under walked subfolders are skipped over with one seek each
    (the walk reads them in their own folder's turn)."""
    prefix = folder.rstrip("/") + "/"
    end = prefix[:-1] + "0"  # "0" follows "/": [prefix, end) is everything under the folder
    skip = len(prefix)
    lo = prefix
    while True:
        for path in _paths_in(db, table, lo, end):
            sub, slash, _ = path[skip:].partition("/")
            if not slash:
                yield path, sub
            elif sub in walked:
                lo = prefix + sub + "0"
                break
            else:
                yield path, None
        else:
            return


def _paths_outside(db: Database, table: str, root: str) -> Iterator[str]:
    """The paths of `table` that are not under root (a content folder that moved)."""
    prefix = root.rstrip("/") + "/"
    yield from _paths_in(db, table, "", prefix)
    yield from _paths_in(db, table, prefix[:-1] + "0", None)


def _orphan_records(db: Database) -> Iterator[str]:
    """Paths of records that no file-map row points at (databases from before the file map)."""
    last = ""
    while True:
        rows = db.query("SELECT path FROM archives WHERE path > ? AND NOT EXISTS "
                        "(SELECT 1 FROM files WHERE files.path = archives.path) ORDER BY path LIMIT ?", (last, PAGE))
        for row in rows:
            yield row["path"]
        if len(rows) < PAGE:
            return
        last = rows[-1]["path"]


def scan(ingest: Ingest, root: Path, progress: Callable[[ScanReport], None] | None = None, *,
         defer: Callable[[str, os.stat_result], bool] | None = None,
         stop: Callable[[], bool] | None = None) -> ScanReport:
    """Walk `root`, ingesting new and changed files in chunks; vanished paths are forgotten at the end.

    `defer(path, stat)` lets the watcher keep files that are still being written for later (True = not now).
    `progress` is called every ~2 s and at the end; `stop()` ends the walk early (nothing is forgotten then).
    Covers are not queued here: the caller does that once the walk is over.

    Memory does not grow with the library: one folder's names and a few hundred file-map rows are held at a
    time (the file map is compared folder by folder, see `_lookup` and `_paths_below`); what grows is only
    what changed: the paths that vanished, and the report's new IDs and duplicates."""
    db = ingest.db
    report = ScanReport()
    started = time.monotonic()
    last_note = started
    gone: list[str] = []  # file-map paths whose file is no longer there, forgotten once the walk is done
    gone_bad: list[str] = []  # the same for unreadable files
    batch: list[tuple[str, os.stat_result]] = []

    def flush() -> None:
        for outcome in ingest.files(batch, queue_cover=False):
            report.count(outcome)
        batch.clear()

    if not root.is_dir():
        log.warning("scan: content folder %s does not exist (unmounted?); nothing is forgotten", root)
        return report
    top = str(root)
    for folder in _walk_folders(top, ingest.folder_archives, str(ingest.thumbs)):
        absent: set[str] = set()  # names listed but not regular files (a FIFO, a broken symlink)
        for first in range(0, len(folder.files or ()), LOOKUP):
            ingest.foreground.give_way()  # the walk is background work: a request in flight goes first
            found: list[tuple[str, os.stat_result]] = []
            for name in (folder.files or [])[first:first + LOOKUP]:
                full = os.path.join(folder.path, name)
                st = _stat_file(full, name in folder.bundles)
                if st is None:
                    absent.add(name)
                else:
                    found.append((full, st))
            known = _lookup(db, "files", [p for p, _ in found])
            bad = _lookup(db, "bad_files", [p for p, st in found if known.get(p) != (st.st_size, st.st_mtime_ns)])
            for path, st in found:
                if stop is not None and stop():
                    report.seconds = time.monotonic() - started
                    return report
                report.seen += 1
                sig = (st.st_size, st.st_mtime_ns)
                if known.get(path) == sig:
                    report.skipped += 1
                elif bad.get(path) == sig:
                    report.failed += 1
                elif defer is None or not defer(path, st):
                    batch.append((path, st))
                    if len(batch) >= CHUNK:
                        flush()
                now = time.monotonic()
                if now - last_note >= 2.0:
                    last_note = now
                    log.info("scan: %d files seen (%d new, %d failed), %.0f files/s",
                             report.seen, report.added, report.failed, report.seen / (now - started))
                    if progress:
                        progress(report)
        present = set(folder.files or ()) - absent
        walked = set(folder.dirs)
        for table, lost in (("files", gone), ("bad_files", gone_bad)):
            lost.extend(path for path, name in _paths_below(db, table, folder.path, walked)
                        if name is None or name not in present)
    if batch:
        flush()
    gone.extend(_paths_outside(db, "files", top))
    gone_bad.extend(_paths_outside(db, "bad_files", top))
    # A row written after its folder was listed (an upload placing its file meanwhile) is no vanished file.
    gone = [path for path in gone if not _is_file(path)]
    # Records whose file left while no file-map row pointed at it (older databases) are forgotten too.
    gone.extend(path for path in _orphan_records(db) if not os.path.exists(path))
    report.vanished = ingest.vanished(gone) if gone else 0
    if gone_bad:
        ingest.forget_unreadable(set(gone_bad))
    report.seconds = time.monotonic() - started
    log.info("scan: done in %.1fs: %d seen, %d new, %d updated, %d unchanged, %d failed, %d vanished, "
             "%d duplicates", report.seconds, report.seen, report.added, report.updated, report.skipped,
             report.failed, report.vanished, len(report.duplicates))
    if progress:
        progress(report)
    return report
