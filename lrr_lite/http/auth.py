"""Who may call what: the API key (header or `?key=`), the web session cookie, password protection
(SEMANTICS §1). The app plugin asks `is_authenticated` for each protected route; OPDS asks it before a page
read moves the reading progress."""

from __future__ import annotations

from typing import Any

import bottle

from lrr_lite.http.web.session import key_ok, session_ok
from lrr_lite.http.web.throttle import LoginThrottle

# Wrong keys from one address before the back-off starts: more than the web login's 5, since a client
# holding an old key (a phone app after the key changed) repeats it a few times before its user notices.
KEY_FREE = 10

UNAUTHORIZED = {
    "operation": "",
    "success": 0,
    "error": "This API is protected and requires login or an API Key.",
    "errors": [{"message": "Unauthorized", "path": "/security/0/api_key"}],
    "status": 401,
}


def presents_key(request: bottle.BaseRequest) -> bool:
    """Whether the request offers an API key at all (Authorization header or `?key=`)."""
    return bool(request.get_header("Authorization", "") or request.query.get("key"))


class KeyGuard:
    """Back-off for guessed API keys, per client address (the web login's throttle, counting wrong keys):
    after KEY_FREE wrong keys an address waits 1 s, 2 s, 4 s … up to 5 min, and while it waits every request
    of it that offers a key is answered 429 unread, so a guesser learns nothing faster. A right key, or a
    request that offers none, is never slowed; a right key clears the address's count."""

    def __init__(self) -> None:
        self.throttle = LoginThrottle(free=KEY_FREE)

    def wait(self, ctx: Any, request: bottle.BaseRequest, offered: bool | None = None,
             right: bool | None = None) -> int | None:
        """None to go on, else seconds to wait (Retry-After). `offered`/`right` default to the API key's
        header and query; kosync passes its own headers' answer."""
        if not ctx.settings.get("enablepass"):
            return None  # nothing to guess: protection off opens everything
        if not (presents_key(request) if offered is None else offered):
            return None
        address = request.remote_addr or request.environ.get("REMOTE_ADDR", "")
        barred = self.throttle.begin(address)
        if barred:
            return barred
        if key_ok(ctx, request) if right is None else right:
            self.throttle.succeeded(address)
        return None


def is_authenticated(ctx: Any, request: bottle.BaseRequest, writes: bool = False) -> bool:
    """SEMANTICS §1: password protection off opens everything; an empty key never authenticates.

    `writes`: the route changes state (route flag `writes=True`). A browser sends its cookie with any
    cross-site link or <img> (SameSite=Lax allows top-level GETs), so there a GET/HEAD is authorized by
    the key alone, never by the session cookie; with protection off, a browser's cross-site GET is refused.
    """
    unsafe_get = writes and request.method in ("GET", "HEAD")
    if not ctx.settings.get("enablepass"):
        return not (unsafe_get and request.get_header("Sec-Fetch-Site", "") in ("cross-site", "same-site"))
    if key_ok(ctx, request):
        return True
    return not unsafe_get and session_ok(ctx, request)
