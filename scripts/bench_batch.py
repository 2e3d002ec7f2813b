"""Batch edits over a large library: how long "all results of a search" takes to resolve and count, and how
many archives a batch_edit job tags per second (through the real job queue, notes and all).

Usage: .venv/bin/python scripts/bench_batch.py --lib /work/bench/lib100k [--tag-archives 2000] [--runs 3]

The library is one built by `scripts/bench_search.py --build-only`; its database is copied to a temp folder
first (the built one is never written). Only tags are written (no file is touched).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lrr_lite import config  # noqa: E402  (path set up above)
from lrr_lite.context import Context  # noqa: E402
from lrr_lite.library import batch  # noqa: E402


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", type=Path, required=True)
    parser.add_argument("--tag-archives", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp_name:
        data = Path(tmp_name) / "data"
        data.mkdir()
        shutil.copyfile(args.lib / "data" / "database.sqlite", data / "database.sqlite")
        cfg = config.load(None, {"content": str(args.lib / "content"), "data": str(data), "scan_on_start": False},
                          environ={})
        ctx = Context.open(cfg)
        ctx.jobs.start()  # only the job queue: no watcher, no scan
        try:
            for label, search in (("all", {"q": ""}), ("one_tag", {"q": "language:english"})):
                ms, (ids, count) = timed(lambda s=search: batch.resolve_search(ctx, s), args.runs)
                print(f"resolve_{label}: {count} matches, {len(ids)} IDs in {ms:.0f} ms (median of {args.runs})")
                ms, _ = timed(lambda s=search: batch.resolve_search(ctx, s, limit=1), args.runs)
                print(f"count_{label} (the /batch?all=1 form): {ms:.0f} ms")
            ids, _ = batch.resolve_search(ctx, {"q": ""}, limit=args.tag_archives)
            rates = []
            for run in range(args.runs):
                job = ctx.jobs.enqueue(batch.TASK, [{"op": "add_tags", "tags": f"bench:run{run}", "ids": ids}])
                start = time.perf_counter()
                assert ctx.jobs.wait_idle(3600)
                seconds = time.perf_counter() - start
                result = ctx.jobs.get(job)["result"]
                assert result["done"] == len(ids) and result["failed"] == 0, result.get("error")
                rates.append(len(ids) / seconds)
                print(f"run {run + 1}: add_tags on {len(ids)} archives in {seconds:.2f} s ({rates[-1]:.0f}/s)")
            rate = statistics.median(rates)
            print(f"batch_add_tags_per_s={rate:.0f} (median of {args.runs}); 100,000 archives would take "
                  f"~{100_000 / rate / 60:.1f} min")
        finally:
            ctx.jobs.stop()
            ctx.db.close()


if __name__ == "__main__":
    main()
