"""The search engine: a parsed filter and options become SQL over precomputed columns (SEMANTICS §5).

Archives are filtered and sorted by SQLite with bound parameters only: each term is a set of integer keys
(terms.py: tags through the distinct-tag table, titles, IDs, page/read numbers), counted or collected
(hits.py), and the sort uses keys stored at write time (`sort_key`, `ns_values`), so a page of results is an
index walk or a sort of the hits, never a scan of Python objects; this module plans which. Tankoubons (few)
are evaluated in Python (tanks.py) and merged in when grouping is on.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import random
import time
from array import array
from collections.abc import Callable
from typing import Any

from lrr_lite.library.search import hitcache
from lrr_lite.library.search.grammar import Term, parse_filter
from lrr_lite.library.search.hits import (
    archive_ids,
    collect,
    count_where,
    counted,
    estimated_hits,
    hits_sql,
    materialize,
    materialize_nums,
    single_tag_count,
    visible_count,
)
from lrr_lite.library.search.query import COMPLETED, IN_HITS, NEW, READ, VISIBLE, Query, Result, Where
from lrr_lite.library.search.tanks import matching_tanks, merged_page
from lrr_lite.library.search.terms import resolutions, resolve
from lrr_lite.storage.db import Database

__all__ = ["Query", "Result", "random_ids", "search", "visible_count"]


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
                   exclude_tank_members: bool, probe: bool = False) -> Where | None:
    """The WHERE clause over `archives a` (terms as ID sets, or as per-row probes), or None when the
    result is certainly empty."""
    where = Where()
    where.add(VISIBLE)
    # Archive-level conditions name only columns of the narrow `archives_flags` index (membership by the
    # integer key, computed once), so testing them never reads the wide rows.
    if exclude_tank_members:
        where.add_membership(False, "SELECT x.num FROM tank_archives t JOIN archives x ON x.id = t.archive_id")
    if members is not None:
        if not members:
            return None
        where.add_membership(True, "SELECT x.num FROM category_archives c JOIN archives x ON x.id = c.archive_id "
                             "WHERE c.category_id = ?", q.category)
    if q.untaggedonly:
        where.add("a.untagged = 1")
    if q.newonly:
        where.add(NEW)
    if q.hidecompleted:
        where.add(f"NOT ({COMPLETED})")
    if q.sort == "lastread":
        where.add(READ)
    if terms is None:  # flags only: the caller evaluates the terms itself
        return where
    for resolved in (resolve(db, term) for term in terms):
        if probe:
            sql, params = resolved.probe_sql()
            where.add(f"{'NOT ' if resolved.term.negated else ''}{sql}", *params)
        else:
            sql, params = resolved.set_sql()
            where.add(f"a.num {'NOT IN' if resolved.term.negated else 'IN'} ({sql})", *params)
    return where


# -- tankoubons --------------------------------------------------------------------------------------------

# An in-order walk (title index or namespace values) stops after one page; it tests each row it passes.
# Testing with per-row probes (a few index lookups) pays for a short walk; testing against the hit set
# materialized in a temp table is cheap enough for a longer one; past that, collecting and sorting wins.
PROBE_WALK_LIMIT = 4_000

# Walking the title index past rows that are not hits costs ~0.5 us a row; sorting the hits costs ~3 us a
# hit (each one's row is read for its sort key). Measured at 100k archives: a tag with 876 hits, page 1:
# sort 2.4 ms, walk 6.9 ms; 45k hits from start=30000: sort 199 ms, walk 27 ms.
WALK_RATIO = 6
# Collected hits in title order are sorted by keys read from a narrow index (schema 15): ~1 us a hit against
# ~0.5 us a row walked (at 100k, 9,816 hits: sort 9.7 ms, walk of every title 50 ms).
TITLE_WALK_RATIO = 2


def _skipped(offset: int, limit: int, count: int, title_sort: bool) -> int:
    """Hits a walk passes before the page: a title walk starts from whichever end is nearer."""
    return min(offset, max(count - offset - limit, 0)) if title_sort else offset


def _rows_walked(offset: int, limit: int, visible: int, count: int, title_sort: bool) -> float:
    """Rows an in-order walk passes to fill the page, hits being spread evenly among the visible archives."""
    return (_skipped(offset, limit, count, title_sort) + limit) * visible / max(count, 1)


def _probe_walk_pays(q: Query, offset: int, limit: int, visible: int, count: int, excluded: bool = False) -> bool:
    """Whether a walk testing each row by probes beats collecting the hits first. On the title index a probe
    costs about what collecting costs per hit, so it may pass as many rows as there are hits; other orders
    read each walked archive's row for its title key as well, so only short walks pay there. Collecting a
    lone exclusion (`excluded`) tests every visible archive, however few the hits: a walk may pass that many
    rows on the title index, a quarter of them in other orders (at 100k, `-female:` by date: 4,100 rows
    walked in 12 ms, against 70 ms to collect)."""
    if limit < 0:
        return False
    title_sort = q.sort == "title"
    collected = visible if excluded else count  # rows a collection reads
    allowed = max(PROBE_WALK_LIMIT, collected if title_sort else collected // 4 if excluded else 0)
    return _rows_walked(offset, limit, visible, count, title_sort) <= allowed


def _walk_pays(offset: int, limit: int, visible: int, count: int, title_sort: bool) -> bool:
    """Whether walking the sort order (and skipping non-hits) beats sorting the `count` hits."""
    if limit < 0:
        return False  # everything asked for: one sort
    ratio = TITLE_WALK_RATIO if title_sort else WALK_RATIO
    return _rows_walked(offset, limit, visible, count, title_sort) <= ratio * count


# Below this many (estimated) hits, collecting them costs about what counting them does and a walk may find
# them bunched along the order (`artist:ka*`): they are collected. Above it, they are counted (hits.counted)
# and the page walked. At 100k archives `*ko` (~78k tag hits) took 49-56 ms either way; at 1M (780k) the
# collection 650 ms, the count 240-500 ms.
DENSE_HITS = 100_000


def _dense(db: Database, q: Query, terms: list[Term], where: Where, offset: int, limit: int, visible: int) -> bool:
    """Whether a filter with no archive-level condition likely has enough hits, spread evenly enough, that
    counting them in one statement and walking the order for the page beats collecting them."""
    if not terms or len(where.clauses) != 1 + len(terms):
        return False
    resolved = [resolve(db, t) for t in terms]
    excluded = len(terms) == 1 and terms[0].negated
    if len(terms) == 1 and resolved[0].text_glob:
        # one pass over search_text counts it (and each probe of the walk reads one row): the walk pays
        # whatever the number of hits
        estimate = float(min(resolved[0].tag_total, visible))
        return _probe_walk_pays(q, offset, limit, visible, int(visible - estimate if excluded else estimate),
                                excluded)
    if len(terms) == 1 and resolved[0].tag_subquery:
        # more tags than were listed (`*ko`: 2,808): their whole total
        total = resolved[0].tag_total
        estimate = float(max(visible - total, 0) if terms[0].negated else min(total, visible))
    elif len(terms) == 1 and terms[0].negated:
        estimate = max(visible - resolved[0].tag_total, 0.0)
    else:
        estimate = estimated_hits(resolved, visible)
    return estimate >= DENSE_HITS and _probe_walk_pays(q, offset, limit, visible, int(estimate), excluded)


# -- kept hit sets (hitcache.py) -----------------------------------------------------------------------------

# Reading kept hits back into search_hits costs about this many seconds a hit (json_each into the temp table);
# a collected plan reads them back when that is well under what collecting them took (a wildcard title at 1M
# archives is a pass over every title: ~120 ms for ~3,000 hits), else collects again.
READ_BACK_S = 1.5e-6


@dataclasses.dataclass
class _Kept:
    """A filter's kept hits: of its positive form when it is one negated term (then `count` is the rest)."""
    key: Any
    hits: hitcache.Hits | None
    count: int
    negated_alone: bool


