"""What every POST of the management pages (categories, tankoubons, admin) shares with the archive page's:
a login (unless password protection is off) and this browser's CSRF token, and one answer shape.

A form POST answers with a redirect (done) or an HTML page naming the server's reason (refused); the pages'
scripts send the same forms with `Accept: application/json` and get `{"ok": 1, …}` or `{"error": "<reason>"}`
with the status, as archive_routes.py does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import bottle

from lrr_lite.errors import Conflict, DomainError, Locked, NotFound
from lrr_lite.http.web import pages, session

EXPIRED = "The form expired or came from another site. Reload the page and try again."
LOGIN = "Log in to change the library: your session ended or you never logged in."
STATUS = {NotFound: 404, Locked: 423, Conflict: 409}


def form(name: str) -> str:
    try:
        return bottle.request.forms.getunicode(name) or ""
    except (UnicodeError, ValueError):
        return ""


def wants_json() -> bool:
    return "application/json" in (bottle.request.get_header("Accept") or "")


def reply_json(body: dict[str, Any], status: int = 200) -> bytes:
    """A JSON answer; bytes, so the page wrapper leaves its content type alone."""
    bottle.response.status = status
    bottle.response.content_type = "application/json; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class Actions:
    """The guard and the answers of one group of routes (built in mount with the web module's helpers)."""

    def __init__(self, ctx, static: dict[str, str], *, authed: Callable[[], bool],
                 require_login: Callable[[], None], local: Callable[[str], str]) -> None:
        self.ctx = ctx
        self.static = static
        self.authed = authed
        self.require_login = require_login
        self.local = local

    def guard(self) -> bytes | str | None:
        """None when this POST may go on; otherwise the refusal to answer with."""
        if not self.authed():
            if not wants_json():
                self.require_login()  # redirects
            return reply_json({"error": LOGIN}, 401)
        if not session.csrf_ok(self.ctx, bottle.request, form("csrf")):
            if wants_json():
                return reply_json({"error": EXPIRED}, 403)
            bottle.response.status = 403
            return pages.message_page(self.ctx, self.static, "Forbidden", EXPIRED, authed=True)
        return None

    def csrf(self) -> str:
        """This browser's CSRF token (issuing a guest cookie when it has none)."""
        nonce = session.ensure_nonce(self.ctx, bottle.request, bottle.response)
        return session.csrf_token(self.ctx, nonce)

    def failure(self, exc: DomainError, back: str = "") -> bytes | str:
        """A refused write: the server's reason, as JSON or as a page with a way back."""
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
        if wants_json():
            return reply_json({"error": exc.message, **exc.data}, status)
        bottle.response.status = status
        link = back or "/"
        return pages.layout(self.ctx, self.static, "Not done",
                            f'<main class="narrow"><h1>Not done</h1><p class="error" role="alert">'
                            f'{pages.esc(exc.message)}</p><p><a href="{pages.esc(link)}">Back</a></p></main>',
                            authed=self.authed())

    def done(self, path: str, **data: Any) -> bytes:
        """A write that worked: JSON for the scripts, otherwise a redirect to `path` (the page to show next)."""
        if wants_json():
            return reply_json({"ok": 1, "next": self.local(path), **data})
        bottle.redirect(self.local(path), 303)
        raise AssertionError("bottle.redirect raises")
