"""Routes of the archive page: GET /archive?id= and its POSTs (edit, plugin preview, cover, delete).

Each POST is protected as /settings is: a login (unless password protection is off) and the CSRF token of
this browser's session. A form POST answers with a redirect or an HTML page; archive.js sends the same forms
with `Accept: application/json` and gets JSON: `{"ok": 1, …}` or `{"error": "<the server's reason>"}` with the
status. A save carries the version of the metadata the form loaded: if the stored metadata changed since,
nothing is written and the answer is 409 with the stored values (Archives.update_metadata_checked).
Each route calls one service or records function: two hops from the route to the logic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import quote

import bottle

from lrr_lite.errors import Conflict, Invalid, NotFound
from lrr_lite.http.web import archive_page, pages, session
from lrr_lite.http.web.actions import Actions
from lrr_lite.http.web.webforms import form as _form
from lrr_lite.http.web.webforms import json_answer as _json
from lrr_lite.http.web.webforms import wants_json as _wants_json
from lrr_lite.library import archives, collections, records
from lrr_lite.library.plugins import plugin_infos, runner

log = logging.getLogger(__name__)

def mount(app: bottle.Bottle, ctx, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          require_login: Callable[[], None], nofun_gate: Callable[[], None], local: Callable[[str], str]) -> None:
    """Add the archive routes to the web UI (called by web.mount, which owns the helpers passed here)."""
    skip = ["lrr_api"]
    act = Actions(ctx, static, authed=authed, require_login=require_login, local=local)
    metadata_plugins = plugin_infos("metadata")

    def not_found() -> str:
        bottle.response.status = 404
        return pages.message_page(ctx, static, "Not found", records.NO_SUCH_ID, authed=authed())

    def show(archive_id: str, state: archive_page.EditState | None = None, notice: str = "") -> str:
        """The archive page; `state` replaces the stored values in the edit form (a conflict, a proposal)."""
        row = records.get_row(ctx.db, archive_id) if pages_id(archive_id) else None
        if row is None or not row["path"]:
            return not_found()
        archive = records.archive_json(row)
        may_edit = authed()
        editing = None
        if may_edit:
            nonce = session.ensure_nonce(ctx, bottle.request, bottle.response)
            if state is None:
                state = archive_page.EditState(title=archive["title"], tags=row["tags"] or "",
                                               summary=row["summary"] or "", version=archives.metadata_version(row))
            editing = archive_page.Editing(session.csrf_token(ctx, nonce), metadata_plugins, state)
        tanks = []
        for tank_id in records.tankoubons_of(ctx.db, archive_id):
            try:
                tank = collections.get_tankoubon(ctx.db, tank_id, page=0, page_size=0, full_data=False)["result"]
            except NotFound:
                continue
            tanks.append({"id": tank["id"], "name": tank["name"]})
        return archive_page.archive_page(ctx, static, archive, categories=records.categories_of(ctx.db, archive_id),
                                         tanks=tanks, authed=may_edit, editing=editing, notice=notice)

    def posted_id() -> str:
        """The archive a POST names; a malformed ID is not looked up at all."""
        archive_id = _form("id").strip()
        if not pages_id(archive_id):
            raise NotFound(records.NO_SUCH_ID)
        return archive_id

    # every POST: the login + CSRF guard, and a refused write answered with the server's reason (Actions.post)
    guarded = act.post(lambda: f"/archive?id={quote(_form('id').strip(), safe='')}")

    def back(archive_id: str, flag: str = "") -> str:
        return local(f"/archive?id={quote(archive_id, safe='')}{flag}")

    @app.get("/archive", skip=skip)
    @page
    def archive_view() -> str:
        nofun_gate()
        archive_id = (bottle.request.query.getunicode("id") or "").strip()
        query = bottle.request.query
        notice = ""
        if query.get("saved") == "1":
            notice = '<p class="ok" id="notice" role="status">Saved.</p>'
        elif query.get("cover") == "1":
            notice = '<p class="ok" id="notice" role="status">Cover changed.</p>'
        return show(archive_id, notice=notice)

    @app.get("/archive/edit", skip=skip)
    def archive_edit() -> None:
        """The edit form's own address: the archive page with its edit panel open."""
        archive_id = bottle.request.query.getunicode("id") or ""
        bottle.redirect(back(archive_id.strip()) + "#edit", 303)

    @app.post("/archive/edit", skip=skip)
    @page
    @guarded
    def archive_save() -> bytes | str:
        archive_id = posted_id()
        title, tags, summary = _form("title"), _form("tags"), _form("summary").replace("\r\n", "\n")
        try:
            shown, version = ctx.archives.update_metadata_checked(archive_id, _form("version"), title, tags, summary)
        except Conflict as exc:
            if _wants_json():
                raise
            # no JS: the page again, the user's values in the form, the stored ones beside them; the form now
            # carries the stored version, so saving again is a deliberate overwrite
            bottle.response.status = 409
            state = archive_page.EditState(title=title, tags=tags, summary=summary, version=exc.data["version"],
                                           open=True, notice=archive_page.conflict_notice(exc.data, back(archive_id)))
            return show(archive_id, state)
        log.info("metadata of %s changed from the web page", archive_id)
        if _wants_json():
            row = records.require_row(ctx.db, archive_id)
            return _json({"ok": 1, "title": shown, "tags": row["tags"] or "", "summary": row["summary"] or "",
                          "version": version})
        bottle.redirect(back(archive_id, "&saved=1"), 303)
        raise AssertionError("bottle.redirect raises")

    @app.post("/archive/plugin", skip=skip)
    @page
    @guarded
    def archive_plugin() -> bytes | str:
        """Run a metadata plugin and show what it proposes; the archive is not modified (runner.use_plugin)."""
        archive_id = posted_id()
        namespace = _form("plugin")
        result = runner.use_plugin(ctx, namespace, archive_id, _form("arg"))
        if _wants_json():
            if not result.get("success"):
                return _json({"error": result.get("error") or "The plugin failed."}, 400)
            return _json({"ok": 1, **result.get("data", {})})
        row = records.get_row(ctx.db, archive_id)
        if row is None or not row["path"]:
            return not_found()
        before = {"title": row["title"] or row["filename"], "tags": row["tags"] or "", "summary": row["summary"] or ""}
        data = result.get("data") or {}
        state = archive_page.EditState(
            title=data.get("title") or before["title"],
            tags=",".join(t for t in (before["tags"], (data.get("new_tags") or "").strip()) if t),
            summary=data.get("summary") or before["summary"], version=archives.metadata_version(row), open=True,
            notice=archive_page.plugin_notice(namespace, result, before, back(archive_id)), plugin=namespace,
            arg=_form("arg"))
        if not result.get("success"):
            state.title, state.tags, state.summary = before["title"], before["tags"], before["summary"]
        return show(archive_id, state)

    @app.post("/archive/cover", skip=skip)
    @page
    @guarded
    def archive_cover() -> bytes | str:
        archive_id = posted_id()
        try:
            number = int(_form("page").strip())
        except ValueError:
            number = 0
        ctx.archives.set_cover(archive_id, number)
        if _wants_json():
            return _json({"ok": 1, "page": number, "cover": local(pages.cover_url(ctx, archive_id))})
        bottle.redirect(back(archive_id, "&cover=1"), 303)
        raise AssertionError("bottle.redirect raises")

    @app.post("/archive/mark", skip=skip)
    @page
    @act.post(lambda: safe_back(_form("back")))
    def archive_mark() -> bytes | str:
        """Mark read, mark unread or clear NEW, from a library card or the archive page: `mark` is
        "read:<id>", "unread:<id>" or "seen:<id>"; `back` is the page to return to."""
        op, _, archive_id = _form("mark").partition(":")
        if not pages_id(archive_id):
            raise NotFound(records.NO_SUCH_ID)
        row = records.require_row(ctx.db, archive_id)
        if op in ("read", "unread") and ctx.settings.get("localprogress"):
            # the reader keeps progress in each browser then: a server-side mark would change nothing it shows
            raise Invalid("Progress is kept by each browser here (client-side progress tracking is on).")
        if op == "read":
            if not row["pagecount"]:
                raise Invalid("This archive has no page count yet: there is no last page to mark.")
            # the same service as PUT /api/archives/{id}/progress/{n}?force=1. A mark is no page read: the time is
            # passed in, so the pages-read statistic is not counted up
            ctx.archives.update_progress(archive_id, int(row["pagecount"]), force=True, lastreadtime=int(time.time()))
            # read through means seen: NEW goes, as the reader clears it from page 2 (the progress write
            # itself never clears it, SEMANTICS §6, so this is a second, explicit call)
            ctx.archives.set_isnew(archive_id, False)
        elif op == "unread":
            # progress 0 needs force, as the API's PUT; the last read time stays (unread is no reading)
            ctx.archives.update_progress(archive_id, 0, force=True, lastreadtime=int(row["lastreadtime"]))
            ctx.archives.set_isnew(archive_id, True)
        elif op == "seen":
            ctx.archives.set_isnew(archive_id, False)  # as DELETE /api/archives/{id}/isnew
        else:
            raise Invalid("Mark it read, unread or not new.")
        log.info("archive %s marked %s from the web page", archive_id, op)
        now = records.require_row(ctx.db, archive_id)
        return act.done(safe_back(_form("back")), progress=int(now["progress"]), pagecount=int(now["pagecount"]),
                        isnew=bool(now["isnew"]))

    @app.post("/archive/delete", skip=skip)
    @page
    @guarded
    def archive_delete() -> bytes | str:
        archive_id = posted_id()
        deleted = ctx.archives.delete(archive_id)
        if deleted is None:
            raise NotFound(records.NO_SUCH_ID)
        log.info("archive %s (%s) deleted from the web page", archive_id, deleted)
        if _wants_json():
            return _json({"ok": 1, "next": local("/")})
        bottle.redirect(local("/"), 303)
        raise AssertionError("bottle.redirect raises")


def safe_back(value: str) -> str:
    """A page of this site to return to after a mark (a root path); anything else becomes the library."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    return value


def pages_id(value: str) -> bool:
    """A well-formed archive ID (40 hex digits): anything else is not looked up at all."""
    return len(value) == 40 and all(c in "0123456789abcdefABCDEF" for c in value)