def _kept(db: Database, terms: list[Term], visible: int) -> _Kept | None:
    """The filter's entry in the hit cache (patched to the present), or one to fill (nums None); None when
    the filter cannot be kept (a term on page counts, progress or IDs: not in search_log)."""
    if not hitcache.ENABLED:
        return None
    negated_alone = len(terms) == 1 and terms[0].negated
    own = [dataclasses.replace(terms[0], negated=False)] if negated_alone else terms
    resolved = [resolve(db, t) for t in own]
    if any(r.numeric or r.id_glob for r in resolved):
        return None
    key = tuple((t.text, t.exact, t.negated, r.exact_hit) for t, r in zip(own, resolved, strict=True))
    hits = hitcache.cache_of(db).get(db, key, _hit_test(db, own))
    count = 0 if hits is None else visible - len(hits.nums) if negated_alone else len(hits.nums)
    return _Kept(key, hits, count, negated_alone)


def _hit_test(db: Database, terms: list[Term]) -> Callable[[list[int]], list[int]]:
    """Which of some archives the terms hit now: their per-row probes on just those rows."""
    def test(nums: list[int]) -> list[int]:
        where = _archive_where(db, Query(), terms, None, exclude_tank_members=False, probe=True)
        assert where is not None  # no category: never certainly empty
        found: list[int] = []
        for i in range(0, len(nums), 500):
            chunk = nums[i:i + 500]
            found += [r[0] for r in db.query(f"SELECT a.num FROM archives a WHERE a.num IN "
                                             f"({','.join('?' * len(chunk))}) AND {where.sql()}",
                                             chunk + where.params)]
        return found
    return test


