"""Archive formats: page listing, page ordering and page reading for every format LANraragi serves.

The real format is detected from content, never trusted from the extension: PDF by its header, the zip
family (zip, cbz, epub) by zipfile's end-of-central-directory check, everything else through libarchive;
a RAR archive libarchive refuses (solid RAR 4, RAR 1.5/2.x, multi-volume sets) through `unar`
(unarreader.py), when The Unarchiver is installed.

Reading is bounded by bytes actually produced (limits.py): a member past MAX_PAGE_BYTES, or a stream archive
expanding past its expansion limit, is refused with ArchiveError, and whole-member reads hold their size in
the process memory budget (memory.budget()). open_member streams a member in chunks instead.
"""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats import folder, pdf, streamreader, unarreader, zipreader
from lrr_lite.media.formats.cache import PageCache
from lrr_lite.media.formats.kinds import HEAD_BYTES, archive_kind, read_kind
from lrr_lite.media.formats.limits import CHUNK_BYTES, MAX_PAGE_BYTES
from lrr_lite.media.formats.member import MemberStream, from_bytes
from lrr_lite.media.formats.memo import by_version
from lrr_lite.media.formats.mime import sniff_image, sniff_mime
from lrr_lite.media.formats.names import (
    ARCHIVE_EXTENSIONS,
    is_archive_name,
    is_page_name,
    json_extension,
    order_pages,
)

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "MAX_PAGE_BYTES",
    "ArchiveError",
    "MemberStream",
    "PageCache",
    "archive_kind",
    "detect_format",
    "is_archive_name",
    "is_page_name",
    "json_extension",
    "list_members",
    "list_pages",
    "open_member",
    "order_pages",
    "read_kind",
    "read_member",
    "sniff_image",
    "sniff_mime",
]

_MEMO_SIZE = 64
_memo: OrderedDict[tuple, list[str]] = OrderedDict()


_backends: OrderedDict[tuple, str] = OrderedDict()
_BACKENDS_SIZE = 4096  # larger than the page-list memo: forgetting a unar file costs an `lsar -t` pass

# libarchive's own refusals, not the archive's: only these send a RAR archive to unar.
_FATAL_HERE = ("password-protected", "decompression bomb", "Couldn't open archive", "empty file")


def _rar_backend(path: Path, head: bytes) -> str:
    """'stream' when libarchive reads this RAR archive, 'unar' when only unar does (and `lsar -t` finds
    every member intact); remembered per file version, so the probe runs once per file and process, not per
    page: a header walk for every RAR, plus one test pass for the few that libarchive refuses."""
    part = unarreader.volume(head)
    if part == "later":
        raise ArchiveError("a later part of a multi-volume RAR set: the set is read through its first part")
    return by_version(_backends, _BACKENDS_SIZE, "backend", path, lambda: _probe_rar(path, part))


def _probe_rar(path: Path, part: str | None) -> str:
    refusal: ArchiveError | None = None
    if part == "first":
        refusal = ArchiveError("a multi-volume RAR set")  # libarchive lists its headers, then fails on data
    else:
        try:
            streamreader.list_members(path)
        except ArchiveError as exc:
            if any(text in str(exc) for text in _FATAL_HERE):
                raise
            refusal = exc
    if refusal is not None:
        if unarreader.tools() is None:
            raise ArchiveError(f"{str(refusal).rstrip('.')}: {unarreader.missing_reason()}") from refusal
        try:
            unarreader.check(path)
        except ArchiveError as exc:
            if "password" in str(exc):
                raise
            raise ArchiveError(f"{str(refusal).rstrip('.')}; unar: {exc}") from exc
        return "unar"
    return "stream"


