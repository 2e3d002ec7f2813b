#!/usr/bin/env python3
"""Folder archives, the media layer: a folder of --pages real JPEG files (default 1,000), timed cold-ish and
warm. Prints medians of --runs: listing the pages, reading the first page, the folder's ID, laying out its
ZIP (the Content-Length) and streaming the whole ZIP. Issue 18's goals: list <= 50 ms, first page <= 5 ms.

Usage: .venv/bin/python scripts/bench_folder.py [--pages 1000] [--runs 20] [--dir DIR]
(The HTTP figures come once folders are served; this measures what every route will call.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import archive_factory as af  # noqa: E402

from lrr_lite.media.formats import folder  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_folder_"))
    book = root / f"Book {args.pages}"
    if not book.exists():
        book.mkdir(parents=True)
        image = af.make_image(800, 1200, text="page")  # ~40 KB JPEGs; the names decide the order work
        for i in range(1, args.pages + 1):
            (book / f"page {i}.jpg").write_bytes(image[:-2] + i.to_bytes(4, "big") + image[-2:])
    pages = folder.list_pages(book)
    first = pages[0]
    rows = [
        ("list pages", *timed(lambda: folder.list_pages(book), args.runs), 50.0),
        ("read first page", *timed(lambda: folder.read_page(book, first), args.runs), 5.0),
        ("folder ID (512,000 bytes)", *timed(lambda: folder.folder_id(book, pages), args.runs), None),
        ("ZIP layout (Content-Length)", *timed(lambda: folder.FolderZip(book, pages).size, args.runs), None),
    ]
    zip_size = folder.FolderZip(book, pages).size
    stream = timed(lambda: sum(len(b) for b in folder.FolderZip(book, pages).read()), max(3, args.runs // 5))
    rows.append((f"whole ZIP stream ({zip_size / 1e6:.0f} MB)", *stream, None))
    print(f"folder of {len(pages)} pages in {book}; median and max of {args.runs} runs, ms")
    for name, med, worst, goal in rows:
        verdict = "" if goal is None else ("PASS" if med <= goal else "FAIL") + f" (goal <= {goal:g} ms)"
        print(f"  {name:32s} {med:9.2f} {worst:9.2f}  {verdict}")
    print(f"  ZIP throughput: {zip_size / 1e6 / (stream[0] / 1000):.0f} MB/s (median)")


if __name__ == "__main__":
    main()
