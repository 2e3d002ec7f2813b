"""A folder of images read as one archive: its pages, its ID, and its download as a ZIP made on the fly.

Many libraries hold chapters as plain folders of JPEG/PNG/WebP files (downloaders, scanners, webtoon
rippers). A folder is an archive when it holds page images directly and none of its sub-folders holds
any (a folder of chapter folders is a series, not a book). Only regular files count: a symlink inside
the folder is not followed, so a folder can never serve a file from elsewhere.

- Pages: the image names (is_page_name) in LANraragi's order (names.order_pages), read straight from the
  files, each bounded by MAX_PAGE_BYTES; dot-files (`.DS_Store`, AppleDouble `._x.jpg`) are not pages.
- ID: SHA-1 of `b"lrr_lite folder\\0"` followed by the first 512,000 bytes of the pages' bytes
  concatenated in page order: the same bounded read as LANraragi's ID of an archive file (SHA-1 of its
  first 512,000 bytes), derived from the images, not the folder's name, so renaming or moving the folder
  keeps it; the prefix keeps it apart from any file's ID.
- Download: a stored (uncompressed) ZIP of the pages, built on the fly from a layout computed from the
  file sizes alone, so `Content-Length` is known before the first byte and any byte range can be served
  without a temporary file. Member times come from the files' mtimes, the order is the page order:
  the same folder gives the same bytes on every request. Each member's CRC-32 follows its data (a data
  descriptor, flag bit 3), so a whole download streams at once; a range that starts later, and the
  central directory at the end, need the CRCs of earlier files, read once and remembered per file
  version. ZIP64 records are written only when the ZIP passes 4 GiB.
- Members: the pages, plus `ComicInfo.xml` when the folder holds one (read by the ComicInfo plugin as it is
  from an archive); the download holds the pages only.
- Not a book: a hidden folder (`.thumbnails`, Synology's `@eaDir`, QNAP's `.@__thumb`: their images are a
  NAS's thumbnails of other files), and a folder that holds archive files anywhere inside it (a series
  folder with a `cover.jpg` beside its `.cbz` volumes): those files stay archives of their own.
- Its stat (`folder_stat`): size = the pages' sizes added up, mtime = the newest of the pages' mtimes and
  the folder's own (which moves when a page is added, removed or renamed), so "same size and mtime" means
  the same pages, as for an archive file.
- Delete (`delete_pages`): only the page files and `ComicInfo.xml` go, then the folder if it is empty;
  anything else in it stays.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats.limits import CHUNK_BYTES, MAX_PAGE_BYTES
from lrr_lite.media.formats.names import is_archive_name, is_page_name, order_pages

ID_BYTES = 512_000
ID_PREFIX = b"lrr_lite folder\0"
MAX_FOLDER_PAGES = 100_000
ZIP64_LIMIT = 0xFFFFFFFF
EXTRA_MEMBERS = ("ComicInfo.xml",)  # members that are not pages, served by name (metadata plugins)


def _is_page_file(entry: os.DirEntry) -> bool:
    return (
        not entry.name.startswith(".")
        and is_page_name(entry.name)
        and entry.is_file(follow_symlinks=False)
    )


def has_pages(folder: Path) -> bool:
    """True if `folder` directly holds at least one page image."""
    try:
        with os.scandir(folder) as it:
            return any(_is_page_file(e) for e in it)
    except OSError:
        return False


def is_hidden_folder(name: str) -> bool:
    """A folder a NAS or a desktop keeps for itself (`.thumbnails`, `@eaDir`, `.@__thumb`): never a book."""
    return name.startswith((".", "@"))


def is_folder_archive(folder: Path) -> bool:
    """A folder holding page images directly, none of its sub-folders (at any depth) holding any, and no
    archive file anywhere inside it (hidden sub-folders are not looked at: a NAS's thumbnails)."""
    if is_hidden_folder(Path(folder).name) or not has_pages(folder):
        return False
    for dirpath, dirnames, files in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_hidden_folder(d)]
        if any(is_archive_name(f) for f in files):
            return False
        if Path(dirpath) != Path(folder) and has_pages(Path(dirpath)):
            return False
    return True


def list_pages(folder: Path) -> list[str]:
    """The page names, in LANraragi's page order. ArchiveError if the folder can't be read, holds no page
    or more than MAX_FOLDER_PAGES."""
    names: list[str] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if _is_page_file(entry):
                    names.append(entry.name)
                    if len(names) > MAX_FOLDER_PAGES:
                        raise ArchiveError(f"more than {MAX_FOLDER_PAGES} pages in one folder: refused")
    except FileNotFoundError as exc:
        raise ArchiveError(f"Couldn't open folder: {exc.strerror}") from exc
    except NotADirectoryError as exc:
        raise ArchiveError("not a folder") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open folder: {exc.strerror or exc}") from exc
    if not names:
        raise ArchiveError("no page images in this folder")
    return order_pages(names)


