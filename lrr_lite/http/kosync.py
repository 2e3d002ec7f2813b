"""KOReader's progress sync server (kosync) under `kosync_path` (default /kosync), as KOReader's "Progress
sync" plugin speaks it (plugins/kosync.koplugin: api.json, KOSyncClient.lua) and koreader-sync-server answers.

Accounts: one user per API key. Any user name; the password is the server's API key, which KOReader sends as
`x-auth-key: md5(password)`. With password protection off the server is open (like every API route) and any
name and password are let in. Registration (`POST /users/create`) creates nothing: credentials that would log
in are answered 201, as if registered, so KOReader's Register button works too; others get kosync's "disabled"
error, whose message KOReader shows.

These routes skip the API plugin: No-Fun mode's 401 and LANraragi's JSON shapes are not what KOReader reads.
They check their own headers (which carry the same API key) and answer errors in kosync's shape,
`{"code": 2001, "message": "Unauthorized"}`. The work is in library/kosync.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import traceback
from collections.abc import Callable
from typing import Any

import bottle

from lrr_lite.errors import Locked
from lrr_lite.http.auth import KeyGuard
from lrr_lite.library import kosync

log = logging.getLogger(__name__)

SKIP = ["lrr_api"]  # app.ApiPlugin's name
JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY = 64 * 1024
# koreader-sync-server's error table (config/errors.lua), with its statuses
ERRORS = {
    2000: (503, "Unknown server error."),
    2001: (401, "Unauthorized"),
    2003: (403, "Invalid request"),
    2004: (403, "Field 'document' not provided."),
    2005: (402, "This server registers no users: log in with any user name and the server's API key as the "
                "password."),
}
# what koreader-sync-server accepts as a document (it cannot route others back); KOReader's are 32 hex digits
DOCUMENT = re.compile(r"[A-Za-z0-9_]{1,128}")
MAX_TEXT = 2048  # progress (an XPointer for reflowed books), device names


class KosyncError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def reply(body: dict[str, Any], status: int = 200) -> str:
    bottle.response.status = status
    bottle.response.content_type = JSON_TYPE
    return json.dumps(body, ensure_ascii=False)


def key_matches(ctx: Any, user: str, userkey: str) -> bool:
    """Whether a KOReader login (user name, md5 of the password) is let in."""
    if not ctx.settings.get("enablepass"):
        return True  # password protection off: everything is open (SEMANTICS §1), this too
    apikey = str(ctx.settings.get("apikey") or "")
    if not apikey or not user.strip() or not userkey:
        return False  # an empty key never authenticates
    expected = hashlib.md5(apikey.encode("utf-8")).hexdigest()
    return hmac.compare_digest(userkey.strip().lower().encode(), expected.encode())


def mount(app: bottle.Bottle, ctx: Any) -> None:
    prefix = ctx.config.kosync_path
    if prefix is None:
        return
    ctx.jobs.register(kosync.BACKFILL_TASK, lambda job, args: kosync.backfill(ctx.db, job))
    if kosync.missing_fingerprints(ctx.db):  # archives recorded before fingerprints existed (schema 13)
        kosync.request_backfill(ctx)

    keys = KeyGuard()

    def route(path: str, method: str, authed: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(callback: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> str:
                bottle.response.set_header("X-Content-Type-Options", "nosniff")
                try:
                    if authed:
                        user = bottle.request.get_header("x-auth-user", "") or ""
                        userkey = bottle.request.get_header("x-auth-key", "") or ""
                        right = key_matches(ctx, user, userkey)
                        # guessed keys back off as the API's do (auth.KeyGuard), answered before any check
                        barred = keys.wait(ctx, bottle.request, offered=bool(userkey), right=right)
                        if barred:
                            bottle.response.set_header("Retry-After", str(barred))
                            return reply({"code": 2001, "message": "Too many wrong keys: try again in "
                                          f"{barred} s"}, 429)
                        if not right:
                            raise KosyncError(2001)
                    return callback(*args, **kwargs)
                except KosyncError as exc:
                    status, message = ERRORS[exc.code]
                    return reply({"code": exc.code, "message": message}, status)
                except Locked:  # another writer held the archive: KOReader queues the push and retries
                    status, message = ERRORS[2000]
                    return reply({"code": 2000, "message": message}, status)
                except Exception:
                    log.error("kosync: unhandled error on %s %s\n%s", bottle.request.method, bottle.request.path,
                              traceback.format_exc())
                    status, message = ERRORS[2000]
                    return reply({"code": 2000, "message": message}, status)

            app.route(prefix + path, method=method, callback=wrapper, skip=SKIP)
            return wrapper
        return decorate

    @route("/healthcheck", "GET", authed=False)
    def healthcheck() -> str:
        return reply({"state": "OK"})

    @route("/users/create", "POST", authed=False)
    def create_user() -> str:
        body = json_body()
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not username.strip() or not isinstance(password, str) or not password:
            raise KosyncError(2003)
        if not key_matches(ctx, username, password):
            raise KosyncError(2005)
        return reply({"username": username}, 201)

    @route("/users/auth", "GET")
    def auth_user() -> str:
        return reply({"authorized": "OK"})

    @route("/syncs/progress", "PUT")
    def update_progress() -> str:
        body = json_body()
        document = body.get("document")
        if not isinstance(document, str) or not document:
            raise KosyncError(2004)
        if not DOCUMENT.fullmatch(document):
            raise KosyncError(2003)
        progress, device, device_id = body.get("progress"), body.get("device"), body.get("device_id", "")
        if isinstance(progress, (int, float)) and not isinstance(progress, bool):
            progress = str(progress)  # KOReader sends tostring(page); a number is taken as that
        percentage = number(body.get("percentage"))
        if (not isinstance(progress, str) or not progress or len(progress) > MAX_TEXT or percentage is None
                or not isinstance(device, str) or not device or len(device) > MAX_TEXT
                or not isinstance(device_id, str) or len(device_id) > MAX_TEXT):
            raise KosyncError(2003)
        when = kosync.push(ctx, document, progress, percentage, device, device_id)
        return reply({"document": document, "timestamp": when})

    @route("/syncs/progress/<document>", "GET")
    def get_progress(document: str) -> str:
        if not DOCUMENT.fullmatch(document):
            raise KosyncError(2004)
        return reply(kosync.pull(ctx, document))


def json_body() -> dict[str, Any]:
    """The request's JSON object (KOReader sends JSON; a form would be odd but is read too)."""
    request = bottle.request
    if (request.content_length or 0) > MAX_BODY:
        raise KosyncError(2003)
    raw = request.body.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise KosyncError(2003)
    if "json" not in (request.content_type or "json"):
        return {key: request.forms.getunicode(key) for key in request.forms}
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise KosyncError(2003) from None
    if not isinstance(body, dict):
        raise KosyncError(2003)
    return body


def number(value: Any) -> float | None:
    """A percentage as kosync reads it (Lua's tonumber): a number or numeric text; finite, else None."""
    if isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None
