"""The 0.6/0.7-era client API (SEMANTICS §19): thin aliases that call the modern handlers.

Each alias is mounted with the auth class of its modern twin and forwards to that route's own
callback, so there is one implementation of every operation. `?key=` works on all of them (the
app-wide auth accepts it everywhere, as 0.6.x clients only know that form).

An alias of a modern write (PUT/POST/DELETE) answers GET, as 0.6.x did, so it is mounted `writes=True`:
a link or <img> on any web page could otherwise trigger it with the browser's session cookie
(auth.is_authenticated then takes only the key, or the Authorization header, on a GET).

Two legacy operations have no modern twin and are served here: `/api/extract` (0.7's relative page URLs)
and auto-plugin (`POST /api/autoplugin?id=`, `POST /api/archives/{id}/autoplugin`), which runs the enabled
auto-run plugins on one archive through library.plugins.runner.auto_run and answers in 0.7's shape.
A missing `id` is answered `{"error": "API usage: <endpoint>?id=YOUR_ID"}` (plus operation and success),
the endpoint named without its /api/ prefix as 0.6/0.7's check_id_parameter did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import bottle

from lrr_lite.http.api.common import ApiError, check_archive_id, json_reply, param
from lrr_lite.library import pages, records
from lrr_lite.library.plugins.runner import auto_run
from lrr_lite.library.tags import split_tags

# legacy path, modern method, modern rule, takes ?id=, needs the API key
ALIASES: list[tuple[str, str, str, bool, bool]] = [
    ("/api/archivelist", "GET", "/api/archives", False, False),
    ("/api/untagged", "GET", "/api/archives/untagged", False, False),
    ("/api/thumbnail", "GET", "/api/archives/<archive_id>/thumbnail", True, False),
    ("/api/servefile", "GET", "/api/archives/<archive_id>/download", True, False),
    ("/api/page", "GET", "/api/archives/<archive_id>/page", True, False),
    ("/api/clear_new", "DELETE", "/api/archives/<archive_id>/isnew", True, False),
    ("/api/tagstats", "GET", "/api/database/stats", False, False),
    ("/api/clean_temp", "DELETE", "/api/tempfolder", False, True),
    ("/api/discard_cache", "DELETE", "/api/search/cache", False, True),
    ("/api/backup", "GET", "/api/database/backup", False, True),
    ("/api/clear_new_all", "DELETE", "/api/database/isnew", False, True),
    ("/api/drop_database", "POST", "/api/database/drop", False, True),
    ("/api/clean_database", "POST", "/api/database/clean", False, True),
    ("/api/shinobu_status", "GET", "/api/shinobu", False, True),
    ("/api/stop_shinobu", "POST", "/api/shinobu/stop", False, True),
    ("/api/restart_shinobu", "POST", "/api/shinobu/restart", False, True),
    ("/api/use_plugin", "POST", "/api/plugins/use", False, True),
    ("/api/plugin/use", "POST", "/api/plugins/use", False, True),
]


def _modern(app: bottle.Bottle, method: str, rule: str) -> Callable[..., Any] | None:
    for route in app.routes:
        if route.rule == rule and route.method == method:
            return route.callback
    return None


def _require_id(endpoint: str) -> str:
    """The `id` parameter; without it 0.6/0.7's check_id_parameter answer, which names the endpoint without
    its /api/ prefix: "API usage: thumbnail?id=YOUR_ID" (SEMANTICS §19)."""
    archive_id = param("id")
    if not archive_id:
        name = endpoint.removeprefix("/api/")
        raise ApiError(name, f"API usage: {name}?id=YOUR_ID", envelope=False)
    return archive_id


AUTOPLUGIN_UNKNOWN = "ID not found in database or AutoPlugin disabled by admin."


def _autoplugin_reply(ctx, archive_id: str) -> str:
    """0.6/0.7's use_enabled_plugins: run the enabled auto-run plugins on one archive and apply their results.
    Answered 200 either way, as it was: `success` 1 with a count message, or 0 for an unknown ID."""
    row = records.get_row(ctx.db, archive_id)
    if row is None or not row["path"]:
        return json_reply({"operation": "autoplugin", "id": archive_id, "success": 0,
                           "message": AUTOPLUGIN_UNKNOWN})
    before = set(split_tags(row["tags"]))
    result = auto_run(ctx, archive_id)
    after_row = records.get_row(ctx.db, archive_id)
    added = len(set(split_tags(after_row["tags"] if after_row is not None else "")) - before)
    return json_reply({"operation": "autoplugin", "id": archive_id, "success": 1,
                       "message": f"{result['successes']} Plugins used successfully, {result['failures']} "
                                  f"Plugins failed, {added} tags added."})


def mount(app: bottle.Bottle, ctx) -> None:
    for path, method, rule, takes_id, secure in ALIASES:
        target = _modern(app, method, rule)
        if target is None:  # its modern twin is not served (yet): the alias isn't either
            continue

        def alias(path=path, target=target, takes_id=takes_id):
            if takes_id:
                return target(archive_id=_require_id(path))
            return target()

        writes = method != "GET"
        app.route(path, method=["GET", "POST"] if writes else ["GET", "HEAD"], callback=alias,
                  secure=secure, writes=writes, operation=path.rsplit("/", 1)[-1])

    @app.get("/api/extract", operation="extract")
    def extract() -> str:
        archive_id = _require_id("/api/extract")
        _, page_list = pages.pages_of(ctx, archive_id)
        # 0.7 clients resolve these relative to the server root
        return json_reply({"pages": [f"./api/page?id={archive_id}&path={quote(name, safe='/')}"
                                     for name in page_list]})

    # Run the enabled auto-run plugins on one archive: POST /api/autoplugin?id= (0.6/0.7), POST
    # /api/archives/{id}/autoplugin (0.7.2). Key-protected like their modern counterpart /api/plugins/use.
    @app.post("/api/autoplugin", secure=True, writes=True, operation="autoplugin")
    def autoplugin() -> str:
        return _autoplugin_reply(ctx, _require_id("/api/autoplugin"))

    @app.post("/api/archives/<archive_id>/autoplugin", secure=True, writes=True, operation="autoplugin")
    def archive_autoplugin(archive_id: str) -> str:
        return _autoplugin_reply(ctx, check_archive_id(archive_id))
