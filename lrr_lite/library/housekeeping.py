"""Whole-database operations: tag statistics, clearing new flags, clean and drop (SEMANTICS §4, §13)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from lrr_lite.library import backup, records
from lrr_lite.library.tags import index_keys
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

log = logging.getLogger(__name__)


def tag_stats_json(db: Database, settings: Settings, minweight: int = 1, hide_excluded: bool = False) -> str:
    """tag_stats() as JSON text, built by SQLite when no tankoubon has tags of its own (the usual case):
    a 100k library has ~100k distinct tags (every date_added is one), too many for a dict each."""
    if db.query_one("SELECT 1 FROM tankoubons WHERE tags != '' LIMIT 1") is not None:
        return json.dumps(tag_stats(db, settings, minweight, hide_excluded), ensure_ascii=False)
    hidden = sorted({ns.lower() for ns in settings.excluded_namespaces}) if hide_excluded else []
    exclude = f"AND ns NOT IN ({','.join('?' * len(hidden))})" if hidden else ""
    row = db.row(
        "SELECT json_group_array(json_object('namespace', ns, 'text', text, 'weight', n)) FROM tag_names "
        f"WHERE n > 0 AND n >= ? AND tag != '' {exclude}", [minweight, *hidden])
    return row[0] or "[]"


def tag_stats(db: Database, settings: Settings, minweight: int = 1, hide_excluded: bool = False) -> list[dict[str, Any]]:
    """One entry per distinct lowercased tag: archives carrying it plus tankoubons whose own tags do."""
    weights = {r[0]: r[1] for r in db.query("SELECT tag, n FROM tag_names WHERE n > 0")}
    for row in db.query("SELECT tags FROM tankoubons"):
        for key in index_keys(row[0]):
            weights[key] = weights.get(key, 0) + 1
    hidden = {ns.lower() for ns in settings.excluded_namespaces} if hide_excluded else set()
    out = []
    for tag, weight in weights.items():
        if weight < minweight or not tag:
            continue
        namespace, sep, text = tag.partition(":")
        if not sep:
            namespace, text = "", tag
        if namespace in hidden:
            continue
        out.append({"namespace": namespace, "text": text, "weight": weight})
    return out


def clear_new_all(db: Database, settings: Settings) -> None:
    with db.write() as conn:
        conn.execute("UPDATE archives SET isnew = 0 WHERE isnew = 1")
    settings.touch_cache()


def clean_database(db: Database, settings: Settings, backups_dir: Path) -> dict[str, int]:
    """Delete records whose file is gone (after writing a backup, so a mistake is recoverable)."""
    backup.write_backup_file(db, backups_dir, backup.backup_name(prefix="autobackup"))
    gone = [r["id"] for r in db.query("SELECT id, path FROM archives") if not r["path"] or not Path(r["path"]).exists()]
    records.delete_rows(db, gone)
    log.info("clean: deleted %d records whose file is missing", len(gone))
    settings.touch_cache()
    return {"deleted": len(gone), "unlinked": 0}


def drop_database(db: Database, settings: Settings, backups_dir: Path, pinned_api_key: str | None) -> None:
    """Wipe every record and setting in one transaction; files on disk are untouched."""
    backup.write_backup_file(db, backups_dir, backup.backup_name(prefix="predrop"))
    with db.write() as conn:
        for table in ("stamps", "tank_archives", "tankoubons", "category_archives", "categories", "toc",
                      "archive_pages", "ns_values", "archive_tags", "tag_names", "files", "bad_files", "archives",
                      "settings"):
            conn.execute(f"DELETE FROM {table}")
    settings.reload()
    settings.touch_cache()
    if pinned_api_key is not None:
        settings.set("apikey", pinned_api_key)


LEFTOVER_PATTERNS = ("upload-*", "download-*", "restore-*.json")


def remove_crash_leftovers(db: Database, temp: Path) -> int:
    """At start-up: staging folders of uploads and downloads and restore files that a killed process left in
    the temp folder. A restore file still named by a queued job is kept: that job runs after the start."""
    wanted: set[str] = set()
    for row in db.query("SELECT args FROM jobs WHERE task='restore_backup' AND state='inactive'"):
        try:
            wanted.update(str(a) for a in json.loads(row["args"]))
        except ValueError:
            continue
    removed = 0
    for pattern in LEFTOVER_PATTERNS:
        for path in temp.glob(pattern):
            if str(path) in wanted:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("start-up: removed %d file(s) left in %s by an interrupted upload, download or restore",
                 removed, temp)
    return removed
