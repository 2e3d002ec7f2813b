"""Database backups in LANraragi's JSON shape, and restoring them (ours or a real LANraragi's).

A restore runs in one transaction: it applies completely or not at all.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lrr_lite.library import records
from lrr_lite.library.tags import normalize_tags
from lrr_lite.storage.db import Database


def _line(text: Any) -> Any:
    return text.replace("\r", "").replace("\n", "") if isinstance(text, str) else text


def make_backup(db: Database, progress=None) -> dict[str, Any]:
    """Everything a user curated: metadata, categories, tankoubons, stamps (SEMANTICS §13)."""
    categories = []
    for cat in db.query("SELECT id, name, search FROM categories ORDER BY id"):
        members = [r[0] for r in db.query(
            "SELECT archive_id FROM category_archives WHERE category_id=? ORDER BY position", (cat["id"],))]
        categories.append({"catid": cat["id"], "name": _line(cat["name"]), "search": _line(cat["search"]),
                           "archives": members})
    tanks = []
    for tank in db.query("SELECT id, name, summary, tags FROM tankoubons ORDER BY id"):
        members = [r[0] for r in db.query(
            "SELECT archive_id FROM tank_archives WHERE tank_id=? ORDER BY position", (tank["id"],))]
        tanks.append({"tankid": tank["id"], "name": _line(tank["name"]), "summary": _line(tank["summary"]),
                      "tags": _line(tank["tags"]), "archives": members})
    stamps_by_archive: dict[str, list[str]] = {}
    stamps = []
    for st in db.query("SELECT id, archive_id, content, position FROM stamps ORDER BY archive_id, page, id"):
        stamps.append({"stamp_id": st["id"], "content": _line(st["content"]), "position": st["position"],
                       "archive_id": st["archive_id"]})
        stamps_by_archive.setdefault(st["archive_id"], []).append(st["id"])
    tocs: dict[str, list[dict[str, Any]]] = {}
    for t in db.query("SELECT archive_id, page, name FROM toc ORDER BY archive_id, page"):
        tocs.setdefault(t["archive_id"], []).append({"page": t["page"], "name": _line(t["name"])})
    archives = []
    rows = db.query("SELECT id, title, tags, summary, thumbhash, filename FROM archives ORDER BY id")
    for n, row in enumerate(rows, start=1):
        own = stamps_by_archive.get(row["id"])
        entry = {"arcid": row["id"], "title": _line(row["title"]), "tags": _line(row["tags"]),
                 "summary": _line(row["summary"]), "thumbhash": row["thumbhash"],
                 "filename": _line(row["filename"]), "stamps": json.dumps(own) if own else None}
        if row["id"] in tocs:  # our addition; LANraragi ignores keys it does not know
            entry["toc"] = tocs[row["id"]]
        archives.append(entry)
        if progress and n % 1000 == 0:
            progress(n, len(rows))
    backup: dict[str, Any] = {"categories": categories}
    if tanks:
        backup["tankoubons"] = tanks
    if stamps:
        backup["stamps"] = stamps
    backup["archives"] = archives
    return backup


def write_backup_file(db: Database, folder: Path, name: str, progress=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(json.dumps(make_backup(db, progress), ensure_ascii=False), encoding="utf-8")
    tmp.replace(dest)
    return dest


class BackupError(ValueError):
    """The file is not a backup we can restore."""


def _str(value: Any) -> str:
    return "" if value is None else _line(str(value))


def restore_backup(db: Database, data: Any) -> dict[str, int]:
    """Apply a backup to the archives that exist here; unknown IDs are ignored, nothing is deleted."""
    if not isinstance(data, dict) or not isinstance(data.get("archives", []), list):
        raise BackupError("Not a LANraragi backup: expected an object with an 'archives' list.")
    counts = {"archives": 0, "categories": 0, "tankoubons": 0, "stamps": 0}
    with db.write() as conn:
        existing = {r[0] for r in conn.execute("SELECT id FROM archives")}
        for arc in data.get("archives", []):
            if not isinstance(arc, dict) or arc.get("arcid") not in existing:
                continue
            archive_id = arc["arcid"]
            if arc.get("title"):
                records.write_title(conn, archive_id, _str(arc["title"]).strip())
            if "tags" in arc:
                records.write_tags(conn, archive_id, normalize_tags(_str(arc.get("tags"))))
            if "summary" in arc:
                conn.execute("UPDATE archives SET summary=? WHERE id=?", (_str(arc.get("summary")), archive_id))
            if isinstance(arc.get("thumbhash"), str) and arc["thumbhash"]:
                conn.execute("UPDATE archives SET thumbhash=? WHERE id=?", (arc["thumbhash"], archive_id))
            if isinstance(arc.get("toc"), list):
                conn.execute("DELETE FROM toc WHERE archive_id=?", (archive_id,))
                conn.executemany("INSERT OR REPLACE INTO toc(archive_id, page, name) VALUES (?, ?, ?)",
                                 [(archive_id, t["page"], _str(t.get("name"))) for t in arc["toc"]
                                  if isinstance(t, dict) and isinstance(t.get("page"), int)])
            counts["archives"] += 1
        for cat in data.get("categories", []) or []:
            if not isinstance(cat, dict) or not str(cat.get("catid", "")).startswith("SET_"):
                continue
            conn.execute("INSERT INTO categories(id, name, search, pinned) VALUES (?, ?, ?, 0) "
                         "ON CONFLICT(id) DO UPDATE SET name=excluded.name, search=excluded.search, pinned=0",
                         (cat["catid"], _str(cat.get("name")), _str(cat.get("search"))))
            conn.execute("DELETE FROM category_archives WHERE category_id=?", (cat["catid"],))
            members = [m for m in cat.get("archives") or [] if isinstance(m, str) and
                       (m in existing or m.startswith("TANK_"))]
            conn.executemany("INSERT OR IGNORE INTO category_archives(category_id, archive_id, position) "
                             "VALUES (?, ?, ?)", [(cat["catid"], m, i) for i, m in enumerate(members)])
            counts["categories"] += 1
        for tank in data.get("tankoubons", []) or []:
            if not isinstance(tank, dict) or not str(tank.get("tankid", "")).startswith("TANK_"):
                continue
            conn.execute("INSERT INTO tankoubons(id, name, summary, tags) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET name=excluded.name, summary=excluded.summary, "
                         "tags=excluded.tags", (tank["tankid"], _str(tank.get("name")), _str(tank.get("summary")),
                                                normalize_tags(_str(tank.get("tags")))))
            conn.execute("DELETE FROM tank_archives WHERE tank_id=?", (tank["tankid"],))
            members = [m for m in tank.get("archives") or [] if isinstance(m, str)]
            # LANraragi: one missing member leaves the whole list empty
            if all(m in existing for m in members):
                conn.executemany("INSERT OR IGNORE INTO tank_archives(tank_id, archive_id, position) VALUES (?, ?, ?)",
                                 [(tank["tankid"], m, i) for i, m in enumerate(members)])
            counts["tankoubons"] += 1
        for st in data.get("stamps", []) or []:
            if not isinstance(st, dict) or st.get("archive_id") not in existing:
                continue
            stamp_id = _str(st.get("stamp_id"))
            parts = stamp_id.split("_")
            page = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
            conn.execute("INSERT OR REPLACE INTO stamps(id, archive_id, page, content, position) VALUES (?, ?, ?, ?, ?)",
                         (stamp_id, st["archive_id"], page, _str(st.get("content")), _str(st.get("position")) or "0,0"))
            counts["stamps"] += 1
    return counts


def backup_name(job_id: int | None = None, prefix: str = "backup") -> str:
    return f"{prefix}_{job_id}.json" if job_id is not None else f"{prefix}_{int(time.time())}.json"
