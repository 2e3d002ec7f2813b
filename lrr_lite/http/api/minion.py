"""/api/minion: job status, detail and queueing under Minion's shapes."""

from __future__ import annotations

import json
from typing import Any

import bottle

from lrr_lite.http.api.common import ApiError, json_reply, param, path_int

QUEUEABLE = ("thumbnail_task", "tank_thumbnail_task", "page_thumbnails", "regen_all_thumbnails",
             "find_duplicates", "build_stat_hashes", "handle_upload", "download_url", "run_plugin")


def _text(value: Any) -> str:
    """A value as LANraragi's Minion (on Redis) hands it out: a string. Strings stay as they are; numbers,
    booleans, null and nested values become their JSON text (6 -> "6", {"a": 1} -> '{"a":1}')."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _epoch(value: float | None) -> str | None:
    """A timestamp as Perl prints Time::HiRes::time (15 significant digits: "1795333218.40813")."""
    return None if value is None else f"{float(value):.15g}"


def client_notes(notes: Any) -> dict[str, str]:
    """Job notes with string values (aio-lanraragi reads them as dict[str, str])."""
    if not isinstance(notes, dict):
        return {}
    return {str(key): _text(value) for key, value in notes.items()}


def client_result(result: Any) -> Any:
    """The job's result; `errors` (where present) as a list of messages, as LANraragi's tasks give it, not
    our id -> message map (aio-lanraragi reads it as list[str])."""
    if not isinstance(result, dict) or "errors" not in result:
        return result
    errors = result["errors"]
    if isinstance(errors, list):
        listed = [_text(message) for message in errors]
    elif isinstance(errors, dict):
        listed = [f"{key}: {_text(message)}" for key, message in errors.items()]
    else:
        listed = [] if errors in (None, "") else [_text(errors)]
    return {**result, "errors": listed}


def job_detail(job: dict) -> dict:
    """GET /api/minion/{id}/detail as LANraragi 0.9.81 sends it (oracle minion_thumbjob_detail.json): Minion's
    Redis backend hands every stored field back as a string (`id`, `attempts`, `priority`, `retries`,
    `worker`, the timestamps); what was never set (`started`, `finished`, `worker` before a worker took
    the job, `retried`) is null; `expires`, `lax` and `time` are not sent. SEMANTICS §12 says numbers:
    the sample wins."""
    worker = job["worker"]
    return {
        "args": job["args"], "attempts": _text(job["attempts"]), "children": [],
        "created": _epoch(job["created"]), "delayed": _epoch(job["created"]), "finished": _epoch(job["finished"]),
        "id": _text(job["id"]), "notes": client_notes(job["notes"]), "parents": [],
        "priority": _text(job["priority"]), "queue": job["queue"], "result": client_result(job["result"]),
        "retried": None, "retries": _text(job["retries"]), "started": _epoch(job["started"]),
        "state": job["state"], "task": job["task"], "worker": None if worker is None else _text(worker),
    }


def mount(app: bottle.Bottle, ctx) -> None:
    def find(job_id: str, operation: str) -> dict:
        job = ctx.jobs.get(path_int(job_id, "jobid"))
        if job is None:
            raise ApiError(operation, "No job with this ID.")
        return job

    @app.get("/api/minion/<job_id>", operation="minion_job_status")
    def status(job_id: str) -> str:
        job = find(job_id, "minion_job_status")
        return json_reply({"error": "", "notes": client_notes(job["notes"]), "state": job["state"],
                           "task": job["task"]})

    @app.get("/api/minion/<job_id>/detail", secure=True, operation="minion_job_detail")
    def detail(job_id: str) -> str:
        return json_reply(job_detail(find(job_id, "minion_job_detail")))

    @app.post("/api/minion/<job_name>/queue", secure=True, operation="queue_minion_job")
    def queue(job_name: str) -> str:
        if job_name not in QUEUEABLE or job_name not in ctx.jobs.handlers:
            raise ApiError("queue_minion_job", f"Unknown or unsupported job type: {job_name}")
        raw = param("args")
        try:
            args = json.loads(raw) if raw else None
        except ValueError:
            args = None
        if not isinstance(args, list):
            raise ApiError("queue_minion_job", "args must be a JSON array.")
        priority = param("priority")
        try:
            prio = int(priority) if priority not in (None, "") else 0
        except ValueError:
            raise ApiError("queue_minion_job", "priority must be an integer.") from None
        if abs(prio) > 2**31:
            raise ApiError("queue_minion_job", "priority is out of range.")
        job = ctx.jobs.enqueue(job_name, args, priority=prio)
        return json_reply({"operation": "queue_minion_job", "success": 1, "job": job})
