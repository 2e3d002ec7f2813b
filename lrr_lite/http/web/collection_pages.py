"""Server-side HTML of the category manager (/categories) and the tankoubon editor (/tankoubons,
/tankoubons/edit?id=). Every control is a plain form: the pages work without JavaScript (reordering with the
up/down buttons, confirmations in <details>); collections.js adds drag & drop, in-place moves and inline
errors. Every interpolated value goes through `esc`.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, quote_plus

from lrr_lite.http.web.pages import cover_url, esc, layout

STYLES = ("archive.css", "manage.css")


def category_version(cat: dict[str, Any]) -> str:
    """A fingerprint of a category's name and search: the rename form carries the one it was loaded with."""
    return hashlib.sha1(f'{cat["name"]}\0{cat["search"]}'.encode()).hexdigest()[:16]


def _csrf(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def notice_html(text: str, ok: bool = True) -> str:
    if not text:
        return ""
    cls, role = ("ok", "status") if ok else ("error", "alert")
    return f'<p class="{cls}" id="notice" role="{role}">{esc(text)}</p>'


def _confirm(label: str, text: str, action: str, fields: str, button: str, bid: str) -> str:
    """A confirmation in a <details>: the first click opens it, the second (the red button) posts."""
    return (f'<details class="confirm"><summary class="btn danger">{esc(label)}</summary>'
            f'<form method="post" action="{action}">{fields}<p>{text}</p>'
            f'<button type="submit" class="danger" id="{esc(bid)}">{esc(button)}</button></form></details>')


# -- categories -----------------------------------------------------------------------------------------------

def categories_page(ctx, static: dict[str, str], cats: list[dict[str, Any]], csrf: str, *, notice: str = "",
                    authed: bool) -> str:
    create = (f'<section class="box"><h2>New category</h2><form method="post" action="/categories/create" '
              f'id="newcat" class="grid2">{_csrf(csrf)}'
              '<label for="nc_name">Name</label><input type="text" name="name" id="nc_name" maxlength="200" required>'
              '<label for="nc_search">Search <small>(optional: makes it dynamic)</small></label>'
              '<input type="text" name="search" id="nc_search" maxlength="1000" '
              'placeholder="e.g. artist:alice, -tag">'
              '<span></span><label class="chk"><input type="checkbox" name="pinned" value="1" id="nc_pinned"> '
              'Pinned (shown first on the library page)</label>'
              '<span></span><div><button type="submit" class="main" id="nc_create">Create</button></div></form>'
              '</section>')
    ordered = sorted(cats, key=lambda c: (c["pinned"] != "1", str(c["name"]).lower()))
    rows = "".join(_category_row(c, csrf) for c in ordered)
    listing = (f'<ul class="mlist" id="catlist">{rows}</ul>' if rows
               else '<p class="empty" id="catlist">No categories yet.</p>')
    body = (f'<main class="manage" id="categories"><h1>Categories</h1>{notice}{create}'
            f'<h2>{len(cats)} categor{"y" if len(cats) == 1 else "ies"}</h2>{listing}</main>')
    return layout(ctx, static, "Categories", body, authed=authed, styles=STYLES, scripts=("collections.js",))


def _category_row(cat: dict[str, Any], csrf: str) -> str:
    cid = cat["id"]
    fields = _csrf(csrf) + _hidden("id", cid)
    pinned = cat["pinned"] == "1"
    open_href = "/?cat=" + quote(cid, safe="")
    if cat["search"]:
        kind = (f'dynamic: <a class="dq" href="{esc("/?q=" + quote_plus(cat["search"], safe=":$"))}">'
                f'{esc(cat["search"])}</a>')
        search_field = (f'<label for="s_{esc(cid)}">Search</label><input type="text" name="search" '
                        f'id="s_{esc(cid)}" value="{esc(cat["search"])}" maxlength="1000" required>')
    else:
        n = len(cat["archives"])
        kind = f'static, {n} archive{"" if n == 1 else "s"}'
        search_field = ""
    pin = (f'<form method="post" action="/categories/pin" class="inline">{fields}'
           f'{_hidden("pinned", "0" if pinned else "1")}<button type="submit" class="pin">'
           f'{"Unpin" if pinned else "Pin"}</button></form>')
    rename = (f'<details class="edit"><summary class="btn">Rename</summary><form method="post" '
              f'action="/categories/update" class="grid2">{fields}{_hidden("was", category_version(cat))}'
              f'<label for="n_{esc(cid)}">Name</label><input type="text" name="name" id="n_{esc(cid)}" '
              f'value="{esc(cat["name"])}" maxlength="200" required>{search_field}'
              f'<span></span><div><button type="submit" class="main">Save</button></div></form></details>')
    delete = _confirm("Delete", f'Delete the category <strong>{esc(cat["name"])}</strong>? Its archives stay in '
                      'the library.', "/categories/delete", fields, "Delete the category", f"del_{cid}")
    badge = '<span class="badge">pinned</span>' if pinned else ""
    return (f'<li data-id="{esc(cid)}"><div class="mhead"><a class="mname" href="{esc(open_href)}">'
            f'{esc(cat["name"])}</a>{badge}<span class="dim">{kind}</span></div>'
            f'<div class="acts">{pin}{rename}{delete}</div></li>')


# -- tankoubons ----------------------------------------------------------------------------------------------

def tanks_page(ctx, static: dict[str, str], tanks: list[dict[str, Any]], csrf: str, *, notice: str = "",
               authed: bool) -> str:
    create = (f'<section class="box"><h2>New tankoubon</h2><form method="post" action="/tankoubons/create" '
              f'id="newtank" class="row">{_csrf(csrf)}<label for="nt_name">Name</label>'
              '<input type="text" name="name" id="nt_name" maxlength="200" required>'
              '<button type="submit" class="main" id="nt_create">Create</button></form></section>')
    rows = []
    for tank in tanks:
        tid = quote(tank["id"], safe="")
        n = len(tank["archives"])
        rows.append(f'<li data-id="{esc(tank["id"])}"><div class="mhead"><a class="mname" '
                    f'href="/tankoubons/edit?id={esc(tid)}">{esc(tank["name"])}</a>'
                    f'<span class="dim">{n} volume{"" if n == 1 else "s"}</span></div><div class="acts">'
                    f'<a class="btn" href="/tankoubons/edit?id={esc(tid)}">Edit</a>'
                    f'<a class="btn" href="/tank?id={esc(tid)}">View</a></div></li>')
    listing = (f'<ul class="mlist" id="tanklist">{"".join(rows)}</ul>' if rows
               else '<p class="empty" id="tanklist">No tankoubons yet.</p>')
    body = (f'<main class="manage" id="tankoubons"><h1>Tankoubons</h1>{notice}{create}'
            f'<h2>{len(tanks)} tankoubon{"" if len(tanks) == 1 else "s"}</h2>{listing}</main>')
    return layout(ctx, static, "Tankoubons", body, authed=authed, styles=STYLES, scripts=("collections.js",))


def tank_edit_page(ctx, static: dict[str, str], tank: dict[str, Any], members: list[dict[str, Any]],
                   csrf: str, *, query: str, found: list[dict[str, Any]], notice: str = "", authed: bool) -> str:
    tid = tank["id"]
    qtid = quote(tid, safe="")
    fields = _csrf(csrf) + _hidden("id", tid)
    meta = (f'<section class="box"><h2>Details</h2><form method="post" action="/tankoubons/update" id="tankform" '
            f'class="grid2">{fields}'
            f'<label for="t_name">Name</label><input type="text" name="name" id="t_name" value="{esc(tank["name"])}" '
            'maxlength="200" required>'
            f'<label for="t_summary">Summary</label><textarea name="summary" id="t_summary" rows="3">'
            f'{esc(tank["summary"] or "")}</textarea>'
            f'<label for="t_tags">Tags</label><textarea name="tags" id="t_tags" rows="2" '
            f'placeholder="namespace:tag, …">{esc(tank["tags"] or "")}</textarea>'
            f'<input type="hidden" name="version" id="t_version" value="{esc(tank.get("version") or "")}">'
            '<span></span><div><button type="submit" class="main" id="t_save">Save</button></div></form></section>')
    order = ",".join(m["arcid"] for m in members)
    items = []
    for n, arc in enumerate(members, start=1):
        aid = arc["arcid"]
        qa = quote(aid, safe="")
        title = arc.get("title") or arc.get("filename") or aid
        mfields = fields + _hidden("archive", aid)
        items.append(
            f'<li draggable="true" data-id="{esc(aid)}"><span class="grip" aria-hidden="true">&#8942;&#8942;</span>'
            f'<img src="{esc(cover_url(ctx, aid))}" alt="" loading="lazy">'
            f'<span class="pos">{n}</span><a class="mt" href="/archive?id={esc(qa)}">{esc(title)}</a>'
            f'<form method="post" action="/tankoubons/move" class="inline">{mfields}{_hidden("dir", "up")}'
            f'<button type="submit" class="up" aria-label="Move {esc(title)} up" title="Move up">&uarr;</button>'
            f'</form><form method="post" action="/tankoubons/move" class="inline">{mfields}{_hidden("dir", "down")}'
            f'<button type="submit" class="down" aria-label="Move {esc(title)} down" title="Move down">&darr;</button>'
            f'</form><form method="post" action="/tankoubons/member" class="inline">{mfields}'
            f'{_hidden("op", "remove")}<button type="submit" class="rm" aria-label="Remove {esc(title)}" '
            'title="Remove from the tankoubon">&times;</button></form></li>')
    vols = (f'<ol class="members" id="members" data-id="{esc(tid)}" data-order="{esc(order)}">{"".join(items)}</ol>'
            if items else '<p class="empty" id="members">No volumes yet: find archives below and add them.</p>')
    hint = ('<p class="dim">Drag a volume to move it, or use its &uarr; &darr; buttons (keyboard: Tab to a button, '
            'Enter).</p>' if len(items) > 1 else "")
    have = {m["arcid"] for m in members}
    results = []
    for arc in found:
        aid = arc["arcid"]
        if aid.startswith("TANK_"):
            continue
        title = arc.get("title") or arc.get("filename") or aid
        if aid in have:
            action = '<span class="dim">in it</span>'
        else:
            action = (f'<form method="post" action="/tankoubons/member" class="inline">{fields}'
                      f'{_hidden("archive", aid)}{_hidden("op", "add")}{_hidden("q", query)}'
                      f'<button type="submit" class="add" aria-label="Add {esc(title)}">Add</button></form>')
        results.append(f'<li data-id="{esc(aid)}"><img src="{esc(cover_url(ctx, aid))}" '
                       f'alt="" loading="lazy"><span class="mt">{esc(title)}</span>{action}</li>')
    if query:
        found_html = (f'<ul class="picks" id="picks">{"".join(results)}</ul>' if results
                      else '<p class="empty" id="picks">Nothing found.</p>')
    else:
        found_html = ""
    add = (f'<section class="box"><h2>Add volumes</h2><form method="get" action="/tankoubons/edit" class="row" '
           f'role="search">{_hidden("id", tid)}<input type="search" name="q" id="t_q" value="{esc(query)}" '
           'placeholder="Search the library" aria-label="Search archives to add">'
           f'<button type="submit" id="t_find">Find</button></form>{found_html}</section>')
    delete = _confirm("Delete tankoubon", f'Delete <strong>{esc(tank["name"])}</strong>? Its volumes stay in the '
                      'library.', "/tankoubons/delete", fields, "Delete the tankoubon", "t_delete")
    body = (f'<main class="manage" id="tankedit"><p><a href="/tankoubons">&larr; Tankoubons</a></p>'
            f'<h1>{esc(tank["name"])}</h1>{notice}'
            f'<div class="acts"><a class="btn" href="/tank?id={esc(qtid)}">View</a>{delete}</div>{meta}'
            f'<section class="box"><h2>Volumes ({len(members)})</h2>{hint}{vols}'
            '<p id="m_status" role="status"></p></section>'
            f'{add}</main>')
    return layout(ctx, static, str(tank["name"]), body, authed=authed, styles=STYLES, scripts=("collections.js",))


def stale_tank_notice(message: str, stored: dict[str, Any]) -> str:
    """A refused save of a tank's details: why, and what is stored now."""
    return (f'<div class="diff conflict" role="alert" id="t_conflict"><p class="error">{esc(message)}</p>'
            f'<dl class="facts"><dt>Name</dt><dd>{esc(stored.get("name") or "")}</dd>'
            f'<dt>Summary</dt><dd class="pre">{esc(stored.get("summary") or "") or "none"}</dd>'
            f'<dt>Tags</dt><dd>{esc(stored.get("tags") or "") or "none"}</dd></dl></div>')


# -- the archive page's category control ---------------------------------------------------------------------

def category_remove_button(aid: str, cat: dict[str, Any], csrf: str) -> str:
    """A small x after a static category's chip on the archive page: takes the archive out of it."""
    return (f'<form method="post" action="/categories/member" class="inline catrm">{_csrf(csrf)}'
            f'{_hidden("archive", aid)}{_hidden("id", cat["id"])}{_hidden("op", "remove")}'
            f'<button type="submit" class="x" aria-label="Remove from {esc(cat["name"])}" '
            f'title="Remove from {esc(cat["name"])}">&times;</button></form>')


def category_add_form(aid: str, member_of: list[dict[str, Any]], static_cats: list[dict[str, Any]],
                      csrf: str) -> str:
    """The archive page's select of the static categories it is not in yet, and an Add button."""
    inside = {c["id"] for c in member_of}
    options = "".join(f'<option value="{esc(c["id"])}">{esc(c["name"])}</option>'
                      for c in sorted(static_cats, key=lambda c: str(c["name"]).lower()) if c["id"] not in inside)
    if not options:
        return ""
    return (f'<form method="post" action="/categories/member" class="inline catadd" id="catadd">{_csrf(csrf)}'
            f'{_hidden("archive", aid)}{_hidden("op", "add")}'
            f'<select name="id" id="cat_pick" aria-label="Category">{options}</select>'
            '<button type="submit" id="cat_add">Add</button></form>')
