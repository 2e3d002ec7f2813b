"""Page weight: every page of the web UI, as a logged-in editor gets it, with its CSS and JS, uncompressed, is
at most 150 KB (the issue's budget). Each page is fetched from a real server on 127.0.0.1 with its stylesheets
and scripts; the list is checked against the app's own GET routes, so a new page can't skip the check. The
library page is also weighed at its worst: 100 cards with long titles and many tags, in selection mode too.
"""

from __future__ import annotations

import sys
import time

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, csrf_of, full_page_of_cards, login, page_weight

from lrr_lite.http.web import pages as web_pages

BUDGET = 150 * 1024
# GET routes that are not pages: JSON for the pages' scripts, files, redirects
NOT_PAGES = {"/admin/jobs.json", "/batch/status", "/upload/job", "/archive/edit", "/logout", "/favicon.ico",
             "/reader/prefs"}


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Banana", "Cherry"):
        make_archive(server.content / f"{name}.cbz", {f"{p:03d}.jpg": make_image(60, 90, text=name)
                                                      for p in range(1, 4)}, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for aid in server.ids.values():
        server.put(f"/api/archives/{aid}/metadata", auth=True, data={"tags": "fruit:red, artist:alice"})
    return server


def test_every_page_with_its_css_and_js_is_within_150_kb(site):
    login(site)
    apple = site.ids["Apple"]
    cat = site.put("/api/categories", auth=True, params={"name": "Shelf"}).json()["category_id"]
    site.put(f"/api/categories/{cat}/{apple}", auth=True)
    tank = site.put("/api/tankoubons", auth=True, params={"name": "Set"}).json()["tankoubon_id"]
    site.put(f"/api/tankoubons/{tank}/{apple}", auth=True)
    csrf = csrf_of(site.get("/batch?sel=1").text)
    job = site.post("/batch", headers={"Accept": "application/json"},
                    data={"csrf": csrf, "op": "add_tags", "tags": "x", "ids": apple}).json()["job"]
    deadline = time.monotonic() + 20
    while site.ctx.jobs.get(job)["state"] not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
    pages = ["/", "/?select=1", f"/?cat={cat}", "/?q=fruit", f"/archive?id={apple}", f"/reader?id={apple}",
             f"/tank?id={tank}", "/login", "/settings", "/categories", "/tankoubons",
             f"/tankoubons/edit?id={tank}&q=fruit", "/admin", "/statistics", "/upload", "/batch?sel=1",
             "/batch?all=1&q=fruit", f"/batch?id={apple}&op=tankoubon", f"/batch?job={job}"]
    # every page route of the app (built again here: the server's WSGI callable is wrapped) is weighed
    routes = {r.rule for r in app_with_web(site.ctx).routes if r.method in ("GET", "ANY") and "<" not in r.rule
              and not r.rule.startswith(("/api", "/static", "/opds", "/kosync"))}
    assert routes - NOT_PAGES == {p.split("?")[0] for p in pages}
    report = []
    for path in pages:
        assert site.get(path).status_code == 200, path
        total, parts = page_weight(site, path)
        report.append((total, path))
        assert total <= BUDGET, (path, parts)
    for total, path in sorted(report, reverse=True):
        print(f"{total / 1024:7.1f} KB  {path}")


def test_worst_library_page_for_an_editor(site):
    """100 cards with long titles and 8 tags each (the largest page size most people use), as an editor gets them
    (select.js, batch.css), and the no-JS selection page of the same 100 cards (a checkbox each)."""
    files, static, archives = full_page_of_cards()
    assets = sum(len(files[n][0]) for n in ("style.css", "library.js", "select.js", "batch.css"))
    for selecting in (False, True):
        html = web_pages.library_page(site.ctx, static, web_pages.LibraryState(q="artist:some"), archives, 5000,
                                      5000, 100, [], authed=True, selecting=selecting)
        assert html.count('class="pick"') == (100 if selecting else 0)
        total = len(html.encode()) + assets
        print(f"library page, 100 cards{', selecting' if selecting else ''}: {total / 1024:.1f} KB")
        assert total <= BUDGET