def detect_format(path: Path) -> str:
    """'pdf', 'zip', 'stream' (libarchive), 'unar' or 'folder' (a folder of images, folder.py); ArchiveError
    if the file can't be opened or is empty."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(1024, HEAD_BYTES))
    except FileNotFoundError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror}") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc
    if not head:
        raise ArchiveError("empty file")
    # PDF readers accept the header anywhere in the first KB; only trust that laxity for a .pdf name.
    if head.startswith(b"%PDF-") or (path.suffix.lower() == ".pdf" and b"%PDF-" in head):
        return "pdf"
    if zipfile.is_zipfile(path):
        return "zip"
    if path.suffix.lower() == ".cbw":
        raise ArchiveError("CBW web comics are not readable as archives")
    if archive_kind(head) == "rar":
        return _rar_backend(path, head)
    return "stream"


def _memoized(kind: str, path: Path, compute: Callable[[], list[str]]) -> list[str]:
    # The web reader asks for the page list on every open; for a 7z that is a full header walk otherwise.
    # Copies in and out: callers may change the list they get.
    def fresh() -> list[str]:
        return list(compute())

    found: list[str] = by_version(_memo, _MEMO_SIZE, kind, path, fresh)
    return list(found)


# what each kind of reader lists: (ordered pages, every member); PDF pages are already in order
_LISTERS: dict[str, tuple[Callable[[Path], list[str]], Callable[[Path], list[str]]]] = {
    "pdf": (pdf.list_pages, pdf.list_pages),
    "zip": (lambda p: order_pages(zipreader.list_pages(p)), zipreader.list_members),
    "stream": (lambda p: order_pages(streamreader.list_pages(p)), streamreader.list_members),
    "unar": (lambda p: order_pages(unarreader.list_pages(p)), unarreader.list_members),
    "folder": (folder.list_pages, folder.list_members),  # already in page order; members add ComicInfo.xml
}


def _walker(fmt: str, path: Path, cache: PageCache) -> Callable[[streamreader.MemberSink], None]:
    """The one sequential pass that fills the page cache for a stream-only archive."""
    if fmt == "unar":
        return lambda sink: unarreader.walk(path, sink, spool_dir=cache.root)
    return lambda sink: streamreader.walk(path, sink)


def list_pages(path: Path) -> list[str]:
    path = Path(path)
    return _memoized("pages", path, lambda: _LISTERS[detect_format(path)][0](path))


def list_members(path: Path) -> list[str]:
    path = Path(path)
    return _memoized("members", path, lambda: _LISTERS[detect_format(path)][1](path))


def _cache_key(key: str, path: Path) -> str:
    # The archive id only hashes the first 512 000 bytes; size and mtime catch a file edited past that.
    st = path.stat()
    return f"{key}\0{st.st_size}\0{st.st_mtime_ns}"


def _pdf_page(path: Path, name: str, cache: PageCache, ckey: str) -> bytes:
    number = pdf.page_number(name)
    if number is None:
        raise KeyError(name)
    data = cache.get(ckey, name)
    if data is None:
        data = pdf.render_page(path, number)
        cache.put(ckey, name, data)
    return data


def read_member(path: Path, name: str, *, cache: PageCache, key: str, known_member: bool = False) -> bytes:
    """Bytes of member `name`. known_member=True: the caller matched `name` against this archive's own
    page list, so the membership check (a whole decompression pass for a .tar.gz) can be skipped.

    KeyError if there is no such member; ArchiveError with a reason if it cannot be read, is larger than
    MAX_PAGE_BYTES, or the memory budget stays taken (server busy)."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "zip":
        return zipreader.read_member(path, name)
    if fmt == "folder":
        return folder.read_page(path, name)
    ckey = _cache_key(key, path)
    if fmt == "pdf":
        return _pdf_page(path, name, cache, ckey)
    # A cache file exists only for a name a walk of this very file wrote, so a hit needs no membership check.
    data = cache.get(ckey, name)
    if data is not None:
        return data
    if not known_member and name not in list_members(path):
        raise KeyError(name)
    return cache.fetch(ckey, name, _walker(fmt, path, cache))


def open_member(
    path: Path, name: str, *, cache: PageCache, key: str, known_member: bool = False
) -> MemberStream:
    """Member `name` as a stream of chunks (at most CHUNK_BYTES each), never held whole in memory.

    Same arguments and errors as read_member; ArchiveError may also come while iterating (a zip member
    that turns out corrupt or larger than it declared). Use it as a context manager. `size` is the exact
    length for cached and PDF pages and the declared length for zip members (checked while streaming).
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "zip":
        return zipreader.open_member(path, name)
    if fmt == "folder":
        chunks, size = folder.open_page(path, name)
        return MemberStream(chunks, size, getattr(chunks, "close", None))
    ckey = _cache_key(key, path)
    if fmt == "pdf":
        return from_bytes(_pdf_page(path, name, cache, ckey), CHUNK_BYTES)
    fh = cache.open(ckey, name)
    if fh is None:
        if not known_member and name not in list_members(path):
            raise KeyError(name)
        fh = cache.fetch_open(ckey, name, _walker(fmt, path, cache))
    return MemberStream(iter(lambda: fh.read(CHUNK_BYTES), b""), os.fstat(fh.fileno()).st_size, fh.close, file=fh)
