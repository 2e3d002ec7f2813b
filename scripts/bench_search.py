"""Benchmark search, listing, stats and metadata writes over a large library, on the real server over HTTP.

Usage: .venv/bin/python scripts/bench_search.py [--archives 100000] [--dir DIR] [--rebuild] [--quick]
                                                [--runs 30] [--after-write 10] [--write-seconds 10]
                                                [--work RUN_DIR] [--only NAME_OR_FILTER ...]

The library: `--archives` real one-page CBZ files (one tiny JPEG, the same bytes in all of them, plus a small
member unique to each so every SHA-1 ID differs) in folders of 1,000, imported with `scan.scan()` in this
process (no covers: they are irrelevant here and would take an hour), then given a title ("[Artist] Words NN")
and ~15 tags each with `records.write_title` / `records.write_tags` in transactions of 1,000 (the code path
PUT .../metadata uses). Tags follow a seeded, realistic distribution: artist: (20,000, Zipf), group: (5,000,
60 % of archives), parody: (2,000), character: (10,000, 0-3), language: (8, mostly english/japanese, plus
language:translated), date_added: (spread over 10 years), and long-tail female:/male:/bare tags (5,000,
Zipf). The built library is cached in --dir (default /tmp/lrr_bench_search_<N>) and reused when complete;
every run serves a fresh copy of the built database, so earlier runs' writes never leak into a later one.

The searches: the issue's eight (empty filter at page 0 and deep, an exact tag, a namespace prefix, three terms
with an exclusion, a wildcard title, date_added desc, random 20) and five more that clients send: Mihon's
"Latest" (newonly, date_added desc), a lone exclusion, hidecompleted, a namespace prefix at a deep page, and
date_added desc at the middle page; seven whose terms match thousands of distinct tags (`female:`, a bare
namespace, alone, excluded, by date, among three terms, at the middle page; `artist:s*`; `*ko`, a substring of
tags); at the end (after the writes), three grouped searches once a tankoubon of three
archives exists (a matching tank is merged into the page), `female:` among them.
A metadata write PUTs an archive's generated tags with two long-tail tags swapped for others.
The server: `lrr-lite serve --no-scan-on-start` in a subprocess on a free loopback port (log in the run
folder), talked to over one kept-alive connection. Every search is timed `--runs` times in a row (p50/p95/p99)
and, separately, `--after-write` times as the first call after a PUT .../metadata (first_after_write p50/p95):
the server keeps no result cache, so both must meet the target. Then GET /api/archives (full list),
GET /api/database/stats, 4 clients doing PUT .../metadata in parallel for `--write-seconds`, and the server's
VmRSS before the first benchmark request and after the last one.

Targets (2-core dev machine): search p95 <= 50 ms (repeated and first after a write), /api/archives <= 1.5 s,
stats <= 200 ms, >= 500 metadata writes/s, RSS growth <= 30 MB.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import itertools
import json
import logging
import random
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _harness import ServerProcess, require_installed  # noqa: E402  (path set up above)

SEED = 20240607
BUILD_VERSION = 1  # bump when the generated library changes, so cached builds are rebuilt
SHARD = 1000
API_KEY = "bench-search-key"

SEARCH_P95_MS = 50.0
ARCHIVES_MS = 1500.0
STATS_MS = 200.0
WRITES_PER_S = 500.0
RSS_GROWTH_MB = 30.0


# -- the generated library -------------------------------------------------------------------------------

SYLLABLES = ("ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so", "ta", "chi", "tsu", "te", "to", "na",
             "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho", "ma", "mi", "mu", "me", "mo", "ya", "yu", "yo",
             "ra", "ri", "ru", "re", "ro", "wa", "n", "ga", "gi", "gu", "ge", "go", "za", "ji", "zu", "da", "de",
             "do", "ba", "bi", "bu", "be", "bo", "pa", "pi", "pu", "pe", "po", "ryu", "kyo", "sho", "cha")
# The most frequent title words (Zipf rank order); generated words follow them.
TITLE_WORDS = ("love", "summer", "night", "girl", "school", "secret", "sister", "days", "story", "heart",
               "after", "dream", "my", "the", "in", "of", "with", "sweet", "first", "time", "room", "winter",
               "princess", "teacher", "friend", "holiday", "rain", "beach", "festival", "memories", "daily",
               "life", "lesson", "club", "house", "morning", "maid", "magic", "star", "sky")
LANGUAGES = (("english", 45), ("japanese", 30), ("chinese", 12), ("korean", 4), ("spanish", 3),
             ("french", 2), ("russian", 2), ("german", 2))
TEN_YEARS = 10 * 365 * 86400
EPOCH_START = 1_400_000_000


class Zipf:
    """Draws from a fixed population with Zipf-Mandelbrot weights 1 / (rank + q) ** s."""

    def __init__(self, population: list[str], s: float = 1.0, q: float = 2.0) -> None:
        self.population = population
        self.cum = list(itertools.accumulate(1.0 / (k + q) ** s for k in range(1, len(population) + 1)))

    def one(self, rng: random.Random) -> str:
        return rng.choices(self.population, cum_weights=self.cum)[0]

    def distinct(self, rng: random.Random, k: int) -> list[str]:
        out: dict[str, None] = {}
        while len(out) < k:
            out.setdefault(self.one(rng), None)
        return list(out)


def _names(rng: random.Random, count: int, parts: tuple[int, int], words: tuple[int, int] = (1, 1)) -> list[str]:
    """`count` distinct made-up names of `words` words of `parts` syllables each."""
    out: dict[str, None] = {}
    while len(out) < count:
        name = " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*parts)))
                        for _ in range(rng.randint(*words)))
        out.setdefault(name, None)
    return list(out)


@dataclass
class Vocabulary:
    artists: list[str]
    groups: list[str]
    parodies: list[str]
    characters: list[str]
    longtail: list[str]  # full tags: "female:…", "male:…" or bare
    title_words: list[str]


def vocabulary(seed: int) -> Vocabulary:
    rng = random.Random(seed)
    longtail = []
    for name in _names(rng, 5000, (2, 3), (1, 2)):
        r = rng.random()
        longtail.append(f"female:{name}" if r < 0.4 else f"male:{name}" if r < 0.7 else name)
    return Vocabulary(
        artists=_names(rng, 20_000, (2, 3), (1, 2)),
        groups=_names(rng, 5000, (2, 4), (1, 2)),
        parodies=["original"] + _names(rng, 1999, (2, 4), (1, 3)),
        characters=_names(rng, 10_000, (2, 3), (2, 2)),
        longtail=longtail,
        title_words=list(TITLE_WORDS) + [w for w in _names(rng, 3000, (2, 4)) if w not in TITLE_WORDS],
    )


@dataclass
class Archive:
    title: str
    tags: list[str]


class Generator:
    """Titles and tags, deterministic per (seed, index)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.vocab = v = vocabulary(seed)
        self.artist = Zipf(v.artists, 1.0, 10)  # top artist ~1.2 % of the library
        self.group = Zipf(v.groups, 1.0, 5)
        self.parody = Zipf(v.parodies, 1.0, 1)  # "original" first: ~20 %
        self.character = Zipf(v.characters, 1.0, 20)
        self.longtail = Zipf(v.longtail, 1.0, 5)  # top tag in ~1 archive of 5
        self.word = Zipf(v.title_words, 1.0, 3)
        self.languages = [name for name, _ in LANGUAGES]
        self.language_weights = [w for _, w in LANGUAGES]

    def archive(self, index: int, salt: int = 0) -> Archive:
        rng = random.Random(self.seed * 1_000_003 + index * 7919 + salt)
        artist = self.artist.one(rng)
        tags = [f"artist:{artist}"]
        if rng.random() < 0.6:
            tags.append(f"group:{self.group.one(rng)}")
        parody = self.parody.one(rng)
        tags.append(f"parody:{parody}")
        if parody != "original":
            tags += [f"character:{c}" for c in self.character.distinct(rng, rng.randint(0, 3))]
        language = rng.choices(self.languages, weights=self.language_weights)[0]
        tags.append(f"language:{language}")
        if language != "japanese":
            tags.append("language:translated")
        tags.append(f"date_added:{EPOCH_START + rng.randrange(TEN_YEARS)}")
        tags += self.longtail.distinct(rng, max(3, 15 - len(tags) + rng.randint(-2, 2)))
        words = " ".join(self.word.one(rng) for _ in range(rng.randint(2, 5)))
        title = f"[{artist}] {words.capitalize()} {rng.randint(1, 30)}"
        return Archive(title, tags)


    def edited(self, index: int, salt: int) -> str:
        """What a metadata edit sends: archive `index`'s tags with its last two tags replaced by other
        long-tail tags (a client PUTs the whole list; a real edit changes a few tags, not all of them)."""
        tags = self.archive(index).tags
        rng = random.Random(self.seed * 31 + index * 7919 + salt * 104_729)
        kept = tags[:-2]
        extra: list[str] = []
        while len(extra) < 2:
            tag = self.longtail.one(rng)
            if tag not in kept and tag not in extra:
                extra.append(tag)
        return ",".join(kept + extra)


