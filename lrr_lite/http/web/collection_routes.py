"""Routes of the category manager and the tankoubon editor: GET /categories, /tankoubons, /tankoubons/edit and
their POSTs. Each POST is guarded as /settings is (actions.Actions: login + CSRF token) and calls one method of
ctx.collections, the service the API uses. A write aimed at something deleted meanwhile says so (404), and a
reorder sent from a page whose volume list is out of date is refused (409) rather than dropping or reviving a
volume someone else changed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import bottle

from lrr_lite.errors import Conflict, Invalid, NotFound
from lrr_lite.http.web import collection_pages, pages
from lrr_lite.http.web.actions import Actions, form, wants_json
from lrr_lite.library import collections, records
from lrr_lite.library.search.engine import Query, search

log = logging.getLogger(__name__)

GONE_CATEGORY = "This category no longer exists (deleted from another page or client): nothing was changed."
GONE_TANK = "This tankoubon no longer exists (deleted from another page or client): nothing was changed."
STALE_ORDER = ("The volumes of this tankoubon changed since you opened the page (another tab, person or client): "
               "your order was not saved. Reload to see the current list.")
NOTICES = {"created": "Created.", "saved": "Saved.", "deleted": "Deleted.", "added": "Added.",
           "removed": "Removed.", "moved": "Moved."}
FOUND_LIMIT = 30
STALE_DETAILS = ("Not saved: this tankoubon's details were changed since you opened the page (another tab, person "
                 "or client). Your text is still in the form; the stored values are shown beside it. Save again to "
                 "replace them with yours.")


def tank_version(tank: dict) -> str:
    """A fingerprint of a tank's name, summary and tags: the edit form carries the one it loaded."""
    text = "\0".join(str(tank.get(k) or "") for k in ("name", "summary", "tags"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _notice() -> str:
    return collection_pages.notice_html(NOTICES.get(bottle.request.query.get("done") or "", ""))


def mount(app: bottle.Bottle, ctx, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          require_login: Callable[[], None], local: Callable[[str], str]) -> None:
    """Add the category and tankoubon routes to the web UI (called by web.mount)."""
    skip = ["lrr_api"]
    act = Actions(ctx, static, authed=authed, require_login=require_login, local=local)

    # -- categories -------------------------------------------------------------------------------------------

    @app.get("/categories", skip=skip)
    @page
    def categories_view() -> str:
        require_login()
        return collection_pages.categories_page(ctx, static, collections.list_categories(ctx.db), act.csrf(),
                                                notice=_notice(), authed=True)

    @app.post("/categories/create", skip=skip)
    @page
    @act.post("/categories")
    def category_create() -> bytes | str:
        new_id = ctx.collections.create_category(form("name").strip(), form("search").strip(),
                                                 form("pinned") in ("1", "on"))
        log.info("category %s created from the web page", new_id)
        return act.done("/categories?done=created", id=new_id)

    @contextmanager
    def category_held(cat_id: str) -> Iterator[dict]:
        """The stored category, for a write to it; a category that is gone (before the write or during it:
        the service's own "doesn't exist") is said the same way by every route: GONE_CATEGORY."""
        try:
            yield collections.get_category(ctx.db, cat_id)
        except NotFound:
            if category_exists(cat_id):
                raise  # something else is missing (the archive): its own reason
            raise NotFound(GONE_CATEGORY) from None

    def category_exists(cat_id: str) -> bool:
        try:
            collections.get_category(ctx.db, cat_id)
        except NotFound:
            return False
        return True

    @app.post("/categories/update", skip=skip)
    @page
    @act.post("/categories")
    def category_update() -> bytes | str:
        """Rename (and, for a dynamic category, change its search); its pin stays as stored."""
        cat_id, name, query = form("id"), form("name").strip(), form("search").strip()
        with category_held(cat_id) as current:
            if not name:
                raise Invalid("A category needs a name.")
            was = form("was")
            if was and was != collection_pages.category_version(current):
                # someone renamed it (or changed its search) since this page was loaded: don't overwrite blindly
                raise Conflict(f'Not saved: this category was changed since you opened the page; it is now '
                               f'"{current["name"]}"{" with the search " + current["search"] if current["search"] else ""}. '
                               'Reload and rename it again if you still want to.', name=current["name"],
                               search=current["search"])
            if query and not current["search"]:
                raise Invalid("A static category can't get a search: make a new dynamic category instead.")
            if current["search"] and not query:
                raise Invalid("A dynamic category needs a search.")
            ctx.collections.update_category(cat_id, name, query, current["pinned"] == "1")
        return act.done("/categories?done=saved")

    @app.post("/categories/pin", skip=skip)
    @page
    @act.post("/categories")
    def category_pin() -> bytes | str:
        cat_id = form("id")
        with category_held(cat_id):
            # empty name and search keep the stored ones (collections.update_category)
            ctx.collections.update_category(cat_id, "", "", form("pinned") in ("1", "on"))
        return act.done("/categories?done=saved")

    @app.post("/categories/delete", skip=skip)
    @page
    @act.post("/categories")
    def category_delete() -> bytes | str:
        cat_id = form("id")
        with category_held(cat_id):  # the service deletes a missing one "successfully": say it was gone
            ctx.collections.delete_category(cat_id)
        log.info("category %s deleted from the web page", cat_id)
        return act.done("/categories?done=deleted")

    def archive_back() -> str:
        return f"/archive?id={quote(form('archive'), safe='')}"

    @app.post("/categories/member", skip=skip)
    @page
    @act.post(archive_back)
    def category_member() -> bytes | str:
        """Add an archive to a static category or remove it (the archive page's control)."""
        cat_id, archive_id, op = form("id"), form("archive"), form("op")
        with category_held(cat_id):
            if op == "add":
                message = ctx.collections.add_to_category(cat_id, archive_id)
            elif op == "remove":
                message = ctx.collections.remove_from_category(cat_id, archive_id)
            else:
                raise Invalid("Unknown operation: add or remove.")
        return act.done(archive_back(), message=message)

    # -- tankoubons -------------------------------------------------------------------------------------------

    @app.get("/tankoubons", skip=skip)
    @page
    def tanks_view() -> str:
        require_login()
        tanks = collections.list_tankoubons(ctx.db, -1, 0)["result"]
        return collection_pages.tanks_page(ctx, static, tanks, act.csrf(), notice=_notice(), authed=True)

    def edit_url(tank_id: str, flag: str = "") -> str:
        return f"/tankoubons/edit?id={quote(tank_id, safe='')}{flag}"

    @app.get("/tankoubons/edit", skip=skip)
    @page
    def tank_edit() -> str:
        require_login()
        return show_tank((bottle.request.query.getunicode("id") or "").strip())

    def show_tank(tank_id: str, mine: dict | None = None) -> str:
        """The editor; `mine` (a refused save) puts the user's values in the form beside the stored ones."""
        query = bottle.request.query
        try:
            tank = collections.get_tankoubon(ctx.db, tank_id, page=-1, page_size=0, full_data=False)["result"]
        except NotFound:
            bottle.response.status = 404
            return pages.message_page(ctx, static, "Not found", GONE_TANK, authed=True)
        tank["version"] = tank_version(tank)
        notice = _notice()
        if mine is not None:
            notice = collection_pages.stale_tank_notice(STALE_DETAILS, tank)
            tank = {**tank, **mine}
        by_id = {a["arcid"]: a for a in records.json_for_ids(ctx.db, tank["archives"])}
        members = [by_id.get(a) or {"arcid": a, "title": a} for a in tank["archives"]]
        try:
            text = (query.getunicode("q") or "")[:1000]
        except (UnicodeError, ValueError):
            text = ""
        found = []
        if text.strip():
            result = search(ctx.db, Query(filter=text, groupby_tanks=False), FOUND_LIMIT)
            found = records.json_for_ids(ctx.db, result.ids)
        return collection_pages.tank_edit_page(ctx, static, tank, members, act.csrf(), query=text, found=found,
                                               notice=notice, authed=True)

    @app.post("/tankoubons/create", skip=skip)
    @page
    @act.post("/tankoubons")
    def tank_create() -> bytes | str:
        new_id = ctx.collections.create_tankoubon(form("name").strip())
        log.info("tankoubon %s created from the web page", new_id)
        return act.done(edit_url(new_id, "&done=created"), id=new_id)

    def members_of(tank_id: str) -> list[str]:
        try:
            return collections.get_tankoubon(ctx.db, tank_id, page=-1, page_size=0, full_data=False)["result"][
                "archives"]
        except NotFound:
            raise NotFound(GONE_TANK) from None

    def tank_back() -> str:
        return edit_url(form("id"))

    @app.post("/tankoubons/update", skip=skip)
    @page
    @act.post(tank_back)
    def tank_update() -> bytes | str:
        tank_id = form("id")
        name = form("name").strip()
        mine = {"name": name, "summary": form("summary").replace("\r\n", "\n"), "tags": form("tags")}
        try:
            if not name:
                raise Invalid("A tankoubon needs a name.")
            members_of(tank_id)
            # the check and the write in one hold of the tank's lock (re-entrant: the service takes it again), so
            # no API or web write lands between them
            with ctx.locks.hold("tankoubon-write", tank_id):
                stored = collections.get_tankoubon(ctx.db, tank_id, page=0, page_size=0, full_data=False)["result"]
                if form("version") and form("version") != tank_version(stored):
                    raise Conflict(STALE_DETAILS, name=stored["name"], summary=stored["summary"],
                                   tags=stored["tags"], version=tank_version(stored))
                ctx.collections.update_tankoubon(tank_id, None, mine)
        except Conflict as exc:
            if wants_json():
                raise
            bottle.response.status = 409
            return show_tank(tank_id, {**mine, "version": exc.data["version"]})
        return act.done(edit_url(tank_id, "&done=saved"))

    @app.post("/tankoubons/order", skip=skip)
    @page
    @act.post(tank_back)
    def tank_order() -> bytes | str:
        """The whole new order (drag & drop); `expected` is the order the page showed: if the stored one
        differs, nothing is written."""
        tank_id = form("id")
        wanted = [a for a in form("archives").split(",") if a]
        expected = [a for a in form("expected").split(",") if a]
        with ctx.locks.hold("tankoubon-write", tank_id):  # re-entrant: the check and the write as one
            current = members_of(tank_id)
            if current != expected or sorted(wanted) != sorted(current):
                raise Conflict(STALE_ORDER, archives=current)
            ctx.collections.update_tankoubon(tank_id, wanted, None)
        return act.done(edit_url(tank_id, "&done=moved"), archives=wanted)

    @app.post("/tankoubons/move", skip=skip)
    @page
    @act.post(tank_back)
    def tank_move() -> bytes | str:
        """One volume one place up or down (the no-JS and keyboard way to reorder)."""
        tank_id, archive_id = form("id"), form("archive")
        step = -1 if form("dir") == "up" else 1
        with ctx.locks.hold("tankoubon-write", tank_id):  # re-entrant: the read and the write as one
            order = members_of(tank_id)
            if archive_id not in order:
                raise NotFound("This volume is no longer in the tankoubon: nothing was moved.")
            at = order.index(archive_id)
            to = at + step
            if 0 <= to < len(order):
                order[at], order[to] = order[to], order[at]
                ctx.collections.update_tankoubon(tank_id, order, None)
        return act.done(edit_url(tank_id, "&done=moved"), archives=order)

    @app.post("/tankoubons/member", skip=skip)
    @page
    @act.post(tank_back)
    def tank_member() -> bytes | str:
        tank_id, archive_id, op = form("id"), form("archive"), form("op")
        members_of(tank_id)
        if op == "add":
            message = ctx.collections.add_to_tankoubon(tank_id, archive_id)
        elif op == "remove":
            message = ctx.collections.remove_from_tankoubon(tank_id, archive_id)
        else:
            raise Invalid("Unknown operation: add or remove.")
        query = form("q")
        back = edit_url(tank_id, ("&q=" + quote(query, safe="") if query else "") +
                        ("&done=added" if op == "add" else "&done=removed"))
        return act.done(back, message=message)

    @app.post("/tankoubons/delete", skip=skip)
    @page
    @act.post("/tankoubons")
    def tank_delete() -> bytes | str:
        tank_id = form("id")
        members_of(tank_id)
        ctx.collections.delete_tankoubon(tank_id)
        log.info("tankoubon %s deleted from the web page", tank_id)
        return act.done("/tankoubons?done=deleted")
