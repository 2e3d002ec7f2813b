"""The archive page (/archive?id=) and its writes over HTTP, no browser: the JS-off page shows everything, every
POST needs the login and this session's CSRF token, a save from a stale form is refused with the stored values
(409) while the API's PUT stays last-writer-wins, a plugin preview writes nothing, cover and delete work, and
the page stays under its weight budget."""

from __future__ import annotations

import re
import sys
from html import unescape
from pathlib import Path

import pytest
import requests
from archive_factory import make_archive, make_image
from test_web import NASTY_TAGS, NASTY_TITLE, app_with_web, login, logout, page_weight, parse

PLUGIN_NAME = "[Alice Artist] Fruit Salad (Orchard)"  # regexplugin reads artist, title and series from this
ARCHIVE_PAGE_LIMIT = 150 * 1024


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Nasty", PLUGIN_NAME):
        pages = {f"{p:03d}.jpg": make_image(60, 80, text=f"{name} {p}") for p in range(1, 4)}
        make_archive(server.content / f"{name}.cbz", pages, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    ids["Plugin"] = ids.pop(PLUGIN_NAME)
    for name, title, tags, summary in (
            ("Apple", "Apple", "fruit:apple, artist:alice, plain tag, date_added:1700000000", "Line one\nline two"),
            ("Nasty", NASTY_TITLE, NASTY_TAGS, "<i>not italic</i>")):
        resp = server.put(f"/api/archives/{ids[name]}/metadata", auth=True,
                          data={"title": title, "tags": tags, "summary": summary})
        assert resp.status_code == 200, resp.text
    server.ids = ids
    return server


def csrf_of(html: str) -> str:
    return unescape(re.search(r'name="csrf" value="([^"]+)"', html).group(1))


def version_of(html: str) -> str:
    return re.search(r'name="version" id="e_version" value="([^"]+)"', html).group(1)


def meta(server, aid: str) -> dict:
    return server.get(f"/api/archives/{aid}/metadata").json()


def form(server, aid: str) -> dict[str, str]:
    html = server.get(f"/archive?id={aid}").text
    return {"id": aid, "csrf": csrf_of(html), "version": version_of(html)}


JSON = {"Accept": "application/json"}


def test_archive_page_shows_everything_without_js(site):
    aid = site.ids["Apple"]
    cat = site.put("/api/categories", auth=True, params={"name": "Red <things>"}).json()["category_id"]
    assert site.put(f"/api/categories/{cat}/{aid}", auth=True).status_code == 200
    tank = site.put("/api/tankoubons", auth=True, params={"name": "Fruit Saga"}).json()["tankoubon_id"]
    assert site.put(f"/api/tankoubons/{tank}/{aid}", auth=True).status_code == 200
    site.put(f"/api/archives/{aid}/progress/2")
    resp = site.get(f"/archive?id={aid}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
    html = resp.text
    doc = parse(html)
    text = "".join(doc.text)
    assert '<h1 id="atitle">Apple</h1>' in html
    assert "Line one\nline two" in text  # the summary, its line break kept (white-space: pre-line)
    # tags grouped by namespace, each a link to an exact search; the date tag is a date, not a chip
    assert re.search(r"<dt>artist</dt><dd class=\"tagrow\"><a class=\"tag n\d\" href=\"/\?q=artist:alice\$\">alice</a>",
                     html)
    assert re.search(r"<dt>fruit</dt><dd class=\"tagrow\"><a [^>]*href=\"/\?q=fruit:apple\$\">apple</a>", html)
    assert re.search(r"<dt>tags</dt><dd class=\"tagrow\"><a class=\"tag nx\" href=\"/\?q=plain\+tag\$\">plain tag", html)
    assert "date_added" not in text and '<time class="day" datetime="2023-11-14T22:13:20Z">2023-11-14</time>' in html
    for fact in ("Apple.cbz", "Format", "CBZ", "Pages", "page 2 of 3", "Red <things>", "Fruit Saga"):
        assert fact in text, fact
    assert re.search(r"<dt>Size</dt><dd>\d+(\.\d)? (B|KB)</dd>", html)
    assert '<progress id="aprogress" max="3" value="2">' in html
    hrefs = [a.get("href") for t, a in doc.tags if t == "a"]
    assert f"/reader?id={aid}" in hrefs and f"/api/archives/{aid}/download" in hrefs
    assert f"/?cat={cat}" in hrefs and f"/tank?id={tank}" in hrefs
    # not logged in (password protection is on): no edit forms, no token, a way to log in instead
    assert "<form" not in html and 'name="csrf"' not in html and "Log in to edit" in html
    # logged in: the panels and their forms, the edit form holding the stored values
    login(site)
    html = site.get(f"/archive?id={aid}").text
    for panel in ('id="edit"', 'id="cover"', 'id="delete"', 'action="/archive/edit"', 'action="/archive/plugin"',
                  'action="/archive/cover"', 'action="/archive/delete"', '<option value="regexplugin"'):
        assert panel in html, panel
    assert 'id="e_title" value="Apple"' in html and ">Line one\nline two</textarea>" in html
    # the edit form's own address is the page with its panel open
    resp = site.get(f"/archive/edit?id={aid}", allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/archive?id={aid}#edit")
    # No-Fun mode: the page itself needs a login, like the library and the reader
    logout(site)
    site.ctx.settings.set("nofunmode", 1)
    resp = site.get(f"/archive?id={aid}", allow_redirects=False)
    assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"]


def test_hostile_metadata_is_text_and_unknown_ids_are_404(site):
    login(site)
    html = site.get(f"/archive?id={site.ids['Nasty']}").text
    doc = parse(html)
    assert NASTY_TITLE in "".join(doc.text)
    assert not any(t in ("b", "i") or (t == "img" and a.get("src") == "x") or (t == "script" and not a.get("src"))
                   for t, a in doc.tags)
    assert "&lt;i&gt;not italic&lt;/i&gt;" in html
    assert site.get("/archive?id=" + "0" * 40).status_code == 404
    bad = site.get("/archive?id=<script>")
    assert bad.status_code == 404 and "&lt;script&gt;" not in bad.text


def test_library_cards_link_the_archive_page_and_keep_the_cover_for_reading(site):
    html = site.get("/").text
    aid = site.ids["Apple"]
    card = re.search(rf'<li><a href="/reader\?id={aid}"[^>]*><img[^>]*>(<span class="new">NEW</span>)?</a><a href="/archive\?id={aid}">'
                     r'<b>Apple</b></a>', html)
    assert card, html[:2000]


def test_archive_page_weight(site):
    login(site)
    total, parts = page_weight(site, f"/archive?id={site.ids['Nasty']}")
    print(f"archive page weight: {total} bytes {parts}")
    assert total <= ARCHIVE_PAGE_LIMIT
    assert set(parts) == {"html", "/static/style.css", "/static/archive.css", "/static/archive.js"}


def test_every_write_needs_the_login_and_this_sessions_token(site):
    aid = site.ids["Apple"]
    fields = {"id": aid, "title": "Hacked", "tags": "", "summary": "", "version": "x", "page": "2", "plugin": "regexplugin"}
    for path in ("/archive/edit", "/archive/plugin", "/archive/cover", "/archive/delete"):
        resp = site.post(path, data=fields, allow_redirects=False)
        assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"], path
        resp = site.post(path, data=fields, headers=JSON)
        assert resp.status_code == 401 and "Log in" in resp.json()["error"], path
    login(site)
    token = form(site, aid)
    other = requests.Session()
    other.post(site.url + "/login", data={"password": "kamimamita"})
    other_token = csrf_of(other.get(f"{site.url}/archive?id={aid}").text)
    for path in ("/archive/edit", "/archive/plugin", "/archive/cover", "/archive/delete"):
        for csrf in ("", "0" * 64, other_token):
            resp = site.post(path, data={**fields, "version": token["version"], "csrf": csrf}, headers=JSON)
            assert resp.status_code == 403 and "expired" in resp.json()["error"], (path, csrf)
        assert site.post(path, data={**fields, "csrf": ""}).status_code == 403
    assert meta(site, aid)["title"] == "Apple" and (site.content / "Apple.cbz").is_file()


def test_save_without_js_and_with_json(site):
    aid = site.ids["Apple"]
    login(site)
    resp = site.post("/archive/edit", allow_redirects=False, data={
        **form(site, aid), "title": "Apple II", "tags": "fruit:apple, colour:red,colour:red", "summary": "Crisp.\r\nRed."})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/archive?id={aid}&saved=1")
    stored = meta(site, aid)
    assert (stored["title"], stored["tags"], stored["summary"]) == ("Apple II", "fruit:apple,colour:red", "Crisp.\nRed.")
    assert 'id="notice" role="status">Saved.' in site.session.get(resp.headers["Location"]).text
    resp = site.post("/archive/edit", headers=JSON, data={**form(site, aid), "title": "Apple III", "tags": "",
                                                          "summary": ""})
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] == 1 and body["title"] == "Apple III" and body["tags"] == ""
    assert body["version"] == form(site, aid)["version"]  # the version of what is stored now
    assert meta(site, aid)["tags"] == "" and meta(site, aid)["summary"] == ""


def test_a_stale_form_is_refused_with_the_stored_values(site):
    aid = site.ids["Apple"]
    login(site)
    loaded = form(site, aid)
    # someone else saves through the API meanwhile (the API has no version check: last writer wins)
    assert site.put(f"/api/archives/{aid}/metadata", auth=True,
                    data={"title": "Their title", "tags": "theirs:1"}).status_code == 200
    mine = {**loaded, "title": "My title", "tags": "mine:1", "summary": "Mine."}
    resp = site.post("/archive/edit", headers=JSON, data=mine)
    assert resp.status_code == 409
    body = resp.json()
    assert "changed since you opened it" in body["error"]
    assert (body["title"], body["tags"], body["summary"]) == ("Their title", "theirs:1", "Line one\nline two")
    assert meta(site, aid)["title"] == "Their title"  # nothing written
    # without JS: a 409 page with their values shown and mine still in the form, carrying the stored version
    resp = site.post("/archive/edit", data=mine)
    assert resp.status_code == 409
    html = resp.text
    assert 'id="conflict-msg"' in html and "Their title" in html and 'id="e_title" value="My title"' in html
    assert ">mine:1</textarea>" in html and 'class="panel open"' in html
    assert version_of(html) == body["version"]
    # saving again from that form is a deliberate overwrite
    resp = site.post("/archive/edit", data={**mine, "version": version_of(html)}, allow_redirects=False)
    assert resp.status_code == 303 and meta(site, aid)["title"] == "My title" and meta(site, aid)["tags"] == "mine:1"


def test_plugin_preview_writes_nothing(site):
    aid = site.ids["Plugin"]
    login(site)
    before = meta(site, aid)
    resp = site.post("/archive/plugin", headers=JSON, data={**form(site, aid), "plugin": "regexplugin", "arg": ""})
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] == 1, body
    assert body["title"] == "Fruit Salad" and "artist:Alice Artist" in body["new_tags"]
    assert meta(site, aid) == before
    # without JS: the page with the proposal in the form, unsaved, and said so
    html = site.post("/archive/plugin", data={**form(site, aid), "plugin": "regexplugin", "arg": ""}).text
    assert 'id="plugin-msg"' in html and 'id="e_title" value="Fruit Salad"' in html and "artist:Alice Artist" in html
    assert meta(site, aid) == before
    resp = site.post("/archive/plugin", headers=JSON, data={**form(site, aid), "plugin": "nope"})
    assert resp.status_code == 400 and resp.json()["error"] == "Plugin not found on system."


def test_cover_and_delete(site):
    aid = site.ids["Apple"]
    login(site)
    resp = site.post("/archive/cover", data={**form(site, aid), "page": "2"}, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("&cover=1")
    resp = site.post("/archive/cover", headers=JSON, data={**form(site, aid), "page": "99"})
    assert resp.status_code == 400 and resp.json()["error"]  # the service's own reason, passed on
    resp = site.post("/archive/delete", headers=JSON, data=form(site, aid))
    assert resp.status_code == 200 and resp.json()["ok"] == 1
    assert not Path(site.content / "Apple.cbz").exists()
    assert site.get(f"/archive?id={aid}").status_code == 404
    token = csrf_of(site.get(f"/archive?id={site.ids['Nasty']}").text)
    resp = site.post("/archive/delete", headers=JSON, data={"id": aid, "csrf": token})
    assert resp.status_code == 404 and resp.json()["error"] == "This ID doesn't exist on the server."
