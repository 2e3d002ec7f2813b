"""Benchmark lrr_lite.scan: first import of 1,000 small CBZ files, then a rescan with nothing changed.

Usage: .venv/bin/python scripts/bench_scan.py [--archives 1000] [--runs 5] [--quick]
Target: scan_1000_cbz archives_per_s median >= 300 (information: rescan_1000_unchanged_ms).

Each run uses a fresh data folder (empty database) over the same content folder, after one untimed read of
every file so the OS page cache is warm: the figure is the scanner's own cost (hashing, listing, SQLite),
not the disk's.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from archive_factory import page_images  # noqa: E402  (path set up above)

from lrr_lite.library.intake import scan
from lrr_lite.library.intake.ingest import Ingest
from lrr_lite.media import formats
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

TARGET_PER_S = 300


def cbz_bytes(pages: list[bytes], index: int) -> bytes:
    """A stored CBZ of 3-5 of the shared pages plus a tiny ComicInfo.xml unique to `index` (so IDs differ)."""
    count = 3 + index % 3
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for n in range(count):
            zf.writestr(f"{n + 1:03d}.jpg", pages[(index + n) % len(pages)])
        zf.writestr("ComicInfo.xml", f"<ComicInfo><Number>{index}</Number></ComicInfo>")
    return out.getvalue()


def build_library(root: Path, count: int) -> int:
    """`count` CBZ files in 10 sub-folders; returns the total bytes written."""
    pages = page_images(5, size=(320, 460))  # encoded once, reused by every archive
    total = 0
    for i in range(count):
        folder = root / f"series{i % 10:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = cbz_bytes(pages, i)
        (folder / f"Comic {i:05d}.cbz").write_bytes(data)
        total += len(data)
    return total


def warm_cache(root: Path) -> None:
    for path in root.rglob("*.cbz"):
        path.read_bytes()


def one_run(content: Path, data: Path, count: int) -> tuple[float, float]:
    """(archives/s of the first scan, ms of the unchanged rescan) with a fresh database in `data`."""
    formats._memo.clear()  # the page-list memo must not carry over from the previous run
    db = Database(data / "database.sqlite")
    try:
        settings = Settings(db)
        start = time.perf_counter()
        ingest = Ingest(db, settings, data / "thumb")
        report = scan.scan(ingest, content)
        first = time.perf_counter() - start
        if report.added != count or report.failed:
            raise SystemExit(f"scan imported {report.added}/{count}, failed {report.failed}: {report.errors}")
        start = time.perf_counter()
        again = scan.scan(ingest, content)
        rescan_ms = (time.perf_counter() - start) * 1000
        if again.skipped != count:
            raise SystemExit(f"rescan skipped {again.skipped}/{count}: {again.as_dict()}")
    finally:
        db.close()
    return count / first, rescan_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 archives, 2 runs (CI smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.archives, args.runs = 200, 2
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        content = Path(tmp) / "content"
        start = time.perf_counter()
        size = build_library(content, args.archives)
        print(f"generated {args.archives} cbz ({size / 2**20:.1f} MB) in {time.perf_counter() - start:.1f}s")
        warm_cache(content)
        rates, rescans = [], []
        for run in range(args.runs):
            rate, rescan_ms = one_run(content, Path(tmp) / f"data{run}", args.archives)
            rates.append(rate)
            rescans.append(rescan_ms)
    n = args.archives
    print(f"scan_{n}_cbz archives_per_s median={statistics.median(rates):.0f} "
          f"runs=[{', '.join(f'{r:.0f}' for r in rates)}] (target >= {TARGET_PER_S})")
    print(f"rescan_{n}_unchanged_ms median={statistics.median(rescans):.1f} "
          f"runs=[{', '.join(f'{r:.1f}' for r in rescans)}]")


if __name__ == "__main__":
    main()
