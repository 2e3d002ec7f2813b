"""The search engine: a parsed filter and options become SQL over precomputed columns (SEMANTICS §5).

Archives are filtered and sorted by SQLite with bound parameters only: each term is a subquery of
matching IDs (tags through the distinct-tag table, titles, IDs, page/read numbers), and the sort uses
keys stored at write time (`sort_key`, `ns_values`), so a page of results is an index walk, never a
scan of Python objects. Tankoubons (few) are evaluated in Python and merged in when grouping is on.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Any

from ..db import Database
from ..tags import index_keys, split_tags
from .grammar import Term, glob_pattern, literal_prefix, numeric_filter, parse_filter
from .natural import natural_key

DATE_NAMESPACES = ("date_added", "timestamp")


@dataclass(frozen=True)
class Query:
    filter: str = ""
    category: str | None = None
    start: int = 0
    sortby: str = "title"
    order: str = "asc"
    newonly: bool = False
    untaggedonly: bool = False
    hidecompleted: bool = False
    groupby_tanks: bool = True

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def sort(self) -> str:
        return (self.sortby or "title").strip().lower() or "title"


@dataclass
class Result:
    ids: list[str]
    filtered: int
    total: int


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _tag_glob(term: Term) -> str:
    return glob_pattern(term.text, suffix="*") if ":" in term.text else glob_pattern(term.text, "*", "*")


def _term_sql(db: Database, term: Term) -> tuple[str, list[Any]]:
    """SQL selecting the IDs of archives a term hits: the union of §5.2's numeric, tag and title parts."""
    parts: list[str] = []
    params: list[Any] = []
    numeric = numeric_filter(term.text)
    if numeric:
        column = "pagecount" if numeric[0] == "pages" else "progress"
        parts.append(f"SELECT id FROM archives WHERE {column} {numeric[1]} ?")
        params.append(numeric[2])
    if term.exact and db.query_one("SELECT 1 FROM tag_counts WHERE tag = ?", (term.text,)):
        parts.append("SELECT archive_id FROM tags WHERE tag = ?")
        params.append(term.text)
    else:
        pattern = _tag_glob(term)
        prefix = literal_prefix(pattern)
        if prefix:  # a range the primary-key index can serve before the glob runs
            parts.append("SELECT archive_id FROM tags WHERE tag IN "
                         "(SELECT tag FROM tag_counts WHERE tag >= ? AND tag < ? AND tag GLOB ?)")
            params += [prefix, _upper_bound(prefix), pattern]
        else:
            parts.append("SELECT archive_id FROM tags WHERE tag IN (SELECT tag FROM tag_counts WHERE tag GLOB ?)")
            params.append(pattern)
    if term.exact:
        parts.append("SELECT id FROM archives WHERE title_lc GLOB ?")
        params.append(glob_pattern(term.text))
    else:
        anywhere = glob_pattern(term.text, "*", "*")
        parts.append("SELECT id FROM archives WHERE title_lc GLOB ? OR id GLOB ?")
        params += [anywhere, anywhere]
    return " UNION ".join(parts), params


def _category(db: Database, category: str | None) -> tuple[list[str] | None, list[Term]]:
    """(static member IDs or None, extra terms of a dynamic category); unknown categories are ignored."""
    if not category:
        return None, []
    row = db.query_one("SELECT id, search FROM categories WHERE id = ?", (category,))
    if row is None:
        return None, []
    if row["search"]:
        return None, parse_filter(row["search"])
    members = [r["archive_id"] for r in db.query(
        "SELECT archive_id FROM category_archives WHERE category_id = ? ORDER BY position", (category,))]
    return members, []


def _archive_where(db: Database, q: Query, terms: list[Term], members: list[str] | None,
                   exclude_tank_members: bool) -> _Where | None:
    """The WHERE clause over `archives a`, or None when the result is certainly empty."""
    where = _Where()
    where.add("a.path != ''")
    if exclude_tank_members:
        where.add("a.id NOT IN (SELECT archive_id FROM tank_archives)")
    if members is not None:
        if not members:
            return None
        where.add("a.id IN (SELECT archive_id FROM category_archives WHERE category_id = ?)", q.category)
    if q.untaggedonly:
        where.add("a.untagged = 1")
    if q.newonly:
        where.add("a.isnew = 1")
    if q.hidecompleted:
        where.add("NOT (a.pagecount > 0 AND a.progress * 1.0 / a.pagecount > 0.85)")
    for term in terms:
        sql, params = _term_sql(db, term)
        where.add(f"a.id {'NOT IN' if term.negated else 'IN'} ({sql})", *params)
    if q.sort == "lastread":
        where.add("a.lastreadtime > 0")
    return where


# -- tankoubons --------------------------------------------------------------------------------------------

@dataclass
class _Tank:
    id: str
    name: str
    own_tags: str
    members: list[str]
    member_keys: set[str]
    lastreadtime: int
    isnew: bool
    dates: dict[str, int]


def _tanks(db: Database) -> list[_Tank]:
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
        out.append(_Tank(t["id"], t["name"], t["tags"], [r["id"] for r in rows], keys,
                         max(r["lastreadtime"] for r in rows), any(r["isnew"] for r in rows), dates))
    return out


