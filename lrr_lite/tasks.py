"""Job handlers, under LANraragi's Minion task names and argument lists."""

from __future__ import annotations

import logging
from typing import Any

from . import pages, scan
from .errors import ApiError, ArchiveError
from .jobs import JobContext

log = logging.getLogger(__name__)


def register_all(ctx) -> None:
    def thumbnail_task(job: JobContext, args: list[Any]) -> str:
        # args: [thumbdir, id, page]; the thumbdir is ours whatever a client sent
        archive_id, page = str(args[1]), int(args[2]) if len(args) > 2 else 0
        try:
            return str(pages.make_thumbnail(ctx, archive_id, page))
        except ApiError as exc:
            raise RuntimeError(exc.message) from None

    def page_thumbnails(job: JobContext, args: list[Any]) -> dict[str, Any]:
        archive_id, force = str(args[0]), bool(args[1]) if len(args) > 1 else False
        try:
            _, page_list = pages.pages_of(ctx, archive_id, "generate_page_thumbnails")
        except ApiError as exc:
            raise RuntimeError(exc.message) from None
        notes: dict[str, Any] = {"total_pages": len(page_list), "id": archive_id}
        job.note(**notes)
        errors = {}
        for n in range(1, len(page_list) + 1):
            dest = pages.page_thumb_path(ctx.config.thumbs, archive_id, n)
            if force or not dest.exists():
                try:
                    pages.make_thumbnail(ctx, archive_id, n)
                except ApiError as exc:
                    errors[str(n)] = exc.message
            notes[str(n)] = "processed"
            job.note(**{str(n): "processed"})
        return {"success": 1, "id": archive_id, "errors": errors}

    def regen_all_thumbnails(job: JobContext, args: list[Any]) -> dict[str, Any]:
        force = bool(args[1]) if len(args) > 1 else False
        return regenerate_covers(ctx, force, job)

    def scan_library(job: JobContext, args: list[Any]) -> dict[str, Any]:
        report = scan.scan(ctx.db, ctx.settings, ctx.config.content,
                           progress=lambda r: job.note(**r.as_dict()))
        if report.added:
            ctx.jobs.enqueue("regen_all_thumbnails", [str(ctx.config.thumbs), 0])
        result = report.as_dict()
        result["errors"] = report.errors
        return result

    for handler in (thumbnail_task, page_thumbnails, regen_all_thumbnails, scan_library):
        ctx.jobs.register(handler.__name__, handler)


def regenerate_covers(ctx, force: bool, job: JobContext | None = None) -> dict[str, Any]:
    """Make missing cover thumbnails (all of them with force)."""
    errors: dict[str, str] = {}
    rows = ctx.db.query("SELECT id FROM archives WHERE path != '' ORDER BY id")
    done = 0
    for row in rows:
        archive_id = row["id"]
        if force or not pages.cover_path(ctx.config.thumbs, archive_id).exists():
            try:
                pages.make_thumbnail(ctx, archive_id, 0)
            except (ApiError, ArchiveError, OSError) as exc:
                errors[archive_id] = getattr(exc, "message", str(exc))
        done += 1
        if job is not None and done % 100 == 0:
            job.note(processed=done, total=len(rows))
    if job is not None:
        job.note(processed=done, total=len(rows))
    return {"errors": errors}