def _count_and_keep(db: Database, terms: list[Term], kept: _Kept | None) -> int | None:
    """counted(), reading the hits themselves when the filter can be kept, and keeping them."""
    found = hits_sql(db, terms) if kept is not None else None
    if kept is None or found is None:
        return counted(db, terms)
    seq = hitcache.log_position(db)  # before the read: a change after it is tested at the next use
    started = time.perf_counter()
    conn = db.conn
    conn.execute("PRAGMA temp_store=MEMORY")  # see counted()
    try:
        cursor = conn.cursor()
        cursor.row_factory = None
        nums = hitcache.nums_of(cursor.execute(*found))
    finally:
        conn.execute("PRAGMA temp_store=DEFAULT")
    if not all(map(operator.lt, nums, itertools.islice(nums, 1, None))):
        nums = array("I", sorted(nums))  # (a compound's order is SQLite's choice: never trusted blindly)
    hitcache.cache_of(db).put(kept.key, hitcache.Hits(seq, nums, time.perf_counter() - started))
    return visible_count(db) - len(nums) if kept.negated_alone else len(nums)


def _note_bunched(db: Database, hint: Any) -> None:
    if hitcache.ENABLED:
        hitcache.cache_of(db).note_bunched(hint)


def _read_back_pays(kept: _Kept) -> bool:
    """Whether hits kept by a collected plan are read back instead of collected again: when that is well
    under what collecting them took."""
    return kept.hits is not None and kept.hits.collected and not kept.negated_alone and \
        READ_BACK_S * len(kept.hits.nums) < kept.hits.cost / 2


def _collect_or_kept(db: Database, q: Query, terms: list[Term], members: list[str] | None,
                     exclude_tank_members: bool, kept: _Kept | None) -> tuple[Where, int]:
    """_collect_terms(), or the kept hits read back when they are few; the collection of a plain filter
    (`kept` given) is kept."""
    if kept is not None and kept.hits is not None and _read_back_pays(kept):
        return materialize_nums(db, kept.hits.nums)
    seq = hitcache.log_position(db) if kept is not None and not kept.negated_alone else -1
    started = time.perf_counter()
    where, count = _collect_terms(db, q, terms, members, exclude_tank_members)
    if kept is not None and seq >= 0:
        # kept whatever their number: a later search then knows the count, and a broad filter's page is
        # walked with probes (reading many hits back would not pay: see above)
        cost = time.perf_counter() - started
        cursor = db.conn.cursor()
        cursor.row_factory = None
        nums = hitcache.nums_of(cursor.execute("SELECT num FROM temp.search_hits ORDER BY num"))
        hitcache.cache_of(db).put(kept.key, hitcache.Hits(seq, nums, cost, collected=True))
    return where, count


# A title page this many rows along the title order (or of hits bunched along it) is read from the kept
# set's title order (built once, then patched with the set: hitcache.py) instead of walked or sorted...
TITLE_ORDER_ROWS = 20_000
# ... when building it costs at most this many times the walk it saves. Measured at 1M on a slow core: the
# build (the hits sorted by their keys) ~3-4 us a hit, the walk ~5 us a row passed. `female:` from hit 50,000
# (975,788 hits) would take ~4 s to build against a 0.25 s walk: walked; an artist's 10,000 works, bunched
# 400,000 titles in, are sorted anyway (the order is then built from that sort: see _search).
BUILD_S_PER_HIT = 4e-6
WALK_S_PER_ROW = 5e-6
BUILD_RATIO = 2.0


def _title_order_pays(q: Query, kept: _Kept | None, count: int | None, offset: int, limit: int, visible: int,
                      bunched: bool) -> bool:
    if kept is None or kept.negated_alone:
        return False
    if kept.hits is not None and kept.hits.by_title is not None:
        return q.sort == "title" and count is not None and offset < count
    return _order_pays(q, count, offset, limit, visible, bunched)


def _order_pays(q: Query, count: int | None, offset: int, limit: int, visible: int, bunched: bool) -> bool:
    """Whether a title page of `count` hits is served from a kept title order, before one is kept."""
    if q.sort != "title" or count is None or offset >= count:
        return False
    walked = _rows_walked(offset, limit, visible, count, title_sort=True)
    if not bunched and walked <= TITLE_ORDER_ROWS:
        return False
    # a bunched page would be sorted from the collected hits: the order costs about that sort; else the order
    # is built when that pays, or the walk records the prefix it passes (an ascending page in the first half)
    return bunched or _build_pays(count, walked) or _prefix_serves(q, offset, limit, count)