def archive_path(content: Path, index: int) -> Path:
    return content / f"{index // SHARD:03d}" / f"{index:06d}.cbz"


def tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 90), (120, 80, 160)).save(out, "JPEG", quality=70)
    return out.getvalue()


def write_files(content: Path, count: int) -> None:
    jpeg = tiny_jpeg()
    for i in range(count):
        path = archive_path(content, i)
        if i % SHARD == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("info.txt", f"bench archive {i}\n")
            zf.writestr("001.jpg", jpeg)
        path.write_bytes(buf.getvalue())


def build(lib: Path, count: int) -> None:
    """Write the files, import them, write titles and tags; the manifest is written last (= complete)."""
    from lrr_lite.library import records
    from lrr_lite.library.intake import scan
    from lrr_lite.library.intake.ingest import Ingest
    from lrr_lite.storage.db import Database
    from lrr_lite.storage.settings import Settings

    if lib.exists():
        shutil.rmtree(lib)
    content, data = lib / "content", lib / "data"
    t0 = time.perf_counter()
    write_files(content, count)
    t1 = time.perf_counter()
    print(f"build: {count} cbz files written in {t1 - t0:.1f}s", flush=True)

    logging.basicConfig(level=logging.WARNING)
    db = Database(data / "database.sqlite")
    settings = Settings(db)
    last = [time.monotonic()]

    def progress(report: scan.ScanReport) -> None:
        if time.monotonic() - last[0] >= 20:
            last[0] = time.monotonic()
            print(f"build: scan {report.seen}/{count} ...", flush=True)

    report = scan.scan(Ingest(db, settings, data / "thumb"), content, progress)
    t2 = time.perf_counter()
    if report.added != count:
        raise SystemExit(f"scan added {report.added} archives, expected {count}: {report.as_dict()}")
    print(f"build: scan.scan() imported {report.added} archives in {t2 - t1:.1f}s", flush=True)

    gen = Generator(SEED)
    ids = {r["path"]: r["archive_id"] for r in db.query("SELECT path, archive_id FROM files")}
    for start in range(0, count, 1000):
        with db.write() as conn:
            for i in range(start, min(start + 1000, count)):
                arc = gen.archive(i)
                archive_id = ids[str(archive_path(content, i))]
                records.write_title(conn, archive_id, arc.title)
                records.write_tags(conn, archive_id, ",".join(arc.tags))
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    t3 = time.perf_counter()
    print(f"build: titles and tags written in {t3 - t2:.1f}s", flush=True)
    manifest = {"archives": count, "seed": SEED, "version": BUILD_VERSION, "build_s": round(t3 - t0, 1)}
    (lib / "manifest.json").write_text(json.dumps(manifest))


