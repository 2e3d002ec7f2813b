"""A filter term resolved against the library: the distinct tags it hits (§5.2: exact tag, else the glob
fallback), its title and ID patterns, and the SQL forms of its hit set (a union of SELECTs, or a per-row probe).
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lrr_lite.library.search import hitcache
from lrr_lite.library.search.grammar import Term, glob_pattern, literal_prefix, numeric_filter
from lrr_lite.storage.db import Database


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def tag_glob(term: Term) -> str:
    return glob_pattern(term.text, suffix="*") if ":" in term.text else glob_pattern(term.text, "*", "*")


_HEXISH = frozenset("0123456789abcdef*?")
_DATE_TAG_CHARS = frozenset("date_added:timestamp0123456789")
# the terms resolved during one search (each is planned in several forms): set by search() and random_ids()
resolutions: contextvars.ContextVar[dict[Term, Resolved] | None] = contextvars.ContextVar("resolutions",
                                                                                         default=None)
MAX_LISTED_TAGS = 500  # past this many matching tags, refer to them by subquery, not by bound list
MANY_TAGS = 16  # past this many tags, a per-archive test reads the archive's tags instead of seeking each
USE_TAG_HEADS = True  # answer `ns:` and `ns:c*` from tag_heads (off: by their tags, as any other prefix)
# A bare word whose tags carry at least this share of the library in postings is answered by one pass over
# search_text (schema 17: title and tags per archive) instead of the union of its tags' posting lists and a
# pass over the titles: at 100k archives `*ko` (4,304 tags, 78k postings, 59k hits) counted in 44 ms against
# 116 ms side by side; the pass reads every archive's text (~280 bytes), so a word with few postings keeps
# its lists.
TEXT_PASS_SHARE = 0.25
_GLOB_CHARS = frozenset("*?[]\n")


@dataclass
class Resolved:
    """A term with its tag matches looked up once; turned into SQL in a set form (for counting and
    sorting many hits) and a probe form (for walking an index in order and testing row by row)."""

    term: Term
    numeric: tuple[str, str, int] | None
    tag_ids: list[int]
    # sum of the matching tags' archive counts (an upper bound on the hits): of all of them, even by
    # subquery, except for a text_glob term, where the listed ones may be all it counts
    tag_total: int
    tag_subquery: tuple[str, list[Any]] | None  # when too many tags match to list them
    title_glob: str
    id_glob: str | None
    # `ns:` or `ns:c` when the term's tags are exactly those of one tag_heads key (schema 12): its hits are
    # that key's rows, whatever the number of distinct tags; then tag_ids is empty and tag_total exact
    head: str | None = None
    head_id: int = 0  # the head's key in head_names (0, no key, when no archive carries it)
    # a bare word answered from search_text (TEXT_PASS_SHARE): its pattern, `*word*`, then tests an archive's
    # title and tags at once (the word has no glob character or line break: it cannot span two of them)
    text_glob: str | None = None
    exact_hit: bool = False  # an exact term whose exact tag exists (else it fell back to a glob, §5.2)

    def tags_sql(self) -> tuple[str, list[Any]] | None:
        """What goes inside `tag_id IN (...)`: the matching tags' IDs, or a subquery when they are many."""
        if self.tag_subquery:
            return self.tag_subquery[0], list(self.tag_subquery[1])
        if self.tag_ids:
            return ",".join("?" * len(self.tag_ids)), list(self.tag_ids)
        return None

    def tag_nums_sql(self) -> tuple[str, list[Any]] | None:
        """SELECT num of the archives carrying a matching tag (None: no tag matches)."""
        if self.head is not None:
            return "SELECT num FROM tag_heads WHERE head_id = ?", [self.head_id]
        tags = self.tags_sql()
        if tags is None:
            return None
        return f"SELECT num FROM archive_tags WHERE tag_id IN ({tags[0]})", tags[1]

    def tag_test_sql(self, column: str) -> tuple[str, list[Any]] | None:
        """An EXISTS testing that the archive whose key is `column` carries a matching tag (a seek per
        tag_heads key, or per archive tag checked against the listed ones)."""
        if self.head is not None:
            return f"EXISTS (SELECT 1 FROM tag_heads h WHERE h.head_id = ? AND h.num = {column})", [self.head_id]
        tags = self.tags_sql()
        if tags is None:
            return None
        # Given many tags, SQLite would seek (num, tag_id) once per listed tag (~2,400 seeks a row for `*ko`);
        # the unary + makes it read the archive's own ~15 tags and look each up in the list instead.
        plus = "+" if self.tag_subquery or len(self.tag_ids) > MANY_TAGS else ""
        return (f"EXISTS (SELECT 1 FROM archive_tags x WHERE x.num = {column} AND {plus}x.tag_id IN ({tags[0]}))",
                tags[1])

    def set_parts(self, titles: tuple[str, list[Any]] | None = None) -> list[tuple[str, list[Any]]]:
        """SELECTs of `num` whose union is the term's hit set: numeric, tags, titles (by a pass over the
        title index unless `titles` gives them), ID."""
        if self.text_glob:
            return [("SELECT num FROM search_text WHERE text GLOB ?", [self.text_glob])]
        parts: list[tuple[str, list[Any]]] = []
        if self.numeric:
            column = "pagecount" if self.numeric[0] == "pages" else "progress"
            parts.append((f"SELECT num FROM archives INDEXED BY archives_flags WHERE path != '' AND "
                          f"{column} {self.numeric[1]} ?", [self.numeric[2]]))
        tags = self.tag_nums_sql()
        if tags:
            parts.append(tags)
        parts.append(titles or titles_sql(self.title_glob))
        if self.id_glob:
            parts.append(("SELECT num FROM archives WHERE id GLOB ?", [self.id_glob]))
        return parts

    def set_sql(self) -> tuple[str, list[Any]]:
        parts = self.set_parts()
        # IN (...) dedupes by itself; UNION would sort the rows a second time
        return " UNION ALL ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]

    def probe_sql(self) -> tuple[str, list[Any]]:
        if self.text_glob:
            return "EXISTS (SELECT 1 FROM search_text s WHERE s.num = a.num AND s.text GLOB ?)", [self.text_glob]
        parts: list[str] = []
        params: list[Any] = []
        if self.numeric:
            column = "a.pagecount" if self.numeric[0] == "pages" else "a.progress"
            parts.append(f"{column} {self.numeric[1]} ?")
            params.append(self.numeric[2])
        tags = self.tag_test_sql("a.num")
        if tags:
            parts.append(tags[0])
            params += tags[1]
        if ":" in self.title_glob:  # the few titles with a ':', found once, instead of each row's title
            titles, title_params = titles_sql(self.title_glob)
            parts.append(f"a.num IN ({titles})")
            params += title_params
        else:
            parts.append("a.title_lc GLOB ?")
            params.append(self.title_glob)
        if self.id_glob:
            parts.append("a.id GLOB ?")
            params.append(self.id_glob)
        return "(" + " OR ".join(parts) + ")", params


