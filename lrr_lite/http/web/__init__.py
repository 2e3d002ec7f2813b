"""The browser UI: library (/), archive page (/archive?id=, archive_routes.py), reader (/reader?id=), login,
settings, and its static files.

Served by the same Bottle app as the API. These routes skip the API plugin (they answer with HTML and
redirects, not JSON) and apply LANraragi's web rules themselves: password protection off opens every
page; No-Fun mode sends every page but the login to /login; the settings page always needs a login.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bottle

from lrr_lite.errors import NotFound
from lrr_lite.http.web import (
    admin_routes,
    archive_routes,
    batch_routes,
    collection_routes,
    pages,
    reader_routes,
    session,
    upload_routes,
    webforms,
)
from lrr_lite.http.web.throttle import LoginThrottle
from lrr_lite.library import collections, records
from lrr_lite.library.search.engine import Query, search
from lrr_lite.storage.settings import DEFAULTS

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
SKIP = ["lrr_api"]  # app.ApiPlugin's name: its JSON errors and 401s are not for pages
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


def load_static() -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, content type, ETag) of every file in static/ (read once: they are small)."""
    files: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and path.suffix in STATIC_TYPES:
            data = path.read_bytes()
            files[path.name] = (data, STATIC_TYPES[path.suffix], '"' + hashlib.sha1(data).hexdigest()[:16] + '"')
    return files


