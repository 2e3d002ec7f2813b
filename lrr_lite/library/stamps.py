"""Stamps: text notes pinned to a page of an archive (SEMANTICS §18)."""

from __future__ import annotations

import time
from typing import Any

from lrr_lite.errors import Invalid, NotFound
from lrr_lite.library import records
from lrr_lite.storage.db import Database

NO_SUCH_STAMP = "The given stamp does not exist."


def stamped_pages(db: Database, archive_id: str) -> list[str]:
    records.require_row(db, archive_id)
    return [str(r[0]) for r in db.query("SELECT DISTINCT page FROM stamps WHERE archive_id=? ORDER BY page",
                                        (archive_id,))]


def stamps_on_page(db: Database, archive_id: str, page: int) -> list[dict[str, Any]]:
    records.require_row(db, archive_id)
    return [{"id": r["id"], "content": r["content"], "position": r["position"]} for r in db.query(
        "SELECT id, content, position FROM stamps WHERE archive_id=? AND page=? ORDER BY id", (archive_id, page))]


def add_stamp(db: Database, archive_id: str, page: int, content: str, position: str) -> str:
    """New stamp `STAMPS_<page>_<epoch ms>` (the next free millisecond if two arrive at once)."""
    row = records.require_row(db, archive_id)
    if not 0 < page <= row["pagecount"]:
        raise Invalid(f"Page {page} out of range.")
    with db.write() as conn:
        stamp_ms = int(time.time() * 1000)
        while conn.execute("SELECT 1 FROM stamps WHERE id=?", (f"STAMPS_{page}_{stamp_ms}",)).fetchone():
            stamp_ms += 1
        stamp_id = f"STAMPS_{page}_{stamp_ms}"
        conn.execute("INSERT INTO stamps(id, archive_id, page, content, position) VALUES (?, ?, ?, ?, ?)",
                     (stamp_id, archive_id, page, content, position or "0,0"))
    return stamp_id


def get_stamp(db: Database, stamp_id: str) -> dict[str, Any]:
    row = db.query_one("SELECT id, content, position FROM stamps WHERE id=?", (stamp_id,))
    if row is None:
        raise NotFound(NO_SUCH_STAMP)
    return {"id": row["id"], "content": row["content"], "position": row["position"]}


def update_stamp(db: Database, stamp_id: str, content: str | None, position: str | None) -> None:
    get_stamp(db, stamp_id)
    with db.write() as conn:
        if content is not None:
            conn.execute("UPDATE stamps SET content=? WHERE id=?", (content, stamp_id))
        if position:
            conn.execute("UPDATE stamps SET position=? WHERE id=?", (position, stamp_id))


def delete_stamp(db: Database, stamp_id: str) -> None:
    get_stamp(db, stamp_id)
    with db.write() as conn:
        conn.execute("DELETE FROM stamps WHERE id=?", (stamp_id,))
