"""/api/archives/{id}/stamps and /api/stamps/{id}."""

from __future__ import annotations

import bottle

from lrr_lite.http.api.common import envelope, json_reply, param, path_int
from lrr_lite.library import stamps


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db

    @app.get("/api/archives/<archive_id>/stamps", operation="get_stamped_pages")
    def stamped_pages(archive_id: str) -> str:
        return json_reply({"result": stamps.stamped_pages(db, archive_id)})

    @app.get("/api/archives/<archive_id>/stamps/<index>", operation="get_stamps_by_page")
    def on_page(archive_id: str, index: str) -> str:
        return json_reply({"result": stamps.stamps_on_page(db, archive_id, path_int(index, "index"))})

    @app.put("/api/archives/<archive_id>/stamps/<index>", secure=True, operation="add_stamp")
    def add(archive_id: str, index: str) -> str:
        page = path_int(index, "index")
        stamp_id = ctx.archives.add_stamp(archive_id, page, param("content", "") or "", param("position", "") or "")
        return json_reply({"operation": "add_stamp", "stamp_id": stamp_id, "success": 1})

    @app.get("/api/stamps/<stamp_id>", operation="get_stamp")
    def get(stamp_id: str) -> str:
        stamp = stamps.get_stamp(db, stamp_id)
        # the spec's bare object, plus the `result` copy LANraragi itself sends (SEMANTICS §18 Do line)
        return json_reply({**stamp, "result": dict(stamp)})

    @app.put("/api/stamps/<stamp_id>", secure=True, operation="update_stamp")
    def update(stamp_id: str) -> str:
        ctx.archives.update_stamp(stamp_id, param("content"), param("position"))
        return envelope("update_stamp", "Stamp updated.")

    @app.delete("/api/stamps/<stamp_id>", secure=True, operation="delete_stamp")
    def delete(stamp_id: str) -> str:
        ctx.archives.delete_stamp(stamp_id)
        return envelope("delete_stamp", "Stamp deleted.")
