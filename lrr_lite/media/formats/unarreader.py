"""RAR archives libarchive refuses, read through The Unarchiver's command-line tools (`lsar`, `unar`).

libarchive 3.6 (Debian 12, what LANraragi uses too) reads the first member of a solid RAR 4 archive and
then stops with "RAR solid archive support unavailable"; RAR 1.5/2.x archives fail with "Header CRC error"
and a multi-volume set from its first part with "Truncated RAR file data". `unar` (Debian main, LGPL) reads
all of them. No maintained Python binding reads solid RAR 4 (rarfile itself shells out to unrar/unar for
compressed members), so the tools run as subprocesses, with the same limits as every other read:

- listing: `lsar -l`, one line per member (the JSON listing repeats every solid block for every member, so
  it grows with the square of the member count: 66 MB and 7 s for 500 members); at most MAX_MEMBERS lines
  and LIST_OUTPUT_BYTES of output, within LIST_TIMEOUT seconds;
- reading: one `unar -o -` pass writes the wanted members' data, concatenated in archive order, to a spool
  file next to the page cache; it is killed once it produces more than the members declare or the
  expansion limit allows, or after WALK_TIMEOUT. Only when unar has exited cleanly and produced exactly the
  declared bytes is the spool split into members and handed on, so a member unar failed on (its error goes
  to stderr, its data may be missing) can never shift the bytes of the next one into the wrong page;
- no password is ever given: an encrypted member refuses the archive, as it does for libarchive.

A later part of a multi-volume set (`x.part2.rar`) is refused: `unar` reads the whole set through any of
its parts, so each part would otherwise list as a second copy of the same book. The first part reads as
the whole set, through unar (libarchive lists its headers but fails on the data that goes on in part 2);
a change to a later part is not noticed until the first part changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats.limits import CHUNK_BYTES, expansion_limit
from lrr_lite.media.formats.memo import by_version
from lrr_lite.media.formats.names import is_apple_fork_candidate, is_page_name

MemberSink = Callable[[str, int, Iterator[bytes]], None]

MAX_MEMBERS = 100_000  # a 100,000-page book is not a book; the listing stops there
LIST_OUTPUT_BYTES = 64 * 1024 * 1024
LIST_TIMEOUT = 60.0  # seconds: lsar reads headers only
WALK_TIMEOUT = 900.0  # seconds for one whole pass: a 1 GB solid archive at ~5 MB/s on a Pi 3 core

# "  12. -----      123456   12.3%  Bs29  2011-07-06 16:48  name": index, flags (D directory, R resource
# fork, L link, E encrypted, @ extended attributes), size, ratio, method, date, time, then the name.
_LINE = re.compile(r"^\s*(\d+)\. ([-DRLE@]{5})\s+(\d+)\s+\S+\s+\S+\s+\S+ \S+  (.*)$")

_RAR4 = b"Rar!\x1a\x07\x00"
_RAR5 = b"Rar!\x1a\x07\x01\x00"


@dataclass(frozen=True)
class Entry:
    index: int
    name: str
    size: int


def tools() -> tuple[str, str] | None:
    """Paths of (lsar, unar), or None when The Unarchiver is not installed."""
    lsar, unar = shutil.which("lsar"), shutil.which("unar")
    return (lsar, unar) if lsar and unar else None


def missing_reason() -> str:
    return "install the 'unar' package to read it"


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated variable-length integer")


def volume(head: bytes) -> str | None:
    """'first' or 'later' for a part of a multi-volume RAR set, from the main archive header in `head`;
    None for a single archive (or a header this can't parse)."""
    try:
        if head.startswith(_RAR4) and len(head) >= 12 and head[9] == 0x73:
            flags = int.from_bytes(head[10:12], "little")
            if not flags & 0x0001:  # MHD_VOLUME
                return None
            # RAR 3+ (new "partN" numbering, 0x0010) flags the first part (0x0100); old-style sets go on in
            # .r00, .r01 files, which are not archive names, so their .rar is always the first part.
            return "later" if flags & 0x0010 and not flags & 0x0100 else "first"
        if head.startswith(_RAR5):
            pos = len(_RAR5) + 4  # header CRC32
            _size, pos = _vint(head, pos)
            kind, pos = _vint(head, pos)
            if kind != 1:  # not the main archive header
                return None
            header_flags, pos = _vint(head, pos)
            if header_flags & 0x0001:
                _extra, pos = _vint(head, pos)
            if header_flags & 0x0002:
                _data, pos = _vint(head, pos)
            archive_flags, pos = _vint(head, pos)
            if not archive_flags & 0x0001:
                return None
            # the volume number field is present in every part but the first
            return "later" if archive_flags & 0x0002 else "first"
    except ValueError:
        return None
    return None


def _arg(path: Path) -> str:
    # Absolute, so a file named "-x.rar" can never read as an option.
    return str(Path(path).resolve())


def _tail(raw: bytes) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# The first look at a file lists it several times in a row (check, page list, member list, then the walk of
# its first read): each `lsar -l` is a process and a pass over the headers, seconds for a big solid set on a
# Pi. The listing of one file version is kept for the next callers (memo.by_version); a few files.
_LISTED_FILES = 16
_listed: OrderedDict[tuple, tuple[Entry, ...]] = OrderedDict()


def entries(path: Path) -> list[Entry]:
    """Every regular member, in archive order. ArchiveError if the archive is encrypted, unreadable by
    lsar, or beyond the listing limits; ArchiveError naming the missing package without the tools.
    lsar runs once per file version (_listed)."""
    listed: tuple[Entry, ...] = by_version(_listed, _LISTED_FILES, "lsar", Path(_arg(path)),
                                           lambda: tuple(_run_lsar(path)))
    return list(listed)


def _run_lsar(path: Path) -> list[Entry]:
    found = tools()
    if found is None:
        raise ArchiveError(f"libarchive cannot read this RAR archive: {missing_reason()}")
    lsar, _unar = found
    try:
        proc = subprocess.run(
            [lsar, "-l", _arg(path)], capture_output=True, timeout=LIST_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ArchiveError(f"listing the archive took more than {LIST_TIMEOUT:.0f} s") from exc
    except OSError as exc:
        raise ArchiveError(f"couldn't run lsar: {exc}") from exc
    if proc.returncode != 0:
        reason = _tail(proc.stderr) or _tail(proc.stdout) or f"lsar exited with {proc.returncode}"
        if "password" in reason.lower():
            raise ArchiveError("password-protected archive")
        raise ArchiveError(f"unreadable RAR archive: {reason}")
    if len(proc.stdout) > LIST_OUTPUT_BYTES:
        raise ArchiveError(f"archive listing larger than {LIST_OUTPUT_BYTES} bytes: refused")
    result: list[Entry] = []
    expected = 0
    for raw in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        index, flags, size, name = int(match[1]), match[2], int(match[3]), match[4]
        if index != expected:
            # A member name holding a line break would split one member over two lines: refuse rather
            # than guess which member the next bytes belong to.
            raise ArchiveError("unusual member names: the archive's listing can't be read reliably")
        expected += 1
        if expected > MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS} members: refused")
        if "E" in flags:
            raise ArchiveError("password-protected archive")
        if "D" in flags or "L" in flags or "R" in flags:
            continue
        text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\\", "/")
        result.append(Entry(index, text, size))
    return result


def check(path: Path) -> list[Entry]:
    """The entries, once `lsar -t` has decompressed every member and found each CRC right: a truncated or
    damaged archive is refused before it is listed, as libarchive refuses it, rather than imported with
    pages that can never be read. One pass over the data, without writing it anywhere."""
    listed = entries(path)
    budget = expansion_limit(Path(path).stat().st_size)
    if sum(e.size for e in listed) > budget:
        raise ArchiveError(f"archive expands to more than {budget} bytes: refused as a decompression bomb")
    lsar = tools()
    assert lsar is not None  # entries() checked
    try:
        proc = subprocess.run(
            [lsar[0], "-t", _arg(path)], capture_output=True, timeout=WALK_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ArchiveError(f"testing the archive took more than {WALK_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        text = proc.stdout.decode("utf-8", "replace")
        failed = [line.strip() for line in text.splitlines() if line.rstrip().endswith("failed!")]
        reason = failed[0][:200] if failed else _tail(proc.stderr) or _tail(proc.stdout)
        raise ArchiveError(f"damaged archive: {reason}")
    return listed


def list_members(path: Path) -> list[str]:
    return list(dict.fromkeys(e.name for e in entries(path)))


def list_pages(path: Path) -> list[str]:
    # The libarchive reader peeks at "._name" members for AppleDouble magic; a listing can't, and such
    # members are resource forks in every archive seen, so they are never pages here.
    names = (e.name for e in entries(path) if is_page_name(e.name) and not is_apple_fork_candidate(e.name))
    return list(dict.fromkeys(names))


def _spool(unar: str, path: Path, wanted: list[Entry], budget: int, spool: BinaryIO) -> None:
    """Run unar once, writing the wanted members' data to `spool`; exactly their declared bytes or raise."""
    expected = sum(e.size for e in wanted)
    if expected > budget:
        raise ArchiveError(f"archive expands to more than {budget} bytes: refused as a decompression bomb")
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [unar, "-q", "-o", "-", "-i", _arg(path), *(str(e.index) for e in wanted)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
        )
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(WALK_TIMEOUT, stop)
        timer.daemon = True
        timer.start()
        produced = 0
        try:
            assert proc.stdout is not None
            while chunk := proc.stdout.read(CHUNK_BYTES):
                produced += len(chunk)
                if produced > expected:  # more than the members declare: neither a page list nor a bomb passes
                    raise ArchiveError("unar produced more data than the archive declares: refused")
                spool.write(chunk)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if timed_out.is_set():
            raise ArchiveError(f"reading the archive took more than {WALK_TIMEOUT:.0f} s")
        if code != 0 or produced != expected:
            err.seek(0)
            reason = _tail(err.read(64 * 1024)) or f"{produced} of {expected} bytes"
            raise ArchiveError(f"unar could not read the archive: {reason}")


def walk(path: Path, on_member: MemberSink, max_total: int | None = None, *, spool_dir: Path | None = None) -> None:
    """As streamreader.walk: on_member(name, size, blocks) for each regular member, in archive order.

    The members are decompressed first, in one pass, into an unnamed spool file in `spool_dir` (the page
    cache's folder: the pages land there anyway), then handed on from it."""
    found = tools()
    if found is None:
        raise ArchiveError(f"libarchive cannot read this RAR archive: {missing_reason()}")
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc
    wanted = entries(path)
    budget = expansion_limit(size) if max_total is None else max_total
    with tempfile.TemporaryFile(dir=spool_dir) as spool:
        _spool(found[1], path, wanted, budget, spool)
        spool.seek(0)
        for entry in wanted:
            start = spool.tell()

            def blocks(left: int = entry.size) -> Iterator[bytes]:
                while left > 0:
                    block = spool.read(min(CHUNK_BYTES, left))
                    if not block:
                        raise ArchiveError("spool file ended early")
                    left -= len(block)
                    yield block

            on_member(entry.name, entry.size, blocks())
            spool.seek(start + entry.size)  # whatever the sink left unread



