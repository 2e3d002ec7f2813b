"""The library's reading state without JavaScript (issue 16, item 4): progress bars on cards, the "Continue
reading" shelf on the first page of the whole library, and mark read / mark unread / clear NEW as plain form
POSTs from a card (one shared form) and from the archive page. Real server on 127.0.0.1, real archives; what
the API says afterwards is what counts.
"""

from __future__ import annotations

import re
import sys
import time

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, csrf_of, full_page_of_cards, login

from lrr_lite.http.web import pages as web_pages

NAMES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")
PAGES = 6


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in NAMES:
        make_archive(server.content / f"{name}.cbz",
                     {f"{p:03d}.jpg": make_image(60, 84, text=f"{name} {p}") for p in range(1, PAGES + 1)}, "cbz")
    server.start()
    server.ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    return server


def shelf_titles(html: str) -> list[str]:
    found = re.search(r'<section class="shelf" id="shelf".*?</section>', html)
    return re.findall(r"<b>(.*?)</b>", found.group(0)) if found else []


def meta(site, name: str) -> dict:
    return site.get(f"/api/archives/{site.ids[name]}/metadata").json()


def read_at(site, name: str, page: int, when: int) -> None:
    """Progress as a reader elsewhere left it, at a known time (the order of the shelf is by that time)."""
    site.ctx.archives.update_progress(site.ids[name], page, force=True, lastreadtime=when)


def test_shelf_renders_without_js_last_read_first(site):
    assert "Continue reading" not in site.get("/").text  # nothing started: no empty shelf
    now = int(time.time())
    read_at(site, "Alpha", 3, now - 300)
    read_at(site, "Bravo", PAGES, now - 100)  # finished: not on the shelf
    read_at(site, "Charlie", 1, now - 50)
    read_at(site, "Delta", 5, now - 200)
    html = site.get("/").text
    assert shelf_titles(html) == ["Charlie", "Delta", "Alpha"]
    assert "<h2 id=\"shelf-h\">Continue reading</h2>" in html
    # a shelf cover resumes in the reader (which starts at the stored progress)
    assert f'href="/reader?id={site.ids["Charlie"]}"' in html.split('id="shelf"')[1].split("</section>")[0]
    # the first page of the whole library only: any filter, category or later page is a search, not home
    for path in ("/?q=alpha", "/?new=1", "/?p=2", "/?untagged=1"):
        assert shelf_titles(site.get(path).text) == [], path
    assert shelf_titles(site.get("/?sort=lastread&order=desc").text) == ["Charlie", "Delta", "Alpha"]
    # where each browser keeps its own progress, the server's is stale: no shelf
    site.ctx.settings.set("localprogress", 1)
    assert shelf_titles(site.get("/").text) == []


