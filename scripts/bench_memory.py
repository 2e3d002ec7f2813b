"""Benchmark the server's idle memory (PSS) on a large library, and say what each MB is.

Usage: .venv/bin/python scripts/bench_memory.py [--dir /work/bench/lib100k] [--archives 100000] [--runs 3]
           [--idle 10] [--searches] [--after-walk] [--compare OTHER/.venv/bin/lrr-lite] [--env NAME=VALUE ...]
       .venv/bin/python scripts/bench_memory.py --walk [--dir ...]   (the start-up walk alone, in process)

The library is scripts/bench_search.py's (built by its `build()` when missing; never written to): each run
copies its database into a fresh temporary folder and starts the real server there, `lrr-lite serve
--no-scan-on-start` on a loopback port, with LRR_MEMORY_REPORT set so SIGUSR1 makes it write a JSON report
(Python objects, pymalloc, glibc malloc, SQLite's own counters, threads).

A run: the copy is migrated and re-keyed here, as a server does once (unless --first-start); the server starts; 1 s later memory is read ("start"); then a representative use: every search of
bench_search.py (timed like bench_search.py with --searches, which also PUTs metadata before each first call),
`--writes` seconds of 4 clients PUTting metadata, the full /api/archives list twice, /api/database/stats, 20 archives' metadata, 5 page
lists and pages, 5 cover thumbnails made by the job lane, OPDS (first, middle and search feed pages, an entry,
a PSE page); then `--idle` seconds of nothing, and memory is read again ("idle"). With --after-walk the use
waits for the watcher's start-up walk of the folder, sampled meanwhile: its peak PSS (every 0.1 s), the peak
RSS (VmHWM) and PSS/RSS right after it, before the idle trimmer runs.

Memory read from outside: /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon, Pss_File) and /proc/PID/smaps, each
mapping put in one class: the database file (mmap), the WAL index (-shm), code (the Python binary and shared
libraries), the brk heap (glibc's main arena), other glibc arenas (64 MB reservations), thread stacks (a mapping
just above a guard page), other anonymous mappings (pymalloc's 1 MB arenas and big malloc blocks, which the
kernel merges into one another). With `--compare`, another build's server (e.g. a checkout of the main branch
with its own venv) runs alternately with this one, so both are measured on the same busy machine.

Target: idle PSS <= 80 MB at 100k archives (and search p95 as bench_search.py's, <= 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_search as sb  # noqa: E402  (the shared library builder, client and search cases)
from _harness import LRR_LITE, ServerProcess, clean_env, free_port, require_installed  # noqa: E402

IDLE_PSS_MB = 80.0
CLASSES = ("database mmap", "WAL index (-shm)", "code (binary, .so)", "other files", "brk heap (main arena)",
           "glibc thread arenas", "thread stacks", "other anonymous (pymalloc, big blocks)")


class Server(ServerProcess):
    """`lrr-lite serve` of a given build, with the memory report switched on and extra environment."""

    def __init__(self, exe: Path, content: Path, data: Path, log: Path, report: Path,
                 env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = open(log, "ab")
        self.report = report
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--content", str(content), "--data", str(data), "--port", str(self.port),
             "--host", "127.0.0.1", "--no-scan-on-start", "--api-key", sb.API_KEY],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**clean_env(), "LRR_MEMORY_REPORT": str(report), **env})

    def wait_ready(self, timeout: float = 600) -> None:
        client = sb.Client(self.port)
        try:
            self.wait_until(lambda: client.request("GET", "/api/info")[0] == 200, timeout)
        finally:
            client.close()

    def catches(self, sig: int) -> bool:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            caught = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
        return bool(caught >> (sig - 1) & 1)

    def dump_report(self, timeout: float = 10) -> dict | None:
        """The server's own report (SIGUSR1), or None when this build has none."""
        if not self.catches(signal.SIGUSR1):  # the default action of SIGUSR1 would end the server
            return None
        self.report.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.report.exists():
                try:
                    return json.loads(self.report.read_text())
                except ValueError:
                    pass  # still being written
            time.sleep(0.05)
        return None


