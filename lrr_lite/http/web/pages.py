"""Server-side HTML for the web UI: plain string building, every interpolated value through `esc`.

Nothing here trusts a title, a tag, a setting or a request parameter: text goes through `esc`
(html.escape with quotes), URLs are percent-encoded and then escaped. No inline scripts or styles, so the
Content-Security-Policy can forbid them.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from lrr_lite.http.api.files import thumbnail_version
from lrr_lite.http.web import session
from lrr_lite.library.collections import tank_cover_path
from lrr_lite.library.pages import cover_path
from lrr_lite.library.tags import split_tags
from lrr_lite.media.formats import ARCHIVE_EXTENSIONS

MAX_TAGS_SHOWN = 8
SORTS = (("title", "Title"), ("date_added", "Date added"), ("lastread", "Last read"))
ORDERS = (("asc", "Ascending"), ("desc", "Descending"))


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# -- layout ------------------------------------------------------------------------------------------------

PRODUCT = "lrr_lite"
# The site title and message of the day LANraragi ships with, which earlier lrr_lite versions used as their
# defaults (and a settings save stored): they name the wrong product, so the pages show lrr_lite's own instead.
# Any other value is the owner's choice and is shown as it is. /api/info keeps reporting the stored values.
LEGACY_TEXTS = {"htmltitle": ("LANraragi", PRODUCT),
                "motd": ("Welcome to this Library running LANraragi!", f"Welcome to this library running {PRODUCT}!")}


def shown_setting(ctx, key: str) -> str:
    """A text setting as the pages show it: the legacy LANraragi defaults replaced (LEGACY_TEXTS)."""
    value = str(ctx.settings.get(key) or "")
    legacy, ours = LEGACY_TEXTS.get(key, (None, ""))
    return ours if value == legacy else value


# the management pages (collection_routes.py, admin_routes.py), linked for a browser that may use them
MANAGE_LINKS = '<a href="/categories">Categories</a><a href="/tankoubons">Tankoubons</a><a href="/admin">Admin</a>'


def layout(ctx, static: dict[str, str], title: str, body: str, *, authed: bool, body_attrs: str = "",
           scripts: tuple[str, ...] = (), styles: tuple[str, ...] = (), nav: bool = True) -> str:
    site = shown_setting(ctx, "htmltitle") or PRODUCT
    head_title = f"{title} - {site}" if title else site
    style_tags = "".join(f'<link rel="stylesheet" href="{esc(static[s])}">' for s in styles)
    script_tags = "".join(f'<script src="{esc(static[s])}" defer></script>' for s in scripts)
    links = ""
    if nav:
        account = (logout_form(session.current_csrf(ctx)) if authed and ctx.settings.get("enablepass")
                   else "" if authed else '<a href="/login">Log in</a>')
        upload = '<a href="/upload">Upload</a>' if authed else ""
        links = (f'<header class="top"><a class="brand" href="/">{esc(site)}</a><nav>'
                 f'<a href="/">Library</a>{upload}{MANAGE_LINKS if authed else ""}'
                 f'<a href="/settings">Settings</a>{account}</nav></header>')
    prefix = ctx.config.base_url_path
    document = ("<!DOCTYPE html>\n"
                '<html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<title>{esc(head_title)}</title>'
                f'<link rel="stylesheet" href="{esc(static["style.css"])}">'
                f'{style_tags}'
                f'<link rel="icon" href="{esc(static["favicon.svg"])}" type="image/svg+xml">'
                f'{script_tags}</head><body data-base="{esc(prefix)}"{body_attrs}>{links}{body}</body></html>\n')
    return _under_prefix(document, prefix)


def logout_form(csrf: str, label: str = "Log out", cls: str = "linkish") -> str:
    """Logging out is a POST carrying the session's CSRF token: a link (or another site's <img>) must never
    act as the user. In the header the button is styled as a link (.linkish)."""
    return (f'<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" '
            f'value="{esc(csrf)}"><button type="submit" class="{esc(cls)}">{esc(label)}</button></form>')


def logout_page(ctx, static: dict[str, str], csrf: str, *, authed: bool) -> str:
    """GET /logout: a button, not an action (works without JS)."""
    body = ('<main class="narrow"><h1>Log out</h1><p>End this browser\'s session on this server?</p>'
            f'{logout_form(csrf, cls="")}</main>')
    return layout(ctx, static, "Log out", body, authed=authed)


# Every URL attribute this module writes is a root path ("/..."); interpolated text is escaped, so a
# quote inside a title can never open one of these attributes.
_ROOT_URL = re.compile(r'(\s(?:href|src|action)=")/(?!/)')


def _under_prefix(document: str, prefix: str) -> str:
    """The page with its root-path links moved under the URL prefix (SEMANTICS §20)."""
    return _ROOT_URL.sub(lambda m: m.group(1) + prefix + "/", document) if prefix else document


def message_page(ctx, static, title: str, message: str, *, authed: bool) -> str:
    return layout(ctx, static, title, f'<main class="narrow"><h1>{esc(title)}</h1><p>{esc(message)}</p>'
                  '<p><a href="/">Back to the library</a></p></main>', authed=authed)


# -- library -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LibraryState:
    q: str = ""
    sort: str = "title"
    order: str = "asc"
    new: bool = False
    untagged: bool = False
    cat: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query) -> LibraryState:
        def text(name: str, limit: int = 1000) -> str:
            try:
                value = query.getunicode(name) or ""
            except (UnicodeError, ValueError):
                value = ""
            return value[:limit]

        sort = text("sort")
        order = text("order")
        try:
            page = max(1, min(int(text("p", 12) or 1), 10**9))
        except ValueError:
            page = 1
        return cls(q=text("q"), sort=sort if sort in dict(SORTS) else "title",
                   order=order if order in dict(ORDERS) else "asc",
                   new=text("new") in ("1", "on", "true"), untagged=text("untagged") in ("1", "on", "true"),
                   cat=text("cat", 100), page=page)

    def url(self, **changes: Any) -> str:
        state = {**self.__dict__, **changes}
        params: list[tuple[str, str]] = []
        if state["q"]:
            params.append(("q", state["q"]))
        if state["sort"] != "title":
            params.append(("sort", state["sort"]))
        if state["order"] != "asc":
            params.append(("order", state["order"]))
        if state["new"]:
            params.append(("new", "1"))
        if state["untagged"]:
            params.append(("untagged", "1"))
        if state["cat"]:
            params.append(("cat", state["cat"]))
        if state["page"] > 1:
            params.append(("p", str(state["page"])))
        return "/?" + urlencode(params, quote_via=quote, safe=":$") if params else "/"


def tag_search(tag: str) -> str:
    """The filter that finds exactly this tag (§5.2: a trailing `$` makes a term exact)."""
    tag = tag.strip()
    if tag.startswith(("-", '"')) or '"' in tag:
        return tag
    return tag + "$"


# Tags that hold an epoch (SEMANTICS §4: date_added is written at import, timestamp by source plugins): a card
# shows them as a date, not as a `date_added:1796396660` chip nobody can read.
DATE_TAGS = {"date_added": "added", "timestamp": "posted"}
_MAX_EPOCH = 253402300799  # 9999-12-31: beyond, no calendar date to print


def _date_of(tag: str) -> tuple[str, int] | None:
    """(label, epoch) of a date tag with a plausible epoch value; None for any other tag."""
    ns, sep, value = tag.partition(":")
    label = DATE_TAGS.get(ns.strip().lower()) if sep else None
    value = value.strip()
    if label is None or not value.isascii() or not value.isdigit() or not 0 < int(value) <= _MAX_EPOCH:
        return None
    return label, int(value)


def _date(label: str, epoch: int) -> str:
    """The date in ISO form (UTC), which library.js rewrites in the browser's locale and time zone."""
    day = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    return f'<time class="date" datetime="{stamp}">{esc(label)} {day}</time>'