def safe_next(value: str | None) -> str:
    """A same-site path to go back to after login; anything else becomes /."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 32 for c in value):
        return "/"
    return value


def mount(app: bottle.Bottle, ctx) -> None:
    prefix = ctx.config.base_url_path

    def local(path: str) -> str:
        """A path of ours as the browser must ask for it: under the URL prefix (SEMANTICS §20)."""
        return path if prefix and path.startswith(prefix + "/") else prefix + path

    throttle = LoginThrottle()
    static_files = load_static()
    # versioned URLs: a changed file gets a new URL, so the long cache below is safe
    static = {name: f"/static/{name}?v={etag.strip(chr(34))[:10]}" for name, (_, _, etag) in static_files.items()}
    fields = tuple(f for f in pages.FIELDS if f.key in _settings_keys(ctx))

    def page(callback: Callable[..., Any]) -> Callable[..., Any]:
        """HTML headers on every page; an unexpected error becomes an HTML 500, logged."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = bottle.response
            response.set_header("Content-Security-Policy", CSP)
            response.set_header("X-Content-Type-Options", "nosniff")
            response.set_header("Referrer-Policy", "same-origin")
            response.set_header("Cache-Control", "no-store")
            try:
                body = callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Exception:
                log.error("web page %s failed\n%s", bottle.request.path, traceback.format_exc())
                response.status = 500
                body = pages.message_page(ctx, static, "Error", "Something went wrong; see the server log.",
                                          authed=False)
            if isinstance(body, str):
                response.content_type = "text/html; charset=utf-8"
            return body

        wrapper.__name__ = callback.__name__
        return wrapper

    def authed() -> bool:
        return session.web_authed(ctx, bottle.request)

    def require_login() -> None:
        """Redirect to the login page (keeping where we were) unless logged in or protection is off."""
        if not authed():
            target = bottle.request.fullpath
            if bottle.request.query_string:
                target += "?" + bottle.request.query_string
            bottle.redirect(local("/login?next=" + quote(target, safe="")), 303)

    def csrf_if_authed() -> str:
        """This session's CSRF token for a browser that may write (the cards' mark menus), else ""."""
        if not authed():
            return ""
        return session.csrf_token(ctx, session.ensure_nonce(ctx, bottle.request, bottle.response))

    def nofun_gate() -> None:
        if ctx.settings.get("nofunmode"):
            require_login()

    @app.get("/", skip=SKIP)
    @page
    def library_index() -> str:
        nofun_gate()
        state = pages.LibraryState.from_query(bottle.request.query)
        size = max(1, int(ctx.settings.get("pagesize")))
        query = Query(filter=state.q, category=state.cat or None, start=(state.page - 1) * size,
                      sortby=state.sort, order=state.order, newonly=state.new, untaggedonly=state.untagged,
                      groupby_tanks=True)
        result = search(ctx.db, query, size)
        archives = records.json_for_ids(ctx.db, result.ids)
        # "Continue reading" tops the first page of the whole library, where the server tracks progress
        # (with localprogress on, each browser keeps its own and the server's would be stale: no shelf)
        home = state == pages.LibraryState(sort=state.sort, order=state.order)
        reading = (records.json_for_ids(ctx.db, records.continue_reading_ids(ctx.db, pages.SHELF_SIZE))
                   if home and not ctx.settings.get("localprogress") else [])
        return pages.library_page(ctx, static, state, archives, result.filtered, result.total, size,
                                  collections.list_categories(ctx.db), authed=authed(),
                                  selecting=bottle.request.query.get("select") == "1", reading=reading,
                                  csrf=csrf_if_authed())

    archive_routes.mount(app, ctx, static, page=page, authed=authed, require_login=require_login,
                         nofun_gate=nofun_gate, local=local)
    collection_routes.mount(app, ctx, static, page=page, authed=authed, require_login=require_login, local=local)
    admin_routes.mount(app, ctx, static, page=page, authed=authed, require_login=require_login,
                       nofun_gate=nofun_gate, local=local)
    batch_routes.mount(app, ctx, static, page=page, authed=authed, require_login=require_login, local=local)
    upload_routes.mount(app, ctx, static, page=page, authed=authed, require_login=require_login, local=local)
    reader_routes.mount(app, ctx, static, page=page, authed=authed, nofun_gate=nofun_gate)

    @app.get("/tank", skip=SKIP)
    @page
    def tank() -> str:
        nofun_gate()
        tank_id = (bottle.request.query.getunicode("id") or "").strip()
        try:
            found = collections.get_tankoubon(ctx.db, tank_id, page=-1, page_size=0, full_data=True)["result"]
        except NotFound:
            bottle.response.status = 404
            return pages.message_page(ctx, static, "Not found", "This tankoubon doesn't exist on the server.",
                                      authed=authed())
        return pages.tank_page(ctx, static, found, found["full_data"], authed=authed(), csrf=csrf_if_authed())

    @app.get("/login", skip=SKIP)
    @page
    def login_form() -> str:
        return pages.login_page(ctx, static, safe_next(bottle.request.query.getunicode("next")), "",
                                authed=authed())

    @app.post("/login", skip=SKIP)
    @page
    def login_submit() -> str:
        forms = bottle.request.forms
        next_url = safe_next(_form(forms, "next"))
        if not ctx.settings.get("enablepass"):
            bottle.redirect(local(next_url), 303)
        # the socket's peer, not bottle's remote_addr: that one believes X-Forwarded-For, which any client
        # can write. Behind a reverse proxy this is the proxy's address for everyone (see throttle.py).
        address = str(bottle.request.environ.get("REMOTE_ADDR") or "")
        wait = throttle.begin(address)
        if wait is not None:  # barred: answered at once, the password not even looked at
            bottle.response.status = 429
            bottle.response.set_header("Retry-After", str(wait))
            return pages.login_page(ctx, static, next_url, f"Too many failed attempts: try again in {wait} s.",
                                    authed=False)
        if session.verify_password(str(ctx.settings.get("password") or ""), _form(forms, "password")):
            throttle.succeeded(address)
            session.revoke(ctx, bottle.request)  # logging in again ends the session it replaces
            session.issue(ctx, bottle.response, logged_in=True)  # always a new nonce, never the old cookie's
            bottle.redirect(local(next_url), 303)
        bottle.response.status = 403
        return pages.login_page(ctx, static, next_url, "Wrong password.", authed=False)

    @app.get("/logout", skip=SKIP)
    @page
    def logout_form() -> str:
        """A page with a "Log out" button: a GET (a link, another site's <img>) never logs anyone out."""
        if not authed() or not ctx.settings.get("enablepass"):
            bottle.redirect(local("/"), 303)
        nonce = session.ensure_nonce(ctx, bottle.request, bottle.response)
        return pages.logout_page(ctx, static, session.csrf_token(ctx, nonce), authed=True)

    @app.post("/logout", skip=SKIP)
    @page
    def logout() -> str:
        if not session.csrf_ok(ctx, bottle.request, _form(bottle.request.forms, "csrf")):
            bottle.response.status = 403
            return pages.message_page(ctx, static, "Forbidden", webforms.EXPIRED, authed=authed())
        session.revoke(ctx, bottle.request)  # server-side: a copy of the cookie is worthless from now on
        session.clear(bottle.response)
        bottle.redirect(local("/"), 303)
        raise AssertionError("bottle.redirect raises")  # for the type checker: never reached

    @app.get("/settings", skip=SKIP)
    @page
    def settings_form() -> str:
        require_login()
        nonce = session.ensure_nonce(ctx, bottle.request, bottle.response)
        saved = bottle.request.query.get("saved") == "1"
        return pages.settings_page(ctx, static, fields, {}, {}, session.csrf_token(ctx, nonce), saved,
                                   authed=True)

    @app.post("/settings", skip=SKIP)
    @page
    def settings_submit() -> str:
        require_login()
        forms = bottle.request.forms
        if not session.csrf_ok(ctx, bottle.request, _form(forms, "csrf")):
            bottle.response.status = 403
            return pages.message_page(ctx, static, "Forbidden",
                                      "The form expired or came from another site. Reload the settings and "
                                      "try again.", authed=True)
        changes, errors = pages.validate(fields, forms)
        if errors:
            bottle.response.status = 400
            nonce = session.ensure_nonce(ctx, bottle.request, bottle.response)
            shown = {f.key: _form(forms, f.key) for f in fields}
            return pages.settings_page(ctx, static, fields, shown, errors, session.csrf_token(ctx, nonce), False,
                                       authed=True)
        new_password = changes.pop("password", None)
        for key, value in changes.items():
            if ctx.settings.get(key) != value:
                ctx.settings.set(key, value)
        if new_password is not None:
            ctx.settings.set("password", session.hash_password(new_password))
            session.revoke_all(ctx)  # every session ends (the old password's fingerprint also voids them)
            session.issue(ctx, bottle.response, logged_in=True)  # ... but this browser stays logged in
        log.info("settings changed from the web page: %s", ", ".join(sorted(changes)))
        bottle.redirect(local("/settings?saved=1"), 303)
        raise AssertionError("bottle.redirect raises")  # for the type checker: never reached

    @app.get("/static/<name>", skip=SKIP)
    def static_file(name: str) -> bytes:
        item = static_files.get(name)
        if item is None:
            bottle.response.status = 404
            bottle.response.content_type = "text/plain; charset=utf-8"
            return b"Not found"
        data, mime, etag = item
        response = bottle.response
        response.set_header("ETag", etag)
        response.set_header("X-Content-Type-Options", "nosniff")
        response.set_header("Cache-Control", "public, max-age=31536000, immutable"
                            if bottle.request.query.get("v") else "public, max-age=3600")
        if etag in [t.strip() for t in (bottle.request.get_header("If-None-Match") or "").split(",")]:
            response.status = 304
            return b""
        response.content_type = mime
        return data

    # A real ICO at the path readers and browsers fetch by themselves (OPDS <icon>, KOReader, old browsers);
    # pages link the SVG. favicon.ico is the SVG's drawing at 16, 32 and 48 px, written with Pillow.
    icon = (STATIC_DIR / "favicon.ico").read_bytes()
    icon_etag = '"' + hashlib.sha1(icon).hexdigest()[:16] + '"'

    @app.route("/favicon.ico", method=["GET", "HEAD"], skip=SKIP)
    def favicon() -> bytes:
        response = bottle.response
        response.set_header("ETag", icon_etag)
        response.set_header("X-Content-Type-Options", "nosniff")
        response.set_header("Cache-Control", "public, max-age=86400")
        if icon_etag in [t.strip() for t in (bottle.request.get_header("If-None-Match") or "").split(",")]:
            response.status = 304
            return b""
        response.content_type = "image/x-icon"
        return icon


def _settings_keys(ctx) -> set[str]:
    return set(DEFAULTS)


def _form(forms, name: str) -> str:
    try:
        return forms.getunicode(name) or ""
    except (UnicodeError, ValueError):
        return ""