def _build_pays(count: int, walked: float) -> bool:
    return BUILD_S_PER_HIT * count <= BUILD_RATIO * WALK_S_PER_ROW * walked


def _prefix_serves(q: Query, offset: int, limit: int, count: int) -> bool:
    # deeper than half way, a walk from the end is shorter (_title_page): left to it
    return not q.descending and limit >= 0 and offset + limit <= count // 2


def _from_title_order(db: Database, q: Query, terms: list[Term], kept: _Kept | None, count: int | None,
                      offset: int, limit: int, visible: int, bunched: bool) -> tuple[_Kept | None, list[str] | None]:
    """(the filter's entry, the page) when the page is served from the kept set's title order; the page None
    otherwise. An entry not filled yet (a one-tag filter: its count is stored) has its hits read here."""
    if kept is None or not _title_order_pays(q, kept, kept.count if kept.hits is not None else count, offset,
                                             limit, visible, bunched):
        return kept, None
    if kept.hits is None:
        _count_and_keep(db, terms, kept)
        kept = _kept(db, terms, visible)
        if kept is None or kept.hits is None:
            return kept, None
    return kept, _kept_title_page(db, q, kept, offset, limit, terms, visible, bunched=bunched)


def _kept_title_page(db: Database, q: Query, kept: _Kept, offset: int, limit: int, terms: list[Term],
                     visible: int, collected: bool = False, bunched: bool = False) -> list[str] | None:
    """The page of a kept set in title order, from its title order: built here when it has none yet (from
    temp.search_hits if `collected`: the set was just collected there), or its prefix walked and extended.
    None when a prefix cannot serve the page (the caller's plan answers it)."""
    hits = kept.hits
    assert hits is not None
    order, reach = hits.by_title, hits.title_end
    count = len(hits.nums)
    # a prefix, walked from the first title; not for hits bunched far along the titles (`artist:ka*` at 1M:
    # 20,695 hits from ~400,000 titles in, a 1.8 s walk): they are sorted
    prefix = order is not None and reach is not None
    if order is None and not collected and not bunched and \
            not _build_pays(count, _rows_walked(offset, limit, visible, count, True)):
        order, prefix = array("I"), True
    if order is None:
        if not collected:
            materialize_nums(db, hits.nums)
        cursor = db.conn.cursor()
        cursor.row_factory = None
        order = hitcache.nums_of(cursor.execute(
            f"SELECT a.num FROM archives a INDEXED BY archives_num_sort WHERE {IN_HITS} AND {VISIBLE} "
            "ORDER BY a.sort_key, a.num"))
        if len(order) != count:
            return None  # (the set is of visible archives: never expected)
        hitcache.cache_of(db).keep_title_order(kept.key, hits, order)
    elif prefix:
        if not _prefix_serves(q, offset, limit, count):
            return None
        if len(order) < offset + limit:
            extended = _walk_prefix(db, terms, order, reach, offset + limit - len(order), 4 * limit)
            if extended is None:
                return None
            order, reach = extended
            hitcache.cache_of(db).keep_title_order(kept.key, hits, order, reach)
    n = len(order)
    end = n if limit < 0 else min(n, offset + limit)
    if q.descending:
        picked = order[max(n - end, 0):n - offset][::-1]
    else:
        picked = order[offset:end]
    ids = archive_ids(db, picked)
    return [ids[num] for num in picked if num in ids]


def _walk_prefix(db: Database, terms: list[Term], order: array, after: tuple[Any, int] | None,
                 more: int, slack: int) -> tuple[array, tuple[Any, int] | None] | None:
    """The prefix `order` (the hits up to `after`; None: nothing walked yet) extended by a walk of the title
    index testing each row (the per-row probes) for `more` hits and `slack` beyond (the next pages); with its
    new end, None when the walk reached the last title (the order is then whole)."""
    where = _archive_where(db, Query(), terms, None, exclude_tank_members=False, probe=True)
    if where is None:
        return None
    want = more + slack
    if after is not None:
        where.add("(a.sort_key, a.num) > (?, ?)", after[0], after[1])
    cursor = db.conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(f"SELECT a.num, a.sort_key FROM archives a INDEXED BY archives_sort WHERE {where.sql()} "
                          "ORDER BY a.sort_key, a.num LIMIT ?", where.params + [want]).fetchall()
    grown = array("I", order)
    grown.extend(r[0] for r in rows)
    return grown, ((rows[-1][1], rows[-1][0]) if len(rows) == want else None)