def library_ready(lib: Path, count: int) -> bool:
    try:
        manifest = json.loads((lib / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest == {**manifest, "archives": count, "seed": SEED, "version": BUILD_VERSION} and \
        (lib / "data" / "database.sqlite").exists()


def prepared_library(count: int, directory: Path | None, rebuild: bool) -> Path:
    """The `count`-archive library in `directory` (default /tmp/lrr_bench_search_<N>), built unless a
    complete one is there already (or `rebuild`)."""
    lib = directory or Path(f"/tmp/lrr_bench_search_{count // 1000}k" if count % 1000 == 0
                            else f"/tmp/lrr_bench_search_{count}")
    lib = lib.resolve()
    if rebuild or not library_ready(lib, count):
        print(f"building a {count}-archive library in {lib} ...", flush=True)
        build(lib, count)
    else:
        print(f"reusing the {count}-archive library in {lib} (--rebuild to make it anew)", flush=True)
    return lib


# -- the server ------------------------------------------------------------------------------------------


AUTH = {"Authorization": "Bearer " + base64.b64encode(API_KEY.encode()).decode()}
FORM = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}


class Client:
    """One kept-alive HTTP connection; request() returns (status, body, milliseconds until the body is read)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None,
                each: Callable[[bytes], None] | None = None) -> tuple[int, bytes, float]:
        """`each`: the body is handed to it a piece at a time (as curl -o /dev/null reads it) and b"" returned;
        for the full list of 1M archives (~490 MB), reading it whole into this process cost the bench ~4 s more
        on its first call than the server took (the client's memory growing)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            if each is None or resp.status != 200:
                data = resp.read()
            else:
                data = b""
                while piece := resp.read(1 << 20):
                    each(piece)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        return resp.status, data, (time.perf_counter() - start) * 1000

    def stream_ok(self, path: str, each: Callable[[bytes], None]) -> float:
        """GET a long reply piece by piece (see request): ms until it is all read."""
        status, body, ms = self.request("GET", path, each=each)
        if status != 200:
            raise SystemExit(f"GET {path} -> {status}: {body[:300]!r}")
        return ms

    def get_ok(self, path: str) -> tuple[bytes, float]:
        status, body, ms = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path} -> {status}: {body[:300]!r}")
        return body, ms

    def put_metadata(self, archive_id: str, tags: str) -> tuple[int, float]:
        """(status, ms); 200, or 423 when another client is writing the same archive (LANraragi refuses)."""
        status, body, ms = self.request("PUT", f"/api/archives/{archive_id}/metadata",
                                        urlencode({"tags": tags}), FORM)
        if status not in (200, 423):
            raise SystemExit(f"PUT metadata {archive_id} -> {status}: {body[:300]!r}")
        return status, ms

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Server(ServerProcess):
    """The server with the benchmark's API key."""

    def __init__(self, content: Path, data: Path, log: Path, *extra: str, prefix: tuple[str, ...] = ()) -> None:
        super().__init__(content, data, log, "--api-key", API_KEY, *extra, prefix=prefix)

    def wait_ready(self, timeout: float = 300) -> None:
        client = Client(self.port)
        try:
            self.wait_until(lambda: client.request("GET", "/api/info")[0] == 200, timeout)
        finally:
            client.close()


# -- measuring -------------------------------------------------------------------------------------------


def pct(values: list[float], p: int) -> float:
    """Percentile by linear interpolation between closest ranks (p in 1..99)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class SearchCase:
    name: str
    path: str


def q(**params: str | int) -> str:
    """An /api/search URL."""
    return "/api/search?" + urlencode(params)


def search_cases(gen: Generator, count: int) -> list[SearchCase]:
    """Queries over the generated vocabulary with realistic hit counts (the printed `hits` show them)."""
    v = gen.vocab
    popular_artist = v.artists[4]  # Zipf rank 5: a prolific artist, ~1 % of the library
    common = next(t for t in v.longtail if t.startswith("female:"))  # the most frequent female: tag
    excluded = next(t for t in v.longtail if t.startswith("male:"))  # the most frequent male: tag

    mid = min(50_000, count // 2)
    return [
        SearchCase("search_empty_p0", q(filter="", start=0)),
        SearchCase(f"search_empty_start{mid}", q(filter="", start=mid)),
        SearchCase("search_exact_tag", q(filter=f'"artist:{popular_artist}"$')),
        SearchCase("search_ns_prefix", q(filter="language:eng")),
        SearchCase("search_three_terms_excl", q(filter=f"language:english, {common}, -{excluded}")),
        SearchCase("search_wildcard_title", q(filter="summ?r*n*ght")),
        SearchCase("search_date_added_desc", q(filter="", sortby="date_added", order="desc")),
        SearchCase("search_random20", "/api/search/random?" + urlencode({"count": 20})),
        # beyond the list: what clients also send
        SearchCase("search_latest_newonly", q(filter="", sortby="date_added", order="desc", newonly="true")),
        SearchCase("search_exclusion_only", q(filter=f"-{excluded}")),
        SearchCase("search_hidecompleted", q(filter="", hidecompleted="true")),
        SearchCase("search_ns_prefix_deep", q(filter="language:eng", start=min(20_000, count // 5))),
        SearchCase("search_date_added_deep", q(filter="", sortby="date_added", order="desc", start=mid)),
        # terms matching thousands of distinct tags (issue 14): a bare namespace (every female: tag), a
        # namespace and first letter, a substring of tags (`*ko`, this vocabulary's `*girl`)
        SearchCase("search_ns_bare", q(filter="female:")),
        SearchCase("search_ns_bare_excluded", q(filter="-female:")),
        SearchCase("search_ns_bare_date_desc", q(filter="female:", sortby="date_added", order="desc")),
        SearchCase("search_ns_bare_three_terms", q(filter=f"language:english, female:, -{excluded}")),
        SearchCase("search_ns_bare_deep", q(filter="female:", start=mid)),
        SearchCase("search_ns_letter", q(filter="artist:s*")),
        SearchCase("search_tag_substring", q(filter="*ko")),
    ]


def bench_searches(client: Client, cases: list[SearchCase], ids: list[str], gen: Generator, runs: int,
                   after_write: int, rng: random.Random, only: list[str] | None = None) -> list[bool]:
    results = []
    if only:
        cases = [c for c in cases if any(o == c.name or o in unquote_plus(c.path) for o in only)]
    write_no = itertools.count(1)

    def rewrite() -> None:
        i = rng.randrange(len(ids))
        client.put_metadata(ids[i], gen.edited(i, salt=next(write_no)))

    for case in cases:
        m = measure_search(client, case, runs, after_write, rewrite)
        ok = m["p95"] <= SEARCH_P95_MS and m["first_p95"] <= SEARCH_P95_MS
        results.append(ok)
        print(f"{case.name} p50={m['p50']:.1f} p95={m['p95']:.1f} p99={m['p99']:.1f} "
              f"first_after_write_p50={m['first_p50']:.1f} first_after_write_p95={m['first_p95']:.1f} ms "
              f"hits={m['hits']:.0f} (target p95 <= {SEARCH_P95_MS:.0f}) {verdict(ok)}  [{case.path}]", flush=True)
    return results


def measure_search(client: Client, case: SearchCase, runs: int, after_write: int,
                   rewrite: Callable[[], None]) -> dict[str, float]:
    """One search timed `runs` times in a row and `after_write` times as the first call after `rewrite()`
    (a metadata PUT): p50/p95/p99 and first_p50/first_p95 in ms, the hit count, and `cold`: the very first
    call of this filter (nothing of it known yet: not judged, printed so a kept hit set's effect shows)."""
    body, cold = client.get_ok(case.path)  # the filter's first call (warms its code path; not judged)
    reply = json.loads(body)
    hits = reply.get("recordsFiltered", reply.get("recordsTotal"))
    repeated = [client.get_ok(case.path)[1] for _ in range(runs)]
    first = []
    for _ in range(after_write):
        rewrite()
        first.append(client.get_ok(case.path)[1])
    return {"p50": pct(repeated, 50), "p95": pct(repeated, 95), "p99": pct(repeated, 99),
            "first_p50": pct(first, 50), "first_p95": pct(first, 95), "hits": float(hits if hits is not None else -1),
            "cold": cold}


def bench_writes(port: int, ids: list[str], gen: Generator, seconds: float, clients: int = 4) -> bool:
    m = measure_writes(port, ids, gen, seconds, clients)
    ok = m["per_s"] >= WRITES_PER_S
    print(f"metadata_writes_per_s={m['per_s']:.0f} ({m['done']:.0f} PUTs by {clients} clients in "
          f"{m['seconds']:.1f}s, {m['locked']:.0f} more refused with 423; "
          f"latency p50={m['p50']:.1f} p95={m['p95']:.1f} ms) (target >= {WRITES_PER_S:.0f}) "
          f"{verdict(ok)}", flush=True)
    return ok


def measure_writes(port: int, ids: list[str], gen: Generator, seconds: float, clients: int = 4) -> dict[str, float]:
    """`clients` threads PUT .../metadata for `seconds`: per_s, done, locked (423s), seconds, p50/p95 ms."""
    stop_at = time.perf_counter() + seconds
    done: list[list[float]] = [[] for _ in range(clients)]
    locked = [0] * clients
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        client = Client(port)
        rng = random.Random(SEED + 100 + n)
        try:
            k = 0
            while time.perf_counter() < stop_at:
                i = rng.randrange(len(ids))
                k += 1
                status, ms = client.put_metadata(ids[i], gen.edited(i, salt=10_000 * (n + 1) + k))
                if status == 200:
                    done[n].append(ms)
                else:
                    locked[n] += 1
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"metadata writer failed: {errors[0]!r}")
    lat = [ms for d in done for ms in d]
    return {"per_s": len(lat) / elapsed, "done": float(len(lat)), "locked": float(sum(locked)),
            "seconds": elapsed, "p50": pct(lat, 50), "p95": pct(lat, 95)}


def timed(label: str, fn: Callable[[], float], n: int, target: float, judge: str) -> bool:
    values = [fn() for _ in range(n)]
    judged = pct(values, 95) if judge == "p95" else pct(values, 50)
    ok = judged <= target
    print(f"{label} p50={pct(values, 50):.0f} p95={pct(values, 95):.0f} max={max(values):.0f} (n={n}; target "
          f"{judge} <= {target:.0f}) {verdict(ok)}", flush=True)
    return ok


def migrate_cached(path: Path) -> None:
    """Apply the code's newer migrations to a database (the cached one once, so runs don't each pay for
    them; or, with --work, the run's copy, leaving a shared library untouched)."""
    from lrr_lite.storage.db import Database
    from lrr_lite.storage.db.schema import MIGRATIONS

    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    start = time.perf_counter()
    db = Database(path)  # opening migrates (and checkpoints what the migrations wrote)
    try:
        if version < len(MIGRATIONS):
            print(f"cached database migrated from version {version} to {len(MIGRATIONS)} in "
                  f"{time.perf_counter() - start:.1f}s", flush=True)
        settle(db)
    finally:
        db.close()


def settle(db: Any) -> None:
    """Do the one-off work a server starts in the background after an upgrade (today: KOReader fingerprints of
    the archives recorded before schema 13, reading every file once) before the timed server starts: the
    figures are of a library in its steady state, not of a server busy with that job."""
    from lrr_lite.library import kosync

    if kosync.missing_fingerprints(db):
        start = time.perf_counter()
        done = kosync.backfill(db)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"one-off kosync fingerprints: {done} in {time.perf_counter() - start:.1f}s", flush=True)


