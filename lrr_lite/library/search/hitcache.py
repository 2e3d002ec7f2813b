"""Hit sets of recent filters kept in memory and brought up to date by the search log (schema 18).

Counting a filter whose hits are a large part of a big library is one pass over every archive (`*ko` at 1M
archives: each archive's text; `language:english, female:, -x`: three posting lists of ~1M entries), and a
client paging through the results asks for that count with every page; a metadata write used to make the next
search start over. Lucene's query cache keeps a filter's matches per index segment for the same reason. Here a
filter's visible hits are kept as a sorted array of archive keys (4 bytes a hit) with the search_log position
they were computed at; a later search reads which archives changed since (a few rows), tests only those
against the filter (the caller's per-row probe), and patches the array: the count then costs what the
changes cost, not what the library does.

A filter's meaning must not change between two uses of its entry: the key is the terms together with, for
each exact term, whether its exact tag exists (§5.2: an exact term falls back to a glob when it does not).
Terms on page counts, reading progress or IDs are not kept: their columns are not in the log.

A set paged deep in title order (`female:` from hit 50,000 on at 1M: a walk of 51,000 titles) also keeps
its hits in that order once asked for (`by_title`, 4 more bytes a hit): all of them (sorted once, for a set
whose hits bunch or are few), or the prefix a walk passed (`title_end`: the walk is then never repeated,
only extended), patched the same way: a changed archive leaves its old place and, still a hit (and within
the prefix), goes in at its title's (a binary search reading ~20 keys).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from lrr_lite.storage.db import Database

ENABLED = True  # off: every search computes its hits (the plan tests compare plans, not kept answers)
# Entries kept per database, and their bytes (4 per hit: a 1M-archive library's `*ko`, 588k hits, is 2.4 MB).
MAX_ENTRIES = 32
MAX_BYTES = 16 << 20
# Searches remembered as having hits bunched along the titles (a few dozen bytes each).
MAX_BUNCHED = 256
# Past this many changed archives, testing them one by one costs about what computing the set again does.
MAX_CHANGED = 2_000
# Past this many, the title order is dropped (built again when asked for) rather than patched: each change
# is a scan of the order for its old place.
MAX_TITLE_CHANGED = 64


@dataclass(frozen=True)
class Hits:
    seq: int  # the search_log position the set is current at
    nums: array  # sorted keys (`num`) of the visible archives the filter hits
    cost: float = 0.0  # seconds its computation took (whether reading it back instead pays)
    collected: bool = False  # computed by collecting (else by counting): how the planner saw the filter
    by_title: array | None = None  # the same keys in title order (sort_key, num), once a search asked
    title_end: tuple[Any, int] | None = None  # by_title holds only the hits up to this (sort_key, num): a prefix


class HitCache:
    """Filter key -> Hits, least recently used first; one per Database, shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Any, Hits] = OrderedDict()
        self._bytes = 0
        # searches whose title walk gave up on hits bunched along the titles (a hint, kept apart from the
        # entries: a one-tag filter has none): they sort their hits from then on
        self._bunched: OrderedDict[Any, None] = OrderedDict()

    def note_bunched(self, search: Any) -> None:
        with self._lock:
            self._bunched[search] = None
            self._bunched.move_to_end(search)
            while len(self._bunched) > MAX_BUNCHED:
                self._bunched.popitem(last=False)

    def bunched(self, search: Any) -> bool:
        return search in self._bunched

    def get(self, db: Database, key: Any, test: Callable[[list[int]], Iterable[int]]) -> Hits | None:
        """The hit set stored under `key`, patched to the database's present state: the archives changed
        since it was stored are given to `test`, which returns those of them the filter hits now. None when
        nothing is stored, or too much changed since."""
        seq = log_position(db)  # before anything is read: a later change is then tested next time
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return None
        if entry.seq == seq:
            return entry
        changed = _changed_since(db, entry.seq, seq)
        if changed is None:
            self.drop(key)
            return None
        hits = set(test(changed)) if changed else set()
        nums = array("I", entry.nums)
        was: set[int] = set()
        for num in changed:  # changes are few: each is a binary search and at most one move of the tail
            i = bisect_left(nums, num)
            present = i < len(nums) and nums[i] == num
            if present:
                was.add(num)
            if present and num not in hits:
                del nums[i]
            elif not present and num in hits:
                nums.insert(i, num)
        by_title = None
        if entry.by_title is not None and len(changed) <= MAX_TITLE_CHANGED:
            by_title = _patch_title_order(db, entry.by_title, was, [n for n in changed if n in hits],
                                          entry.title_end)
        patched = Hits(seq, nums, entry.cost, entry.collected, by_title,
                       entry.title_end if by_title is not None else None)
        self.put(key, patched)
        return patched

    def keep_title_order(self, key: Any, hits: Hits, by_title: array, title_end: tuple[Any, int] | None = None) -> None:
        """Add the title order (all of it, or its prefix up to `title_end`) to a stored set (the one `get`
        returned)."""
        self.put(key, dataclasses.replace(hits, by_title=by_title, title_end=title_end))

    def put(self, key: Any, hits: Hits) -> None:
        if self._bytes_of(hits) > MAX_BYTES // 2:
            return  # one set may not push out all others
        with self._lock:
            old = self._entries.get(key)
            if old is not None:
                if old.seq > hits.seq:
                    return  # another thread stored a newer one meanwhile
                del self._entries[key]
                self._bytes -= self._bytes_of(old)
            self._entries[key] = hits
            self._bytes += self._bytes_of(hits)
            while len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= self._bytes_of(dropped)

    def drop(self, key: Any) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= self._bytes_of(old)

    def drop_outdated(self, db: Database) -> int:
        """Drop the sets `get` could no longer patch (too many archives changed since, or the log no longer
        reaches back): kept, they would only hold memory until asked for and then be dropped. Returns how
        many went. The idle trimmer calls this: after a burst of writes (a batch edit, a client re-tagging),
        up to MAX_BYTES of stale sets stayed in an idle server."""
        now = log_position(db)
        with self._lock:
            entries = list(self._entries.items())
        outdated = [key for key, hits in entries if hits.seq != now and _changed_since(db, hits.seq, now) is None]
        for key in outdated:
            self.drop(key)
        return len(outdated)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bunched.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> set[Any]:
        with self._lock:
            return set(self._entries)

    @staticmethod
    def _bytes_of(hits: Hits) -> int:
        return hits.nums.itemsize * (len(hits.nums) + (len(hits.by_title) if hits.by_title is not None else 0))


