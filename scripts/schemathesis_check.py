"""Schemathesis against LANraragi's OpenAPI spec for the `archives`, `misc` and `minion` operations.

Usage:
    .venv/bin/python scripts/schemathesis_check.py                  # 50 generated examples per operation and mode
    .venv/bin/python scripts/schemathesis_check.py --quick          # 10 (what tests/test_schema_conformance.py runs)
    .venv/bin/python scripts/schemathesis_check.py --max-examples 200 --seed 1234

What it does: builds a small library of real archives (CBZ, 7z, PDF, CBR via tests/archive_factory.py), starts a
real lrr_lite on 127.0.0.1 (tests/conftest.py's LiveServer, API key "test-key"), loads
tests/data/lanraragi-openapi.yaml (a copy of LANraragi 0.9.8's) with schemathesis's Python API, points it at
<server>/api and sends the Authorization header on every request. Per operation it runs:

  1. targeted cases with real archive IDs, page paths and job IDs (random 40-char IDs alone only ever reach
     the "no such archive" branches);
  2. Hypothesis-generated positive cases, about half of them with the {id}/{jobid} path parameter swapped for
     a real one;
  3. Hypothesis-generated negative cases (schema-violating requests).

Checks: `not_a_server_error`, `response_schema_conformance` and `ignored_auth`. The last one re-sends every
request that succeeded with the key to an operation the spec marks `security: api_key`, once without the
Authorization header and once with an invalid one, and fails unless both are refused (401/403): a route that
lost its key check is reported as "API accepts requests without authentication" (each operation is probed
until it has refused once). `status_code_conformance` is deliberately off: LANraragi's spec omits statuses the
real server sends (404 for unknown IDs, 401 without a key, 415/416…), so it would flag LANraragi's own
behaviour. Failures are de-duplicated by (operation, check, status) and printed with the request (as curl) and
the response. Exit status: 0 no failures, 1 failures, 0 with a
SKIP message when the spec file is absent.

Safety: the spec's `servers` URL is never used (the base URL is always the local server), outgoing
connections to anything but loopback are refused for the duration of the run, and the process works in a
temporary directory so no generated argument can write into the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "tests" / "data" / "lanraragi-openapi.yaml"  # a copy of LANraragi 0.9.8's
TAGS = ["archives", "misc", "minion"]
ALL_TAGS = ["archives", "misc", "minion", "search", "database", "categories", "tankoubons", "stamps", "shinobu",
            "plugins", "opds"]
DEFAULT_MAX_EXAMPLES = 50
QUICK_MAX_EXAMPLES = 10
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# Integers the spec allows (no bounds) but a 64-bit store does not hold.
HUGE = 2**63
HUGER = 2**80
# Destructive operations run after everything else so the library stays populated for the other ones.
LAST = ("DELETE /archives/{id}",)

for _p in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


@dataclass
class FailureRecord:
    operation: str
    check: str
    status: int | None
    source: str  # "targeted", "positive", "negative"
    message: str
    request: str
    response: str
    count: int = 1

    def render(self) -> str:
        return (f"- {self.operation} [{self.check}] status={self.status} source={self.source} "
                f"(seen {self.count}x)\n    message: {_indent(self.message)}\n"
                f"    request: {self.request}\n    response: {_indent(self.response)}")


@dataclass
class Report:
    seed: int
    max_examples: int
    operations: list[str] = field(default_factory=list)
    cases: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    real_id_cases: int = 0
    failures: dict[tuple[str, str, int | None], FailureRecord] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def total_cases(self) -> int:
        return sum(self.cases.values())

    def add_failure(self, rec: FailureRecord) -> None:
        key = (rec.operation, rec.check, rec.status)
        if key in self.failures:
            self.failures[key].count += 1
        else:
            self.failures[key] = rec

    def summary(self) -> str:
        if self.skipped:
            return f"SKIP: {self.skipped}"
        lines = [f"schemathesis check: seed {self.seed}; "
                 f"max_examples {self.max_examples} per operation and mode",
                 f"operations tested: {len(self.operations)}",
                 f"cases run: {self.total_cases} (of which {self.real_id_cases} with real archive/job IDs)"]
        lines.append("  cases  operation  (HTTP statuses seen: count)")
        for op in self.operations:
            seen = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.get(op, {}).items()))
            lines.append(f"  {self.cases.get(op, 0):5d}  {op}  ({seen})")
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.failures:
            lines.append(f"FAILURES: {len(self.failures)} distinct (operation, check, status)")
            lines.extend(rec.render() for rec in self.failures.values())
            lines.append("failure kinds:")
            kinds: dict[tuple[str, int | None, str], list[str]] = {}
            for rec in self.failures.values():
                kinds.setdefault((rec.check, rec.status, rec.message.splitlines()[0]), []).append(rec.operation)
            for (check, status, first), ops in kinds.items():
                lines.append(f"  [{check}] status={status} {first!r}: {len(ops)} operation(s): {'; '.join(ops)}")
        else:
            lines.append("no failures (no 5xx, no schema-violating response)")
        return "\n".join(lines)


def _indent(text: str) -> str:
    return text.strip().replace("\n", "\n      ")


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


# -- environment guards ------------------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse every outgoing connection that is not to loopback (in-process server and its job workers)."""
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else str(address)
            if host not in LOOPBACK:
                raise ConnectionRefusedError(f"schemathesis_check: blocked connection to {host}")
        return original(sock, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


@contextlib.contextmanager
def working_dir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# -- library and server ------------------------------------------------------------------------------------


def build_library(content: Path) -> None:
    from archive_factory import make_comic

    make_comic(content / "Alpha Comic.cbz", 4, "cbz")
    make_comic(content / "series" / "Beta Volume 1.7z", 3, "7z")
    make_comic(content / "Gamma Scan.pdf", 2, "pdf")
    make_comic(content / "Delta [Group] (Artist).cbr", 3, "cbr")


@dataclass
class Fixtures:
    archive_ids: list[str]
    pages: dict[str, list[str]]
    job_ids: list[int]
    upload_file: bytes


def collect_fixtures(server: Any, root: Path) -> Fixtures:
    from archive_factory import make_comic

    listing = server.get("/api/archives").json()
    ids = [a["arcid"] for a in listing]
    pages: dict[str, list[str]] = {}
    for arcid in ids:
        body = server.get(f"/api/archives/{arcid}/files").json()
        names = []
        for url in body.get("pages", []):
            names.extend(parse_qs(urlsplit(url).query).get("path", []))
        pages[arcid] = names
    job = server.post("/api/regen_thumbs", auth=True).json().get("job")
    if isinstance(job, int):
        server.wait_job(job, 60)
    job_ids = list(range(1, (job or 1) + 1))
    upload = make_comic(root / "upload" / "Epsilon Upload.cbz", 2, "cbz").read_bytes()
    return Fixtures(ids, pages, job_ids, upload)


# -- running cases -----------------------------------------------------------------------------------------


class Runner:
    def __init__(self, schema: Any, server: Any, fixtures: Fixtures, report: Report) -> None:
        import requests
        from schemathesis.checks import not_a_server_error
        from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

        self.schema = schema
        self.server = server
        self.fx = fixtures
        self.report = report
        self.base_url = server.url + "/api"
        self.auth = server.auth()
        self.session = requests.Session()
        # ignored_auth probes an authenticated 2xx of a key-protected operation without (and with a wrong) key;
        # validate_response() is told which headers carried the key so it knows what to strip. Enforcement is
        # a property of the operation: once an operation refused both probes it is not probed again (as
        # schemathesis's own runner does), which keeps the run short.
        self.checks = [not_a_server_error, response_schema_conformance, ignored_auth]
        self.ignored_auth = ignored_auth
        self.auth_confirmed: set[str] = set()

    def run_case(self, case: Any, source: str, real: bool = False, send: Any = None,
                 describe: str | None = None) -> None:
        """Send `case` (or call `send()` for a request schemathesis cannot shape) and run the checks."""
        from schemathesis.core.failures import Failure, FailureGroup
        from schemathesis.openapi.checks import IgnoredAuth

        label = case.operation.label
        self.report.cases[label] = self.report.cases.get(label, 0) + 1
        if real:
            self.report.real_id_cases += 1
        try:
            if send is not None:
                response = send()
            else:
                response = case.call(base_url=self.base_url, session=self.session, headers=self.auth, timeout=60)
        except Exception as exc:  # connection reset, timeout: the server died or hung on this request
            self._record(case, source, "transport_error", None, f"{type(exc).__name__}: {exc}", "(no response)",
                         describe)
            return
        counts = self.report.statuses.setdefault(label, {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        checks = [c for c in self.checks if c is not self.ignored_auth or label not in self.auth_confirmed]
        failures: list[Any] = []
        try:
            case.validate_response(response, checks=checks, headers=self.auth,
                                   transport_kwargs={"base_url": self.base_url, "headers": self.auth})
        except FailureGroup as group:
            failures = list(group.exceptions)
        except Failure as failure:
            failures = [failure]
        for failure in failures:
            self._record_failure(case, source, failure, response, describe)
        if 200 <= response.status_code < 300 and not any(isinstance(f, IgnoredAuth) for f in failures):
            self.auth_confirmed.add(label)  # ignored_auth ran on a success and the probes were refused

    def _record_failure(self, case: Any, source: str, failure: Any, response: Any, describe: str | None) -> None:
        checks = getattr(failure, "checks", ()) or ()
        check = checks[0] if checks else type(failure).__name__
        detail = str(getattr(failure, "message", "") or "").split("\n\nSchema:")[0]  # the body is shown anyway
        message = f"{failure.title}: {detail}" if detail else failure.title
        self._record(case, source, check, response.status_code, message, self._describe(response), describe)

    def _record(self, case: Any, source: str, check: str, status: int | None, message: str,
                response_text: str, describe: str | None = None) -> None:
        try:
            curl = describe or case.as_curl_command(headers=self.auth, base_url=self.base_url)
        except Exception:
            curl = f"{case.method} {case.formatted_path} query={case.query!r}"
        self.report.add_failure(FailureRecord(case.operation.label, check, status, source, _short(message, 1500),
                                              _short(curl), response_text))

    @staticmethod
    def _describe(response: Any) -> str:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) and ctype else ctype
        try:
            text = response.content.decode("utf-8")
        except UnicodeDecodeError:
            text = f"<{len(response.content)} bytes of binary>"
        return f"HTTP {response.status_code} content-type={ctype} body={_short(text)}"

    # -- targeted cases with real data --

    def targeted(self, op: Any) -> None:
        label = op.label
        ids = self.fx.archive_ids
        path_params = [p.name for p in op.path_parameters]
        bogus = "0" * 40

        def case(**kw: Any) -> None:
            params = dict(kw.get("path_parameters") or {})
            # operations of the other tags name more path parameters: give each a plausible value
            defaults = {"archive": ids[0] if ids else bogus, "index": 1, "page": 1, "jobid": 1,
                        "type": "metadata", "jobname": "thumbnail_task", "id": ids[0] if ids else bogus}
            for name in path_params:
                params.setdefault(name, defaults.get(name, "x"))
            kw["path_parameters"] = params
            real = any(v in ids or v in self.fx.job_ids for v in params.values())
            self.run_case(op.Case(**kw), "targeted", real)

        if label == "PUT /archives/upload":
            # Schemathesis names a binary part after its field ("file"), so real uploads, which need a real
            # file name, are sent with requests and their responses validated against the same operation.
            uploads = [("Epsilon Upload.cbz", self.fx.upload_file, {"title": "Epsilon", "tags": "artist:x, y"}),
                       ("Epsilon Upload.cbz", self.fx.upload_file, {}),  # same bytes again: a duplicate
                       ("notes.txt", b"not an archive", {}),
                       ("Eta.cbz", self.fx.upload_file[: len(self.fx.upload_file) // 2], {})]  # truncated
            for name, data, extra in uploads:
                self.run_case(op.Case(body={"file": data, **extra}, media_type="multipart/form-data"), "targeted",
                              send=lambda name=name, data=data, extra=extra: self.session.put(
                                  self.base_url + "/archives/upload", headers=self.auth, data=extra,
                                  files={"file": (name, data)}, timeout=60),
                              describe=f"PUT /api/archives/upload multipart file={name!r} fields={extra!r}")
            # A form field whose name holds control characters (first seen from negative generation).
            self.run_case(op.Case(body={"file": self.fx.upload_file, "\x16z\x00": "x"},
                                  media_type="multipart/form-data"), "targeted")
            return
        if label == "POST /minion/{jobname}/queue":
            arcid = ids[0]
            for jobname, args in [("thumbnail_task", ["", arcid, 1]), ("page_thumbnails", [arcid, 0]),
                                  ("regen_all_thumbnails", ["", 0]), ("find_duplicates", []),
                                  ("thumbnail_task", "not json"), ("thumbnail_task", {"a": 1})]:
                raw = args if isinstance(args, str) else json.dumps(args)
                case(path_parameters={"jobname": jobname}, query={"args": raw, "priority": 1})
            case(path_parameters={"jobname": "find_duplicates"}, query={"args": "[]", "priority": HUGER})
            return
        if "jobid" in path_params:
            for jobid in [*self.fx.job_ids[:5], self.fx.job_ids[-1], 999999, HUGER]:
                case(path_parameters={"jobid": jobid})
            return
        if "id" not in path_params:
            queries: list[dict[str, Any]] = [{}]
            if label == "POST /regen_thumbs":
                queries = [{}, {"force": True}, {"force": False}]
            elif label == "POST /download_url":
                queries = [{"url": "http://127.0.0.1:9/nothing.zip"}]
            for q in queries:
                case(query=q)
            return
        if label in LAST:
            for arcid in (ids[-1], ids[-1], bogus):
                case(path_parameters={"id": arcid})
            return
        for arcid in [*ids, bogus]:
            pages = self.fx.pages.get(arcid) or ["001.jpg"]
            for query in self._queries_for(label, pages):
                if label == "PUT /archives/{id}/progress/{page}":
                    page = query.pop("_page")
                    case(path_parameters={"id": arcid, "page": page}, query=query or None)
                else:
                    case(path_parameters={"id": arcid}, query=query or None)

    @staticmethod
    def _queries_for(label: str, pages: list[str]) -> list[dict[str, Any]]:
        if label == "GET /archives/{id}/thumbnail":
            return [{}, {"no_fallback": "true"}, {"page": 1}, {"page": 2, "no_fallback": "true"}, {"page": 999},
                    {"page": HUGE, "no_fallback": "true"}]
        if label == "PUT /archives/{id}/thumbnail":
            return [{}, {"page": 2}, {"page": 999}, {"page": 0}, {"page": HUGE}]
        if label == "GET /archives/{id}/page":
            return [{"path": pages[0]}, {"path": pages[-1]}, {"path": "missing.jpg"}, {"path": "../../etc/passwd"}]
        if label == "PUT /archives/{id}/metadata":
            return [{"title": "New «title» & 'quotes'", "tags": "artist:someone, female:glasses",
                     "summary": "Sum"}, {}]
        if label == "PUT /archives/{id}/toc":
            return [{"page": 1, "title": "Chapter 1"}, {"page": 2, "title": "Chapter 2"}, {"page": 999, "title": "x"},
                    {"page": HUGER, "title": "huge"}]
        if label == "DELETE /archives/{id}/toc":
            return [{"page": 2}, {"page": 77}, {"page": HUGER}]
        if label == "PUT /archives/{id}/progress/{page}":
            return [{"_page": 1}, {"_page": 2}, {"_page": 0}, {"_page": 999}, {"_page": -1}, {"_page": HUGER}]
        if label in ("GET /archives/{id}/files", "POST /archives/{id}/files/thumbnails"):
            return [{}, {"force": False}, {"force": True}]
        return [{}]

    # -- generated cases --

    def generated(self, op: Any, mode: Any, max_examples: int) -> None:
        from hypothesis import HealthCheck, given, seed, settings
        from hypothesis import strategies as st
        from hypothesis.errors import Unsatisfiable

        source = "positive" if mode.name == "POSITIVE" else "negative"
        path_params = [p.name for p in op.path_parameters]
        ids, jobs = self.fx.archive_ids, self.fx.job_ids
        try:
            strategy = op.as_strategy(generation_mode=mode)
        except Exception as exc:
            self.report.notes.append(f"{op.label} {source}: no strategy ({type(exc).__name__}: {exc})")
            return

        @seed(self.report.seed)
        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=strategy, pick=st.integers(0, 2 * max(len(ids), len(jobs)) - 1), page=st.integers(0, 5))
        def run(case: Any, pick: int, page: int) -> None:
            real = False
            if "id" in path_params and pick < len(ids) and ids:
                case.path_parameters = {**(case.path_parameters or {}), "id": ids[pick]}
                real = True
                if "page" in path_params and mode.name == "POSITIVE":
                    case.path_parameters["page"] = page
                if op.label == "GET /archives/{id}/page" and mode.name == "POSITIVE" and page % 2 == 0:
                    names = self.fx.pages.get(ids[pick]) or []
                    if names:
                        case.query = {**(case.query or {}), "path": names[page % len(names)]}
            elif "jobid" in path_params and pick < len(jobs):
                case.path_parameters = {**(case.path_parameters or {}), "jobid": jobs[pick]}
                real = True
            self.run_case(case, source, real)

        try:
            run()
        except Unsatisfiable:
            self.report.notes.append(f"{op.label}: no {source} cases can be generated")
        except Exception as exc:
            # Errors raised while generating (not server failures): keep them visible but do not count them.
            self.report.notes.append(f"{op.label} {source}: generation stopped: {type(exc).__name__}: "
                                     f"{_short(str(exc), 300)}")


def load_schema(spec: Path, base_url: str, tags: list[str] | None = None) -> Any:
    import schemathesis

    schema = schemathesis.openapi.from_path(str(spec))
    schema.config.update(base_url=base_url)  # never the spec's public `servers` URL
    return schema.include(tag=tags or TAGS)


def run(max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int | None = None, spec: Path = SPEC_PATH,
        negative: bool = True, log: bool = True, tags: list[str] | None = None) -> Report:
    from conftest import LiveServer
    from schemathesis import GenerationMode

    seed = random.randrange(2**32) if seed is None else seed
    report = Report(seed=seed, max_examples=max_examples)
    if not spec.is_file():
        report.skipped = (f"OpenAPI spec not found at {spec}; pass --spec"
                          f"")
        return report
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lrr-schemathesis-") as tmp, loopback_only(), working_dir(Path(tmp)):
        root = Path(tmp)
        server = LiveServer(root / "srv")
        build_library(server.content)
        server.start()
        try:
            fixtures = collect_fixtures(server, root)
            if len(fixtures.archive_ids) < 4:
                report.notes.append(f"only {len(fixtures.archive_ids)} archives were scanned (expected 4)")
            schema = load_schema(spec, server.url + "/api", tags)
            ops = []
            for result in schema.get_all_operations():
                try:
                    ops.append(result.ok())
                except Exception as exc:
                    report.notes.append(f"operation not loadable: {exc}")
            ops.sort(key=lambda o: o.label in LAST)
            runner = Runner(schema, server, fixtures, report)
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negative else [])
            for op in ops:
                report.operations.append(op.label)
                if log:
                    print(f"... {op.label}", file=sys.stderr, flush=True)
                try:
                    runner.targeted(op)
                except Exception:
                    report.notes.append(f"{op.label}: targeted cases crashed:\n{traceback.format_exc()}")
                for mode in modes:
                    runner.generated(op, mode, max_examples)
        finally:
            server.stop()
    report.notes.append(f"run took {time.monotonic() - started:.1f}s")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                        help=f"generated cases per operation and mode (default {DEFAULT_MAX_EXAMPLES})")
    parser.add_argument("--quick", action="store_true", help=f"CI size: --max-examples {QUICK_MAX_EXAMPLES}")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random, printed)")
    parser.add_argument("--no-negative", action="store_true", help="skip schema-violating (negative) cases")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help=f"OpenAPI file (default {SPEC_PATH})")
    parser.add_argument("--tags", default=",".join(TAGS),
                        help=f"comma-separated spec tags, or 'all' ({','.join(ALL_TAGS)})")
    args = parser.parse_args(argv)
    max_examples = QUICK_MAX_EXAMPLES if args.quick else args.max_examples
    tags = ALL_TAGS if args.tags == "all" else [t.strip() for t in args.tags.split(",") if t.strip()]
    report = run(max_examples, args.seed, args.spec, negative=not args.no_negative, tags=tags)
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
