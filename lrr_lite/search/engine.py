"""The search engine: a parsed filter and options become SQL over precomputed columns (SEMANTICS §5).

Archives are filtered and sorted by SQLite with bound parameters only: each term is a subquery of
matching IDs (tags through the distinct-tag table, titles, IDs, page/read numbers), and the sort uses
keys stored at write time (`sort_key`, `ns_values`), so a page of results is an index walk, never a
scan of Python objects. Tankoubons (few) are evaluated in Python and merged in when grouping is on.
"""

from __future__ import annotations

import contextvars
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
_DATE_TAG_CHARS = frozenset("date_added:timestamp0123456789")
_resolutions: contextvars.ContextVar[dict[Term, _Resolved] | None] = contextvars.ContextVar("resolutions",
                                                                                          default=None)
_MAX_LISTED_TAGS = 500  # past this many matching tags, refer to them by subquery, not by bound list


@dataclass
class _Resolved:
    """A term with its tag matches looked up once; turned into SQL in a set form (for counting and
    sorting many hits) and a probe form (for walking an index in order and testing row by row)."""

    term: Term
    numeric: tuple[str, str, int] | None
    tag_ids: list[int]
    tag_total: int            # sum of the matching tags' archive counts (an upper bound on the hits)
    tag_subquery: tuple[str, list[Any]] | None  # when too many tags match to list them
    title_glob: str
    id_glob: str | None

    def tags_sql(self) -> tuple[str, list[Any]] | None:
        """What goes inside `tag_id IN (...)`: the matching tags' IDs, or a subquery when they are many."""
        if self.tag_subquery:
            return self.tag_subquery[0], list(self.tag_subquery[1])
        if self.tag_ids:
            return ",".join("?" * len(self.tag_ids)), list(self.tag_ids)
        return None

    def set_parts(self, titles: tuple[str, list[Any]] | None = None) -> list[tuple[str, list[Any]]]:
        """SELECTs of `num` whose union is the term's hit set: numeric, tags, titles (by a pass over the
        title index unless `titles` gives them), ID."""
        parts: list[tuple[str, list[Any]]] = []
        if self.numeric:
            column = "pagecount" if self.numeric[0] == "pages" else "progress"
            parts.append((f"SELECT num FROM archives INDEXED BY archives_flags WHERE path != '' AND "
                          f"{column} {self.numeric[1]} ?", [self.numeric[2]]))
        tags = self.tags_sql()
        if tags:
            parts.append((f"SELECT num FROM archive_tags WHERE tag_id IN ({tags[0]})", tags[1]))
        parts.append(titles or (_titles_sql(self.title_glob), [self.title_glob]))
        if self.id_glob:
            parts.append(("SELECT num FROM archives WHERE id GLOB ?", [self.id_glob]))
        return parts

    def set_sql(self) -> tuple[str, list[Any]]:
        parts = self.set_parts()
        # IN (...) dedupes by itself; UNION would sort the rows a second time
        return " UNION ALL ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]

    def probe_sql(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.numeric:
            column = "a.pagecount" if self.numeric[0] == "pages" else "a.progress"
            parts.append(f"{column} {self.numeric[1]} ?")
            params.append(self.numeric[2])
        tags = self.tags_sql()
        if tags:
            parts.append(f"EXISTS (SELECT 1 FROM archive_tags x WHERE x.num = a.num AND x.tag_id IN ({tags[0]}))")
            params += tags[1]
        if ":" in self.title_glob:  # the few titles with a ':', found once, instead of each row's title
            parts.append(f"a.num IN ({_titles_sql(self.title_glob)})")
        else:
            parts.append("a.title_lc GLOB ?")
        params.append(self.title_glob)
        if self.id_glob:
            parts.append("a.id GLOB ?")
            params.append(self.id_glob)
        return "(" + " OR ".join(parts) + ")", params


def _resolve(db: Database, term: Term) -> _Resolved:
    """Look up which distinct tags a term hits (§5.2: exact tag, else the glob fallback); memoized for
    the duration of one search (the same term is planned in two forms)."""
    memo = _resolutions.get()
    if memo is not None and term in memo:
        return memo[term]
    resolved = _resolve_uncached(db, term)
    if memo is not None:
        memo[term] = resolved
    return resolved


def _resolve_uncached(db: Database, term: Term) -> _Resolved:
    rows: list[Any] = []
    subquery = None
    if term.exact:
        rows = db.query("SELECT tag_id, n FROM tag_names WHERE tag = ?", (term.text,))
    if not rows:
        pattern = _tag_glob(term)
        prefix = literal_prefix(pattern)
        if prefix:  # `ns:value*`: a range of the tag index, then the glob on what is left
            sql, params = "SELECT tag_id, n FROM tag_names WHERE tag >= ? AND tag < ? AND tag GLOB ?", \
                [prefix, _upper_bound(prefix), pattern]
        elif set(pattern) - _DATE_TAG_CHARS - set("*?[]"):
            # `*text*` with a character no date tag has: date_added/timestamp tags (one per import
            # second, most of the distinct tags of a big library) cannot match, so skip their ranges
            sql = ("SELECT tag_id, n FROM tag_names WHERE tag < 'date_added:' AND tag GLOB ? UNION ALL "
                   "SELECT tag_id, n FROM tag_names WHERE tag >= 'date_added;' AND tag < 'timestamp:' AND tag GLOB ? "
                   "UNION ALL SELECT tag_id, n FROM tag_names WHERE tag >= 'timestamp;' AND tag GLOB ?")
            params = [pattern, pattern, pattern]
        else:  # `*text*`: a scan of the distinct tags (short strings), not of every archive's tags
            sql, params = "SELECT tag_id, n FROM tag_names WHERE tag GLOB ?", [pattern]
        rows = db.query(sql + f" LIMIT {_MAX_LISTED_TAGS + 1}", params)
        if len(rows) > _MAX_LISTED_TAGS:
            subquery = (sql.replace("tag_id, n", "tag_id"), params)
    title_glob = glob_pattern(term.text) if term.exact else glob_pattern(term.text, "*", "*")
    hexish = not term.exact and set(term.text) <= _HEXISH  # LANraragi globs `<title>\0<ID>`
    return _Resolved(term, numeric_filter(term.text), [r[0] for r in rows], sum(r[1] for r in rows), subquery,
                     title_glob, title_glob if hexish else None)


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


def _archive_where(db: Database, q: Query, terms: list[Term] | None, members: list[str] | None,
                   exclude_tank_members: bool, probe: bool = False) -> _Where | None:
    """The WHERE clause over `archives a` (terms as ID sets, or as per-row probes), or None when the
    result is certainly empty."""
    where = _Where()
    where.add("a.path != ''")
    # Archive-level conditions name only columns of the narrow `archives_flags` index (membership by the
    # integer key, computed once), so testing them never reads the wide rows.
    if exclude_tank_members:
        where.add("a.num NOT IN (SELECT x.num FROM tank_archives t JOIN archives x ON x.id = t.archive_id)")
    if members is not None:
        if not members:
            return None
        where.add("a.num IN (SELECT x.num FROM category_archives c JOIN archives x ON x.id = c.archive_id "
                  "WHERE c.category_id = ?)", q.category)
    if q.untaggedonly:
        where.add("a.untagged = 1")
    if q.newonly:
        where.add("a.isnew = 1")
    if q.hidecompleted:
        where.add("NOT (a.pagecount > 0 AND a.progress * 1.0 / a.pagecount > 0.85)")
    if q.sort == "lastread":
        where.add("a.lastreadtime > 0")
    if terms is None:  # flags only: the caller evaluates the terms itself
        return where
    for resolved in (_resolve(db, term) for term in terms):
        if probe:
            sql, params = resolved.probe_sql()
            where.add(f"{'NOT ' if resolved.term.negated else ''}{sql}", *params)
        else:
            sql, params = resolved.set_sql()
            where.add(f"a.num {'NOT IN' if resolved.term.negated else 'IN'} ({sql})", *params)
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

# An in-order walk (title index or namespace values) stops after one page; it tests each row it passes.
# Testing with per-row probes (a few index lookups) pays for a short walk; testing against the hit set
# materialized in a temp table is cheap enough for a longer one; past that, collecting and sorting wins.
PROBE_WALK_LIMIT = 4_000
# Testing a title per remaining archive (~1.5 us each) beats one pass over all titles (~10 ms per 100k) up to
# about this many archives.
TITLE_PROBE_LIMIT = 8_000
# Walking the title index past rows that are not hits costs ~0.5 us a row; sorting the hits costs ~3 us a
# hit (each one's row is read for its sort key). Measured at 100k archives: a tag with 876 hits, page 1:
# sort 2.4 ms, walk 6.9 ms; 45k hits from start=30000: sort 199 ms, walk 27 ms.
WALK_RATIO = 6


def _probe_walk_limit(q: Query, count: int) -> float:
    """How many rows a walk testing each row by probes may pass before collecting the hits pays better.
    On the title index a probe costs about what collecting costs per hit; other orders read each walked
    archive's row for its title key as well, so only short walks pay there."""
    return max(PROBE_WALK_LIMIT, count) if q.sort == "title" else PROBE_WALK_LIMIT


def _skipped(offset: int, limit: int, count: int, title_sort: bool) -> int:
    """Hits a walk passes before the page: a title walk starts from whichever end is nearer."""
    return min(offset, max(count - offset - limit, 0)) if title_sort else offset


def _walk_pays(offset: int, limit: int, visible: int, count: int, title_sort: bool) -> bool:
    """Whether walking the sort order (and skipping non-hits) beats sorting the `count` hits."""
    if limit < 0:
        return False  # everything asked for: one sort
    rows_walked = (_skipped(offset, limit, count, title_sort) + limit) * visible / max(count, 1)
    return rows_walked <= WALK_RATIO * count


def _page_bounds(start: int, page_size: int) -> tuple[int, int]:
    """(offset, limit); start=-1 means everything."""
    if start == -1:
        return 0, -1
    return max(start, 0), page_size


def _flags_index(where: _Where) -> str:
    return "archives_read" if "a.lastreadtime > 0" in where.clauses else "archives_flags"


def _count(db: Database, where: _Where, join: str = "", join_params: list[Any] | None = None) -> int:
    # Visibility, the integer key and the flags live in a narrow partial index: probing it beats the wide
    # rows. Read archives (sortby=lastread) have a smaller one of their own.
    hint = "" if join else f"INDEXED BY {_flags_index(where)}"
    return db.query_one(f"SELECT COUNT(*) FROM archives a {hint} {join} WHERE {where.sql()}",
                        (join_params or []) + where.params)[0]


def _materialize(db: Database, where: _Where) -> tuple[_Where, int]:
    """Evaluate the filter once into this connection's temp table: its size is recordsFiltered, and the
    page query then probes it instead of evaluating every term a second time."""
    conn = db.conn  # one per thread, so the temp table is this request's alone
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_hits (num INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM search_hits")
    cur = conn.execute(f"INSERT OR IGNORE INTO search_hits SELECT a.num FROM archives a INDEXED BY "
                       f"{_flags_index(where)} WHERE {where.sql()}", where.params)
    hits = _Where()
    hits.add("a.path != ''")
    hits.add("a.num IN temp.search_hits")
    return hits, cur.rowcount


def _titles_sql(title_glob: str) -> str:
    """SELECT num of the titles matching a GLOB (one parameter), by a pass over a narrow title index."""
    if ":" in title_glob:
        # A pattern with a literal ':' (every `ns:value` term) can only match the few titles that have
        # one: their partial index is read instead of every title.
        return "SELECT num FROM archives INDEXED BY archives_colon_titles WHERE instr(title_lc, ':') > 0 " \
               "AND title_lc GLOB ?"
    return "SELECT num FROM archives INDEXED BY archives_title WHERE title_lc GLOB ?"


def _collect(db: Database, resolved: list[_Resolved], flags: _Where) -> tuple[_Where, int]:
    """Evaluate a filter into this connection's temp table `search_hits` in one statement: the rows of the
    smallest positive term's set, each tested against the other terms by indexed probes (a B-tree seek per
    row and term) and kept only if every test passes; then the archive-level flags. Returns the WHERE
    selecting the hits and their number (recordsFiltered)."""
    conn = db.conn  # one per thread, so the temp tables are this request's alone
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_hits (num INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS term_titles (k INTEGER, num INTEGER, PRIMARY KEY (k, num))")
    conn.execute("DELETE FROM search_hits")
    conn.execute("DELETE FROM term_titles")
    scanned: set[int] = set()  # terms whose title hits are listed in term_titles

    def scan_titles(k: int, r: _Resolved) -> None:
        conn.execute(f"INSERT OR IGNORE INTO term_titles(k, num) SELECT ?, num FROM ({_titles_sql(r.title_glob)})",
                     (k, r.title_glob))
        scanned.add(k)

    for k, r in enumerate(resolved):
        if ":" in r.title_glob:
            scan_titles(k, r)
    positives = sorted((k for k, r in enumerate(resolved) if not r.term.negated),
                       key=lambda k: resolved[k].tag_total + (10**9 if resolved[k].numeric else 0))
    # Testing a title per candidate row (~1.5 us) beats one pass over all titles (~10 ms per 100k) only
    # while the candidates are few; the first positive term's tag count is the estimate of how many.
    candidates = resolved[positives[0]].tag_total if positives else visible_count(db)
    if candidates > TITLE_PROBE_LIMIT:
        for k, r in enumerate(resolved):
            if k not in scanned:
                scan_titles(k, r)

    def member_sql(k: int, r: _Resolved, column: str) -> tuple[str, list[Any]]:
        """`column` is in term k's hit set (title, tags, numeric, ID), tested row by row."""
        if k in scanned:
            parts = [f"{column} IN (SELECT num FROM temp.term_titles WHERE k = {k})"]
            params: list[Any] = []
        else:
            parts = [f"EXISTS (SELECT 1 FROM archives t INDEXED BY archives_visible_title WHERE t.num = {column} "
                     "AND t.path != '' AND t.title_lc GLOB ?)"]
            params = [r.title_glob]
        tags = r.tags_sql()
        if tags:
            parts.append(f"EXISTS (SELECT 1 FROM archive_tags y WHERE y.tag_id IN ({tags[0]}) AND y.num = {column})")
            params += tags[1]
        if r.numeric:
            field_ = "pagecount" if r.numeric[0] == "pages" else "progress"
            parts.append(f"EXISTS (SELECT 1 FROM archives n INDEXED BY archives_flags WHERE n.num = {column} "
                         f"AND n.path != '' AND n.{field_} {r.numeric[1]} ?)")
            params.append(r.numeric[2])
        if r.id_glob:
            parts.append(f"EXISTS (SELECT 1 FROM archives i WHERE i.num = {column} AND i.id GLOB ?)")
            params.append(r.id_glob)
        return "(" + " OR ".join(parts) + ")", params

    # the source rows: the first positive term's set (its parts; duplicates fold into the primary key)
    if positives:
        first = positives[0]
        # titles already listed are read from that list, else straight from the title index
        listed = ("SELECT num FROM temp.term_titles WHERE k = ?", [first]) if first in scanned else None
        sources = resolved[first].set_parts(listed)
        rest = positives[1:]
    else:
        sources = [("SELECT num FROM archives INDEXED BY archives_visible WHERE path != ''", [])]
        rest = []
    tests = _Where()
    for k in rest:
        sql, params = member_sql(k, resolved[k], "s.num")
        tests.add(sql, *params)
    for k, r in enumerate(resolved):
        if r.term.negated:
            sql, params = member_sql(k, r, "s.num")
            tests.add(f"NOT {sql}", *params)
    for sql, params in sources:
        conn.execute(f"INSERT OR IGNORE INTO search_hits SELECT s.num FROM ({sql}) s WHERE {tests.sql()}",
                     params + tests.params)
    # archive-level conditions on what is left: visibility (few hidden archives: found by index), then
    # flags, category and tank membership, which need each remaining row
    conn.execute("DELETE FROM search_hits WHERE num IN (SELECT num FROM archives WHERE path = '')")
    if len(flags.clauses) > 1:
        conn.execute(f"DELETE FROM search_hits WHERE num NOT IN (SELECT a.num FROM archives a INDEXED BY "
                     f"archives_flags WHERE a.num IN temp.search_hits AND {flags.sql()})", flags.params)
    hits = _Where()
    hits.add("a.path != ''")
    hits.add("a.num IN temp.search_hits")
    return hits, conn.execute("SELECT COUNT(*) FROM search_hits").fetchone()[0]


def _single_tag_count(db: Database, q: Query, terms: list[Term], where: _Where) -> int | None:
    """recordsFiltered of the commonest search (one term hitting one tag, or excluding it, no other filter)
    from the tag's stored archive count, without collecting the hits; None when the search is not of that
    kind."""
    if len(terms) != 1 or len(where.clauses) != 2:
        return None
    r = _resolve(db, terms[0])
    if r.numeric or r.tag_subquery or len(r.tag_ids) != 1 or r.id_glob:
        return None
    tag_id = r.tag_ids[0]
    hidden = db.query_one("SELECT COUNT(*) FROM archive_tags WHERE tag_id = ? AND num IN "
                          "(SELECT num FROM archives WHERE path = '')", (tag_id,))[0]
    # Titles that match are few: find them through the narrow title index, then check them one by one.
    title_nums = [row[0] for row in db.query(_titles_sql(r.title_glob), (r.title_glob,))]
    title_only = 0
    for chunk in (title_nums[i:i + 500] for i in range(0, len(title_nums), 500)):
        marks = ",".join("?" * len(chunk))
        title_only += db.query_one(
            f"SELECT COUNT(*) FROM archives a WHERE a.num IN ({marks}) AND a.path != '' AND NOT EXISTS "
            "(SELECT 1 FROM archive_tags x WHERE x.tag_id = ? AND x.num = a.num)", chunk + [tag_id])[0]
    matching = r.tag_total - hidden + title_only
    return visible_count(db) - matching if terms[0].negated else matching


def visible_count(db: Database) -> int:
    """How many archives have their file (kept up to date by triggers, schema 8)."""
    return db.query_one("SELECT n FROM counters WHERE name = 'visible'")[0]




def _title_page(db: Database, q: Query, where: _Where, walk: bool, offset: int, limit: int,
                count: int) -> list[str]:
    descending = q.descending
    from_end = walk and limit >= 0 and _skipped(offset, limit, count, True) < offset
    if from_end:  # a deep page: walk the order backwards from the last hit (the order is total: exact)
        descending = not descending
        offset, limit = max(count - offset - limit, 0), min(limit, count - offset)
    d = "DESC" if descending else "ASC"
    hint = "INDEXED BY archives_sort" if walk else ""
    rows = db.query(f"SELECT a.id FROM archives a {hint} WHERE {where.sql()} ORDER BY a.sort_key {d}, a.num {d} "
                    "LIMIT ? OFFSET ?", where.params + [limit, offset])
    ids = [r[0] for r in rows]
    return ids[::-1] if from_end else ids


# Past this offset a namespace-sorted page is found in two steps (see _keyed_position).
DEEP_OFFSET = 1_000


def _keyed_position(db: Database, q: Query, where: _Where, offset: int) -> tuple[Any, int] | None:
    """Where hit number `offset` of the keyed part lies: (its value_key, how many hits sort strictly before
    that value), or None when the keyed part holds no more than `offset` hits.

    SQLite's own plan for a deep page reads every skipped archive's row for the title tie-break (~2.5 us
    each: 130 ms at start=50000 of 100k); these two queries walk the value index only, testing membership
    by the integer key, so the page query can then seek straight to the value."""
    d = "DESC" if q.descending else "ASC"
    if set(where.clauses) <= {"a.path != ''", "a.num IN temp.search_hits"}:
        # no filter, or hits already collected: tested on the index entry itself (hidden archives are few)
        source = "ns_values v INDEXED BY ns_values_key"
        test = " AND ".join("v.num NOT IN (SELECT num FROM archives WHERE path = '')" if c == "a.path != ''"
                            else "v.num IN temp.search_hits" for c in where.clauses)
    else:
        source = "ns_values v INDEXED BY ns_values_key JOIN archives a INDEXED BY archives_flags ON a.num = v.num"
        test = where.sql()
    row = db.query_one(f"SELECT v.value_key FROM {source} WHERE v.ns = ? AND {test} ORDER BY v.value_key {d} "
                       "LIMIT 1 OFFSET ?", [q.sort] + where.params + [offset])
    if row is None:
        return None
    before = db.query_one(f"SELECT COUNT(*) FROM {source} WHERE v.ns = ? AND v.value_key {'>' if q.descending else '<'} "
                          f"? AND {test}", [q.sort, row[0]] + where.params)[0]
    return row[0], before


def _namespace_page(db: Database, q: Query, where: _Where, offset: int, limit: int) -> list[str]:
    """Items carrying the namespace first (by its value), then the rest by title, in both directions."""
    d = "DESC" if q.descending else "ASC"
    keyed_join = "JOIN ns_values v ON v.ns = ? AND v.num = a.num"
    bound, params, skip = "", [], offset
    found = _keyed_position(db, q, where, offset) if offset >= DEEP_OFFSET and limit >= 0 else None
    if found is not None:  # start at the value the page begins in, past the hits sorted before it
        bound, params, skip = f"AND v.value_key {'<=' if q.descending else '>='} ?", [found[0]], offset - found[1]
    rows = db.query(f"SELECT a.id FROM archives a {keyed_join} {bound} WHERE {where.sql()} "
                    f"ORDER BY v.value_key {d}, a.sort_key, a.num LIMIT ? OFFSET ?",
                    [q.sort] + params + where.params + [limit, skip])
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
    token = _resolutions.set({})
    try:
        return _search(db, q, page_size)
    finally:
        _resolutions.reset(token)


def _search(db: Database, q: Query, page_size: int) -> Result:
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    visible = visible_count(db)
    total = _grouped_total(db) if tanks_exist else visible
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tanks = _matching_tanks(db, q, terms, members) if tanks_exist else []
    offset, limit = _page_bounds(q.start, page_size)
    if tanks:
        return _merged(db, q, where, tanks, offset, limit, total)
    if where is None:
        return Result([], 0, total)
    if len(where.clauses) == 1:  # no filter at all: the indexes give every answer directly
        count, walk = visible, True
    else:
        count = _single_tag_count(db, q, terms, where)
        skipped = _skipped(offset, max(limit, 0), count, q.sort == "title") if count is not None else offset
        rows_to_walk = (skipped + max(limit, 0)) * visible / max(count or 1, 1)
        # Collecting costs about as much per hit as probing costs per walked row: a broad filter
        # (an exclusion, say) walks a short way whatever the page, and collecting would copy every hit.
        if count is not None and limit >= 0 and rows_to_walk <= _probe_walk_limit(q, count):
            where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist, probe=True)
            walk = True
        elif terms:
            flags = _archive_where(db, q, None, members, exclude_tank_members=tanks_exist)
            assert flags is not None  # `where` was not None for the same inputs
            where, count = _collect(db, [_resolve(db, t) for t in terms], flags)
            walk = _walk_pays(offset, limit, visible, count, q.sort == "title")
        else:  # archive flags only: counted in their narrow index; a short walk tests them row by row
            count = _count(db, where)
            skipped = _skipped(offset, max(limit, 0), count, q.sort == "title")
            walk = limit >= 0 and (skipped + limit) * visible / max(count, 1) <= _probe_walk_limit(q, count)
            if count and not walk:
                where, count = _materialize(db, where)
                walk = _walk_pays(offset, limit, visible, count, q.sort == "title")
    if count == 0 or offset >= count:
        return Result([], count, total)
    if q.sort == "title":
        ids = _title_page(db, q, where, walk, offset, limit, count)
    elif q.sort == "lastread":
        rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} ORDER BY a.lastreadtime "
                        f"{'ASC' if q.descending else 'DESC'}, a.sort_key, a.num LIMIT ? OFFSET ?",
                        where.params + [limit, offset])
        ids = [r[0] for r in rows]  # LANraragi's default (asc) lists the most recently read first
    else:
        ids = _namespace_page(db, q, where, offset, limit)
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