def cover_url(ctx, archive_id: str) -> str:
    """An archive's cover URL, versioned by the cover file's mtime and size. Covers are cached for an hour, so
    a cover changed on the archive page (or regenerated) would show late under one fixed URL; a new cover gets
    a new URL instead, and the cache stays long. No file yet: the plain URL (the placeholder is not cached).
    A tankoubon's ID (TANK_…) gives its own cover's URL, versioned the same way."""
    tank = archive_id.startswith("TANK_")
    url = f"/api/{'tankoubons' if tank else 'archives'}/{quote(archive_id, safe='')}/thumbnail"
    try:
        st = (tank_cover_path if tank else cover_path)(ctx.config.thumbs, archive_id).stat()
    except (OSError, ValueError):
        return url
    return f"{url}?v={thumbnail_version(st)}"


def progress_bar(progress: int, pages: int) -> str:
    """How far the archive is read, as a native <progress> over the cover's foot (its width is the fraction
    read, with no inline style for the Content-Security-Policy to refuse); nothing before the first page."""
    if progress <= 0 or pages <= 0:
        return ""
    # numbers need no quotes; terse, as 100 cards carry one (style.css: `a>progress`)
    done = " class=done" if progress >= pages else ""
    return f"<progress{done} max={pages} value={min(progress, pages)}></progress>"


