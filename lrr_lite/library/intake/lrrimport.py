"""`lrr-lite import-lanraragi`: take a running LANraragi's curated state onto the same archives here.

LANraragi and lrr_lite compute the same ID from the same file, so an archive of the old server is "the same"
here when its ID is. For each such archive: title, tags, summary, `isnew`, progress and `lastreadtime`, TOC,
stamps and a chosen cover page; then tankoubons (members in order, metadata, progress), categories (static
with their members, dynamic, `pinned`) and the bookmark link. Archives the old server has and this library
does not are listed, never created.

Every write goes through the services (`ctx.archives`, `ctx.collections`): they take the locks and mark the
search cache stale, so the import may run beside a live server.

Resuming: there is no state file. Each item is compared with what is stored here and only the difference is
written, so a second run writes nothing and a run cut off anywhere is completed by running it again.

Rules where both sides hold a value:
- progress, `lastreadtime` and `isnew`: the side read last wins (an archive read here after the old server's
  last read keeps its local state); the old server's `lastreadtime` is kept, and an import is no page read.
  When the old server does not track progress (`server_tracks_progress` false) its values mean nothing and
  progress is left alone.
- title, tags, summary, TOC entries, tank metadata, `pinned`: the old server's values (tags compared as
  stored, i.e. normalised). Stamps and category/tank members the old server has are added; nothing here is
  deleted (a tank's local extra members stay, after the imported ones).
- categories and tanks are matched by ID first (a library restored from a LANraragi backup kept them), then by
  name (categories: name and predicate), else created with a new ID.
- custom covers: the API names no cover page, but the backup (`GET /api/database/backup`) carries
  `thumbhash`, the SHA-1 of the page the cover was made from. Where it differs from ours, the page with that
  SHA-1 is looked up and made the cover. No backup (older server, or a failure) means no covers and no stamps,
  said in the summary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from hashlib import sha1
from typing import Any

from lrr_lite.errors import DomainError
from lrr_lite.library import collections, pages, records
from lrr_lite.library.intake.lrrclient import SERVER, USAGE, Client, RemoteError
from lrr_lite.library.tags import normalize_tags

ARCHIVE_ID = re.compile(r"[0-9a-f]{40}")
STAMP_PAGE = re.compile(r"STAMPS_(\d+)_")

Progress = Callable[[int, int, str], None]  # (done, total, title of the archive just handled)


# -- what LANraragi sends, read tolerantly ----------------------------------------------------------------------
# Versions differ: isnew "true"/"false" or a boolean, pinned "0"/"1" or a number, numbers sometimes strings.

def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def as_int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0) if not isinstance(value, bool) else int(value)
    except ValueError:
        return 0


def as_str(value: Any) -> str:
    return "" if value is None else str(value)


# -- the report -------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    imported: int = 0
    unchanged: int = 0
    missing: int = 0
    failed: int = 0


@dataclass
class Report:
    dry_run: bool = False
    archives: Tally = field(default_factory=Tally)
    tankoubons: Tally = field(default_factory=Tally)
    categories: Tally = field(default_factory=Tally)
    bookmark: Tally = field(default_factory=Tally)
    changes: int = 0
    fields: Counter[str] = field(default_factory=Counter)         # changes per kind: "progress": 3 …
    missing_here: list[tuple[str, str, str]] = field(default_factory=list)  # (title, filename, ID)
    failures: list[tuple[str, str, str]] = field(default_factory=list)      # (what, name, reason)
    notes: list[str] = field(default_factory=list)
    stopped: str = ""  # why the run ended early (the network), "" when it completed

    def table(self) -> list[str]:
        verb = "would import" if self.dry_run else "imported"
        lines = [f"{'':<14} {verb:>12} {'unchanged':>10} {'missing here':>13} {'failed':>7}"]
        for name, t in (("archives", self.archives), ("tankoubons", self.tankoubons),
                        ("categories", self.categories), ("bookmark link", self.bookmark)):
            missing = str(t.missing) if name == "archives" else "-"
            lines.append(f"{name:<14} {t.imported:>12} {t.unchanged:>10} {missing:>13} {t.failed:>7}")
        what = ", ".join(f"{k} {v}" for k, v in sorted(self.fields.items()))
        lines.append(f"{self.changes} changes{' (dry run: nothing written)' if self.dry_run else ''}"
                     + (f": {what}" if what else ""))
        for title, filename, archive_id in self.missing_here:
            lines.append(f"missing here: {archive_id}  {title!r}  file {filename!r}")
        for what_, name, reason in self.failures:
            lines.append(f"failed: {what_} {name}: {reason}")
        lines.extend(f"note: {n}" for n in self.notes)
        if self.stopped:
            lines.append(f"stopped early: {self.stopped} (run the same command again to finish)")
        return lines


class _Item:
    """The changes one archive, tank or category needs, applied one by one unless a dry run. A change the
    service refuses is noted and the next one is still tried; `fatal` ones (creating the tank or category
    the later changes need) end the item."""

    def __init__(self, report: Report, dry_run: bool) -> None:
        self.report = report
        self.dry_run = dry_run
        self.count = 0
        self.errors: list[str] = []

    def change(self, kind: str, write: Callable[[], Any], fatal: bool = False) -> Any:
        result = None
        if not self.dry_run:
            try:
                result = write()
            except DomainError as exc:
                if fatal:
                    raise
                self.errors.append(f"{kind}: {exc.message}")
                return None
        self.count += 1
        self.report.changes += 1
        self.report.fields[kind] += 1
        return result


# -- the import -------------------------------------------------------------------------------------------------

class Importer:
    def __init__(self, ctx: Any, client: Client, *, dry_run: bool = False,
                 progress: Progress | None = None) -> None:
        self.ctx = ctx
        self.client = client
        self.dry_run = dry_run
        self.progress = progress or (lambda done, total, title: None)
        self.report = Report(dry_run=dry_run)
        self.tracks_progress = True
        self.tank_map: dict[str, str] = {}  # old tank ID -> ours (or a placeholder in a dry run)
        self.category_map: dict[str, str] = {}  # the same for categories

    def run(self) -> Report:
        info = self.check_server()
        self.tracks_progress = as_bool(info.get("server_tracks_progress", True))
        if not self.tracks_progress:
            self.report.notes.append("the old server keeps reading progress in the clients "
                                     "(server_tracks_progress is off): progress not imported")
        try:
            backup = self.fetch_backup()
            archives = self.fetch_archives()
            self.import_archives(archives, backup)
            tanks = self.client.get("/api/tankoubons?page=-1", missing_ok=True)
            self.import_tankoubons(tanks)
            self.import_categories(self.client.get("/api/categories", missing_ok=True))
            self.import_bookmark(self.client.get("/api/categories/bookmark_link", missing_ok=True))
        except RemoteError as exc:
            if exc.kind == USAGE:
                raise
            self.report.stopped = exc.message
        return self.report

    def _one(self, tally: Tally, what: str, name: str, work: Callable[[_Item], None]) -> None:
        """Run one item's changes and count it: imported, unchanged, or failed with the reasons."""
        item = _Item(self.report, self.dry_run)
        try:
            work(item)
        except DomainError as exc:
            item.errors.append(exc.message)
        if item.errors:
            tally.failed += 1
            self.report.failures.append((what, name, "; ".join(item.errors)))
        elif item.count:
            tally.imported += 1
        else:
            tally.unchanged += 1

    # -- the old server ----------------------------------------------------------------------------------------

    def check_server(self) -> dict[str, Any]:
        """`/api/info` must look like LANraragi's, and the key must open a keyed endpoint (a wrong key on a
        server without No-Fun mode is otherwise only noticed at the first keyed read)."""
        info = self.client.get("/api/info")
        if not isinstance(info, dict) or "version" not in info or "archives_per_page" not in info:
            raise RemoteError(f"{self.client.base}/api/info is not LANraragi's server info: is this a "
                              "LANraragi server?", USAGE)
        self.client.get("/api/shinobu", missing_ok=True)  # 🔑: a wrong key answers 401 here
        return info

    def fetch_backup(self) -> dict[str, Any] | None:
        """The backup JSON, only for covers and stamps: without it the rest still imports. LANraragi warns
        that this GET can be slow on a large library, so a timeout here is a note, not the end of the run."""
        why = "it has none (404)"
        try:
            backup = self.client.get("/api/database/backup", missing_ok=True)
        except RemoteError as exc:
            if exc.kind == USAGE:
                raise
            backup, why = None, exc.message
        if backup is not None and not (isinstance(backup, dict) and isinstance(backup.get("archives"), list)):
            backup, why = None, "its reply is not a backup"
        if backup is None:
            self.report.notes.append(f"no backup from the old server (GET /api/database/backup: {why}): "
                                     "custom covers and stamps not imported")
        return backup

    def fetch_archives(self) -> list[dict[str, Any]]:
        listed = self.client.get("/api/archives")
        if not isinstance(listed, list):
            raise RemoteError(f"{self.client.base}/api/archives is not a list of archives", SERVER)
        return [e for e in listed if isinstance(e, dict) and ARCHIVE_ID.fullmatch(as_str(e.get("arcid")))]

    def complete(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Older versions list less; the archive's own metadata has the reading state. Asked for one archive at
        a time, as it is applied, so a run cut off midway has applied the archives before the cut."""
        if "progress" in entry and "isnew" in entry:
            return entry
        full = self.client.get(f"/api/archives/{entry['arcid']}/metadata", missing_ok=True)
        return {**entry, **full} if isinstance(full, dict) else entry

    # -- archives ----------------------------------------------------------------------------------------------

    def import_archives(self, archives: list[dict[str, Any]], backup: dict[str, Any] | None) -> None:
        by_id: dict[str, dict[str, Any]] = {}
        stamps: dict[str, list[tuple[int, str, str]]] = {}
        if backup is not None:
            by_id = {as_str(a.get("arcid")): a for a in backup["archives"] if isinstance(a, dict)}
            for st in backup.get("stamps") or []:
                page = STAMP_PAGE.match(as_str(st.get("stamp_id"))) if isinstance(st, dict) else None
                if page:
                    stamps.setdefault(as_str(st.get("archive_id")), []).append(
                        (int(page.group(1)), as_str(st.get("content")), as_str(st.get("position")) or "0,0"))
        total = len(archives)
        for done, old in enumerate(archives, start=1):
            archive_id = old["arcid"]
            title = as_str(old.get("title")) or as_str(old.get("filename"))
            row = records.get_row(self.ctx.db, archive_id)
            if row is None or not row["path"]:
                self.report.archives.missing += 1
                self.report.missing_here.append((title, as_str(old.get("filename")), archive_id))
            else:
                self._one(self.report.archives, "archive", f"{archive_id} {title!r}",
                          partial(self.archive, row=row, old=self.complete(old), saved=by_id.get(archive_id),
                                  stamps=stamps.get(archive_id, [])))
            self.progress(done, total, title)

    def archive(self, item: _Item, row: Any, old: dict[str, Any], saved: dict[str, Any] | None,
                stamps: list[tuple[int, str, str]]) -> None:
        archive_id = row["id"]
        archives = self.ctx.archives
        # metadata
        title = as_str(old.get("title"))
        tags = normalize_tags(as_str(old.get("tags")))
        summary = as_str(old.get("summary"))
        shown = row["title"] or row["filename"]
        if (title and title != shown) or tags != (row["tags"] or "") or summary != (row["summary"] or ""):
            item.change("metadata", lambda: archives.update_metadata(archive_id, title or None, tags, summary))
        # reading state: the side read last wins
        old_read = as_int(old.get("lastreadtime"))
        local_read = int(row["lastreadtime"] or 0)
        if local_read <= old_read:
            page = as_int(old.get("progress"))
            if self.tracks_progress and page > 0 and (page, old_read) != (int(row["progress"] or 0), local_read):
                item.change("progress", lambda: archives.update_progress(archive_id, page, force=True,
                                                                         lastreadtime=old_read))
            isnew = as_bool(old.get("isnew"))
            if isnew != bool(row["isnew"]):
                item.change("isnew", lambda: archives.set_isnew(archive_id, isnew))
        # table of contents
        toc_here = {t["page"]: t["name"] for t in records.toc_of(self.ctx.db, archive_id)}
        for entry in old.get("toc") or []:
            if not isinstance(entry, dict):
                continue
            toc_page, name = as_int(entry.get("page")), as_str(entry.get("name"))
            if toc_page > 0 and name and toc_here.get(toc_page) != name:
                item.change("toc", partial(archives.add_toc, archive_id, toc_page, name))
        # stamps: the old ones not here yet (same page, text and position)
        have = Counter((r["page"], r["content"], r["position"]) for r in self.ctx.db.query(
            "SELECT page, content, position FROM stamps WHERE archive_id=?", (archive_id,)))
        for stamp in sorted(stamps):
            if have[stamp] > 0:
                have[stamp] -= 1
                continue
            item.change("stamps", partial(archives.add_stamp, archive_id, *stamp))
        # the cover
        wanted = as_str(saved.get("thumbhash")).lower() if saved else ""
        if wanted and wanted != (row["thumbhash"] or ""):
            cover = self.page_with_hash(archive_id, wanted)
            if cover is None:
                self.report.notes.append(f"{archive_id}: the old cover's page (SHA-1 {wanted}) is not in the file "
                                         "here; cover left as it is")
            elif cover > 1 or row["thumbhash"]:  # page 1 with no cover made yet: the cover job makes that one
                item.change("cover", partial(archives.set_cover, archive_id, cover))

    def page_with_hash(self, archive_id: str, digest: str) -> int | None:
        """The page whose raw bytes have this SHA-1 (how LANraragi records the page of a cover)."""
        _, listed = pages.pages_of(self.ctx, archive_id)
        for number in range(1, len(listed) + 1):
            if sha1(pages.read_page(self.ctx, archive_id, number)).hexdigest() == digest:
                return number
        return None

    # -- tankoubons --------------------------------------------------------------------------------------------

    def _present(self, member_ids: Iterable[Any]) -> list[str]:
        out = []
        for member in member_ids:
            member = as_str(member)
            row = records.get_row(self.ctx.db, member) if ARCHIVE_ID.fullmatch(member) else None
            if row is not None and row["path"]:
                out.append(member)
        return out

    def import_tankoubons(self, reply: Any) -> None:
        old_tanks = reply.get("result") if isinstance(reply, dict) else None
        if not isinstance(old_tanks, list):
            return
        local = collections.list_tankoubons(self.ctx.db, -1, 0)["result"]
        by_id = {t["id"]: t for t in local}
        unmatched = [t for t in local]
        for old in sorted((t for t in old_tanks if isinstance(t, dict)), key=lambda t: as_str(t.get("id"))):
            old_id, name = as_str(old.get("id")), as_str(old.get("name"))
            mine = by_id.get(old_id) if old_id in by_id else next((t for t in unmatched if t["name"] == name), None)
            if mine is not None and mine in unmatched:
                unmatched.remove(mine)
            self._one(self.report.tankoubons, "tankoubon", f"{old_id} {name!r}",
                      partial(self.tankoubon, old=old, mine=mine))

    def tankoubon(self, item: _Item, old: dict[str, Any], mine: dict[str, Any] | None) -> None:
        service = self.ctx.collections
        old_id, name = as_str(old.get("id")), as_str(old.get("name"))
        if mine is None:
            tank_id = item.change("tankoubons", partial(service.create_tankoubon, name), fatal=True) \
                or f"(new {old_id})"
            mine = {"id": tank_id, "name": name, "summary": "", "tags": "", "progress": 0, "archives": []}
        tank_id = mine["id"]
        self.tank_map[old_id] = tank_id
        wanted = self._present(old.get("archives") or [])
        members = wanted + [m for m in mine["archives"] if m not in wanted]
        if members != mine["archives"]:
            item.change("tank members", lambda: service.update_tankoubon(tank_id, members, None))
        meta = {"name": name or mine["name"], "summary": as_str(old.get("summary")),
                "tags": normalize_tags(as_str(old.get("tags")))}
        if (meta["name"], meta["summary"], meta["tags"]) != (mine["name"], mine["summary"] or "", mine["tags"] or ""):
            item.change("tank metadata", lambda: service.update_tankoubon(tank_id, None, meta))
        page = as_int(old.get("progress"))
        if self.tracks_progress and page > 0 and page != int(mine["progress"] or 0):
            item.change("tank progress", lambda: service.update_tank_progress(tank_id, page))

    # -- categories --------------------------------------------------------------------------------------------

    def import_categories(self, reply: Any) -> None:
        if not isinstance(reply, list):
            return
        local = collections.list_categories(self.ctx.db)
        unmatched = list(local)
        for old in sorted((c for c in reply if isinstance(c, dict)), key=lambda c: as_str(c.get("id"))):
            old_id, name, search = as_str(old.get("id")), as_str(old.get("name")), as_str(old.get("search"))
            mine = next((c for c in unmatched if c["id"] == old_id and c["search"] == search), None) or \
                next((c for c in unmatched if c["name"] == name and c["search"] == search), None)
            if mine is not None:
                unmatched.remove(mine)
            self._one(self.report.categories, "category", f"{old_id} {name!r}",
                      partial(self.category, old=old, mine=mine))

    def category(self, item: _Item, old: dict[str, Any], mine: dict[str, Any] | None) -> None:
        service = self.ctx.collections
        old_id, name, search = as_str(old.get("id")), as_str(old.get("name")), as_str(old.get("search"))
        pinned = as_bool(as_int(old.get("pinned")))
        if mine is None:
            cat_id = item.change("categories", partial(service.create_category, name, search, pinned), fatal=True) \
                or f"(new {old_id})"
            mine = {"id": cat_id, "name": name, "search": search, "pinned": "1" if pinned else "0", "archives": []}
        cat_id = mine["id"]
        self.category_map[old_id] = cat_id
        if (name, pinned) != (mine["name"], as_bool(as_int(mine["pinned"]))):
            item.change("categories", lambda: service.update_category(cat_id, name, search, pinned))
        if search:
            return  # dynamic: its predicate is its content
        here = set(mine["archives"])
        for member in old.get("archives") or []:
            member = as_str(member)
            if member.startswith("TANK_"):
                target = self.tank_map.get(member)
            else:
                target = member if self._present([member]) else None
            if target is not None and target not in here:
                here.add(target)
                item.change("category members", partial(service.add_to_category, cat_id, target))

    def import_bookmark(self, reply: Any) -> None:
        if not isinstance(reply, dict) or "category_id" not in reply:
            return
        old = as_str(reply.get("category_id"))
        wanted = self.category_map.get(old, "") if old else ""
        if old and not wanted:
            return  # the linked category was not imported (its failure is listed)
        current = collections.get_bookmark_link(self.ctx.db)
        if wanted == current:
            self.report.bookmark.unchanged += 1
            return
        service = self.ctx.collections
        if wanted:
            self._one(self.report.bookmark, "bookmark link", wanted,
                      lambda item: item.change("bookmark link", partial(service.set_bookmark_link, wanted)))
        else:
            self._one(self.report.bookmark, "bookmark link", "(none)",
                      lambda item: item.change("bookmark link", service.remove_bookmark_link))