def _order_from_collected(db: Database, q: Query, terms: list[Term], visible: int, offset: int, limit: int,
                          where: Where) -> list[str] | None:
    """A bunched page of a plain filter whose hits were just collected into temp.search_hits (and kept): its
    title order built from them (what sorting them for the page costs) and the page sliced from it."""
    if not hitcache.ENABLED or q.sort != "title" or set(where.clauses) != {VISIBLE, IN_HITS}:
        return None
    kept = _kept(db, terms, visible)
    if kept is None or kept.hits is None or kept.negated_alone:
        return None
    return _kept_title_page(db, q, kept, offset, limit, terms, visible, collected=kept.hits.by_title is None)


def _page_bounds(start: int, page_size: int) -> tuple[int, int]:
    """(offset, limit); start=-1 means everything."""
    if start == -1:
        return 0, -1
    return max(start, 0), page_size


def _title_page(db: Database, q: Query, where: Where, walk: bool, offset: int, limit: int,
                count: int, bound: int | None = None) -> list[str] | None:
    """The page in title order, by a walk of the title index or a sort of the hits. A walk given a `bound`
    passes at most that many archives and returns None if the page is not within them."""
    descending = q.descending
    from_end = walk and limit >= 0 and _skipped(offset, limit, count, True) < offset
    if from_end:  # a deep page: walk the order backwards from the last hit (the order is total: exact)
        descending = not descending
        offset, limit = max(count - offset - limit, 0), min(limit, count - offset)
    d = "DESC" if descending else "ASC"
    hint = "INDEXED BY archives_sort" if walk else ""
    where = Where(list(where.clauses), list(where.params))
    bounded = walk and bound is not None and bound < visible_count(db)  # (past the end: no bound to find)
    if bounded and bound is not None:
        # where the walk must stop: the bound-th visible archive in this order (a walk of the index alone)
        last = db.query_one(f"SELECT a.sort_key, a.num FROM archives a INDEXED BY archives_sort WHERE {VISIBLE} "
                            f"ORDER BY a.sort_key {d}, a.num {d} LIMIT 1 OFFSET ?", (bound - 1,))
        if last is not None:
            where.add(f"(a.sort_key, a.num) {'>=' if descending else '<='} (?, ?)", last[0], last[1])
    if not walk and set(where.clauses) <= {VISIBLE, IN_HITS}:
        # collected hits sorted by their keys, read from the narrow (num, sort_key) index (schema 15): the
        # wide row of only the page's archives is read, for its ID
        rows = db.query(f"SELECT b.id FROM (SELECT a.num, a.sort_key FROM archives a INDEXED BY archives_num_sort "
                        f"WHERE {where.sql()} ORDER BY a.sort_key {d}, a.num {d} LIMIT ? OFFSET ?) s "
                        f"JOIN archives b ON b.num = s.num ORDER BY s.sort_key {d}, s.num {d}",
                        where.params + [limit, offset])
    else:
        rows = db.query(f"SELECT a.id FROM archives a {hint} WHERE {where.sql()} ORDER BY a.sort_key {d}, a.num {d} "
                        "LIMIT ? OFFSET ?", where.params + [limit, offset])
    ids = [r[0] for r in rows]
    if bounded and len(ids) < (count - offset if limit < 0 else min(limit, count - offset)):
        return None
    return ids[::-1] if from_end else ids

# How many times the rows a title walk should pass (hits spread evenly) it may pass before giving up.
BUNCHING = 4

# Past this offset a namespace-sorted page is found in two steps (see _keyed_position).
DEEP_OFFSET = 1_000


def _keyed_position(db: Database, q: Query, where: Where, offset: int) -> tuple[Any, int] | None:
    """Where hit number `offset` of the keyed part lies: (its value_key, how many hits sort strictly before
    that value), or None when the keyed part holds no more than `offset` hits.

    SQLite's own plan for a deep page reads every skipped archive's row for the title tie-break (~2.5 us
    each: 130 ms at start=50000 of 100k); these two queries walk the value index only, testing membership
    by the integer key, so the page query can then seek straight to the value."""
    d = "DESC" if q.descending else "ASC"
    if set(where.clauses) <= {VISIBLE, IN_HITS}:
        # no filter, or hits already collected: tested on the index entry itself (hidden archives are few)
        source = "ns_values v INDEXED BY ns_values_key"
        test = " AND ".join("v.num NOT IN (SELECT num FROM archives WHERE path = '')" if c == VISIBLE
                            else "v.num IN temp.search_hits" for c in where.clauses)
    else:
        source = "ns_values v INDEXED BY ns_values_key JOIN archives a INDEXED BY archives_flags ON a.num = v.num"
        test = where.sql()
    row = db.query_one(f"SELECT v.value_key FROM {source} WHERE v.ns = ? AND {test} ORDER BY v.value_key {d} "
                       "LIMIT 1 OFFSET ?", [q.sort] + where.params + [offset])
    if row is None:
        return None
    before = db.row(f"SELECT COUNT(*) FROM {source} WHERE v.ns = ? AND v.value_key {'>' if q.descending else '<'} "
                          f"? AND {test}", [q.sort, row[0]] + where.params)[0]
    return row[0], before


