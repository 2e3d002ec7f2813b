#!/usr/bin/env python3
"""Folder archives: a folder of --pages real JPEG files (default 1,000).

1. The media layer, timed warm: medians of --runs for listing the pages, reading the first page, the
   folder's ID, laying out its ZIP (the Content-Length) and streaming the whole ZIP.
2. Over HTTP (skipped with --no-http): `lrr-lite scan` records the folder, then `lrr-lite serve` runs on a
   free 127.0.0.1 port (scripts/_harness.py) and one keep-alive client asks --requests times for
   `/api/archives/{id}/files` and for the first page `/api/archives/{id}/page?path=...`; p50 and p95 of
   the wall time of each reply, body read. Issue 18's goals: list <= 50 ms, first page <= 5 ms.

Usage: .venv/bin/python scripts/bench_folder.py [--pages 1000] [--runs 20] [--requests 200] [--dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import archive_factory as af  # noqa: E402
from _harness import LRR_LITE, ServerProcess, clean_env, require_installed  # noqa: E402

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
    ap.add_argument("--requests", type=int, default=200, help="HTTP requests per route")
    ap.add_argument("--no-http", action="store_true", help="only the media layer")
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_folder_"))
    book = root / "content" / f"Book {args.pages}"
    if not book.exists():
        book.mkdir(parents=True)  # under content/, beside data/, as the default layout has them
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
    if not args.no_http:
        http_part(root, book, first, args.requests)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def http_part(root: Path, book: Path, first: str, n: int) -> None:
    """The same folder through a real server: scanned by `lrr-lite scan`, served by `lrr-lite serve`."""
    require_installed()
    content = book.parent
    data = root / "data"
    subprocess.run([str(LRR_LITE), "scan", "--content", str(content), "--data", str(data)], check=True,
                   env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ServerProcess(content, data, root / "server.log", "--watch", "off")
    try:
        url = f"http://127.0.0.1:{server.port}"
        session = requests.Session()
        server.wait_until(lambda: session.get(url + "/api/info", timeout=5).status_code == 200, 60)
        found = [a for a in session.get(url + "/api/archives", timeout=30).json() if a["extension"] == "folder"]
        if len(found) != 1:
            raise SystemExit(f"expected one folder archive, the server lists {len(found)}")
        arcid = found[0]["arcid"]
        routes = [("GET /api/archives/{id}/files", f"{url}/api/archives/{arcid}/files", 50.0),
                  ("GET first page (/page?path=)", f"{url}/api/archives/{arcid}/page", 5.0)]
        print(f"HTTP, lrr-lite serve on 127.0.0.1, one keep-alive client, {n} requests each, ms")
        for name, target, goal in routes:
            params = {"path": first} if "page" in name else None
            samples = []
            for i in range(n + 5):
                t = time.perf_counter()
                r = session.get(target, params=params, timeout=30)
                body = r.content
                took = (time.perf_counter() - t) * 1000
                if r.status_code != 200 or not body:
                    raise SystemExit(f"{name}: HTTP {r.status_code}")
                if i >= 5:  # the first few warm the server's caches and connections
                    samples.append(took)
            p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
            verdict = ("PASS" if p50 <= goal else "FAIL") + f" (goal p50 <= {goal:g} ms)"
            print(f"  {name:32s} p50 {p50:7.2f}  p95 {p95:7.2f}  {verdict}")
        pages = len(session.get(f"{url}/api/archives/{arcid}/files", timeout=30).json()["pages"])
        print(f"  ({pages} pages listed; first page {first!r}, {len(body)} bytes)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
