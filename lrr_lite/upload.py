"""Archive upload and deletion (SEMANTICS §11, §17): the file and its record move together."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from . import collections, formats, library, pages, scan
from .errors import ApiError, ArchiveError
from .locks import resource_lock

log = logging.getLogger(__name__)

OP = "upload"
CHUNK = 1 << 20


def _fail(message: str, status: int, **extra: str) -> ApiError:
    return ApiError(OP, message, status, extra=extra, envelope=False)


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


def receive(ctx, stream: BinaryIO, raw_name: str, *, checksum: str | None, title: str | None,
            tags: str | None, summary: str | None, category_id: str | None) -> str:
    """Store an uploaded archive in the content folder and import it. Returns the new ID."""
    filename = safe_filename(raw_name)
    staging = Path(tempfile.mkdtemp(prefix="upload-", dir=ctx.config.temp))
    try:
        staged = staging / "file"
        whole = hashlib.sha1()
        head = hashlib.sha1()
        head_left = scan.ID_BYTES
        with open(staged, "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                whole.update(chunk)
                if head_left > 0:
                    head.update(chunk[:head_left])
                    head_left -= len(chunk)
        if checksum is not None and checksum != "" and checksum != whole.hexdigest():
            raise _fail(f"Checksum mismatch: expected {checksum}, got {whole.hexdigest()}.", 417)
        with resource_lock(f"upload:{filename}", OP):
            if not formats.is_archive_name(filename):
                raise _fail(f"Unsupported file extension ({filename})", 415)
            filename = truncate_name(filename)
            archive_id = head.hexdigest()
            if staged.stat().st_size == 0:
                raise _fail("The uploaded file is empty.", 400)
            existing = library.get_row(ctx.db, archive_id)
            replace = bool(ctx.settings.get("replacedupe"))
            dest = ctx.config.content / filename
            if existing is not None and existing["path"] and Path(existing["path"]).exists() and not replace:
                raise _fail("This file already exists in the Library. Enable replace duplicated archive in "
                            "config to replace old ones.", 409, id=archive_id)
            if dest.exists() and not replace:
                raise _fail("A file with the same name is present in the Library. Enable replace duplicated "
                            "archive in config to replace old ones.", 409, id=archive_id)
            try:
                formats.list_pages(staged_with_name(staged, filename))
            except ArchiveError as exc:
                raise _fail(f"The file isn't a readable archive: {exc}", 422, id=archive_id) from None
            if replace:
                if existing is not None and existing["path"] and existing["path"] != str(dest):
                    delete_archive(ctx, archive_id, remove_record=True)
                if dest.exists():
                    old = ctx.db.query_one("SELECT archive_id FROM files WHERE path=?", (str(dest),))
                    if old is not None:
                        delete_archive(ctx, old["archive_id"], remove_record=True)
            ctx.config.content.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(staged_with_name(staged, filename)), str(dest))
            except OSError as exc:
                raise _fail(f"The file couldn't be moved to your content folder: {exc}", 500,
                            id=archive_id) from None
            st = dest.stat()
            try:
                archive_id, _ = scan.import_file(ctx.db, ctx.settings, str(dest), st, archive_id)
            except ArchiveError as exc:
                raise _fail(f"The file isn't a readable archive: {exc}", 422, id=archive_id) from None
            with ctx.db.write() as conn:
                current = conn.execute("SELECT tags FROM archives WHERE id=?", (archive_id,)).fetchone()["tags"]
                if tags:
                    # Upload keeps the client's tag string as given, then date_added is appended.
                    merged = tags + ("," + current if current else "")
                    library.write_tags(conn, archive_id, merged)
                if title and title.strip():
                    library.write_title(conn, archive_id, title.strip())
                if summary and summary.strip():
                    conn.execute("UPDATE archives SET summary=? WHERE id=?", (summary, archive_id))
            if category_id:
                try:
                    collections.add_to_category(ctx.db, category_id, archive_id)
                except ApiError:
                    pass  # LANraragi ignores a failed category add on upload
            ctx.settings.touch_cache()
        from .plugins.runner import auto_run  # plugins import upload's neighbours; keep the cycle lazy

        auto_run(ctx, archive_id)
        try:
            pages.make_thumbnail(ctx, archive_id, 0)
        except (ApiError, ArchiveError, OSError) as exc:
            log.warning("upload: no cover for %s: %s", archive_id, getattr(exc, "message", exc))
        return archive_id
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def staged_with_name(staged: Path, filename: str) -> Path:
    """Give the staged file its real name: readers pick PDF/EPUB handling by extension."""
    named = staged.parent / filename
    if not named.exists():
        os.replace(staged, named)
    return named


def delete_archive(ctx, archive_id: str, *, remove_record: bool = True) -> str | None:
    """Delete the file and the record; returns the deleted file's path, or None if unknown."""
    row = library.get_row(ctx.db, archive_id)
    if row is None:
        return None
    path = row["path"]
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    if remove_record:
        library.delete_rows(ctx.db, [archive_id])
    cover = pages.cover_path(ctx.config.thumbs, archive_id)
    cover.unlink(missing_ok=True)
    shutil.rmtree(cover.parent / archive_id, ignore_errors=True)
    ctx.settings.touch_cache()
    return path

