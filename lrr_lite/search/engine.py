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


_HEXISH = frozenset("0123456789abcdef*?")


def _term_sql(db: Database, term: Term) -> tuple[str, list[Any]]:
    """SQL selecting the `num`s of archives a term hits: the union of §5.2's numeric, tag and title parts."""
    parts: list[str] = []
    params: list[Any] = []
    numeric = numeric_filter(term.text)
    if numeric:
        column = "pagecount" if numeric[0] == "pages" else "progress"
        parts.append(f"SELECT num FROM archives WHERE {column} {numeric[1]} ?")
        params.append(numeric[2])
    exact_tag = db.query_one("SELECT tag_id FROM tag_names WHERE tag = ?", (term.text,)) if term.exact else None
    if exact_tag is not None:
        parts.append("SELECT num FROM archive_tags WHERE tag_id = ?")
        params.append(exact_tag[0])
    else:
        pattern = _tag_glob(term)
        prefix = literal_prefix(pattern)
        if prefix:  # `ns:value*`: a range of the tag index, then the glob on what is left
            parts.append("SELECT num FROM archive_tags WHERE tag_id IN "
                         "(SELECT tag_id FROM tag_names WHERE tag >= ? AND tag < ? AND tag GLOB ?)")
            params += [prefix, _upper_bound(prefix), pattern]
        else:  # `*text*`: a scan of the distinct tags (an index of short strings), not of every archive's
            parts.append("SELECT num FROM archive_tags WHERE tag_id IN (SELECT tag_id FROM tag_names WHERE tag GLOB ?)")
            params.append(pattern)
    title_pattern = glob_pattern(term.text) if term.exact else glob_pattern(term.text, "*", "*")
    parts.append("SELECT num FROM archives WHERE title_lc GLOB ?")
    params.append(title_pattern)
    if not term.exact and set(term.text) <= _HEXISH:
        # LANraragi globs `<title>\0<ID>`, so a term can hit the ID; only hex-like terms can.
        parts.append("SELECT num FROM archives WHERE id GLOB ?")
        params.append(title_pattern)
    return " UNION ALL ".join(parts), params  # IN (...) dedupes; UNION would sort twice


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
        where.add(f"a.num {'NOT IN' if term.negated else 'IN'} ({sql})", *params)
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

# Past this many index entries, walking the title index and probing the filter loses to sorting the hits.
WALK_LIMIT = 20_000


def _page_bounds(start: int, page_size: int) -> tuple[int, int]:
    """(offset, limit); start=-1 means everything."""
    if start == -1:
        return 0, -1
    return max(start, 0), page_size


def _count(db: Database, where: _Where, join: str = "", join_params: list[Any] | None = None) -> int:
    # Visibility and the integer key live in the narrow partial index: probing it beats the wide rows.
    hint = "" if join else "INDEXED BY archives_visible"
    return db.query_one(f"SELECT COUNT(*) FROM archives a {hint} {join} WHERE {where.sql()}",
                        (join_params or []) + where.params)[0]


def _visible(db: Database) -> int:
    return db.query_one("SELECT COUNT(*) FROM archives INDEXED BY archives_visible WHERE path != ''")[0]


def _title_page(db: Database, q: Query, where: _Where, count: int, visible: int, offset: int,
                limit: int, filtered: bool) -> list[str]:
    d = "DESC" if q.descending else "ASC"
    walk = limit >= 0 and (offset + limit) * visible / max(count, 1) <= WALK_LIMIT
    # Dense hits: walk the title index in order and stop after one page. Sparse hits: collect and sort.
    hint = "INDEXED BY archives_sort" if walk and filtered else ""
    rows = db.query(f"SELECT a.id FROM archives a {hint} WHERE {where.sql()} ORDER BY a.sort_key {d}, a.num {d} "
                    "LIMIT ? OFFSET ?", where.params + [limit, offset])
    return [r[0] for r in rows]


def _namespace_page(db: Database, q: Query, where: _Where, count: int, offset: int, limit: int) -> list[str]:
    """Items carrying the namespace first (by its value), then the rest by title, in both directions."""
    d = "DESC" if q.descending else "ASC"
    keyed_join = "JOIN ns_values v ON v.ns = ? AND v.num = a.num"
    rows = db.query(f"SELECT a.id FROM archives a {keyed_join} WHERE {where.sql()} "
                    f"ORDER BY v.value_key {d}, a.sort_key, a.num LIMIT ? OFFSET ?",
                    [q.sort] + where.params + [limit, offset])
    ids = [r[0] for r in rows]
    if limit >= 0 and len(ids) >= limit:
        return ids  # a full page of keyed items: no need to know how many there are
    keyed = offset + len(ids) if ids or offset == 0 else _count(db, where, keyed_join, [q.sort])
    rest = -1 if limit < 0 else limit - len(ids)
    rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} AND a.num NOT IN "
                    "(SELECT num FROM ns_values WHERE ns = ?) ORDER BY a.sort_key, a.num LIMIT ? OFFSET ?",
                    where.params + [q.sort, rest, max(offset - keyed, 0)])
    return ids + [r[0] for r in rows]


def search(db: Database, q: Query, page_size: int) -> Result:
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    visible = _visible(db)
    total = _total(db, True) if tanks_exist else visible
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tanks = _matching_tanks(db, q, terms, members) if tanks_exist else []
    offset, limit = _page_bounds(q.start, page_size)
    if tanks:
        return _merged(db, q, where, tanks, offset, limit, total)
    if where is None:
        return Result([], 0, total)
    filtered = len(where.clauses) > 1
    count = _count(db, where) if filtered else visible
    if count == 0 or offset >= count:
        return Result([], count, total)
    if q.sort == "title":
        ids = _title_page(db, q, where, count, visible, offset, limit, filtered=filtered)
    elif q.sort == "lastread":
        rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} ORDER BY a.lastreadtime "
                        f"{'ASC' if q.descending else 'DESC'}, a.sort_key, a.num LIMIT ? OFFSET ?",
                        where.params + [limit, offset])
        ids = [r[0] for r in rows]  # LANraragi's default (asc) lists the most recently read first
    else:
        ids = _namespace_page(db, q, where, count, offset, limit)
    return Result(ids, count, total)


def _merged(db: Database, q: Query, where: _Where | None, tanks: list[_Tank], offset: int, limit: int,
            total: int) -> Result:
    """Archives and tankoubons sorted together in Python (only when tanks are part of the result)."""
    keyed: list[tuple[Any, str, str]] = []
    unkeyed: list[tuple[str, str]] = []
    if where is not None:
        join = "" if q.sort in ("title", "lastread") else "LEFT JOIN ns_values v ON v.ns = ? AND v.num = a.num"
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
        # Sampling the matching integer keys in Python beats ORDER BY random() over the whole set.
        nums = [r[0] for r in db.query(f"SELECT a.num FROM archives a WHERE {where.sql()}", where.params)]
        chosen = random.sample(nums, min(count, len(nums)))
        if chosen:
            marks = ",".join("?" * len(chosen))
            picked = [r[0] for r in db.query(f"SELECT id FROM archives WHERE num IN ({marks})", chosen)]
    if tank_ids:
        pool = picked + tank_ids
        picked = random.sample(pool, min(count, len(pool)))
    return picked