MARKS_FORM = "marks"  # the one form of a page the cards' mark buttons submit (form= attribute): no form per card


def mark_buttons(archive: dict[str, Any], *, ids: bool = False, tracked: bool = True) -> str:
    """The mark read / mark unread / clear NEW buttons that apply to this archive now. Each carries its action
    and the archive in `mark` ("read:<id>"), so one form serves a whole grid (archive_routes.archive_mark).
    `ids`: the archive page's buttons (ids, in their own form; all that apply). Not `tracked` (localprogress):
    Clear NEW only."""
    aid = esc(archive["arcid"])
    pages = int(archive.get("pagecount") or 0)
    progress = int(archive.get("progress") or 0)
    isnew = archive.get("isnew") == "true"
    wanted = []
    if tracked and pages and progress < pages:
        wanted.append(("read", "Mark read"))
    # a card offers "Mark unread" only where "Mark read" is not (finished, or seen and not started): two
    # buttons at most keep 100 cards in budget; the archive page also resets an archive part read
    if tracked and (progress > 0 or not isnew) and (ids or not wanted):
        wanted.append(("unread", "Mark unread"))
    if isnew:
        wanted.append(("seen", "Clear NEW"))
    buttons = []
    for op, label in wanted:
        if ids:
            buttons.append(f'<button type="submit" id="m_{op}" name="mark" value="{op}:{aid}">{label}</button>')
        else:  # a card's: terse (100 a page), unquoted as the value is hex (see _card)
            buttons.append(f"<button form={MARKS_FORM} name=mark value={op}:{aid}>{label}</button>")
    return "".join(buttons)


def marks_form(csrf: str, back: str) -> str:
    """The form the cards' mark buttons belong to: the CSRF token and the page to come back to."""
    return (f'<form id="{MARKS_FORM}" method="post" action="/archive/mark"><input type="hidden" name="csrf" '
            f'value="{esc(csrf)}"><input type="hidden" name="back" value="{esc(back)}"></form>')