def _namespace_page(db: Database, q: Query, where: Where, offset: int, limit: int) -> list[str]:
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
    keyed = offset + len(ids) if ids or offset == 0 else count_where(db, where, keyed_join, [q.sort])
    rest = -1 if limit < 0 else limit - len(ids)
    rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} AND a.num NOT IN "
                    "(SELECT num FROM ns_values WHERE ns = ?) ORDER BY a.sort_key, a.num LIMIT ? OFFSET ?",
                    where.params + [q.sort, rest, max(offset - keyed, 0)])
    return ids + [r[0] for r in rows]


def search(db: Database, q: Query, page_size: int) -> Result:
    token = resolutions.set({})
    try:
        return _search(db, q, page_size)
    finally:
        resolutions.reset(token)


def _search(db: Database, q: Query, page_size: int) -> Result:
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    visible = visible_count(db)
    total = _grouped_total(db) if tanks_exist else visible
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tanks = matching_tanks(db, q, terms, members) if tanks_exist else []
    offset, limit = _page_bounds(q.start, page_size)
    # A title walk whose hits bunched along the titles gave up after the rows an even spread needs (an artist's
    # works share the start of their titles: `artist:ka*` at 1M, ~170 ms walked for nothing); the same search
    # then sorts its hits at once (hitcache.HitCache.note_bunched; a hint: sorting is always right).
    hint = (q.filter, q.category, q.descending)
    bunched = hitcache.ENABLED and q.sort == "title" and hitcache.cache_of(db).bunched(hint)
    if tanks:
        probed = _tank_merge_probe(db, q, terms, members, offset, limit, visible)
        if probed is not None:  # a short walk testing each row: no hit set to collect
            return merged_page(db, q, probed[0], probed[1], tanks, offset, limit, total, True)
        hits, merged = _tank_merge_hits(db, q, terms, members, where)
        walk = _walk_pays(offset, limit, visible, merged, title_sort=False)
        return merged_page(db, q, hits, merged, tanks, offset, limit, total, walk)
    if where is None:
        return Result([], 0, total)
    count: int
    kept: _Kept | None = None
    if len(where.clauses) == 1:  # no filter at all: the indexes give every answer directly
        count, walk = visible, True
    else:
        excluded = len(terms) == 1 and terms[0].negated
        tag_count = single_tag_count(db, q, terms, where)
        # a filter with no other condition: its hits may be kept from an earlier search (hitcache.py)
        plain = members is None and not tanks_exist and len(where.clauses) == 1 + len(terms)
        kept = _kept(db, terms, visible) if plain and (tag_count is None or _order_pays(
            q, tag_count, offset, limit, visible, bunched)) else None
        kept, ids = _from_title_order(db, q, terms, kept, tag_count, offset, limit, visible, bunched)
        if ids is not None and kept is not None:
            return Result(ids, kept.count, total)
        if kept is not None and kept.hits is not None and not bunched:
            tag_count = kept.count  # the count known: a page walked with probes when that pays
        elif tag_count is None and _dense(db, q, terms, where, offset, limit, visible):
            tag_count = _count_and_keep(db, terms, kept)
            # just kept: a deep title page records its walk's prefix now (else the next page would walk)
            kept = _kept(db, terms, visible) if kept is not None else None
            kept, ids = _from_title_order(db, q, terms, kept, tag_count, offset, limit, visible, bunched)
            if ids is not None and kept is not None:
                return Result(ids, kept.count, total)
        # A broad filter (an exclusion, say) walks a short way whatever the page, where collecting would
        # copy every hit.
        probe = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist, probe=True) \
            if tag_count is not None and _probe_walk_pays(q, offset, limit, visible, tag_count, excluded) \
            else None
        if tag_count is not None and probe is not None:
            where, count, walk = probe, tag_count, True
            # The hits may bunch up along the order instead of spreading evenly (an artist's works share
            # the start of their titles: `artist:s*` puts its first page 70,000 titles in). A title walk stops
            # after a few times the rows it should pass; failing that, the hits are collected and sorted.
            if q.sort == "title" and offset < count:
                estimate = _rows_walked(offset, limit, visible, count, title_sort=True)
                ids = None if bunched else _title_page(db, q, where, walk, offset, limit, count,
                                                       bound=max(1, int(max(PROBE_WALK_LIMIT, BUNCHING * estimate))))
                if ids is not None:
                    return Result(ids, count, total)
                _note_bunched(db, hint)
                if kept is None and plain:  # (a one-tag filter: kept from here on, for its title order)
                    kept = _kept(db, terms, visible)
                where, count = _collect_or_kept(db, q, terms, members, tanks_exist, kept)
                walk = False
                ids = _order_from_collected(db, q, terms, visible, offset, limit, where) if kept else None
                if ids is not None:  # sorted once for this page and kept: the next pages are slices
                    return Result(ids, count, total)
        elif terms:
            where, count = _collect_or_kept(db, q, terms, members, tanks_exist, kept)
            walk = _walk_pays(offset, limit, visible, count, q.sort == "title")
            if kept is not None and not walk and _title_order_pays(q, kept, count, offset, limit, visible, True):
                ids = _order_from_collected(db, q, terms, visible, offset, limit, where)
                if ids is not None:  # sorted once for this page and kept: the next pages are slices
                    return Result(ids, count, total)
        else:  # archive flags only: counted in their narrow index; a short walk tests them row by row
            count = _flags_count(db, where, visible)
            walk = _probe_walk_pays(q, offset, limit, visible, count)
            if count and not walk:
                where, count = materialize(db, where)
                walk = _walk_pays(offset, limit, visible, count, q.sort == "title")
    if count == 0 or offset >= count:
        return Result([], count, total)
    if q.sort == "title":
        page = None
        if walk and IN_HITS in where.clauses and bunched:
            walk = False
        elif walk and IN_HITS in where.clauses:
            # Collected hits bunch up along the title order too (`artist:ka*` at 1M: its first page lies
            # ~400,000 titles in; walking there cost 77 ms, sorting its 20,700 hits ~20 ms): the walk stops
            # after a few times the rows an even spread needs, and the hits are sorted instead.
            estimate = _rows_walked(offset, limit, visible, count, title_sort=True)
            page = _title_page(db, q, where, walk, offset, limit, count,
                               bound=max(1, int(max(PROBE_WALK_LIMIT, BUNCHING * estimate))))
            walk = page is not None
            if page is None:
                _note_bunched(db, hint)
                if kept is not None:  # the hits are sorted for this page: their order is kept with them
                    page = _order_from_collected(db, q, terms, visible, offset, limit, where)
        ids = page if page is not None else _title_page(db, q, where, walk, offset, limit, count) or []
    elif q.sort == "lastread":
        rows = db.query(f"SELECT a.id FROM archives a WHERE {where.sql()} ORDER BY a.lastreadtime "
                        f"{'ASC' if q.descending else 'DESC'}, a.sort_key, a.num LIMIT ? OFFSET ?",
                        where.params + [limit, offset])
        ids = [r[0] for r in rows]  # LANraragi's default (asc) lists the most recently read first
    else:
        ids = _namespace_page(db, q, where, offset, limit)
    return Result(ids, count, total)