# -- reading memory from outside ----------------------------------------------------------------------------


def rollup(pid: int) -> dict[str, float]:
    """smaps_rollup's fields in MB."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


@dataclass
class Mapping:
    start: int
    end: int
    perms: str
    path: str
    fields: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.end - self.start


def mappings(pid: int) -> list[Mapping]:
    maps: list[Mapping] = []
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append(Mapping(lo, hi, parts[1], " ".join(parts[5:]) if len(parts) > 5 else ""))
            elif len(parts) == 3 and parts[2] == "kB":
                maps[-1].fields[parts[0].rstrip(":")] = int(parts[1])
    return maps


def classify(maps: list[Mapping], db_name: str) -> dict[str, dict[str, float]]:
    """PSS and RSS (MB) of each class of mapping."""
    out = {c: {"pss": 0.0, "rss": 0.0, "n": 0} for c in CLASSES}
    for i, m in enumerate(maps):
        if m.path.endswith(db_name):
            cls = "database mmap"
        elif m.path.endswith(db_name + "-shm"):
            cls = "WAL index (-shm)"
        elif m.path.startswith("/") and (".so" in m.path or "python" in m.path or "/bin/" in m.path):
            cls = "code (binary, .so)"
        elif m.path.startswith("/"):
            cls = "other files"
        elif m.path == "[heap]":
            cls = "brk heap (main arena)"
        elif m.path.startswith("[") or m.perms.startswith("---"):
            continue  # [stack] (main thread, counted below), [vdso], guard pages and reservations: no memory
        else:
            before = maps[i - 1] if i else None
            after = maps[i + 1] if i + 1 < len(maps) else None
            if (after is not None and after.start == m.end and after.perms.startswith("---") and not after.path
                    and m.size + after.size == 64 * 2**20) or (m.size == 64 * 2**20 and m.start % (64 * 2**20) == 0):
                cls = "glibc thread arenas"
            elif before is not None and before.end == m.start and before.perms.startswith("---") \
                    and before.size <= 64 * 1024 and not before.path:
                cls = "thread stacks"
            else:
                cls = "other anonymous (pymalloc, big blocks)"
        out[cls]["pss"] += m.fields.get("Pss", 0) / 1024
        out[cls]["rss"] += m.fields.get("Rss", 0) / 1024
        out[cls]["n"] += 1
    stack = next((m for m in maps if m.path == "[stack]"), None)
    if stack is not None:
        out["thread stacks"]["pss"] += stack.fields.get("Pss", 0) / 1024
        out["thread stacks"]["rss"] += stack.fields.get("Rss", 0) / 1024
        out["thread stacks"]["n"] += 1
    return out


def files_pss(maps: list[Mapping], top: int = 8) -> dict[str, float]:
    """The file-backed mappings with the most PSS (MB), by file."""
    by: dict[str, float] = {}
    for m in maps:
        if m.path.startswith("/"):
            by[m.path] = by.get(m.path, 0) + m.fields.get("Pss", 0) / 1024
    return {Path(k).name: round(v, 1) for k, v in sorted(by.items(), key=lambda kv: -kv[1])[:top]}


@dataclass
class Snapshot:
    rollup: dict[str, float]
    classes: dict[str, dict[str, float]]
    report: dict | None
    threads: int
    files: dict[str, float]


def snapshot(server: Server, db_name: str) -> Snapshot:
    report = server.dump_report()
    pid = server.proc.pid
    maps = mappings(pid)
    return Snapshot(rollup(pid), classify(maps, db_name), report, len(os.listdir(f"/proc/{pid}/task")),
                    files_pss(maps))


# -- the use ---------------------------------------------------------------------------------------------


def use(client: sb.Client, ids: list[str], count: int, gen: sb.Generator, searches: bool,
        write_seconds: float) -> dict[str, float]:
    """What clients do in a session; returns the search p95s when `searches` (timed as bench_search.py does)."""
    rng = random.Random(sb.SEED + 7)
    p95: dict[str, float] = {}
    cases = sb.search_cases(gen, count)
    if searches:
        for case in cases:
            client.get_ok(case.path)
            times = [client.get_ok(case.path)[1] for _ in range(20)]
            first = []
            for k in range(5):
                i = rng.randrange(len(ids))
                client.put_metadata(ids[i], gen.edited(i, salt=1000 + k))
                first.append(client.get_ok(case.path)[1])
            p95[case.name] = sb.pct(times, 95)
            p95[case.name + " (first after write)"] = sb.pct(first, 95)
    else:
        for case in cases:
            client.get_ok(case.path)
        for k in range(5):
            i = rng.randrange(len(ids))
            client.put_metadata(ids[i], gen.edited(i, salt=1000 + k))
    if write_seconds > 0:  # 4 clients PUTting metadata at once, as bench_search.py does
        sb.bench_writes(client.port, ids, gen, write_seconds)
    for _ in range(2):
        body, _ = client.get_ok("/api/archives")
        if body.count(b'"arcid"') != count:
            raise SystemExit("/api/archives did not list every archive")
    del body
    client.get_ok("/api/database/stats")
    sample = rng.sample(ids, 20)
    for archive_id in sample:
        client.get_ok(f"/api/archives/{archive_id}/metadata")
    for archive_id in sample[:5]:
        files = json.loads(client.get_ok(f"/api/archives/{archive_id}/files")[0])
        client.get_ok(files["pages"][0])
    jobs = []
    for archive_id in sample[5:10]:
        status, body, _ = client.request("GET", f"/api/archives/{archive_id}/thumbnail?no_fallback=true")
        if status == 202:
            jobs.append(json.loads(body)["job"])
    deadline = time.monotonic() + 60
    for job in jobs:
        while json.loads(client.get_ok(f"/api/minion/{job}")[0])["state"] not in ("finished", "failed"):
            if time.monotonic() > deadline:
                raise SystemExit(f"thumbnail job {job} did not finish in 60 s")
            time.sleep(0.1)
    for archive_id in sample[5:10]:
        client.get_ok(f"/api/archives/{archive_id}/thumbnail")
    for path in ("/api/opds", f"/api/opds?start={count // 2 // 100 * 100}", "/api/opds?filter=language%3Aenglish",
                 f"/api/opds/{sample[10]}", f"/api/opds/{sample[10]}/pse?page=1"):
        client.get_ok(path)
    return p95


# -- a run ---------------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    start: Snapshot
    idle: Snapshot
    p95: dict[str, float]
    ready_s: float
    walk: dict[str, float] = field(default_factory=dict)  # with --after-walk: peaks during the start-up walk


def status_mb(pid: int, key: str) -> float:
    """A field of /proc/PID/status in MB (VmHWM: the peak RSS of the process's life so far)."""
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith(key + ":"))