def _card(archive: dict[str, Any], cover: str = "", pick: bool = False, marks: bool = False,
          tracked: bool = True) -> str:
    """One result: the cover (a link to the reader) with a progress bar, the title (a link to the archive page),
    then pages, dates and tags, and for a browser that may write, a menu to mark it read or unread or clear NEW
    (kept terse: a full page of 100 cards must stay well under the 150 KB page budget)."""
    aid = quote(archive["arcid"], safe="")
    title = archive["title"] or archive["filename"]
    tags: list[str] = []
    dates: dict[str, int] = {}
    for tag in split_tags(archive.get("tags") or ""):
        found = _date_of(tag)
        if found is None:
            tags.append(tag)
        else:
            dates[found[0]] = found[1]  # the last one wins, as LANraragi's namespace sort takes the last
    shown = "".join(f'<a href="{esc("/?q=" + quote_plus(tag_search(t), safe=":$"))}">{esc(t)}</a>'
                    for t in tags[:MAX_TAGS_SHOWN])
    more = f"<span>+{len(tags) - MAX_TAGS_SHOWN}</span>" if len(tags) > MAX_TAGS_SHOWN else ""
    new = '<span class="new">NEW</span>' if archive.get("isnew") == "true" else ""
    pages = int(archive.get("pagecount") or 0)
    progress = int(archive.get("progress") or 0)
    count = esc(f"{progress}/{pages} p." if progress and pages else f"{pages} p." if pages else "")
    count += "".join(_date(label, epoch) for label, epoch in dates.items())
    if archive["arcid"].startswith("TANK_"):  # a tankoubon: its own cover, and a page listing its volumes
        href, cover = f"/tank?id={aid}", cover or f"/api/tankoubons/{aid}/thumbnail"
        new += '<span class="tank">TANK</span>'
        return (f'<li><a href="{esc(href)}"><img src="{esc(cover)}" loading="lazy" '
                f'alt="">{new}{progress_bar(progress, pages)}<b>{esc(title)}</b></a><i>{count}</i>'
                f'<div class="tags">{shown}{more}</div></li>')
    # The cover reads (one click to the reader, as in LANraragi's grid); the title opens the archive page
    # (details, edit, delete, as a title does in Komga and Kavita).
    cover = cover or f"/api/archives/{aid}/thumbnail"
    # the no-JS selection page (library ?select=1): a checkbox per card, in a form that opens the batch page
    box = (f'<input type="checkbox" class="pick" name="id" value="{esc(archive["arcid"])}" '
           f'aria-label="Select {esc(title)}">' if pick else "")
    # a <details> menu opens without JS; its buttons submit the page's one marks form
    # (only for a well-formed ID, 40 hex digits, which is safe in the buttons' unquoted values)
    hexid = len(aid) == 40 and all(c in "0123456789abcdefABCDEF" for c in aid)
    menu = (f'<details class=cm><summary title=Mark>&#8942;</summary><div>{mark_buttons(archive, tracked=tracked)}</div>'
            '</details>' if marks and not pick and hexid else "")
    return (f'<li>{box}<a href="/reader?id={esc(aid)}"><img src="{esc(cover)}" '
            f'loading="lazy" alt="">{new}{progress_bar(progress, pages)}</a>{menu}'
            f'<a href="/archive?id={esc(aid)}"><b>{esc(title)}</b></a>'
            f'<i>{count}</i><div class="tags">{shown}{more}</div></li>')


SHELF_SIZE = 12


def shelf(ctx, archives: list[dict[str, Any]]) -> str:
    """The "Continue reading" row: archives started and not finished, the last read first (records.
    continue_reading_ids). The cover resumes in the reader (which starts at the stored progress); nothing at
    all when there is nothing to continue."""
    if not archives:
        return ""
    items = []
    for a in archives:
        aid = esc(quote(a["arcid"], safe=""))
        pages, progress = int(a.get("pagecount") or 0), int(a.get("progress") or 0)
        items.append(f'<li><a title="Resume at page {progress}" href="/reader?id={aid}"><img src="'
                     f'{esc(cover_url(ctx, a["arcid"]))}" loading="lazy" alt="">{progress_bar(progress, pages)}</a>'
                     f'<a href="/archive?id={aid}"><b>{esc(a["title"] or a["filename"])}</b></a>'
                     f'<i>{progress}/{pages} p.</i></li>')
    return (f'<section class="shelf" id="shelf" aria-labelledby="shelf-h"><h2 id="shelf-h">Continue reading</h2>'
            f'<ul>{"".join(items)}</ul></section>')


def _select(name: str, options: tuple[tuple[str, str], ...], current: str) -> str:
    opts = "".join(f'<option value="{esc(v)}"{" selected" if v == current else ""}>{esc(label)}</option>'
                   for v, label in options)
    return f'<select name="{name}" aria-label="{name}">{opts}</select>'


