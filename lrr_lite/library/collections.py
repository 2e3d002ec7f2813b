"""Categories and tankoubons (SEMANTICS §7, §8): plain functions over the database.

The HTTP layer (api/categories.py, api/tankoubons.py) shapes replies; everything here raises the domain
errors of errors.py with LANraragi's messages.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrr_lite.errors import Invalid, NotFound
from lrr_lite.library import records
from lrr_lite.library.locks import Locks
from lrr_lite.library.tags import normalize_tags
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

BOOKMARK_KEY = "bookmark_link"             # settings-table row: ID of the bookmark-linked category
FAVORITES_MARKER = "favorites_created"     # settings-table row: the first-start category was made once
FAVORITES_NAME = "🔖 Favorites"
CATEGORY_ID = re.compile(r"SET_\d{10}")
NO_SUCH_CATEGORY = "The given category does not exist."
NO_SUCH_TANK = "The given tankoubon does not exist."


def tank_cover_path(thumb_dir: Path, tank_id: str) -> Path:
    return thumb_dir / "TA" / f"{tank_id}.jpg"


def _new_id(conn: sqlite3.Connection, prefix: str, table: str) -> str:
    """`<prefix><epoch>`, moved 1 s later while taken; called inside the write transaction that inserts it."""
    stamp = int(time.time())
    while conn.execute(f"SELECT 1 FROM {table} WHERE id=?", (f"{prefix}{stamp}",)).fetchone():
        stamp += 1
    return f"{prefix}{stamp}"


def _member_title(conn: sqlite3.Connection, member_id: str) -> str | None:
    """Display title of an archive or a tank, or None when the ID is unknown."""
    if member_id.startswith("TANK_"):
        row = conn.execute("SELECT name FROM tankoubons WHERE id=?", (member_id,)).fetchone()
        return None if row is None else row["name"]
    row = conn.execute("SELECT title, filename FROM archives WHERE id=?", (member_id,)).fetchone()
    return None if row is None else (row["title"] or row["filename"])


# -- categories ------------------------------------------------------------------------------------------------

def category_json(db: Database, row: sqlite3.Row) -> dict[str, Any]:
    """`pinned` as the strings "0"/"1" (§7 Do line); dynamic categories always list no archives."""
    members: list[str] = []
    if not row["search"]:
        members = [r["archive_id"] for r in db.query(
            "SELECT archive_id FROM category_archives WHERE category_id=? ORDER BY position", (row["id"],))]
    return {"archives": members, "id": row["id"], "name": row["name"],
            "pinned": "1" if row["pinned"] else "0", "search": row["search"]}


def list_categories(db: Database) -> list[dict[str, Any]]:
    return [category_json(db, row) for row in db.query("SELECT id, name, search, pinned FROM categories ORDER BY id")]


def get_category(db: Database, category_id: str) -> dict[str, Any]:
    row = db.query_one("SELECT id, name, search, pinned FROM categories WHERE id=?", (category_id,))
    if row is None:
        raise NotFound(NO_SUCH_CATEGORY)
    return category_json(db, row)


def create_category(db: Database, name: str | None, search: str | None = "", pinned: bool = False) -> str:
    if not name:
        raise Invalid("Category name not specified.")
    with db.write() as conn:
        category_id = _new_id(conn, "SET_", "categories")
        conn.execute("INSERT INTO categories(id, name, search, pinned) VALUES (?, ?, ?, ?)",
                     (category_id, name, search or "", 1 if pinned else 0))
    return category_id


def update_category(db: Database, category_id: str, name: str | None, search: str | None, pinned: bool) -> None:
    """Empty name/search keep their old values (a predicate cannot be removed); pinned resets unless given."""
    with db.write() as conn:
        row = conn.execute("SELECT name, search FROM categories WHERE id=?", (category_id,)).fetchone()
        if row is None:
            raise NotFound(NO_SUCH_CATEGORY)
        conn.execute("UPDATE categories SET name=?, search=?, pinned=? WHERE id=?",
                     (name or row["name"], search or row["search"], 1 if pinned else 0, category_id))


def delete_category(db: Database, category_id: str) -> None:
    """Deleting a missing category succeeds too; archives are never touched; the bookmark link goes with it."""
    with db.write() as conn:
        conn.execute("DELETE FROM category_archives WHERE category_id=?", (category_id,))
        conn.execute("DELETE FROM categories WHERE id=?", (category_id,))
        conn.execute("DELETE FROM settings WHERE key=? AND value=?", (BOOKMARK_KEY, category_id))


def _static_category(conn: sqlite3.Connection, category_id: str, member_id: str) -> sqlite3.Row:
    cat = conn.execute("SELECT id, name, search FROM categories WHERE id=?", (category_id,)).fetchone()
    if cat is None:
        raise NotFound(f"{category_id} doesn't exist in the database!")
    if cat["search"]:
        raise Invalid(f"{category_id} is a favorite search/dynamic category, can't add archives to it.")
    if _member_title(conn, member_id) is None:
        raise NotFound(f"{member_id} does not exist in the database.")
    return cat


def add_to_category(db: Database, category_id: str, member_id: str) -> str:
    """Append an archive or tank ID (re-adding is a no-op success). Returns the success message."""
    with db.write() as conn:
        cat = _static_category(conn, category_id, member_id)
        conn.execute("INSERT OR IGNORE INTO category_archives(category_id, archive_id, position) "
                     "SELECT ?, ?, COALESCE(MAX(position), 0) + 1 FROM category_archives WHERE category_id=?",
                     (category_id, member_id, category_id))
        title = _member_title(conn, member_id)
    return f'Added "{title}" to category "{cat["name"]}"!'


def remove_from_category(db: Database, category_id: str, member_id: str) -> str:
    with db.write() as conn:
        cat = _static_category(conn, category_id, member_id)
        conn.execute("DELETE FROM category_archives WHERE category_id=? AND archive_id=?", (category_id, member_id))
        title = _member_title(conn, member_id)
    return f'Removed "{title}" from category "{cat["name"]}"!'


def get_bookmark_link(db: Database) -> str:
    """The linked category's ID, or "" when none is linked (or the linked one is gone)."""
    row = db.query_one("SELECT s.value FROM settings s JOIN categories c ON c.id = s.value WHERE s.key=?",
                       (BOOKMARK_KEY,))
    return row["value"] if row else ""


