"""Pages and thumbnails of an archive: reading members in place, cover and page thumbnail files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lrr_lite.errors import ArchiveError, Busy, DomainError, ImageError, Invalid, NotFound
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


def archive_present(path: Path) -> bool:
    """The archive's file, or its folder for a folder of images (media/formats/folder.py), exists. A record
    whose file is gone has the path '', which Path makes '.': never the working folder."""
    return path.is_file() or (str(path) not in ("", ".") and path.is_dir())


def pages_of(ctx: Any, archive_id: str) -> tuple[Path, list[str]]:
    """(file path, ordered pages) of an archive whose file exists; lists and stores pages if unknown."""
    row = records.require_row(ctx.db, archive_id)
    path = Path(row["path"])
    if not archive_present(path):
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
    except Busy:
        raise  # the page budget was taken: no fault of the archive, nothing to retry with back-off
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


COVER_BATCH = 256  # covers whose thumbhash (and cleared failure) one write transaction records


def _cover_file(ctx: Any, archive_id: str, path: Path, first_page: str | None) -> str:
    """Make one cover file from the archive's first page; returns the SHA-1 of that page (the thumbhash).

    Runs in the cover pool's threads, so it touches no database: a thread that ends leaves its connection
    open in Database's list until the database closes. Raises DomainError/OSError like make_thumbnail."""
    if not archive_present(path):
        raise NotFound(records.NO_SUCH_ID)
    if first_page is None:
        raise Invalid("This archive has no pages.")
    try:
        data = formats.read_member(path, first_page, cache=ctx.cache, key=archive_id, known_member=True)
    except KeyError:
        raise MemberNotFound(f"File not found in archive: {first_page}") from None
    except (ArchiveError, OSError) as exc:
        raise ArchiveError(f"Couldn't read the archive: {exc}") from None
    thumbs.write_atomic(cover_path(ctx.config.thumbs, archive_id), _thumbnail(data, quality=80))
    return hashlib.sha1(data).hexdigest()


def _first_pages(ctx: Any, rows: list[Any]) -> Iterator[tuple[str, Path, str | None]]:
    """(id, file, first page) of archive rows, page lists read a chunk at a time (and listed if unknown)."""
    for start in range(0, len(rows), COVER_BATCH):
        chunk = rows[start:start + COVER_BATCH]
        marks = ",".join("?" * len(chunk))
        stored = {r["archive_id"]: r["pages"] for r in ctx.db.query(
            f"SELECT archive_id, pages FROM archive_pages WHERE archive_id IN ({marks})",
            [r["id"] for r in chunk])}
        for row in chunk:
            raw = stored.get(row["id"])
            if raw is not None:
                names = json.loads(raw)
            else:
                try:
                    names = pages_of(ctx, row["id"])[1]
                except (DomainError, OSError):
                    names = []  # _cover_file says why (no file, no pages)
            yield row["id"], Path(row["path"]), names[0] if names else None


def cover_workers(wanted: int) -> int:
    """Decode threads for a batch of covers: at most one per CPU this process may run on. A second thread on
    one core only adds GIL and thread hand-offs (measured 238 covers/s with two on one core)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(wanted, cpus))


def make_covers(ctx: Any, rows: list[Any], workers: int,
                progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Make the covers of archive rows (id, path): decoded by `workers` threads (the decodes release the
    GIL, so two cores make two covers at once; thumbs' decode slots and memory budget still bound them),
    each archive opened once, and the thumbhashes written COVER_BATCH to a transaction. With one worker (one
    CPU) the covers are made in the calling thread, with no pool. A cover that cannot be made is recorded
    with its reason (covers.py). Returns {archive id: reason} of those.

    A cover that could not get its share of the memory budget in time (Busy: pages being read for clients,
    a big decode) is no fault of the archive: it is tried once more after the others, in this thread, and if
    the budget is still taken it is left for the next cover job, not recorded as failed (which would have
    kept it waiting up to a day)."""
    errors: dict[str, str] = {}
    made: list[tuple[str, str]] = []  # (thumbhash, archive id) not yet written
    failed_before = covers.failed_ids(ctx.db)
    done = 0

    def flush() -> None:
        if made:
            covers.record_made(ctx.db, made, failed_before)
            made.clear()

    deferred: list[tuple[str, Path, str | None]] = []  # covers that met a busy budget, tried once more
    still_busy = 0

    def collect(archive_id: str, result: Callable[[], str], again: tuple[str, Path, str | None] | None) -> None:
        nonlocal done, still_busy
        try:
            made.append((result(), archive_id))
        except Busy:
            if again is not None:
                deferred.append(again)
                return  # counted when it is tried again
            still_busy += 1
        except (DomainError, OSError) as exc:
            reason = getattr(exc, "message", None) or str(exc)
            if covers.record_failure(ctx.db, archive_id, reason):  # (not one whose file left meanwhile)
                errors[archive_id] = reason
        done += 1
        if len(made) >= COVER_BATCH:
            flush()
        if progress is not None:
            progress(done)

    workers = cover_workers(workers)
    try:
        if workers == 1:
            for item in _first_pages(ctx, rows):
                ctx.foreground.give_way()  # covers are background work: a request in flight goes first
                collect(item[0], lambda: _cover_file(ctx, *item), item)  # noqa: B023 (called at once)
        else:
            pending: deque[tuple[tuple[str, Path, str | None], Future[str]]] = deque()
            with ThreadPoolExecutor(workers, thread_name_prefix="covers") as pool:
                for item in _first_pages(ctx, rows):
                    ctx.foreground.give_way()
                    pending.append((item, pool.submit(_cover_file, ctx, *item)))
                    if len(pending) >= 4 * workers:  # a short queue: page bytes are held only while in flight
                        item, future = pending.popleft()
                        collect(item[0], future.result, item)
                while pending:
                    item, future = pending.popleft()
                    collect(item[0], future.result, item)
        for item in deferred:
            collect(item[0], lambda: _cover_file(ctx, *item), None)  # noqa: B023 (called at once)
    finally:
        flush()  # what was made before an unexpected error keeps its thumbhash
    if still_busy:
        log.info("covers: %d left for the next cover job: the memory budget for pages stayed busy", still_busy)
    return errors


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
