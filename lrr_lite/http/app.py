"""The Bottle application: one plugin for auth, CORS and errors; the API modules mount their routes."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import bottle

from lrr_lite.context import Context
from lrr_lite.errors import Busy, Conflict, DomainError, Invalid, Locked, NotFound, Unsupported
from lrr_lite.http import kosync
from lrr_lite.http.api import (
    archives,
    categories,
    common,
    database,
    legacy,
    minion,
    misc,
    opds,
    plugins,
    search,
    shinobu,
    stamps,
    tankoubons,
)
from lrr_lite.http.api.common import ApiError
from lrr_lite.http.auth import UNAUTHORIZED, KeyGuard, is_authenticated
from lrr_lite.http.opds2 import mount as mount_opds2
from lrr_lite.http.web import mount as mount_web
from lrr_lite.library.foreground import Foreground

log = logging.getLogger(__name__)

# The status of each kind of library error; a route may override some with its `errors` config, pairs of
# (kind, status) such as `errors=((NotFound, 404),)` where LANraragi answers 404 instead of its usual 400.
# (Pairs, not a dict: Bottle's route config flattens dicts with string keys.)
STATUS: dict[type[DomainError], int] = {NotFound: 400, Invalid: 400, Locked: 423, Conflict: 409, Unsupported: 415,
                                        Busy: 503}


def domain_status(exc: DomainError, overrides: dict[type[DomainError], int]) -> int:
    for kind in type(exc).__mro__:
        if kind in overrides:
            return overrides[kind]
        if kind in STATUS:
            return STATUS[kind]
    return 400


def domain_error_reply(exc: DomainError, operation: str, route_config: Any) -> str:
    """A library error in LANraragi's shape for this route: its operation name, its status, and the
    hand-built body (no successMessage, no XML escaping) where LANraragi builds it by hand: locks, and
    routes configured with `plain_errors=True` (upload, bookmark link)."""
    status = domain_status(exc, dict(route_config.get("errors") or ()))
    plain = bool(route_config.get("plain_errors")) or isinstance(exc, Locked)
    if isinstance(exc, Busy):  # temporary: tell the client when to come back
        bottle.response.set_header("Retry-After", str(exc.retry_after))
    return error_reply(ApiError(operation, exc.message, status, extra=exc.data, envelope=not plain))


class ApiPlugin:
    """Wraps every route: No-Fun mode and API-key checks, CORS headers, errors as JSON."""

    name = "lrr_api"
    api = 2

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.keys = KeyGuard()

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        secure = bool(route.config.get("secure"))
        writes = bool(route.config.get("writes"))  # state-changing even on GET: see is_authenticated
        progress = bool(route.config.get("progress"))
        operation = str(route.config.get("operation", ""))
        ctx = self.ctx
        keys = self.keys

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = bottle.request
            # No API reply is a page: whatever an archive holds, a browser must neither guess another type
            # for it nor run it as a document of our origin (an HTML or SVG member served by a route).
            bottle.response.set_header("X-Content-Type-Options", "nosniff")
            bottle.response.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
            if ctx.settings.get("enablecors"):
                add_cors_headers(bottle.response)
            try:
                if request.method != "OPTIONS":
                    barred = keys.wait(ctx, request)
                    if barred:
                        bottle.response.set_header("Retry-After", str(barred))
                        return common.json_reply({"operation": operation, "success": 0, "error":
                                                  f"Too many wrong API keys from this address: try again in "
                                                  f"{barred} s."}, 429)
                    authed = None
                    if secure or ctx.settings.get("nofunmode"):
                        authed = is_authenticated(ctx, request, writes)
                        if not authed:
                            return common.json_reply(dict(UNAUTHORIZED, operation=operation), 401)
                    if progress and ctx.settings.get("authprogress"):
                        if not (authed or is_authenticated(ctx, request, writes)):
                            return common.json_reply({"operation": operation, "success": 0,
                                                      "error": "This operation requires authentication."}, 401)
                return callback(*args, **kwargs)
            except ApiError as exc:
                return error_reply(exc)
            except DomainError as exc:
                return domain_error_reply(exc, operation, route.config)
            except common.SpecViolation as exc:
                return common.json_reply(exc.body(operation), exc.status)
            except bottle.HTTPResponse:
                raise
            except Exception:
                log.error("unhandled error on %s %s\n%s", request.method, request.path, traceback.format_exc())
                return common.json_reply({"operation": operation, "success": 0, "successMessage": "",
                                          "error": "Internal server error; see the server log."}, 500)

        return wrapper


def error_reply(exc: ApiError) -> str:
    if exc.envelope:
        body: dict[str, Any] = {"operation": exc.operation, "error": common.xml_escape(exc.message),
                                "success": 0, "successMessage": ""}
    else:
        body = {"operation": exc.operation, "error": exc.message, "success": 0}
    body.update(exc.extra)
    return common.json_reply(body, exc.status)


def add_cors_headers(response: bottle.BaseResponse) -> None:
    response.set_header("Access-Control-Allow-Origin", "*")
    response.set_header("Access-Control-Allow-Methods", "GET, OPTIONS, POST, DELETE, PUT")
    response.set_header("Access-Control-Allow-Headers", "Authorization")


class _App(bottle.Bottle):
    """The Bottle app, answering under the configured URL prefix as well as at the root: a reverse proxy
    serving us at /lrr may pass the prefix on or strip it, and both must work (SEMANTICS §20)."""

    def __init__(self, prefix: str, foreground: Foreground) -> None:
        super().__init__(catchall=True)
        self.foreground = foreground
        # PATH_INFO is WSGI's latin-1 view of the raw bytes: compare in the same terms
        self.prefix = prefix.encode("utf-8").decode("latin-1")

    def __call__(self, environ: dict, start_response):  # noqa: ANN204 - the WSGI signature
        path = environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
        token = self.foreground.begin()  # background loops wait while a request is answered
        try:
            body = self.wsgi(environ, start_response)
        except BaseException:
            self.foreground.end(token)
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):  # a file: the server sends it, no work of ours
            self.foreground.end(token)
            return body
        return _Answer(body, lambda: self.foreground.end(token))


class _Answer:
    """A response body that tells the foreground when it is sent: a streamed reply (the full list, the
    stats) is made while it is iterated, so the request counts until the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


