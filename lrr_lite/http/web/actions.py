"""What every POST of the management pages (categories, tankoubons, admin) shares with the archive page's:
a login (unless password protection is off) and this browser's CSRF token, and one answer shape.

A form POST answers with a redirect (done) or an HTML page naming the server's reason (refused); the pages'
scripts send the same forms with `Accept: application/json` and get `{"ok": 1, …}` or `{"error": "<reason>"}`
with the status, as archive_routes.py does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import bottle

from lrr_lite.errors import DomainError
from lrr_lite.http.web import pages, webforms
from lrr_lite.http.web.webforms import form, wants_json
from lrr_lite.http.web.webforms import json_answer as reply_json

__all__ = ["Actions", "form", "reply_json", "wants_json"]


class Actions:
    """The guard and the answers of one group of routes (built in mount with the web module's helpers)."""

    def __init__(self, ctx, static: dict[str, str], *, authed: Callable[[], bool],
                 require_login: Callable[[], None], local: Callable[[str], str]) -> None:
        self.ctx = ctx
        self.static = static
        self.authed = authed
        self.require_login = require_login
        self.local = local

    def guard(self, token: Callable[[], str] = lambda: form("csrf")) -> bytes | str | None:
        """None when this POST may go on; otherwise the refusal to answer with (webforms.refusal). `token`
        gives the CSRF token the request carries: the form's `csrf` field unless said otherwise."""
        return webforms.refusal(self.ctx, self.static, self.authed(), self.require_login, token())

    def post(self, back: str | Callable[[], str] = "/", token: Callable[[], str] = lambda: form("csrf"),
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator of a guarded POST route: the guard runs first (its refusal is the answer), and a DomainError
        the route raises becomes `failure(exc, back)`; `back` (a path, or a function of the request giving one) is
        where the refusal page links. Every management POST starts and ends this way, so it is written once.
        `token`: where the CSRF token is (a raw upload body carries it in a header, see upload_routes.py)."""

        def wrap(route: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(route)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                refusal = self.guard(token)
                if refusal is not None:
                    return refusal
                try:
                    return route(*args, **kwargs)
                except DomainError as exc:
                    return self.failure(exc, back() if callable(back) else back)

            return guarded

        return wrap

    def csrf(self) -> str:
        """This browser's CSRF token (issuing a guest cookie when it has none)."""
        return webforms.csrf_for_page(self.ctx)

    def failure(self, exc: DomainError, back: str = "") -> bytes | str:
        """A refused write: the server's reason, as JSON or as a page with a way back."""
        status = webforms.status_of(exc)
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
