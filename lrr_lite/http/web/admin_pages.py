"""Server-side HTML of the maintenance page (/admin: jobs, maintenance buttons, backup and restore, plugins, the
server log) and the statistics page (/statistics). Plain forms and a server-rendered job list: everything shows
and works without JavaScript; admin.js polls the job list and moves the progress bars.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from lrr_lite.http.web.archive_page import ns_colour
from lrr_lite.http.web.pages import esc, layout, tag_search

STYLES = ("archive.css", "manage.css")

TASKS = {"scan_library": "Rescan", "regen_all_thumbnails": "Thumbnails", "restore_backup": "Restore",
         "backup_json": "Backup", "thumbnail_task": "Cover", "tank_thumbnail_task": "Tank cover",
         "page_thumbnails": "Page thumbnails", "download_url": "Download", "handle_upload": "Upload",
         "run_plugin": "Plugin", "find_duplicates": "Duplicates", "extract_archive": "Extract",
         "build_stat_hashes": "Statistics"}
# (done, total) note pairs the tasks write (library/tasks.py)
PAIRS = (("processed", "total"), ("archives_processed", "total_archives"), ("extracted", "total_pages"),
         ("done", "total"))


def job_progress(job: dict[str, Any]) -> dict[str, Any]:
    """What the job list shows of a job: {"value", "max"} for the bar (value None: moving, no known total),
    and a line of text. The same function feeds the HTML and /admin/jobs.json."""
    notes = job["notes"] if isinstance(job["notes"], dict) else {}
    result = job["result"]
    state = job["state"]
    if state == "finished":
        return {"value": 1, "max": 1, "text": _result_text(job["task"], result)}
    if state == "failed":
        error = result.get("error") if isinstance(result, dict) else None
        return {"value": 0, "max": 1, "text": "Failed: " + str(error or "unknown error")}
    if state == "inactive":
        return {"value": 0, "max": 1, "text": "Queued"}
    for done_key, total_key in PAIRS:
        done, total = notes.get(done_key), notes.get(total_key)
        if isinstance(done, int) and isinstance(total, int) and total > 0:
            return {"value": min(done, total), "max": total, "text": f"{done} of {total}"}
    if job["task"] == "page_thumbnails" and isinstance(notes.get("total_pages"), int):
        done = sum(1 for k in notes if k.isdigit())
        return {"value": done, "max": max(1, notes["total_pages"]), "text": f"{done} of {notes['total_pages']} pages"}
    if job["task"] == "scan_library" and "seen" in notes:
        return {"value": None, "max": 1, "text": f"{notes.get('seen')} files seen, {notes.get('added', 0)} added"}
    return {"value": None, "max": 1, "text": "Running"}


def _result_text(task: str, result: Any) -> str:
    if not isinstance(result, dict):
        return "Done"
    if task == "scan_library":
        return (f"Done: {result.get('seen', 0)} files, {result.get('added', 0)} added, "
                f"{result.get('updated', 0)} updated, {result.get('failed', 0)} failed")
    if task == "restore_backup":
        return (f"Done: {result.get('archives', 0)} archives, {result.get('categories', 0)} categories, "
                f"{result.get('tankoubons', 0)} tankoubons restored")
    if task == "regen_all_thumbnails" and "processed" in result:
        return f"Done: {result.get('processed')} covers"
    if result.get("errors"):
        return f"Done, with {len(result['errors'])} error(s)"
    return "Done"


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    return {"id": job["id"], "task": job["task"], "label": TASKS.get(job["task"], job["task"]),
            "state": job["state"], "created": job["created"], **job_progress(job)}


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    return f'<time datetime="{stamp}">{time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))}</time>'


def job_row(job: dict[str, Any]) -> str:
    shown = job_json(job)
    value = "" if shown["value"] is None else f' value="{shown["value"]}"'
    return (f'<tr data-id="{shown["id"]}" class="{esc(shown["state"])}"><td>{shown["id"]}</td>'
            f'<td>{esc(shown["label"])}</td><td class="state">{esc(shown["state"])}</td>'
            f'<td><progress max="{shown["max"]}"{value}></progress> <span class="jt">{esc(shown["text"])}</span></td>'
            f'<td class="dim">{_when(job["created"])}</td></tr>')


@dataclass
class Restore:
    """A checked upload waiting for the user's yes: its token and what it would change."""
    token: str
    name: str
    archives: int
    matching: int
    categories: int
    categories_here: int
    categories_replaced: int
    tanks: int
    tanks_here: int
    tanks_replaced: int
    archives_here: int


