"""The few errors the library raises. They know nothing of HTTP: the HTTP layer (http/app.py) maps each kind to
LANraragi's JSON shape and status, using the operation name of the route that called.

`data` holds values a client may need besides the message (e.g. the ID of the archive an upload collides
with); the API layer adds them to the error body.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can act on: the message is short, human and safe to show to a client."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class NotFound(DomainError):
    """The archive, category, tankoubon, stamp, job or member asked for does not exist."""


class Invalid(DomainError):
    """The request cannot be carried out as asked: a bad value, an out-of-range page, a missing field."""


class Locked(DomainError):
    """Another writer held the resource for longer than a writer waits (locks.Locks)."""


class Conflict(DomainError):
    """The write would clash with what is stored: the same file or the same name is already in the library."""


class Unsupported(DomainError):
    """A kind of file or request this server does not handle (an unknown extension, a disabled feature)."""


class Busy(DomainError):
    """A temporary shortage: the request could not get its share of a bounded resource (the memory budget for
    pages) in time. Nothing is wrong with the request; the same one a little later may well succeed."""

    retry_after = 5  # seconds a client is asked to wait before trying again (HTTP's Retry-After)


class ChecksumMismatch(Invalid):
    """An uploaded file's SHA-1 is not the one the client announced."""


class ArchiveError(Invalid):
    """An archive that cannot be opened or read: corrupt, truncated, empty, encrypted, unknown format.

    The message is a short human reason, logged by the scanner and sent to clients.
    """


class ImageError(Invalid):
    """An image that cannot be decoded, or is too large to decode safely."""
