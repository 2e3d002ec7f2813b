"""Archive upload and deletion (SEMANTICS §11, §17): the file and its record move together.

An upload is stored in the temp folder first (hashed on the way), checked, then moved into the content folder
under a claim and ingested with the client's metadata in the same call (see ingest.py on who owns a file).
The cover is not made here: like every import, the archive's cover is a queued job.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from lrr_lite.errors import ArchiveError, ChecksumMismatch, Conflict, Invalid, Unsupported
from lrr_lite.library import pages, records
from lrr_lite.library.intake.ingest import ID_BYTES, Supplied
from lrr_lite.media import formats
from lrr_lite.media.formats import folder

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def truncate_name(filename: str, limit: int = 255 - len(".upload")) -> str:
    """Shorten the name (keeping its extension) so name + '.upload' fits in 255 bytes."""
    if len(filename.encode("utf-8")) <= limit:
        return filename
    ext = ""
    for candidate in sorted(formats.ARCHIVE_EXTENSIONS, key=len, reverse=True):
        if filename.lower().endswith("." + candidate):
            ext = filename[-(len(candidate) + 1):]
            break
    stem = filename[: len(filename) - len(ext)]
    while len((stem + ext).encode("utf-8")) > limit:
        stem = stem[:-1]
    return stem + ext


def safe_filename(raw: str) -> str:
    """The client's file name reduced to a plain name: no directories, no NUL, no leading dots."""
    name = raw.replace("\\", "/").split("/")[-1].replace("\x00", "").strip()
    return name.lstrip(".") or "upload"


def receive(ctx: Any, stream: BinaryIO, raw_name: str, *, checksum: str | None,
            supplied: Supplied | None = None) -> str:
    """Store an uploaded archive in the content folder and ingest it with `supplied`. Returns the new ID.

    Raises ChecksumMismatch, Unsupported (extension), Invalid (empty), Conflict (same file or same name,
    `data["id"]`), ArchiveError (unreadable, `data["id"]`), Locked (another upload of the same name kept
    its lock too long) or OSError (the content folder refused the file)."""
    filename = safe_filename(raw_name)
    staging = Path(tempfile.mkdtemp(prefix="upload-", dir=ctx.config.temp))
    try:
        staged = staging / "file"
        whole = hashlib.sha1()
        head = hashlib.sha1()
        head_left = ID_BYTES
        with open(staged, "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                whole.update(chunk)
                if head_left > 0:
                    head.update(chunk[:head_left])
                    head_left -= len(chunk)
        if checksum is not None and checksum != "" and checksum != whole.hexdigest():
            raise ChecksumMismatch(f"Checksum mismatch: expected {checksum}, got {whole.hexdigest()}.")
        with ctx.locks.hold("upload", filename):
            if not formats.is_archive_name(filename):
                raise Unsupported(f"Unsupported file extension ({filename})")
            filename = truncate_name(filename)
            archive_id = head.hexdigest()
            if staged.stat().st_size == 0:
                raise Invalid("The uploaded file is empty.")
            existing = records.get_row(ctx.db, archive_id)
            replace = bool(ctx.settings.get("replacedupe"))
            dest = ctx.config.content / filename
            if existing is not None and existing["path"] and Path(existing["path"]).exists() and not replace:
                raise Conflict("This file already exists in the Library. Enable replace duplicated archive in "
                               "config to replace old ones.", id=archive_id)
            if dest.exists() and not replace:
                raise Conflict("A file with the same name is present in the Library. Enable replace duplicated "
                               "archive in config to replace old ones.", id=archive_id)
            named = staged_with_name(staged, filename)
            try:
                formats.list_pages(named)
            except ArchiveError as exc:
                raise ArchiveError(f"The file isn't a readable archive: {exc}", id=archive_id) from None
            if replace:
                if existing is not None and existing["path"] and existing["path"] != str(dest):
                    delete_archive(ctx, archive_id, remove_record=True)
                if dest.exists():
                    old = ctx.db.query_one("SELECT archive_id FROM files WHERE path=?", (str(dest),))
                    if old is not None:
                        delete_archive(ctx, old["archive_id"], remove_record=True)
            ctx.config.content.mkdir(parents=True, exist_ok=True)
            with ctx.ingest.claim(str(dest)):
                shutil.move(str(named), str(dest))
                outcome = ctx.ingest.file(str(dest), supplied=supplied or Supplied())
                if outcome.status == "failed" or outcome.archive_id is None:
                    # The client is told it failed: the file must not stay behind as an unlisted archive.
                    dest.unlink(missing_ok=True)
                    ctx.ingest.vanished([str(dest)])
                    raise ArchiveError(f"The file isn't a readable archive: {outcome.reason}", id=archive_id)
        return outcome.archive_id
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def staged_with_name(staged: Path, filename: str) -> Path:
    """Give the staged file its real name: readers pick PDF/EPUB handling by extension."""
    named = staged.parent / filename
    if not named.exists():
        os.replace(staged, named)
    return named


def delete_archive(ctx: Any, archive_id: str, *, remove_record: bool = True) -> str | None:
    """Delete the file and the record; returns the deleted file's path, or None if unknown. A folder of
    images loses only its pages and ComicInfo.xml, and goes itself only when that leaves it empty."""
    row = records.get_row(ctx.db, archive_id)
    if row is None:
        return None
    path = row["path"]
    if path:
        try:
            if os.path.isdir(path):
                folder.delete_pages(Path(path))
            else:
                os.remove(path)
        except FileNotFoundError:
            pass
    if remove_record:
        records.delete_rows(ctx.db, [archive_id])
    pages.drop_thumbnails(ctx.config.thumbs, archive_id)
    ctx.settings.touch_cache()
    return path

