"""PDF: synthetic page names 1.jpg..N.jpg, each rendered on demand at 200 DPI and encoded as JPEG q80."""

from __future__ import annotations

import io
import math
import re
import threading
from pathlib import Path

import pypdfium2 as pdfium

from lrr_lite.errors import ArchiveError
from lrr_lite.media import memory

DPI = 200
JPEG_QUALITY = 80
# 200 DPI A4 is ~3.9 MP, A3 ~7.8 MP; a hostile MediaBox of 14400 pt squared would be ~1.6 GP. Anything over
# this cap is rendered at a lower DPI instead: a render holds pdfium's 4-byte bitmap and Pillow's 4-byte RGB
# copy at once, so 12 MP is ~96 MB, within the default memory budget (memory.DEFAULT_BUDGET_BYTES).
MAX_PIXELS = 12_000_000
_BYTES_PER_PIXEL = 8
_PAGE_RE = re.compile(r"([1-9][0-9]*)\.jpg")
# pdfium is not thread-safe: every call into it goes through this lock.
_LOCK = threading.Lock()


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise ArchiveError("password-protected PDF") from exc
        raise ArchiveError(f"unreadable PDF: {msg}") from exc
    except OSError as exc:
        raise ArchiveError(f"Couldn't open archive: {exc}") from exc


def page_count(path: Path) -> int:
    with _LOCK:
        doc = _open(path)
        try:
            return len(doc)
        finally:
            doc.close()


def list_pages(path: Path) -> list[str]:
    # Kept in numeric order: the reference pushes these through the cover/credits partition, which would
    # move page 999 of a long PDF to the end.
    return [f"{n}.jpg" for n in range(1, page_count(path) + 1)]


def page_number(name: str) -> int | None:
    m = _PAGE_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def _scale(width_pt: float, height_pt: float) -> float:
    scale = DPI / 72
    if width_pt <= 0 or height_pt <= 0:
        raise ArchiveError("PDF page has no area")
    pixels = width_pt * scale * height_pt * scale
    if pixels > MAX_PIXELS:
        scale *= (MAX_PIXELS / pixels) ** 0.5
        # pdfium rounds the bitmap size up; shave until the rounded size is under the cap too.
        while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > MAX_PIXELS:
            scale *= 0.999
    return scale


def render_page(path: Path, number: int) -> bytes:
    with _LOCK:
        doc = _open(path)
        try:
            if not 1 <= number <= len(doc):
                raise KeyError(f"{number}.jpg")
            page = doc[number - 1]
            try:
                width, height = page.get_size()
                scale = _scale(width, height)
                need = math.ceil(width * scale) * math.ceil(height * scale) * _BYTES_PER_PIXEL
                with memory.budget().reserve(need, f"rendering PDF page {number}", ArchiveError):
                    bitmap = page.render(scale=scale)
                    # A copy: to_pil() shares memory with the bitmap, which pdfium frees on close.
                    image = bitmap.to_pil().convert("RGB")
                    bitmap.close()
            except pdfium.PdfiumError as exc:
                raise ArchiveError(f"PDF page {number} cannot be rendered: {exc}") from exc
            finally:
                page.close()
        finally:
            doc.close()
    # Encoding needs no pdfium, so it runs outside the lock.
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()