def _grouped_total(db: Database) -> int:
    """Archives outside tankoubons plus tankoubons with a present member (tank members are few)."""
    return visible_count(db) + db.query_one(
        "SELECT (SELECT COUNT(DISTINCT ta.tank_id) FROM tank_archives ta JOIN archives a ON a.id = ta.archive_id "
        "WHERE a.path != '') - (SELECT COUNT(*) FROM archives a WHERE a.path != '' AND a.id IN "
        "(SELECT archive_id FROM tank_archives))")[0]


def _random_visible(db: Database, count: int) -> list[str]:
    """Uniform picks among all visible archives by drawing integer keys: O(count), not O(library)."""
    top = db.query_one("SELECT MAX(num) FROM archives")[0] or 0
    visible = visible_count(db)
    picked: dict[int, str] = {}
    tries = 0
    while len(picked) < min(count, visible) and tries < 50:
        tries += 1
        draw = random.sample(range(1, top + 1), min(top, max(2 * (count - len(picked)), 16)))
        marks = ",".join("?" * len(draw))
        for num, archive_id in db.query(f"SELECT num, id FROM archives WHERE num IN ({marks}) AND path != ''", draw):
            if len(picked) < count:
                picked[num] = archive_id
    if len(picked) < min(count, visible):  # a sparse key range (many deletions): fall back to a full draw
        nums = [r[0] for r in db.query("SELECT num FROM archives INDEXED BY archives_visible WHERE path != ''")]
        chosen = random.sample(nums, min(count, len(nums)))
        marks = ",".join("?" * len(chosen))
        return [r[0] for r in db.query(f"SELECT id FROM archives WHERE num IN ({marks})", chosen)]
    return list(picked.values())


