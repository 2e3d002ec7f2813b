"""The hostile set: archives and images built to exhaust memory, escape folders or confuse parsers.

Everything is generated, small on disk, and fast to make: zero-filled data is deflated once and the
byte-aligned output repeated (a deflate block after Z_FULL_FLUSH starts from a reset state, so identical
input gives identical bytes), and sizes in zip headers are written by hand where they must lie. `scale`
picks the sizes: "test" keeps every file quick to make for the test suite, "bench" makes the full-size
bombs of issue 11 (a 1 GiB lying zip, 4 GB 7z and tar.gz) for scripts/bench_hostile.py.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libarchive
from PIL import Image

MB = 1024 * 1024
_ZERO_MB = bytes(MB)
_DOS_TIME, _DOS_DATE = 0, (2020 - 1980) << 9 | 1 << 5 | 1

SIZES = {
    # name: (test, bench) uncompressed bytes
    "lying_zip": (256 * MB, 1024 * MB),
    "zeros_zip": (250 * MB, 250 * MB),
    "bomb_7z": (4096 * MB, 4096 * MB),  # 4 GB in the tests too: ~10 s to write (deflate of zeros)
    "bomb_targz": (4096 * MB, 4096 * MB),  # under a second: raw deflate blocks repeated
}


def _zero_deflate(n_mb: int) -> bytes:
    """A raw deflate stream of n_mb MiB of zeros, ~1 KB per MiB, made in microseconds."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(_ZERO_MB) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mb + b"\x03\x00"  # an empty final fixed-Huffman block ends the stream


def _zero_crc(n_mb: int, prefix: bytes = b"", suffix_zeros: int = 0) -> int:
    crc = zlib.crc32(prefix)
    for _ in range(n_mb):
        crc = zlib.crc32(_ZERO_MB, crc)
    return zlib.crc32(bytes(suffix_zeros), crc)


@dataclass
class RawMember:
    """One zip entry written byte by byte: the header fields are whatever the test wants them to say."""

    name: bytes
    data: bytes  # already compressed with `method`
    file_size: int  # what the headers declare
    crc: int
    method: int = 8
    flags: int = 0
    external_attr: int = 0o100644 << 16
    create_system: int = 3


def write_raw_zip(path: Path, members: list[RawMember]) -> Path:
    out = bytearray()
    central = bytearray()
    for m in members:
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, m.flags, m.method, _DOS_TIME, _DOS_DATE,
                           m.crc, len(m.data), m.file_size, len(m.name), 0) + m.name + m.data
        central += struct.pack("<4s6H3I5HII", b"PK\x01\x02", m.create_system << 8 | 20, 20, m.flags, m.method,
                               _DOS_TIME, _DOS_DATE, m.crc, len(m.data), m.file_size, len(m.name), 0, 0, 0, 0,
                               m.external_attr, offset) + m.name
    eocd = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    Path(path).write_bytes(bytes(out + central + eocd))
    return Path(path)


def _jpeg(size: tuple[int, int] = (16, 16), progressive: bool = False) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(buf, "JPEG", quality=80, progressive=progressive)
    return buf.getvalue()


def small_page() -> bytes:
    return _jpeg((64, 96))


def jpeg_claiming(width: int, height: int, progressive: bool = False) -> bytes:
    """A 16x16 JPEG whose frame header is patched to claim width x height (its data is far too short)."""
    data = bytearray(_jpeg(progressive=progressive))
    sof = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def gif_frames(n: int, screen: tuple[int, int] = (1000, 1000), frame: tuple[int, int] = (200, 200)) -> bytes:
    """An animated GIF of n frames: one real frame encoded by Pillow, its image block repeated n times."""
    buf = io.BytesIO()
    Image.new("P", frame, 1).save(buf, "GIF")
    one = buf.getvalue()
    flags = one[10]
    gct = 3 * (2 << (flags & 7)) if flags & 0x80 else 0
    body = one[13 + gct : -1]  # everything between the global colour table and the trailer
    head = one[:6] + struct.pack("<HH", *screen) + one[10:13 + gct]
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return head + loop + body * n + b"\x3b"


