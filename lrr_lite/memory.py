"""Keeping the process small on a 1 GB Pi: glibc malloc tuning, where the platform has it.

glibc gives each thread its own malloc arena and keeps freed memory for reuse; after a burst (a full
library listing, tag statistics) a threaded server's RSS stays high although the memory is free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
# Buffers from this size up get their own mapping, unmapped when freed. Setting it also stops glibc from
# raising the threshold after each large free (up to 32 MB), which is what kept a served 8 MB stats
# document or a 46 MB archive list resident after the response had gone. Not lower: a fresh mapping is
# page-faulted in on every use, and a 1400x2000 page decoded into one (8.4 MB) made a cover thumbnail
# 14 -> 18 ms at 256 KB; at 16 MB decode buffers stay on the reused heap.
MMAP_THRESHOLD = 16 * 1024 * 1024


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


def trim() -> None:
    """Give freed heap memory back to the system after a large response (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
