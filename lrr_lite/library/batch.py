"""Batch edits: one job applies one operation to many archives (the web UI's batch tagging).

The job's args are a plain dict: `op` (add_tags, remove_tags, plugin, category, delete), its parameters, and
either `ids` (an explicit selection) or `search` (the library filter of a "select all results": resolved here,
at run time, so the browser never sends 100,000 IDs and the jobs table never stores them). Each archive goes
through the same service the API uses (ctx.archives, ctx.collections, the plugin runner), one at a time, so
every write takes that archive's lock as an API write would. Progress goes into the job's notes (throttled:
one row write per NOTE_EVERY seconds, not one per archive); the result lists every archive's outcome.
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
MAX_SUCCESSES_LISTED = 2_000  # the result keeps every failure but only this many successes: a 100k batch's
# full list would be a ~10 MB row the page polls; the counts stay exact
NOTE_EVERY = 0.4  # seconds between progress notes


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
    if ids is not None:
        if not isinstance(ids, list) or not ids:
            raise Invalid("No archive is selected.")
        if len(ids) > MAX_SELECTED:
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


def run(ctx: Any, job: JobContext | None, args: dict[str, Any]) -> dict[str, Any]:
    """The batch_edit job: apply args["op"] to each archive, noting progress; returns the per-archive list."""
    validate(args)
    op = str(args["op"])
    if args.get("ids") is not None:
        ids = [str(i) for i in args["ids"]][:MAX_SELECTED]
    else:
        ids, matched = resolve_search(ctx, args["search"])
        confirmed = args.get("confirmed")
        # a deletion confirmed for N archives must not delete more: the library may have changed since
        if op == "delete" and confirmed is not None and int(confirmed) != matched:
            raise RuntimeError(f"The search now matches {matched} archives, not the {confirmed} you confirmed: "
                               "nothing was deleted. Check the search and try again.")
        if matched > MAX_ARCHIVES:
            raise RuntimeError(f"The search matches {matched:,} archives: at most {MAX_ARCHIVES:,} in one batch.")
    total = len(ids)
    results: list[dict[str, Any]] = []
    done = failed = ok_listed = 0
    last = 0.0
    if job is not None:
        job.note(total=total, done=0, failed=0, op=op)
    for archive_id in ids:
        row = records.get_row(ctx.db, archive_id)
        title = (row["title"] or row["filename"]) if row is not None else ""
        try:
            message = apply_one(ctx, op, args, archive_id)
            if ok_listed < MAX_SUCCESSES_LISTED:
                results.append({"id": archive_id, "title": title, "ok": 1, "message": message})
                ok_listed += 1
        except DomainError as exc:
            failed += 1
            results.append({"id": archive_id, "title": title, "ok": 0, "message": exc.message})
        except OSError as exc:
            failed += 1
            results.append({"id": archive_id, "title": title, "ok": 0, "message": f"The file system refused: {exc}"})
        done += 1
        now = time.monotonic()
        if job is not None and (now - last >= NOTE_EVERY or done == total):
            job.note(done=done, failed=failed)
            last = now
    return {"success": 1, "op": op, "total": total, "done": done, "failed": failed,
            "unlisted": done - len(results), "results": results}