def _flags_count(db: Database, where: Where, visible: int) -> int:
    """How many archives pass archive-level conditions only. hidecompleted alone is the library less the
    few archives read to the end, counted in their partial index (schema 16); newonly alone is a counter
    (schema 19); others are counted in the flags index."""
    conditions = where.row_conditions().clauses if not where.memberships else None
    if conditions == [f"NOT ({COMPLETED})"]:
        return visible - db.row(f"SELECT COUNT(*) FROM archives a INDEXED BY archives_completed "
                                f"WHERE {VISIBLE} AND {COMPLETED}")[0]
    if conditions == [NEW]:  # newonly alone (Mihon's "Latest"): the counter kept by triggers (schema 19)
        return int(db.row("SELECT n FROM counters WHERE name = 'new'")[0])
    return count_where(db, where)


def _collect_terms(db: Database, q: Query, terms: list[Term], members: list[str] | None,
                   exclude_tank_members: bool) -> tuple[Where, int]:
    """The filter's hits collected (collect()), with the archive-level conditions of the query; only called
    once `_archive_where` has found the result not certainly empty."""
    flags = _archive_where(db, q, None, members, exclude_tank_members=exclude_tank_members)
    assert flags is not None  # the caller's `where` was not None for the same inputs
    return collect(db, [resolve(db, t) for t in terms], flags)