def set_bookmark_link(db: Database, category_id: str) -> None:
    if not CATEGORY_ID.fullmatch(category_id):
        raise Invalid("Input category ID is invalid.", category_id=category_id)
    with db.write() as conn:
        cat = conn.execute("SELECT search FROM categories WHERE id=?", (category_id,)).fetchone()
        if cat is None:
            raise NotFound("Category does not exist!", category_id=category_id)
        if cat["search"]:
            raise Invalid("Cannot link bookmark to a dynamic category.", category_id=category_id)
        _set_setting(conn, BOOKMARK_KEY, category_id)


def remove_bookmark_link(db: Database) -> str:
    """Unlink; returns the previously linked ID or ""."""
    with db.write() as conn:
        row = conn.execute("SELECT value FROM settings WHERE key=?", (BOOKMARK_KEY,)).fetchone()
        conn.execute("DELETE FROM settings WHERE key=?", (BOOKMARK_KEY,))
    return row["value"] if row else ""


def _set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                 (key, value))


def ensure_default_favorites(db: Database) -> str | None:
    """First start (§7): a static `🔖 Favorites`, linked to the bookmark button. Made at most once ever, and
    only into an empty categories table, so deleting it sticks. Returns the new ID, or None if nothing was made."""
    with db.write() as conn:
        if conn.execute("SELECT 1 FROM settings WHERE key=?", (FAVORITES_MARKER,)).fetchone():
            return None
        created = None
        if not conn.execute("SELECT 1 FROM categories LIMIT 1").fetchone():
            created = _new_id(conn, "SET_", "categories")
            conn.execute("INSERT INTO categories(id, name, search, pinned) VALUES (?, ?, '', 0)",
                         (created, FAVORITES_NAME))
            _set_setting(conn, BOOKMARK_KEY, created)
        _set_setting(conn, FAVORITES_MARKER, "1")
    return created


# -- tankoubons ------------------------------------------------------------------------------------------------

def _members(db: Database, tank_id: str) -> list[str]:
    return [r["archive_id"] for r in db.query(
        "SELECT archive_id FROM tank_archives WHERE tank_id=? ORDER BY position", (tank_id,))]