def list_members(folder: Path) -> list[str]:
    """The pages in order, then the EXTRA_MEMBERS the folder holds as regular files."""
    pages = list_pages(folder)
    return pages + [name for name in EXTRA_MEMBERS if _is_regular(Path(folder) / name)]


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _page_path(folder: Path, name: str) -> Path:
    # Only a bare name of a page file in this very folder: "../x.jpg", "a/b.jpg" or a symlink never resolve.
    if (not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".")
            or not (is_page_name(name) or name in EXTRA_MEMBERS)):
        raise KeyError(name)
    path = Path(folder) / name
    try:
        st = path.lstat()
    except OSError as exc:
        raise KeyError(name) from exc
    if not stat.S_ISREG(st.st_mode):
        raise KeyError(name)
    return path


def folder_stat(folder: Path, pages: list[str] | None = None) -> os.stat_result:
    """The folder's stat as an archive file's would be (see the module docstring): its own mode, inode and
    device, the pages' total size, the newest mtime. ArchiveError as list_pages."""
    folder = Path(folder)
    try:
        own = folder.stat()
    except OSError as exc:
        raise ArchiveError(f"Couldn't open folder: {exc.strerror or exc}") from exc
    size, newest = 0, own.st_mtime_ns
    for name in list_pages(folder) if pages is None else pages:
        try:
            st = (folder / name).lstat()
        except OSError:
            continue  # removed since it was listed: the next look sees the folder changed again
        size += st.st_size
        newest = max(newest, st.st_mtime_ns)
    return os.stat_result((own.st_mode, own.st_ino, own.st_dev, own.st_nlink, own.st_uid, own.st_gid, size,
                           own.st_atime, newest // 1_000_000_000, own.st_ctime),
                          {"st_mtime": newest / 1e9, "st_mtime_ns": newest})


def delete_pages(folder: Path) -> list[str]:
    """Remove the folder archive's own files (its pages and EXTRA_MEMBERS), then the folder itself if that
    left it empty; returns the names removed. Anything else in it (a note, a sub-folder) stays, and so does
    the folder then. OSError if a file can't be removed."""
    folder = Path(folder)
    try:
        names = list_members(folder)
    except ArchiveError:
        names = [name for name in EXTRA_MEMBERS if _is_regular(folder / name)]
    removed: list[str] = []
    for name in names:
        try:
            _page_path(folder, name).unlink()
        except (KeyError, FileNotFoundError):
            continue
        removed.append(name)
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: what is left is not ours to remove
    return removed


def folder_id(folder: Path, pages: list[str] | None = None) -> str:
    """The folder's 40-hex ID (see the module docstring)."""
    digest = hashlib.sha1(ID_PREFIX)
    left = ID_BYTES
    for name in list_pages(folder) if pages is None else pages:
        if left <= 0:
            break
        try:
            with open(_page_path(folder, name), "rb") as fh:
                while left > 0 and (block := fh.read(min(CHUNK_BYTES, left))):
                    digest.update(block)
                    left -= len(block)
        except (KeyError, OSError) as exc:
            raise ArchiveError(f"page {name} can't be read") from exc
    return digest.hexdigest()


def open_page(folder: Path, name: str) -> tuple[Iterator[bytes], int]:
    """(chunks, size) of one page. KeyError if it is not a page of this folder; ArchiveError if larger than
    MAX_PAGE_BYTES or unreadable. The chunks stop at the size seen when opened (a file still growing is
    cut there, never read past it)."""
    path = _page_path(folder, name)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise ArchiveError(f"page {name} can't be read: {exc.strerror or exc}") from exc
    size = os.fstat(fh.fileno()).st_size
    if size > MAX_PAGE_BYTES:
        fh.close()
        raise ArchiveError(f"page too large: {size} bytes (a page is at most {MAX_PAGE_BYTES})")

    def chunks() -> Iterator[bytes]:
        with fh:
            left = size
            while left > 0:
                block = fh.read(min(CHUNK_BYTES, left))
                if not block:
                    raise ArchiveError(f"page {name} shrank while it was read")
                left -= len(block)
                yield block

    return chunks(), size


def read_page(folder: Path, name: str) -> bytes:
    chunks, _size = open_page(folder, name)
    return b"".join(chunks)


# -- the download: a stored ZIP laid out from the file sizes --------------------------------------------

_LOCAL = struct.Struct("<IHHHHHIIIHH")      # local file header, 30 bytes
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # central directory header, 46 bytes
_EOCD = struct.Struct("<IHHHHIIH")          # end of central directory, 22 bytes
_Z64_EOCD = struct.Struct("<IQHHIIQQQQ")    # zip64 end of central directory record, 56 bytes
_Z64_LOCATOR = struct.Struct("<IIQI")       # zip64 end of central directory locator, 20 bytes
_FLAGS = 0x0008 | 0x0800                    # data descriptor follows the data; names are UTF-8


def _dos_time(mtime: float) -> tuple[int, int]:
    t = time.gmtime(min(max(mtime, 315532800), 4354819198))  # 1980-01-01 .. 2107-12-31, in UTC: stable
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


@dataclass(frozen=True)
class _Member:
    name: bytes
    path: Path
    size: int
    mtime_ns: int
    ino: int
    offset: int  # of its local header


_crc_memo: OrderedDict[tuple, int] = OrderedDict()
_crc_lock = threading.Lock()
_CRC_MEMO_SIZE = 65_536  # ~100 bytes each: 6.5 MB at most


def _crc(member: _Member) -> int:
    key = (str(member.path), member.ino, member.size, member.mtime_ns)
    with _crc_lock:
        if key in _crc_memo:
            _crc_memo.move_to_end(key)
            return _crc_memo[key]
    crc = 0
    for block in _file_blocks(member):
        crc = zlib.crc32(block, crc)
    _remember_crc(member, crc)
    return crc


def _remember_crc(member: _Member, crc: int) -> None:
    with _crc_lock:
        _crc_memo[(str(member.path), member.ino, member.size, member.mtime_ns)] = crc
        while len(_crc_memo) > _CRC_MEMO_SIZE:
            _crc_memo.popitem(last=False)


def _file_blocks(member: _Member, remember_crc: bool = False) -> Iterator[bytes]:
    """The member's bytes, exactly `size` of them, or ArchiveError: a file changed since the layout was made
    would otherwise make the ZIP lie about its own length. remember_crc: a read to the end also leaves the
    file's CRC for the descriptor and the central directory, so a whole download reads each file once."""
    crc = 0
    try:
        with open(member.path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_size != member.size or st.st_mtime_ns != member.mtime_ns:
                raise ArchiveError(f"page {member.name.decode('utf-8', 'replace')} changed during the download")
            left = member.size
            while left > 0:
                block = fh.read(min(CHUNK_BYTES, left))
                if not block:
                    raise ArchiveError(f"page {member.name.decode('utf-8', 'replace')} shrank during the download")
                left -= len(block)
                if remember_crc:
                    crc = zlib.crc32(block, crc)
                yield block
    except OSError as exc:
        raise ArchiveError(f"page {member.name.decode('utf-8', 'replace')} can't be read: {exc.strerror or exc}") from exc
    if remember_crc:
        _remember_crc(member, crc)


class FolderZip:
    """The stored ZIP of a folder's pages: `size` bytes, of which read(start, end) yields [start, end)."""

    def __init__(self, folder: Path, pages: list[str] | None = None, *, zip64: bool | None = None) -> None:
        self.folder = Path(folder)
        names = list_pages(self.folder) if pages is None else pages
        found: list[tuple[bytes, Path, os.stat_result]] = []
        for name in names:
            path = _page_path(self.folder, name)
            found.append((name.encode("utf-8", "surrogateescape"), path, path.stat()))
        plain = sum(_LOCAL.size + 16 + _CENTRAL.size + 2 * len(n) + st.st_size for n, _p, st in found) + _EOCD.size
        # ZIP64 only once an offset or a count passes what the plain records hold; a small ZIP stays plain.
        self.zip64 = (plain > ZIP64_LIMIT or len(found) >= 0xFFFF) if zip64 is None else zip64
        # The data descriptor: signature, CRC and both sizes, 4 or 8 bytes each (APPNOTE 4.3.9).
        self.descriptor_len = 24 if self.zip64 else 16
        members: list[_Member] = []
        offset = 0
        for encoded, path, st in found:
            members.append(_Member(encoded, path, st.st_size, st.st_mtime_ns, st.st_ino, offset))
            offset += _LOCAL.size + len(encoded) + st.st_size + self.descriptor_len
        self.members = members
        self.cd_offset = offset
        self.cd_size = sum(_CENTRAL.size + len(m.name) + (28 if self.zip64 else 0) for m in members)
        tail = _Z64_EOCD.size + _Z64_LOCATOR.size + _EOCD.size if self.zip64 else _EOCD.size
        self.size = self.cd_offset + self.cd_size + tail

    def _local(self, m: _Member) -> bytes:
        tm, dt = _dos_time(m.mtime_ns / 1e9)
        version = 45 if self.zip64 else 20
        # CRC and sizes are 0 here (flag bit 3): the descriptor after the data carries them
        return _LOCAL.pack(0x04034B50, version, _FLAGS, 0, tm, dt, 0, 0, 0, len(m.name), 0) + m.name

    def _descriptor(self, m: _Member) -> bytes:
        crc = _crc(m)
        if self.zip64:
            return struct.pack("<IIQQ", 0x08074B50, crc, m.size, m.size)
        return struct.pack("<IIII", 0x08074B50, crc, m.size, m.size)

    def _central(self, m: _Member) -> bytes:
        tm, dt = _dos_time(m.mtime_ns / 1e9)
        crc = _crc(m)
        attrs = 0o100644 << 16  # a regular file, rw-r--r--, for unzip on Unix
        if self.zip64:
            extra = struct.pack("<HHQQQ", 0x0001, 24, m.size, m.size, m.offset)
            return _CENTRAL.pack(0x02014B50, 45 | 0x0300, 45, _FLAGS, 0, tm, dt, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                 len(m.name), len(extra), 0, 0, 0, attrs, 0xFFFFFFFF) + m.name + extra
        return _CENTRAL.pack(0x02014B50, 20 | 0x0300, 20, _FLAGS, 0, tm, dt, crc, m.size, m.size,
                             len(m.name), 0, 0, 0, 0, attrs, m.offset) + m.name

    def _end(self) -> bytes:
        n = len(self.members)
        if not self.zip64:
            return _EOCD.pack(0x06054B50, 0, 0, n, n, self.cd_size, self.cd_offset, 0)
        z64_at = self.cd_offset + self.cd_size
        return (
            _Z64_EOCD.pack(0x06064B50, 44, 45 | 0x0300, 45, 0, 0, n, n, self.cd_size, self.cd_offset)
            + _Z64_LOCATOR.pack(0x07064B50, 0, z64_at, 1)
            + _EOCD.pack(0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        )

    @staticmethod
    def _once(make: Callable[[_Member], bytes], m: _Member) -> Iterator[bytes]:
        yield make(m)

    def _pieces(self) -> Iterator[tuple[int, int, Callable[[], Iterator[bytes]]]]:
        """(offset, length, producer) of every piece of the ZIP in order; a producer runs only when its
        piece is wanted, so a range reads no file it does not cover (CRCs aside)."""
        for m in self.members:
            header_len = _LOCAL.size + len(m.name)
            yield m.offset, header_len, partial(self._once, self._local, m)
            yield m.offset + header_len, m.size, partial(_file_blocks, m, True)
            yield m.offset + header_len + m.size, self.descriptor_len, partial(self._once, self._descriptor, m)
        yield self.cd_offset, self.cd_size, lambda: (self._central(m) for m in self.members)
        tail = self.size - self.cd_offset - self.cd_size
        yield self.cd_offset + self.cd_size, tail, lambda: iter((self._end(),))

    def open(self) -> io.BufferedReader:
        """The ZIP as a read-only seekable file, for readers that sample it (KOReader's partial MD5 of the
        download, library/kosync.py): a read at any offset makes only the pieces it covers."""
        return io.BufferedReader(_ZipRaw(self), buffer_size=CHUNK_BYTES)

    def read(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes [start, end) of the ZIP, in chunks; end defaults to the size."""
        end = self.size if end is None else min(end, self.size)
        for offset, length, produce in self._pieces():
            if offset >= end:
                return
            if offset + length <= start or length == 0:
                continue
            lo, hi = max(start, offset), min(end, offset + length)
            pos = offset
            blocks = produce()
            try:
                for block in blocks:
                    b_lo, b_hi = max(lo, pos), min(hi, pos + len(block))
                    if b_lo < b_hi:
                        yield block[b_lo - pos:b_hi - pos]
                    pos += len(block)
                    if pos >= hi:
                        break
            finally:
                close = getattr(blocks, "close", None)
                if close is not None:
                    close()


class _ZipRaw(io.RawIOBase):
    """FolderZip.open's raw file: reads are FolderZip.read calls."""

    def __init__(self, made: FolderZip) -> None:
        super().__init__()
        self._made = made
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._made.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # buffer: any writable buffer (typeshed's WriteableBuffer)
        view = memoryview(buffer).cast("B")
        end = min(self._pos + len(view), self._made.size)
        done = 0
        for block in self._made.read(self._pos, end):
            view[done:done + len(block)] = block
            done += len(block)
        self._pos += done
        return done
