"""Peak server memory while the web upload page receives a large file (`lrr-lite serve` in a subprocess).

Usage: .venv/bin/python scripts/bench_web_upload.py [--mb 300] [--runs 3]

A --mb MB cbz (one stored, incompressible member) is sent as upload.js sends it: POST /upload/file, the raw
body, after a login and with the session's CSRF token. Printed: the server's peak RSS (VmHWM, reset just
before each upload) above its RSS before the upload, and the upload time, per run and as medians; the same
for the API's multipart PUT /api/archives/upload for comparison. A body read into memory would show as a
peak of about the file's size; streamed, the peak stays flat whatever the size.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ServerProcess, require_installed  # noqa: E402  (path set up above)


def make_cbz(path: Path, mb: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf, zf.open("001.jpg", "w", force_zip64=True) as out:
        for _ in range(mb):
            out.write(os.urandom(1 << 20))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    require_installed()
    with tempfile.TemporaryDirectory(prefix="bench-web-upload-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "content").mkdir()
        server = ServerProcess(tmp / "content", tmp / "data", tmp / "server.log")
        base = f"http://127.0.0.1:{server.port}"
        try:
            server.wait_until(lambda: requests.get(base + "/api/info", timeout=5).ok, 60)
            web = requests.Session()
            web.post(base + "/login", data={"password": "kamimamita", "next": "/"}, timeout=30)
            csrf = re.search(r'name="csrf" value="([^"]+)"', web.get(base + "/upload", timeout=30).text).group(1)
            figures: dict[str, list[tuple[float, float]]] = {"web_raw": [], "api_multipart": []}
            for run in range(args.runs):
                for kind in figures:
                    source = tmp / f"big-{kind}-{run}.cbz"
                    make_cbz(source, args.mb)
                    before = server.rss_mb()
                    server.reset_peak()
                    start = time.perf_counter()
                    with open(source, "rb") as fh:
                        if kind == "web_raw":
                            resp = web.post(f"{base}/upload/file?name={source.name}", data=fh, timeout=600,
                                            headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
                        else:  # the API route authenticates the same session cookie
                            resp = web.put(base + "/api/archives/upload", files={"file": (source.name, fh)},
                                           timeout=600)
                    seconds = time.perf_counter() - start
                    assert resp.status_code == 200, resp.text
                    peak = server.status_kb("VmHWM") / 1024 - before
                    figures[kind].append((peak, seconds))
                    print(f"run {run + 1} {kind}: peak RSS +{peak:.1f} MB over {before:.1f} MB, {seconds:.2f} s")
                    source.unlink()
            for kind, values in figures.items():
                print(f"{kind}_{args.mb}mb: median peak RSS +{statistics.median(v[0] for v in values):.1f} MB, "
                      f"median {statistics.median(v[1] for v in values):.2f} s ({args.runs} runs)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
