"""The web login: password hashing, a signed session cookie, server-side sessions and CSRF tokens.

The cookie is `<issued>.<nonce>.<kind>.<mac>`: `kind` is `a` for a logged-in session and `g` for a guest
(who still needs a CSRF token when password protection is off). The MAC is an HMAC-SHA256 under a random
secret kept in the settings table (row `SECRET_KEY`, written here by SQL, not a user setting) over the
fields plus a fingerprint of the stored password, so changing the password ends every session.

A logged-in cookie also needs its nonce in the `web_sessions` table (one primary-key lookup per request):
logout deletes the row, so a copied or replayed cookie dies with it, and that survives a restart. Guest
cookies grant nothing, so they are not stored; logging in always issues a new nonce (never upgrades one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import bottle

from lrr_lite.http.api.common import bearer_for

COOKIE = "lrr_session"
SECRET_KEY = "web_session_secret"
MAX_AGE = 30 * 24 * 3600  # a login lasts 30 days
_SCRYPT = (2**14, 8, 1)  # n, r, p: ~16 MiB and well under a second on a Raspberry Pi 4


# -- passwords -----------------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(stored: str, given: str) -> bool:
    """`stored` is a hash from hash_password or, for a legacy/default value, the plain password."""
    stored = str(stored or "")
    if not given:
        return False
    if stored.startswith("scrypt$"):
        try:
            _, n, r, p, salt, digest = stored.split("$")
            want = base64.b64decode(digest)
            got = hashlib.scrypt(given.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                 dklen=len(want), maxmem=256 * 1024 * 1024)
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(got, want)
    return hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8"))


# -- the secret and the cookie ---------------------------------------------------------------------------------

def _secret(ctx) -> bytes:
    row = ctx.db.query_one("SELECT value FROM settings WHERE key=?", (SECRET_KEY,))
    if row is None or not row["value"]:
        with ctx.db.write() as conn:
            conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                         (SECRET_KEY, secrets.token_hex(32)))
        row = ctx.db.query_one("SELECT value FROM settings WHERE key=?", (SECRET_KEY,))
    return bytes.fromhex(row["value"])


def _mac(ctx, message: str) -> str:
    fingerprint = hashlib.sha256(str(ctx.settings.get("password") or "").encode("utf-8")).hexdigest()
    return hmac.new(_secret(ctx), f"{message}|{fingerprint}".encode(), hashlib.sha256).hexdigest()


def _parse(ctx, value: str | None) -> tuple[str, str] | None:
    """(nonce, kind) of a valid, unexpired cookie value, else None."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 4:
        return None
    issued, nonce, kind, mac = parts
    if not issued.isdigit() or kind not in ("a", "g"):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(ctx, f"{issued}.{nonce}.{kind}").encode()):
        return None
    if not 0 <= time.time() - int(issued) <= MAX_AGE:
        return None
    return nonce, kind


def _cookie_value(request: bottle.BaseRequest) -> str | None:
    return request.get_cookie(COOKIE)


def _live(ctx, nonce: str) -> bool:
    row = ctx.db.query_one("SELECT expires FROM web_sessions WHERE nonce=?", (nonce,))
    return row is not None and row["expires"] > time.time()


def _current(ctx, request: bottle.BaseRequest) -> tuple[str, str] | None:
    """(nonce, kind) of the request's cookie if it is valid and, when logged in, not revoked."""
    parsed = _parse(ctx, _cookie_value(request))
    if parsed is not None and parsed[1] == "a" and not _live(ctx, parsed[0]):
        return None
    return parsed


def issue(ctx, response: bottle.BaseResponse, *, logged_in: bool) -> str:
    """Set a fresh session cookie (always a new nonce); returns its nonce (what CSRF tokens are tied to)."""
    now = int(time.time())
    issued, nonce, kind = str(now), secrets.token_hex(16), "a" if logged_in else "g"
    if logged_in:
        with ctx.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires <= ?", (now,))  # the table stays small
            conn.execute("INSERT INTO web_sessions(nonce, created, expires) VALUES (?, ?, ?)",
                         (nonce, now, now + MAX_AGE))
    value = f"{issued}.{nonce}.{kind}.{_mac(ctx, f'{issued}.{nonce}.{kind}')}"
    extra = {"max_age": MAX_AGE} if logged_in else {}  # a guest's cookie ends with the browser session
    response.set_cookie(COOKIE, value, path="/", httponly=True, samesite="lax", **extra)
    return nonce


def revoke(ctx, request: bottle.BaseRequest) -> None:
    """End the request's logged-in session server-side: its cookie stops working everywhere, at once."""
    parsed = _parse(ctx, _cookie_value(request))
    if parsed is not None and parsed[1] == "a":
        with ctx.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE nonce=?", (parsed[0],))


def revoke_all(ctx) -> None:
    """End every logged-in session (the password changed)."""
    with ctx.db.write() as conn:
        conn.execute("DELETE FROM web_sessions")


def clear(response: bottle.BaseResponse) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def cross_site(request: bottle.BaseRequest) -> bool:
    """Did a browser send this from another site's page? (Fetch Metadata; non-browser clients send no
    Sec-Fetch-Site.) Our own pages are always same-origin, whatever proxy is in front."""
    return (request.get_header("Sec-Fetch-Site") or "") in ("cross-site", "same-site")


def key_ok(ctx: Any, request: bottle.BaseRequest) -> bool:
    """Whether the request's API key (Authorization header or `?key=`) is the server's; an empty key never is.
    (Here rather than in auth.py, which imports this module, so the web routes can ask it too.)"""
    key = str(ctx.settings.get("apikey") or "")
    if not key:
        return False
    header = request.get_header("Authorization", "") or ""
    if header and hmac.compare_digest(header.encode(), bearer_for(key).encode()):
        return True
    given = request.query.getunicode("key")
    return bool(given) and hmac.compare_digest(given.encode(), key.encode())


def session_ok(ctx, request: bottle.BaseRequest) -> bool:
    """True when the request carries a live logged-in session cookie (auth.is_authenticated calls this).

    SameSite=Lax keeps the cookie off other sites' POSTs, but "site" ignores the port: another service on
    this host is same-site. So a write (anything but GET/HEAD) from a page that is not ours is refused too.
    """
    parsed = _current(ctx, request)
    if parsed is None or parsed[1] != "a":
        return False
    return request.method in ("GET", "HEAD") or not cross_site(request)


def web_authed(ctx, request: bottle.BaseRequest) -> bool:
    """May this browser see protected pages? Password protection off opens everything (SEMANTICS §1)."""
    if not ctx.settings.get("enablepass"):
        return True
    parsed = _current(ctx, request)
    return parsed is not None and parsed[1] == "a"


def ensure_nonce(ctx, request: bottle.BaseRequest, response: bottle.BaseResponse) -> str:
    """The current session's nonce, issuing a guest cookie when there is none."""
    parsed = _current(ctx, request)
    if parsed is not None:
        return parsed[0]
    return issue(ctx, response, logged_in=False)


def csrf_token(ctx, nonce: str) -> str:
    return _mac(ctx, "csrf." + nonce)


def current_csrf(ctx: Any) -> str:
    """The CSRF token of this request's session cookie, or "" when it has none (never issues a cookie: the
    page layout asks this for the header's logout form, which only a logged-in browser sees)."""
    parsed = _current(ctx, bottle.request)
    return csrf_token(ctx, parsed[0]) if parsed is not None else ""


def csrf_ok(ctx, request: bottle.BaseRequest, given: str | None) -> bool:
    parsed = _current(ctx, request)
    if parsed is None or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), csrf_token(ctx, parsed[0]).encode())
