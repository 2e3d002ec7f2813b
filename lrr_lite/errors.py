"""The one exception type the API raises; turned into LANraragi's JSON shape in one place (app.py)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A client-visible failure: LANraragi's operation name, message and HTTP status.

    `extra` holds additional keys some operations put in their error body (e.g. upload's `id`).
    `envelope=False` sends the hand-built shape ({"operation","success":0,"error"} plus extra)
    without `successMessage` and without XML-escaping, as LANraragi does for upload and friends.
    """

    def __init__(
        self,
        operation: str,
        message: str,
        status: int = 400,
        *,
        extra: dict[str, Any] | None = None,
        envelope: bool = True,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.message = message
        self.status = status
        self.extra = extra or {}
        self.envelope = envelope


class ArchiveError(Exception):
    """An archive that cannot be opened or read: corrupt, truncated, empty, encrypted, unknown format.

    The message is a short human reason, logged by the scanner and sent to clients.
    """


class ImageError(Exception):
    """An image that cannot be decoded, or is too large to decode safely."""