def _tank_object(row: sqlite3.Row, members: list[str]) -> dict[str, Any]:
    return {"archives": members, "id": row["id"], "name": row["name"], "progress": int(row["progress"]),
            "summary": row["summary"], "tags": row["tags"]}


def _page_slice(items: list[Any], page: int, size: int) -> list[Any]:
    if page < 0:
        return items
    return items[page * size:(page + 1) * size]


def list_tankoubons(db: Database, page: int, page_size: int) -> dict[str, Any]:
    """GET /api/tankoubons: sorted by ID (= creation), missing page = 0, negative = all."""
    rows = db.query("SELECT id, name, summary, tags, progress FROM tankoubons ORDER BY id")
    shown = _page_slice(rows, page, page_size)
    return {"filtered": len(shown), "result": [_tank_object(r, _members(db, r["id"])) for r in shown],
            "total": len(rows)}


def get_tankoubon(db: Database, tank_id: str, *, page: int, page_size: int, full_data: bool,
                  flat: bool = False) -> dict[str, Any]:
    """One tank as `{"result", "total", "filtered"}`: `result` is the tank with a page of its members
    (negative page = all), `total` counts every member, `filtered` the ones on this page. `full_data` adds
    the archive JSON of the page's members to `result`, in member order exactly (members whose file is gone
    are left out, §8). `flat` also puts the whole tank (`id`, `name`, `summary`, `tags`, `progress`, and
    `archives` = every member) at the top level, beside the wrapper: LANraragi 0.9.8's shape of
    GET /api/tankoubons/{id}, while older clients (the Mihon extension) still read `result`."""
    row = db.query_one("SELECT id, name, summary, tags, progress FROM tankoubons WHERE id=?", (tank_id,))
    if row is None:
        raise NotFound(NO_SUCH_TANK)
    members = _members(db, tank_id)
    shown = _page_slice(members, page, page_size)
    result = _tank_object(row, shown)
    if full_data:
        by_id = {arc["arcid"]: arc for arc in records.json_for_ids(db, shown)}
        result["full_data"] = [by_id[m] for m in shown if m in by_id]
    reply: dict[str, Any] = _tank_object(row, members) if flat else {}
    reply.update({"filtered": len(shown), "result": result, "total": len(members)})
    return reply


def create_tankoubon(db: Database, name: str | None, tank_id: str | None = None) -> str:
    """A new empty tank, or with `tank_id` a rename of that one. Returns the ID."""
    if not name:
        raise Invalid("Tankoubon name not specified.")
    with db.write() as conn:
        if tank_id:
            if conn.execute("UPDATE tankoubons SET name=? WHERE id=?", (name, tank_id)).rowcount == 0:
                raise NotFound(NO_SUCH_TANK)
            return tank_id
        new_id = _new_id(conn, "TANK_", "tankoubons")
        conn.execute("INSERT INTO tankoubons(id, name, summary, tags, progress) VALUES (?, ?, '', '', 0)",
                     (new_id, name))
    return new_id


def delete_tankoubon(db: Database, tank_id: str) -> None:
    """Members stay in the library; a missing tank is a success, as in LANraragi. Categories forget it."""
    with db.write() as conn:
        conn.execute("DELETE FROM tank_archives WHERE tank_id=?", (tank_id,))
        conn.execute("DELETE FROM category_archives WHERE archive_id=?", (tank_id,))
        conn.execute("DELETE FROM tankoubons WHERE id=?", (tank_id,))


