"""Benchmark responsiveness while background jobs run: request latency idle vs during a thumbnail storm.

Usage: .venv/bin/python scripts/bench_busy.py [--archives 200] [--rounds 40]

A Pi's cores are shared by the request threads and the job workers. After a big import the workers make a
cover for every new archive; a reader opening pages or a client searching at that moment must not wait for
them. The script writes `--archives` CBZ files with large pages (2400x3400 JPEG covers: ~50 ms of decoding
each), starts `lrr-lite serve` with a scan on start (the covers are queued as jobs), and while those jobs run
times page requests of an archive read before (pages from its zip) and an `/api/search`, then the same
requests once the queue is empty. Prints medians and p95 busy vs idle and their ratio (lower is better).

Tried with it: lowering the job workers' thread priority (setpriority +10) gave busy/idle median ratios of
1.43/1.87/1.98 against 2.02/1.57/1.24 at equal priority on the shared 2-core machine: no measurable gain,
so the workers run at normal priority (the systemd unit sets Nice=5 for the whole service).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
from _harness import ServerProcess, require_installed  # noqa: E402  (path set up above)
from archive_factory import make_archive, make_image  # noqa: E402


def request_ms(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # the next request reconnects
        raise OSError(str(exc)) from exc
    return resp.status, body, (time.perf_counter() - start) * 1000


def pending_jobs(data: Path) -> int:
    """Jobs queued or running, read from the server's database (the API has no queue listing)."""
    with sqlite3.connect(f"file:{data / 'database.sqlite'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('active', 'inactive')").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    require_installed()
    with tempfile.TemporaryDirectory(prefix="lrr_busy_") as tmp:
        root = Path(tmp)
        content, data = root / "content", root / "data"
        cover = make_image(2400, 3400, text="cover")
        small = make_image(800, 1130, text="page")
        for i in range(args.archives):
            make_archive(content / f"big{i:04d}.cbz", {"001.jpg": cover, "002.jpg": small, "id": str(i).encode()},
                         "cbz")
        reader = make_archive(content / "aaa reader.cbz", {f"{p:03d}.jpg": small for p in range(1, 21)}, "cbz")
        server = ServerProcess(content, data, root / "server.log", "--scan-on-start")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            server.wait_until(lambda: request_ms(conn, "/api/info")[0] == 200, 60)
            # the scan imports first (covers queued behind it): wait until the reader's archive is in
            server.wait_until(lambda: any(a["filename"] == reader.stem for a in json.loads(
                request_ms(conn, "/api/archives")[1])), 120)
            arcid = next(a["arcid"] for a in json.loads(request_ms(conn, "/api/archives")[1])
                         if a["filename"] == reader.stem)
            pages = json.loads(request_ms(conn, f"/api/archives/{arcid}/files")[1])["pages"]

            def round_ms() -> list[float]:
                return [request_ms(conn, pages[n % len(pages)])[2] for n in range(5)] + \
                       [request_ms(conn, "/api/search?filter=big0&start=0")[2]]

            busy: list[float] = []
            for _ in range(args.rounds):
                if pending_jobs(data) == 0:
                    break
                busy += round_ms()
            queued_left = pending_jobs(data)
            server.wait_until(lambda: pending_jobs(data) == 0, 600)
            idle: list[float] = []
            for _ in range(args.rounds):
                idle += round_ms()
        finally:
            conn.close()
            server.stop()
    if len(busy) < 12:
        raise SystemExit("the jobs finished before enough busy rounds: raise --archives")

    def p95(values: list[float]) -> float:
        return sorted(values)[int(0.95 * (len(values) - 1))]

    print(f"busy: {len(busy)} requests while covers were made ({queued_left} jobs still queued after them)")
    print(f"request_ms idle median={statistics.median(idle):.1f} p95={p95(idle):.1f}; "
          f"busy median={statistics.median(busy):.1f} p95={p95(busy):.1f}")
    print(f"busy_vs_idle ratio median={statistics.median(busy) / statistics.median(idle):.2f} "
          f"p95={p95(busy) / p95(idle):.2f}")


if __name__ == "__main__":
    main()
