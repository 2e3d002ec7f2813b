"""Benchmark the real server process (`lrr-lite serve` in a subprocess, talked to over loopback HTTP).

Usage: .venv/bin/python scripts/bench_server.py [--archives 10000] [--pages 300] [--runs 5] [--quick]

(a) idle_rss_10000_archives_mb: VmRSS of the server over a 10,000-archive library, 2 s after it answered
    /api/archives once and /api/info a few times (target <= 80). Also printed: RSS right after start and
    GET /api/archives (full list) time.
(b) cbz300_first_page_http_ms: what a reader pays to open an archive nobody has opened since the server
    started: GET /api/archives/<id>/files, then GET the first page URL it returned. Every run starts a
    fresh server (so the in-memory page-list memo is empty) with an empty on-disk page cache, after a
    warm-up request to a small archive of the same format (so imports and SQLite are warm). The OS cache
    is warm: this measures the server, not the disk. TTFB = request sent -> response headers received over
    loopback, i.e. server-side time plus well under a millisecond.
    The same for a 300-page 7z (LZMA), compared with one plain sequential libarchive read of that file.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import libarchive
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
from _harness import LRR_LITE, ServerProcess, clean_env, require_installed  # noqa: E402  (path set up above)
from archive_factory import make_image  # noqa: E402

RSS_TARGET_MB = 80


# -- content ---------------------------------------------------------------------------------------------


def tiny_library(root: Path, count: int) -> None:
    """`count` one- or two-page CBZ files in 100 folders; a ComicInfo.xml unique to each makes IDs differ."""
    # 1000x1440: the cover thumbnailer decodes these at 1/2 scale straight to its 500 px box, the cheapest
    # case, so `lrr-lite scan` makes 10,000 covers in under a minute.
    pages = [make_image(1000, 1440, text=f"p{n}", color=(40 * n, 90, 160)) for n in range(4)]
    for i in range(count):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("ComicInfo.xml", f"<ComicInfo><Number>{i}</Number></ComicInfo>")
            for n in range(1 + i % 2):
                zf.writestr(f"{n + 1:03d}.jpg", pages[(i + n) % len(pages)])
        folder = root / f"folder{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"Tiny comic {i:05d}.cbz").write_bytes(out.getvalue())


def realistic_pages(count: int) -> list[bytes]:
    """`count` distinct ~1400x2000 JPEG pages (~370 KB each): crops at different offsets of one grainy
    picture, so every page's bytes differ (as in a real comic, a 7z compressor finds nothing to share)."""
    size = (2000, 2600)
    lin = Image.linear_gradient("L").resize(size)
    rad = Image.radial_gradient("L").resize(size)
    grain = Image.effect_noise(size, 25)
    base = Image.merge("RGB", (lin, Image.blend(rad, grain, 0.5), Image.blend(lin, grain, 0.3)))
    base = base.filter(ImageFilter.GaussianBlur(0.7))
    pages = []
    for i in range(count):
        x, y = (i * 37) % 600, (i * 53) % 600
        out = io.BytesIO()
        base.crop((x, y, x + 1400, y + 2000)).save(out, "JPEG", quality=85)
        pages.append(out.getvalue())
    return pages