def create_app(ctx: Context) -> bottle.Bottle:
    app = _App(ctx.config.base_url_path, ctx.foreground)
    app.config["json.enable"] = False
    app.install(ApiPlugin(ctx))
    for module in (archives, misc, minion, search, database, categories, tankoubons, stamps, opds, shinobu,
                   plugins):
        module.mount(app, ctx)
    mount_opds2(app, ctx)  # the OPDS 2.0 catalog under /api/opds2
    legacy.mount(app, ctx)  # after the modern routes: its aliases call their callbacks
    mount_web(app, ctx)  # the browser library, reader, login and settings pages
    kosync.mount(app, ctx)  # KOReader's progress sync server, under config.kosync_path

    @app.route("/api/<rest:path>", method=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"], operation="")
    def unknown_api(rest: str) -> str:
        return common.json_reply({"operation": "", "success": 0, "successMessage": "",
                                  "error": f"No API endpoint at /api/{rest} for {bottle.request.method}."}, 404)

    @app.route("/api/<rest:path>", method="OPTIONS")
    @app.route("/api", method="OPTIONS")
    def preflight(rest: str = "") -> str:
        if ctx.settings.get("enablecors"):
            add_cors_headers(bottle.response)
        bottle.response.status = 204
        return ""

    def json_error(err: bottle.HTTPError) -> str:
        bottle.response.content_type = common.JSON_TYPE
        return common.dumps({"operation": "", "success": 0, "successMessage": "",
                             "error": str(err.body) if err.body else err.status_line})

    for code in (400, 404, 405, 413, 500):
        app.error_handler[code] = json_error
    return app