def test_shelf_holds_at_most_twelve(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for n in range(14):
        make_archive(server.content / f"Vol {n:02d}.cbz", {"001.jpg": make_image(40, 56, text=str(n)),
                                                          "002.jpg": make_image(40, 56, text="b")}, "cbz")
    server.start()
    now = int(time.time())
    for n, a in enumerate(sorted(server.get("/api/archives").json(), key=lambda a: a["title"])):
        server.ctx.archives.update_progress(a["arcid"], 1, force=True, lastreadtime=now - 1000 + n)
    titles = shelf_titles(server.get("/").text)
    assert titles == [f"Vol {n:02d}" for n in range(13, 1, -1)]


def test_shelf_looks_through_the_latest_reads_only(site, monkeypatch):
    """An archive left part read behind the latest CONTINUE_WINDOW reads is no longer "continue reading" (the
    window keeps the query short in a library read to the end; scripts/bench_shelf.py)."""
    from lrr_lite.library import records

    monkeypatch.setattr(records, "CONTINUE_WINDOW", 3)
    now = int(time.time())
    read_at(site, "Alpha", 2, now - 500)  # part read, then three archives read to the end
    for n, name in enumerate(("Bravo", "Charlie", "Delta")):
        read_at(site, name, PAGES, now - 100 + n)
    assert shelf_titles(site.get("/").text) == []
    monkeypatch.setattr(records, "CONTINUE_WINDOW", 4)
    assert shelf_titles(site.get("/").text) == ["Alpha"]


def test_cards_carry_progress_bars(site):
    read_at(site, "Alpha", 3, int(time.time()))
    read_at(site, "Bravo", PAGES, int(time.time()))
    html = site.get("/?q=alpha").text
    assert f"<progress max={PAGES} value=3></progress>" in html
    assert f"3/{PAGES} p." in html
    html = site.get("/?q=bravo").text
    assert f"<progress class=done max={PAGES} value={PAGES}></progress>" in html
    assert "<progress" not in site.get("/?q=echo").text  # not started: no bar


def test_guest_sees_no_mark_menu_and_cannot_post(site):
    html = site.get("/").text
    assert 'class=cm>' not in html and 'id="marks"' not in html
    aid = site.ids["Alpha"]
    resp = site.post("/archive/mark", data={"mark": f"read:{aid}", "back": "/"}, allow_redirects=False)
    assert resp.status_code == 303 and "/login" in resp.headers["Location"]
    assert meta(site, "Alpha")["progress"] == 0


def test_mark_read_unread_and_clear_new_from_a_card(site):
    login(site)
    html = site.get("/").text
    assert html.count('class=cm>') == len(NAMES)
    csrf = csrf_of(html.split('id="marks"')[1])
    aid = site.ids["Alpha"]
    read_before = site.get("/api/info").json()["total_pages_read"]
    # every card's buttons belong to the page's one form, which goes back to this page
    assert f'<button form=marks name=mark value=read:{aid}>Mark read</button>' in html
    resp = site.post("/archive/mark", data={"csrf": csrf, "mark": f"read:{aid}", "back": "/?q=a"},
                     allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/?q=a")
    m = meta(site, "Alpha")
    assert (m["progress"], m["isnew"]) == (PAGES, "false") and m["lastreadtime"] > 0
    assert site.get("/api/info").json()["total_pages_read"] == read_before  # a mark is no page read
    card = site.get("/?q=alpha").text
    assert f'value=unread:{aid}>' in card and f'value=read:{aid}>' not in card
    resp = site.post("/archive/mark", data={"csrf": csrf, "mark": f"unread:{aid}", "back": "/"},
                     allow_redirects=False)
    assert resp.status_code == 303
    m = meta(site, "Alpha")
    assert (m["progress"], m["isnew"]) == (0, "true")
    # clear NEW leaves progress alone; a card part read offers "Mark read" (the archive page also "Mark unread")
    read_at(site, "Bravo", 2, int(time.time()))
    bravo = site.ids["Bravo"]
    card = site.get("/?q=bravo").text
    assert f"value=read:{bravo}>" in card and f"value=unread:{bravo}>" not in card
    assert 'id="m_unread"' in site.get(f"/archive?id={bravo}").text
    resp = site.post("/archive/mark", data={"csrf": csrf, "mark": f"seen:{site.ids['Bravo']}"},
                     headers={"Accept": "application/json"})
    assert resp.json()["ok"] == 1 and resp.json()["isnew"] is False
    m = meta(site, "Bravo")
    assert (m["progress"], m["isnew"]) == (2, "false")


def test_mark_refusals(site):
    login(site)
    csrf = csrf_of(site.get("/").text.split('id="marks"')[1])
    aid = site.ids["Alpha"]
    json = {"Accept": "application/json"}
    assert site.post("/archive/mark", data={"mark": f"read:{aid}"}, headers=json).status_code == 403  # no token
    assert site.post("/archive/mark", data={"csrf": csrf, "mark": "read:" + "0" * 40},
                     headers=json).status_code == 404
    assert site.post("/archive/mark", data={"csrf": csrf, "mark": f"burn:{aid}"}, headers=json).status_code == 400
    assert meta(site, "Alpha")["progress"] == 0
    # `back` is a path on this site, or the library
    resp = site.post("/archive/mark", data={"csrf": csrf, "mark": f"seen:{aid}", "back": "//evil.example/"},
                     allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"] in ("/", site.url + "/")
    # client-side progress: read/unread would change nothing a reader shows, so only "Clear NEW" is offered
    site.ctx.settings.set("localprogress", 1)
    html = site.get("/").text
    assert f'value=read:{aid}>' not in html and f'value=seen:{site.ids["Bravo"]}>' in html
    assert site.post("/archive/mark", data={"csrf": csrf, "mark": f"read:{aid}"}, headers=json).status_code == 400


def test_mark_from_the_archive_page(site):
    login(site)
    aid = site.ids["Charlie"]
    page = site.get(f"/archive?id={aid}").text
    assert 'id="m_read"' in page and 'id="m_seen"' in page and 'id="m_unread"' not in page
    form = page.split('id="markform"')[1].split("</form>")[0]
    resp = site.post("/archive/mark", data={"csrf": csrf_of(form), "mark": f"read:{aid}",
                                            "back": f"/archive?id={aid}"}, allow_redirects=False)
    assert resp.headers["Location"].endswith(f"/archive?id={aid}")
    page = site.get(f"/archive?id={aid}").text
    assert 'id="m_unread"' in page and 'id="m_read"' not in page and 'id="m_seen"' not in page
    assert f"page {PAGES} of {PAGES}" in page


def test_tank_volumes_share_the_cards(site):
    login(site)
    tank = site.put("/api/tankoubons", auth=True, params={"name": "Set"}).json()["tankoubon_id"]
    for name in ("Alpha", "Bravo"):
        site.put(f"/api/tankoubons/{tank}/{site.ids[name]}", auth=True)
    read_at(site, "Alpha", 3, int(time.time()))
    html = site.get(f"/tank?id={tank}").text
    assert f"<progress max={PAGES} value=3></progress>" in html
    assert html.count('class=cm>') == 2 and f'name="back" value="/tank?id={tank}"' in html


def test_editor_library_page_with_menus_and_shelf_within_budget(site):
    """100 cards, each with its mark menu, and a full shelf: HTML + CSS + JS as an editor gets it <= 150 KB."""
    files, static, archives = full_page_of_cards()
    html = web_pages.library_page(site.ctx, static, web_pages.LibraryState(), archives, 5000, 5000, 100, [],
                                  authed=True, reading=archives[:12], csrf="x" * 60)
    assert html.count('class=cm>') == 100 and len(shelf_titles(html)) == 12
    total = len(html.encode()) + sum(len(files[n][0]) for n in ("style.css", "library.js", "select.js",
                                                                "batch.css"))
    print(f"library page, 100 cards with menus and a shelf: {total / 1024:.1f} KB")
    assert total <= 150 * 1024
