"""Every figure of issue 14's table on one library of N archives (N up to 1,000,000), on the real server.

Usage: .venv/bin/python scripts/bench_scale.py [--archives 100000] [--dir DIR] [--work DIR] [--rebuild]
           [--real-files 100000] [--runs 30] [--after-write 10] [--write-seconds 10] [--idle 10]
           [--index-sample 20000] [--covers 2000] [--cpus LIST] [--job-workers N] [--repeat 3]
           [--json FILE] [--quick] [--build-only]

The library (cached in --dir, default /tmp/lrr_bench_scale_<N>, reused when its manifest says complete):
up to --real-files (100,000) archives it is exactly bench_search.py's library (real one-page CBZ files
imported by scan.scan(), titles and ~15 tags each from its seeded generator), so a prebuilt bench_search
library can be passed as --dir: a complete library is only read (runs use a copy, in --work). Above that,
the remaining archives are records without files (served with --watch off, or the watcher's start-up walk
would drop them as vanished): generated IDs, paths (content/generated/..., which do not exist), sizes and
page counts, written through the same functions a scan uses (Ingest's per-file record step, then
records.write_title / records.write_tags with the same tag distribution), 10,000 to a transaction and
generated as they are written, so the builder's memory stays flat (~100 MB); an interrupted build resumes.
The real files are the sample that pages and covers can be read from. Where a build's time goes: the
generated records are written at ~500/s on the busy 2-core dev machine (~1,000/s on a small library with
a core free), most of it in SQLite statements (~30 per record: the record, the tag index and its count
triggers, sort values); a 1M build took ~40 min there (100k real files ~5 min, 900k records ~33 min) and
makes a 2.8 GB database.

The Pi check (issue 14 part 5): --cpus 0 --job-workers 1.

One measurement (--repeat of them; every figure is the median over the repeats):
- a fresh copy of the built database (runs never see earlier runs' writes), `lrr-lite serve` under
  `taskset -c LIST` when --cpus is given, with --job-workers when given;
- memory before use: PSS and RSS from /proc/PID/smaps_rollup a second after the server answers;
- GET /api/archives (the full list) first, then warm (median of the next calls);
- every search of bench_search.py plus `female:` (a bare namespace prefix: every tag of a big namespace)
  and `artist:ka*` (a tag wildcard): p50/p95 repeated and p95 as the first call after a metadata write;
  each filter's very first call is printed too ("cold": nothing of it kept yet; not judged);
  Mihon's "Latest" (newonly, date_added desc) is one of them;
- GET /api/database/stats and OPDS page 1 (/api/opds): first call and p50/p95;
- metadata writes/s by 4 clients for --write-seconds;
- memory after use, after --idle seconds without requests;
- indexing rate: a fresh database, scan.scan() over --index-sample real files of the library's kind (20,000
  by default, fewer when the library is smaller; page cache warmed first), in a subprocess under the same
  taskset, without covers (they are their own figure);
- cover thumbnails/s: --covers real CBZ files with 200x300 pages, imported (untimed), then the server's
  cover job (POST /api/regen_thumbs) timed until the job has finished.
Finally a table: figure, value, goal, PASS/FAIL. Goals (issue 14): search p95 <= 50 ms, first call after a
write included, up to 100k archives and <= 100 ms above; full list <= 1.0 s; idle PSS <= 80 MB up to 100k,
<= 120 MB above; >= 500 writes/s; >= 500 files/s indexed; >= 300 covers/s; on one core (--cpus with one CPU):
search p95 <= 100 ms and idle PSS <= 80 MB (covers are judged on two cores only). Above 100k the full list and
the stats keep the 100k rate per archive (list <= 1.0 s per 100k archives, stats <= 200 ms per 100k).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import bench_search as bs  # noqa: E402  (path set up above)
from _harness import require_installed  # noqa: E402

SCALE_VERSION = 1  # bump when the generated records change, so cached builds are rebuilt
REAL_FILES = 100_000
GEN_BATCH = 10_000
PAGE_SIZE = (200, 300)


# -- the library -----------------------------------------------------------------------------------------


def generated_path(content: Path, index: int) -> Path:
    """Where a generated record says its file is (it is not there: only the real files can be read)."""
    return content / "generated" / f"{index // bs.SHARD:04d}" / f"{index:07d}.cbz"


def index_path(content: Path, index: int, real: int) -> Path:
    return bs.archive_path(content, index) if index < real else generated_path(content, index)


def generated_records(content: Path, start: int, stop: int) -> Iterator[tuple[str, os.stat_result, str, list[str]]]:
    """(path, stat, archive ID, page list) of archives start..stop-1, deterministic per index."""
    for i in range(start, stop):
        rng = random.Random(bs.SEED * 7 + i)
        size = rng.randrange(2 << 20, 120 << 20)
        mtime = bs.EPOCH_START + rng.randrange(bs.TEN_YEARS)
        # os.stat_result from a tuple: the 10 sequence fields, then float times and nanosecond times.
        st = os.stat_result((0o100644, i, 1, 1, 0, 0, size, mtime, mtime, mtime,
                             float(mtime), float(mtime), float(mtime), mtime * 10**9, mtime * 10**9, mtime * 10**9))
        archive_id = hashlib.sha1(f"bench_scale generated {i}".encode()).hexdigest()
        pages = [f"{n:03d}.jpg" for n in range(1, rng.randint(8, 60) + 1)]
        yield str(generated_path(content, i)), st, archive_id, pages


def add_generated(lib: Path, start: int, count: int) -> None:
    """Records for archives start..count-1 through Ingest's record step and records.write_title/write_tags,
    GEN_BATCH to a transaction (the scan writes a batch per transaction too)."""
    from lrr_lite.library.intake.ingest import Ingest
    from lrr_lite.storage.db import Database
    from lrr_lite.storage.settings import Settings

    content, data = lib / "content", lib / "data"
    logging.basicConfig(level=logging.WARNING)
    db = Database(data / "database.sqlite")
    # The builder's own connection only (the server keeps 1 MB per connection): with SQLite's 1 MB the
    # indexes of a million rows are read back from the OS for every insert, 3-4 times slower; a crashed
    # build is simply built again, so it needs no fsync either.
    db.conn.execute("PRAGMA cache_size=-1048576")
    db.conn.execute("PRAGMA synchronous=OFF")
    # Resume after an interrupted build: records are written in index order, a batch per transaction.
    done = db.query_one("SELECT COUNT(*) FROM archives")[0]
    if done > start:
        print(f"build: resuming after {done - start} generated records", flush=True)
        start = done
    settings = Settings(db)
    ingest = Ingest(db, settings, data / "thumb")
    gen = bs.Generator(bs.SEED)
    # The generated tags carry their own date_added: the record step's date_added stamp would be written
    # and replaced at once (a second write_tags per record, a third of the build's time); off meanwhile.
    dated = settings.get("usedateadded")
    settings.set("usedateadded", False)
    try:
        _generate(db, ingest, gen, content, start, count)
    finally:
        settings.set("usedateadded", dated)
    settings.touch_cache()
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _generate(db: Any, ingest: Any, gen: bs.Generator, content: Path, start: int, count: int) -> None:
    from lrr_lite.library import records
    from lrr_lite.library.intake.ingest import _Prepared

    t0 = last = time.perf_counter()
    for lo in range(start, count, GEN_BATCH):
        hi = min(lo + GEN_BATCH, count)
        with db.write() as conn:
            for i, (path, st, archive_id, pages) in zip(range(lo, hi), generated_records(content, lo, hi), strict=True):
                outcome = ingest._record_one(conn, _Prepared(path, st, archive_id, pages), None, [])
                if outcome.status != "added":
                    raise SystemExit(f"generated record {i}: {outcome}")
                arc = gen.archive(i)
                records.write_title(conn, archive_id, arc.title)
                records.write_tags(conn, archive_id, ",".join(arc.tags))
        if time.perf_counter() - last >= 30:
            last = time.perf_counter()
            rate = (hi - start) / (last - t0)
            print(f"build: generated {hi - start}/{count - start} records, {rate:.0f}/s", flush=True)
    print(f"build: {count - start} generated records written in {time.perf_counter() - t0:.1f}s", flush=True)


def library_ready(lib: Path, count: int, real: int) -> bool:
    try:
        manifest = json.loads((lib / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if count <= real:  # bench_search's own library (its manifest says nothing about us)
        return bs.library_ready(lib, count)
    return manifest.get("scale") == {"version": SCALE_VERSION, "real": real} and bs.library_ready(lib, count)


def prepared_library(count: int, real: int, directory: Path | None, rebuild: bool) -> Path:
    lib = (directory or Path(f"/tmp/lrr_bench_scale_{count}")).resolve()
    real = min(real, count)
    if not rebuild and library_ready(lib, count, real):
        print(f"reusing the {count}-archive library in {lib} (--rebuild to make it anew)", flush=True)
        return lib
    print(f"building a {count}-archive library in {lib} ({real} real files) ...", flush=True)
    t0 = time.perf_counter()
    real_done = {"real": real, "seed": bs.SEED, "version": bs.BUILD_VERSION, "scale": SCALE_VERSION}
    marker = lib / "real_part.json"
    try:
        resume = not rebuild and count > real and json.loads(marker.read_text()) == real_done
    except (OSError, ValueError):
        resume = False
    if not resume:
        bs.build(lib, real)  # writes bench_search's manifest for the real part: rewritten below
    if count > real:
        (lib / "manifest.json").unlink(missing_ok=True)
        marker.write_text(json.dumps(real_done))  # the generated part can resume from here
        add_generated(lib, real, count)
    seconds = time.perf_counter() - t0
    db_bytes = sum(f.stat().st_size for f in (lib / "data").iterdir() if f.is_file())
    content_bytes = sum(f.stat().st_size for f in (lib / "content").rglob("*") if f.is_file())
    manifest = {"archives": count, "seed": bs.SEED, "version": bs.BUILD_VERSION, "build_s": round(seconds, 1),
                "resumed": resume,  # then build_s is this last part's only
                "db_mb": round(db_bytes / 2**20, 1), "content_mb": round(content_bytes / 2**20, 1)}
    if count > real:
        manifest["scale"] = {"version": SCALE_VERSION, "real": real}
    (lib / "manifest.json").write_text(json.dumps(manifest))
    print(f"build: done in {seconds:.0f}s; database {db_bytes / 2**20:.0f} MB, files {content_bytes / 2**20:.0f} MB",
          flush=True)
    return lib


def build_samples(work: Path, index_count: int, covers_count: int) -> tuple[Path, Path]:
    """Content folders for the indexing sample (bench_search's files) and the cover sample (3-page CBZ of
    200x300 pages), cached in `work` by count."""
    index_dir = work / f"index_{index_count}"
    if not (index_dir / "complete").exists():
        shutil.rmtree(index_dir, ignore_errors=True)
        bs.write_files(index_dir / "content", index_count)
        (index_dir / "complete").write_text("")
    covers_dir = work / f"covers_{covers_count}"
    if not (covers_dir / "complete").exists():
        from archive_factory import page_images

        shutil.rmtree(covers_dir, ignore_errors=True)
        pages = page_images(5, size=PAGE_SIZE)
        for i in range(covers_count):
            path = covers_dir / "content" / f"{i // bs.SHARD:03d}" / f"cover {i:06d}.cbz"
            path.parent.mkdir(parents=True, exist_ok=True)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
                for n in range(3):
                    zf.writestr(f"{n + 1:03d}.jpg", pages[(i + n) % len(pages)])
                zf.writestr("info.txt", f"cover sample {i}\n")
            path.write_bytes(out.getvalue())
        (covers_dir / "complete").write_text("")
    return index_dir / "content", covers_dir / "content"


# -- measuring -------------------------------------------------------------------------------------------


def scan_into(content: Path, data: Path) -> tuple[int, float]:
    """(archives added, seconds) of scan.scan() into a fresh database in `data` (no jobs: no covers)."""
    from lrr_lite.library.intake import scan
    from lrr_lite.library.intake.ingest import Ingest
    from lrr_lite.storage.db import Database
    from lrr_lite.storage.settings import Settings

    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    db = Database(data / "database.sqlite")
    try:
        start = time.perf_counter()
        report = scan.scan(Ingest(db, Settings(db), data / "thumb"), content)
        seconds = time.perf_counter() - start
    finally:
        db.close()
    if report.failed:
        raise SystemExit(f"scan of {content} failed on {report.failed} files: {report.errors}")
    return report.added, seconds


def index_run(content: Path, data: Path) -> None:
    """The --index-run child: warm the page cache, then time the scan; prints one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    for path in content.rglob("*.cbz"):
        path.read_bytes()  # the figure is the scanner's cost, not the disk's
    added, seconds = scan_into(content, data)
    print(json.dumps({"added": added, "seconds": seconds}))


