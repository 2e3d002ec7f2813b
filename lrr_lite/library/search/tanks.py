"""Tankoubons in search results: they are few, so they are matched and sorted in Python and merged with
the archives' page when grouping is on (SEMANTICS §3, §5)."""

from __future__ import annotations

import bisect
import fnmatch
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrr_lite.library.search.grammar import Term, glob_pattern, numeric_filter
from lrr_lite.library.search.hits import archive_ids
from lrr_lite.library.search.natural import natural_key
from lrr_lite.library.search.query import Query, Result, Where
from lrr_lite.library.search.terms import tag_glob
from lrr_lite.library.tags import index_keys, split_tags
from lrr_lite.storage.db import Database

DATE_NAMESPACES = ("date_added", "timestamp")


@dataclass
class Tank:
    id: str
    name: str
    own_tags: str
    members: list[str]
    member_keys: set[str]
    lastreadtime: int
    isnew: bool
    dates: dict[str, int]


def _tanks(db: Database) -> list[Tank]:
    """Tankoubons with at least one present member, with what matching and sorting need."""
    out = []
    for t in db.query("SELECT id, name, tags FROM tankoubons ORDER BY id"):
        rows = db.query(
            "SELECT a.id, a.tags, a.lastreadtime, a.isnew FROM tank_archives ta JOIN archives a ON a.id = ta.archive_id "
            "WHERE ta.tank_id = ? AND a.path != '' ORDER BY ta.position", (t["id"],))
        if not rows:
            continue
        keys: set[str] = set()
        dates: dict[str, int] = {}
        for r in rows:
            keys |= index_keys(r["tags"])
            for tag in split_tags(r["tags"]):
                ns, _, value = tag.partition(":")
                if ns.strip().lower() in DATE_NAMESPACES and value.strip().isdigit():
                    dates[ns.strip().lower()] = max(dates.get(ns.strip().lower(), 0), int(value.strip()))
        out.append(Tank(t["id"], t["name"], t["tags"], [r["id"] for r in rows], keys,
                         max(r["lastreadtime"] for r in rows), any(r["isnew"] for r in rows), dates))
    return out


def _tank_hits(tank: Tank, term: Term) -> bool:
    if numeric_filter(term.text):
        pass  # tanks never match numeric parts; their tags and name still may
    keys = index_keys(tank.own_tags) | tank.member_keys
    if term.exact and term.text in keys:
        return True
    pattern = tag_glob(term)
    if any(fnmatch.fnmatchcase(k, pattern) for k in keys):
        return True
    name = tank.name.strip().lower()
    if term.exact:
        return fnmatch.fnmatchcase(name, glob_pattern(term.text))
    anywhere = glob_pattern(term.text, "*", "*")
    return fnmatch.fnmatchcase(name, anywhere) or fnmatch.fnmatchcase(tank.id.lower(), anywhere)


def matching_tanks(db: Database, q: Query, terms: list[Term], members: list[str] | None) -> list[Tank]:
    if q.untaggedonly:
        return []
    tanks = _tanks(db)
    if members is not None:
        allowed = set(members)
        tanks = [t for t in tanks if t.id in allowed]
    if q.newonly:
        tanks = [t for t in tanks if t.isnew]
    if q.sort == "lastread":
        tanks = [t for t in tanks if t.lastreadtime > 0]
    return [t for t in tanks if all(_tank_hits(t, term) != term.negated for term in terms)]


def _tank_sort_value(tank: Tank, sort: str) -> str | int | None:
    if sort == "title":
        return natural_key(tank.name.strip().lower())
    if sort == "lastread":
        return tank.lastreadtime
    own = [tag for tag in split_tags(tank.own_tags) if tag.lower().startswith(sort + ":")]
    if own:
        return natural_key(own[-1].split(":", 1)[1].strip().lower())
    if sort in DATE_NAMESPACES and sort in tank.dates:
        return natural_key(str(tank.dates[sort]))
    return None


# -- sorting and paging -------------------------------------------------------------------------------------


