"""The reader's HTML (/reader?id=): the page frame reader.js fills in, every interpolated value through `esc`.

The page carries what the script needs in data- attributes on <body>: the archive, the page to start at,
whether progress is tracked by the server, where the reader's choices are kept (`data-prefs`: "server" for a
browser that is logged in or uses the API key, otherwise "local" = localStorage), the saved choices and the
defaults from ComicInfo.xml. No inline script or style: the Content-Security-Policy forbids them.
"""

from __future__ import annotations

from typing import Any

from lrr_lite.http.web.pages import esc, layout

MODE_NAMES = (("single", "Single"), ("double", "Double"), ("double-nocover", "Double, no cover"),
              ("vertical", "Vertical"))
FIT_NAMES = (("screen", "Fit screen"), ("width", "Fit width"), ("height", "Fit height"), ("original", "Original"))


# drawn, not a glyph: the fullscreen symbols are missing from many fonts (an empty box on a phone)
FULLSCREEN_ICON = ('<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M1 6V1h5M10 1h5v5'
                   'M15 10v5h-5M6 15H1v-5" fill="none" stroke="currentColor" stroke-width="2"/></svg>')


def _options(choices: tuple[tuple[str, str], ...]) -> str:
    return "".join(f'<option value="{v}">{label}</option>' for v, label in choices)


def reader_page(ctx, static: dict[str, str], archive: dict[str, Any], start: int, *, authed: bool,
                prefs_where: str, saved: dict[str, str], defaults: dict[str, str], csrf: str) -> str:
    title = archive["title"] or archive["filename"]
    count = int(archive["pagecount"])
    track = "0" if ctx.settings.get("localprogress") else "1"
    attrs = (f' class="reader" data-id="{esc(archive["arcid"])}" data-pages="{count}"'
             f' data-start="{int(start)}" data-track="{track}"'
             f' data-new="{"1" if archive.get("isnew") == "true" else "0"}"'
             f' data-prefs="{esc(prefs_where)}" data-csrf="{esc(csrf)}"'
             f' data-mode="{esc(saved.get("mode", ""))}" data-dir="{esc(saved.get("direction", ""))}"'
             f' data-fit="{esc(saved.get("fit", ""))}"'
             f' data-defmode="{esc(defaults.get("mode", ""))}" data-defdir="{esc(defaults.get("direction", ""))}"')
    # the position as the server knows it; the script corrects it once it has the page list (0 pages: no "1 / 0")
    where = (f'<span id="pn">{int(start)}</span> / <span id="pc">{count}</span>' if count > 0
             else '<span id="pn"></span><span id="pc"></span>')
    body = (f'<header class="rbar" id="rbar"><a href="/" class="back" title="Library">&larr;</a>'
            f'<h1 id="rtitle">{esc(title)}</h1>'
            f'<button type="button" class="pos" id="pos" title="Go to page">{where}</button>'
            '<input type="number" id="goto" min="1" aria-label="Go to page" hidden>'
            '<span class="ctl"><button type="button" id="prev" title="Previous page">&lsaquo;</button>'
            '<button type="button" id="next" title="Next page">&rsaquo;</button>'
            f'<select id="mode" aria-label="Mode">{_options(MODE_NAMES)}</select>'
            f'<select id="fit" aria-label="Fit">{_options(FIT_NAMES)}</select>'
            '<button type="button" id="dir" title="Reading direction">LTR</button>'
            '<button type="button" id="fs" title="Fullscreen (f)" aria-label="Fullscreen">' + FULLSCREEN_ICON + '</button>'
            '<button type="button" id="stripbtn" title="Page strip">Pages</button></span></header>'
            '<nav id="strip" class="strip" hidden></nav>'
            '<main id="stage" class="stage" tabindex="-1"><div id="spread" class="spread">'
            '<img id="page" alt="Page"><img id="page2" alt="Page" hidden></div>'
            '<div id="vlist" class="vlist" hidden></div><p id="msg" class="msg" role="status"></p></main>'
            '<footer class="seekbar" id="seekbar"><input type="range" id="seek" min="1" '
            f'max="{max(count, 1)}" value="{int(start)}" aria-label="Page"{"" if count > 0 else " disabled"}>'
            '<div id="tip" class="tip" hidden><img alt=""><span></span></div></footer>'
            f'<noscript><p class="msg">The reader needs JavaScript. <a href="/api/archives/{esc(archive["arcid"])}'
            '/download">Download the archive</a> to read it elsewhere.</p></noscript>')
    return layout(ctx, static, title, body, authed=authed, body_attrs=attrs, scripts=("reader.js",),
                  styles=("reader.css",), nav=False)
