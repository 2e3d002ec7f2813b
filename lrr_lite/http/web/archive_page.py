"""Server-side HTML of the archive page (/archive?id=): the archive's facts, its tags by namespace, and, for a
browser that may edit, the edit form, the plugin runner, the cover picker and the delete confirmation.

Everything shows and works without JavaScript: the panels open with CSS `:target` (the Edit, Set cover and
Delete buttons are links to #edit, #cover, #delete) and submit plain forms. archive.js adds tag chips with
autocomplete, saving without leaving the page, the plugin diff and the page picker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from lrr_lite.http.web.collection_pages import category_add_form, category_remove_button
from lrr_lite.http.web.pages import _date_of, cover_url, esc, layout, mark_buttons, progress_bar, tag_search
from lrr_lite.library.collections import list_categories
from lrr_lite.library.tags import split_tags

PALETTE = 8  # namespace colours .n0 … .n7 in style.css; archive.js computes the same index


def ns_colour(namespace: str) -> int:
    """A stable colour index for a namespace (archive.js's nsColour is the same function)."""
    h = 0
    for ch in namespace.lower():
        h = (h * 31 + ord(ch)) % 1000003
    return h % PALETTE


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _day(epoch: int) -> str:
    """A date in ISO form (UTC); archive.js rewrites it in the browser's locale and time zone."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    return f'<time class="day" datetime="{stamp}">{time.strftime("%Y-%m-%d", time.gmtime(epoch))}</time>'


def tag_groups(tags: str) -> tuple[list[tuple[str, list[str]]], dict[str, int]]:
    """([(namespace, [full tags])] in first-seen order, plain tags last; {date label: epoch})."""
    groups: dict[str, list[str]] = {}
    dates: dict[str, int] = {}
    for tag in split_tags(tags):
        found = _date_of(tag)
        if found is not None:
            dates[found[0]] = found[1]
            continue
        ns, sep, _ = tag.partition(":")
        groups.setdefault(ns.strip().lower() if sep else "", []).append(tag)
    plain = groups.pop("", None)
    ordered = list(groups.items())
    if plain:
        ordered.append(("", plain))
    return ordered, dates


def tag_link(tag: str) -> str:
    ns, sep, text = tag.partition(":")
    colour = ns_colour(ns.strip()) if sep else "x"
    href = "/?q=" + quote_plus(tag_search(tag), safe=":$")
    return f'<a class="tag n{colour}" href="{esc(href)}">{esc(text.strip() if sep else tag)}</a>'


def tag_chip(tag: str) -> str:
    """A whole tag (namespace included) as a coloured chip, not a link."""
    ns, sep, _ = tag.partition(":")
    return f'<span class="tag n{ns_colour(ns.strip()) if sep else "x"}">{esc(tag)}</span>'


@dataclass
class EditState:
    """What the edit panel shows: the stored values, or a submission sent back (a conflict, a plugin
    proposal). `notice` is trusted HTML built here; everything else is escaped when rendered."""
    title: str
    tags: str
    summary: str
    version: str
    open: bool = False
    notice: str = ""
    plugin: str = ""
    arg: str = ""


@dataclass
class Editing:
    csrf: str
    plugins: list[dict[str, Any]] = field(default_factory=list)
    state: EditState | None = None


def conflict_notice(current: dict[str, Any], reload_url: str) -> str:
    """The no-JS conflict message: the stored values beside the user's, which stay in the form."""
    tags = "".join(tag_chip(t) for t in split_tags(current.get("tags") or ""))
    return ('<div class="diff conflict" role="alert" id="conflict-msg"><p class="error">Not saved: someone else '
            'changed this archive since you opened it. Stored now:</p><dl class="facts">'
            f'<dt>Title</dt><dd>{esc(current.get("title") or "")}</dd>'
            f'<dt>Tags</dt><dd class="tagrow">{tags or "none"}</dd>'
            f'<dt>Summary</dt><dd class="pre">{esc(current.get("summary") or "") or "none"}</dd></dl>'
            '<p>Your values are in the form below. Save again to replace the stored ones with them, or '
            f'<a href="{esc(reload_url)}">reload</a> to start from the stored ones.</p></div>')


def plugin_notice(namespace: str, result: dict[str, Any], before: dict[str, str], reload_url: str) -> str:
    """The no-JS plugin proposal: what it adds or changes; the form below holds it, unsaved."""
    if not result.get("success"):
        return f'<p class="error" role="alert">{esc(namespace)} failed: {esc(result.get("error") or "no reason")}</p>'
    data = result.get("data") or {}
    added = "".join(f'<span class="chip add">+ {esc(t)}</span>' for t in split_tags(data.get("new_tags") or ""))
    rows = f"<dt>Tags</dt><dd class=tagrow>{added or 'nothing new'}</dd>"
    if data.get("title") and data["title"] != before["title"]:
        rows += f'<dt>Title</dt><dd><del>{esc(before["title"])}</del> &rarr; <ins>{esc(data["title"])}</ins></dd>'
    if data.get("summary") and data["summary"] != before["summary"]:
        rows += f'<dt>Summary</dt><dd class="pre"><ins>{esc(data["summary"])}</ins></dd>'
    return (f'<div class="diff" role="status" id="plugin-msg"><p>{esc(namespace)} proposes:</p>'
            f'<dl class="facts">{rows}</dl><p>It is in the form below, not saved: Save to keep it, or '
            f'<a href="{esc(reload_url)}">reload</a> to discard it.</p></div>')


def archive_page(ctx, static: dict[str, str], archive: dict[str, Any], *, categories: list[dict[str, Any]],
                 tanks: list[dict[str, Any]], authed: bool, editing: Editing | None, notice: str = "") -> str:
    aid = archive["arcid"]
    qid = quote(aid, safe="")
    title = archive["title"] or archive["filename"]
    groups, dates = tag_groups(archive.get("tags") or "")
    pages = int(archive.get("pagecount") or 0)
    progress = int(archive.get("progress") or 0)

    rows = "".join(
        f'<dt>{esc(ns or "tags")}</dt><dd class="tagrow">{"".join(tag_link(t) for t in tags)}</dd>'
        for ns, tags in groups)
    tag_html = f'<dl class="nstags" id="atags">{rows}</dl>' if rows else '<p class="empty" id="atags">No tags.</p>'
    file_name = f'{archive["filename"]}.{archive["extension"]}' if archive.get("extension") else archive["filename"]
    facts = [("File", esc(file_name)),
             ("Size", esc(human_size(int(archive.get("size") or 0)))),
             ("Format", esc(str(archive.get("extension") or "?").upper())),
             ("Pages", str(pages))]
    for label, epoch in dates.items():
        facts.append(("Added" if label == "added" else "Posted", _day(epoch)))
    shown = min(progress, pages) if pages else 0
    facts.append(("Progress", f'<progress id="aprogress" max="{max(pages, 1)}" value="{shown}"></progress> '
                              f'{f"page {progress} of {pages}" if progress else "not started"}'))
    # with the right to edit, a static category's chip has an x, and a select adds to another one
    # (collection_routes.py answers both)
    cat_links = "".join(
        f'<span class="catchip"><a class="chip" href="{esc("/?cat=" + quote(c["id"], safe=""))}">{esc(c["name"])}</a>'
        f'{category_remove_button(aid, c, editing.csrf) if editing is not None and not c["search"] else ""}</span>'
        for c in categories)
    if editing is not None:
        cat_links += category_add_form(aid, categories, [c for c in list_categories(ctx.db) if not c["search"]],
                                       editing.csrf)
    if cat_links:
        facts.append(("Categories", cat_links))
    if tanks:
        facts.append(("Tankoubons", "".join(f'<a class="chip" href="{esc("/tank?id=" + quote(t["id"], safe=""))}">'
                                            f'{esc(t["name"])}</a>' for t in tanks)))
    fact_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    summary = archive.get("summary") or ""
    summary_html = (f'<p class="pre" id="asummary">{esc(summary)}</p>' if summary
                    else '<p class="empty" id="asummary">No summary.</p>')
    new = '<span class="new">NEW</span>' if archive.get("isnew") == "true" else ""

    buttons = [f'<a class="btn main" id="b_read" href="/reader?id={qid}">Read</a>',
               f'<a class="btn" id="b_download" href="/api/archives/{qid}/download" download>Download</a>']
    if editing is not None:
        # mark read / unread / clear NEW: plain POSTs (archive_routes.archive_mark), back to this page
        marks = mark_buttons(archive, ids=True, tracked=not ctx.settings.get("localprogress"))
        if marks:
            buttons.append(f'<form method="post" action="/archive/mark" class="marks" id="markform">'
                           f'<input type="hidden" name="csrf" value="{esc(editing.csrf)}"><input type="hidden" '
                           f'name="back" value="{esc("/archive?id=" + qid)}">{marks}</form>')
        buttons += ['<a class="btn" id="b_edit" href="#edit">Edit</a>',
                    '<a class="btn" id="b_cover" href="#cover">Set cover</a>',
                    '<a class="btn danger" id="b_delete" href="#delete">Delete</a>']
    elif ctx.settings.get("enablepass"):
        buttons.append(f'<a class="btn" href="/login?next={quote("/archive?id=" + aid, safe="")}">Log in to edit</a>')

    body = (f'<main class="arch" id="archive" data-id="{esc(aid)}" data-pages="{pages}">{notice}'
            f'<div class="ahead"><div class="acover"><a href="/reader?id={qid}" title="Read">'
            f'<img id="acover" src="{esc(cover_url(ctx, aid))}" alt="Cover">{new}{progress_bar(progress, pages)}</a></div>'
            f'<div class="ainfo"><h1 id="atitle">{esc(title)}</h1><nav class="acts">{"".join(buttons)}</nav>'
            f'{_panels(aid, pages, file_name, editing) if editing is not None else ""}'
            f'{summary_html}{tag_html}<dl class="facts" id="afacts">{fact_html}</dl></div></div></main>')
    return layout(ctx, static, str(title), body, authed=authed, scripts=("archive.js",),
                  styles=("archive.css",))


def _hidden(aid: str, csrf: str) -> str:
    return f'<input type="hidden" name="id" value="{esc(aid)}"><input type="hidden" name="csrf" value="{esc(csrf)}">'


def _panels(aid: str, pages: int, filename: str, editing: Editing) -> str:
    state = editing.state
    assert state is not None
    hidden = _hidden(aid, editing.csrf)
    options = "".join(f'<option value="{esc(p["namespace"])}" data-arg="{esc(p.get("oneshot_arg") or "")}"'
                      f'{" selected" if p["namespace"] == state.plugin else ""}>{esc(p["name"])}</option>'
                      for p in editing.plugins)
    edit = (f'<section id="edit" class="panel{" open" if state.open else ""}" aria-label="Edit">'
            f'<h2>Edit</h2>{state.notice}'
            f'<form method="post" action="/archive/edit" id="editform" class="editform">{hidden}'
            f'<input type="hidden" name="version" id="e_version" value="{esc(state.version)}">'
            f'<label for="e_title">Title</label><input type="text" name="title" id="e_title" '
            f'value="{esc(state.title)}" maxlength="1000" required>'
            f'<label for="e_tags">Tags <small>(comma-separated, namespace:tag)</small></label>'
            f'<textarea name="tags" id="e_tags" rows="3">{esc(state.tags)}</textarea>'
            f'<label for="e_summary">Summary</label>'
            f'<textarea name="summary" id="e_summary" rows="4">{esc(state.summary)}</textarea>'
            '<div id="e_conflict" class="diff conflict" role="alert" hidden></div>'
            '<div class="row"><button type="submit" id="e_save" class="main">Save</button>'
            '<a class="btn" href="#" id="e_cancel">Close</a><span id="e_status" role="status"></span></div></form>'
            f'<form method="post" action="/archive/plugin" id="pluginform" class="plugform">{hidden}'
            f'<label for="p_plugin">Run a metadata plugin</label><div class="row">'
            f'<select name="plugin" id="p_plugin">{options}</select>'
            f'<input type="text" name="arg" id="p_arg" value="{esc(state.arg)}" placeholder="Argument (optional)">'
            '<button type="submit" id="p_run">Preview</button></div>'
            '<div id="p_result" hidden></div></form></section>')
    cover = (f'<section id="cover" class="panel" aria-label="Set cover"><h2>Set cover</h2>'
             f'<form method="post" action="/archive/cover" id="coverform">{hidden}'
             f'<div class="row"><label for="c_page">Page</label><input type="number" name="page" id="c_page" '
             f'min="1" max="{max(pages, 1)}" value="1" required><button type="submit" id="c_set">Use as cover</button>'
             '<a class="btn" href="#">Close</a></div></form>'
             '<div id="c_pick" class="pick" data-pages="' + str(pages) + '"></div></section>')
    delete = (f'<section id="delete" class="panel" aria-label="Delete"><h2>Delete</h2>'
              f'<form method="post" action="/archive/delete" id="deleteform">{hidden}'
              f'<p>This deletes <strong>{esc(filename)}</strong> from the server\'s disk and removes the archive from the '
              'library, its categories and tankoubons. It can\'t be undone.</p><div class="row">'
              '<button type="submit" id="d_confirm" class="danger">Delete the file for good</button>'
              '<a class="btn" href="#" id="d_cancel">Cancel</a></div></form></section>')
    return edit + cover + delete
