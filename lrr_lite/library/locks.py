"""Per-resource write locks: writers of one resource (an archive, a category, a tankoubon, an upload's file
name) take turns.

Departure from LANraragi (SEMANTICS §0): LANraragi refuses a second concurrent writer at once with 423
"Locked resource". In one process we can do better: a writer waits for its turn, for at most `wait` seconds,
and only when that runs out is the answer `Locked` (423 on the wire). Under 32 concurrent clients writing
to one category no write is refused. A lock is re-entrant for the thread that holds it, so one service
method may call another on the same resource.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lrr_lite.errors import Locked

DEFAULT_WAIT = 5.0  # seconds a writer queues for a resource before it gives up (a few, not LANraragi's 0)


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users = 0  # threads holding or waiting: the entry is dropped when none are left


class Locks:
    def __init__(self, wait: float = DEFAULT_WAIT) -> None:
        self.wait = wait
        self._guard = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @contextmanager
    def hold(self, kind: str, name: str) -> Iterator[None]:
        """Hold the lock of resource `name` of `kind` (e.g. "category-write", "SET_1700000000").

        Raises Locked("Locked resource: <name>.") when it could not be had within `wait` seconds."""
        key = f"{kind}:{name}"
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
        try:
            if not entry.lock.acquire(timeout=self.wait):
                raise Locked(f"Locked resource: {name}.")
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]

    def busy(self) -> int:
        """Resources held or waited for right now (for tests and diagnostics)."""
        with self._guard:
            return len(self._entries)