def _tank_merge_probe(db: Database, q: Query, terms: list[Term], members: list[str] | None, offset: int,
                      limit: int, visible: int) -> tuple[Where, int] | None:
    """For one term hitting one tag or one tag_heads key (`female:`, whose hits are most of the library),
    the archives to merge with matching tanks as per-row probes and their number: the term's stored count
    less the (few) present tank members it hits. None when the search is not of that kind or a walk would
    be long."""
    plain = _archive_where(db, q, terms, members, exclude_tank_members=False)
    count = single_tag_count(db, q, terms, plain) if plain is not None else None
    if count is None or not _probe_walk_pays(q, offset, limit, visible, count, terms[0].negated):
        return None
    probe = _archive_where(db, q, terms, members, exclude_tank_members=True, probe=True)
    assert probe is not None  # `plain` was not None for the same inputs
    test, params = resolve(db, terms[0]).probe_sql()
    in_tanks = db.row(f"SELECT COUNT(*) FROM archives a WHERE a.path != '' AND a.id IN "
                      f"(SELECT archive_id FROM tank_archives) AND {'NOT ' if terms[0].negated else ''}{test}",
                      params)[0]
    count -= in_tanks
    if q.sort == "title":  # hits may bunch up along the title order: see that a bounded walk finds them
        needed = min(offset + limit, count)
        bound = max(PROBE_WALK_LIMIT, int(BUNCHING * _rows_walked(0, needed, visible, count, title_sort=False)))
        d = "DESC" if q.descending else "ASC"
        last = db.query_one(f"SELECT a.sort_key, a.num FROM archives a INDEXED BY archives_sort WHERE {VISIBLE} "
                            f"ORDER BY a.sort_key {d}, a.num {d} LIMIT 1 OFFSET ?", (bound - 1,)) \
            if bound < visible else None
        if last is not None and db.row(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM archives a INDEXED BY archives_sort WHERE {probe.sql()} AND "
                f"(a.sort_key, a.num) {'>=' if q.descending else '<='} (?, ?) LIMIT ?)",
                probe.params + [last[0], last[1], needed])[0] < needed:
            return None
    return probe, count


def _tank_merge_hits(db: Database, q: Query, terms: list[Term], members: list[str] | None,
                     where: Where | None) -> tuple[Where | None, int]:
    """The archives to merge with matching tanks, and how many: a filter's hits collected once, so the
    merge's ordered reads only probe them."""
    if where is None:
        return None, 0
    if terms:
        return _collect_terms(db, q, terms, members, exclude_tank_members=True)
    if not where.row_conditions().clauses and [inside for inside, _, _ in where.memberships] == [False]:
        # everything outside tankoubons: the present archives less the (few) present tank members
        return where, visible_count(db) - db.row(
            "SELECT COUNT(*) FROM archives WHERE path != '' AND id IN (SELECT archive_id FROM tank_archives)")[0]
    return where, count_where(db, where)


def _grouped_total(db: Database) -> int:
    """Archives outside tankoubons plus tankoubons with a present member (tank members are few)."""
    return visible_count(db) + db.row(
        "SELECT (SELECT COUNT(DISTINCT ta.tank_id) FROM tank_archives ta JOIN archives a ON a.id = ta.archive_id "
        "WHERE a.path != '') - (SELECT COUNT(*) FROM archives a WHERE a.path != '' AND a.id IN "
        "(SELECT archive_id FROM tank_archives))")[0]


def _random_visible(db: Database, count: int) -> list[str]:
    """Uniform picks among all visible archives by drawing integer keys: O(count), not O(library)."""
    top = db.row("SELECT MAX(num) FROM archives")[0] or 0
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
    token = resolutions.set({})
    try:
        return _random_ids(db, q, count)
    finally:
        resolutions.reset(token)


def _random_ids(db: Database, q: Query, count: int) -> list[str]:
    count = max(0, min(count, 10_000))
    terms = parse_filter(q.filter)
    members, dynamic_terms = _category(db, q.category)
    terms += dynamic_terms
    tanks_exist = q.groupby_tanks and db.query_one("SELECT 1 FROM tank_archives LIMIT 1") is not None
    where = _archive_where(db, q, terms, members, exclude_tank_members=tanks_exist)
    tank_ids = [t.id for t in matching_tanks(db, q, terms, members)] if tanks_exist else []
    picked: list[str] = []
    if where is not None and len(where.clauses) == 1:
        picked = _random_visible(db, count)
    elif where is not None:
        if terms:
            where, n = _collect_terms(db, q, terms, members, tanks_exist)
        else:
            where, n = materialize(db, where)
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
