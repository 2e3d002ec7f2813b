"""URL downloads into the library (SEMANTICS §11): fetched to the temp folder, checked, then imported
exactly like an upload, so nothing partial ever reaches the content folder."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

from . import formats, library, upload
from .errors import DomainError
from .ingest import Supplied

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
# magic bytes -> extension, for the formats we can read
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"PK\x03\x04", "zip"), (0, b"PK\x05\x06", "zip"), (0, b"Rar!\x1a\x07", "rar"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"), (0, b"%PDF-", "pdf"), (0, b"\x1f\x8b", "tar.gz"),
    (0, b"\xfd7zXZ\x00", "xz"), (0, b"\x28\xb5\x2f\xfd", "tar.zst"), (257, b"ustar", "tar"),
]


def normalize_source(url: str) -> str:
    """The form `source:` tags are compared in: no scheme, no `www.`, no query, no trailing '/'."""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip(), flags=re.I)
    text = re.sub(r"^www\.", "", text, flags=re.I)
    text = text.split("?", 1)[0].split("#", 1)[0]
    return text.rstrip("/").lower()


def find_source(ctx, url: str) -> str | None:
    """ID of an archive already tagged with this source URL, if any."""
    wanted = normalize_source(url)
    prefix = "source:"
    for row in ctx.db.query(
            "SELECT a.id, t.tag FROM tag_names t JOIN archive_tags x ON x.tag_id = t.tag_id "
            "JOIN archives a ON a.num = x.num WHERE t.tag >= ? AND t.tag < ?", (prefix, "source;")):
        if normalize_source(row["tag"][len(prefix):]) == wanted:
            return row["id"]
    return None


def sniff_extension(head: bytes) -> str | None:
    for offset, magic, ext in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return ext
    return None


def _filename(response, url: str) -> str:
    header = response.headers.get("Content-Disposition", "")
    if header:
        msg = Message()
        msg["content-disposition"] = header
        name = msg.get_filename()
        if name:
            return upload.safe_filename(name)
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
    return upload.safe_filename(os.path.basename(path) or "download")


def fetch(url: str, dest_dir: Path, *, max_bytes: int, timeout: float, deadline: float) -> tuple[Path, str]:
    """Download `url` into dest_dir; returns (file, suggested name). Raises ValueError with a reason."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("Only http and https URLs can be downloaded.")
    request = urllib.request.Request(url, headers={"User-Agent": "lrr_lite"})
    started = time.monotonic()
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked above
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ValueError(f"Download failed: {getattr(exc, 'reason', exc)}") from None
    with response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ValueError(f"File too large: {declared} bytes (limit {max_bytes}).")
        name = _filename(response, url)
        target = dest_dir / "download"
        size = 0
        with open(target, "wb") as out:
            while True:
                if time.monotonic() - started > deadline:
                    raise ValueError(f"Download took longer than {deadline:.0f} s.")
                try:
                    chunk = response.read(CHUNK)
                except (OSError, ValueError) as exc:
                    raise ValueError(f"Download failed: {exc}") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"File too large: over {max_bytes} bytes.")
                out.write(chunk)
    if size == 0:
        raise ValueError("The server sent an empty file.")
    return target, name


def download_to_library(ctx, url: str, category_id: str | None, *, timeout: float | None = None) -> dict[str, Any]:
    """The download_url job: LANraragi's result shape {success,url,id,category,title,message}."""
    result: dict[str, Any] = {"success": 0, "url": url, "id": None, "category": category_id, "title": None}
    existing = find_source(ctx, url)
    if existing:
        return {**result, "id": existing, "message": "URL already downloaded!"}
    max_bytes = int(ctx.settings.get("downloadmaxsize")) * 1024 * 1024
    timeout = float(ctx.settings.get("downloadtimeout")) if timeout is None else timeout
    staging = Path(tempfile.mkdtemp(prefix="download-", dir=ctx.config.temp))
    try:
        try:
            target, name = fetch(url, staging, max_bytes=max_bytes, timeout=timeout, deadline=timeout * 20)
        except ValueError as exc:
            return {**result, "message": str(exc)}
        with open(target, "rb") as fh:
            kind = sniff_extension(fh.read(512))
        if kind is None:
            return {**result, "message": "The downloaded file is not an archive lrr_lite can read."}
        if not formats.is_archive_name(name):
            name = f"{name.rsplit('.', 1)[0] if '.' in name else name}.{kind}"
        try:
            with open(target, "rb") as fh:
                archive_id = upload.receive(ctx, fh, name, checksum=None,
                                            supplied=Supplied(tags=f"source:{url}", category_id=category_id))
        except DomainError as exc:
            return {**result, "id": exc.data.get("id"), "message": exc.message}
        except OSError as exc:
            return {**result, "message": f"The file couldn't be moved to your content folder: {exc}"}
        row = library.get_row(ctx.db, archive_id)
        return {**result, "success": 1, "id": archive_id, "title": row["title"] if row else name,
                "message": f"Downloaded {name}."}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
