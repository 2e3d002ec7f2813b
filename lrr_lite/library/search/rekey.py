"""Stored sort keys brought up to today's `natural_key`, once, when a database is opened.

Titles and namespace values are sorted by keys computed at write time (archives.sort_key, ns_values.value_key).
When the key function changes (`natural.KEY_VERSION`), a database written by the older one would mix both
orders until every archive was edited again. A frozen migration can't call today's natural_key (storage may
not import the library), so the version that wrote the keys is kept in the `meta` table (migration 11) and
compared here: a different one re-keys every row in one write transaction, all or nothing.
"""

from __future__ import annotations

import logging
import time

from lrr_lite.library.search.natural import KEY_VERSION, natural_key
from lrr_lite.library.tags import namespace_values
from lrr_lite.storage.db import Database

log = logging.getLogger(__name__)

VERSION_KEY = "sort_key_version"
BATCH = 2000  # archives read per query: the transaction is one, the memory for a batch stays small


def stored_version(db: Database) -> str | None:
    row = db.query_one("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,))
    return None if row is None else str(row[0])


def ensure_current(db: Database) -> int:
    """Re-key the archives whose stored keys an older natural_key wrote; returns how many archives were
    re-keyed (0 when the keys were current). Only the rows whose key changes are written: an ASCII title
    without `[\\]^_`{|}~` keeps its key, so the one-off costs little on most libraries."""
    if stored_version(db) == str(KEY_VERSION):
        return 0
    started = time.monotonic()
    changed = 0
    with db.write() as conn:
        # again inside the transaction: another process (`lrr-lite scan` beside the server) may have done it
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,)).fetchone()
        if row is not None and row[0] == str(KEY_VERSION):
            return 0
        total = conn.execute("SELECT COUNT(*) FROM archives").fetchone()[0]
        if total:  # measured ~6 s per 100k archives when every key changes: say why the start pauses
            log.info("re-keying titles for the new sort order: %d archives ...", total)
        last = -1
        while True:
            rows = conn.execute("SELECT num, title_lc, sort_key, tags FROM archives WHERE num > ? ORDER BY num "
                                "LIMIT ?", (last, BATCH)).fetchall()
            if not rows:
                break
            first, last = rows[0]["num"], rows[-1]["num"]
            titles = [(key, r["num"]) for r in rows if (key := natural_key(r["title_lc"])) != r["sort_key"]]
            conn.executemany("UPDATE archives SET sort_key = ? WHERE num = ?", titles)
            stored: dict[int, dict[str, str]] = {}
            for v in conn.execute("SELECT ns, num, value_key FROM ns_values WHERE num BETWEEN ? AND ?", (first, last)):
                stored.setdefault(v["num"], {})[v["ns"]] = v["value_key"]
            puts: list[tuple[str, int, str]] = []
            drops: list[tuple[str, int]] = []
            values_changed: set[int] = set()
            for r in rows:
                have = stored.get(r["num"], {})
                want = {ns: natural_key(value) for ns, value in namespace_values(r["tags"]).items()}
                for ns, key in want.items():
                    if have.get(ns) != key:
                        puts.append((ns, r["num"], key))
                        values_changed.add(r["num"])
                for ns in have.keys() - want.keys():  # never expected: write_tags keeps them in step
                    drops.append((ns, r["num"]))
                    values_changed.add(r["num"])
            conn.executemany("INSERT OR REPLACE INTO ns_values(ns, num, value_key) VALUES (?, ?, ?)", puts)
            conn.executemany("DELETE FROM ns_values WHERE ns = ? AND num = ?", drops)
            changed += len({num for _, num in titles} | values_changed)
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (VERSION_KEY, str(KEY_VERSION)))
    if total:
        log.info("re-keying titles for the new sort order: %d archives, %.1f s (%d keys changed)", total,
                 time.monotonic() - started, changed)
    return changed
