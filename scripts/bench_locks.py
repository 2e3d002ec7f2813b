"""32 clients add and remove archives of one category for 30 s against a real server (issue 10, item 4).

Every client owns its own archives, so the order of the writes to one archive is the order its client saw
them acknowledged, and the expected final membership is exact. Prints the number of writes, how many were
refused with 423 (target 0), other failures (target 0), latency percentiles, and whether the final membership
equals the model of the acknowledged writes.

Usage: .venv/bin/python scripts/bench_locks.py [--clients 32] [--seconds 30] [--archives 64]
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import LRR_LITE, ServerProcess, clean_env, require_installed  # noqa: E402

KEY = "bench-key"


def tiny_cbz(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("info.txt", (2020, 1, 1, 0, 0, 0)), f"archive {n}")
        zf.writestr(zipfile.ZipInfo("001.png", (2020, 1, 1, 0, 0, 0)),
                    b"\x89PNG\r\n\x1a\n" + bytes(64))
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--archives", type=int, default=64)
    args = parser.parse_args()
    require_installed()
    with tempfile.TemporaryDirectory(prefix="lrr_bench_locks_") as tmp:
        root = Path(tmp)
        content, data = root / "content", root / "data"
        content.mkdir()
        for n in range(args.archives):
            (content / f"Archive {n:03d}.cbz").write_bytes(tiny_cbz(n))
        subprocess.run([str(LRR_LITE), "scan", "--content", str(content), "--data", str(data)], check=True,
                       capture_output=True, env=clean_env())
        server = ServerProcess(content, data, root / "server.log", "--api-key", KEY, "--threads",
                               str(max(8, args.clients // 2)), "--watch", "off")
        base = f"http://127.0.0.1:{server.port}"
        headers = {"Authorization": "Bearer " + base64.b64encode(KEY.encode()).decode()}
        try:
            server.wait_until(lambda: requests.get(base + "/api/info", timeout=2).ok, 60)
            ids = [a["arcid"] for a in requests.get(base + "/api/archives", timeout=30).json()]
            if len(ids) < args.archives:
                raise SystemExit(f"only {len(ids)} of {args.archives} archives were imported")
            cat = requests.put(base + "/api/categories", params={"name": "Crowd"}, headers=headers,
                               timeout=30).json()["category_id"]
            owners = {c: ids[c::args.clients] for c in range(args.clients)}
            last: dict[str, tuple[int, bool]] = {}
            latencies: list[float] = []
            refused = [0]
            other: list[str] = []
            guard = threading.Lock()
            counter = iter(range(10**12))
            stop_at = time.monotonic() + args.seconds

            def client(c: int) -> None:
                session = requests.Session()
                rng = random.Random(c)
                mine = owners[c]
                while time.monotonic() < stop_at:
                    if mine:
                        arc = rng.choice(mine)
                        add = rng.random() < 0.6
                        started = time.perf_counter()
                        resp = session.request("PUT" if add else "DELETE", f"{base}/api/categories/{cat}/{arc}",
                                               headers=headers, timeout=60)
                    else:
                        started = time.perf_counter()
                        resp = session.put(f"{base}/api/categories/{cat}", params={"name": f"Crowd {c}"},
                                           headers=headers, timeout=60)
                    took = time.perf_counter() - started
                    with guard:
                        latencies.append(took)
                        if resp.status_code == 423:
                            refused[0] += 1
                            continue
                        if resp.status_code != 200 or resp.json().get("success") != 1:
                            other.append(f"{resp.status_code} {resp.text[:120]}")
                            continue
                        if mine:
                            last[arc] = (next(counter), add)

            threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            expected = sorted(a for a, (_, member) in last.items() if member)
            got = sorted(requests.get(f"{base}/api/categories/{cat}", timeout=30).json()["archives"])
        finally:
            server.stop()
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p95 = lat[int(len(lat) * 0.95)] * 1000
    p99 = lat[int(len(lat) * 0.99)] * 1000
    print(f"clients={args.clients} seconds={args.seconds:g} writes={len(lat)} ({len(lat) / args.seconds:.0f}/s)")
    print(f"latency_ms p50={p50:.1f} p95={p95:.1f} p99={p99:.1f} max={lat[-1] * 1000:.1f}")
    print(f"refused_423={refused[0]} (target 0) other_failures={len(other)} (target 0)")
    print(f"membership_matches_model={got == expected} ({len(got)} members)")
    ok = refused[0] == 0 and not other and got == expected
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
