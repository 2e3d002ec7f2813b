"""Real archive files with real images, for tests across the suite.

Everything is produced by real encoders (Pillow, zipfile, libarchive's writers) so readers are tested against
the bytes they will meet in a library, not against mocks. RAR has no free encoder: the `rar` tool is used when
it is on PATH, otherwise a small RAR 4.x writer below produces store-only (method 0x30) archives, which is the
layout of many real CBRs and is fully valid for every RAR reader.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import libarchive
from libarchive.entry import FileType
from PIL import Image, ImageDraw

Members = dict[str, bytes] | list[tuple[str, bytes]]

# format -> (libarchive format, filter); zip-family and rar are handled separately.
_LIBARCHIVE_FORMATS: dict[str, tuple[str, str | None]] = {
    "7z": ("7zip", None),
    "cb7": ("7zip", None),
    "tar": ("pax", None),
    "cbt": ("pax", None),
    "tar.gz": ("pax", "gzip"),
    "tar.zst": ("pax", "zstd"),
    "zst": ("pax", "zstd"),
    "tar.xz": ("pax", "xz"),
    "xz": ("pax", "xz"),
    "lzma": ("pax", "lzma"),
}
ZIP_FORMATS = ("zip", "cbz", "epub")
RAR_FORMATS = ("rar", "cbr")
ALL_FORMATS = ZIP_FORMATS + tuple(_LIBARCHIVE_FORMATS) + RAR_FORMATS

APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + b"\x00" * 58
APPLE_SINGLE = b"\x00\x05\x16\x00\x00\x02\x00\x00" + b"\x00" * 74


class RarUnavailable(Exception):
    """Raised for RAR variants that need the real `rar` tool (compressed, solid) when it is not installed."""


def _items(members: Members) -> list[tuple[str, bytes]]:
    return list(members.items()) if isinstance(members, dict) else list(members)


def make_image(
    width: int,
    height: int,
    fmt: str = "JPEG",
    color: tuple[int, int, int] = (200, 120, 40),
    text: str | None = None,
    quality: int = 85,
) -> bytes:
    """A real encoded image; `text` is drawn so pages differ visibly and byte-wise."""
    img = Image.new("RGB", (width, height), color)
    if text:
        draw = ImageDraw.Draw(img)
        draw.rectangle((width // 10, height // 10, width // 2, height // 5), fill=(255, 255, 255))
        draw.text((width // 10 + 4, height // 10 + 4), text, fill=(0, 0, 0))
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt.upper() in ("JPEG", "WEBP") else {}
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _write_zip(path: Path, items: list[tuple[str, bytes]], fmt: str, compression: int) -> None:
    with zipfile.ZipFile(path, "w", compression) as zf:
        names = {name for name, _ in items}
        if fmt == "epub" and "mimetype" not in names:
            zf.writestr(zipfile.ZipInfo("mimetype", _ZIP_TIME), b"application/epub+zip", zipfile.ZIP_STORED)
            zf.writestr(
                zipfile.ZipInfo("META-INF/container.xml", _ZIP_TIME),
                b'<?xml version="1.0"?><container version="1.0" '
                b'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                b'<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
                b"</rootfiles></container>",
            )
        for name, data in items:
            # A fixed timestamp: the same members always give the same bytes, hence the same archive ID
            # (writestr's default is "now", which made a re-created file's ID depend on the clock).
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = compression
            if name.endswith("/"):
                info.external_attr = 0o40755 << 16 | 0x10
            zf.writestr(info, data)


def _write_libarchive(path: Path, items: list[tuple[str, bytes]], fmt: str) -> None:
    lformat, lfilter = _LIBARCHIVE_FORMATS[fmt]
    with libarchive.file_writer(str(path), lformat, lfilter) as arc:
        for name, data in items:
            if name.endswith("/"):
                arc.add_file_from_memory(name, 0, b"", filetype=FileType.DIRECTORY, permission=0o755)
            else:
                arc.add_file_from_memory(name, len(data), data)


# -- RAR 4.x, store only -----------------------------------------------------------------------------------

_RAR_MARKER = b"Rar!\x1a\x07\x00"
_RAR_LONG_BLOCK = 0x8000
_RAR_FILE_PASSWORD = 0x0004
_RAR_FILE_SOLID = 0x0010
_RAR_MAIN_SOLID = 0x0008
_RAR_FILE_DIRECTORY = 0x00E0
_DOS_TIME = (2024 - 1980) << 25 | 1 << 21 | 1 << 16  # 2024-01-01 00:00:00


def _rar_block(head_type: int, flags: int, body: bytes) -> bytes:
    header = struct.pack("<BHH", head_type, flags, 2 + 5 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def _write_rar_store(
    path: Path, items: list[tuple[str, bytes]], password_flag: bool = False, solid_flag: bool = False
) -> None:
    out = bytearray(_RAR_MARKER)
    out += _rar_block(0x73, _RAR_MAIN_SOLID if solid_flag else 0, b"\x00" * 6)
    for number, (name, data) in enumerate(items):
        is_dir = name.endswith("/")
        raw_name = name.rstrip("/").encode("utf-8")
        flags = _RAR_LONG_BLOCK | (_RAR_FILE_DIRECTORY if is_dir else 0)
        if password_flag and not is_dir:
            flags |= _RAR_FILE_PASSWORD
        if solid_flag and number:
            flags |= _RAR_FILE_SOLID  # continues the previous member's dictionary, as WinRAR's -s writes
        mode = 0o40755 if is_dir else 0o100644
        body = struct.pack(
            "<IIBIIBBHI",
            len(data),  # packed size == unpacked size for method 0x30
            len(data),
            3,  # host OS: Unix, so '/' separators and a Unix mode
            zlib.crc32(data),
            _DOS_TIME,
            20,  # version needed: 2.0
            0x30,  # method: store
            len(raw_name),
            mode,
        )
        out += _rar_block(0x74, flags, body + raw_name) + data
    out += _rar_block(0x7B, 0x4000, b"")
    path.write_bytes(bytes(out))


def _write_rar(path: Path, items: list[tuple[str, bytes]], use_tool: bool | None) -> None:
    tool = shutil.which("rar")
    if use_tool and not tool:
        raise RarUnavailable("the rar tool is not installed")
    if not tool or use_tool is False:
        _write_rar_store(path, items)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in items:
            target = Path(tmp, name)
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        names = [name for name, _ in items]
        subprocess.run(["rar", "a", "-ep1", "-r0", "-idq", str(path.resolve()), *names], cwd=tmp, check=True)


def make_archive(
    path: Path,
    members: Members,
    fmt: str,
    *,
    zip_compression: int = zipfile.ZIP_STORED,
    rar_tool: bool | None = None,
) -> Path:
    """Write `members` (name -> bytes, in order; names ending in '/' are directories) as `fmt`.

    rar_tool: None = the real rar tool if installed, else the built-in store-only writer; True = require
    the tool (RarUnavailable without it); False = always the built-in writer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = _items(members)
    fmt = fmt.lower()
    if fmt in ZIP_FORMATS:
        _write_zip(path, items, fmt, zip_compression)
    elif fmt in _LIBARCHIVE_FORMATS:
        _write_libarchive(path, items, fmt)
    elif fmt in RAR_FORMATS:
        _write_rar(path, items, rar_tool)
    else:
        raise ValueError(f"unknown archive format {fmt!r}")
    return path