def random_ids(db: Database, q: Query, count: int) -> list[str]:
    """`count` distinct random picks among the search's matches (order irrelevant)."""
    token = _resolutions.set({})
    try:
        return _random_ids(db, q, count)
    finally:
        _resolutions.reset(token)


def _random_ids(db: Database, q: Query, count: int) -> list[str]:
    count = max(0, min(count, 10_000))
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tank_ids = [t.id for t in _matching_tanks(db, q, terms, members)] if tanks_exist else []
    picked: list[str] = []
    if where is not None and len(where.clauses) == 1:
        picked = _random_visible(db, count)
    elif where is not None:
        if terms:
            flags = _archive_where(db, q, None, members, exclude_tank_members=tanks_exist)
            assert flags is not None
            where, n = _collect(db, [_resolve(db, t) for t in terms], flags)
        else:
            where, n = _materialize(db, where)
        cursor = db.conn.cursor()
        cursor.row_factory = None  # plain int tuples: cheap even for every hit of a broad filter
        nums = [num for (num,) in cursor.execute("SELECT num FROM temp.search_hits")]
        chosen = random.sample(nums, min(count, n, len(nums)))
        if chosen:
            marks = ",".join("?" * len(chosen))
            picked = [r[0] for r in db.query(f"SELECT id FROM archives WHERE num IN ({marks})", chosen)]
    if tank_ids:
        pool = picked + tank_ids
        picked = random.sample(pool, min(count, len(pool)))
    return picked
