"""Benchmark the library's "Continue reading" query (records.continue_reading_ids) over a large library.

Usage: .venv/bin/python scripts/bench_shelf.py [--db /work/bench/lib100k/data/database.sqlite] [--runs 15]

Works on a copy of the database (in a temporary folder, removed at the end; the source is only read), in three
reading states: every archive read to the end (the worst case: nothing qualifies, so an unbounded query walks
every read archive), every archive read half-way, and 12 archives part read, read before all the others (to
the end): outside the shipped query's window of the latest 1,000 reads, so it finds none, as intended. Each state
times the shipped query and, alternately in the same loop, the unbounded one it replaced (the same WHERE without
the window of the latest reads), and prints the median and max in ms and how many IDs each returned.
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

from lrr_lite.library import records  # noqa: E402
from lrr_lite.storage.db import Database  # noqa: E402

UNBOUNDED = ("SELECT id FROM archives WHERE path != '' AND lastreadtime > 0 AND progress > 0 "
             "AND progress < pagecount ORDER BY lastreadtime DESC, num DESC LIMIT 12")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/work/bench/lib100k/data/database.sqlite")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_shelf_") as tmp:
        path = Path(tmp) / "database.sqlite"
        shutil.copyfile(args.db, path)
        db = Database(path)
        with db.write() as conn:
            total = conn.execute("SELECT count(*) FROM archives WHERE path != ''").fetchone()[0]
        print(f"{total} archives (copy of {args.db})")
        states = {
            "all read to the end": "UPDATE archives SET pagecount=20, progress=20, lastreadtime=1000000+num",
            "all read half-way": "UPDATE archives SET pagecount=20, progress=10, lastreadtime=1000000+num",
            "12 part read, the oldest reads": "UPDATE archives SET progress=CASE WHEN num IN "
                                              "(SELECT num FROM archives ORDER BY num LIMIT 12) THEN 5 ELSE 20 END",
        }
        for label, statement in states.items():
            with db.write() as conn:
                conn.execute(statement)
            shipped: list[float] = []
            unbounded: list[float] = []
            found = (0, 0)
            for _ in range(args.runs):
                t = time.perf_counter()
                a = records.continue_reading_ids(db, 12)
                shipped.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                b = db.query(UNBOUNDED)
                unbounded.append((time.perf_counter() - t) * 1000)
                found = (len(a), len(b))
            print(f"{label:32s} shipped: median {statistics.median(shipped):6.2f} ms, max {max(shipped):6.2f} ms, "
                  f"{found[0]} ids | unbounded: median {statistics.median(unbounded):6.2f} ms, "
                  f"max {max(unbounded):6.2f} ms, {found[1]} ids")
        db.close()


if __name__ == "__main__":
    main()