def _require_tank(conn: sqlite3.Connection, tank_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT id, name, tags FROM tankoubons WHERE id=?", (tank_id,)).fetchone()
    if row is None:
        raise NotFound(f"{tank_id} doesn't exist in the database!")
    return row


def _require_archive(conn: sqlite3.Connection, archive_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT title, filename FROM archives WHERE id=?", (archive_id,)).fetchone()
    if row is None:
        raise NotFound(f"{archive_id} does not exist in the database.")
    return row


def parse_tank_update(body: Any) -> tuple[list[str] | None, dict[str, Any] | None]:
    """Validate the JSON body of PUT /api/tankoubons/{id}: `archives` a list of IDs, `metadata` an object of
    strings (plus boolean-ish `append`). Raises Invalid on anything else."""
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    archives = body.get("archives")
    if archives is not None and not (isinstance(archives, list) and all(isinstance(a, str) for a in archives)):
        raise Invalid("archives must be an array of archive IDs.")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise Invalid("metadata must be an object.")
        for key in ("name", "summary", "tags"):
            if key in metadata and metadata[key] is not None and not isinstance(metadata[key], str):
                raise Invalid(f"metadata.{key} must be a string.")
    return archives, metadata


def update_tankoubon(db: Database, tank_id: str, archives: list[str] | None,
                     metadata: dict[str, Any] | None) -> str:
    """Replace the member list and/or the metadata, all or nothing. Returns the success message."""
    with db.write() as conn:
        tank = _require_tank(conn, tank_id)
        if archives is not None:
            order = list(dict.fromkeys(archives))  # a member appears once, at its first position
            for archive_id in order:
                _require_archive(conn, archive_id)
            conn.execute("DELETE FROM tank_archives WHERE tank_id=?", (tank_id,))
            conn.executemany("INSERT INTO tank_archives(tank_id, archive_id, position) VALUES (?, ?, ?)",
                             [(tank_id, a, n) for n, a in enumerate(order, start=1)])
        name = tank["name"]
        if metadata:
            if metadata.get("name"):
                name = metadata["name"]
                conn.execute("UPDATE tankoubons SET name=? WHERE id=?", (name, tank_id))
            if metadata.get("summary") is not None:
                conn.execute("UPDATE tankoubons SET summary=? WHERE id=?", (metadata["summary"], tank_id))
            if metadata.get("tags") is not None:
                tags = metadata["tags"]
                append = metadata.get("append") not in (None, False, 0, "", "0", "false")
                if append and tank["tags"]:
                    tags = tank["tags"] + "," + tags if tags.strip() else tank["tags"]
                conn.execute("UPDATE tankoubons SET tags=? WHERE id=?", (normalize_tags(tags), tank_id))
    return f'Updated tankoubon "{name}"!'


def add_to_tankoubon(db: Database, tank_id: str, archive_id: str) -> str:
    """Append an archive (an existing member is a no-op success). Returns the success message."""
    with db.write() as conn:
        tank = _require_tank(conn, tank_id)
        arc = _require_archive(conn, archive_id)
        conn.execute("INSERT OR IGNORE INTO tank_archives(tank_id, archive_id, position) "
                     "SELECT ?, ?, COALESCE(MAX(position), 0) + 1 FROM tank_archives WHERE tank_id=?",
                     (tank_id, archive_id, tank_id))
    return f'Added "{arc["title"] or arc["filename"]}" to tankoubon "{tank["name"]}"!'


def remove_from_tankoubon(db: Database, tank_id: str, archive_id: str) -> str:
    """Remove an archive and close the gap in the positions behind it."""
    with db.write() as conn:
        tank = _require_tank(conn, tank_id)
        arc = _require_archive(conn, archive_id)
        row = conn.execute("SELECT position FROM tank_archives WHERE tank_id=? AND archive_id=?",
                           (tank_id, archive_id)).fetchone()
        if row is not None:
            conn.execute("DELETE FROM tank_archives WHERE tank_id=? AND archive_id=?", (tank_id, archive_id))
            conn.execute("UPDATE tank_archives SET position = position - 1 WHERE tank_id=? AND position > ?",
                         (tank_id, row["position"]))
    return f'Removed "{arc["title"] or arc["filename"]}" from tankoubon "{tank["name"]}"!'


def update_tank_progress(db: Database, tank_id: str, page: int) -> int:
    """Store the tank's own progress (a global page across its members; members untouched).
    Returns "now" for the reply's lastreadtime, which is not stored (§8). Caller checked the settings."""
    with db.write() as conn:
        if conn.execute("SELECT 1 FROM tankoubons WHERE id=?", (tank_id,)).fetchone() is None:
            raise NotFound(NO_SUCH_TANK)
        if page <= 0:
            raise Invalid("Invalid progress value.")
        conn.execute("UPDATE tankoubons SET progress=? WHERE id=?", (page, tank_id))
    return int(time.time())


# -- the service ------------------------------------------------------------------------------------------------

class Collections:
    """Writes to categories and tankoubons: each takes the resource's lock (writers of one category or tank
    take turns) and marks the search cache stale. Reads are the plain functions above."""

    def __init__(self, db: Database, settings: Settings, locks: Locks, *, thumbs: Path | None = None,
                 jobs: Any = None) -> None:
        """`thumbs` and `jobs` (a JobQueue): where tank covers live and who remakes them; optional for tools
        that only import."""
        self.db = db
        self.settings = settings
        self.locks = locks
        self.thumbs = thumbs
        self.jobs = jobs

    def _first_member(self, tank_id: str) -> str | None:
        row = self.db.query_one("SELECT archive_id FROM tank_archives WHERE tank_id = ? ORDER BY position LIMIT 1",
                                (tank_id,))
        return row[0] if row else None

    @contextmanager
    def _tank_write(self, tank_id: str) -> Iterator[None]:
        """A write to a tank's members: the default cover is the first member's first page, so a new first
        member means a new cover."""
        with self.locks.hold("tankoubon-write", tank_id):
            before = self._first_member(tank_id)
            yield
            after = self._first_member(tank_id)
            if after != before and self.thumbs is not None:
                tank_cover_path(self.thumbs, tank_id).unlink(missing_ok=True)
                if after is not None and self.jobs is not None:
                    self.jobs.enqueue("tank_thumbnail_task", [str(self.thumbs), tank_id])
        self.settings.touch_cache()

    def create_category(self, name: str | None, search: str | None, pinned: bool) -> str:
        category_id = create_category(self.db, name, search, pinned)
        self.settings.touch_cache()
        return category_id

    def update_category(self, category_id: str, name: str | None, search: str | None, pinned: bool) -> None:
        with self.locks.hold("category-write", category_id):
            update_category(self.db, category_id, name, search, pinned)
        self.settings.touch_cache()

    def delete_category(self, category_id: str) -> None:
        with self.locks.hold("category-write", category_id):
            delete_category(self.db, category_id)
        self.settings.touch_cache()

    def add_to_category(self, category_id: str, member_id: str) -> str:
        with self.locks.hold("category-write", category_id):
            message = add_to_category(self.db, category_id, member_id)
        self.settings.touch_cache()
        return message

    def remove_from_category(self, category_id: str, member_id: str) -> str:
        with self.locks.hold("category-write", category_id):
            message = remove_from_category(self.db, category_id, member_id)
        self.settings.touch_cache()
        return message

    def set_bookmark_link(self, category_id: str) -> None:
        set_bookmark_link(self.db, category_id)
        self.settings.touch_cache()

    def remove_bookmark_link(self) -> str:
        old = remove_bookmark_link(self.db)
        self.settings.touch_cache()
        return old

    def create_tankoubon(self, name: str | None, tank_id: str | None = None) -> str:
        if tank_id:
            with self.locks.hold("tankoubon-write", tank_id):
                new_id = create_tankoubon(self.db, name, tank_id)
        else:
            new_id = create_tankoubon(self.db, name)
        self.settings.touch_cache()
        return new_id

    def update_tankoubon(self, tank_id: str, archives: list[str] | None, metadata: dict[str, Any] | None) -> str:
        with self._tank_write(tank_id):
            return update_tankoubon(self.db, tank_id, archives, metadata)

    def delete_tankoubon(self, tank_id: str) -> None:
        with self.locks.hold("tankoubon-write", tank_id):
            delete_tankoubon(self.db, tank_id)
            if self.thumbs is not None:
                tank_cover_path(self.thumbs, tank_id).unlink(missing_ok=True)
        self.settings.touch_cache()

    def add_to_tankoubon(self, tank_id: str, archive_id: str) -> str:
        with self._tank_write(tank_id):
            return add_to_tankoubon(self.db, tank_id, archive_id)

    def remove_from_tankoubon(self, tank_id: str, archive_id: str) -> str:
        with self._tank_write(tank_id):
            return remove_from_tankoubon(self.db, tank_id, archive_id)

    def update_tank_progress(self, tank_id: str, page: int) -> int:
        with self.locks.hold("tankoubon-write", tank_id):
            when = update_tank_progress(self.db, tank_id, page)
        self.settings.touch_cache()
        return when