def measure_indexing(content: Path, data: Path, prefix: tuple[str, ...]) -> float:
    out = subprocess.run([*prefix, sys.executable, __file__, "--index-run", str(content), str(data)],
                         check=True, capture_output=True, text=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["added"]) / float(got["seconds"])


def measure_covers(content: Path, work: Path, count: int, server_args: tuple[str, ...],
                   prefix: tuple[str, ...]) -> float:
    """Covers/s of the server's cover job over `count` freshly imported archives (import untimed)."""
    data = work / "covers_data"
    added, _ = scan_into(content, data)
    if added != count:
        raise SystemExit(f"cover sample: {added} archives imported, expected {count}")
    server = bs.Server(content, data, work / "covers_server.log", *server_args, prefix=prefix)
    client = bs.Client(server.port)
    try:
        server.wait_ready()
        start = time.perf_counter()
        status, body, _ = client.request("POST", "/api/regen_thumbs", "", bs.FORM)
        if status != 200:
            raise SystemExit(f"POST /api/regen_thumbs -> {status}: {body[:300]!r}")
        job = json.loads(body)["job"]
        while True:
            state = json.loads(client.get_ok(f"/api/minion/{job}")[0])["state"]
            if state in ("finished", "failed"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if state != "finished":
            raise SystemExit(f"cover job {job} {state}; see {server.log.name}")
    finally:
        client.close()
        server.stop()
    made = sum(1 for p in (data / "thumb").rglob("*") if p.is_file())
    if made < count:
        raise SystemExit(f"cover job made {made} thumbnails for {count} archives")
    return count / seconds


def memory(server: bs.Server) -> tuple[float, float]:
    """(PSS, RSS) in MB."""
    roll = server.smaps_rollup_kb()
    return roll["Pss"] / 1024, roll["Rss"] / 1024


def timed_first_and_warm(client: bs.Client, path: str, runs: int,
                         check: Callable[[bytes], None] | None = None) -> tuple[float, float, float]:
    """(first call ms, p50, p95 of `runs` further calls)."""
    body, first = client.get_ok(path)
    if check:
        check(body)
    warm = []
    for _ in range(runs):
        body, ms = client.get_ok(path)
        if check:
            check(body)
        warm.append(ms)
    return first, bs.pct(warm, 50), bs.pct(warm, 95)


def timed_list(client: bs.Client, count: int, runs: int) -> tuple[float, float]:
    """(first call ms, median of `runs` further calls) of GET /api/archives, read as it streams and checked to
    list every archive (the `"arcid"` keys are counted across the pieces)."""
    key = b'"arcid"'

    def once() -> float:
        seen = 0
        tail = b""

        def each(piece: bytes) -> None:
            nonlocal seen, tail
            joined = tail + piece
            seen += joined.count(key)
            tail = joined[-(len(key) - 1):]  # a key cut in two is counted with the next piece, once

        ms = client.stream_ok("/api/archives", each)
        if seen != count:
            raise SystemExit(f"/api/archives listed {seen} archives, not {count}")
        return ms

    first = once()
    return first, statistics.median(once() for _ in range(runs))


def extra_cases() -> list[bs.SearchCase]:
    return [bs.SearchCase("search_female_prefix", bs.q(filter="female:")),
            # artist names are made of syllables: "ka" starts a few hundred of the 20,000
            bs.SearchCase("search_tag_wildcard", bs.q(filter="artist:ka*"))]


def current_copy(lib: Path, work: Path) -> Path:
    """A copy of the built database brought up to this code (schema migrations, then the one-off re-key of
    sort keys that the server would otherwise do at start, inside the "before use" memory), made once per
    invocation: the cached library itself is never written (a --dir may be shared)."""
    from lrr_lite.library.search import rekey
    from lrr_lite.storage.db import Database

    base = work / "base" / "database.sqlite"
    shutil.rmtree(base.parent, ignore_errors=True)
    base.parent.mkdir(parents=True)
    start = time.perf_counter()
    shutil.copyfile(lib / "data" / "database.sqlite", base)
    db = Database(base)  # opening migrates
    try:
        rekeyed = rekey.ensure_current(db)
        bs.settle(db)  # the one-off fingerprint job, done before the timed server starts
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    print(f"database copied and brought up to date in {time.perf_counter() - start:.1f}s "
          f"({rekeyed} sort keys re-keyed)", flush=True)
    return base


def one_measurement(lib: Path, base: Path, work: Path, real: int, args: argparse.Namespace,
                    prefix: tuple[str, ...], server_args: tuple[str, ...],
                    samples: tuple[Path, Path]) -> dict[str, float]:
    count = args.archives
    fig: dict[str, float] = {}
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "data").mkdir(parents=True)
    shutil.copyfile(base, run_dir / "data" / "database.sqlite")
    # Written to disk before the server starts: at 1M the kernel otherwise flushed the fresh 3.6 GB copy
    # during the first full list (vmstat: ~1 GB/s written, half the CPU time in I/O wait), which took 10.4 s
    # there and 6.6 s on a settled copy. The figures are for a quiet machine.
    with open(run_dir / "data" / "database.sqlite", "rb") as fh:
        os.fsync(fh.fileno())
    with sqlite3.connect(run_dir / "data" / "database.sqlite") as conn:
        by_path = dict(conn.execute("SELECT path, archive_id FROM files"))
    ids = [by_path[str(index_path(lib / "content", i, real))] for i in range(count)]
    del by_path
    gen = bs.Generator(bs.SEED)
    rng = random.Random(bs.SEED + 1)
    # Generated records have no files: the watcher's start-up walk would find them gone (path '', out of
    # every listing), so a library with generated records is served without the watcher.
    watch = ("--watch", "off") if count > real else ()
    server = bs.Server(lib / "content", run_dir / "data", run_dir / "server.log", *server_args, *watch,
                       prefix=prefix)
    client = bs.Client(server.port)
    try:
        server.wait_ready()
        time.sleep(1)
        fig["idle_pss_before_mb"], fig["idle_rss_before_mb"] = memory(server)

        only = args.only or []
        if not only or "list" in only:
            fig["archives_list_first_ms"], fig["archives_list_warm_ms"] = timed_list(client, count, args.list_runs)
        write_no = iter(range(1, 10**9))

        def rewrite() -> None:
            i = rng.randrange(count)
            client.put_metadata(ids[i], gen.edited(i, salt=next(write_no)))

        cases = bs.search_cases(gen, count) + extra_cases()
        if only:
            cases = [c for c in cases if any(o == c.name or o in unquote_plus(c.path) for o in only)]
        for case in cases:
            m = bs.measure_search(client, case, args.runs, args.after_write, rewrite)
            for key in ("p50", "p95", "first_p95", "hits", "cold"):
                fig[f"{case.name}_{key}"] = m[key]
            print(f"  {case.name}: p50={m['p50']:.1f} p95={m['p95']:.1f} first_after_write_p95="
                  f"{m['first_p95']:.1f} ms hits={m['hits']:.0f} (cold first call {m['cold']:.1f} ms)", flush=True)
        if only:  # a targeted run: the searches (and list, stats) asked for, nothing else
            if "stats" in only:
                fig["stats_first_ms"], fig["stats_p50_ms"], fig["stats_p95_ms"] = timed_first_and_warm(
                    client, "/api/database/stats", args.runs)
            return fig
        fig["stats_first_ms"], fig["stats_p50_ms"], fig["stats_p95_ms"] = timed_first_and_warm(
            client, "/api/database/stats", args.runs)
        fig["opds_page1_first_ms"], fig["opds_page1_p50_ms"], fig["opds_page1_p95_ms"] = timed_first_and_warm(
            client, "/api/opds", args.runs)
        w = bs.measure_writes(server.port, ids, gen, args.write_seconds)
        fig["writes_per_s"] = w["per_s"]
        client.close()
        time.sleep(args.idle)
        fig["idle_pss_after_mb"], fig["idle_rss_after_mb"] = memory(server)
    finally:
        client.close()
        server.stop()
    index_content, covers_content = samples
    fig["index_files_per_s"] = measure_indexing(index_content, work / "index_data", prefix)
    fig["covers_per_s"] = measure_covers(covers_content, work, args.covers, server_args, prefix)
    return fig


