"""/api/tankoubons: tanks, their ordered members, progress and thumbnails (SEMANTICS §8)."""

from __future__ import annotations

import json

import bottle

from lrr_lite.http.api.categories import check_length
from lrr_lite.http.api.common import ApiError, envelope, int_param, json_reply, param, path_int
from lrr_lite.http.api.files import send_placeholder, send_thumbnail
from lrr_lite.library import collections, pages

# {archive} never matches "thumbnail": PUT /api/tankoubons/{id}/thumbnail is a different operation.
MEMBER = "<archive:re:(?!thumbnail$)[^/]+>"


def truthy(value: str | None) -> bool:
    """Perl truth with LANraragi's extra `ne "false"`: not empty, not "0", not "false"."""
    return bool(value) and value not in ("0", "false")


def read_json_body(operation: str):
    """The request's JSON body; malformed or non-UTF-8 JSON is a 400 envelope, never a 500."""
    raw = bottle.request.body.read()
    if not raw.strip():
        raise ApiError(operation, "No JSON body supplied.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(operation, "Malformed JSON body.") from None


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db

    def page_size() -> int:
        return max(1, int(ctx.settings.get("pagesize")))

    @app.get("/api/tankoubons", operation="get_tankoubon_list")
    def list_tanks() -> str:
        page = int_param("page", 0)
        return json_reply(collections.list_tankoubons(db, page if page is not None else 0, page_size()))

    @app.put("/api/tankoubons", secure=True, operation="create_tankoubon")
    def create() -> str:
        tank_id = param("tankid")
        new_id = ctx.collections.create_tankoubon(param("name"), tank_id or None)
        return json_reply({"operation": "create_tankoubon", "success": 1, "tankoubon_id": new_id})

    @app.get("/api/tankoubons/<tank_id>", operation="get_tankoubon")
    def get(tank_id: str) -> str:
        # Flat tank (0.9.8 clients) with the older `result`/`total`/`filtered` wrapper beside it (Mihon).
        page = int_param("page", 0)
        return json_reply(collections.get_tankoubon(
            db, tank_id, page=page if page is not None else 0, page_size=page_size(),
            full_data=truthy(param("include_full_data")), flat=True))

    @app.get("/api/tankoubons/<tank_id>/full", operation="get_tankoubon_full")
    def get_full(tank_id: str) -> str:
        page = int_param("page", -1)
        return json_reply(collections.get_tankoubon(
            db, tank_id, page=page if page is not None else -1, page_size=page_size(), full_data=True))

    @app.put("/api/tankoubons/<tank_id>", secure=True, operation="update_tankoubon")
    def update(tank_id: str) -> str:
        archives, metadata = collections.parse_tank_update(read_json_body("update_tankoubon"))
        message = ctx.collections.update_tankoubon(tank_id, archives, metadata)
        return envelope("update_tankoubon", message)

    @app.delete("/api/tankoubons/<tank_id>", secure=True, operation="delete_tankoubon")
    def delete(tank_id: str) -> str:
        if len(tank_id) != 15:
            raise ApiError("delete_tankoubon", collections.NO_SUCH_TANK)
        ctx.collections.delete_tankoubon(tank_id)
        return envelope("delete_tankoubon")

    @app.put("/api/tankoubons/<tank_id>/progress/<page_no>", progress=True, operation="update_tank_progress")
    def progress(tank_id: str, page_no: str) -> str:
        check_length(tank_id, "id", 15, 15)
        page_value = path_int(page_no, "page")
        if ctx.settings.get("localprogress") and not ctx.settings.get("authprogress"):
            raise ApiError("update_tank_progress", "Server-side Progress Tracking is disabled on this instance.")
        when = ctx.collections.update_tank_progress(tank_id, page_value)
        return json_reply({"id": tank_id, "lastreadtime": when, "operation": "update_tank_progress",
                           "page": page_value, "success": 1})

    @app.put(f"/api/tankoubons/<tank_id>/{MEMBER}", secure=True, operation="add_to_tankoubon")
    def add(tank_id: str, archive: str) -> str:
        check_length(archive, "archive", 40, 40)
        message = ctx.collections.add_to_tankoubon(tank_id, archive)
        return envelope("add_to_tankoubon", message)

    @app.delete(f"/api/tankoubons/<tank_id>/{MEMBER}", secure=True, operation="remove_from_tankoubon")
    def remove(tank_id: str, archive: str) -> str:
        check_length(archive, "archive", 40, 40)
        message = ctx.collections.remove_from_tankoubon(tank_id, archive)
        return envelope("remove_from_tankoubon", message)

    @app.get("/api/tankoubons/<tank_id>/thumbnail", operation="serve_tankoubon_thumbnail")
    def get_thumbnail(tank_id: str):
        path = collections.tank_cover_path(ctx.config.thumbs, tank_id)
        if path.is_file():
            return send_thumbnail(path)
        known = db.query_one("SELECT 1 FROM tank_archives WHERE tank_id = ? LIMIT 1", (tank_id,)) is not None
        if known:
            args = [str(ctx.config.thumbs), tank_id]
            job = ctx.jobs.find_pending("tank_thumbnail_task", args) or ctx.jobs.enqueue("tank_thumbnail_task", args)
            if param("no_fallback") == "true":
                return json_reply({"operation": "serve_tankoubon_thumbnail", "success": 1, "job": job}, 202)
        return send_placeholder()

    @app.put("/api/tankoubons/<tank_id>/thumbnail", secure=True, operation="update_tankoubon_thumbnail")
    def put_thumbnail(tank_id: str) -> str:
        page = int_param("page", 1)
        with ctx.locks.hold("tankoubon-write", tank_id):
            dest = pages.make_tank_thumbnail(ctx, tank_id, 1 if page is None else page)
        return json_reply({"operation": "update_tankoubon_thumbnail", "new_thumbnail": str(dest), "success": 1})
