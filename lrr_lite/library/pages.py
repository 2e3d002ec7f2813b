"""Pages and thumbnails of an archive: reading members in place, cover and page thumbnail files."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

from lrr_lite.errors import ArchiveError, DomainError, ImageError, Invalid, NotFound
from lrr_lite.library import covers, records
from lrr_lite.library.collections import tank_cover_path
from lrr_lite.media import formats, thumbs

log = logging.getLogger(__name__)


class MemberNotFound(NotFound):
    """The archive exists but holds no member of that name (404 where a missing archive is 400)."""


def _thumbnail(data: bytes, quality: int) -> bytes:
    try:
        return thumbs.make_thumbnail(data, quality=quality)
    except ImageError as exc:
        raise ImageError(f"Couldn't make a thumbnail: {exc}") from None


def cover_path(thumb_dir: Path, archive_id: str) -> Path:
    return thumb_dir / archive_id[:2] / f"{archive_id}.jpg"


def drop_thumbnails(thumb_dir: Path, archive_id: str) -> None:
    """Remove an archive's cover and page thumbnails (its content changed, or it is gone)."""
    cover = cover_path(thumb_dir, archive_id)
    cover.unlink(missing_ok=True)
    shutil.rmtree(cover.parent / archive_id, ignore_errors=True)


def page_thumb_path(thumb_dir: Path, archive_id: str, page: int) -> Path:
    return thumb_dir / archive_id[:2] / archive_id / f"{page}.jpg"


def thumb_path(thumb_dir: Path, archive_id: str, page: int) -> Path:
    """page 0 = the cover; page N >= 1 = a page thumbnail (page 1 is a separate file from the cover)."""
    return cover_path(thumb_dir, archive_id) if page <= 0 else page_thumb_path(thumb_dir, archive_id, page)


def pages_of(ctx: Any, archive_id: str) -> tuple[Path, list[str]]:
    """(file path, ordered pages) of an archive whose file exists; lists and stores pages if unknown."""
    row = records.require_row(ctx.db, archive_id)
    path = Path(row["path"])
    if not path.is_file():
        raise NotFound(records.NO_SUCH_ID)
    pages = records.page_list(ctx.db, archive_id)
    if pages is None:
        pages = formats.list_pages(path)
        with ctx.db.write() as conn:
            records.store_pages(conn, archive_id, pages)
    return path, pages


def read_member(ctx: Any, archive_id: str, name: str, row: Any = None) -> bytes:
    """Bytes of the member named exactly `name` (MemberNotFound if the archive has no such member). `row`:
    the archive's row when the caller has already looked it up."""
    row = row if row is not None else records.require_row(ctx.db, archive_id)
    path = Path(row["path"])
    if not name or "\x00" in name:
        raise Invalid("Invalid path.")
    known = name in (records.page_list(ctx.db, archive_id) or ())
    try:
        return formats.read_member(path, name, cache=ctx.cache, key=archive_id, known_member=known)
    except KeyError:
        raise MemberNotFound(f"File not found in archive: {name}") from None
    except (ArchiveError, OSError) as exc:
        raise ArchiveError(f"Couldn't read the archive: {exc}") from None


def open_member(ctx: Any, archive_id: str, name: str, row: Any) -> formats.MemberStream:
    """The member named exactly `name` as a stream of chunks (read_member's errors; ArchiveError may also
    come while it is iterated). The caller closes it, or hands it to the WSGI server, which does."""
    if not name or "\x00" in name:
        raise Invalid("Invalid path.")
    known = name in (records.page_list(ctx.db, archive_id) or ())
    try:
        return formats.open_member(Path(row["path"]), name, cache=ctx.cache, key=archive_id, known_member=known)
    except KeyError:
        raise MemberNotFound(f"File not found in archive: {name}") from None
    except (ArchiveError, OSError) as exc:
        raise ArchiveError(f"Couldn't read the archive: {exc}") from None


def read_page(ctx: Any, archive_id: str, page: int) -> bytes:
    """Page N (1-based) of the archive's page list."""
    _, pages = pages_of(ctx, archive_id)
    if not pages:
        raise Invalid("This archive has no pages.")
    if not 1 <= page <= len(pages):
        raise Invalid(f"Page {page} out of range.")
    return read_member(ctx, archive_id, pages[page - 1])


def make_thumbnail(ctx: Any, archive_id: str, page: int) -> Path:
    """Write the thumbnail file for page (0 = cover made from page 1) and return its path. A cover that
    cannot be made is recorded with its reason (covers.py: retried with back-off)."""
    if page > 0:
        return _make_thumbnail(ctx, archive_id, page)
    try:
        made = _make_thumbnail(ctx, archive_id, page)
    except (DomainError, OSError) as exc:
        covers.record_failure(ctx.db, archive_id, getattr(exc, "message", None) or str(exc))
        raise
    covers.clear_failure(ctx.db, archive_id)
    return made


def _make_thumbnail(ctx: Any, archive_id: str, page: int) -> Path:
    source_page = max(page, 1)
    data = read_page(ctx, archive_id, source_page)
    hq = page <= 0 or bool(ctx.settings.get("hqthumbpages"))
    jpeg = _thumbnail(data, quality=80 if hq else 50)
    dest = thumb_path(ctx.config.thumbs, archive_id, page)
    thumbs.write_atomic(dest, jpeg)
    if page <= 0:
        with ctx.db.write() as conn:
            conn.execute("UPDATE archives SET thumbhash=? WHERE id=?", (hashlib.sha1(data).hexdigest(), archive_id))
    return dest


def set_cover(ctx: Any, archive_id: str, page: int) -> Path:
    """PUT …/thumbnail?page=N: the cover is rebuilt now from page N."""
    data = read_page(ctx, archive_id, page)
    jpeg = _thumbnail(data, quality=80)
    dest = cover_path(ctx.config.thumbs, archive_id)
    thumbs.write_atomic(dest, jpeg)
    with ctx.db.write() as conn:
        conn.execute("UPDATE archives SET thumbhash=? WHERE id=?", (hashlib.sha1(data).hexdigest(), archive_id))
    return dest


def tank_page(ctx: Any, tank_id: str, global_page: int) -> tuple[str, int]:
    """(archive ID, page within it) of a tankoubon's global page: member pages concatenated in order."""
    members = ctx.db.query("SELECT a.id, a.pagecount FROM tank_archives t JOIN archives a ON a.id = t.archive_id "
                           "WHERE t.tank_id = ? AND a.path != '' ORDER BY t.position", (tank_id,))
    left = global_page
    for member in members:
        count = member["pagecount"] or len(pages_of(ctx, member["id"])[1])
        if 1 <= left <= count:
            return member["id"], left
        left -= count
    raise Invalid(f"Page {global_page} is out of range for this tankoubon.")


def make_tank_thumbnail(ctx: Any, tank_id: str, global_page: int = 1) -> Path:
    """Cover of a tankoubon from its global page (default: the first member's first page)."""
    archive_id, page = tank_page(ctx, tank_id, global_page)
    data = read_page(ctx, archive_id, page)
    jpeg = _thumbnail(data, quality=80)
    dest = tank_cover_path(ctx.config.thumbs, tank_id)
    thumbs.write_atomic(dest, jpeg)
    return dest
