"""Routes of the reader: GET /reader?id= (the page) and /reader/prefs (the choices saved per archive).

The reader's choices (mode, direction, fit) are kept by the server for a browser that is logged in (password
protection on, a login session) or a client that sends the API key; anywhere else reader.js keeps them in
localStorage, so one guest's choice is not every guest's. A save by cookie carries this browser's CSRF token;
a save with the key needs none (a browser never sends a key by itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import bottle

from lrr_lite.errors import DomainError
from lrr_lite.http.web import pages, reader_page, session, webforms
from lrr_lite.http.web.session import key_ok
from lrr_lite.library import reader_prefs, records

_ARCHIVE_ID = re.compile(r"[0-9a-fA-F]{40}")


def logged_in(ctx, request: bottle.BaseRequest) -> bool:
    """Whose choices the server keeps: a login session (protection on) or the API key."""
    if key_ok(ctx, request):
        return True
    return bool(ctx.settings.get("enablepass")) and session.web_authed(ctx, request)


def mount(app: bottle.Bottle, ctx, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          nofun_gate: Callable[[], None]) -> None:
    """Add the reader routes to the web UI (called by web.mount, which owns the helpers passed here)."""
    skip = ["lrr_api"]

    def archive_row(archive_id: str):
        return records.get_row(ctx.db, archive_id) if _ARCHIVE_ID.fullmatch(archive_id) else None

    @app.get("/reader", skip=skip)
    @page
    def reader() -> str:
        nofun_gate()
        archive_id = (bottle.request.query.getunicode("id") or "").strip()
        row = archive_row(archive_id)
        if row is None or not row["path"]:
            bottle.response.status = 404
            return pages.message_page(ctx, static, "Not found", "This ID doesn't exist on the server.",
                                      authed=authed())
        archive = records.archive_json(row)
        count = int(archive["pagecount"])
        try:
            start = int(bottle.request.query.get("page") or 0)
        except ValueError:
            start = 0
        if not 0 < start <= max(count, 1):
            progress = int(archive["progress"])
            tracked = not ctx.settings.get("localprogress")
            start = progress if tracked and 0 < progress <= count else 1
        server_side = logged_in(ctx, bottle.request)
        saved = reader_prefs.get(ctx.db, row["id"]) if server_side else {}
        csrf = webforms.csrf_for_page(ctx) if server_side and not key_ok(ctx, bottle.request) else ""
        return reader_page.reader_page(ctx, static, archive, start, authed=authed(),
                                       prefs_where="server" if server_side else "local", saved=saved,
                                       defaults=reader_prefs.comicinfo_defaults(ctx, row), csrf=csrf)

    @app.get("/reader/prefs", skip=skip)
    def prefs_get() -> bytes:
        """The saved choices and the ComicInfo defaults of one archive, for a client with the key or a login."""
        row = archive_row((bottle.request.query.getunicode("id") or "").strip())
        if not logged_in(ctx, bottle.request):
            return webforms.json_answer({"error": webforms.LOGIN}, 401)
        if row is None or not row["path"]:
            return webforms.json_answer({"error": records.NO_SUCH_ID}, 404)
        return webforms.json_answer({"saved": reader_prefs.get(ctx.db, row["id"]),
                                     "defaults": reader_prefs.comicinfo_defaults(ctx, row)})

    @app.post("/reader/prefs", skip=skip)
    def prefs_save() -> bytes:
        bottle.response.set_header("Cache-Control", "no-store")
        if not key_ok(ctx, bottle.request):
            if not logged_in(ctx, bottle.request):
                return webforms.json_answer({"error": webforms.LOGIN}, 401)
            if not session.csrf_ok(ctx, bottle.request, webforms.form("csrf")):
                return webforms.json_answer({"error": webforms.EXPIRED}, 403)
        row = archive_row(webforms.form("id").strip())
        if row is None or not row["path"]:
            return webforms.json_answer({"error": records.NO_SUCH_ID}, 404)
        try:
            saved = reader_prefs.save(ctx.db, row["id"], mode=webforms.form("mode"),
                                      direction=webforms.form("dir"), fit=webforms.form("fit"))
        except DomainError as exc:
            return webforms.json_answer({"error": exc.message}, webforms.status_of(exc))
        return webforms.json_answer({"ok": 1, "saved": saved})
