"""Everything libarchive reads (rar, 7z, tar and its compressed forms): sequential access only."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from pathlib import Path

import libarchive
import libarchive.exception
import libarchive.ffi

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats.limits import expansion_limit
from lrr_lite.media.formats.names import has_apple_magic, is_apple_fork_candidate, is_page_name

BLOCK_SIZE = 256 * 1024

# libarchive-c does not wrap this one; it reports per-entry encryption before any data is read, which lets a
# listing refuse an encrypted RAR/7z instead of failing later on the first page.
_entry_is_encrypted = libarchive.ffi.libarchive.archive_entry_is_encrypted
_entry_is_encrypted.argtypes = [ctypes.c_void_p]
_entry_is_encrypted.restype = ctypes.c_int

MemberSink = Callable[[str, int, Iterator[bytes]], None]


def _name(entry: libarchive.ArchiveEntry) -> str:
    raw = entry.pathname
    if isinstance(raw, bytes):  # not valid in the locale nor UTF-8: keep it stable and printable
        raw = raw.decode("utf-8", "replace")
    return (raw or "").replace("\\", "/")


def _error(exc: libarchive.exception.ArchiveError) -> ArchiveError:
    msg = exc.msg.decode("utf-8", "replace") if isinstance(exc.msg, bytes) else exc.msg
    # libarchive gives no message for some fatal states, e.g. a zip that ends where its directory should be.
    return ArchiveError(msg or "truncated or corrupt archive")


def _bomb(limit: int) -> ArchiveError:
    return ArchiveError(f"archive expands to more than {limit} bytes: refused as a decompression bomb")


def walk(path: Path, on_member: MemberSink, max_total: int | None = None) -> None:
    """Call on_member(name, declared_size, blocks) for each regular file, in archive order.

    blocks must be consumed (or dropped) before on_member returns: libarchive reads strictly forward.
    The walk raises ArchiveError once the members' sizes add up past max_total (default: the expansion
    limit for this file's size), counting the larger of each member's declared size and the bytes its
    blocks actually produced; a dropped member costs libarchive a pass over its data too, so it counts.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            raise ArchiveError("empty file")
        limit = expansion_limit(size) if max_total is None else max_total
        total = 0
        with libarchive.file_reader(str(path), block_size=BLOCK_SIZE) as arc:
            for entry in arc:
                if not entry.isreg or entry.islnk:
                    continue
                if _entry_is_encrypted(entry._entry_p):
                    raise ArchiveError("password-protected archive")
                declared = max(entry.size or 0, 0)
                total += declared
                if total > limit:
                    raise _bomb(limit)

                def counted(blocks: Iterator[bytes], declared: int = declared) -> Iterator[bytes]:
                    nonlocal total
                    produced = 0
                    for block in blocks:
                        over = max(0, produced - declared)
                        produced += len(block)
                        total += max(0, produced - declared) - over  # bytes past the declared size
                        if total > limit:
                            raise _bomb(limit)
                        yield block

                on_member(_name(entry), declared, counted(entry.get_blocks(BLOCK_SIZE)))
    except libarchive.exception.ArchiveError as exc:
        raise _error(exc) from exc
    except FileNotFoundError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror}") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc}") from exc


def list_members(path: Path) -> list[str]:
    names: list[str] = []
    walk(path, lambda name, _size, _blocks: names.append(name))
    return list(dict.fromkeys(names))


def list_pages(path: Path) -> list[str]:
    pages: list[str] = []

    def on_member(name: str, _size: int, blocks: Iterator[bytes]) -> None:
        if not is_page_name(name):
            return
        if is_apple_fork_candidate(name):
            head = b""
            for block in blocks:  # decompressors may hand back fewer than 4 bytes at a time
                head += block
                if len(head) >= 4:
                    break
            if has_apple_magic(head):
                return
        pages.append(name)

    walk(path, on_member)
    return list(dict.fromkeys(pages))
