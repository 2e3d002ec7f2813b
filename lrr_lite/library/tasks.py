"""Job handlers, under LANraragi's Minion task names and argument lists."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lrr_lite.errors import DomainError
from lrr_lite.library import backup, batch, covers, duplicates, pages, records
from lrr_lite.library.intake import download, scan, upload
from lrr_lite.library.intake.ingest import Supplied
from lrr_lite.library.jobs import JobContext

log = logging.getLogger(__name__)


def register_all(ctx) -> None:
    def thumbnail_task(job: JobContext, args: list[Any]) -> str:
        # args: [thumbdir, id, page]; the thumbdir is ours whatever a client sent
        archive_id, page = str(args[1]), int(args[2]) if len(args) > 2 else 0
        try:
            return str(pages.make_thumbnail(ctx, archive_id, page))
        except DomainError as exc:
            raise RuntimeError(exc.message) from None

    def tank_thumbnail_task(job: JobContext, args: list[Any]) -> str:
        try:
            return str(pages.make_tank_thumbnail(ctx, str(args[1]) if len(args) > 1 else ""))
        except DomainError as exc:
            raise RuntimeError(exc.message) from None

    def page_thumbnails(job: JobContext, args: list[Any]) -> dict[str, Any]:
        archive_id, force = str(args[0]), bool(args[1]) if len(args) > 1 else False
        try:
            _, page_list = pages.pages_of(ctx, archive_id)
        except DomainError as exc:
            raise RuntimeError(exc.message) from None
        notes: dict[str, Any] = {"total_pages": len(page_list), "id": archive_id}
        job.note(**notes)
        errors = {}
        for n in range(1, len(page_list) + 1):
            dest = pages.page_thumb_path(ctx.config.thumbs, archive_id, n)
            if force or not dest.exists():
                try:
                    pages.make_thumbnail(ctx, archive_id, n)
                except DomainError as exc:
                    errors[str(n)] = exc.message
            notes[str(n)] = "processed"
            job.note(**{str(n): "processed"})
        return {"success": 1, "id": archive_id, "errors": errors}

    def regen_all_thumbnails(job: JobContext, args: list[Any]) -> dict[str, Any]:
        force = bool(args[1]) if len(args) > 1 else False
        return regenerate_covers(ctx, force, job)

    def scan_library(job: JobContext, args: list[Any]) -> dict[str, Any]:
        report = scan.scan(ctx.ingest, ctx.config.content, progress=lambda r: job.note(**r.as_dict()))
        if report.added:
            ctx.ingest.request_covers()
        result = report.as_dict()
        result["errors"] = report.errors
        if report.duplicates:
            result["duplicates"] = report.duplicates
            job.note(duplicate_files=report.duplicates)
        return result

    def handle_upload(job: JobContext, args: list[Any]) -> dict[str, Any]:
        # args: [path, catid]; only files staged in our temp folder may be imported this way
        return import_staged_file(ctx, str(args[0]) if args else "", str(args[1]) if len(args) > 1 and args[1] else None)

    def extract_archive(job: JobContext, args: list[Any]) -> dict[str, Any]:
        # Fills the page cache of a stream-only archive ahead of the reader (/files?force=true).
        archive_id = str(args[0])
        try:
            _, page_list = pages.pages_of(ctx, archive_id)
            for n, name in enumerate(page_list, start=1):
                pages.read_member(ctx, archive_id, name)
                if n % 20 == 0 or n == len(page_list):
                    job.note(extracted=n, total_pages=len(page_list))
        except DomainError as exc:
            raise RuntimeError(exc.message) from None
        return {"success": 1, "id": archive_id, "pages": len(page_list)}

    def backup_json(job: JobContext, args: list[Any]) -> dict[str, Any]:
        job.note(status="running")
        dest = backup.write_backup_file(
            ctx.db, ctx.config.data / "backups", backup.backup_name(job.id),
            progress=lambda n, total: job.note(archives_processed=n, total_archives=total))
        job.note(status="finished")
        return {"success": 1, "filename": dest.name, "path": str(dest)}

    def restore_backup(job: JobContext, args: list[Any]) -> dict[str, Any]:
        source = Path(str(args[0])) if args else Path()
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
            counts = backup.restore_backup(ctx.db, data)
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"Restore failed, nothing was changed: {exc}") from None
        finally:
            if source.is_relative_to(ctx.config.temp):
                source.unlink(missing_ok=True)
        ctx.settings.touch_cache()
        return {"success": 1, **counts}

    def download_url(job: JobContext, args: list[Any]) -> dict[str, Any]:
        url = str(args[0]) if args else ""
        category = str(args[1]) if len(args) > 1 and args[1] else None
        job.note(status="downloading", url=url)
        return download.download_to_library(ctx, url, category)

    def find_duplicates(job: JobContext, args: list[Any]) -> dict[str, Any]:
        try:
            threshold = max(0, min(int(args[0]), 64)) if args else 0
        except (TypeError, ValueError):
            threshold = 0
        groups = duplicates.find_duplicates(ctx.db, ctx.config.thumbs, threshold,
                                            progress=lambda n, total: job.note(processed=n, total=total))
        return {"success": 1, "threshold": threshold, "duplicates": groups}

    def build_stat_hashes(job: JobContext, args: list[Any]) -> dict[str, Any]:
        # LANraragi rebuilds its cached tag statistics here; ours are counted as tags are written,
        # so there is nothing to rebuild: report what the statistics hold.
        tags = ctx.db.query_one("SELECT COUNT(*) FROM tag_names WHERE n > 0")[0]
        return {"success": 1, "tags": tags}

    for handler in (find_duplicates, build_stat_hashes, tank_thumbnail_task, download_url, backup_json, restore_backup, thumbnail_task, page_thumbnails, regen_all_thumbnails, scan_library, handle_upload,
                    extract_archive):
        # downloads wait on remote servers: their own lane, so they never hold the general workers
        ctx.jobs.register(handler.__name__, handler, lane="download" if handler is download_url else None)
    # the web UI's batch edits (library/batch.py): a lane of their own, so a 100k-archive batch never holds
    # the general workers that thumbnails and scans need
    ctx.jobs.register(batch.TASK, lambda job, args: batch.run(ctx, job, args[0] if args else {}), lane="batch")


def regenerate_covers(ctx, force: bool, job: JobContext | None = None) -> dict[str, Any]:
    """Make missing cover thumbnails (all of them with force). Covers that failed before wait for their next
    try (covers.py) unless forced; the result lists this run's failures and how many wait."""
    rows = ctx.db.query("SELECT id, path FROM archives WHERE path != '' ORDER BY id")
    waiting = set() if force else covers.waiting(ctx.db)
    todo = [row for row in rows if row["id"] not in waiting
            and (force or not pages.cover_path(ctx.config.thumbs, row["id"]).exists())]
    skipped = len(rows) - len(todo)

    def progress(done: int) -> None:
        if job is not None and done % 100 == 0:
            job.note(processed=skipped + done, total=len(rows))

    errors = pages.make_covers(ctx, todo, ctx.config.decode_concurrency, progress)
    done = len(rows)
    for tank in ctx.db.query("SELECT DISTINCT tank_id FROM tank_archives"):
        if force or not pages.tank_cover_path(ctx.config.thumbs, tank[0]).exists():
            try:
                pages.make_tank_thumbnail(ctx, tank[0])
            except (DomainError, OSError) as exc:
                errors[tank[0]] = getattr(exc, "message", str(exc))
    if job is not None:
        job.note(processed=done, total=len(rows), failed=len(errors), waiting_retry=len(waiting))
    return {"errors": errors, "waiting_retry": len(waiting)}


def import_staged_file(ctx, path: str, category_id: str | None) -> dict[str, Any]:
    """Minion's handle_upload: import a file waiting in the temp folder, then remove it."""
    staged = Path(path).resolve()
    temp = ctx.config.temp.resolve()
    if not staged.is_relative_to(temp) or not staged.is_file():
        return {"success": 0, "id": None, "category": category_id, "title": None,
                "message": "Only files in the server's temp folder can be imported."}
    try:
        with open(staged, "rb") as fh:
            archive_id = upload.receive(ctx, fh, staged.name, checksum=None,
                                        supplied=Supplied(category_id=category_id))
    except DomainError as exc:
        return {"success": 0, "id": exc.data.get("id"), "category": category_id, "title": staged.name,
                "message": exc.message}
    except OSError as exc:
        return {"success": 0, "id": None, "category": category_id, "title": staged.name,
                "message": f"The file couldn't be moved to your content folder: {exc}"}
    finally:
        staged.unlink(missing_ok=True)
    row = records.get_row(ctx.db, archive_id)
    title = row["title"] if row is not None else staged.name
    return {"success": 1, "id": archive_id, "category": category_id, "title": title,
            "message": f"Imported {staged.name}."}
