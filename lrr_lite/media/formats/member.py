"""One archive member as a stream of chunks: what a route can send without holding the whole page."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from typing import BinaryIO

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats.limits import MAX_PAGE_BYTES
from lrr_lite.media.formats.mime import sniff_image


class MemberStream:
    """Chunks of one member, each at most limits.CHUNK_BYTES, produced as they are iterated.

    `size` is the byte count the stream will produce when it is known exactly (a cache file, a rendered PDF
    page) or the size the archive declares (a zip member: the stream raises ArchiveError if the data
    disagrees, so a Content-Length built from it is never silently wrong). Iterating raises ArchiveError with
    a reason when the member turns out corrupt or larger than MAX_PAGE_BYTES. Always close() it, or use it
    as a context manager: it may hold an open file.

    A route can return the stream itself as a WSGI body (bottle and waitress call its close() when the
    response is done): waitress then sends it chunk by chunk and the page is never held whole.
    """

    def __init__(self, chunks: Iterator[bytes], size: int, close: Callable[[], None] | None = None,
                 file: BinaryIO | None = None) -> None:
        self.size = size
        # The open file the chunks are read from, when the member is a file on disk (the page cache): a WSGI
        # server can send that straight from disk (wsgi.file_wrapper) without copying it through memory.
        self.file = file
        self._chunks = chunks
        self._source = chunks  # what close() closes, even after sniff_image() re-chained _chunks
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def sniff_image(self) -> str | None:
        """formats.sniff_image of the first chunk (read now, still produced first by the iteration)."""
        first = next(self._chunks, b"")
        self._chunks = itertools.chain([first], self._chunks)
        return sniff_image(first)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> MemberStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_all(self, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
        """The whole member as bytes, refused past max_bytes produced.

        Chunks go into a BytesIO: its buffer grows in place and getvalue() hands it over without a copy, so
        the peak is the member plus one chunk (a list of chunks and b"".join would be twice the member).
        """
        buf = io.BytesIO()
        produced = 0
        for chunk in self._chunks:
            produced += len(chunk)
            if produced > max_bytes:
                raise ArchiveError(f"member too large (over {max_bytes} bytes): not a page")
            buf.write(chunk)
        return buf.getvalue()


def from_bytes(data: bytes, chunk: int) -> MemberStream:
    """A stream over bytes already in memory (a rendered PDF page)."""
    view = memoryview(data)
    return MemberStream((bytes(view[i : i + chunk]) for i in range(0, len(data), chunk)), len(data))
