"""Archive records: reading them as LANraragi's JSON and the small writes clients make.

Plain functions over the database; the HTTP layer and the CLI both call these.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lrr_lite.errors import Invalid, NotFound
from lrr_lite.library.search.natural import natural_key
from lrr_lite.library.tags import index_keys, is_untagged, namespace_values, normalize_tags, split_tags
from lrr_lite.media import memory
from lrr_lite.storage.db import Database

NO_SUCH_ID = "This ID doesn't exist on the server."

ARCHIVE_COLUMNS = ("id, path, filename, extension, title, tags, summary, isnew, progress, pagecount, "
                   "lastreadtime, size, thumbhash")


def archive_json(row: sqlite3.Row | dict[str, Any], toc: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The archive object of SEMANTICS §3 (isnew as the strings "true"/"false", per its Do line)."""
    return {
        "arcid": row["id"],
        "extension": row["extension"],
        "filename": row["filename"],
        "isnew": "true" if row["isnew"] else "false",
        "lastreadtime": int(row["lastreadtime"]),
        "pagecount": int(row["pagecount"]),
        "progress": int(row["progress"]),
        "size": int(row["size"]),
        "summary": row["summary"],
        "tags": row["tags"],
        "title": row["title"] or row["filename"],
        "toc": toc if toc is not None else [],
    }


def get_row(db: Database, archive_id: str) -> sqlite3.Row | None:
    return db.query_one(f"SELECT {ARCHIVE_COLUMNS} FROM archives WHERE id=?", (archive_id,))


def require_row(db: Database, archive_id: str) -> sqlite3.Row:
    """The archive's row if its file is present, else LANraragi's doesn't-exist error."""
    row = get_row(db, archive_id)
    if row is None or not row["path"]:
        raise NotFound(NO_SUCH_ID)
    return row


def toc_of(db: Database, archive_id: str) -> list[dict[str, Any]]:
    return [{"page": r["page"], "name": r["name"]}
            for r in db.query("SELECT page, name FROM toc WHERE archive_id=? ORDER BY page", (archive_id,))]


def get_json(db: Database, archive_id: str) -> dict[str, Any]:
    row = require_row(db, archive_id)
    return archive_json(row, toc_of(db, archive_id))


# The archive object of archive_json(), built by SQLite's JSON functions: the full list of a 100k library
# is then streamed without a Python dict per archive (seconds and hundreds of MB on a Pi otherwise). It comes
# back as bytes (CAST AS BLOB): UTF-8 as it will be sent, with no decoding and encoding again per archive.
_ARCHIVE_JSON_SQL = """
SELECT CAST(json_object(
    'arcid', a.id, 'extension', a.extension, 'filename', a.filename,
    'isnew', CASE WHEN a.isnew THEN 'true' ELSE 'false' END,
    'lastreadtime', a.lastreadtime, 'pagecount', a.pagecount, 'progress', a.progress, 'size', a.size,
    'summary', a.summary, 'tags', a.tags, 'title', CASE WHEN a.title != '' THEN a.title ELSE a.filename END,
    'toc', CASE WHEN a.id IN (SELECT archive_id FROM toc)
                THEN json((SELECT json_group_array(json_object('page', t.page, 'name', t.name))
                           FROM (SELECT page, name FROM toc WHERE archive_id = a.id ORDER BY page) t))
                ELSE json('[]') END) AS BLOB)
FROM archives a WHERE a.path != ''
"""
# Few archives have a table of contents: `a.id IN (SELECT archive_id FROM toc)` is one lookup in a set SQLite
# builds once per statement, where the subquery per archive was an index search each (100k: 0.67 -> 0.53 s).


def all_json_chunks(db: Database, batch: int = 500) -> Iterator[bytes]:
    """GET /api/archives as a stream of JSON text: every archive whose file is present."""
    cursor = db.conn.cursor()
    cursor.row_factory = None
    cursor.execute(_ARCHIVE_JSON_SQL)
    yield b"["
    first = True
    try:
        while rows := cursor.fetchmany(batch):
            text = b",".join(r[0] for r in rows)
            yield text if first else b"," + text
            first = False
        yield b"]"
    finally:
        cursor.close()
        memory.trim()  # the listing went through many short-lived buffers


# One statement per span of tag IDs: SQLite writes each span's JSON as bytes (as text, decoding the whole
# reply into a Python string and encoding it back cost ~5 times the SQL: 100k archives, 136k tags, 12 MB),
# the spans are sent as they come, and no buffer holds the whole reply (at 1M archives it is ~60 MB: every
# date_added value is a tag).
_STATS_SPAN = 20_000
_STATS_SQL = """
SELECT CAST(group_concat(json_object('namespace', ns, 'text', text, 'weight', n), ',') AS BLOB)
FROM tag_names WHERE tag_id > ? AND tag_id <= ? AND n > 0 AND n >= ? AND tag != ''
"""


