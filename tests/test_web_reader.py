"""The reader page and its saved choices over HTTP (real server, real archives); the browser side is in
test_web_reader_e2e.py.

NEW is cleared by the web reader at page 2 through the public DELETE (progress never clears it); the
reader's defaults come from ComicInfo.xml; its choices are kept by the server for a login or the API key, never for a guest; the
reader's JS and CSS stay within 40 KB.
"""

from __future__ import annotations

import sys

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, csrf_of, login, page_weight, parse

COMICINFO = ('<?xml version="1.0"?><ComicInfo><Title>T</Title>{}</ComicInfo>')


def body_of(html: str) -> dict:
    return next(a for t, a in parse(html).tags if t == "body")


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    pages = {f"{p:03d}.jpg": make_image(60, 80, text=str(p)) for p in range(1, 5)}
    c = server.content
    make_archive(c / "Plain.cbz", pages, "cbz")
    make_archive(c / "Rtl.cbz", {"ComicInfo.xml": COMICINFO.format("<Manga>YesAndRightToLeft</Manga>").encode(),
                                 **pages}, "cbz")
    make_archive(c / "Ltr.cbz", {"ComicInfo.xml": COMICINFO.format("<Manga>Yes</Manga>").encode(), **pages}, "cbz")
    make_archive(c / "Toon.cb7", {"comicinfo.xml": COMICINFO.format("<Format>Webtoon</Format>").encode(),
                                  **pages}, "cb7")
    make_archive(c / "Junk.cbz", {"ComicInfo.xml": b"<ComicInfo><Manga>YesAndRightToLeft", **pages}, "cbz")
    make_archive(c / "Empty.cbz", {"notes.txt": b"nothing to see"}, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    return server


def reader(site, name: str, **kw) -> dict:
    resp = site.get(f"/reader?id={site.ids[name]}", **kw)
    assert resp.status_code == 200
    return body_of(resp.text)


def test_progress_never_clears_new_but_the_public_delete_does(site):
    """SEMANTICS 6: reading or progress never clears NEW; clients send the public DELETE (the web reader at
    page 2, e2e in test_web_reader_e2e / test_web_e2e), which needs no login or key."""
    arcid = site.ids["Plain"]

    def isnew() -> str:
        return site.get(f"/api/archives/{arcid}/metadata").json()["isnew"]

    def new_only() -> list[str]:
        return [a["arcid"] for a in site.get("/api/search", params={"newonly": "true"}).json()["data"]]

    assert arcid in new_only()
    assert site.put(f"/api/archives/{arcid}/progress/2").status_code == 200
    assert isnew() == "true"
    assert site.delete(f"/api/archives/{arcid}/isnew").status_code == 200  # no login, no key
    assert isnew() == "false"
    assert arcid not in new_only()  # the search cache knows
    assert site.put(f"/api/archives/{arcid}/isnew", auth=True).status_code == 200
    assert isnew() == "true" and arcid in new_only()


def test_comicinfo_defaults(site):
    assert reader(site, "Rtl")["data-defdir"] == "rtl"
    assert reader(site, "Rtl")["data-defmode"] == ""
    assert reader(site, "Ltr")["data-defdir"] == ""  # Manga=Yes says nothing of the direction
    toon = reader(site, "Toon")  # a 7z archive, the member's name in lower case
    assert toon["data-defmode"] == "vertical" and toon["data-defdir"] == ""
    assert reader(site, "Plain")["data-defdir"] == reader(site, "Junk")["data-defdir"] == ""  # none, broken


def test_no_pages_is_not_one_of_zero(site):
    html = site.get(f"/reader?id={site.ids['Empty']}").text
    assert body_of(html)["data-pages"] == "0"
    assert "1 / 0" not in html and '<span id="pn"></span>' in html


def test_choices_saved_for_a_login_or_the_key_only(site):
    arcid = site.ids["Plain"]
    guest = reader(site, "Plain")
    assert guest["data-prefs"] == "local" and guest["data-csrf"] == ""
    resp = site.post("/reader/prefs", data={"id": arcid, "mode": "double"}, headers={"Accept": "application/json"})
    assert resp.status_code == 401
    assert site.get(f"/reader/prefs?id={arcid}").status_code == 401

    # the API key: no CSRF token needed (a browser never sends the key by itself)
    resp = site.post("/reader/prefs", data={"id": arcid, "mode": "double", "dir": "rtl"}, auth=True)
    assert resp.status_code == 200 and resp.json()["saved"] == {"mode": "double", "direction": "rtl"}
    resp = site.post("/reader/prefs", data={"id": arcid, "fit": "width"}, auth=True)  # the rest is kept
    assert resp.json()["saved"] == {"mode": "double", "direction": "rtl", "fit": "width"}
    assert site.get(f"/reader/prefs?id={site.ids['Rtl']}", auth=True).json() == {
        "saved": {}, "defaults": {"direction": "rtl"}}
    assert site.post("/reader/prefs", data={"id": arcid, "mode": "sideways"}, auth=True).status_code == 400
    assert site.post("/reader/prefs", data={"id": "0" * 40, "mode": "single"}, auth=True).status_code == 404
    assert reader(site, "Plain")["data-mode"] == ""  # a guest's page does not carry them

    # a login: the page carries the saved choices and the token its saves need
    assert login(site).status_code == 303
    page = reader(site, "Plain")
    assert page["data-prefs"] == "server" and page["data-mode"] == "double" and page["data-fit"] == "width"
    assert page["data-dir"] == "rtl" and page["data-csrf"]
    assert site.post("/reader/prefs", data={"id": arcid, "mode": "vertical"}).status_code == 403  # no token
    resp = site.post("/reader/prefs", data={"id": arcid, "mode": "vertical", "csrf": page["data-csrf"]})
    assert resp.status_code == 200 and reader(site, "Plain")["data-mode"] == "vertical"
    assert csrf_of(site.get("/settings").text)  # the same session still works elsewhere

    # the choices go with the archive
    assert site.delete(f"/api/archives/{arcid}", auth=True).status_code == 200
    assert site.ctx.db.query_one("SELECT COUNT(*) AS n FROM reader_prefs")["n"] == 0


def test_reader_weight(site):
    total, parts = page_weight(site, f"/reader?id={site.ids['Plain']}")
    own = parts["/static/reader.js"] + parts["/static/reader.css"]
    print(f"reader page weight: {total} bytes {parts}; reader JS + CSS {own} bytes")
    assert own <= 40 * 1024
    assert total <= 150 * 1024