SEARCH_KEYS = ("p95", "first_p95")


def goals(count: int, one_core: bool) -> dict[str, float | None]:
    big = count > 100_000
    search = 100.0 if big or one_core else 50.0
    pss = 80.0 if one_core or not big else 120.0
    # the issue sets covers >= 300/s for two cores; the one-core (Pi) check judges searches and memory only
    covers = None if one_core else 300.0
    # the table sets the full list (<= 1.0 s) at 100k; a list is a dump of every record, so above 100k
    # it is held to the same rate per archive (10 s at 1M: LANraragi users report 42 s at 80k), and so are
    # the stats (every tag with its count; our own 200 ms at 100k)
    scale = max(1.0, count / 100_000)
    return {"search": search, "pss": pss, "list_ms": 1000.0 * scale, "writes": 500.0, "index": 500.0,
            "covers": covers, "stats_ms": 200.0 * scale}


def table(fig: dict[str, float], count: int, one_core: bool) -> list[tuple[str, float, str, str]]:
    """(figure, value, goal, verdict): every search p95 and first-after-write p95 against the search goal,
    the rest against their own; figures without a goal say '-'."""
    g = goals(count, one_core)
    rows: list[tuple[str, float, str, str]] = []

    def row(name: str, goal: float | None, at_least: bool = False) -> None:
        if name not in fig:  # not measured (--only)
            return
        value = fig[name]
        if goal is None:
            rows.append((name, value, "-", "info"))
            return
        ok = value >= goal if at_least else value <= goal
        rows.append((name, value, (">= " if at_least else "<= ") + f"{goal:g}", "PASS" if ok else "FAIL"))

    searches = sorted({k.rsplit("_", 1)[0] for k in fig if k.startswith("search_") and k.endswith("_p50")})
    # the headline rows first: the slowest search, repeated and as the first call after a write
    if searches:
        fig = {**fig, "search_worst_p95": max(fig[f"{n}_p95"] for n in searches),
               "search_worst_first_p95": max(fig[f"{n}_first_p95"] for n in searches)}
    row("search_worst_p95", g["search"])
    row("search_worst_first_p95", g["search"])
    for name in searches:
        row(f"{name}_p50", None)
        row(f"{name}_p95", g["search"])
        row(f"{name}_first_p95", g["search"])
        row(f"{name}_hits", None)
        row(f"{name}_cold", None)  # the filter's very first call: nothing of it kept yet
    row("archives_list_first_ms", g["list_ms"])
    row("archives_list_warm_ms", g["list_ms"])
    row("stats_first_ms", None)
    row("stats_p95_ms", g["stats_ms"])
    row("opds_page1_first_ms", None)
    row("opds_page1_p95_ms", None)
    row("idle_pss_before_mb", None)
    row("idle_rss_before_mb", None)
    row("idle_pss_after_mb", g["pss"])
    row("idle_rss_after_mb", None)
    row("writes_per_s", g["writes"], True)
    row("index_files_per_s", g["index"], True)
    row("covers_per_s", g["covers"], True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="the built library (default /tmp/lrr_bench_scale_<N>); "
                        "only read when complete")
    parser.add_argument("--work", type=Path, help="run folders and samples (default <dir>_work)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--real-files", type=int, default=REAL_FILES, help="real CBZ files; records above")
    parser.add_argument("--runs", type=int, default=30, help="repeated calls per search")
    parser.add_argument("--after-write", type=int, default=10, help="first-call-after-a-write samples")
    parser.add_argument("--list-runs", type=int, default=3, help="warm /api/archives calls")
    parser.add_argument("--write-seconds", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before the memory after use")
    parser.add_argument("--index-sample", type=int, default=20_000, help="files indexed (at most N)")
    parser.add_argument("--covers", type=int, default=2000, help="archives in the cover sample")
    parser.add_argument("--cpus", help="run the server (and the indexing) under taskset -c CPUS")
    parser.add_argument("--job-workers", type=int, help="the server's --job-workers")
    parser.add_argument("--repeat", type=int, help="whole measurements; figures are their medians "
                        "(default 3, 1 with --quick)")
    parser.add_argument("--json", type=Path, help="write figures, runs and table here")
    parser.add_argument("--quick", action="store_true",
                        help="few runs and small samples (a smoke run: 5 runs, 3 after writes, 2 s of writes)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--only", action="append", help="measure only the searches whose name is this or whose "
                        "URL contains it (repeatable); `list` and `stats` add those; nothing else is measured")
    parser.add_argument("--index-run", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_run:
        index_run(*args.index_run)
        return
    if args.quick:
        args.runs, args.after_write, args.write_seconds, args.idle, args.list_runs = 5, 3, 2.0, 2.0, 1
        args.index_sample, args.covers = min(args.index_sample, 500), min(args.covers, 100)
    args.repeat = args.repeat or (1 if args.quick else 3)
    require_installed()
    logging.basicConfig(level=logging.WARNING)
    real = min(args.real_files, args.archives)
    lib = prepared_library(args.archives, real, args.dir, args.rebuild)
    if args.build_only:
        return
    work = (args.work or lib.with_name(lib.name + "_work")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    samples = (work, work) if args.only else build_samples(work, min(args.index_sample, args.archives), args.covers)
    prefix: tuple[str, ...] = ("taskset", "-c", args.cpus) if args.cpus else ()
    server_args: tuple[str, ...] = ("--job-workers", str(args.job_workers)) if args.job_workers else ()
    one_core = bool(args.cpus) and len(os.sched_getaffinity(0) & _cpu_set(args.cpus)) == 1
    base = current_copy(lib, work)
    runs: list[dict[str, float]] = []
    for n in range(args.repeat):
        print(f"measurement {n + 1}/{args.repeat} ...", flush=True)
        runs.append(one_measurement(lib, base, work, real, args, prefix, server_args, samples))
    fig = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rows = table(fig, args.archives, one_core)
    print(f"\n{args.archives} archives ({real} real files), medians of {args.repeat}, cpus={args.cpus or 'all'}, "
          f"job_workers={args.job_workers or 'default'}")
    print(f"{'figure':<44} {'value':>12} {'goal':>10}  verdict")
    for name, value, goal, verdict in rows:
        print(f"{name:<44} {value:>12.1f} {goal:>10}  {verdict}")
    failed = [r[0] for r in rows if r[3] == "FAIL"]
    print(f"overall: {sum(r[3] == 'PASS' for r in rows)} PASS, {len(failed)} FAIL")
    if args.json:
        args.json.write_text(json.dumps({"archives": args.archives, "real_files": real, "cpus": args.cpus,
                                         "job_workers": args.job_workers, "repeat": args.repeat, "figures": fig,
                                         "runs": runs, "table": [list(r) for r in rows]}, indent=1))
    sys.exit(1 if failed else 0)


def _cpu_set(spec: str) -> set[int]:
    """taskset's -c list ("0", "0,1", "0-3") as a set."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


if __name__ == "__main__":
    main()