def watch_walk(server: Server, log: Path, timeout: float = 600) -> dict[str, float]:
    """Sample PSS every 0.1 s until the watcher's start-up walk is logged as done: its peak PSS, the peak RSS
    (VmHWM, exact: the kernel's own high-water mark) and PSS/RSS right after the walk, before the idle
    trimmer has run."""
    pid = server.proc.pid
    peak = 0.0
    t0 = time.perf_counter()
    while b"watcher: walked" not in log.read_bytes():
        if server.proc.poll() is not None or time.perf_counter() - t0 > timeout:
            raise SystemExit("the server ended or its walk did not finish")
        peak = max(peak, rollup(pid)["Pss"])
        time.sleep(0.1)
    after = rollup(pid)
    return {"walk_s": time.perf_counter() - t0, "peak_pss": max(peak, after["Pss"]), "peak_rss": status_mb(pid, "VmHWM"),
            "post_pss": after["Pss"], "post_rss": after["Rss"]}


def settle(path: Path) -> None:
    """Do to the copy, here, what a server does once in its life: migrate and write the sort keys of today's
    code (bench_search.py's build leaves them to the first start, 100k re-keyed rows in the server otherwise)."""
    from lrr_lite.library.search import rekey
    from lrr_lite.storage.db import Database

    db = Database(path)
    try:
        rekey.ensure_current(db)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def one_run(label: str, exe: Path, lib: Path, count: int, args: argparse.Namespace, env: dict[str, str]) -> Run:
    work = Path(tempfile.mkdtemp(prefix="lrr_bench_memory_"))
    try:
        (work / "data").mkdir()
        db = work / "data" / "database.sqlite"
        shutil.copyfile(lib / "data" / "database.sqlite", db)
        if args.settled:
            settle(db)
        server = Server(exe, lib / "content", work / "data", work / "server.log", work / "report.json", env)
        client = sb.Client(server.port)
        gen = sb.Generator(sb.SEED)
        try:
            t0 = time.perf_counter()
            server.wait_ready()
            ready = time.perf_counter() - t0
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                by_path = dict(conn.execute("SELECT path, archive_id FROM files"))
            ids = [by_path[str(sb.archive_path(lib / "content", i))] for i in range(count)]
            del by_path
            walk: dict[str, float] = {}
            if args.after_walk:  # the watcher's start-up walk of the folder done before any client comes
                walk = watch_walk(server, work / "server.log")
            time.sleep(1)
            start = snapshot(server, db.name)
            p95 = use(client, ids, count, gen, args.searches, args.writes)
            client.close()
            time.sleep(args.idle)
            after = snapshot(server, db.name)
        finally:
            client.close()
            server.stop()
        return Run(label, start, after, p95, ready, walk)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def walk_in_process(lib: Path) -> None:
    """--walk: scan.scan() of the whole folder against a copy of the library's database, in this process
    (the library's malloc settings): how much its peak RSS (VmHWM) rises over the RSS before, and its times."""
    from lrr_lite.library.intake import scan
    from lrr_lite.library.intake.ingest import Ingest
    from lrr_lite.media import memory
    from lrr_lite.storage.db import Database
    from lrr_lite.storage.settings import Settings

    memory.limit_arenas()
    work = Path(tempfile.mkdtemp(prefix="lrr_bench_walk_"))
    try:
        shutil.copyfile(lib / "data" / "database.sqlite", work / "database.sqlite")
        db = Database(work / "database.sqlite")
        ingest = Ingest(db, Settings(db), work / "thumb")
        before = status_mb(os.getpid(), "VmRSS")
        cpu, wall = time.process_time(), time.perf_counter()
        report = scan.scan(ingest, lib / "content")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = status_mb(os.getpid(), "VmHWM")
        db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"walk: {report.as_dict()}\nwalk_peak_rss_rise_mb={peak - before:.1f} (RSS before {before:.1f}, VmHWM "
          f"{peak:.1f}); wall {wall:.2f}s, cpu {cpu:.2f}s")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def show(runs: dict[str, list[Run]]) -> None:
    labels = list(runs)
    head = "".join(f"{lab:>22}" for lab in labels)
    print(f"\n== medians of {len(next(iter(runs.values())))} runs (MB; PSS unless named) ==")
    print(f"{'':44}{head}")
    rows: list[tuple[str, Callable[[Run], float]]] = []
    if all(r.walk for rs in runs.values() for r in rs):
        rows += [("start-up walk: peak PSS (0.1 s samples)", lambda r: r.walk["peak_pss"]),
                 ("start-up walk: peak RSS (VmHWM)", lambda r: r.walk["peak_rss"]),
                 ("start-up walk: PSS right after", lambda r: r.walk["post_pss"]),
                 ("start-up walk: RSS right after", lambda r: r.walk["post_rss"]),
                 ("start-up walk: seconds", lambda r: r.walk["walk_s"])]
    rows += [("PSS at start", lambda r: r.start.rollup["Pss"]), ("PSS idle after use", lambda r: r.idle.rollup["Pss"]),
            ("RSS idle after use", lambda r: r.idle.rollup["Rss"]),
            ("  Pss_Anon", lambda r: r.idle.rollup.get("Pss_Anon", 0)),
            ("  Pss_File", lambda r: r.idle.rollup.get("Pss_File", 0)),
            ("  Pss_Shmem", lambda r: r.idle.rollup.get("Pss_Shmem", 0))]
    rows += [(f"  {c}", lambda r, c=c: r.idle.classes[c]["pss"]) for c in CLASSES]
    rows += [("threads", lambda r: r.idle.threads), ("ready after (s)", lambda r: r.ready_s)]
    for name, get in rows:
        print(f"{name:44}" + "".join(f"{med([get(r) for r in runs[lab]]):>22.1f}" for lab in labels))
    for lab in labels:
        print(f"[{lab}] files with most PSS, idle (last run): {runs[lab][-1].idle.files}")
    for lab in labels:
        reps = [r.idle.report for r in runs[lab] if r.idle.report]
        if not reps:
            print(f"\n[{lab}] no server report (this build has no LRR_MEMORY_REPORT)")
            continue
        print(f"\n[{lab}] server's own report, idle after use (last run):")
        print(json.dumps(reps[-1], indent=1)[:6000])
    p95_names = [k for k in next(iter(runs.values()))[0].p95]
    if p95_names:
        print(f"\n== search p95 (ms), median of runs ==\n{'':52}{head}")
        for name in p95_names:
            print(f"{name:52}" + "".join(f"{med([r.p95[name] for r in runs[lab]]):>22.1f}" for lab in labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="the library (bench_search.py's; default /tmp/lrr_bench_search_<N>)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idling before the idle reading")
    parser.add_argument("--searches", action="store_true", help="time the searches (p95) during the use")
    parser.add_argument("--first-start", dest="settled", action="store_false",
                        help="serve the copy as built: the server migrates and re-keys it at start (a first start "
                        "after an upgrade), instead of a library the server has opened before")
    parser.add_argument("--after-walk", action="store_true",
                        help="start using the server only once the watcher's start-up walk of the folder is done")
    parser.add_argument("--walk", action="store_true",
                        help="only the start-up walk, in this process: scan.scan() against a copy of the database")
    parser.add_argument("--writes", type=float, default=5.0, help="seconds of 4 clients writing metadata")
    parser.add_argument("--compare", type=Path, help="another build's lrr-lite, run alternately with this one")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for this build's server")
    parser.add_argument("--compare-env", action="append", default=[], help="NAME=VALUE for --compare's server")
    args = parser.parse_args()
    require_installed()
    lib = sb.prepared_library(args.archives, args.dir, False)
    if args.walk:
        walk_in_process(lib)
        return
    env = dict(e.split("=", 1) for e in args.env)
    builds = [("this", LRR_LITE, env)]
    if args.compare:
        builds.insert(0, ("compare", args.compare, dict(e.split("=", 1) for e in args.compare_env)))
    runs: dict[str, list[Run]] = {label: [] for label, _, _ in builds}
    for n in range(args.runs):
        for label, exe, build_env in builds:
            r = one_run(label, exe, lib, args.archives, args, build_env)
            runs[label].append(r)
            walked = (f"walk peak_pss={r.walk['peak_pss']:.1f} vmhwm={r.walk['peak_rss']:.1f} "
                      f"post_pss={r.walk['post_pss']:.1f} ({r.walk['walk_s']:.1f}s) ") if r.walk else ""
            print(f"run {n + 1} {label}: {walked}pss_start={r.start.rollup['Pss']:.1f} pss_idle={r.idle.rollup['Pss']:.1f} "
                  f"rss_idle={r.idle.rollup['Rss']:.1f} MB (ready in {r.ready_s:.1f}s)", flush=True)
    show(runs)
    pss = med([r.idle.rollup["Pss"] for r in runs["this"]])
    ok = pss <= IDLE_PSS_MB
    print(f"\nidle_pss_mb={pss:.1f} (median of {args.runs}; target <= {IDLE_PSS_MB:.0f}) {sb.verdict(ok)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