def _tank_hits(tank: _Tank, term: Term) -> bool:
    if numeric_filter(term.text):
        pass  # tanks never match numeric parts; their tags and name still may
    keys = index_keys(tank.own_tags) | tank.member_keys
    if term.exact and term.text in keys:
        return True
    pattern = _tag_glob(term)
    if any(fnmatch.fnmatchcase(k, pattern) for k in keys):
        return True
    name = tank.name.strip().lower()
    if term.exact:
        return fnmatch.fnmatchcase(name, glob_pattern(term.text))
    anywhere = glob_pattern(term.text, "*", "*")
    return fnmatch.fnmatchcase(name, anywhere) or fnmatch.fnmatchcase(tank.id.lower(), anywhere)


def _matching_tanks(db: Database, q: Query, terms: list[Term], members: list[str] | None) -> list[_Tank]:
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


def _tank_sort_value(tank: _Tank, sort: str) -> str | int | None:
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

def _order_sql(q: Query) -> tuple[str, str]:
    """(extra FROM, ORDER BY) for the archive query."""
    d = "DESC" if q.descending else "ASC"
    if q.sort == "title":
        return "", f"a.sort_key {d}, a.id {d}"
    if q.sort == "lastread":
        # LANraragi's default (asc) lists the most recently read first
        return "", f"a.lastreadtime {'ASC' if q.descending else 'DESC'}, a.sort_key, a.id"
    return ("LEFT JOIN ns_values v ON v.ns = ? AND v.archive_id = a.id",
            f"(v.value_key IS NULL), v.value_key {d}, a.sort_key, a.id")


def _page_bounds(start: int, page_size: int) -> tuple[int, int]:
    """(offset, limit); start=-1 means everything."""
    if start == -1:
        return 0, -1
    return max(start, 0), page_size


def search(db: Database, q: Query, page_size: int) -> Result:
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    total = _total(db, q.groupby_tanks and tanks_exist)
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tanks = _matching_tanks(db, q, terms, members) if tanks_exist else []
    if where is None and not tanks:
        return Result([], 0, total)
    offset, limit = _page_bounds(q.start, page_size)
    join, order = _order_sql(q)
    join_params: list[Any] = [q.sort] if join else []
    if not tanks:
        if where is None:
            return Result([], 0, total)
        count = db.query_one(f"SELECT COUNT(*) FROM archives a WHERE {where.sql()}", where.params)[0]
        rows = db.query(f"SELECT a.id FROM archives a {join} WHERE {where.sql()} ORDER BY {order} LIMIT ? OFFSET ?",
                        join_params + where.params + [limit, offset])
        return Result([r[0] for r in rows], count, total)
    return _merged(db, q, where, tanks, offset, limit, total)


def _merged(db: Database, q: Query, where: _Where | None, tanks: list[_Tank], offset: int, limit: int,
            total: int) -> Result:
    """Archives and tankoubons sorted together in Python (only when tanks are part of the result)."""
    keyed: list[tuple[Any, str, str]] = []
    unkeyed: list[tuple[str, str]] = []
    if where is not None:
        join, _ = _order_sql(q)
        value = {"title": "a.sort_key", "lastread": "a.lastreadtime"}.get(q.sort, "v.value_key")
        rows = db.query(f"SELECT a.id, a.sort_key, {value} FROM archives a {join} WHERE {where.sql()}",
                        ([q.sort] if join else []) + where.params)
        for r in rows:
            (keyed if r[2] is not None else unkeyed).append((r[2], r[1], r[0]) if r[2] is not None else (r[1], r[0]))
    for t in tanks:
        v = _tank_sort_value(t, q.sort)
        title_key = natural_key(t.name.strip().lower())
        if v is None:
            unkeyed.append((title_key, t.id))
        else:
            keyed.append((v, title_key, t.id))
    if q.sort == "lastread":
        keyed.sort(key=lambda k: (k[0], k[1], k[2]), reverse=not q.descending)
    else:
        keyed.sort(key=lambda k: (k[0], k[1], k[2]), reverse=q.descending)
    unkeyed.sort()
    ordered = [k[2] for k in keyed] + [u[1] for u in unkeyed]
    page = ordered[offset:] if limit < 0 else ordered[offset:offset + limit]
    return Result(page, len(ordered), total)


def _total(db: Database, grouped: bool) -> int:
    if not grouped:
        return db.query_one("SELECT COUNT(*) FROM archives WHERE path != ''")[0]
    return db.query_one(
        "SELECT (SELECT COUNT(*) FROM archives a WHERE path != '' AND a.id NOT IN "
        "(SELECT archive_id FROM tank_archives)) + (SELECT COUNT(DISTINCT ta.tank_id) FROM tank_archives ta "
        "JOIN archives a ON a.id = ta.archive_id WHERE a.path != '')")[0]


def random_ids(db: Database, q: Query, count: int) -> list[str]:
    """`count` distinct random picks among the search's matches (order irrelevant)."""
    count = max(0, min(count, 10_000))
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tank_ids = [t.id for t in _matching_tanks(db, q, terms, members)] if tanks_exist else []
    picked: list[str] = []
    if where is not None:
        rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} ORDER BY random() LIMIT ?",
                        where.params + [count])
        picked = [r[0] for r in rows]
    if tank_ids:
        pool = picked + tank_ids
        picked = random.sample(pool, min(count, len(pool)))
    return picked