_caches: weakref.WeakKeyDictionary[Database, HitCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(db: Database) -> HitCache:
    with _caches_lock:
        found = _caches.get(db)
        if found is None:
            found = _caches[db] = HitCache()
        return found


def log_position(db: Database) -> int:
    """The newest search_log position (0 when nothing was ever logged)."""
    return int(db.row("SELECT COALESCE(MAX(seq), 0) FROM search_log")[0])


def _changed_since(db: Database, seq: int, now: int) -> list[int] | None:
    """The archives changed after log position `seq` up to `now`, or None when the log no longer reaches
    back that far (trimmed, or a restored database started it again), or they are too many to test."""
    if now < seq:
        return None
    oldest = db.row("SELECT MIN(seq) FROM search_log")[0]
    if oldest is None or oldest > seq + 1:
        return None
    nums = sorted({row[0] for row in db.query("SELECT num FROM search_log WHERE seq > ? AND seq <= ?", (seq, now))})
    return None if len(nums) > MAX_CHANGED else nums


def _patch_title_order(db: Database, order: array, was: set[int], now: list[int],
                       end: tuple[Any, int] | None) -> array | None:
    """The title order with the changed archives that were hits taken out and those that are hits now put
    back at their (possibly new) titles' places; the order is (sort_key, num), as archives_sort's. A prefix
    (`end` given) holds only the hits up to `end`. None if the order does not hold what the set held (then it
    is built again when asked for)."""
    order = array("I", order)
    for num in was:
        try:
            del order[order.index(num)]  # a C scan of the array: the changes are few (MAX_TITLE_CHANGED)
        except ValueError:
            if end is None:
                return None
            # (a hit past the prefix's end)
    if not now:
        return order

    def title_key(num: int) -> tuple[Any, int]:
        row = db.query_one("SELECT sort_key FROM archives WHERE num=?", (num,))
        return (row[0] if row is not None else "", num)

    for num in now:
        key = title_key(num)
        if end is None or key <= end:
            order.insert(bisect_left(order, key, key=title_key), num)
    return order


def nums_of(rows: Iterable[Any]) -> array:
    """The archive keys of one-column rows given in ascending order (the caller's SQL says ORDER BY)."""
    return array("I", map(itemgetter(0), rows))
