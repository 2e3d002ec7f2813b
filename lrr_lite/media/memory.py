"""Keeping the process small on a 1 GB Pi: glibc malloc tuning, and a byte budget for page buffers.

glibc gives each thread its own malloc arena and keeps freed memory for reuse; after a burst (a full
library listing, tag statistics) a threaded server's RSS stays high although the memory is free.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lrr_lite.errors import Busy

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
M_TRIM_THRESHOLD = -1
# Buffers from this size up get their own mapping, unmapped when freed. Setting it also stops glibc from
# raising the threshold after each large free (up to 32 MB), which is what kept a served 8 MB stats
# document or a 46 MB archive list resident after the response had gone. Not lower: a fresh mapping is
# page-faulted in on every use, and a 1400x2000 page decoded into one (8.4 MB) made a cover thumbnail
# 14 -> 18 ms at 256 KB; at 16 MB decode buffers stay on the reused heap.
MMAP_THRESHOLD = 16 * 1024 * 1024
# Free memory at the top of a heap is given back to the system by free() only past this much. Setting the
# mmap threshold fixes this one at glibc's 128 KB default, so every thumbnail gave back the pages of its
# pixel buffers and faulted them in again for the next: 488 page faults and 0.8-0.9 ms of system time a
# cover of a 200x300 page (3.4 -> 2.4 ms a cover, 11.9 -> 7.9 ms from a 1400x2000 page at 8 MB). What stays
# held between two requests is given back by the IdleTrimmer's malloc_trim once the server goes quiet.
TRIM_THRESHOLD = 8 * 1024 * 1024


def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _libc()


def limit_arenas(arenas: int = 2) -> None:
    """Call before starting threads: fewer arenas, less memory held per thread, and large buffers given
    back to the system as soon as they are freed (glibc only)."""
    if _LIBC is None:
        return
    if _LIBC.mallopt(M_ARENA_MAX, arenas) != 1:
        log.debug("mallopt(M_ARENA_MAX) refused")
    if _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    if _LIBC.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:
        log.debug("mallopt(M_TRIM_THRESHOLD) refused")


def trim() -> None:
    """Give freed heap memory back to the system after a large response (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class IdleTrimmer:
    """Gives memory back once the server has gone quiet after work: a background thread looks every `every`
    seconds at the process's CPU time; when work happened since the last trim (more than `busy` s of CPU) and
    the last interval was quiet (under `quiet` s), it runs `release` (e.g. dropping SQLite's page caches) then
    malloc_trim. A busy server is never trimmed mid-burst, an idle one only once per quiet spell."""

    # Every 2 s (was 5 s): memory goes back 2-4 s after a burst ends. With 5 s it went back 5-10 s after, and
    # the bench's "idle PSS after use", read 10 s after its writes, caught the server before or after the trim
    # by chance (runs of ~57 and ~79 MB at 100k). `quiet` is CPU seconds within one look's interval.
    def __init__(self, release: Callable[[], None] | None = None, every: float = 2.0, busy: float = 0.05,
                 quiet: float = 0.01) -> None:
        self.release = release
        self.every, self.busy, self.quiet = every, busy, quiet
        self.trims = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _cpu() -> float:
        t = os.times()
        return t.user + t.system

    def check(self, since_trim: float, last_interval: float) -> bool:
        """One look: trim when there was work since the last trim and the last interval was quiet."""
        if since_trim <= self.busy or last_interval >= self.quiet:
            return False
        if self.release is not None:
            try:
                self.release()
            except Exception as exc:  # a failed release must not end the thread: trim anyway
                log.warning("memory: release before trim failed: %s", exc)
        gc.collect()  # cycles left by the burst: a pymalloc arena is given back only once wholly empty
        trim()
        self.trims += 1
        return True

    def _run(self) -> None:
        last = at_trim = self._cpu()
        while not self._stop.wait(self.every):
            now = self._cpu()
            if self.check(now - at_trim, now - last):
                now = at_trim = self._cpu()  # the trim's own CPU is not new work
            last = now

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memory-trim", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def malloc_stats() -> dict[str, float]:
    """glibc's totals over all arenas, in MB: what malloc holds from the system, what of it is in use, free."""
    if _LIBC is None or not hasattr(_LIBC, "mallinfo2"):
        return {}
    _LIBC.mallinfo2.restype = _Mallinfo2
    info = _LIBC.mallinfo2()
    mb = 1024 * 1024
    return {"heap_held_mb": round(info.arena / mb, 2), "heap_in_use_mb": round(info.uordblks / mb, 2),
            "heap_free_mb": round(info.fordblks / mb, 2), "mmapped_blocks_mb": round(info.hblkhd / mb, 2),
            "mmapped_blocks": info.hblks}


def _pymalloc_stats() -> dict[str, Any]:
    """pymalloc's arenas (sys._debugmallocstats writes them to the C stderr: read back through a file)."""
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    found: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        value = value.strip().replace(",", "")
        if key.startswith("# arenas allocated current"):
            found["arenas"] = int(value)
        elif key.startswith("# bytes in allocated blocks"):
            found["in_blocks_mb"] = round(int(value) / 2**20, 2)
        elif key.startswith("Total") and "arenas_mb" not in found:  # the first Total: the arenas' bytes
            found["arenas_mb"] = round(int(value) / 2**20, 2)
    return found


def report(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the process's memory is, from inside: Python objects by type, pymalloc, glibc malloc, threads
    (and `extra`, e.g. SQLite's counters); with PYTHONTRACEMALLOC set, the lines that allocated most."""
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        name = type(obj).__name__
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj, 0)
    out: dict[str, Any] = {
        "gc_objects": sum(counts.values()),
        "gc_top_types_mb": {name: [counts[name], round(size / 2**20, 2)] for name, size in sizes.most_common(15)},
        "pymalloc": _pymalloc_stats(),
        "malloc": malloc_stats(),
        "threads": sorted(t.name for t in threading.enumerate()),
        "modules": len(sys.modules),
    }
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        out["tracemalloc_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
        out["tracemalloc_top"] = [f"{s.size / 2**20:.2f} MB {s.count} {s.traceback[0]}"
                                  for s in snap.statistics("lineno")[:25]]
    out.update(extra or {})
    return out


# -- the page budget ------------------------------------------------------------------------------------------

# What in-flight page reads and image decodes may hold at once, for the whole process. With MemoryMax=450M
# and ~50 MB for the idle server, this leaves room for SQLite, waitress's buffers and the responses being sent
# while one maximum page (formats.MAX_PAGE_BYTES, 64 MB) is read, or one ~30 MP RGB PNG page (4 bytes a pixel
# in Pillow) is decoded; eight hostile requests then wait their turn here instead of each taking a gigabyte.
DEFAULT_BUDGET_BYTES = 128 * 1024 * 1024
# A request that cannot get its share within this time is refused ("busy") rather than queued forever.
DEFAULT_BUDGET_WAIT = 20.0


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class MemoryBudget:
    """A byte counter that reads and decodes reserve before they buffer, and release when done.

    Each user reserves its upper bound once (a zip member's declared size, a cache file's size, a decode's
    pixel buffers), never growing while holding: two holders that each wait for the other's bytes would
    otherwise deadlock. Waiters are served first come, first served, so a large page is not starved by a
    stream of small ones.
    """

    def __init__(self, total: int, wait: float = DEFAULT_BUDGET_WAIT) -> None:
        if total < 1:
            raise ValueError("memory budget must be positive")
        self.total = int(total)
        self.wait = float(wait)
        self.in_use = 0
        self.peak = 0  # high-water mark of in_use; observable by tests and stats
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()

    @contextmanager
    def reserve(self, n: int, what: str, error: type[Exception]) -> Iterator[None]:
        """Hold n bytes of the budget for the `with` block; `error(reason)` if they can never fit, `Busy` if they
        do not fit in time."""
        n = max(0, int(n))
        if n > self.total:
            raise error(f"{what} needs {_mb(n)}, more than the {_mb(self.total)} memory budget for pages")
        deadline = time.monotonic() + self.wait
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.in_use + n > self.total:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        # not `error`: the request is fine and may succeed in a moment (a 503, not a 400)
                        raise Busy(f"server busy: {what} waited {self.wait:.0f} s for {_mb(n)} of memory")
                    self._cond.wait(left)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line may fit now, or may now be first
            self.in_use += n
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= n
                self._cond.notify_all()


_budget = MemoryBudget(DEFAULT_BUDGET_BYTES)


def budget() -> MemoryBudget:
    """The process-wide page budget."""
    return _budget


def set_budget(total_bytes: int, wait: float = DEFAULT_BUDGET_WAIT) -> MemoryBudget:
    """Replace the process-wide budget (startup, tests); holders of the old one release to it."""
    global _budget
    _budget = MemoryBudget(total_bytes, wait)
    return _budget