def run(lib: Path, args: argparse.Namespace) -> bool:
    count = args.archives
    work = args.work or lib / "run"
    if work.exists():
        shutil.rmtree(work)
    (work / "data").mkdir(parents=True)
    if args.work is None:
        migrate_cached(lib / "data" / "database.sqlite")
    shutil.copyfile(lib / "data" / "database.sqlite", work / "data" / "database.sqlite")
    if args.work is not None:
        migrate_cached(work / "data" / "database.sqlite")
    gen = Generator(SEED)
    rng = random.Random(SEED + 1)
    server = Server(lib / "content", work / "data", work / "server.log")
    client = Client(server.port)
    try:
        server.wait_ready()
        time.sleep(1)
        rss_before = server.rss_mb()
        # IDs in generation order (index i has the tags of gen.archive(i)), read from the copy, not over HTTP,
        # so the full list is first requested by its own benchmark below.
        with sqlite3.connect(work / "data" / "database.sqlite") as conn:
            by_path = dict(conn.execute("SELECT path, archive_id FROM files"))
        ids = [by_path[str(archive_path(lib / "content", i))] for i in range(count)]
        print(f"server ready: {count} archives, rss_before_mb={rss_before:.1f}", flush=True)

        if args.only_writes:  # the write rate alone (runs it --runs times), without the searches
            results = [bench_writes(server.port, ids, gen, args.write_seconds) for _ in range(args.runs)]
            return all(results)
        results = bench_searches(client, search_cases(gen, count), ids, gen, args.runs, args.after_write, rng,
                                 args.only)

        def full_list() -> float:
            body, ms = client.get_ok("/api/archives")
            if body.count(b'"arcid"') != count:
                raise SystemExit("/api/archives did not list every archive")
            return ms

        if not args.only:
            size = len(client.get_ok("/api/archives")[0]) / 2**20
            print(f"(/api/archives JSON: {size:.1f} MB)")
            results.append(timed("archives_full_list_ms", full_list, 5, ARCHIVES_MS, "p50"))
            client.get_ok("/api/database/stats")
            results.append(timed("stats_ms", lambda: client.get_ok("/api/database/stats")[1], 20, STATS_MS, "p95"))
        results.append(bench_writes(server.port, ids, gen, args.write_seconds))
        # last, as it changes every grouped result: a tankoubon, which a default (grouped) search merges in
        status, body, _ = client.request("PUT", "/api/tankoubons?" + urlencode({"name": "Bench Saga"}), "", AUTH)
        tank_id = json.loads(body)["tankoubon_id"] if status == 200 else None
        for member in ids[:3]:
            if tank_id is None or client.request("PUT", f"/api/tankoubons/{tank_id}/{member}", "", AUTH)[0] != 200:
                raise SystemExit(f"could not make the benchmark's tankoubon: {status} {body[:300]!r}")

        results += bench_searches(client, [
            SearchCase("search_with_tank_empty_p0", q(filter="")),
            SearchCase("search_with_tank_date_added_desc", q(filter="", sortby="date_added", order="desc")),
            SearchCase("search_with_tank_ns_prefix", q(filter="language:eng")),
            SearchCase("search_with_tank_ns_bare", q(filter="female:")),
        ], ids, gen, args.runs, args.after_write, rng, args.only)
        client.close()
        time.sleep(2)
        rss_after = server.rss_mb()
        peak = server.status_kb("VmHWM") / 1024
        growth = rss_after - rss_before
        ok = growth <= RSS_GROWTH_MB
        results.append(ok)
        print(f"rss_before_mb={rss_before:.1f} rss_after_mb={rss_after:.1f} growth_mb={growth:.1f} "
              f"(peak {peak:.1f}) (target growth <= {RSS_GROWTH_MB:.0f}) {verdict(ok)}", flush=True)
    finally:
        client.close()
        server.stop()
    print(f"overall: {sum(results)}/{len(results)} targets met")
    return all(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archives", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="where the library is built and cached "
                        "(default /tmp/lrr_bench_search_<N>)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the library even if a complete one exists")
    parser.add_argument("--quick", action="store_true", help="10,000 archives, 10 runs, 5 after writes, 3 s of writes")
    parser.add_argument("--runs", type=int, default=30, help="repeated calls per search")
    parser.add_argument("--after-write", type=int, default=10, help="first-call-after-a-write samples per search")
    parser.add_argument("--write-seconds", type=float, default=10.0)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--only-writes", action="store_true", help="only the 4-client metadata writes, --runs times")
    parser.add_argument("--work", type=Path, help="the run folder (default DIR/run); given, the cached database "
                        "is only read: newer migrations are applied to the run's copy (and timed)")
    parser.add_argument("--only", action="append", help="time only the searches whose name is this or whose "
                        "URL contains it (repeatable; e.g. --only female:); skips the full list and stats")
    args = parser.parse_args()
    if args.quick:
        args.archives, args.runs, args.after_write, args.write_seconds = 10_000, 10, 5, 3.0
    require_installed()
    lib = prepared_library(args.archives, args.dir, args.rebuild)
    if args.build_only:
        return
    sys.exit(0 if run(lib, args) else 1)


if __name__ == "__main__":
    main()