def tag_stats_chunks(db: Database, minweight: int, hidden: list[str]) -> Iterator[bytes] | None:
    """GET /api/database/stats as a stream of JSON text (tags of archives, without the namespaces in
    `hidden`); None when a tankoubon has tags of its own, which only the Python path counts."""
    if db.query_one("SELECT 1 FROM tankoubons WHERE tags != '' LIMIT 1") is not None:
        return None
    exclude = f"AND ns NOT IN ({','.join('?' * len(hidden))})" if hidden else ""
    sql = _STATS_SQL + exclude

    def chunks() -> Iterator[bytes]:
        conn = db.conn
        conn.execute("BEGIN")  # one snapshot for every span
        try:
            top = conn.execute("SELECT MAX(tag_id) FROM tag_names").fetchone()[0] or 0
            yield b"["
            first = True
            for low in range(0, top, _STATS_SPAN):
                text = conn.execute(sql, [low, low + _STATS_SPAN, minweight, *hidden]).fetchone()[0]
                if text:
                    yield text if first else b"," + text
                    first = False
            yield b"]"
        finally:
            conn.execute("COMMIT")

    return chunks()


def json_for_ids(db: Database, ids: list[str]) -> list[dict[str, Any]]:
    """Archive (or tankoubon) JSON objects in the order given; IDs whose file is gone are skipped."""
    archive_ids = [i for i in ids if not i.startswith("TANK_")]
    rows: dict[str, sqlite3.Row] = {}
    tocs: dict[str, list[dict[str, Any]]] = {}
    for chunk in (archive_ids[i:i + 500] for i in range(0, len(archive_ids), 500)):
        marks = ",".join("?" * len(chunk))
        for r in db.query(f"SELECT {ARCHIVE_COLUMNS} FROM archives WHERE id IN ({marks}) AND path != ''", chunk):
            rows[r["id"]] = r
        for r in db.query(f"SELECT archive_id, page, name FROM toc WHERE archive_id IN ({marks}) "
                          "ORDER BY archive_id, page", chunk):
            tocs.setdefault(r["archive_id"], []).append({"page": r["page"], "name": r["name"]})
    out = []
    for i in ids:
        if i.startswith("TANK_"):
            tank = tank_json(db, i)
            if tank is not None:
                out.append(tank)
        elif i in rows:
            out.append(archive_json(rows[i], tocs.get(i, [])))
    return out


def unified_tank_tags(own: str, member_tags: list[str]) -> list[str]:
    """SEMANTICS §8: own tags, then members' tags deduplicated case-insensitively; member date tags
    collapse to their maximum and are dropped when the tank has its own of that namespace."""
    out = split_tags(own)
    seen = {t.lower() for t in out}
    own_ns = {t.split(":", 1)[0].strip().lower() for t in out if ":" in t}
    dates: dict[str, tuple[int, str]] = {}
    for raw in member_tags:
        for tag in split_tags(raw):
            ns, sep, value = tag.partition(":")
            key = ns.strip().lower()
            if sep and key in ("date_added", "timestamp"):
                if key not in own_ns and value.strip().isdigit():
                    if key not in dates or int(value.strip()) > dates[key][0]:
                        dates[key] = (int(value.strip()), tag)
                continue
            if tag.lower() not in seen:
                seen.add(tag.lower())
                out.append(tag)
    return out + [tag for _, tag in dates.values()]


def tank_json(db: Database, tank_id: str) -> dict[str, Any] | None:
    """A tankoubon as a row of grouped search results (SEMANTICS §3)."""
    tank = db.query_one("SELECT id, name, summary, tags, progress FROM tankoubons WHERE id=?", (tank_id,))
    if tank is None:
        return None
    members = db.query(
        "SELECT a.title, a.filename, a.tags, a.isnew, a.pagecount, a.size, a.lastreadtime FROM tank_archives t "
        "JOIN archives a ON a.id = t.archive_id WHERE t.tank_id = ? AND a.path != '' ORDER BY t.position",
        (tank_id,))
    return {
        "arcid": tank["id"],
        "archive_count": len(members),
        "extension": ".tank",
        "filename": "",
        "isnew": "true" if any(m["isnew"] for m in members) else "false",
        "lastreadtime": max((int(m["lastreadtime"]) for m in members), default=0),
        "pagecount": sum(int(m["pagecount"]) for m in members),
        "progress": int(tank["progress"]),
        "size": sum(int(m["size"]) for m in members),
        "summary": "Tankoubon containing: " + ",".join(m["title"] or m["filename"] for m in members),
        "tags": ",".join(unified_tank_tags(tank["tags"], [m["tags"] for m in members])),
        "title": tank["name"],
    }