def _pager(state: LibraryState, pages: int) -> str:
    if pages <= 1:
        return ""
    current = min(state.page, pages)
    wanted = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    parts: list[str] = []
    if current > 1:
        parts.append(f'<a rel="prev" href="{esc(state.url(page=current - 1))}">&larr; Prev</a>')
    last = 0
    for n in wanted:
        if n - last > 1:
            parts.append("<span>&hellip;</span>")
        parts.append(f'<b>{n}</b>' if n == current else f'<a href="{esc(state.url(page=n))}">{n}</a>')
        last = n
    if current < pages:
        parts.append(f'<a rel="next" href="{esc(state.url(page=current + 1))}">Next &rarr;</a>')
    return f'<nav class="pager" aria-label="pages">{"".join(parts)}</nav>'


def library_page(ctx, static, state: LibraryState, archives: list[dict[str, Any]], filtered: int, total: int,
                 page_size: int, categories: list[dict[str, Any]], *, authed: bool, selecting: bool = False,
                 reading: list[dict[str, Any]] | None = None, csrf: str = "") -> str:
    """The library: search form, category chips, the "Continue reading" shelf (`reading`, given for the first
    page of the whole library only), the cards. `csrf` (a browser that may write) adds the cards' mark menus."""
    chips = [f'<a class="chip{" on" if not state.cat else ""}" href="{esc(state.url(cat="", page=1))}">All</a>']
    for cat in sorted(categories, key=lambda c: (c["pinned"] != "1", str(c["name"]).lower())):
        on = " on" if cat["id"] == state.cat else ""
        chips.append(f'<a class="chip{on}" href="{esc(state.url(cat=cat["id"], page=1))}">{esc(cat["name"])}</a>')
    hidden_cat = f'<input type="hidden" name="cat" value="{esc(state.cat)}">' if state.cat else ""
    form = (f'<form class="search" method="get" action="/" role="search">'
            f'<input type="search" name="q" value="{esc(state.q)}" placeholder="Search title, artist:name, '
            f'-tag, &quot;exact&quot;$" aria-label="Search" id="q">{hidden_cat}'
            f'<button type="submit">Search</button>'
            f'<div class="opts">{_select("sort", SORTS, state.sort)}{_select("order", ORDERS, state.order)}'
            f'<label><input type="checkbox" name="new" value="1"{" checked" if state.new else ""}> New only</label>'
            f'<label><input type="checkbox" name="untagged" value="1"{" checked" if state.untagged else ""}>'
            f' Untagged only</label></div></form>')
    pages = max(1, math.ceil(filtered / page_size)) if page_size > 0 else 1
    summary = (f'<p class="summary" id="summary">{filtered} result{"" if filtered == 1 else "s"}'
               f' of {total} archives{f" &middot; page {min(state.page, pages)} of {pages}" if pages > 1 else ""}</p>')
    if total == 0:  # the empty-library hint says it all
        summary = ""
    selecting = selecting and authed
    marking = bool(csrf) and authed and not selecting
    tracked = not ctx.settings.get("localprogress")
    cards = "".join(_card(a, cover_url(ctx, a["arcid"]), selecting, marking, tracked) for a in archives)
    if cards and selecting:
        grid = (f'<form method="get" action="/batch" id="selform"><div class="selbar">'
                '<button type="submit" id="selsubmit">Edit selected</button>'
                '<button type="submit" name="op" value="category" id="selsubcat">Add to category</button>'
                '<button type="submit" name="op" value="tankoubon" id="selsubtank">New tankoubon</button>'
                f'<a href="{esc(state.url())}" id="selcancel">Cancel</a></div>'
                f'<ul class="grid selecting" id="grid">{cards}</ul></form>')
    elif cards:
        grid = f'<ul class="grid" id="grid">{cards}</ul>'
    elif total == 0:
        grid = empty_library(ctx, authed=authed)
    else:
        grid = '<p class="empty">Nothing found.</p>'
    if authed and cards and not selecting:  # the way into selection without JS; select.js hides it
        here = state.url()
        summary += (f'<p class="selbar" id="selplain"><a class="btn" id="selmode-plain" '
                    f'href="{esc(here + ("&" if "?" in here else "?") + "select=1")}">Select</a></p>')
    pager = _pager(state, pages)
    if selecting:  # paging stays in the no-JS selection page (each page's ticks go to the batch page on their own)
        pager = re.sub(r'href="([^"]*)"', lambda m: f'href="{m.group(1)}{"&amp;" if "?" in m.group(1) else "?"}'
                       'select=1"', pager)
    motd = shown_setting(ctx, "motd")
    body = (f'<main>{f"<p class=motd>{esc(motd)}</p>" if motd else ""}{form}'
            f'<nav class="chips" aria-label="categories">{"".join(chips)}</nav>'
            f'{"" if selecting else shelf(ctx, reading or [])}{summary}{pager}{grid}{pager}'
            f'{marks_form(csrf, state.url()) if marking and cards else ""}</main>')
    # a browser that may edit gets the selection mode for batch edits (select.js); a guest's page stays lean
    return layout(ctx, static, "", body, authed=authed, scripts=("library.js", "select.js") if authed else ("library.js",),
                  body_attrs=' data-select="1"' if authed else "", styles=("batch.css",) if authed else ())


