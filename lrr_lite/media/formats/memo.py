"""Results remembered per version of a file: what a reader learned from a file (its page list, which backend
reads it, `lsar`'s listing) is kept for the next callers, keyed by the file's path, inode, size and mtime, so a
changed file is read again. Each memo is a small LRU owned by its caller."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lrr_lite.errors import ArchiveError

_T = TypeVar("_T")
_lock = threading.Lock()


def _key(kind: str, path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc
    return (kind, str(path), st.st_ino, st.st_size, st.st_mtime_ns)


def by_version(memo: OrderedDict[tuple, _T], bound: int, kind: str, path: Path, compute: Callable[[], _T]) -> _T:
    """compute(), remembered in `memo` (at most `bound` entries, least recently used dropped) for this version
    of the file at `path`. A result is kept only if the file did not change while compute() read it: it is
    then that version's. ArchiveError if the file cannot be stat'ed."""
    key = _key(kind, path)
    with _lock:
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
    result = compute()
    try:
        unchanged = _key(kind, path) == key
    except ArchiveError:
        unchanged = False
    if unchanged:
        with _lock:
            memo[key] = result
            while len(memo) > bound:
                memo.popitem(last=False)
    return result
