"""Zip family (zip, cbz, epub): random access through the central directory, nothing extracted to disk.

zipfile parses the central directory; member data is decompressed here, chunk by chunk, with a bound on
the output of every decompressor call. zipfile's own read() asks zlib/bz2/lzma for up to 2 GB at once
whatever the header says (a 1 MB member that claims 100 bytes took 2.35 GB to refuse), and its bzip2 and
LZMA paths have no output bound at all.
"""

from __future__ import annotations

import bz2
import itertools
import lzma
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lrr_lite.errors import ArchiveError
from lrr_lite.media import memory
from lrr_lite.media.formats.limits import CHUNK_BYTES, MAX_PAGE_BYTES
from lrr_lite.media.formats.member import MemberStream
from lrr_lite.media.formats.names import has_apple_magic, is_apple_fork_candidate, is_page_name

# Kept for callers that still name it: the per-member cap is limits.MAX_PAGE_BYTES.
MAX_MEMBER_BYTES = MAX_PAGE_BYTES
_ENCRYPTED = 0x1
_PATCHED = 0x20
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # zipfile's structFileHeader
_STORED, _DEFLATED, _BZIP2, _LZMA = 0, 8, 12, 14


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArchiveError(f"corrupt zip archive: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    # Unix zip tools store a symlink as a member whose data is the target path; it is never a page.
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Normalised name -> entry; Windows tools write '\\' separators, clients always see '/'."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        if info.is_dir() or name.endswith("/") or _is_symlink(info):
            continue
        if info.flag_bits & _ENCRYPTED:
            raise ArchiveError("password-protected archive")
        out[name] = info
    return out


def list_members(path: Path) -> list[str]:
    with _open(path) as zf:
        return list(_members(zf))


def _raw(fh: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's compressed bytes, in chunks, from just past its local header."""
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError("corrupt zip member: bad local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[2] & _PATCHED:
        raise ArchiveError("unsupported zip compression: compressed patched data")
    fh.seek(fields[9] + fields[10], 1)  # name and extra field
    left = info.compress_size
    while left > 0:
        data = fh.read(min(CHUNK_BYTES, left))
        if not data:
            raise ArchiveError("corrupt zip member: truncated data")
        left -= len(data)
        yield data


def _inflate(raw: Iterator[bytes], method: int) -> Iterator[bytes]:
    """Decompressed chunks of at most CHUNK_BYTES each, whatever one compressed chunk expands to."""
    if method == _STORED:
        yield from raw
        return
    if method == _DEFLATED:
        z = zlib.decompressobj(-15)
        for data in raw:
            while True:
                out = z.decompress(data, CHUNK_BYTES)
                if out:
                    yield out
                data = z.unconsumed_tail
                if z.eof or (not data and len(out) < CHUNK_BYTES):
                    break  # input used up and nothing held back for lack of room
            if z.eof:
                return
        tail = z.flush()  # at most one pending back-reference: a few hundred bytes
        if tail:
            yield tail
        return
    if method == _BZIP2:
        d: bz2.BZ2Decompressor | lzma.LZMADecompressor = bz2.BZ2Decompressor()
    elif method == _LZMA:
        d, rest = _lzma_decompressor(raw)
        raw = itertools.chain([rest], raw)
    else:
        name = getattr(zipfile, "compressor_names", {}).get(method, f"method {method}")  # not in the stubs
        raise ArchiveError(f"unsupported zip compression: {name}")
    for data in raw:
        out = d.decompress(data, CHUNK_BYTES)
        if out:
            yield out
        while not d.eof and not d.needs_input:  # output held back by the bound: fetch it in chunks
            out = d.decompress(b"", CHUNK_BYTES)
            if out:
                yield out
        if d.eof:
            return


def _lzma_decompressor(raw: Iterator[bytes]) -> tuple[lzma.LZMADecompressor, bytes]:
    """Zip's LZMA (method 14): 2 version bytes, a 2-byte properties length, LZMA1 properties, raw data.
    Returns the decompressor and the data bytes already read past the header."""
    head = b""
    while len(head) < 4 or len(head) < 4 + struct.unpack("<H", head[2:4])[0]:
        data = next(raw, b"")
        if not data:
            raise ArchiveError("corrupt zip member: truncated LZMA header")
        head += data
    (psize,) = struct.unpack("<H", head[2:4])
    try:
        lzma_filter = lzma._decode_filter_properties(lzma.FILTER_LZMA1, head[4 : 4 + psize])  # type: ignore[attr-defined]
    except lzma.LZMAError as exc:
        raise ArchiveError(f"corrupt zip member: {exc}") from exc
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter]), head[4 + psize :]


def _checked(info: zipfile.ZipInfo, chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """Chunks refused as soon as they pass the declared size or the cap; CRC and size checked at the end."""
    declared = info.file_size
    produced = 0
    crc = 0
    try:
        for chunk in chunks:
            produced += len(chunk)
            if produced > declared:
                raise ArchiveError(
                    f"zip member inflates past the {declared} bytes its header declares (a zip bomb?)"
                )
            if produced > max_bytes:
                raise ArchiveError(f"member too large (over {max_bytes} bytes): not a page")
            crc = zlib.crc32(chunk, crc)
            yield chunk
    except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
        raise ArchiveError(f"corrupt zip member: {exc}") from exc
    if produced != declared:
        raise ArchiveError(f"corrupt zip member: {produced} bytes where the header declares {declared}")
    if crc != info.CRC:
        raise ArchiveError("corrupt zip member: CRC mismatch")


def _stream(path: Path, info: zipfile.ZipInfo, max_bytes: int) -> MemberStream:
    if info.file_size > max_bytes:
        raise ArchiveError(f"member too large: {info.file_size} bytes (a page is at most {max_bytes})")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc
    chunks = _checked(info, _inflate(_raw(fh, info), info.compress_type), max_bytes)
    return MemberStream(chunks, info.file_size, fh.close)


def open_member(path: Path, name: str, max_bytes: int = MAX_PAGE_BYTES) -> MemberStream:
    """Member `name` as a bounded stream; KeyError if absent, ArchiveError (now or while iterating) if bad."""
    with _open(path) as zf:
        info = _members(zf).get(name)
    if info is None:
        raise KeyError(name)
    return _stream(path, info, max_bytes)


def list_pages(path: Path) -> list[str]:
    """Unordered page names. Only the central directory is read, plus 4 bytes of each Apple-fork candidate."""
    with _open(path) as zf:
        members = _members(zf)
    pages = []
    for name, info in members.items():
        if not is_page_name(name):
            continue
        if is_apple_fork_candidate(name) and has_apple_magic(_head(path, info)):
            continue
        pages.append(name)
    return pages


def _head(path: Path, info: zipfile.ZipInfo) -> bytes:
    """The first decompressed chunk, or b"" if there is none to read: a broken member stays a page, and
    reading it later gives the reason, rather than making the whole archive unlistable."""
    try:
        with _stream(path, info, MAX_PAGE_BYTES) as stream:
            return next(iter(stream), b"")
    except ArchiveError:
        return b""


def read_member(path: Path, name: str, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
    """The whole member, refused past max_bytes produced; holds its size in the process memory budget.

    The reservation is the declared size: the stream refuses to produce a byte past it, so it is an upper
    bound for what is buffered, known before decompression starts.
    """
    with open_member(path, name, max_bytes) as stream:
        with memory.budget().reserve(stream.size, "reading a page", ArchiveError):
            return stream.read_all(max_bytes)