COMMON_KINDS = ("cbz", "zip", "cbr", "rar", "cb7", "7z", "cbt", "tar", "pdf", "epub")


def empty_library(ctx, *, authed: bool) -> str:
    """What a library without a single archive says: where files go and the other ways in.

    The content folder's absolute path is shown only to a browser that may see protected pages (logged in, or
    password protection off, when every visitor may change the settings anyway): a filesystem path tells a
    stranger on the LAN about the server's disks and accounts, and anyone else can't put files there anyway."""
    common = [ext for ext in COMMON_KINDS if ext in ARCHIVE_EXTENSIONS]  # the full list is long and odd
    kinds = " ".join(f"<code>.{esc(ext)}</code>" for ext in common)
    kinds += " &hellip;" if len(common) < len(ARCHIVE_EXTENSIONS) else ""
    if authed:
        where = f'the content folder <code id="content-path">{esc(ctx.config.content)}</code>'
    else:
        where = 'the server\'s content folder (<a href="/login">log in</a> to see where it is)'
    config = ctx.config
    if config.watch == "off":  # nothing notices new files: say what does
        when = ("The next scan adds them: <code>lrr-lite scan</code>"
                f"{', or a restart of the server' if config.scan_on_start else ''}.")
    elif config.watch == "poll":
        when = f"They appear here within {config.poll_interval:.0f} s, no restart needed."
    else:
        when = "They appear here within seconds, no restart needed."
    return (f'<section class="empty" id="empty-library"><h2>Your library is empty</h2>'
            f'<p>Put archive files ({kinds}) in {where}. Sub-folders are fine. {when} '
            'A file that can\'t be read is named in the server\'s log, with the reason.</p>'
            '<p>Or send them over HTTP with the API key: <code>PUT /api/archives/upload</code> for a file, '
            '<code>POST /api/download_url</code> for a link.</p></section>')


def tank_page(ctx, static, tank: dict[str, Any], volumes: list[dict[str, Any]], *, authed: bool,
              csrf: str = "") -> str:
    """A tankoubon's volumes in their order, as library cards (with their mark menus, given `csrf`)."""
    summary = f'<p class="summary">{esc(tank["summary"])}</p>' if tank.get("summary") else ""
    marking = bool(csrf) and authed
    tracked = not ctx.settings.get("localprogress")
    cards = "".join(_card(a, cover_url(ctx, a["arcid"]), marks=marking, tracked=tracked) for a in volumes)
    grid = f'<ul class="grid" id="grid">{cards}</ul>' if cards else '<p class="empty">No volumes.</p>'
    count = f'<p class="summary" id="summary">{len(volumes)} volume{"" if len(volumes) == 1 else "s"}</p>'
    back = "/tank?id=" + quote(str(tank["id"]), safe="")
    body = (f'<main><h1>{esc(tank["name"])}</h1>{summary}{count}{grid}'
            f'{marks_form(csrf, back) if marking and cards else ""}</main>')
    return layout(ctx, static, str(tank["name"]), body, authed=authed, scripts=("library.js",))


