"""Library scan: walk the content folder and hand every new or changed file to `Ingest`; forget what vanished.

The scan job, `lrr-lite scan` and the watcher's full passes all use this one walk. A rescan costs one stat
per file: files whose path, size and mtime are unchanged are skipped without being opened. A file that
cannot be read is recorded with its reason and skipped; the scan always finishes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lrr_lite.library.intake.ingest import Ingest, Outcome, shown
from lrr_lite.media import formats

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


def walk_archives(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(absolute path, stat) of every archive under root, symlinks followed, each directory once.

    A name the file system gives as bytes that are not UTF-8 comes back with surrogate escapes (os.fsdecode),
    so it can be opened again; it is only escaped where it is shown."""
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
                log.warning("scan: cannot stat %s: %s", shown(full), exc)
                continue
            if os.path.isfile(full):
                yield full, fst


def scan(ingest: Ingest, root: Path, progress: Callable[[ScanReport], None] | None = None, *,
         defer: Callable[[str, os.stat_result], bool] | None = None,
         stop: Callable[[], bool] | None = None) -> ScanReport:
    """Walk `root`, ingesting new and changed files in chunks; vanished paths are forgotten at the end.

    `defer(path, stat)` lets the watcher keep files that are still being written for later (True = not now).
    `progress` is called every ~2 s and at the end; `stop()` ends the walk early (nothing is forgotten then).
    Covers are not queued here: the caller does that once the walk is over."""
    db = ingest.db
    report = ScanReport()
    started = time.monotonic()
    last_note = started
    known = {r["path"]: (r["size"], r["mtime_ns"]) for r in db.query("SELECT path, size, mtime_ns FROM files")}
    bad = {r["path"]: (r["size"], r["mtime_ns"]) for r in db.query("SELECT path, size, mtime_ns FROM bad_files")}
    present: set[str] = set()
    batch: list[tuple[str, os.stat_result]] = []

    def flush() -> None:
        for outcome in ingest.files(batch, queue_cover=False):
            report.count(outcome)
        batch.clear()

    if not root.is_dir():
        log.warning("scan: content folder %s does not exist (unmounted?); nothing is forgotten", root)
        return report
    for path, st in walk_archives(root):
        if stop is not None and stop():
            return report
        present.add(path)
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
    if batch:
        flush()
    gone = set(known) - present
    # Records whose file left while no file-map row pointed at it (older databases) are forgotten too.
    gone.update(r["path"] for r in db.query("SELECT path FROM archives WHERE path != ''")
                if r["path"] not in present and not os.path.exists(r["path"]))
    report.vanished = ingest.vanished(gone) if gone else 0
    ingest.forget_unreadable(set(bad) - present)
    report.seconds = time.monotonic() - started
    log.info("scan: done in %.1fs: %d seen, %d new, %d updated, %d unchanged, %d failed, %d vanished, "
             "%d duplicates", report.seconds, report.seen, report.added, report.updated, report.skipped,
             report.failed, report.vanished, len(report.duplicates))
    if progress:
        progress(report)
    return report
