"""/api/minion: job status, detail and queueing under Minion's shapes."""

from __future__ import annotations

import json

import bottle

from lrr_lite.http.api.common import ApiError, json_reply, param, path_int

QUEUEABLE = ("thumbnail_task", "tank_thumbnail_task", "page_thumbnails", "regen_all_thumbnails",
             "find_duplicates", "build_stat_hashes", "handle_upload", "download_url", "run_plugin")


def _epoch(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)


def job_detail(job: dict) -> dict:
    return {
        "args": job["args"], "attempts": job["attempts"], "children": [], "created": _epoch(job["created"]),
        "delayed": _epoch(job["created"]), "expires": None, "finished": _epoch(job["finished"]),
        "id": job["id"], "lax": 0, "notes": job["notes"], "parents": [], "priority": job["priority"],
        "queue": job["queue"], "result": job["result"], "retried": None, "retries": job["retries"],
        "started": _epoch(job["started"]), "state": job["state"], "task": job["task"],
        "time": _epoch(job["finished"] or job["started"] or job["created"]), "worker": job["worker"],
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
        return json_reply({"error": "", "notes": job["notes"], "state": job["state"], "task": job["task"]})

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