# -- login ------------------------------------------------------------------------------------------------

def login_page(ctx, static, next_url: str, error: str, *, authed: bool) -> str:
    if not ctx.settings.get("enablepass"):
        inner = "<p>Password protection is off: every page is open. Set a password in the settings to turn it on.</p>"
    else:
        err = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
        inner = (f'{err}<form method="post" action="/login" class="login">'
                 f'<input type="hidden" name="next" value="{esc(next_url)}">'
                 '<label>Password <input type="password" name="password" id="password" autofocus '
                 'autocomplete="current-password" required></label>'
                 '<button type="submit" id="loginbtn">Log in</button></form>')
    return layout(ctx, static, "Login", f'<main class="narrow"><h1>Login</h1>{inner}</main>', authed=authed)


# -- settings ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: str  # "bool", "int", "str" or "secret" (never rendered: only replaced or cleared)
    low: int = 0
    high: int = 0  # int: inclusive range; str: maximum length


FIELDS: tuple[Field, ...] = (
    Field("htmltitle", "Site title", "str", high=100),
    Field("motd", "Message of the day", "str", high=500),
    Field("apikey", "API key", "secret", high=200),
    Field("enablepass", "Password protection", "bool"),
    Field("nofunmode", "No-Fun mode (everything needs login)", "bool"),
    Field("pagesize", "Archives per page", "int", 1, 1000),
    Field("localprogress", "Client-side progress tracking only", "bool"),
    Field("authprogress", "Progress updates need login", "bool"),
    Field("enablecors", "Allow cross-origin requests (CORS)", "bool"),
    Field("excludednamespaces", "Namespaces excluded from tag statistics", "str", high=500),
    Field("enableresize", "Resize large pages in the reader", "bool"),
    Field("sizethreshold", "Resize threshold (KB)", "int", 10, 100000),
    Field("readerquality", "Resized page quality", "int", 1, 100),
    Field("tempmaxsize", "Page cache size (MB)", "int", 1, 4096),
    Field("usedateadded", "Add date_added tags", "bool"),
    Field("usedatemodified", "... from the file's modification time", "bool"),
    Field("tagruleson", "Apply tag rules", "bool"),
    Field("replacedupe", "Replace duplicates on upload", "bool"),
    Field("hqthumbpages", "High-quality page thumbnails", "bool"),
    Field("downloadmaxsize", "Largest URL download (MB)", "int", 1, 102400),
    Field("downloadtimeout", "URL download timeout (s)", "int", 5, 3600),
    Field("downloaddeadline", "Longest a whole URL download may take (s)", "int", 5, 86400),
    Field("downloadallowlocal", "URL downloads may reach this server and loopback addresses", "bool"),
    Field("debugmode", "Debug mode", "bool"),
)


