"""Small helpers the web POST routes share: form fields, JSON answers, and the login + CSRF guard.

A route answers a browser's form with HTML (a page or a redirect) and a script (which sends
`Accept: application/json`) with `{"ok": 1, …}` or `{"error": "<the server's reason>"}` and the status.
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from lrr_lite.errors import ArchiveError, Busy, Conflict, DomainError, Invalid, Locked, NotFound, Unsupported
from lrr_lite.http.web import pages, session

EXPIRED = "The form expired or came from another site. Reload the page and try again."
LOGIN = "Log in first: your session ended or you never logged in."
STATUS: dict[type[DomainError], int] = {NotFound: 404, Locked: 423, Conflict: 409, Unsupported: 415,
                                          ArchiveError: 422, Invalid: 400, Busy: 503}


def form(name: str) -> str:
    try:
        return bottle.request.forms.getunicode(name) or ""
    except (UnicodeError, ValueError):
        return ""


def wants_json() -> bool:
    return "application/json" in (bottle.request.get_header("Accept") or "")


def json_answer(body: dict[str, Any], status: int = 200) -> bytes:
    """A JSON answer; bytes, so the page wrapper leaves its content type alone."""
    bottle.response.status = status
    bottle.response.content_type = "application/json; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def status_of(exc: DomainError) -> int:
    return next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)


def refusal(ctx: Any, static: dict[str, str], authed: bool, require_login: Any, csrf: str) -> bytes | str | None:
    """None when this POST may go on (logged in, right CSRF token); otherwise the answer refusing it.
    `csrf` is the token the request carried (a form field, or a header for a raw upload body)."""
    if not authed:
        if not wants_json():
            require_login()  # redirects
        return json_answer({"error": LOGIN}, 401)
    if not session.csrf_ok(ctx, bottle.request, csrf):
        if wants_json():
            return json_answer({"error": EXPIRED}, 403)
        bottle.response.status = 403
        return pages.message_page(ctx, static, "Forbidden", EXPIRED, authed=True)
    return None


def csrf_for_page(ctx: Any) -> str:
    """The CSRF token of this browser's session (a guest cookie is issued if it has none)."""
    return session.csrf_token(ctx, session.ensure_nonce(ctx, bottle.request, bottle.response))