def resolve(db: Database, term: Term) -> Resolved:
    """Look up which distinct tags a term hits (§5.2: exact tag, else the glob fallback); memoized for
    the duration of one search (the same term is planned in two forms)."""
    memo = resolutions.get()
    # a term and its negation hit the same tags: resolved once (the hit cache keeps `-ko` as `ko`)
    plain = dataclasses.replace(term, negated=False) if term.negated else term
    resolved = memo.get(plain) if memo is not None else None
    if resolved is None:
        resolved = _resolve_uncached(db, plain)
        if memo is not None:
            memo[plain] = resolved
    return dataclasses.replace(resolved, term=term) if term.negated else resolved


def _resolve_uncached(db: Database, term: Term) -> Resolved:
    rows: list[Any] = []
    subquery = None
    if term.exact:
        rows = db.query("SELECT tag_id, n FROM tag_names WHERE tag = ?", (term.text,))
    exact_hit = bool(rows)
    head = None
    if not rows:
        pattern = tag_glob(term)
        prefix = literal_prefix(pattern)
        head = tag_head(pattern, prefix) if USE_TAG_HEADS else None
        if head is not None:  # every tag of a namespace, or of its values starting with one character
            rows = []
        elif prefix:  # `ns:value*`: a range of the tag index, then the glob on what is left
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
        if head is None:
            rows = db.query(sql + f" LIMIT {MAX_LISTED_TAGS + 1}", params)
            if len(rows) > MAX_LISTED_TAGS:
                subquery = (sql.replace("tag_id, n", "tag_id"), params)
    title_glob = glob_pattern(term.text) if term.exact else glob_pattern(term.text, "*", "*")
    hexish = not term.exact and set(term.text) <= _HEXISH  # LANraragi globs `<title>\0<ID>`
    numeric = numeric_filter(term.text)
    total, head_id = sum(r[1] for r in rows), 0
    text_glob = _text_glob(term, numeric, hexish)
    visible = db.row("SELECT n FROM counters WHERE name = 'visible'")[0] if text_glob else 0
    if subquery is not None and not (text_glob and total >= TEXT_PASS_SHARE * visible):
        # more tags than are listed: their whole total (a second pass over the matching tags), unless the
        # listed ones already settle the search_text pass (whose plans need no more than a lower bound)
        total = _whole_total(db, sql, params)
    if text_glob and total < TEXT_PASS_SHARE * visible:
        text_glob = None
    if head is not None:
        found = db.query_one("SELECT head_id, n FROM head_names WHERE head = ?", (head,))
        head_id, total = (found[0], found[1]) if found else (0, 0)
    return Resolved(term, numeric, [r[0] for r in rows], total, subquery, title_glob,
                    title_glob if hexish else None, head, head_id, text_glob, exact_hit)