def page_images(n_pages: int, size: tuple[int, int] = (120, 160), fmt: str = "JPEG") -> list[bytes]:
    return [
        make_image(
            size[0], size[1], fmt, color=((i * 37) % 256, (i * 91) % 256, (i * 53) % 256), text=f"p{i}"
        )
        for i in range(1, n_pages + 1)
    ]


def make_comic(path: Path, n_pages: int, fmt: str, size: tuple[int, int] = (120, 160)) -> Path:
    """A comic of n_pages JPEG pages named 001.jpg.. (or a PDF of n_pages pages for fmt='pdf')."""
    if fmt == "pdf":
        return make_pdf(path, n_pages, size)
    members = {f"{i:03d}.jpg": data for i, data in enumerate(page_images(n_pages, size), start=1)}
    return make_archive(path, members, fmt)


def make_pdf(path: Path, n_pages: int, size: tuple[int, int] = (120, 160)) -> Path:
    """A real PDF with one image per page (Pillow's PDF writer)."""
    path = Path(path)
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in page_images(n_pages, size)]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return path


# -- bad files ---------------------------------------------------------------------------------------------


def truncated_copy(src: Path, dst: Path, keep: float | int = 0.5) -> Path:
    """Copy the first `keep` bytes (an int) or fraction (a float) of src."""
    data = Path(src).read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    Path(dst).write_bytes(data[:n])
    return Path(dst)


def garbage_file(path: Path, size: int = 4096, seed: int = 1) -> Path:
    """Random bytes under an archive name; seeded so failures reproduce."""
    import random

    Path(path).write_bytes(random.Random(seed).randbytes(size))
    return Path(path)


def empty_file(path: Path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def make_encrypted_zip(path: Path, members: Members, passphrase: str = "secret") -> Path:
    """A ZipCrypto-encrypted zip (zipfile cannot write encryption; libarchive can)."""
    with libarchive.file_writer(
        str(path), "zip", options="encryption=zipcrypt", passphrase=passphrase
    ) as arc:
        for name, data in _items(members):
            arc.add_file_from_memory(name, len(data), data)
    return Path(path)


def make_solid_flagged_rar(path: Path, members: Members) -> Path:
    """A RAR 4 archive flagged solid (archive and member flags) with stored members: what libarchive 3.6
    refuses after the first member ("RAR solid archive support unavailable") and unar reads whole."""
    _write_rar_store(Path(path), _items(members), solid_flag=True)
    return Path(path)


def make_password_flagged_rar(path: Path, members: Members) -> Path:
    """A RAR 4.x whose file headers carry the password flag, as an encrypted RAR's do.

    The data is not actually encrypted (no free RAR encoder exists); readers must refuse it from the flag.
    """
    _write_rar_store(Path(path), _items(members), password_flag=True)
    return Path(path)


def zip_without_central_directory(src: Path, dst: Path) -> Path:
    """Cut a zip right where its central directory starts: every local entry intact, no directory."""
    data = Path(src).read_bytes()
    eocd = data.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", data, eocd + 16)
    return truncated_copy(src, dst, cd_offset)


def files_in(directory: Path) -> Iterable[Path]:
    return (Path(root, f) for root, _dirs, files in os.walk(directory) for f in files)


def png_with_ihdr(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height RGB pixels (a decompression bomb's calling card)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))
