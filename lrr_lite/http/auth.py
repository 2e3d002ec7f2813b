"""Who may call what: the API key (header or `?key=`), the web session cookie, password protection
(SEMANTICS §1). The app plugin asks `is_authenticated` for each protected route; OPDS asks it before a page
read moves the reading progress."""

from __future__ import annotations

import hmac
from typing import Any

import bottle

from lrr_lite.http.api.common import bearer_for
from lrr_lite.http.web.session import session_ok

UNAUTHORIZED = {
    "operation": "",
    "success": 0,
    "error": "This API is protected and requires login or an API Key.",
    "errors": [{"message": "Unauthorized", "path": "/security/0/api_key"}],
    "status": 401,
}


def is_authenticated(ctx: Any, request: bottle.BaseRequest, writes: bool = False) -> bool:
    """SEMANTICS §1: password protection off opens everything; an empty key never authenticates.

    `writes`: the route changes state (route flag `writes=True`). A browser sends its cookie with any
    cross-site link or <img> (SameSite=Lax allows top-level GETs), so there a GET/HEAD is authorized by
    the key alone, never by the session cookie; with protection off, a browser's cross-site GET is refused.
    """
    unsafe_get = writes and request.method in ("GET", "HEAD")
    if not ctx.settings.get("enablepass"):
        return not (unsafe_get and request.get_header("Sec-Fetch-Site", "") in ("cross-site", "same-site"))
    key = str(ctx.settings.get("apikey") or "")
    if key:
        header = request.get_header("Authorization", "") or ""
        if header and hmac.compare_digest(header.encode(), bearer_for(key).encode()):
            return True
        given = request.query.getunicode("key")
        if given and hmac.compare_digest(given.encode(), key.encode()):
            return True
    return not unsafe_get and session_ok(ctx, request)