def _csrf(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def _button(csrf: str, action: str, label: str, bid: str, note: str = "") -> str:
    return (f'<form method="post" action="/admin/run" class="tool">{_csrf(csrf)}'
            f'<input type="hidden" name="action" value="{esc(action)}">'
            f'<button type="submit" id="{esc(bid)}">{esc(label)}</button>'
            f'{f"<small>{esc(note)}</small>" if note else ""}</form>')


def restore_confirm(r: Restore, csrf: str) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (f'<section class="box warn" id="restore-confirm"><h2>Restore {esc(r.name)}?</h2>'
            '<p>This backup will change:</p><ul id="restore-changes">'
            f'<li><b>Archives:</b> the backup has {plural(r.archives, "archive")}; {r.matching} of them are in '
            f'this library (of {r.archives_here} here) and get the backup\'s title, tags and summary. '
            'The others are skipped.</li>'
            f'<li><b>Categories:</b> the backup has {r.categories} (here now: {r.categories_here}); '
            f'{r.categories_replaced} with the same ID are replaced, {r.categories - r.categories_replaced} added.</li>'
            f'<li><b>Tankoubons:</b> the backup has {r.tanks} (here now: {r.tanks_here}); '
            f'{r.tanks_replaced} with the same ID are replaced, {r.tanks - r.tanks_replaced} added.</li></ul>'
            '<p>Nothing is deleted. It runs as one job, all or nothing.</p>'
            f'<form method="post" action="/admin/restore" class="row">{_csrf(csrf)}'
            f'<input type="hidden" name="token" value="{esc(r.token)}">'
            '<button type="submit" class="danger" id="r_confirm">Restore this backup</button>'
            '<a class="btn" href="/admin#backup" id="r_cancel">Cancel</a></form></section>')


def admin_page(ctx, static: dict[str, str], jobs: list[dict[str, Any]], plugins: list[dict[str, Any]],
               log_tail: str, csrf: str, *, notice: str = "", restore: Restore | None = None,
               authed: bool) -> str:
    rows = "".join(job_row(j) for j in jobs)
    job_html = ('<table class="jobs" id="jobs"><thead><tr><th>#</th><th>Job</th><th>State</th><th>Progress</th>'
                f'<th>Queued</th></tr></thead><tbody id="jobrows">{rows}</tbody></table>'
                + ('' if rows else '<p class="empty" id="nojobs">No jobs yet.</p>')
                + '<noscript><p class="dim">Reload the page to see the jobs move on.</p></noscript>')
    tools = "".join((
        _button(csrf, "rescan", "Rescan the content folder", "a_rescan", "adds new files, updates changed ones"),
        _button(csrf, "thumbs_missing", "Make missing thumbnails", "a_thumbs"),
        _button(csrf, "thumbs_all", "Regenerate all thumbnails", "a_thumbs_all", "slow on a big library"),
        _button(csrf, "clean", "Clean the database", "a_clean", "removes records whose file is gone (a backup is "
                "written first)"),
        _button(csrf, "clear_new", "Clear all new flags", "a_clear_new"),
    ))
    backup = (f'<section class="box" id="backup"><h2>Backup and restore</h2>'
              f'<form method="post" action="/admin/backup" class="tool">{_csrf(csrf)}'
              '<button type="submit" id="b_download">Download a backup</button>'
              '<small>metadata, categories, tankoubons (JSON)</small></form>'
              f'<form method="post" action="/admin/restore/check" enctype="multipart/form-data" class="tool" '
              f'id="restoreform">{_csrf(csrf)}<label for="r_file">Restore from a backup file</label>'
              '<input type="file" name="file" id="r_file" accept=".json,application/json" required>'
              '<button type="submit" id="r_check">Check it</button>'
              '<small>you will see what changes before anything is written</small></form></section>')
    plug_rows = "".join(_plugin_form(p, csrf) for p in plugins)
    plug_html = (f'<section class="box" id="plugins"><h2>Plugins</h2><p class="dim">Auto-run: the plugin runs on '
                 f'every new archive.</p>{plug_rows or "<p class=empty>No plugins.</p>"}</section>')
    log_html = f'<section class="box" id="logs"><h2>Server log</h2>{log_tail}</section>'
    body = (f'<main class="manage" id="admin"><h1>Maintenance</h1>{notice}'
            f'{restore_confirm(restore, csrf) if restore else ""}'
            f'<section class="box" id="jobsbox"><h2>Jobs</h2>{job_html}</section>'
            f'<section class="box" id="tools"><h2>Library</h2><div class="tools">{tools}</div>'
            '<p><a href="/statistics">Statistics and tag cloud</a></p></section>'
            f'{backup}{plug_html}{log_html}</main>')
    return layout(ctx, static, "Maintenance", body, authed=authed, styles=STYLES, scripts=("admin.js",))


def _plain(text: Any) -> str:
    """A descriptor's text as plain text: it holds HTML (`<br>`, entities) written for LANraragi's pages."""
    return html.unescape(re.sub(r"<[^>]*>", " ", str(text or ""))).strip()


def _plugin_form(p: dict[str, Any], csrf: str) -> str:
    ns = p["namespace"]
    fields = []
    for i, spec in enumerate(p["parameters"]):
        fid = f"pp_{ns}_{i}"
        value = p["values"].get(str(i))
        desc = esc(_plain(spec.get("desc") or spec.get("name") or f"Parameter {i + 1}"))
        if spec.get("type") == "bool":
            fields.append(f'<label class="chk"><input type="checkbox" name="p{i}" id="{esc(fid)}" value="1"'
                          f'{" checked" if value else ""}> {desc}</label>')
        else:
            kind = "number" if spec.get("type") == "int" else "text"
            fields.append(f'<label for="{esc(fid)}">{desc}</label><input type="{kind}" name="p{i}" '
                          f'id="{esc(fid)}" value="{esc(value if value is not None else "")}">')
    return (f'<details class="plugin" id="pl_{esc(ns)}"><summary><b>{esc(p["name"])}</b> '
            f'<span class="badge{" on" if p["enabled"] else ""}">{"auto-run" if p["enabled"] else "off"}</span> '
            f'<span class="dim">{esc(_plain(p.get("description")))}</span></summary>'
            f'<form method="post" action="/admin/plugin" class="pform">{_csrf(csrf)}'
            f'<input type="hidden" name="namespace" value="{esc(ns)}">'
            f'<label class="chk"><input type="checkbox" name="enabled" value="1" id="pe_{esc(ns)}"'
            f'{" checked" if p["enabled"] else ""}> Auto-run on new archives</label>{"".join(fields)}'
            f'<div><button type="submit" class="main" id="ps_{esc(ns)}">Save</button></div></form></details>')


def log_html(lines: list[str] | None, where: str, journal: bool) -> str:
    if journal:
        return ('<p id="logtail">The server runs under systemd: its logs are in the journal: '
                '<code>journalctl -u lrr-lite</code></p>')
    if lines is None:
        return f'<p class="empty" id="logtail">No log file at <code>{esc(where)}</code>.</p>'
    return (f'<p class="dim">The last {len(lines)} lines of <code>{esc(where)}</code>:</p>'
            f'<pre class="log" id="logtail">{esc(chr(10).join(lines))}</pre>')


# -- statistics -------------------------------------------------------------------------------------------------

def stats_page(ctx, static: dict[str, str], counts: list[tuple[str, str]], tags: list[dict[str, Any]],
               namespaces: list[tuple[str, int]], *, authed: bool) -> str:
    """`tags`: at least the cloud's and each shown namespace's top tags; `namespaces`: (namespace, how many
    distinct tags it has) of the namespaces shown, in order."""
    facts = "".join(f'<div><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in counts)
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for t in tags:
        by_ns.setdefault(t["namespace"], []).append(t)
    blocks = []
    for ns, count in namespaces:
        top = sorted(by_ns.get(ns, []), key=lambda t: (-t["weight"], t["text"]))[:12]
        items = "".join(f'<li><a href="{esc(_search(t))}">{esc(t["text"])}</a><span>{t["weight"]}</span></li>'
                        for t in top)
        label = ns or "(no namespace)"
        blocks.append(f'<section class="nsbox"><h3><span class="tag n{ns_colour(ns) if ns else "x"}">'
                      f'{esc(label)}</span> <small>{count:,} tag{"" if count == 1 else "s"}</small></h3><ol>{items}</ol></section>')
    cloud_tags = sorted(tags, key=lambda t: -t["weight"])[:80]
    cloud = ""
    if cloud_tags:
        high = math.log(cloud_tags[0]["weight"] + 1)
        low = math.log(cloud_tags[-1]["weight"] + 1)
        words = []
        for t in sorted(cloud_tags, key=lambda t: (t["namespace"], t["text"])):
            size = 1 + round(4 * (math.log(t["weight"] + 1) - low) / (high - low)) if high > low else 3
            name = f'{t["namespace"]}:{t["text"]}' if t["namespace"] else t["text"]
            words.append(f'<a class="w{size}" href="{esc(_search(t))}" title="{t["weight"]} archives">'
                         f'{esc(name)}</a>')
        cloud = f'<section class="box"><h2>Tag cloud</h2><p class="cloud" id="cloud">{" ".join(words)}</p></section>'
    body = (f'<main class="manage" id="stats"><h1>Statistics</h1><div class="counts" id="counts">{facts}</div>'
            f'{cloud}<section class="box"><h2>Top tags by namespace</h2><div class="nsgrid" id="topns">'
            f'{"".join(blocks) or "<p class=empty>No tags yet.</p>"}</div></section></main>')
    return layout(ctx, static, "Statistics", body, authed=authed, styles=STYLES)


def _search(t: dict[str, Any]) -> str:
    tag = f'{t["namespace"]}:{t["text"]}' if t["namespace"] else t["text"]
    return "/?q=" + quote_plus(tag_search(tag), safe=":$")
