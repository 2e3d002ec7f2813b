"""Sending bytes: images with validators and cache headers, whole files with Range support."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bottle

from lrr_lite.media.thumbs import placeholder_png

LONG_CACHE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def content_disposition(kind: str, filename: str) -> str:
    """Header value safe for any file name (RFC 6266): a printable-ASCII fallback, then the RFC 5987 form of
    the name's bytes. Control characters (a member named `new\nline.jpg`) can never end the header line,
    and a name from the file system that is not UTF-8 (surrogate escapes) is sent as the bytes it is."""
    ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    raw = filename.encode("utf-8", "surrogateescape")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(raw, safe='')}"


def not_modified(etag: str) -> bool:
    given = bottle.request.get_header("If-None-Match", "")
    return bool(given) and etag in [t.strip() for t in given.split(",")]


def send_bytes(data: bytes, mime: str, *, etag: str | None = None, cache: str = LONG_CACHE,
               disposition: str | None = None) -> bytes:
    response = bottle.response
    response.content_type = mime
    response.set_header("Cache-Control", cache)
    if disposition:
        response.set_header("Content-Disposition", disposition)
    if etag:
        response.set_header("ETag", etag)
    response.set_header("Content-Length", str(len(data)))
    return data


def file_etag(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.sha1(f"{st.st_mtime_ns}-{st.st_size}".encode()).hexdigest()[:20] + '"'


def send_file(path: Path, mime: str, download_name: str) -> object:
    """Stream a whole file, honouring a single `Range: bytes=a-b` (clients resume big downloads)."""
    return send_ranged(path.stat().st_size, mime, download_name, file_etag(path),
                       lambda start, length: _chunks(path, start, length))


def send_ranged(size: int, mime: str, download_name: str, etag: str,
                read: Callable[[int, int], Iterable[bytes]]) -> object:
    """Stream `size` bytes made by read(start, length), honouring a single `Range: bytes=a-b`: a file, or a
    folder of images' ZIP made on the fly (its size known before the first byte)."""
    response = bottle.response
    response.content_type = mime
    response.set_header("Accept-Ranges", "bytes")
    response.set_header("Content-Disposition", content_disposition("attachment", download_name))
    response.set_header("ETag", etag)
    start, end = 0, size - 1
    header = bottle.request.get_header("Range")
    if header:
        match = _RANGE.match(header.strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start = max(size - int(match.group(2)), 0)
            if start > end or start >= size:
                response.status = 416
                response.set_header("Content-Range", f"bytes */{size}")
                return b""
            response.status = 206
            response.set_header("Content-Range", f"bytes {start}-{end}/{size}")
    length = end - start + 1 if size else 0
    response.set_header("Content-Length", str(length))
    if bottle.request.method == "HEAD":
        return b""
    return read(start, length)


def _chunks(path: Path, start: int, length: int):
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(256 * 1024, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk



def thumbnail_version(st: os.stat_result) -> str:
    """The `?v=` the web pages put on a cover URL: the file's mtime (ms) and size, in hex. A new cover gets a
    new URL, so the URL that names this very file can be cached for good."""
    return f"{st.st_mtime_ns // 1_000_000:x}.{st.st_size:x}"


def send_thumbnail(path: Path) -> bytes:
    """A thumbnail file, revalidated by ETag (it can be regenerated, so it is not cached for long), or cached
    for good when the request's `?v=` names this very version of the file (the web pages' cover URLs)."""
    etag = file_etag(path)
    if not_modified(etag):
        bottle.response.status = 304
        return b""
    asked = bottle.request.query.get("v")
    cache = "public, max-age=3600"
    if asked:
        try:
            if asked == thumbnail_version(path.stat()):
                cache = LONG_CACHE
        except OSError:
            pass
    return send_bytes(path.read_bytes(), "image/jpeg", etag=etag, cache=cache,
                      disposition=content_disposition("inline", path.name))


def send_placeholder() -> bytes:
    return send_bytes(placeholder_png(), "image/png", cache="no-cache",
                      disposition=content_disposition("inline", "noThumb.png"))


def page_etag(ctx: Any, *parts: object) -> str:
    """An ETag for a served page: the parts that name it plus every setting that changes the bytes sent
    (resizing on/off, its threshold and quality), so a client never keeps stale bytes after a change."""
    settings = ctx.settings
    resize = int(bool(settings.get("enableresize")))
    knobs = (resize, settings.get("sizethreshold"), settings.get("readerquality")) if resize else (0,)
    text = "\0".join(str(p) for p in (*parts, *knobs))
    return '"' + hashlib.sha1(text.encode()).hexdigest()[:24] + '"'