# The whole total of a term hitting more tags than are listed only guides the plan (the hits are counted, never
# taken from it), and summing it is a second pass over the matching tags (`*ko` at 100k archives: 4,304 tags,
# ~25 ms on a slow core): it is reused until this many archives changed since (search_log, schema 18).
TOTAL_STALE_CHANGES = 1_000
_totals: weakref.WeakKeyDictionary[Database, OrderedDict[tuple[Any, ...], tuple[int, int]]] = \
    weakref.WeakKeyDictionary()
_totals_lock = threading.Lock()


def _whole_total(db: Database, sql: str, params: list[Any]) -> int:
    key = (sql, *params)
    now = hitcache.log_position(db)
    with _totals_lock:
        memo = _totals.setdefault(db, OrderedDict())
        found = memo.get(key)
    if found is not None and 0 <= now - found[0] < TOTAL_STALE_CHANGES:
        return found[1]
    total = int(db.row(f"SELECT COALESCE(SUM(n), 0) FROM ({sql})", params)[0])
    with _totals_lock:
        memo[key] = (now, total)
        memo.move_to_end(key)
        while len(memo) > 256:
            memo.popitem(last=False)
    return total


def _text_glob(term: Term, numeric: Any, hexish: bool) -> str | None:
    """The `*word*` pattern search_text would be tested with, for a bare word without glob characters."""
    if term.exact or numeric or hexish or ":" in term.text:
        return None
    pattern = tag_glob(term)
    word = pattern.strip("*")  # `*ko` is `**ko*`: the same test
    if not word or set(word) & _GLOB_CHARS or pattern != glob_pattern(term.text, "*", "*"):
        return None  # a glob inside the word could span lines; the title pattern must be the tags' one
    return f"*{word}*"


def tag_head(pattern: str, prefix: str) -> str | None:
    """The tag_heads key whose archives are exactly those with a tag matching `pattern`, if there is one:
    the pattern is a literal `ns:` or `ns:c` (one character) followed only by `*` (schema 12 keeps, for each
    archive, what its tags' texts give up to the first ':' and one character past it)."""
    colon = prefix.find(":")
    if colon < 0 or len(prefix) - colon - 1 > 1 or pattern.rstrip("*") != prefix:
        return None
    return prefix


def titles_sql(title_glob: str) -> tuple[str, list[Any]]:
    """SELECT num of the titles matching a GLOB, by a pass over a narrow title index, with its params."""
    if ":" in title_glob:
        # A pattern with a literal ':' (every `ns:value` term) can only match the few titles that have
        # one: their partial index is read instead of every title.
        return ("SELECT num FROM archives INDEXED BY archives_colon_titles WHERE instr(title_lc, ':') > 0 "
                "AND title_lc GLOB ?", [title_glob])
    return "SELECT num FROM archives INDEXED BY archives_title WHERE title_lc GLOB ?", [title_glob]

