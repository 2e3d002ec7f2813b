"""/api/info, /api/tempfolder, /api/regen_thumbs."""

from __future__ import annotations

import bottle

from lrr_lite import LRR_VERSION, LRR_VERSION_DESC, LRR_VERSION_NAME
from lrr_lite.http.api.common import ApiError, json_reply, param, xml_escape
from lrr_lite.library.search.engine import visible_count


def server_info(ctx) -> dict:
    s = ctx.settings
    # archives outside tankoubons plus tankoubons; the few tank members are counted, not every archive
    total = visible_count(ctx.db) + ctx.db.query_one(
        "SELECT (SELECT COUNT(DISTINCT tank_id) FROM tank_archives) - (SELECT COUNT(*) FROM archives a "
        "WHERE a.path != '' AND a.id IN (SELECT archive_id FROM tank_archives)) AS n")["n"]
    return {
        "archives_per_page": int(s.get("pagesize")),
        "authenticated_progress": bool(s.get("authprogress")),
        "cache_last_cleared": int(s.get("cache_last_cleared")),
        "debug_mode": bool(s.get("debugmode")),
        "excluded_namespaces": s.excluded_namespaces,
        "has_password": bool(s.get("enablepass")),
        "motd": xml_escape(str(s.get("motd"))),
        "name": xml_escape(str(s.get("htmltitle"))),
        "nofun_mode": bool(s.get("nofunmode")),
        "server_resizes_images": bool(s.get("enableresize")),
        "server_tracks_progress": not s.get("localprogress"),
        "total_archives": int(total),
        "total_pages_read": int(s.get("total_pages_read")),
        "version": LRR_VERSION,
        "version_desc": LRR_VERSION_DESC,
        "version_name": LRR_VERSION_NAME,
    }


def mount(app: bottle.Bottle, ctx) -> None:
    @app.get("/api/info", operation="server_info")
    def info() -> str:
        return json_reply(server_info(ctx))

    @app.delete("/api/tempfolder", secure=True, operation="cleantemp")
    def clean_temp() -> str:
        try:
            newsize = ctx.cache.clear()
            error = ""
        except OSError as exc:
            newsize, error = ctx.cache.size(), str(exc)
        return json_reply({"operation": "cleantemp", "success": 1, "error": error, "newsize": newsize})

    @app.post("/api/download_url", secure=True, operation="download_url")
    def download_url() -> str:
        url = (param("url") or "").strip()
        if not url:
            raise ApiError("download_url", "No URL specified.")
        catid = param("catid") or None
        job = ctx.jobs.enqueue("download_url", [url, catid])
        return json_reply({"operation": "download_url", "url": url, "category": catid, "success": 1, "job": job})

    @app.post("/api/regen_thumbs", secure=True, operation="regen_thumbnails")
    def regen_thumbs() -> str:
        force = param("force")
        forced = bool(force) and force != "false"
        job = ctx.jobs.enqueue("regen_all_thumbnails", [str(ctx.config.thumbs), 1 if forced else 0])
        return json_reply({"operation": "regen_thumbnails", "success": 1, "job": job})