def validate(fields: tuple[Field, ...], form) -> tuple[dict[str, Any], dict[str, str]]:
    """(changes, errors by key) from a submitted form; nothing is written when errors is non-empty."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def get(name: str) -> str:
        try:
            return form.getunicode(name) or ""
        except (UnicodeError, ValueError):
            return ""

    for f in fields:
        raw = get(f.key)
        if f.kind == "bool":
            changes[f.key] = 1 if raw in ("1", "on", "true") else 0
        elif f.kind == "int":
            try:
                value = int(raw.strip())
            except ValueError:
                errors[f.key] = "Enter a whole number."
                continue
            if not f.low <= value <= f.high:
                errors[f.key] = f"Enter a number from {f.low} to {f.high}."
                continue
            changes[f.key] = value
        elif f.kind == "secret":
            # empty = keep the current value; `<key>_clear` removes it
            clear = get(f.key + "_clear") in ("1", "on", "true")
            secret = raw.strip()
            if clear and raw:
                errors[f.key] = "Enter a new key or remove the key, not both."
            elif clear:
                changes[f.key] = ""
            elif raw and not secret:
                errors[f.key] = "A key can't be only spaces."
            elif len(raw) > f.high:
                errors[f.key] = f"At most {f.high} characters."
            elif any(c in raw for c in "\r\n\x00"):
                errors[f.key] = "One line only."
            elif secret:
                changes[f.key] = secret
        else:
            if len(raw) > f.high:
                errors[f.key] = f"At most {f.high} characters."
            elif any(c in raw for c in "\r\n\x00"):
                errors[f.key] = "One line only."
            else:
                changes[f.key] = raw.strip()
    new, again = get("new_password"), get("new_password2")
    if new or again:
        if new != again:
            errors["new_password"] = "The two passwords differ."
        elif len(new) > 256:
            errors["new_password"] = "At most 256 characters."
        else:
            changes["password"] = new
    return changes, errors


def _secret_row(ctx, f: Field, err: str) -> str:
    """A secret (the API key) says whether it is set and takes a replacement, but is never written into the
    page: any script running on this origin, or a shoulder, could read it there."""
    is_set = bool(ctx.settings.get(f.key))
    state = "A key is set (it is never shown)." if is_set else "No key is set: protected endpoints need a login."
    if f.key == "apikey" and getattr(ctx.config, "api_key", None) is not None:
        state += " The server's configuration sets it at start-up: a change here lasts until the next restart."
    clear = (f'<label class="row chk"><input type="checkbox" name="{f.key}_clear" id="s_{f.key}_clear" value="1">'
             f' Remove the {esc(f.label)}</label>' if is_set else "")
    return (f'<fieldset class="secret"><legend>{esc(f.label)}</legend><p id="s_{f.key}_state">{state}</p>'
            f'<label class="row">{"Replace it with" if is_set else "Set it to"} <input type="text" name="{f.key}" '
            f'id="s_{f.key}" maxlength="{f.high}" value="" autocomplete="off" spellcheck="false"></label>'
            f'{clear}{err}</fieldset>')


def settings_page(ctx, static, fields: tuple[Field, ...], values: dict[str, Any], errors: dict[str, str],
                  csrf: str, saved: bool, *, authed: bool) -> str:
    rows: list[str] = []
    for f in fields:
        value = values.get(f.key, shown_setting(ctx, f.key) if f.key in LEGACY_TEXTS else ctx.settings.get(f.key))
        err = f'<span class="error">{esc(errors[f.key])}</span>' if f.key in errors else ""
        if f.kind == "bool":
            checked = " checked" if str(value) in ("1", "on", "true") else ""
            rows.append(f'<label class="row chk"><input type="checkbox" name="{f.key}" id="s_{f.key}" value="1"'
                        f'{checked}> {esc(f.label)}</label>{err}')
        elif f.kind == "secret":
            rows.append(_secret_row(ctx, f, err))
        elif f.kind == "int":
            rows.append(f'<label class="row">{esc(f.label)} <input type="number" name="{f.key}" id="s_{f.key}" '
                        f'min="{f.low}" max="{f.high}" value="{esc(value)}" required></label>{err}')
        else:
            rows.append(f'<label class="row">{esc(f.label)} <input type="text" name="{f.key}" id="s_{f.key}" '
                        f'maxlength="{f.high}" value="{esc(value)}"></label>{err}')
    pw_err = f'<span class="error">{esc(errors["new_password"])}</span>' if "new_password" in errors else ""
    rows.append('<label class="row">New password <input type="password" name="new_password" id="s_new_password" '
                f'autocomplete="new-password"></label><label class="row">Repeat it <input type="password" '
                f'name="new_password2" id="s_new_password2" autocomplete="new-password"></label>{pw_err}')
    note = ('<p class="ok" id="saved" role="status">Settings saved.</p>' if saved else "")
    if errors:
        note = '<p class="error" role="alert">Nothing was saved: fix the fields marked below.</p>'
    body = (f'<main class="narrow"><h1>Settings</h1>{note}<form method="post" action="/settings" class="settings">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">{"".join(rows)}'
            '<button type="submit" id="save">Save</button></form></main>')
    return layout(ctx, static, "Settings", body, authed=authed)
