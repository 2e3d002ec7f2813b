"""A filter's hits counted or collected into this connection's temp table `search_hits`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from lrr_lite.library.search.grammar import Term
from lrr_lite.library.search.query import IN_HITS, READ, VISIBLE, Query, Where
from lrr_lite.library.search.terms import Resolved, resolve, titles_sql
from lrr_lite.storage.db import Database

# Testing a title per remaining archive (~1.5 us each) beats one pass over all titles (~10 ms per 100k) up to
# about this many archives.
TITLE_PROBE_LIMIT = 8_000

# A merge of the terms' posting lists (each read in archive order) costs ~65 ns per entry read, every list
# read whole; testing the smallest positive term's rows against each other term costs ~250 ns per row and
# test. The merge is taken while its entries are no more than this many times the tests (at 100k,
# `language:english, female:, -male:x`: 152k entries merged in 13 ms, against 45k rows x 2 tests in 24 ms).
MERGE_RATIO = 4


def _flags_index(where: Where) -> str:
    return "archives_read" if READ in where.clauses else "archives_flags"


def _empty_hits(conn: sqlite3.Connection) -> None:
    """This connection's `search_hits`, created if need be and emptied (one connection per thread, so the
    temp table is this request's alone)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_hits (num INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM search_hits")


def _hits_where() -> Where:
    hits = Where()
    hits.add(VISIBLE)
    hits.add(IN_HITS)
    return hits


def count_where(db: Database, where: Where, join: str = "", join_params: list[Any] | None = None) -> int:
    # Visibility, the integer key and the flags live in a narrow partial index: probing it beats the wide
    # rows. Read archives (sortby=lastread) have a smaller one of their own.
    hint = "" if join else f"INDEXED BY {_flags_index(where)}"
    return db.row(f"SELECT COUNT(*) FROM archives a {hint} {join} WHERE {where.sql()}",
                        (join_params or []) + where.params)[0]


def archive_ids(db: Database, nums: Iterable[int]) -> dict[int, str]:
    """Archive key -> ID of the given keys (a page's worth: read 500 at a time)."""
    wanted = list(nums)
    ids: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        ids.update((r[0], r[1]) for r in db.query(
            f"SELECT num, id FROM archives WHERE num IN ({','.join('?' * len(chunk))})", chunk))
    return ids


def materialize_nums(db: Database, nums: Iterable[int]) -> tuple[Where, int]:
    """Given hit keys (a kept hit set, hitcache.py) into this connection's temp table `search_hits`."""
    _empty_hits(db.conn)
    # one statement reading a JSON array: half the cost of an executemany row by row
    cur = db.conn.execute("INSERT INTO search_hits(num) SELECT value FROM json_each(?)",
                          ("[" + ",".join(map(str, nums)) + "]",))
    return _hits_where(), cur.rowcount


def materialize(db: Database, where: Where) -> tuple[Where, int]:
    """Evaluate the filter once into this connection's temp table: its size is recordsFiltered, and the
    page query then probes it instead of evaluating every term a second time."""
    _empty_hits(db.conn)
    cur = db.conn.execute(f"INSERT OR IGNORE INTO search_hits SELECT a.num FROM archives a INDEXED BY "
                          f"{_flags_index(where)} WHERE {where.sql()}", where.params)
    return _hits_where(), cur.rowcount


def collect(db: Database, resolved: list[Resolved], flags: Where) -> tuple[Where, int]:
    """Evaluate a filter into this connection's temp table `search_hits` in one statement: the rows of the
    smallest positive term's set, each tested against the other terms by indexed probes (a B-tree seek per
    row and term) and kept only if every test passes, or, when every term is one posting list, a merge of
    the lists (_merge_sql); then the archive-level flags. Returns the WHERE
    selecting the hits and their number (recordsFiltered)."""
    conn = db.conn
    _empty_hits(conn)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS term_titles (k INTEGER, num INTEGER, PRIMARY KEY (k, num))")
    conn.execute("DELETE FROM term_titles")
    scanned: set[int] = set()  # terms whose title hits are listed in term_titles

    def scan_titles(k: int, r: Resolved) -> None:
        titles, params = titles_sql(r.title_glob)
        conn.execute(f"INSERT OR IGNORE INTO term_titles(k, num) SELECT ?, num FROM ({titles})", [k, *params])
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

    def member_sql(k: int, r: Resolved, column: str) -> tuple[str, list[Any]]:
        """`column` is in term k's hit set (title, tags, numeric, ID), tested row by row."""
        if k in scanned:
            parts = [f"{column} IN (SELECT num FROM temp.term_titles WHERE k = {k})"]
            params: list[Any] = []
        else:
            parts = [f"EXISTS (SELECT 1 FROM archives t INDEXED BY archives_visible_title WHERE t.num = {column} "
                     "AND t.path != '' AND t.title_lc GLOB ?)"]
            params = [r.title_glob]
        tags = r.tag_test_sql(column)
        if tags:
            parts.append(tags[0])
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

    merged = _merge_sql(conn, resolved, positives, scanned)
    if merged is not None:
        conn.execute(f"INSERT INTO search_hits {merged[0]}", merged[1])
        return _apply_flags(conn, flags)
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
    tests = Where()
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
    return _apply_flags(conn, flags)


