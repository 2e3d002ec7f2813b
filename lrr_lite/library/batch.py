"""Batch edits: one job applies one operation to many archives (the web UI's batch tagging).

The job's args are a plain dict: `op` (add_tags, remove_tags, plugin, category, delete), its parameters, and
the archives: `nums` (an explicit selection, stored compactly: see `selection`), or `search` (the library filter
of a "select all results": resolved here, at run time, so the browser never sends 100,000 IDs and the jobs table
never stores them). `ids`, a plain list, is still read (jobs queued by an older version). Each archive goes
through the same service the API uses (ctx.archives, ctx.collections, the plugin runner), one at a time, so
every write takes that archive's lock as an API write would. Progress goes into the job's notes (throttled:
one row write per NOTE_EVERY seconds, not one per archive).

The result says every archive's outcome without repeating the selection: archives that received the same
message are one group, named by their row numbers (packed as the selection is); only archives no row number
can name (unknown IDs, deleted ones) are listed by ID. `status` turns that back into a list with titles for the
progress page. A 10,000-archive selection was a ~440 KB args row and up to 1.2 MB of result; packed, both are a
few tens of KB (tests/test_web_batch.py measures it).
"""

from __future__ import annotations

import time
from typing import Any

from lrr_lite.errors import Conflict, DomainError, Invalid
from lrr_lite.library import records
from lrr_lite.library.archives import metadata_version
from lrr_lite.library.jobs import JobContext
from lrr_lite.library.plugins import runner
from lrr_lite.library.plugins.registry import get_plugin
from lrr_lite.library.search.engine import Query, search
from lrr_lite.library.tags import normalize_tags, split_tags

TASK = "batch_edit"
OPS = ("add_tags", "remove_tags", "plugin", "category", "delete")
MAX_ARCHIVES = 100_000  # one batch; a larger library is edited a search at a time
MAX_SELECTED = 10_000  # an explicit selection travels from the browser and is stored in the job's args
# (41 bytes an ID): more than this goes as a search, which the job resolves when it runs
NOTE_EVERY = 0.4  # seconds between progress notes
LISTED = 2_000  # rows of the per-archive list the progress page gets: failures first, then successes (a 100k
# batch's full list would be a ~10 MB answer); the counts stay exact
UNKNOWN_LISTED = 100  # IDs of a selection that no archive has (deleted since it was made) kept by name; the rest
# are counted: they fail alike ("no archive with this ID") and have no title to show
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = _B36[d] + out
        if not n:
            return out


def pack(nums: Any) -> str:
    """Distinct positive integers (archive row numbers) as a short string: sorted, each the gap from the one
    before in base 36, a run of equal gaps as gap*count. 10,000 of a 100,000-archive library are ~20 KB;
    consecutive rows a few bytes."""
    parts: list[str] = []
    last, gap, run = 0, 0, 0
    for n in sorted(set(nums)):
        step, last = n - last, n
        if step == gap:
            run += 1
            continue
        if run:
            parts.append(_b36(gap) + (f"*{_b36(run)}" if run > 1 else ""))
        gap, run = step, 1
    if run:
        parts.append(_b36(gap) + (f"*{_b36(run)}" if run > 1 else ""))
    return ".".join(parts)


def unpack(text: str, limit: int = MAX_ARCHIVES) -> list[int]:
    """The integers `pack` wrote (at most `limit` of them)."""
    out: list[int] = []
    last = 0
    for part in text.split(".") if text else []:
        gap, _, run = part.partition("*")
        step, count = int(gap, 36), int(run, 36) if run else 1
        for _ in range(min(count, limit - len(out))):
            last += step
            out.append(last)
    return out


