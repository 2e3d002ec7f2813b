"""Per-resource write locks: a second concurrent writer of the same resource is refused with 423.

LANraragi refuses rather than queues (SEMANTICS §0); locks expire after 10 s so a stuck writer
can never lock a resource forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ApiError

TTL = 10.0
_held: dict[str, float] = {}
_guard = threading.Lock()


@contextmanager
def resource_lock(key: str, operation: str) -> Iterator[None]:
    now = time.monotonic()
    with _guard:
        expiry = _held.get(key)
        if expiry is not None and expiry > now:
            raise ApiError(operation, f"Locked resource: {key.split(':', 1)[-1]}.", 423, envelope=False)
        _held[key] = now + TTL
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