def _merge_sql(conn: sqlite3.Connection, resolved: list[Resolved], positives: list[int],
               scanned: set[int]) -> tuple[str, list[Any]] | None:
    """The filter as one compound SELECT that SQLite answers by merging the terms' posting lists in archive
    order (`A INTERSECT B EXCEPT C ORDER BY 1`: no per-row seek), when every term's hits are exactly one
    such list (one tag, or one tag_heads key, and no title hit) and the lists are not too long for it
    (MERGE_RATIO); else None. A positive term matching nothing cannot be merged: collect() finds the empty
    answer at once through it anyway."""
    if not positives or len(resolved) < 2:
        return None
    arms: list[tuple[bool, str, list[Any]]] = []
    for k, r in enumerate(resolved):
        if r.numeric or r.id_glob or k not in scanned or r.tag_subquery:
            return None
        if conn.execute("SELECT 1 FROM temp.term_titles WHERE k = ? LIMIT 1", (k,)).fetchone() is not None:
            return None  # a title hit too: the term's set is not one ordered list
        if r.head is not None:
            arms.append((r.term.negated, "SELECT num FROM tag_heads WHERE head_id = ?", [r.head_id]))
        elif len(r.tag_ids) == 1:
            arms.append((r.term.negated, "SELECT num FROM archive_tags WHERE tag_id = ?", [r.tag_ids[0]]))
        elif r.tag_ids or not r.term.negated:
            return None  # several tags (their union is not in archive order), or nothing to merge with
    merged = sum(r.tag_total for r in resolved)
    smallest = resolved[positives[0]].tag_total
    if merged > MERGE_RATIO * smallest * (len(resolved) - 1):
        return None
    arms.sort(key=lambda arm: arm[0])  # the positive terms first: INTERSECT, then EXCEPT
    sql = arms[0][1] + "".join(f" {'EXCEPT' if negated else 'INTERSECT'} {arm}" for negated, arm, _ in arms[1:])
    return sql + " ORDER BY 1", [p for _, _, params in arms for p in params]


def _apply_flags(conn: sqlite3.Connection, flags: Where) -> tuple[Where, int]:
    """Apply the archive-level conditions to the collected hits; (the WHERE selecting them, their number)."""
    # archive-level conditions on what is left: visibility (few hidden archives: found by index), category
    # and tank membership (one set each), then the flags, which need each remaining row's flags
    conn.execute("DELETE FROM search_hits WHERE num IN (SELECT num FROM archives WHERE path = '')")
    for inside, subquery, params in flags.memberships:
        conn.execute(f"DELETE FROM search_hits WHERE num {'NOT IN' if inside else 'IN'} ({subquery})", params)
    rows = flags.row_conditions()
    if rows.clauses:
        conn.execute(f"DELETE FROM search_hits WHERE num IN (SELECT a.num FROM archives a INDEXED BY archives_flags "
                     f"WHERE {IN_HITS} AND {VISIBLE} AND NOT ({rows.sql()}))", rows.params)
    return _hits_where(), conn.execute("SELECT COUNT(*) FROM search_hits").fetchone()[0]


def single_tag_count(db: Database, q: Query, terms: list[Term], where: Where) -> int | None:
    """recordsFiltered of the commonest search (one term hitting one tag, or excluding it, no other filter)
    from the tag's stored archive count, without collecting the hits; None when the search is not of that
    kind."""
    if len(terms) != 1 or len(where.clauses) != 2:
        return None
    r = resolve(db, terms[0])
    if r.numeric or r.id_glob or (r.head is None and (r.tag_subquery or len(r.tag_ids) != 1)):
        return None
    # one tag, or one tag_heads key (schema 12): its stored count, less the few hidden archives
    # (hidden archives are few: each is tested by a seek)
    test, test_params = r.tag_test_sql("a.num") or ("0", [])
    hidden = db.row(f"SELECT COUNT(*) FROM archives a INDEXED BY archives_path WHERE a.path = '' AND {test}",
                    test_params)[0]
    # Titles that match are few: find them through the narrow title index, then check them one by one.
    title_nums = [row[0] for row in db.query(*titles_sql(r.title_glob))]
    title_only = 0
    for chunk in (title_nums[i:i + 500] for i in range(0, len(title_nums), 500)):
        marks = ",".join("?" * len(chunk))
        title_only += db.row(
            f"SELECT COUNT(*) FROM archives a WHERE a.num IN ({marks}) AND a.path != '' AND NOT {test}",
            chunk + test_params)[0]
    matching = r.tag_total - hidden + title_only
    return visible_count(db) - matching if terms[0].negated else matching


def visible_count(db: Database) -> int:
    """How many archives have their file (kept up to date by triggers, schema 8)."""
    return db.row("SELECT n FROM counters WHERE name = 'visible'")[0]


