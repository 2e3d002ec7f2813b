"""The web reader's per-archive choices (mode, reading direction, fit) and its defaults from ComicInfo.xml.

Choices are saved here (table reader_prefs, schema 14) for a browser that is logged in or uses the API key;
other browsers keep them in localStorage, and the HTTP layer decides which. Defaults come from the archive's
ComicInfo.xml: `<Manga>YesAndRightToLeft</Manga>` reads right to left, a `Webtoon` format, genre or tag
reads as one vertical strip. The reader itself adds the last default, from the pages' shape (a strip taller
than 3:1 reads vertically), since only the browser knows the page sizes without decoding them here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from lxml import etree

from lrr_lite.errors import ArchiveError, DomainError, Invalid
from lrr_lite.library import pages, records
from lrr_lite.media import formats

MODES = ("single", "double", "double-nocover", "vertical")  # double: the cover alone; -nocover: paired too
DIRECTIONS = ("ltr", "rtl")
FITS = ("screen", "width", "height", "original")

# A stream archive (RAR, 7z, tar) has no index: reading one member may mean decompressing everything before
# it. Opening the reader must stay quick, so ComicInfo.xml is looked for there only in small files; a zip
# (cbz, the common case) is always cheap: its directory, then the one member.
STREAM_COMICINFO_MAX_BYTES = 32 * 1024 * 1024
COMICINFO_MAX_BYTES = 256 * 1024  # a real ComicInfo.xml is a few KB; anything bigger is not read
_CACHE_SIZE = 512

_cache: OrderedDict[tuple[str, str, int, int], dict[str, str]] = OrderedDict()
_cache_lock = threading.Lock()


def get(db: Any, archive_id: str) -> dict[str, str]:
    """The saved choices ({} when none): keys mode, direction, fit, only those that were chosen."""
    row = db.query_one("SELECT mode, direction, fit FROM reader_prefs WHERE archive_id=?", (archive_id,))
    if row is None:
        return {}
    return {key: row[key] for key in ("mode", "direction", "fit") if row[key]}


def save(db: Any, archive_id: str, *, mode: str = "", direction: str = "", fit: str = "") -> dict[str, str]:
    """Save the choices given (an empty one keeps what was saved); Invalid for a value not offered."""
    for value, allowed, what in ((mode, MODES, "mode"), (direction, DIRECTIONS, "direction"), (fit, FITS, "fit")):
        if value and value not in allowed:
            raise Invalid(f"Unknown reader {what}: {value[:40]}")
    records.require_row(db, archive_id)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO reader_prefs(archive_id, mode, direction, fit, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(archive_id) DO UPDATE SET "
            "mode=CASE WHEN excluded.mode != '' THEN excluded.mode ELSE mode END, "
            "direction=CASE WHEN excluded.direction != '' THEN excluded.direction ELSE direction END, "
            "fit=CASE WHEN excluded.fit != '' THEN excluded.fit ELSE fit END, updated=excluded.updated",
            (archive_id, mode, direction, fit, int(time.time())))
    return get(db, archive_id)


def parse_comicinfo(data: bytes) -> dict[str, str]:
    """Reader defaults from ComicInfo.xml's bytes: {"direction": "rtl"} and/or {"mode": "vertical"}."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    if root is None:
        return {}
    values: dict[str, str] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.text and el.text.strip():
            values.setdefault(etree.QName(el).localname.lower(), el.text.strip())
    out: dict[str, str] = {}
    manga = values.get("manga", "").lower()
    if manga == "yesandrighttoleft":
        out["direction"] = "rtl"
    words = {w.strip().lower() for key in ("format", "genre", "tags") for w in values.get(key, "").split(",")}
    if "webtoon" in words or manga == "webtoon":
        out["mode"] = "vertical"
    return out


def comicinfo_defaults(ctx: Any, row: Any) -> dict[str, str]:
    """The archive's defaults from its ComicInfo.xml ({} without one, or when reading it is not cheap);
    remembered per file version, so only the first opening reads the archive."""
    path = Path(row["path"])
    try:
        st = path.stat()
    except OSError:
        return {}
    key = (row["id"], str(path), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return dict(_cache[key])
    found = _read_defaults(ctx, row, path, st.st_size)
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return dict(found)


def _read_defaults(ctx: Any, row: Any, path: Path, size: int) -> dict[str, str]:
    try:
        kind = formats.detect_format(path)
        if kind == "pdf" or (kind == "stream" and size > STREAM_COMICINFO_MAX_BYTES):
            return {}
        name = next((m for m in formats.list_members(path)
                     if not m.endswith("/") and m.rsplit("/", 1)[-1].lower() == "comicinfo.xml"), None)
        if name is None:
            return {}
        data = pages.read_member(ctx, row["id"], name, row)
    except (DomainError, ArchiveError, OSError):
        return {}  # an unreadable archive has no defaults; the reader says what is wrong with its pages
    return parse_comicinfo(data[:COMICINFO_MAX_BYTES]) if len(data) <= COMICINFO_MAX_BYTES else {}
