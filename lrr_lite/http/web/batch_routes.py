"""Batch edits from the web UI: GET /batch (the form, or a job's progress), POST /batch, GET /batch/status.

The library grid's selection mode (library.js) keeps the chosen IDs in the tab's sessionStorage and opens
/batch?sel=1, where batch.js puts them in the form. "Select all results of this search" opens
/batch?all=1&q=…&cat=…: the server counts the matches and the job resolves the same search when it runs
(library/batch.py), so 100,000 IDs never travel through the browser. Without JS, the library's selection page
(/?select=1, a checkbox per card) opens /batch?id=…&id=…, and the form carries those IDs itself. Every POST
needs the login and the session's CSRF token (actions.Actions.post, the guard of every management POST); a deletion must carry the
count the user confirmed. The work is one `batch_edit` job (its args hold the selection packed, see
library/batch.py); its page polls /batch/status for the progress bar and results. "New tankoubon from the
selection" is no job: the POST makes it (volumes in selection order) and opens its editor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import bottle

from lrr_lite.errors import DomainError, Invalid, NotFound
from lrr_lite.http.web import collection_routes, pages, webforms
from lrr_lite.http.web.actions import Actions
from lrr_lite.http.web.pages import esc
from lrr_lite.library import batch, collections
from lrr_lite.library.plugins import plugin_infos

log = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{40}")
SELECTION_BYTES = (batch.MAX_SELECTED + 1) * 41  # one ID more than allowed, so "too many" is still seen
OP_LABELS = {"add_tags": "Add tags", "remove_tags": "Remove tags", "plugin": "Run a metadata plugin",
             "category": "Add to a category", "tankoubon": "New tankoubon from the selection", "delete": "Delete"}
# "tankoubon" is no job: one write of the member list, done in the POST (batch.new_tankoubon)


def search_of(query: Any) -> dict[str, Any]:
    """The library filter carried by a query or form (the library page's parameter names)."""
    state = pages.LibraryState.from_query(query)
    return {"q": state.q, "cat": state.cat, "new": state.new, "untagged": state.untagged}


def _describe(search: dict[str, Any]) -> str:
    parts = [f"search “{search['q']}”" if search.get("q") else "the whole library"]
    if search.get("cat"):
        parts.append("in the chosen category")
    if search.get("new"):
        parts.append("new only")
    if search.get("untagged"):
        parts.append("untagged only")
    return ", ".join(parts)


def form_page(ctx: Any, static: dict[str, str], csrf: str, search: dict[str, Any] | None, count: int,
              error: str = "", ids: list[str] | None = None, op: str = "add_tags") -> str:
    """The batch form. `search` set: every result of that search (`count` of them); `ids`: the archives ticked
    on the library's no-JS selection page; neither: the selection batch.js reads from sessionStorage."""
    plugins = "".join(f'<option value="{esc(p["namespace"])}">{esc(p["name"])}</option>'
                      for p in plugin_infos("metadata"))
    cats = "".join(f'<option value="{esc(c["id"])}">{esc(c["name"])}</option>'
                   for c in collections.list_categories(ctx.db) if not c.get("search"))
    op = op if op in OP_LABELS else "add_tags"
    ops = "".join(f'<label class="chk"><input type="radio" name="op" value="{k}"{" checked" if k == op else ""}>'
                  f' {esc(v)}</label>' for k, v in OP_LABELS.items())
    if search is not None:
        hidden = "".join(f'<input type="hidden" name="{k}" value="{esc("1" if v is True else v)}">'
                         for k, v in search.items() if v) + '<input type="hidden" name="all" value="1">'
        what = (f'<p id="b_what"><b id="b_count">{count}</b> archive{"" if count == 1 else "s"}: every result of '
                f'{esc(_describe(search))}.</p>')
        confirm = (f'<label class="chk" id="b_confirm"><input type="checkbox" name="confirmed" value="{count}">'
                   f' Yes, delete these {count} archives and their files</label>')
        if count > batch.MAX_ARCHIVES:
            error = error or f"This search matches {count:,} archives: at most {batch.MAX_ARCHIVES:,} in one batch."
    elif ids:
        hidden = f'<input type="hidden" name="ids" id="b_ids" data-fixed="1" value="{esc(",".join(ids))}">'
        what = f'<p id="b_what"><b id="b_count">{len(ids)}</b> selected archive{"" if len(ids) == 1 else "s"}.</p>'
        confirm = (f'<label class="chk" id="b_confirm"><input type="checkbox" name="confirmed" value="{len(ids)}">'
                   f' Yes, delete these {len(ids)} archives and their files</label>')
    else:
        hidden = '<input type="hidden" name="ids" id="b_ids" value="">'
        what = ('<p id="b_what"><b id="b_count">0</b> selected archives.<noscript> Without JavaScript, tick '
                'archives on the library\'s selection page (Select), or use “all results” of a search.'
                '</noscript></p>')
        confirm = ('<label class="chk" id="b_confirm"><input type="checkbox" name="confirmed" value="">'
                   ' Yes, delete the selected archives and their files</label>')
    err = f'<p class="error" role="alert" id="b_error">{esc(error)}</p>' if error else \
        '<p class="error" role="alert" id="b_error" hidden></p>'
    body = (f'<main class="narrow batch"><h1>Batch edit</h1>{what}{err}'
            f'<form method="post" action="/batch" id="batchform"><input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'{hidden}<fieldset class="ops"><legend>What to do</legend>{ops}</fieldset>'
            '<label class="row" data-op="add_tags remove_tags">Tags (comma-separated) <input type="text" name="tags" '
            'id="b_tags" autocomplete="off" placeholder="artist:name, language:english"></label>'
            f'<label class="row" data-op="plugin">Plugin <select name="plugin" id="b_plugin">{plugins}</select></label>'
            '<label class="row" data-op="plugin">Plugin argument (optional) <input type="text" name="arg" id="b_arg">'
            '</label>'
            f'<label class="row" data-op="category">Category <select name="category" id="b_cat">{cats}</select></label>'
            '<label class="row" data-op="tankoubon">Name of the new tankoubon (its volumes in the order you selected '
            'them) <input type="text" name="name" id="b_name" maxlength="500"></label>'
            f'<div data-op="delete">{confirm}</div>'
            '<button type="submit" id="b_run">Run</button></form>'
            '<p><a href="/">Back to the library</a></p></main>')
    return pages.layout(ctx, static, "Batch edit", body, authed=True, scripts=("batch.js",), styles=("batch.css",))


def status_json(ctx: Any, job: dict[str, Any]) -> dict[str, Any]:
    """What the progress page needs from a batch job: state, counts, and (once ended) the results."""
    notes = job.get("notes") or {}
    result: dict[str, Any] = job["result"] if isinstance(job.get("result"), dict) else {}
    answer: dict[str, Any] = {"job": job["id"], "state": job["state"], "op": job["args"][0].get("op") if
                              job["args"] and isinstance(job["args"][0], dict) else "",
                              "total": int(notes.get("total") or result.get("total") or 0),
                              "done": int(notes.get("done") or 0), "failed": int(notes.get("failed") or 0)}
    if job["state"] == "finished":
        listed, unlisted = batch.outcomes(ctx, result)
        answer.update(done=result.get("done", answer["done"]), total=result.get("total", answer["total"]),
                      failed=result.get("failed", 0), results=listed, unlisted=unlisted,
                      unlisted_failed=max(0, int(result.get("failed", 0)) - sum(1 for r in listed if not r["ok"])))
    elif job["state"] == "failed":
        answer["error"] = result.get("error") or "The job failed."
    return answer


def job_page(ctx: Any, static: dict[str, str], status: dict[str, Any]) -> str:
    """A batch job's progress bar and results, as they are now (batch.js keeps them up to date)."""
    total, done = status["total"], status["done"]
    percent = 100 if status["state"] == "finished" else (done * 100 // total if total else 0)
    rows = "".join(f'<li class="{"ok" if r["ok"] else "bad"}"><a href="/archive?id={esc(r["id"])}">'
                   f'{esc(r["title"] or r["id"])}</a> <span>{esc(r["message"])}</span></li>'
                   for r in status.get("results", []))
    more = "".join(f'<p id="b_{key}">{status[key]} more {verb} (not listed).</p>'
                   for key, verb in (("unlisted", "succeeded"), ("unlisted_failed", "failed")) if status.get(key))
    error = (f'<p class="error" role="alert" id="b_error">{esc(status["error"])}</p>' if status.get("error")
             else '<p class="error" role="alert" id="b_error" hidden></p>')
    body = (f'<main class="narrow batch" id="batchjob" data-job="{int(status["job"])}" '
            f'data-state="{esc(status["state"])}"><h1>Batch: {esc(OP_LABELS.get(status["op"], status["op"]))}</h1>'
            f'<progress id="b_bar" max="100" value="{percent}">{percent} %</progress>'
            f'<p id="b_progress" role="status"><span id="b_pct">{percent}</span> % &middot; <span id="b_done">{done}'
            f'</span> of <span id="b_total">{total}</span> done, <span id="b_failed">{status["failed"]}</span> failed'
            f' &middot; <span id="b_state">{esc(status["state"])}</span></p>{error}'
            f'<ul class="results" id="b_results">{rows}</ul>{more}'
            '<p><a href="/">Back to the library</a><noscript> &middot; reload this page to see the progress'
            '</noscript></p></main>')
    return pages.layout(ctx, static, "Batch edit", body, authed=True, scripts=("batch.js",), styles=("batch.css",))


def mount(app: bottle.Bottle, ctx: Any, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          require_login: Callable[[], None], local: Callable[[str], str]) -> None:
    """Add the batch routes to the web UI (called by web.mount, which owns the helpers passed here)."""
    skip = ["lrr_api"]
    act = Actions(ctx, static, authed=authed, require_login=require_login, local=local)

    def batch_job(job_id: str) -> dict[str, Any] | None:
        job = ctx.jobs.get(int(job_id)) if job_id.isdigit() and len(job_id) < 12 else None
        return job if job is not None and job["task"] == batch.TASK else None

    @app.get("/batch", skip=skip)
    @page
    def batch_view() -> str:
        require_login()
        query = bottle.request.query
        job_id = query.get("job") or ""
        if job_id:
            job = batch_job(job_id)
            if job is None:
                bottle.response.status = 404
                return pages.message_page(ctx, static, "Not found", "No batch job with this number.", authed=True)
            return job_page(ctx, static, status_json(ctx, job))
        csrf = webforms.csrf_for_page(ctx)
        op = query.get("op") or "add_tags"
        if query.get("all") == "1":
            search = search_of(query)
            _, count = batch.resolve_search(ctx, search, limit=1)
            return form_page(ctx, static, csrf, search, count, op=op)
        # the no-JS selection page (library ?select=1) sends its ticked boxes here: id=…&id=…, in grid order
        picked = list(dict.fromkeys(i.lower() for i in query.getall("id") if _ID.fullmatch(i.lower())))
        return form_page(ctx, static, csrf, None, 0, ids=picked[:batch.MAX_SELECTED] or None, op=op)

    @app.get("/batch/status", skip=skip)
    @page
    def batch_status() -> bytes:
        if not authed():
            return webforms.json_answer({"error": webforms.LOGIN}, 401)
        job = batch_job(bottle.request.query.get("job") or "")
        if job is None:
            return webforms.json_answer({"error": "No batch job with this number."}, 404)
        return webforms.json_answer(status_json(ctx, job))

    def selected_ids() -> str:
        """The selection: a form field, or (batch.js) a file part, since Bottle refuses form fields past
        100 KB and 10,000 IDs are 410 KB. Read with a bound: a larger part is cut, then refused as too many."""
        part = bottle.request.files.get("ids")
        if part is None:
            return webforms.form("ids")
        return part.file.read(SELECTION_BYTES).decode("ascii", "replace")

    @app.post("/batch", skip=skip)
    @page
    @act.post("/batch")
    def batch_submit() -> bytes | str:
        form = webforms.form
        args: dict[str, Any] = {"op": form("op"), "tags": form("tags"), "plugin": form("plugin"), "arg": form("arg"),
                                "category": form("category")}
        search = None
        picked: list[str] = []
        try:
            if form("all") == "1":
                search = search_of(bottle.request.forms)
                _, count = batch.resolve_search(ctx, search, limit=1)
                if count > batch.MAX_ARCHIVES:
                    raise Invalid(f"This search matches {count:,} archives: at most {batch.MAX_ARCHIVES:,} in one "
                                  "batch.")
                if count == 0:
                    raise Invalid("This search matches no archive.")
                args["search"] = search
            else:
                ids = [i.strip().lower() for i in selected_ids().split(",") if i.strip()]
                if not all(_ID.fullmatch(i) for i in ids):
                    raise Invalid("The selection holds something that is not an archive ID.")
                picked = list(dict.fromkeys(ids))  # in selection order: a new tankoubon's volumes keep it
                count = len(picked)
                if count > batch.MAX_SELECTED:
                    raise Invalid(f"At most {batch.MAX_SELECTED:,} selected archives in one batch: for more, use "
                                  "“all results” of a search.")
                if args["op"] != "tankoubon":
                    args.update(batch.selection(ctx, picked))  # the job's args: row numbers, packed
            if args["op"] == "tankoubon":
                ids = picked if search is None else batch.resolve_search(ctx, search, batch.MAX_SELECTED)[0]
                tank_id = batch.new_tankoubon(ctx, form("name"), ids)
                log.info("tankoubon %s made from a selection of %d archives on the web page", tank_id, len(ids))
                url = local(f"/tankoubons/edit?id={quote(tank_id, safe='')}&done=created")
                if webforms.wants_json():
                    return webforms.json_answer({"ok": 1, "tank": tank_id, "count": len(ids), "url": url})
                bottle.redirect(url, 303)
            if args["op"] == "category" and args["category"]:
                try:  # gone since the form was loaded: said as the category pages say it, before any job
                    collections.get_category(ctx.db, args["category"])
                except NotFound:
                    raise NotFound(collection_routes.GONE_CATEGORY) from None
            if args["op"] == "delete":
                # the user confirmed deleting exactly this many: a stale form or a changed search is refused
                if form("confirmed") != str(count):
                    raise Invalid(f"Confirm the deletion of {count} archive{'' if count == 1 else 's'} first.")
                args["confirmed"] = count
            batch.validate(args)
        except DomainError as exc:
            if webforms.wants_json():
                return webforms.json_answer({"error": exc.message}, webforms.status_of(exc))
            bottle.response.status = webforms.status_of(exc)
            csrf = webforms.csrf_for_page(ctx)
            # no JS: the form again with its selection (a script's failure is answered with JSON above)
            fixed = picked if search is None else None
            return form_page(ctx, static, csrf, search, count if search is not None else 0, exc.message,
                             ids=fixed, op=args["op"])
        job = ctx.jobs.enqueue(batch.TASK, [args])
        log.info("batch job %d (%s) queued from the web page for %d archives", job, args["op"], count)
        url = local("/batch?" + urlencode({"job": job}))
        if webforms.wants_json():
            return webforms.json_answer({"ok": 1, "job": job, "count": count, "url": url})
        bottle.redirect(url, 303)
        raise AssertionError("bottle.redirect raises")
