"""Request parsing and reply shaping shared by the API modules."""

from __future__ import annotations

import base64
import json
from typing import Any

import bottle

JSON_TYPE = "application/json;charset=UTF-8"


INT64_MAX = 2**63 - 1


class ApiError(Exception):
    """A failure only the HTTP layer knows (a malformed request body, a missing upload): LANraragi's operation
    name, message and status. `extra` holds additional keys of the error body. `envelope=False` sends the
    hand-built shape ({"operation","success":0,"error"} plus extra) without `successMessage` and without
    XML-escaping, as LANraragi does for upload and friends. The library raises errors.DomainError instead."""

    def __init__(self, operation: str, message: str, status: int = 400, *, extra: dict[str, Any] | None = None,
                 envelope: bool = True) -> None:
        super().__init__(message)
        self.operation = operation
        self.message = message
        self.status = status
        self.extra = extra or {}
        self.envelope = envelope


class SpecViolation(Exception):
    """A request the OpenAPI layer of LANraragi rejects before any handler runs (wrong-length ID…)."""

    def __init__(self, message: str, path: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.status = status

    def body(self, operation: str) -> dict[str, Any]:
        # LANraragi's validator shape (errors, status) plus the envelope keys its spec documents for 400s.
        return {"operation": operation, "success": 0, "error": f"{self.path.lstrip('/')}: {self.message}",
                "errors": [{"message": self.message, "path": self.path}], "status": self.status}


def xml_escape(text: str) -> str:
    """LANraragi escapes envelope strings as XML (its clients expect `&#39;` on the wire)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():  # a server path whose name is not UTF-8 (surrogate escapes) cannot be sent as is
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def json_reply(obj: Any, status: int = 200) -> str:
    bottle.response.status = status
    bottle.response.content_type = JSON_TYPE
    return dumps(obj)


def envelope(operation: str, message: str = "", **extra: Any) -> str:
    body = {"operation": operation, "error": "", "success": 1, "successMessage": xml_escape(message)}
    body.update(extra)
    return json_reply(body)


def param(name: str, default: str | None = None) -> str | None:
    """A parameter from the query string or the form body (urlencoded or multipart), as UTF-8 text."""
    value = bottle.request.query.getunicode(name)
    if value is None:
        try:
            value = bottle.request.forms.getunicode(name)
        except (ValueError, UnicodeError, KeyError):
            value = None
    return default if value is None else value


def bool_param(name: str) -> bool:
    """LANraragi's query booleans: only the literal string 'true' is true."""
    return param(name) == "true"


def int_param(name: str, default: int | None = None, *, required: bool = False) -> int | None:
    raw = param(name)
    if raw is None or raw == "":
        if required:
            raise SpecViolation("Missing property.", f"/{name}")
        return default
    return path_int(raw.strip(), name)


def path_int(value: str, name: str) -> int:
    """An integer parameter; out of SQLite's 64-bit range is as invalid as not a number."""
    try:
        number = int(value)
    except ValueError:
        raise SpecViolation("Expected integer - got string.", f"/{name}") from None
    if abs(number) > INT64_MAX:
        raise SpecViolation("Integer out of range.", f"/{name}")
    return number


def check_archive_id(archive_id: str, allow_tank: bool = False) -> str:
    """The OpenAPI layer's length check on {id}: 400 in LANraragi's validator shape."""
    if allow_tank and len(archive_id) == 15 and archive_id.startswith("TANK_"):
        return archive_id
    if len(archive_id) < 40:
        raise SpecViolation(f"String is too short: {len(archive_id)}/40.", "/id")
    if len(archive_id) > 40:
        raise SpecViolation(f"String is too long: {len(archive_id)}/40.", "/id")
    return archive_id


def bearer_for(key: str) -> str:
    return "Bearer " + base64.b64encode(key.encode("utf-8")).decode("ascii")
