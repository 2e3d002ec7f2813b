"""What kind of container a file is, from its first bytes only (its magic), never from its name.

`archive_kind(head)` answers 'zip', 'epub', 'rar', '7z', 'tar', 'pdf' or None (unknown). A compressed
stream (gzip, bzip2, xz, lzma, zstd) is 'tar': the only such files the library reads are compressed tars.
Everything it needs lies in the first HEAD_BYTES bytes, which the archive ID (SHA-1 of the first 512,000
bytes) covers: for one ID the answer never changes, so callers may cache it by ID.
"""

from __future__ import annotations

import os
from pathlib import Path

HEAD_BYTES = 512  # the ustar magic is at 257..262, an EPUB's mimetype member at 30..58

_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_RAR = (b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")
_7Z = b"7z\xbc\xaf\x27\x1c"
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x5d\x00\x00")


def _is_epub(head: bytes) -> bool:
    """EPUB (OCF): the first member is a stored file named "mimetype" holding application/epub+zip."""
    if len(head) < 30 or not head.startswith(b"PK\x03\x04"):
        return False
    name_len = int.from_bytes(head[26:28], "little")
    extra_len = int.from_bytes(head[28:30], "little")
    data = 30 + name_len + extra_len
    return head[30:30 + name_len] == b"mimetype" and head[data:data + 20] == b"application/epub+zip"


def archive_kind(head: bytes) -> str | None:
    """The container kind of a file whose first bytes are `head` (give at least HEAD_BYTES)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(_ZIP):
        return "epub" if _is_epub(head) else "zip"
    if head.startswith(_RAR):
        return "rar"
    if head.startswith(_7Z):
        return "7z"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(_COMPRESSED):
        return "tar"
    return None


def read_kind(path: Path | str) -> str | None:
    """archive_kind of the file at `path` (one read of HEAD_BYTES); None if it can't be read. A folder (of
    images, formats/folder.py) is 'zip': what its download is."""
    if os.path.isdir(path):
        return "zip"
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    return archive_kind(head)
