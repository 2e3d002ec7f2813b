"""Archive records: reading them as LANraragi's JSON and the small writes clients make.

Plain functions over the database; the HTTP layer and the CLI both call these.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from .db import Database
from .errors import ApiError
from .tags import index_keys, is_untagged, normalize_tags

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


def require_row(db: Database, archive_id: str, operation: str) -> sqlite3.Row:
    """The archive's row if its file is present, else LANraragi's doesn't-exist error."""
    row = get_row(db, archive_id)
    if row is None or not row["path"]:
        raise ApiError(operation, NO_SUCH_ID)
    return row


def toc_of(db: Database, archive_id: str) -> list[dict[str, Any]]:
    return [{"page": r["page"], "name": r["name"]}
            for r in db.query("SELECT page, name FROM toc WHERE archive_id=? ORDER BY page", (archive_id,))]


def get_json(db: Database, archive_id: str, operation: str = "metadata") -> dict[str, Any]:
    row = require_row(db, archive_id, operation)
    return archive_json(row, toc_of(db, archive_id))


def all_json(db: Database) -> list[dict[str, Any]]:
    """Every archive whose file is present (tank members included)."""
    tocs: dict[str, list[dict[str, Any]]] = {}
    for r in db.query("SELECT archive_id, page, name FROM toc ORDER BY archive_id, page"):
        tocs.setdefault(r["archive_id"], []).append({"page": r["page"], "name": r["name"]})
    rows = db.conn.execute(f"SELECT {ARCHIVE_COLUMNS} FROM archives WHERE path != ''")
    return [archive_json(r, tocs.get(r["id"])) for r in rows]


def untagged_ids(db: Database) -> list[str]:
    rows = db.conn.execute("SELECT id, tags FROM archives WHERE path != ''")
    return [r["id"] for r in rows if is_untagged(r["tags"])]


def page_list(db: Database, archive_id: str) -> list[str] | None:
    row = db.query_one("SELECT pages FROM archive_pages WHERE archive_id=?", (archive_id,))
    return json.loads(row["pages"]) if row else None


def store_pages(conn: sqlite3.Connection, archive_id: str, pages: list[str]) -> None:
    conn.execute("INSERT INTO archive_pages(archive_id, pages) VALUES (?, ?) "
                 "ON CONFLICT(archive_id) DO UPDATE SET pages=excluded.pages",
                 (archive_id, json.dumps(pages, ensure_ascii=False)))
    conn.execute("UPDATE archives SET pagecount=? WHERE id=?", (len(pages), archive_id))


def write_tags(conn: sqlite3.Connection, archive_id: str, raw: str) -> None:
    """Store the raw tag string and refresh its index rows."""
    conn.execute("UPDATE archives SET tags=? WHERE id=?", (raw, archive_id))
    conn.execute("DELETE FROM tags WHERE archive_id=?", (archive_id,))
    conn.executemany("INSERT OR IGNORE INTO tags(archive_id, tag) VALUES (?, ?)",
                     [(archive_id, key) for key in index_keys(raw)])


def update_metadata(db: Database, archive_id: str, title: str | None, tags: str | None,
                    summary: str | None) -> str:
    """PUT …/metadata: empty title = unchanged, tags "" clears; needs title or tags. Returns the title."""
    operation = "update_metadata"
    row = require_row(db, archive_id, operation)
    if title is None and tags is None:
        raise ApiError(operation, "No metadata parameters (Please supply title, tags or summary)")
    with db.write() as conn:
        if title:
            conn.execute("UPDATE archives SET title=? WHERE id=?", (_one_line(title).strip(), archive_id))
        if tags is not None:
            write_tags(conn, archive_id, normalize_tags(tags))
        if summary is not None:
            conn.execute("UPDATE archives SET summary=? WHERE id=?", (summary, archive_id))
    return _one_line(title).strip() if title else (row["title"] or row["filename"])


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


def set_isnew(db: Database, archive_id: str, isnew: bool, operation: str) -> sqlite3.Row:
    row = require_row(db, archive_id, operation)
    with db.write() as conn:
        conn.execute("UPDATE archives SET isnew=? WHERE id=?", (1 if isnew else 0, archive_id))
    return row


def update_progress(db: Database, archive_id: str, page: int, *, force: bool) -> int:
    """Store progress and lastreadtime; returns the lastreadtime written. Caller checked the settings."""
    operation = "update_progress"
    row = require_row(db, archive_id, operation)
    if not force:
        if not row["pagecount"]:
            raise ApiError(operation, "Archive doesn't have a total page count recorded yet.")
        if not 0 < page <= row["pagecount"]:
            raise ApiError(operation, "Invalid progress value.")
    now = int(time.time())
    with db.write() as conn:
        conn.execute("UPDATE archives SET progress=?, lastreadtime=? WHERE id=?", (page, now, archive_id))
    return now


def add_toc(db: Database, archive_id: str, page: int, title: str) -> None:
    require_row(db, archive_id, "update_toc")
    with db.write() as conn:
        conn.execute("INSERT INTO toc(archive_id, page, name) VALUES (?, ?, ?) "
                     "ON CONFLICT(archive_id, page) DO UPDATE SET name=excluded.name", (archive_id, page, title))


def remove_toc(db: Database, archive_id: str, page: int) -> None:
    require_row(db, archive_id, "remove_toc")
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
