"""Bounded on-disk LRU cache of archive members, evicted one whole archive at a time.

Stream formats (rar, 7z, tar...) can only be read front to back, so the first request for a page walks the
archive once and writes every member here; later pages are plain file reads. Files are named by the SHA-1 of
the cache key / member name, never by the member name itself, so a hostile name cannot address the filesystem.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from lrr_lite.errors import ArchiveError
from lrr_lite.media import memory
from lrr_lite.media.formats.limits import MAX_PAGE_BYTES

# Checked against bytes written, not the declared size: a member's header may lie.
MAX_MEMBER_BYTES = MAX_PAGE_BYTES
_HEX40 = re.compile(r"[0-9a-f]{40}")

MemberSink = Callable[[str, int, Iterator[bytes]], None]
Walker = Callable[[MemberSink], None]
_T = TypeVar("_T")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Cancelled(Exception):
    pass


class _Walk:
    """State of one in-progress fill, shared by the walking thread and the requests waiting on it."""

    def __init__(self) -> None:
        self.wanted: Counter[str] = Counter()
        self.requested: set[str] = set()
        self.seen: set[str] = set()
        self.written: set[str] = set()
        self.failed: dict[str, str] = {}
        self.finished = False
        self.cancelled = False
        self.error: str | None = None


class PageCache:
    def __init__(self, root: Path, max_bytes: int, max_walks: int = 2) -> None:
        self.root = Path(root)
        # Each walk decompresses a whole archive; on a 2-core Pi more than two at once only thrash.
        self._walk_slots = threading.BoundedSemaphore(max(1, max_walks))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max(0, int(max_bytes))
        self._cond = threading.Condition()
        self._lru: OrderedDict[str, int] = OrderedDict()  # archive dir -> bytes, least recently used first
        self._total = 0
        self._walks: dict[str, _Walk] = {}
        self._threads: set[threading.Thread] = set()
        self.walks_started = 0  # archive fills begun by this instance; observable by tests and stats
        self._load()

    def _load(self) -> None:
        """Adopt what a previous run left behind; half-written .tmp files are the only thing not trusted."""
        found = []
        for d in self.root.iterdir():
            if not d.is_dir() or not _HEX40.fullmatch(d.name):
                continue
            size = 0
            for f in d.iterdir():
                if f.name.endswith(".tmp"):
                    f.unlink(missing_ok=True)
                elif f.is_file():
                    size += f.stat().st_size
            found.append((d.stat().st_mtime, d.name, size))
        for _mtime, name, size in sorted(found):
            self._lru[name] = size
            self._total += size

    # -- bookkeeping (all under self._cond) --------------------------------------------------------------

    def _account(self, dname: str, delta: int) -> None:
        self._lru[dname] = self._lru.get(dname, 0) + delta
        self._lru.move_to_end(dname)
        self._total += delta

    def _drop(self, dname: str) -> None:
        shutil.rmtree(self.root / dname, ignore_errors=True)
        self._total -= self._lru.pop(dname, 0)

    def _evict(self, need: int, protect: str | None) -> bool:
        """Evict least recently used archives until `need` more bytes fit; False if they still don't."""
        for dname in list(self._lru):
            if self._total + need <= self.max_bytes:
                break
            if dname != protect and dname not in self._walks:
                self._drop(dname)
        return self._total + need <= self.max_bytes

    def _trim(self, dname: str, keep: set[str]) -> None:
        """An archive alone over budget keeps only the pages asked for during its last fill."""
        kept = {_digest(name) for name in keep}
        for f in (self.root / dname).iterdir():
            if f.name not in kept:
                size = f.stat().st_size
                f.unlink()
                self._account(dname, -size)

    # -- public ------------------------------------------------------------------------------------------

    def size(self) -> int:
        with self._cond:
            return self._total

    def clear(self) -> int:
        with self._cond:
            for dname in list(self._lru):
                if dname in self._walks:
                    self._walks[dname].cancelled = True  # its thread drops the directory when it stops
                else:
                    self._drop(dname)
            return self._total

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for background fills to finish (tests, shutdown)."""
        with self._cond:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)

    def open(self, key: str, member: str) -> BinaryIO | None:
        """The cached member as an open file (still readable if evicted meanwhile), or None."""
        dname = _digest(key)
        try:
            fh = open(self.root / dname / _digest(member), "rb")  # noqa: SIM115 (the caller closes it)
        except (FileNotFoundError, NotADirectoryError):
            return None
        with self._cond:
            if dname in self._lru:
                self._lru.move_to_end(dname)
        return fh

    def get(self, key: str, member: str) -> bytes | None:
        """The cached member's bytes, or None. A cache file is at most MAX_MEMBER_BYTES (checked as written);
        its size is held in the process memory budget while it is read."""
        fh = self.open(key, member)
        if fh is None:
            return None
        with fh:
            size = os.fstat(fh.fileno()).st_size
            with memory.budget().reserve(size, "reading a page", ArchiveError):
                return fh.read()

    def put(self, key: str, member: str, data: bytes) -> None:
        dname = _digest(key)
        with self._cond:
            if dname in self._walks or not self._evict(len(data), dname):
                return  # too big to keep, or a fill owns this directory: serving uncached is fine
            d = self.root / dname
            d.mkdir(exist_ok=True)
            target = d / _digest(member)
            tmp = d / f".{target.name}.{threading.get_ident()}.tmp"
            tmp.write_bytes(data)
            old = target.stat().st_size if target.exists() else 0
            os.replace(tmp, target)
            self._account(dname, len(data) - old)

    def fetch(self, key: str, member: str, walker: Walker) -> bytes:
        """Member bytes, filling the cache for the whole archive with one walk if needed.

        walker(sink) must call sink(name, declared_size, blocks) for every member in archive order.
        """
        return self._fetch(key, member, walker, self.get)

    def fetch_open(self, key: str, member: str, walker: Walker) -> BinaryIO:
        """As fetch, but the member as an open file, for streaming it without holding it in memory."""
        return self._fetch(key, member, walker, self.open)

    def _fetch(self, key: str, member: str, walker: Walker, reader: Callable[[str, str], _T | None]) -> _T:
        dname = _digest(key)
        for _attempt in range(3):
            found = reader(key, member)
            if found is not None:
                return found
            with self._cond:
                walk = self._walks.get(dname)
                if walk is None:
                    if (self.root / dname / _digest(member)).exists():
                        # a walk wrote it and ended between the read above and this lock: read it, don't
                        # decompress the whole archive again
                        continue
                    walk = self._start_walk(dname, walker)
                walk.wanted[member] += 1
                walk.requested.add(member)
                try:
                    while not (member in walk.written or member in walk.failed or walk.finished):
                        self._cond.wait()
                finally:
                    walk.wanted[member] -= 1
                if member in walk.failed:
                    raise ArchiveError(walk.failed[member])
                if member in walk.written or walk.cancelled:
                    continue  # read it from disk (or retry after a clear/eviction race)
                if walk.error:
                    raise ArchiveError(walk.error)
                if member not in walk.seen:
                    raise KeyError(member)
                # Seen but skipped for space before anyone asked for it: walk again, now as a wanted member.
        raise ArchiveError("page cache is too small to hold this page")

    # -- the fill ----------------------------------------------------------------------------------------

    def _start_walk(self, dname: str, walker: Walker) -> _Walk:
        walk = _Walk()
        self._walks[dname] = walk
        self.walks_started += 1
        thread = threading.Thread(
            target=self._run_walk, args=(dname, walker, walk), name=f"pagecache-{dname[:8]}", daemon=True
        )
        self._threads.add(thread)
        thread.start()
        return walk

    def _run_walk(self, dname: str, walker: Walker, walk: _Walk) -> None:
        error: str | None = None
        try:
            with self._walk_slots:
                if walk.cancelled:
                    raise _Cancelled
                walker(lambda name, size, blocks: self._store(dname, walk, name, size, blocks))
        except _Cancelled:
            pass
        except ArchiveError as exc:
            error = str(exc) or "unreadable archive"
        except Exception as exc:  # a waiter must always be woken with a reason, whatever went wrong
            error = f"archive read failed: {exc}"
        finally:
            with self._cond:
                walk.finished = True
                walk.error = error
                if self._walks.get(dname) is walk:
                    del self._walks[dname]
                if walk.cancelled:
                    self._drop(dname)
                else:
                    # The archive just filled is the most recently used; dropping it here, because pages
                    # someone waited for pushed it over budget, would take them away before they are read.
                    if not self._evict(0, dname):
                        self._trim(dname, walk.requested)
                self._threads.discard(threading.current_thread())
                self._cond.notify_all()

    def _store(self, dname: str, walk: _Walk, name: str, size: int, blocks: Iterator[bytes]) -> None:
        if not self._write(dname, walk, name, size, blocks):
            # libarchive 3.6's 7-Zip reader loses its place when a member is skipped without reading any
            # of its data: the next member then fails with "Truncated 7-Zip file body". Reading one block
            # first avoids that; a fill decompresses every member anyway, so it costs nothing extra.
            next(iter(blocks), None)

    def _write(self, dname: str, walk: _Walk, name: str, size: int, blocks: Iterator[bytes]) -> bool:
        """Write one member to the cache; False if its data was not read at all."""
        d = self.root / dname
        target = d / _digest(name)
        with self._cond:
            if walk.cancelled:
                raise _Cancelled
            walk.seen.add(name)
            if name in walk.written or target.exists():
                # A duplicate name, or left by an earlier partial fill: already servable.
                walk.written.add(name)
                self._cond.notify_all()
                return False
            if size > MAX_MEMBER_BYTES:  # refused from the header: no need to decompress it to find out
                walk.failed[name] = f"member too large: {size} bytes (a page is at most {MAX_MEMBER_BYTES})"
                self._cond.notify_all()
                return False
            if not self._evict(size, dname) and not walk.wanted[name]:
                return False  # over budget: only pages someone is waiting for are still written
            d.mkdir(exist_ok=True)
            # Counted from the start, so the total covers files being written; corrected to what was written.
            reserved = min(size, MAX_MEMBER_BYTES)
            self._account(dname, reserved)
        tmp = d / f".{target.name}.{threading.get_ident()}.tmp"
        written = 0
        skipped = False
        try:
            with open(tmp, "wb") as fh:
                for block in blocks:
                    written += len(block)
                    if written > MAX_MEMBER_BYTES:
                        break
                    if written > reserved:  # more than declared: each further block must fit as well
                        need = written - reserved
                        with self._cond:
                            if not self._evict(need, dname) and not walk.wanted[name]:
                                skipped = True  # over budget by what it produced: nobody waits for it
                                break
                            self._account(dname, need)
                            reserved += need
                    fh.write(block)
        except BaseException:
            tmp.unlink(missing_ok=True)
            with self._cond:
                self._account(dname, -reserved)
            raise
        with self._cond:
            if written > MAX_MEMBER_BYTES or skipped or walk.cancelled:
                tmp.unlink(missing_ok=True)
                self._account(dname, -reserved)
                if walk.cancelled:
                    self._cond.notify_all()
                    raise _Cancelled
                if not skipped:
                    walk.failed[name] = f"member too large (over {MAX_MEMBER_BYTES} bytes): not a page"
            else:
                os.replace(tmp, target)
                self._account(dname, written - reserved)
                walk.written.add(name)
            self._cond.notify_all()
        return True