def merged_page(db: Database, q: Query, where: Where | None, archives: int, tanks: list[Tank], offset: int,
                limit: int, total: int, walk: bool) -> Result:
    """Archives and tankoubons sorted together (only when tanks are part of the result).

    Items carrying the sort value come first, by value (most recent first for lastread), ties by title key
    then integer key, a tank before archives of its very title key (reversed with the value only for the
    title sort, as ungrouped results are); then the items without it, by title key. SQLite returns each
    part's archives in that order (the title order straight from its index, without reading a row), so only
    the first offset+limit of them are read and merged with the few tanks, never the whole library."""
    descending = not q.descending if q.sort == "lastread" else q.descending
    ties_follow = q.sort == "title"  # ties reversed with the value (title sort) or always ascending
    # items: (value, title key, integer key (-1 for a tank), what is listed: archive num or tank ID)
    keyed_tanks: list[tuple[Any, str, int, int | str]] = []
    unkeyed_tanks: list[tuple[Any, str, int, int | str]] = []
    for t in tanks:
        v = _tank_sort_value(t, q.sort)
        title_key = natural_key(t.name.strip().lower())
        (unkeyed_tanks if v is None else keyed_tanks).append((v, title_key, -1, t.id))
    d = "DESC" if descending else "ASC"
    if q.sort == "title":
        hint = "INDEXED BY archives_sort" if walk else ""  # the title order itself, tested row by row
        # (SQL with {where}, params before the WHERE's own, params after, tanks among these rows, descending)
        parts: list[tuple[str, list[Any], list[Any], list[Any], bool]] = [(
            f"SELECT a.sort_key, a.sort_key, a.num, a.num FROM archives a {hint} WHERE {{where}} "
                  f"ORDER BY a.sort_key {d}, a.num {d}", [], [], keyed_tanks, descending)]
    elif q.sort == "lastread":
        parts = [(f"SELECT a.lastreadtime, a.sort_key, a.num, a.num FROM archives a WHERE {{where}} "
                  f"ORDER BY a.lastreadtime {d}, a.sort_key, a.num", [], [], keyed_tanks, descending)]
    else:
        parts = [(f"SELECT v.value_key, a.sort_key, a.num, a.num FROM archives a JOIN ns_values v ON v.ns = ? AND "
                  f"v.num = a.num WHERE {{where}} ORDER BY v.value_key {d}, a.sort_key, a.num", [q.sort], [],
                  keyed_tanks, descending),
                 ("SELECT NULL, a.sort_key, a.num, a.num FROM archives a WHERE {where} AND a.num NOT IN "
                  "(SELECT num FROM ns_values WHERE ns = ?) ORDER BY a.sort_key, a.num", [], [q.sort], unkeyed_tanks,
                  False)]
    needed = -1 if limit < 0 else offset + limit
    ordered: list[int | str] = []
    for sql, before, after, part_tanks, part_descending in parts:  # params before and after the WHERE's own
        if 0 <= needed <= len(ordered):
            break
        rows: list[tuple[Any, ...]] = []
        if where is not None:
            want = -1 if needed < 0 else needed - len(ordered)
            cursor = db.conn.cursor()
            cursor.row_factory = None  # plain tuples: a deep page reads tens of thousands of them
            rows = cursor.execute(sql.format(where=where.sql()) + " LIMIT ?",
                                  before + where.params + after + [want]).fetchall()
        order = _item_order(part_descending, ties_follow and part_descending)
        ordered += [item[3] for item in _merge(rows, part_tanks, order)]
    page = ordered[offset:] if limit < 0 else ordered[offset:offset + limit]
    ids = archive_ids(db, (item for item in page if isinstance(item, int)))
    return Result([ids[item] if isinstance(item, int) else item for item in page], archives + len(tanks), total)


def _merge(rows: list[Any], tanks: list[Any], order: Callable[[Any], Any]) -> list[Any]:
    """Insert the few tanks into the archive rows (already in order) where the order puts them."""
    merged = list(rows)
    for tank in tanks:  # the list stays in order after each insertion
        merged.insert(bisect.bisect_right(merged, order(tank), key=order), tank)
    return merged


def _item_order(descending: bool, ties_descending: bool) -> Callable[[tuple[Any, ...]], Any]:
    """Sort key for items: value in one direction, the tie-breaks (title key, integer key) in another."""

    def compare(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        first = 0 if a[0] is None else (a[0] > b[0]) - (a[0] < b[0])  # a part's values: all set or all None
        if first:
            return -first if descending else first
        rest = (a[1:3] > b[1:3]) - (a[1:3] < b[1:3])
        return -rest if ties_descending else rest

    return functools.cmp_to_key(compare)
