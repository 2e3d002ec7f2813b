"""Peak server memory for hostile archives (issue 11): one page request, then eight at once.

Usage: .venv/bin/python scripts/bench_hostile.py [--set /tmp/lrr_hostile_set] [--target-mb 150]

The hostile set (tests/hostile/hostile_files.py at "bench" scale: a 1 GiB zip whose header claims 100 bytes,
4 GB 7z and tar.gz bombs, ...) is generated once under --set and reused. For each archive a fresh
`lrr-lite serve` (address space capped with RLIMIT_AS as a safety net) scans a folder holding only that
archive; its peak RSS (VmHWM) is read after the scan and its covers, then reset (clear_refs) before one page
request and again before eight concurrent ones. Archives refused at the scan have no page to request: their
line shows the scan's peak. Every figure must stay under the target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "hostile"))

import hostile_files  # noqa: E402
from _harness import ROOT, ServerProcess, require_installed  # noqa: E402

AS_LIMIT = 3 * 1024 * 1024 * 1024  # far above the target, far below what an unbounded bomb takes


def get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def answer(port: int, path: str) -> tuple[int, bytes]:
    """get(), with a server that died or hung up counted as status 599 rather than ending the run."""
    try:
        return get(port, path)
    except (OSError, http.client.HTTPException) as exc:
        return 599, f"no answer: {exc}".encode()


def jobs_pending(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'database.sqlite'}?mode=ro", uri=True, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('active', 'inactive')").fetchone()[0]
    except sqlite3.Error:
        return 1


def hwm_mb(server: ServerProcess) -> float:
    return server.status_kb("VmHWM") / 1024


def run_case(path: Path, root: Path) -> dict:
    content, data = root / "content", root / "data"
    content.mkdir(parents=True)
    os.link(path, content / path.name)
    server = ServerProcess(content, data, root / "server.log", "--scan-on-start", limit_as=AS_LIMIT)
    result: dict = {"name": path.name, "size_kb": path.stat().st_size // 1024}
    try:
        server.wait_until(lambda: get(server.port, "/api/info")[0] == 200, 60)
        server.wait_until(lambda: jobs_pending(data) == 0, 600)
        result["scan"] = hwm_mb(server)
        archives = json.loads(get(server.port, "/api/archives")[1])
        if not archives:
            result["note"] = "refused at scan"
            return result
        arcid = archives[0]["arcid"]
        status, body = get(server.port, f"/api/archives/{arcid}/files")
        pages = json.loads(body).get("pages", []) if status == 200 else []
        name = pages[0].split("path=", 1)[1] if pages else quote("001.jpg")
        url = f"/api/archives/{arcid}/page?path={name}"
        for n in (1, 8):
            server.reset_peak()
            with ThreadPoolExecutor(n) as pool:
                answers = list(pool.map(lambda _: answer(server.port, url), range(n)))
            if server.proc.poll() is not None:
                result["note"] = f"server died (exit {server.proc.returncode})"
                result["alive"] = False
                return result
            result[f"x{n}"] = hwm_mb(server)
            result[f"status{n}"] = sorted({status for status, _ in answers})
            result["note"] = answers[0][1][:90].decode("utf-8", "replace") if answers[0][0] >= 400 else \
                f"{len(answers[0][1])} bytes served"
        result["alive"] = answer(server.port, "/api/info")[0] == 200
    finally:
        server.stop()
    return result


# The same eight concurrent reads in a fresh interpreter, streamed with formats.open_member as a route
# would once wired to it: first chunk sniffed (sniff_image), the rest sent on (here: dropped).
_STREAM_CHILD = """
import sys, threading
from pathlib import Path
from lrr_lite.media import formats, memory
from lrr_lite.errors import ArchiveError
memory.limit_arenas()
cache = formats.PageCache(Path(sys.argv[1]), 1 << 30)
path = Path(sys.argv[2])
def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
def stream(name, out):
    try:
        with formats.open_member(path, name, cache=cache, key="k") as s:
            it = iter(s)
            head = next(it, b"")
            out.append(formats.sniff_image(head) or "not an image")
            for _ in it:
                pass
    except ArchiveError as exc:
        out.append(str(exc)[:40])
try:
    name = formats.list_pages(path)[0]
except (ArchiveError, IndexError):
    print("-", "-", "no page")
    raise SystemExit
stream(name, [])  # fill the page cache of stream formats first, as the scan's cover does
base = hwm()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
out = []
threads = [threading.Thread(target=stream, args=(name, out)) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(f"{base:.1f}", f"{hwm():.1f}", out[0])
"""


def stream_case(path: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="lrr_hostile_stream_") as tmp:
        out = subprocess.run([sys.executable, "-c", _STREAM_CHILD, tmp, str(path)], capture_output=True,
                             text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out.stdout.strip() or out.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=Path(tempfile.gettempdir()) / "lrr_hostile_set")
    parser.add_argument("--target-mb", type=float, default=150)
    parser.add_argument("--only", nargs="*", help="archive names to run (default: all)")
    args = parser.parse_args()
    require_installed()
    start = time.perf_counter()
    files = hostile_files.build(args.set, scale="bench")
    print(f"# hostile set in {args.set} ready in {time.perf_counter() - start:.1f} s")
    print(f"{'archive':<18} {'on disk':>9} {'scan MB':>8} {'1 req MB':>9} {'8 req MB':>9}  {'status':<10} "
          f"{'verdict':<7} note")
    failures = 0
    for name, path in files.items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix="lrr_hostile_") as tmp:
            r = run_case(path, Path(tmp))
        figures = [r[k] for k in ("scan", "x1", "x8") if k in r]
        ok = all(f <= args.target_mb for f in figures) and r.get("alive", True) and \
            all(s < 500 for s in r.get("status1", []) + r.get("status8", []))
        failures += not ok

        def fmt(key: str, r: dict = r) -> str:
            return f"{r[key]:.1f}" if key in r else "-"

        status = ",".join(map(str, sorted(set(r.get("status1", []) + r.get("status8", []))))) or "-"
        note = " ".join(r.get("note", "").split())
        print(f"{name:<18} {r['size_kb']:>7}KB {fmt('scan'):>8} {fmt('x1'):>9} {fmt('x8'):>9}  {status:<10} "
              f"{'PASS' if ok else 'FAIL':<7} {note}", flush=True)
    print(f"# {failures} FAIL" if failures else "# all PASS")
    print("\n# formats.open_member, 8 concurrent streams of the first page in a fresh process (MB VmHWM)")
    print(f"{'archive':<18} {'before':>8} {'8 streams':>10}  first chunk")
    for name, path in files.items():
        if args.only and name not in args.only:
            continue
        before, peak, what = (stream_case(path).split(" ", 2) + ["", ""])[:3]
        print(f"{name:<18} {before:>8} {peak:>10}  {what}", flush=True)


if __name__ == "__main__":
    main()
