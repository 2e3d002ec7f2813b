"""What the catalog feeds show, shared by OPDS 1.2 (http/feeds.py, http/api/opds.py) and OPDS 2.0
(http/opds2.py): one page of a search as feed rows, the page window (first/previous/next/last), the
categories offered as facets, and each archive's detected container kind (the acquisition link's type).

Both catalogs page through the same search with the same page size (the `pagesize` setting, LANraragi's
archives_per_page), so a reader switching between them sees the same archives in the same order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lrr_lite.library.search.engine import Query, search
from lrr_lite.media import formats
from lrr_lite.storage.db import Database

ROW_COLUMNS = "id, path, filename, extension, title, tags, isnew, progress, pagecount, lastreadtime"
KIND_CACHE_SIZE = 65536


@dataclass
class Category:
    id: str
    name: str
    count: int | None = None  # members of a static category; None for dynamic ones


@dataclass(frozen=True)
class Window:
    """Which results a feed page shows (`start` 0-based, `per_page` >= 1, `total` results of the search) and
    where its paging links point: each is a start offset, or None when there is no such page."""

    start: int
    per_page: int
    total: int

    @property
    def last(self) -> int:
        return ((self.total - 1) // self.per_page) * self.per_page if self.total > 0 else 0

    @property
    def previous(self) -> int | None:
        return min(max(0, self.start - self.per_page), self.last) if self.start > 0 else None

    @property
    def next(self) -> int | None:
        return self.start + self.per_page if self.start + self.per_page < self.total else None


@dataclass
class Page:
    rows: list[Any]  # archive rows (ROW_COLUMNS) in search order
    window: Window


def rows(db: Database, ids: list[str]) -> list[Any]:
    """The feed rows of these archives, in the order given; missing or absent-file archives are skipped."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = {r["id"]: r for r in db.query(f"SELECT {ROW_COLUMNS} FROM archives WHERE id IN ({marks}) "
                                          "AND path != ''", ids)}
    return [found[i] for i in ids if i in found]


def page(db: Database, *, per_page: int, start: int = 0, filter: str = "", category: str | None = None,
         newonly: bool = False) -> Page:
    """One page of the catalog: /api/search's grammar and title order, tankoubons not grouped (a feed lists
    archives a reader can open)."""
    per_page = max(1, per_page)
    start = max(0, start)
    result = search(db, Query(filter=filter, category=category, start=start, newonly=newonly,
                              groupby_tanks=False), per_page)
    return Page(rows(db, result.ids), Window(start, per_page, result.filtered))


def categories(db: Database) -> list[Category]:
    """Every category, with the member count of the static ones (dynamic ones would need their search run)."""
    counts = {r[0]: r[1] for r in db.query(
        "SELECT ca.category_id, COUNT(*) FROM category_archives ca JOIN archives a ON a.id = ca.archive_id "
        "AND a.path != '' GROUP BY ca.category_id")}
    return [Category(r["id"], r["name"], None if r["search"] else counts.get(r["id"], 0))
            for r in db.query("SELECT id, name, search FROM categories")]


class KindCache:
    """Archive ID -> container kind read from the file's first bytes (the acquisition link's type).

    The ID is the SHA-1 of the file's first 512,000 bytes and the kind is read from its first 512, so an ID's
    kind never changes: entries need no invalidation. A feed page costs one small read per archive the
    first time it is shown, then nothing. Unreadable files (None) are not remembered."""

    def __init__(self, max_entries: int = KIND_CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self._kinds: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def kind(self, archive_id: str, path: str) -> str | None:
        with self._lock:
            known = self._kinds.get(archive_id)
        if known is not None:
            return known
        kind = formats.read_kind(path) if path else None
        if kind is not None:
            with self._lock:
                self._kinds[archive_id] = kind
                while len(self._kinds) > self.max_entries:
                    self._kinds.popitem(last=False)
        return kind

    def kinds(self, rows: list[Any]) -> dict[str, str | None]:
        return {r["id"]: self.kind(r["id"], r["path"]) for r in rows}


# One per process, shared by both catalogs: an ID's kind never changes, so any route may fill it.
KINDS = KindCache()
