"""URL downloads into the library (SEMANTICS §11): fetched to the temp folder, checked, then imported
exactly like an upload, so nothing partial ever reaches the content folder."""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import tempfile
import urllib.parse
from email.message import Message
from pathlib import Path
from typing import Any

from lrr_lite.errors import DomainError
from lrr_lite.library import records
from lrr_lite.library.intake import netguard, upload
from lrr_lite.library.intake.ingest import Supplied
from lrr_lite.media import formats

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


ONLY_HTTP = "Only http and https URLs can be downloaded."
# The one text for every network failure (refused address, DNS failure, closed port, timeout, reset,
# TLS error…): a job result must not tell them apart, or download_url is a port scanner for the
# server's network. The reason goes to the server log.
NETWORK_ERROR = "Download failed: the URL could not be fetched (the reason is in the server log)."
MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
# characters left as they are when a URL path is sent (everything else is percent-encoded)
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; ValueError with a client message."""
    parsed = urllib.parse.urlsplit(url.strip())
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(ONLY_HTTP)
    try:
        host, port = parsed.hostname, parsed.port
        if not host:
            raise ValueError("no host")
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except (ValueError, UnicodeError):
        raise ValueError("The URL is not valid.") from None
    path = urllib.parse.quote(parsed.path or "/", safe=_PATH_SAFE)
    if parsed.query:
        path += "?" + urllib.parse.quote(parsed.query, safe=_PATH_SAFE)
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _network_failure(url: str, exc: BaseException) -> ValueError:
    log.warning("download of %s failed: %s: %s", url, exc.__class__.__name__, exc)
    return ValueError(NETWORK_ERROR)


def fetch(url: str, dest_dir: Path, *, max_bytes: int, timeout: float, deadline: float,
          policy: netguard.AddressPolicy | None = None) -> tuple[Path, str]:
    """Download `url` into dest_dir; returns (file, suggested name). Raises ValueError with a reason.

    `timeout` bounds each network operation, `deadline` the whole download (connect, redirects and
    every read), `max_bytes` the bytes actually received. Redirects are followed here, each hop's
    scheme and addresses checked again (urllib's own redirect handling would not re-check them).
    """
    clock = netguard.Deadline(max(1.0, deadline))
    try:
        return _fetch(url, dest_dir, max_bytes, max(1.0, timeout), clock, policy or netguard.AddressPolicy())
    finally:
        clock.cancel()


def _fetch(url: str, dest_dir: Path, max_bytes: int, timeout: float, clock: netguard.Deadline,
           policy: netguard.AddressPolicy) -> tuple[Path, str]:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, path = _split(current)
        conn: http.client.HTTPConnection | None = None
        try:
            try:
                conn = netguard.open_connection(scheme, host, port, policy, timeout, clock)
                conn.request("GET", path, headers={"User-Agent": "lrr_lite", "Accept-Encoding": "identity"})
                response = conn.getresponse()
            except (netguard.Refused, netguard.DeadlineExceeded, OSError, http.client.HTTPException,
                    ValueError) as exc:
                raise _network_failure(current, exc) from None
            try:
                if response.status in _REDIRECTS:
                    location = (response.getheader("Location") or "").strip()
                    if not location:
                        raise ValueError(f"Download failed: the server answered HTTP {response.status} "
                                         "without a Location.")
                    current = urllib.parse.urljoin(current, location)
                    if urllib.parse.urlsplit(current).scheme.lower() not in ("http", "https"):
                        raise ValueError("Download failed: the server redirected to a URL that is not "
                                         "http or https.")
                    continue
                if not 200 <= response.status < 300:
                    raise ValueError(f"Download failed: the server answered HTTP {response.status}.")
                return _save(response, conn, current, dest_dir, max_bytes, timeout, clock)
            finally:
                response.close()
        finally:
            if conn is not None:
                conn.close()
    raise ValueError(f"Download failed: more than {MAX_REDIRECTS} redirects.")


def _save(response: http.client.HTTPResponse, conn: http.client.HTTPConnection, url: str, dest_dir: Path,
          max_bytes: int, timeout: float, clock: netguard.Deadline) -> tuple[Path, str]:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ValueError(f"File too large: {declared} bytes (limit {max_bytes}).")
    name = _filename(response, url)
    target = dest_dir / "download"
    size = 0
    sock = getattr(conn, "pinned_sock", None)

    def too_slow() -> ValueError:
        return ValueError(f"Download failed: it took longer than the {clock.seconds:g} s limit.")

    with open(target, "wb") as out:
        while True:
            try:
                if sock is not None:  # each read waits at most what is left of the deadline
                    sock.settimeout(min(timeout, clock.remaining()))
                # read1: one receive at a time; read(n) would wait for n bytes from a slow server
                chunk = response.read1(CHUNK)
            except (netguard.DeadlineExceeded, OSError, http.client.HTTPException, ValueError) as exc:
                if clock.passed:
                    raise too_slow() from None
                raise _network_failure(url, exc) from None
            if not chunk:
                break
            size += len(chunk)  # the bytes received count, whatever Content-Length said
            if size > max_bytes:
                raise ValueError(f"File too large: over {max_bytes} bytes.")
            out.write(chunk)
            if clock.passed:
                raise too_slow()
    # the deadline ends a read by shutting the socket down, which reads as the end of the body
    if clock.passed:
        raise too_slow()
    if declared.isdigit() and size < int(declared):  # http.client's read1 does not report a cut body
        raise _network_failure(url, http.client.IncompleteRead(b"", int(declared) - size))
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
            target, name = fetch(url, staging, max_bytes=max_bytes, timeout=timeout,
                                 deadline=float(ctx.settings.get("downloaddeadline")),
                                 policy=netguard.AddressPolicy(bool(int(ctx.settings.get("downloadallowlocal")))))
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
        row = records.get_row(ctx.db, archive_id)
        return {**result, "success": 1, "id": archive_id, "title": row["title"] if row else name,
                "message": f"Downloaded {name}."}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
