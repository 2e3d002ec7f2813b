"""A small reader of a running LANraragi's client API, for `lrr-lite import-lanraragi` (standard library only).

It talks only to the URL it was given: no proxy from the environment, no redirect followed (a redirect is
answered as "not a LANraragi server"), every request bounded by a timeout and every reply by a size cap.
Failures are `RemoteError` with a one-line message and a `kind` the command line turns into an exit code.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from lrr_lite import __version__

# A 100k-archive list is ~60 MB of JSON; a reply larger than this is not an API answer we can use.
MAX_REPLY_BYTES = 512 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0

# kinds of RemoteError (the CLI maps them to exit codes: usage = 2, the network's or server's state = 1)
USAGE = "usage"        # a malformed URL, a server that is not LANraragi, a wrong API key
NETWORK = "network"    # refused, unreachable, timed out, dropped mid-reply
SERVER = "server"      # a LANraragi that answered with an error or an unreadable body


class RemoteError(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would make us talk to a URL the user did not give: stop at the 3xx."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def check_url(url: str) -> str:
    """The base URL without a trailing slash (a URL prefix such as /lrr is kept); RemoteError otherwise."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"--url {url!r} is not an http:// or https:// URL of a LANraragi server", USAGE)
    if parts.query or parts.fragment:
        raise RemoteError(f"--url {url!r}: give the server's base URL, without ?query or #fragment", USAGE)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class Client:
    def __init__(self, url: str, key: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base = check_url(url)
        self.timeout = timeout
        # LANraragi's API key header: "Bearer " + base64 of the key
        self.headers = {"Accept": "application/json", "User-Agent": f"lrr-lite/{__version__} import-lanraragi"}
        if key:
            self.headers["Authorization"] = "Bearer " + base64.b64encode(key.encode("utf-8")).decode("ascii")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def get(self, path: str, *, missing_ok: bool = False) -> Any:
        """GET base+path as JSON. With `missing_ok`, a 404 (an endpoint this LANraragi version lacks) is None."""
        url = self.base + path
        request = urllib.request.Request(url, headers=self.headers, method="GET")
        try:
            with self.opener.open(request, timeout=self.timeout) as reply:
                body = reply.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            return self._http_error(exc, path, missing_ok)
        except TimeoutError:
            raise RemoteError(f"{self.base} did not answer {path} within {self.timeout:g} s "
                              "(raise --timeout for a slow server)", NETWORK) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise RemoteError(f"{self.base} did not answer {path} within {self.timeout:g} s "
                                  "(raise --timeout for a slow server)", NETWORK) from None
            why = getattr(reason, "strerror", None) or str(reason)
            raise RemoteError(f"cannot reach {self.base}: {why}", NETWORK) from None
        except (ConnectionError, OSError, ValueError) as exc:  # reset or dropped mid-reply, IncompleteRead
            why = getattr(exc, "strerror", None) or exc.__class__.__name__
            raise RemoteError(f"the connection to {self.base} broke during {path}: {why}", NETWORK) from None
        if len(body) > MAX_REPLY_BYTES:
            raise RemoteError(f"{self.base}{path} answered more than {MAX_REPLY_BYTES // 2**20} MiB", SERVER)
        try:
            return json.loads(body)
        except ValueError:
            raise RemoteError(f"{self.base}{path} did not answer JSON: is this a LANraragi server?",
                              USAGE if path == "/api/info" else SERVER) from None

    def _http_error(self, exc: urllib.error.HTTPError, path: str, missing_ok: bool) -> Any:
        code = exc.code
        exc.close()
        if code == 401:
            raise RemoteError(f"{self.base} refused the API key (401): check --key (LANraragi's settings, "
                              "'API Key')", USAGE)
        if code == 404 and missing_ok:
            return None
        if 300 <= code < 400:
            where = exc.headers.get("Location", "elsewhere") if exc.headers else "elsewhere"
            raise RemoteError(f"{self.base}{path} redirects to {where}: give the LANraragi server's own base "
                              "URL", USAGE)
        if path == "/api/info":
            raise RemoteError(f"{self.base} answered /api/info with HTTP {code}: is this a LANraragi server?",
                              USAGE)
        raise RemoteError(f"{self.base}{path} answered HTTP {code}", SERVER)