# A filter whose hits are a large part of the library is paged by a walk of the sort order testing each row
# (a few rows per hit of the page), and counted by one statement that reads the terms' posting lists without
# writing the hits anywhere: copying 400k-600k hits into `search_hits` was most of the cost at 1M archives
# (`language:english, female:, -male:x`: merge and insert 146 ms, merge and count 91 ms; `*ko`, 2,808 tags:
# insert 650 ms, count of the union 240 ms).
HIDDEN = "SELECT num FROM archives INDEXED BY archives_path WHERE path = ''"


def estimated_hits(resolved: list[Resolved], visible: int) -> float:
    """The hits of a filter if its terms were independent: the smallest positive term's count scaled by the
    share of the library each other term keeps (a guide for choosing a plan, never a recordsFiltered)."""
    positives = sorted(r.tag_total for r in resolved if not r.term.negated)
    if not positives or not visible:
        return float(visible)
    estimate = float(positives[0])
    for total in positives[1:]:
        estimate *= min(total / visible, 1.0)
    for r in resolved:
        if r.term.negated:
            estimate *= max(1.0 - r.tag_total / visible, 0.0)
    return estimate


def hits_sql(db: Database, terms: list[Term]) -> tuple[str, list[Any]] | None:
    """One SELECT of the filter's visible hits (distinct archive keys) with no archive-level condition,
    or None when the filter is not of a kind it covers: one term of tags and titles (however many tags;
    negated, it gives the term's own hits), or several terms each exactly one posting list (one tag, or one
    tag_heads key, and no title hit), merged in archive order (`A INTERSECT B EXCEPT C ORDER BY 1`) with at
    least one positive. The keys come in ascending order (a table or a compound's index read in order)."""
    resolved = [resolve(db, t) for t in terms]
    if not resolved or any(r.numeric or r.id_glob for r in resolved):
        return None
    if len(resolved) == 1:
        r = resolved[0]
        if r.text_glob:  # one pass testing each archive's title and tags at once (no union to de-duplicate)
            return f"SELECT num FROM search_text WHERE text GLOB ? AND num NOT IN ({HIDDEN})", [r.text_glob]
        parts = [p for p in (r.tag_nums_sql(), titles_sql(r.title_glob)) if p is not None]
        # UNION folds an archive hit by several tags (or tag and title) once; the hidden ones go last
        return " UNION ".join(s for s, _ in parts) + f" EXCEPT {HIDDEN}", [p for _, params in parts for p in params]
    arms: list[tuple[bool, str, list[Any]]] = []
    for r in resolved:
        if ":" not in r.title_glob:
            return None  # a bare word's titles are a pass over every title: not one ordered list
        if db.query_one(*titles_sql(r.title_glob)) is not None:
            return None  # a title hit too (few titles have a ':': their partial index answers at once)
        tags = r.tag_nums_sql()
        if tags is None or (r.head is None and len(r.tag_ids) != 1):
            if tags is None and r.term.negated:
                continue  # excludes nothing
            return None  # several tags (their union is not in archive order), or a positive term hitting none
        arms.append((r.term.negated, tags[0], tags[1]))
    if not any(not negated for negated, _, _ in arms):
        return None
    arms.sort(key=lambda arm: arm[0])  # the positive terms first: INTERSECT, then EXCEPT
    sql = arms[0][1] + "".join(f" {'EXCEPT' if negated else 'INTERSECT'} {arm}" for negated, arm, _ in arms[1:])
    return f"{sql} EXCEPT {HIDDEN} ORDER BY 1", [p for _, _, params in arms for p in params]


def counted_sql(db: Database, terms: list[Term]) -> tuple[str, list[Any]] | None:
    """One SELECT COUNT(*) of hits_sql(): the filter's exact number of visible hits (of a lone negated
    term, the term's own)."""
    found = hits_sql(db, terms)
    if found is None:
        return None
    sql, params = found
    if sql.startswith("SELECT num FROM search_text "):  # a plain table read: counted in place
        return sql.replace("SELECT num", "SELECT COUNT(*)", 1), params
    return f"SELECT COUNT(*) FROM ({sql})", params


def counted(db: Database, terms: list[Term]) -> int | None:
    """recordsFiltered of a filter counted_sql() covers (a lone exclusion: the visible archives less the
    term's hits), without collecting the hits; None for other filters."""
    found = counted_sql(db, terms)  # for one term, the count of its hits whether it is negated or not
    if found is None:
        return None
    # The union's dedupe fills an ephemeral table (a few MB at 1M archives) that a file-backed temp store
    # spills through the 1 MB cache: 810 ms for `*ko`, in memory 240 ms. It is freed when the statement ends
    # (the idle trimmer hands the heap back); changing the store drops this connection's temp tables, which
    # are created again when next needed (_empty_hits).
    conn = db.conn
    conn.execute("PRAGMA temp_store=MEMORY")
    try:
        n = int(conn.execute(*found).fetchone()[0])
    finally:
        conn.execute("PRAGMA temp_store=DEFAULT")
    return visible_count(db) - n if len(terms) == 1 and terms[0].negated else n