def untagged_ids(db: Database) -> list[str]:
    return [r[0] for r in db.query("SELECT id FROM archives WHERE path != '' AND untagged = 1 AND id NOT IN "
                                   "(SELECT archive_id FROM tank_archives)")]


def page_list(db: Database, archive_id: str) -> list[str] | None:
    row = db.query_one("SELECT pages FROM archive_pages WHERE archive_id=?", (archive_id,))
    return json.loads(row["pages"]) if row else None


def has_page_list(db: Database, archive_id: str) -> bool:
    return db.query_one("SELECT 1 FROM archive_pages WHERE archive_id=?", (archive_id,)) is not None


def store_pages(conn: sqlite3.Connection, archive_id: str, pages: list[str]) -> None:
    conn.execute("INSERT INTO archive_pages(archive_id, pages) VALUES (?, ?) "
                 "ON CONFLICT(archive_id) DO UPDATE SET pages=excluded.pages",
                 (archive_id, json.dumps(pages, ensure_ascii=False)))
    conn.execute("UPDATE archives SET pagecount=? WHERE id=?", (len(pages), archive_id))


def write_tags(conn: sqlite3.Connection, archive_id: str, raw: str) -> None:
    """Store the raw tag string and refresh everything derived from it (tag index, sort values, untagged)."""
    row = conn.execute("SELECT num, tags, title_lc FROM archives WHERE id=?", (archive_id,)).fetchone()
    if row is None:
        return
    num, old_raw = row[0], row[1]
    conn.execute("UPDATE archives SET tags=?, untagged=? WHERE num=?", (raw, int(is_untagged(raw)), num))
    old = {r[0]: r[1] for r in conn.execute(
        "SELECT t.tag, t.tag_id FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id WHERE x.num=?", (num,))}
    new = index_keys(raw)
    # Only the difference is written: the count triggers then do the least work.
    conn.executemany("DELETE FROM archive_tags WHERE tag_id=? AND num=?", [(old[t], num) for t in old.keys() - new])
    for tag in new - old.keys():
        ns, sep, text = tag.partition(":")
        conn.execute("INSERT OR IGNORE INTO tag_names(tag, ns, text) VALUES (?, ?, ?)",
                     (tag, ns, text) if sep else (tag, "", tag))
        conn.execute("INSERT OR IGNORE INTO archive_tags(tag_id, num) SELECT tag_id, ? FROM tag_names WHERE tag=?",
                     (num, tag))
    if new != old.keys():
        # the searchable text (schema 17): the title as searched, then the index tags (the order is free:
        # it is only tested for a word); the title's trigger builds it from the stored tags the same way
        conn.execute("INSERT OR REPLACE INTO search_text(num, text) VALUES (?, ?)",
                     (num, "\n".join([row[2], *sorted(new)])))
    # Sort values too: only namespaces whose value changed (an edit usually touches one or two tags).
    before, after = namespace_values(old_raw), namespace_values(raw)
    conn.executemany("DELETE FROM ns_values WHERE ns=? AND num=?",
                     [(ns, num) for ns in before if ns not in after])
    conn.executemany("INSERT OR REPLACE INTO ns_values(ns, num, value_key) VALUES (?, ?, ?)",
                     [(ns, num, natural_key(value)) for ns, value in after.items() if before.get(ns) != value])


def title_fields(title: str) -> tuple[str, str, str]:
    """A title with the lowercased form search globs and the natural-order sort key."""
    lowered = title.strip().lower()
    return title, lowered, natural_key(lowered)


def write_title(conn: sqlite3.Connection, archive_id: str, title: str) -> None:
    """Store a title with the lowercased form search globs and the natural-order sort key."""
    conn.execute("UPDATE archives SET title=?, title_lc=?, sort_key=? WHERE id=?", (*title_fields(title), archive_id))


def update_metadata(db: Database, archive_id: str, title: str | None, tags: str | None,
                    summary: str | None) -> str:
    """PUT …/metadata: empty title = unchanged, tags "" clears; needs title or tags. Returns the title."""
    row = require_row(db, archive_id)
    if title is None and tags is None:
        raise Invalid("No metadata parameters (Please supply title, tags or summary)")
    with db.write() as conn:
        if title:
            write_title(conn, archive_id, _one_line(title).strip())
        if tags is not None:
            write_tags(conn, archive_id, normalize_tags(tags))
        if summary is not None:
            conn.execute("UPDATE archives SET summary=? WHERE id=?", (summary, archive_id))
    return _one_line(title).strip() if title else (row["title"] or row["filename"])


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