def _zip(path: Path, members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, compression)
    return path


def _targz_zeros(path: Path, name: str, n_mb: int) -> Path:
    """A tar.gz holding one member of n_mb MiB of zeros, written as raw gzip around repeated deflate."""
    info = tarfile.TarInfo(name)
    info.size = n_mb * MB
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    # tar data is already a multiple of 512; two zero blocks end the archive, padding to 10240 follows.
    total = len(header) + n_mb * MB + 1024
    tail = 1024 + (-total) % 10240
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    deflate += _zero_deflate(n_mb)[:-2]
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate += c2.compress(bytes(tail)) + c2.flush()
    size = len(header) + n_mb * MB + tail
    crc = _zero_crc(n_mb, header, tail)
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + deflate + struct.pack("<II", crc, size & 0xFFFFFFFF)
    Path(path).write_bytes(gz)
    return Path(path)


def _7z_zeros(path: Path, members: list[tuple[str, int]]) -> Path:
    def zeros(n_mb: int):
        for _ in range(n_mb):
            yield _ZERO_MB

    with libarchive.file_writer(str(path), "7zip", options="compression=deflate") as arc:
        for name, n_mb in members:
            arc.add_file_from_memory(name, n_mb * MB, zeros(n_mb))
    return Path(path)


def _tar(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return Path(path)


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


ODD_NAMES = ["new\nline.jpg", "carriage\rreturn.jpg", "rtl\u202egpj.exe.jpg", "x" * 995 + ".jpg"]
TRAVERSAL = ["../../etc/x.jpg", "/abs.jpg", "..\\..\\win.jpg", "a/../../up.jpg"]


def _lying_zip(path: Path, n_mb: int) -> Path:
    return write_raw_zip(path, [RawMember(b"001.jpg", _zero_deflate(n_mb), 100, _zero_crc(n_mb))])


def _bzip2_lying_zip(path: Path) -> Path:
    import bz2

    data = bz2.compress(bytes(64 * MB), 9)
    return write_raw_zip(path, [RawMember(b"001.jpg", data, 100, 0, method=12)])


def _lzma_lying_zip(path: Path) -> Path:
    import lzma

    lz_filter = {"id": lzma.FILTER_LZMA1, "preset": 0}
    raw = lzma.compress(bytes(64 * MB), lzma.FORMAT_RAW, filters=[lz_filter])
    props = lzma._encode_filter_properties(lz_filter)  # type: ignore[attr-defined]
    data = b"\x09\x14" + struct.pack("<H", len(props)) + props + raw
    return write_raw_zip(path, [RawMember(b"001.jpg", data, 100, 0, method=14, flags=0x2)])


def _nested_zip(path: Path, inner: Path) -> Path:
    layer = inner.read_bytes()
    for _depth in range(3):  # 42.zip style: each level holds 8 copies of the level below
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(8):
                zf.writestr(f"{i}.zip", layer)
            zf.writestr("001.jpg", layer)  # a zip posing as a page
        layer = buf.getvalue()
    Path(path).write_bytes(layer)
    return Path(path)


def _odd_names_zip(path: Path) -> Path:
    page = small_page()
    members = [RawMember(n.encode(), zlib.compress(page)[2:-4], len(page), zlib.crc32(page), flags=0x800)
               for n in ODD_NAMES]
    # Not valid UTF-8 and no UTF-8 flag: zipfile decodes such names as cp437.
    members.append(RawMember(b"bad\xff\xfe-utf8.jpg", zlib.compress(page)[2:-4], len(page), zlib.crc32(page)))
    return write_raw_zip(path, members)


def _symlink_zip(path: Path) -> Path:
    page = small_page()
    target = b"/etc/passwd"
    return write_raw_zip(path, [
        RawMember(b"001.jpg", page, len(page), zlib.crc32(page), method=0),
        RawMember(b"002.jpg", target, len(target), zlib.crc32(target), method=0, external_attr=0o120777 << 16),
    ])


def _many_members_zip(path: Path, n: int) -> Path:
    page = small_page()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            zf.writestr(zipfile.ZipInfo(f"{i:05d}.jpg", (2020, 1, 1, 0, 0, 0)), page)
    return Path(path)


def build(folder: Path, scale: str = "test") -> dict[str, Path]:
    """Write the hostile set into `folder` (reusing files already there) and return name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    big = 0 if scale == "test" else 1
    page = small_page()
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
    n_many = 10_000
    makers: dict[str, Callable[[Path], Path]] = {
        "lying.cbz": lambda p: _lying_zip(p, SIZES["lying_zip"][big] // MB),
        "lying_bzip2.cbz": _bzip2_lying_zip,
        "lying_lzma.cbz": _lzma_lying_zip,
        "zeros250.cbz": lambda p: write_raw_zip(p, [RawMember(
            b"001.jpg", _zero_deflate(SIZES["zeros_zip"][big] // MB), SIZES["zeros_zip"][big],
            _zero_crc(SIZES["zeros_zip"][big] // MB))]),
        "bomb.cb7": lambda p: _7z_zeros(p, [("001.jpg", SIZES["bomb_7z"][big] // MB)]),
        "bigpage.cb7": lambda p: _7z_zeros(p, [("001.jpg", 100), ("002.jpg", 1)]),
        "nearcap.cb7": lambda p: _7z_zeros(p, [(f"{i:03d}.jpg", 60) for i in range(1, 4)]),
        "bomb.tar.gz": lambda p: _targz_zeros(p, "001.jpg", SIZES["bomb_targz"][big] // MB),
        "nested.cbz": lambda p: _nested_zip(p, _lying_zip(folder / ".inner.zip", 16)),
        "traversal.cbz": lambda p: _zip(p, [(n, page) for n in TRAVERSAL]),
        "traversal.cbt": lambda p: _tar(p, [_file(n, page) for n in TRAVERSAL]),
        "traversal.cb7": lambda p: _libarchive_7z(p, [(n, page) for n in TRAVERSAL]),
        "links.cbt": lambda p: _tar(p, [_file("001.jpg", page), _link("002.jpg", "/etc/passwd", tarfile.SYMTYPE),
                                        _link("003.jpg", "001.jpg", tarfile.LNKTYPE),
                                        _link("004.jpg", "../../../etc/shadow", tarfile.LNKTYPE)]),
        "links.cbz": _symlink_zip,
        "pixels.cbz": lambda p: _zip(p, [("001.png", png_claiming(30000, 30000)),
                                         ("002.gif", gif_frames(5000)),
                                         ("003.jpg", jpeg_claiming(14000, 14000)),
                                         ("004.jpg", jpeg_claiming(14000, 14000, progressive=True))]),
        "many.cbz": lambda p: _many_members_zip(p, n_many),
        "many.cbt": lambda p: _tar(p, [_file(f"{i:05d}.jpg", page) for i in range(n_many)]),
        "names.cbz": _odd_names_zip,
        "names.cbt": lambda p: _tar(p, [_file(n, page) for n in ODD_NAMES]
                                    + [_file("bad\udcff\udcfe-utf8.jpg", page)]),
        "markup.cbz": lambda p: _zip(p, [("001.html", html), ("002.jpg", svg), ("003.svg", svg),
                                         ("004.jpg", html), ("005.jpg", page)]),
        "png_renamed.cbz": lambda p: (p.write_bytes(page), p)[1],
        "html_renamed.cbz": lambda p: (p.write_bytes(html), p)[1],
        "svg_renamed.cbr": lambda p: (p.write_bytes(svg), p)[1],
    }
    out = {}
    for name, make in makers.items():
        path = folder / name
        if not path.exists() or path.stat().st_size == 0:
            tmp = folder / f".{name}.part"
            make(tmp)
            tmp.rename(path)
        out[name] = path
    return out


def _libarchive_7z(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with libarchive.file_writer(str(path), "7zip") as arc:
        for name, data in members:
            arc.add_file_from_memory(name, len(data), data)
    return Path(path)
