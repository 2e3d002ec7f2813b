"""Zip family (zip, cbz, epub): random access through the central directory, nothing extracted to disk."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from ..errors import ArchiveError
from .names import has_apple_magic, is_apple_fork_candidate, is_page_name

# A page larger than this is a zip bomb or a mistake; refusing it keeps a Pi from swapping itself to death.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
_ENCRYPTED = 0x1


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArchiveError(f"corrupt zip archive: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc.strerror or exc}") from exc


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Normalised name -> entry; Windows tools write '\\' separators, clients always see '/'."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        if info.is_dir() or name.endswith("/"):
            continue
        if info.flag_bits & _ENCRYPTED:
            raise ArchiveError("password-protected archive")
        out[name] = info
    return out


def list_members(path: Path) -> list[str]:
    with _open(path) as zf:
        return list(_members(zf))


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = -1) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArchiveError(f"member too large: {info.file_size} bytes")
    try:
        with zf.open(info) as fh:
            return fh.read(limit)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ArchiveError(f"corrupt zip member: {exc}") from exc
    except NotImplementedError as exc:
        raise ArchiveError(f"unsupported zip compression: {exc}") from exc
    except RuntimeError as exc:  # zipfile's way of saying "password required"
        raise ArchiveError("password-protected archive") from exc


def list_pages(path: Path) -> list[str]:
    """Unordered page names. Only the central directory is read, plus 4 bytes of each Apple-fork candidate."""
    with _open(path) as zf:
        pages = []
        for name, info in _members(zf).items():
            if not is_page_name(name):
                continue
            if is_apple_fork_candidate(name) and has_apple_magic(_read(zf, info, 4)):
                continue
            pages.append(name)
        return pages


def read_member(path: Path, name: str) -> bytes:
    with _open(path) as zf:
        info = _members(zf).get(name)
        if info is None:
            raise KeyError(name)
        return _read(zf, info)