def _rows_by(db: Any, column: str, values: list[Any], what: str) -> list[Any]:
    """Rows of `archives` whose `column` is one of `values` (chunked: SQLite caps the parameters)."""
    rows: list[Any] = []
    for at in range(0, len(values), 500):
        chunk = values[at:at + 500]
        rows += db.query(f"SELECT {what} FROM archives WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)
    return rows


def selection(ctx: Any, ids: list[str]) -> dict[str, Any]:
    """The args naming an explicit selection: the archives' row numbers, packed (`nums`), the IDs no archive has
    (`unknown`, kept as they are: each fails with the reason), and when (`at`): a row number freed by a deletion
    can be given to a newer archive, which the job then leaves alone."""
    found = {r["id"]: r["num"] for r in _rows_by(ctx.db, "id", ids, "id, num")}
    unknown = [i for i in ids if i not in found]
    return {"nums": pack(found.values()), "unknown": unknown[:UNKNOWN_LISTED],
            "unknown_more": max(0, len(unknown) - UNKNOWN_LISTED), "at": int(time.time())}


def resolve_search(ctx: Any, search_args: dict[str, Any], limit: int = MAX_ARCHIVES) -> tuple[list[str], int]:
    """(archive IDs, how many match) for a library filter: every match, not one page, tankoubons opened
    into their archives (groupby off). At most `limit` IDs are returned; the count is exact."""
    query = Query(filter=str(search_args.get("q") or ""), category=str(search_args.get("cat") or "") or None,
                  start=0, sortby="title", order="asc", newonly=bool(search_args.get("new")),
                  untaggedonly=bool(search_args.get("untagged")), groupby_tanks=False)
    result = search(ctx.db, query, limit)
    return result.ids[:limit], result.filtered


def new_tankoubon(ctx: Any, name: str, ids: list[str]) -> str:
    """A new tankoubon of these archives in this order (the order they were selected in); returns its ID.
    Not a job: it is one write of the member list. All or nothing: if the members can't be written (an archive
    deleted meanwhile), the new tankoubon is removed again, not left empty."""
    name = name.strip()
    if not name:
        raise Invalid("Name the new tankoubon.")
    if not ids:
        raise Invalid("No archive is selected.")
    if len(ids) > MAX_SELECTED:
        raise Invalid(f"At most {MAX_SELECTED:,} archives in a new tankoubon.")
    tank_id = ctx.collections.create_tankoubon(name)
    try:
        ctx.collections.update_tankoubon(tank_id, ids, None)
    except DomainError:
        ctx.collections.delete_tankoubon(tank_id)
        raise
    return tank_id


def validate(args: dict[str, Any]) -> dict[str, Any]:
    """The job's args checked before anything is queued; raises Invalid with the reason for the user."""
    op = str(args.get("op") or "")
    if op not in OPS:
        raise Invalid("Choose what to do with the selected archives.")
    if op in ("add_tags", "remove_tags") and not split_tags(str(args.get("tags") or "")):
        raise Invalid("Enter at least one tag.")
    if op == "plugin" and get_plugin(str(args.get("plugin") or "")) is None:
        raise Invalid("Choose a metadata plugin.")
    if op == "category" and not str(args.get("category") or ""):
        raise Invalid("Choose a category.")
    ids = args.get("ids")
    if "nums" in args:
        ids = [*unpack(str(args["nums"]), MAX_SELECTED + 1), *(args.get("unknown") or [])]
    if ids is not None:
        if not isinstance(ids, list) or not ids:
            raise Invalid("No archive is selected.")
        if len(ids) + int(args.get("unknown_more") or 0) > MAX_SELECTED:
            raise Invalid(f"At most {MAX_SELECTED:,} selected archives in one batch: for more, use “all results” "
                          "of a search.")
    elif not isinstance(args.get("search"), dict):
        raise Invalid("No archive is selected.")
    return args


def _edit_tags(ctx: Any, archive_id: str, tags: list[str], add: bool) -> str:
    """Add or remove tags through Archives.update_metadata_checked: the stored tags are read, changed and
    written only if nothing else wrote in between (up to three tries on a conflict), so no edit is lost."""
    wanted = {t.lower() for t in tags}
    for _ in range(3):
        row = records.require_row(ctx.db, archive_id)
        current = split_tags(row["tags"] or "")
        if add:
            have = {t.lower() for t in current}
            missing = [t for t in tags if t.lower() not in have]
            if not missing:
                return "already tagged"
            new = current + missing
        else:
            new = [t for t in current if t.lower() not in wanted]
            if len(new) == len(current):
                return "tag not present"
        try:
            ctx.archives.update_metadata_checked(archive_id, metadata_version(row), None, ",".join(new), None)
        except Conflict:
            continue
        return ("added " if add else "removed ") + ", ".join(missing if add else [t for t in current
                                                                                    if t.lower() in wanted])
    raise Conflict("The archive kept changing while the batch tried to edit it.")


def apply_one(ctx: Any, op: str, args: dict[str, Any], archive_id: str) -> str:
    """Apply the operation to one archive; returns what was done. Raises DomainError with the reason."""
    if op == "add_tags" or op == "remove_tags":
        return _edit_tags(ctx, archive_id, split_tags(normalize_tags(str(args.get("tags") or ""))), op == "add_tags")
    if op == "plugin":
        records.require_row(ctx.db, archive_id)
        result = runner.use_plugin(ctx, str(args.get("plugin") or ""), archive_id, str(args.get("arg") or ""))
        if not result.get("success"):
            raise Invalid(str(result.get("error") or "The plugin failed."))
        data = result.get("data") or {}
        runner.apply_data(ctx, archive_id, data)
        found = [f"tags: {data['new_tags'].strip()}" if (data.get("new_tags") or "").strip() else "",
                 f"title: {data['title']}" if data.get("title") else ""]
        return "; ".join(f for f in found if f) or "the plugin found nothing"
    if op == "category":
        return ctx.collections.add_to_category(str(args.get("category") or ""), archive_id)
    if op == "delete":
        deleted = ctx.archives.delete(archive_id)
        if deleted is None:
            raise Invalid(records.NO_SUCH_ID)
        return "deleted"
    raise Invalid("Unknown operation.")


def _selected(ctx: Any, args: dict[str, Any]) -> list[str]:
    """The IDs of an explicit selection, in row order; a row number now held by an archive added after the
    job was queued is not the archive that was selected, and is left out."""
    if "nums" not in args:
        return [str(i) for i in args.get("ids") or []][:MAX_SELECTED]
    nums = unpack(str(args["nums"]), MAX_SELECTED)
    at = int(args.get("at") or 0)
    rows = {r["num"]: r for r in _rows_by(ctx.db, "num", nums, "num, id, added")}
    return [rows[n]["id"] for n in nums if n in rows and (not at or rows[n]["added"] <= at)] + \
        [str(i) for i in args.get("unknown") or []]


def run(ctx: Any, job: JobContext | None, args: dict[str, Any]) -> dict[str, Any]:
    """The batch_edit job: apply args["op"] to each archive, noting progress; returns the outcomes (grouped by
    message, see the module's doc)."""
    validate(args)
    op = str(args["op"])
    if args.get("search") is None:
        ids = _selected(ctx, args)
    else:
        ids, matched = resolve_search(ctx, args["search"])
        confirmed = args.get("confirmed")
        # a deletion confirmed for N archives must not delete more: the library may have changed since
        if op == "delete" and confirmed is not None and int(confirmed) != matched:
            raise RuntimeError(f"The search now matches {matched} archives, not the {confirmed} you confirmed: "
                               "nothing was deleted. Check the search and try again.")
        if matched > MAX_ARCHIVES:
            raise RuntimeError(f"The search matches {matched:,} archives: at most {MAX_ARCHIVES:,} in one batch.")
    gone = 0 if args.get("search") is not None else int(args.get("unknown_more") or 0)
    total = len(ids) + gone
    groups: dict[tuple[int, str], list[int]] = {}
    named: list[dict[str, Any]] = []  # outcomes no row number can name afterwards
    done = failed = gone  # the unnamed unknown IDs: failed before anything is done
    unlisted = 0
    unlisted_failed = gone
    last = 0.0
    if job is not None:
        job.note(total=total, done=0, failed=0, op=op)
    for archive_id in ids:
        row = ctx.db.query_one("SELECT num, title, filename FROM archives WHERE id=?", [archive_id])
        title = (row["title"] or row["filename"]) if row is not None else ""
        try:
            ok, message = 1, apply_one(ctx, op, args, archive_id)
        except DomainError as exc:
            ok, message = 0, exc.message
        except OSError as exc:
            ok, message = 0, f"The file system refused: {exc}"
        failed += 1 - ok
        if row is not None and not (op == "delete" and ok):
            groups.setdefault((ok, message), []).append(row["num"])
        elif len(named) < LISTED:
            named.append({"id": archive_id, "title": title, "ok": ok, "message": message})
        elif ok:
            unlisted += 1  # a deleted archive's line, past the listed ones: counted
        else:
            unlisted_failed += 1
        done += 1
        now = time.monotonic()
        if job is not None and (now - last >= NOTE_EVERY or done == total):
            job.note(done=done, failed=failed)
            last = now
    return {"success": 1, "op": op, "total": total, "done": done, "failed": failed, "unlisted": unlisted,
            "unlisted_failed": unlisted_failed,
            "groups": [[ok, message, pack(nums)] for (ok, message), nums in groups.items()], "results": named}


def outcomes(ctx: Any, result: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(the per-archive list the progress page shows, how many more succeeded unlisted) from a job's result:
    failures first, then successes, LISTED at most, each with the archive's title as it is now."""
    named = [r for r in result.get("results") or [] if isinstance(r, dict)]
    unlisted = int(result.get("unlisted") or 0)
    if "groups" not in result:  # a result written before the groups: already a list
        return named, unlisted
    listed = [r for r in named if not r.get("ok")]
    wanted: list[tuple[int, str, int]] = []
    for ok in (0, 1):
        listed += [r for r in named if r.get("ok")] if ok else []
        for g_ok, message, packed in result["groups"]:
            if g_ok == ok:
                wanted += [(ok, message, n) for n in unpack(packed)]
    room = max(0, LISTED - len(listed))
    shown, rest = wanted[:room], wanted[room:]
    rows = {r["num"]: r for r in _rows_by(ctx.db, "num", [n for _, _, n in shown], "num, id, title, filename")}
    for ok, message, n in shown:
        row = rows.get(n)
        if row is None:  # deleted since: nothing to link to
            rest.append((ok, message, n))
            continue
        listed.append({"id": row["id"], "title": row["title"] or row["filename"], "ok": ok, "message": message})
    return listed, unlisted + sum(1 for ok, _, _ in rest if ok)