def write_cbz(path: Path, pages: list[bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for n, data in enumerate(pages, start=1):
            zf.writestr(f"{n:03d}.jpg", data)


def write_7z(path: Path, pages: list[bytes]) -> None:
    # LZMA2 like a real cb7; preset 0 because compressing 100 MB of JPEG at the default preset takes a
    # minute and gains nothing (JPEG does not compress). Reading cost is the same at any preset.
    with libarchive.file_writer(str(path), "7zip", options="compression-level=0") as arc:
        for n, data in enumerate(pages, start=1):
            arc.add_file_from_memory(f"{n:03d}.jpg", len(data), data)


def sequential_read_s(path: Path) -> float:
    """One plain libarchive pass over every member's data."""
    start = time.perf_counter()
    with libarchive.file_reader(str(path)) as arc:
        for entry in arc:
            for _block in entry.get_blocks():
                pass
    return time.perf_counter() - start


# -- the server ------------------------------------------------------------------------------------------


def run_scan(content: Path, data: Path) -> float:
    """`lrr-lite scan` (import + covers) in a subprocess; returns its wall time."""
    start = time.perf_counter()
    res = subprocess.run([str(LRR_LITE), "scan", "--content", str(content), "--data", str(data)],
                         capture_output=True, text=True, env=clean_env())
    if res.returncode:
        raise SystemExit(f"lrr-lite scan failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return time.perf_counter() - start


@dataclass
class Timing:
    ttfb_ms: float
    total_ms: float
    status: int
    body: bytes


class Server(ServerProcess):
    """The server, asked over one kept-alive connection with time-to-first-byte measured."""

    def __init__(self, content: Path, data: Path, log: Path) -> None:
        super().__init__(content, data, log)
        self.conn: http.client.HTTPConnection | None = None

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds until /api/info answers 200."""
        return self.wait_until(lambda: self.get("/api/info").status == 200, timeout)

    def get(self, path: str) -> Timing:
        """One GET on a kept-alive connection; TTFB = until the status line and headers are parsed."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        start = time.perf_counter()
        try:
            self.conn.request("GET", path)
            resp = self.conn.getresponse()
            ttfb = time.perf_counter() - start
            body = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        total = time.perf_counter() - start
        return Timing(ttfb * 1000, total * 1000, resp.status, body)

    def json(self, path: str) -> object:
        res = self.get(path)
        if res.status != 200:
            raise SystemExit(f"GET {path} -> {res.status}: {res.body[:300]!r}")
        return json.loads(res.body)

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        super().stop()


def ids_by_name(server: Server) -> dict[str, str]:
    """file name ("big.7z") -> archive id, from /api/archives (filename there has no extension)."""
    listing = server.json("/api/archives")
    assert isinstance(listing, list)
    return {f"{item['filename']}.{item['extension']}": item["arcid"] for item in listing}


def open_first_page(server: Server, archive_id: str) -> tuple[Timing, Timing]:
    """(GET .../files, GET of its first page URL), as a reader opening the archive does."""
    files = server.get(f"/api/archives/{archive_id}/files")
    if files.status != 200:
        raise SystemExit(f"files of {archive_id} -> {files.status}: {files.body[:300]!r}")
    first = json.loads(files.body)["pages"][0]
    page = server.get(first)
    if page.status != 200 or not page.body.startswith(b"\xff\xd8"):
        raise SystemExit(f"{first} -> {page.status}: {page.body[:300]!r}")
    return files, page


# -- the benchmarks --------------------------------------------------------------------------------------


def bench_rss(tmp: Path, count: int, side_job: threading.Thread | None = None) -> None:
    """side_job (already started) runs alongside the untimed library build and scan; joined before the
    server starts, so nothing else competes for the CPU while it is measured."""
    content, data = tmp / "rss_content", tmp / "rss_data"
    start = time.perf_counter()
    tiny_library(content, count)
    built = time.perf_counter() - start
    scanned = run_scan(content, data)
    print(f"library: {count} cbz generated in {built:.1f}s, `lrr-lite scan` (with covers) {scanned:.1f}s"
          + (" (while the page benchmark's files were being written)" if side_job else ""))
    if side_job is not None:
        side_job.join()
    server = Server(content, data, tmp / "rss_server.log")
    try:
        ready = server.wait_ready()
        rss_start = server.rss_mb()
        first_list = server.get("/api/archives")
        listing = json.loads(first_list.body)
        if len(listing) != count:
            raise SystemExit(f"/api/archives lists {len(listing)} archives, expected {count}")
        for _ in range(3):
            server.get("/api/info")
        time.sleep(2)
        rss_idle = server.rss_mb()
        lists = [server.get("/api/archives") for _ in range(5)]
        time.sleep(2)
        rss_after = server.rss_mb()
    finally:
        server.stop()
    print(f"idle_rss_{count}_archives_mb={rss_idle:.1f} (target <= {RSS_TARGET_MB}; right after start "
          f"{rss_start:.1f}, ready in {ready:.2f}s; after 5 more full lists {rss_after:.1f})")
    print(f"get_archives_{count}_http_ms median={statistics.median(t.total_ms for t in lists):.0f} "
          f"ttfb={statistics.median(t.ttfb_ms for t in lists):.0f} first={first_list.total_ms:.0f} "
          f"({len(first_list.body) / 2**20:.1f} MB JSON, information)")


def page_content(content: Path, n_pages: int) -> None:
    """big.cbz and big.7z of n_pages realistic pages, warmup.cbz and warmup.7z of 3 other pages."""
    content.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pages = realistic_pages(n_pages + 3)
    big, small = pages[:n_pages], pages[n_pages:]  # different first bytes, so different archive IDs
    write_cbz(content / "big.cbz", big)
    write_cbz(content / "warmup.cbz", small)
    made_cbz = time.perf_counter() - start
    start = time.perf_counter()
    write_7z(content / "big.7z", big)
    write_7z(content / "warmup.7z", small)
    made_7z = time.perf_counter() - start
    size_cbz = (content / "big.cbz").stat().st_size / 2**20
    size_7z = (content / "big.7z").stat().st_size / 2**20
    print(f"{n_pages}-page cbz {size_cbz:.0f} MB + 7z {size_7z:.0f} MB written: pages+cbz {made_cbz:.1f}s, "
          f"7z {made_7z:.1f}s")


def bench_first_page(tmp: Path, n_pages: int, runs: int) -> None:
    """Expects page_content(tmp / "page_content", n_pages) to have run."""
    content, data = tmp / "page_content", tmp / "page_data"
    print(f"`lrr-lite scan` of the page benchmark's 4 archives: {run_scan(content, data):.1f}s")

    results: dict[str, list[tuple[Timing, Timing]]] = {"cbz": [], "7z": []}
    for run in range(runs):
        cache_dir = data / "temp" / "pages"  # the stream formats' on-disk page cache: start each run empty
        if cache_dir.exists():
            shutil.rmtree(cache_dir)
        server = Server(content, data, tmp / "page_server.log")
        try:
            server.wait_ready()
            ids = ids_by_name(server)
            for fmt in ("cbz", "7z"):
                open_first_page(server, ids[f"warmup.{fmt}"])  # this format's code path, SQLite: warm
                results[fmt].append(open_first_page(server, ids[f"big.{fmt}"]))
        finally:
            server.stop()
        print(f"  run {run + 1}: " + ", ".join(
            f"{fmt} files {r[-1][0].total_ms:.1f} ms + page {r[-1][1].total_ms:.1f} ms"
            for fmt, r in results.items()))

    for fmt, res in results.items():
        total = [f.total_ms + p.total_ms for f, p in res]
        page_ttfb = [p.ttfb_ms for _, p in res]
        files_ms = [f.total_ms for f, _ in res]
        print(f"{fmt}{n_pages}_first_page_http_ms median={statistics.median(total):.1f} "
              f"runs=[{', '.join(f'{t:.1f}' for t in total)}] (files {statistics.median(files_ms):.1f} + page; "
              f"page request alone: TTFB {statistics.median(page_ttfb):.1f} ms, "
              f"total {statistics.median(p.total_ms for _, p in res):.1f} ms)")

    seq = min(sequential_read_s(content / "big.7z") for _ in range(2)) * 1000  # the faster: a smaller ratio
    http_7z = statistics.median(f.total_ms + p.total_ms for f, p in results["7z"])
    print(f"7z{n_pages}_first_page_vs_sequential_read ratio={http_7z / seq:.2f} "
          f"(first page over HTTP {http_7z:.0f} ms / one plain libarchive read of the whole file {seq:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 archives, 40 pages, 2 runs (CI smoke run)")
    parser.add_argument("--only", choices=("rss", "page"), help="run one of the two parts")
    args = parser.parse_args()
    if args.quick:
        args.archives, args.pages, args.runs = 1000, 40, 2
    require_installed()
    with tempfile.TemporaryDirectory(prefix="bench_server_") as name:
        tmp = Path(name)
        writer = None
        if args.only in (None, "page"):
            # Writing the 7z takes tens of seconds (LZMA): do it while (a) builds and scans its library.
            writer = threading.Thread(target=page_content, args=(tmp / "page_content", args.pages))
            writer.start()
        if args.only in (None, "rss"):
            bench_rss(tmp, args.archives, side_job=writer)
        if writer is not None:
            writer.join()
            bench_first_page(tmp, args.pages, args.runs)


if __name__ == "__main__":
    main()
