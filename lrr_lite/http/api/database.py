"""/api/database: tag statistics, backup and restore, new flags, clean, drop."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import bottle

from lrr_lite.http.api.common import ApiError, envelope, int_param, json_reply, param, path_int
from lrr_lite.http.api.files import content_disposition
from lrr_lite.library import backup, housekeeping, records
from lrr_lite.media import memory


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db
    backups_dir = ctx.config.data / "backups"

    @app.get("/api/database/stats", operation="tag_stats")
    def stats() -> bytes | Iterator[bytes]:
        minweight = int_param("minweight", 1)
        hide = param("hide_excluded_namespaces") == "true"
        minweight = 1 if minweight is None else minweight
        bottle.response.content_type = "application/json;charset=UTF-8"
        hidden = sorted({ns.lower() for ns in ctx.settings.excluded_namespaces}) if hide else []
        streamed = records.tag_stats_chunks(db, minweight, hidden)
        if streamed is not None:
            return streamed
        body = housekeeping.tag_stats_json(db, ctx.settings, minweight, hide).encode()
        memory.trim()  # the whole list was built in one buffer
        return body

    @app.get("/api/database/backup", secure=True, operation="backup")
    def backup_now() -> str:
        return json_reply(backup.make_backup(db))

    @app.post("/api/database/backup", secure=True, operation="queue_backup")
    def queue_backup() -> str:
        return json_reply({"operation": "queue_backup", "success": 1, "job": ctx.jobs.enqueue("backup_json", [])})

    @app.get("/api/database/backup/<job_id>", secure=True, operation="download_backup")
    def download_backup(job_id: str):
        job = ctx.jobs.get(path_int(job_id, "jobid"))
        if job is None or job["task"] != "backup_json":
            raise ApiError("download_backup", "Job not found")
        if job["state"] != "finished":
            raise ApiError("download_backup", f"Job not completed yet (state: {job['state']})")
        result = job["result"] if isinstance(job["result"], dict) else {}
        if not result.get("path"):
            raise ApiError("download_backup", "Backup file not available")
        path = Path(result["path"])
        if not path.is_file():
            raise ApiError("download_backup", "Backup file not found on disk")
        if param("format") == "json":
            bottle.response.content_type = "application/json;charset=UTF-8"
            return path.read_bytes()
        bottle.response.content_type = "application/json"
        bottle.response.set_header("Content-Disposition", content_disposition("attachment", path.name))
        return path.read_bytes()

    @app.post("/api/database/restore", secure=True, operation="queue_restore")
    def restore() -> str:
        try:
            upload = bottle.request.files.get("file")
        except ValueError:
            upload = None
        if upload is None:
            raise ApiError("queue_restore", "No file provided")
        if (upload.content_type or "").split(";")[0].strip().lower() != "application/json":
            raise ApiError("queue_restore", "File must be JSON")
        raw = upload.file.read()
        try:
            json.loads(raw)
        except ValueError:
            raise ApiError("queue_restore", "File must be JSON") from None
        ctx.config.temp.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=ctx.config.temp, prefix="restore-", suffix=".json",
                                         delete=False) as fh:
            fh.write(raw)
        job = ctx.jobs.enqueue("restore_backup", [fh.name])
        return json_reply({"operation": "queue_restore", "success": 1, "job": job})

    @app.delete("/api/database/isnew", secure=True, operation="clear_new_all")
    def clear_new_all() -> str:
        housekeeping.clear_new_all(db, ctx.settings)
        return envelope("clear_new_all")

    @app.post("/api/database/clean", secure=True, operation="clean_database")
    def clean() -> str:
        counts = housekeeping.clean_database(db, ctx.settings, backups_dir)
        return json_reply({"operation": "clean_database", "deleted": counts["deleted"],
                           "unlinked": counts["unlinked"], "success": 1})

    @app.post("/api/database/drop", secure=True, operation="drop_database")
    def drop() -> str:
        housekeeping.drop_database(db, ctx.settings, backups_dir, ctx.config.api_key)
        # The files are still in the content folder: import them afresh, as LANraragi's watcher does.
        ctx.jobs.enqueue("scan_library", [], priority=10)
        return envelope("drop_database")