def set_isnew(db: Database, archive_id: str, isnew: bool) -> sqlite3.Row:
    row = require_row(db, archive_id)
    with db.write() as conn:
        conn.execute("UPDATE archives SET isnew=? WHERE id=?", (1 if isnew else 0, archive_id))
    return row


def update_progress(db: Database, archive_id: str, page: int, *, force: bool, when: int | None = None) -> int:
    """Store progress and lastreadtime (now, or `when`: an import keeps the old server's time); returns the
    lastreadtime written. Caller checked the settings."""
    row = require_row(db, archive_id)
    if not force:
        if not row["pagecount"]:
            raise Invalid("Archive doesn't have a total page count recorded yet.")
        if not 0 < page <= row["pagecount"]:
            raise Invalid("Invalid progress value.")
    now = int(time.time()) if when is None else when
    with db.write() as conn:
        conn.execute("UPDATE archives SET progress=?, lastreadtime=? WHERE id=?", (page, now, archive_id))
    return now


CONTINUE_WINDOW = 1000  # how many of the latest reads the shelf looks through


def continue_reading_ids(db: Database, limit: int = 12) -> list[str]:
    """Archives started and not finished (0 < progress < pagecount), the last read first: the library's
    "Continue reading" shelf. SQLite walks the archives_read index newest first (a started archive always has
    a read time) through the latest CONTINUE_WINDOW reads only: a library read to the end everywhere would
    otherwise be walked whole on every visit to the library (~60 ms at 100k, scripts/bench_shelf.py), and an
    archive left behind 1,000 reads ago is no longer "continue reading"."""
    return [r["id"] for r in db.query(
        "SELECT id FROM (SELECT id, progress, pagecount, lastreadtime, num FROM archives "
        "WHERE path != '' AND lastreadtime > 0 ORDER BY lastreadtime DESC, num DESC LIMIT ?) "
        "WHERE progress > 0 AND progress < pagecount ORDER BY lastreadtime DESC, num DESC LIMIT ?",
        (CONTINUE_WINDOW, limit))]


def add_toc(db: Database, archive_id: str, page: int, title: str) -> None:
    require_row(db, archive_id)
    with db.write() as conn:
        conn.execute("INSERT INTO toc(archive_id, page, name) VALUES (?, ?, ?) "
                     "ON CONFLICT(archive_id, page) DO UPDATE SET name=excluded.name", (archive_id, page, title))


def remove_toc(db: Database, archive_id: str, page: int) -> None:
    require_row(db, archive_id)
    with db.write() as conn:
        conn.execute("DELETE FROM toc WHERE archive_id=? AND page=?", (archive_id, page))


def category_ids_of(db: Database, archive_id: str) -> list[str]:
    return [r["category_id"] for r in
            db.query("SELECT category_id FROM category_archives WHERE archive_id=?", (archive_id,))]


def categories_of(db: Database, archive_id: str) -> list[dict[str, Any]]:
    out = []
    for cat_id in category_ids_of(db, archive_id):
        cat = db.query_one("SELECT id, name, search, pinned FROM categories WHERE id=?", (cat_id,))
        if cat is None:
            continue
        members = [r["archive_id"] for r in db.query(
            "SELECT archive_id FROM category_archives WHERE category_id=? ORDER BY position", (cat_id,))]
        out.append({"archives": members, "id": cat["id"], "name": cat["name"],
                    "pinned": str(cat["pinned"]), "search": cat["search"]})
    return out


def tankoubons_of(db: Database, archive_id: str) -> list[str]:
    return [r["tank_id"] for r in
            db.query("SELECT tank_id FROM tank_archives WHERE archive_id=? ORDER BY tank_id", (archive_id,))]


def delete_rows(db: Database, archive_ids: Iterable[str]) -> None:
    """Forget archives everywhere (tags, pages, toc, stamps, tanks cascade; categories by hand)."""
    ids = list(archive_ids)
    with db.write() as conn:
        for archive_id in ids:
            conn.execute("DELETE FROM category_archives WHERE archive_id=?", (archive_id,))
            conn.execute("DELETE FROM files WHERE archive_id=?", (archive_id,))
            conn.execute("DELETE FROM archives WHERE id=?", (archive_id,))
