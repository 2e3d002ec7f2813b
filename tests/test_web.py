"""The web UI over HTTP (no browser): escaping, the JS-off library page, login, CSRF, settings, page weight."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from archive_factory import make_archive, make_image

from lrr_lite.http.app import create_app
from lrr_lite.http.web import mount as mount_web
from lrr_lite.http.web import pages as web_pages
from lrr_lite.http.web import session

NASTY_TITLE = """<script>alert("t")</script> "Quoted" & 'single' — 日本語のタイトル ñ"""
NASTY_TAGS = """artist:<b>bold</b>, "quoted tag", 漢字:テスト, x:<img src=x onerror=alert(1)>, fruit:kiwi"""
PAGE_WEIGHT_LIMIT = 150 * 1024  # the budget (test_web_weight.py); cards grew progress bars (issue 16)


def app_with_web(ctx):
    """create_app plus the web module, unless app.py already mounts it (then this adds nothing)."""
    app = create_app(ctx)
    if not any(route.rule == "/reader" for route in app.routes):
        mount_web(app, ctx)
    return app


@pytest.fixture
def web(make_server, monkeypatch):
    """A real server over four archives: Apple, Banana (new), Cherry and one with a hostile title/tags."""
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for i, name in enumerate(("Apple", "Banana", "Cherry", "Nasty")):
        pages = {f"{p:03d}.jpg": make_image(60 + i, 80, text=f"{name} {p}") for p in range(1, 4 + i)}
        make_archive(server.content / f"{name}.cbz", pages, "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    meta = {"Apple": ("Apple", "fruit:apple, artist:alice"), "Banana": ("Banana", "fruit:banana"),
            "Cherry": ("Cherry", "fruit:cherry, artist:alice"), "Nasty": (NASTY_TITLE, NASTY_TAGS)}
    for name, (title, tags) in meta.items():
        resp = server.put(f"/api/archives/{ids[name]}/metadata", auth=True, data={"title": title, "tags": tags})
        assert resp.status_code == 200, resp.text
        if name != "Banana":
            assert server.delete(f"/api/archives/{ids[name]}/isnew").status_code == 200
    server.ids = ids
    return server


class Tags(HTMLParser):
    """Start tags with their attributes, and the text, of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def card_titles(html: str) -> list[str]:
    return [re.sub("<[^>]*>", "", m) for m in re.findall(r'<li><a href="/reader[^>]*>.*?<b>(.*?)</b></a>', html)]


def unescape(text: str) -> str:
    import html

    return html.unescape(text)


# -- library page ----------------------------------------------------------------------------------------

def test_library_page_lists_archives_without_js(web):
    resp = web.get("/")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in resp.headers["Content-Security-Policy"]  # default-src 'self' covers it
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    titles = [unescape(t) for t in card_titles(resp.text)]
    assert titles == ["Apple", "Banana", "Cherry", NASTY_TITLE]
    doc = parse(resp.text)
    imgs = [a for t, a in doc.tags if t == "img"]
    assert all(a.get("loading") == "lazy" and a["src"].split("?v=")[0].endswith("/thumbnail") for a in imgs)
    assert len(imgs) == 4
    assert resp.text.count('<span class="new">NEW</span>') == 1
    assert "4 results of 4 archives" in resp.text
    assert '<form class="search" method="get" action="/"' in resp.text


def test_tag_links_search_exactly(web):
    html = web.get("/").text
    hrefs = [a["href"] for t, a in parse(html).tags if t == "a" and a.get("href", "").startswith("/?q=")]
    assert "/?q=fruit:apple$" in hrefs
    assert "/?q=x:%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E$" in hrefs
    assert "/?q=artist:alice$" in hrefs
    resp = web.get("/?q=artist:alice$")
    assert [unescape(t) for t in card_titles(resp.text)] == ["Apple", "Cherry"]
    resp = web.get("/", params={"q": "fruit:apple$"})
    assert card_titles(resp.text) == ["Apple"]
    assert 'value="fruit:apple$"' in resp.text
    # the full grammar: exclusion and a non-ASCII tag
    assert card_titles(web.get("/", params={"q": "artist:alice, -fruit:cherry"}).text) == ["Apple"]
    assert len(card_titles(web.get("/", params={"q": "漢字:テスト$"}).text)) == 1


def test_sort_filters_categories_and_paging(web):
    desc = web.get("/", params={"sort": "title", "order": "desc"}).text
    assert [unescape(t) for t in card_titles(desc)][:3] == [NASTY_TITLE, "Cherry", "Banana"]
    assert card_titles(web.get("/?new=1").text) == ["Banana"]
    assert web.get("/?untagged=1").status_code == 200
    # last read: only archives with a read time, most recent first
    web.put(f"/api/archives/{web.ids['Cherry']}/progress/1")
    assert card_titles(web.get("/?sort=lastread").text) == ["Cherry"]
    # categories as chips
    cat = web.put("/api/categories", auth=True, params={"name": "Red <things>"}).json()["category_id"]
    for name in ("Apple", "Cherry"):
        assert web.put(f"/api/categories/{cat}/{web.ids[name]}", auth=True).status_code == 200
    html = web.get("/").text
    assert "Red &lt;things&gt;" in html and "<things>" not in html
    assert f'href="/?cat={cat}"' in html
    assert card_titles(web.get(f"/?cat={cat}").text) == ["Apple", "Cherry"]
    # paging follows the archives-per-page setting
    web.ctx.settings.set("pagesize", 3)
    first = web.get("/").text
    assert len(card_titles(first)) == 3 and "page 1 of 2" in first and 'rel="next" href="/?p=2"' in first
    second = web.get("/?p=2").text
    assert len(card_titles(second)) == 1 and 'rel="prev"' in second
    # junk parameters fall back to defaults rather than failing
    assert web.get("/?p=abc&sort=<x>&order=sideways&cat=nope").status_code == 200


def test_hostile_title_and_tags_render_as_text(web):
    for path in ("/", f"/reader?id={web.ids['Nasty']}", "/?q=" + requests.utils.quote(NASTY_TITLE)):
        html = web.get(path).text
        doc = parse(html)
        names = [t for t, _ in doc.tags]
        assert names.count("b") == html.count('<li><a href="/reader')  # only the card titles are bold
        scripts = [a for t, a in doc.tags if t == "script"]
        assert all(a.get("src", "").startswith("/static/") for a in scripts), scripts
        assert not any("onerror" in a for _, a in doc.tags)
        assert NASTY_TITLE in "".join(doc.text)  # shown as text, quotes and non-ASCII intact
    html = web.get("/").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "漢字:テスト" in html


def test_reader_page(web):
    aid = web.ids["Banana"]
    resp = web.get(f"/reader?id={aid}")
    assert resp.status_code == 200
    doc = parse(resp.text)
    body = next(a for t, a in doc.tags if t == "body")
    assert body["data-id"] == aid and body["data-start"] == "1" and body["data-new"] == "1"
    assert body["data-track"] == "1"
    assert any(t == "script" and a["src"].startswith("/static/reader.js") for t, a in doc.tags)
    web.put(f"/api/archives/{aid}/progress/3")
    body = next(a for t, a in parse(web.get(f"/reader?id={aid}").text).tags if t == "body")
    assert body["data-start"] == "3"
    body = next(a for t, a in parse(web.get(f"/reader?id={aid}&page=2").text).tags if t == "body")
    assert body["data-start"] == "2"
    assert web.get("/reader?id=" + "0" * 40).status_code == 404
    assert web.get("/reader?id=<script>").status_code == 404
    assert "&lt;script&gt;" not in web.get("/reader?id=<script>").text  # the bad ID is not echoed at all


# -- static files and weight -----------------------------------------------------------------------------

def test_static_files(web):
    html = web.get("/").text
    css = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', html).group(1)
    resp = web.get(css)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/css")
    assert "immutable" in resp.headers["Cache-Control"]
    assert web.get(css, headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert web.get("/static/reader.js").headers["Content-Type"].startswith("text/javascript")
    assert web.get("/static/nope.js").status_code == 404
    assert web.get("/static/..%2f__init__.py").status_code == 404
    assert web.get("/favicon.ico").headers["Content-Type"] == "image/x-icon"  # a real ICO: tests/test_favicon.py


def full_page_of_cards() -> tuple[dict, dict[str, str], list[dict]]:
    """(the static files, their versioned URLs, 100 archives with long titles and 8 shown tags each): the
    largest library page most people use, for the page-weight tests."""
    from lrr_lite.http.web import load_static

    files = load_static()
    static = {name: f"/static/{name}?v=0123456789" for name in files}
    tags = ", ".join(["artist:some artist name", "parody:original work", "group:circle name", "language:english",
                      "female:long tag number one", "male:long tag number two", "misc:full color",
                      "date_added:1700000000", "extra:hidden past eight"])
    archives = [{"arcid": f"{n:040x}", "title": f"A Fairly Long Archive Title, Volume {n} (Digital)",
                 "filename": "x", "tags": tags, "isnew": "true", "pagecount": 200, "progress": 34}
                for n in range(100)]
    return files, static, archives


def page_weight(server, path: str = "/") -> tuple[int, dict[str, int]]:
    html = server.get(path).content
    parts = {"html": len(html)}
    doc = parse(html.decode("utf-8"))
    for tag, attrs in doc.tags:
        url = attrs.get("src") if tag == "script" else attrs.get("href") if (
            tag == "link" and attrs.get("rel") == "stylesheet") else None
        if url:
            parts[url.split("?")[0]] = len(server.get(url).content)
    return sum(parts.values()), parts


def test_library_page_weight_under_100_kb(web):
    total, parts = page_weight(web)
    print(f"library page weight: {total} bytes {parts}")
    assert total <= PAGE_WEIGHT_LIMIT
    assert set(parts) == {"html", "/static/style.css", "/static/library.js"}


# -- login, session, CSRF, settings ------------------------------------------------------------------------

def login(server, password: str = "kamimamita", next_url: str = "/settings") -> requests.Response:
    return server.post("/login", data={"password": password, "next": next_url}, allow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logout(server):
    """Log out as the browser does: the "Log out" page's form, a POST with the session's CSRF token."""
    token = csrf_of(server.get("/logout").text)
    return server.post("/logout", data={"csrf": token}, allow_redirects=False)


def test_login_logout_and_session_cookie(web):
    resp = web.get("/settings", allow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/login?next=%2Fsettings")
    assert web.get("/login?next=%2Fsettings").status_code == 200
    bad = login(web, "wrong")
    assert bad.status_code == 403 and "Wrong password." in bad.text
    assert session.COOKIE not in web.session.cookies
    good = login(web)
    assert good.status_code == 303 and good.headers["Location"].endswith("/settings")
    cookie = good.headers["Set-Cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert web.get("/settings").status_code == 200
    # the session authenticates API calls too (app.is_authenticated -> session_ok)
    assert web.delete("/api/search/cache").status_code == 200
    # a tampered cookie is nobody
    value = web.session.cookies.get(session.COOKIE)
    tampered = requests.Session()
    tampered.cookies.set(session.COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"))
    assert tampered.get(web.url + "/settings", allow_redirects=False).status_code == 303
    assert tampered.delete(web.url + "/api/search/cache").status_code == 401
    # logout
    assert logout(web).status_code == 303
    assert web.get("/settings", allow_redirects=False).status_code == 303
    # next= never leaves the site
    assert login(web, next_url="//evil.example/").headers["Location"] == web.url + "/"


def test_settings_need_csrf_token_of_this_session(web):
    login(web)
    token = csrf_of(web.get("/settings").text)
    form = {"pagesize": "7", "htmltitle": "T", "csrf": token}
    assert web.post("/settings", data={**form, "csrf": ""}, allow_redirects=False).status_code == 403
    assert web.post("/settings", data={**form, "csrf": "0" * 64}, allow_redirects=False).status_code == 403
    # another logged-in browser's token does not work here
    other = requests.Session()
    other.post(web.url + "/login", data={"password": "kamimamita"})
    other_token = csrf_of(other.get(web.url + "/settings").text)
    assert other_token != token
    assert web.post("/settings", data={**form, "csrf": other_token}, allow_redirects=False).status_code == 403
    assert web.ctx.settings.get("pagesize") == 100


def current_form(server) -> dict[str, str]:
    """The settings form as a browser would submit it unchanged."""
    doc = parse(server.get("/settings").text)
    form: dict[str, str] = {}
    for tag, attrs in doc.tags:
        if tag != "input" or not attrs.get("name"):
            continue
        if attrs.get("type") == "checkbox":
            if "checked" in attrs:
                form[attrs["name"]] = attrs.get("value") or "on"
        else:
            form[attrs["name"]] = attrs.get("value") or ""
    return form


def test_settings_validation_and_save(web):
    login(web)
    form = current_form(web)
    assert form["apikey"] == "" and form["pagesize"] == "100" and "enablepass" in form  # the key: never shown
    for field, value in (("pagesize", "0"), ("pagesize", "abc"), ("pagesize", "99999"), ("readerquality", "101"),
                         ("motd", "two\nlines"), ("htmltitle", "x" * 101)):
        resp = web.post("/settings", data={**form, "htmltitle": "Changed", field: value}, allow_redirects=False)
        assert resp.status_code == 400, (field, value)
        assert "Nothing was saved" in resp.text
        assert web.ctx.settings.get("htmltitle") == "lrr_lite"
    resp = web.post("/settings", data={**form, "new_password": "a", "new_password2": "b"}, allow_redirects=False)
    assert resp.status_code == 400 and "The two passwords differ." in resp.text
    changed = {**form, "pagesize": "25", "htmltitle": "My <Library> “ü”", "nofunmode": "1"}
    changed.pop("enablecors", None)
    resp = web.post("/settings", data=changed, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/settings?saved=1")
    info = web.get("/api/info").json()
    assert info["archives_per_page"] == 25 and info["nofun_mode"] is True
    assert web.ctx.settings.get("htmltitle") == "My <Library> “ü”"
    page = web.get("/settings?saved=1").text
    assert "Settings saved." in page and "My &lt;Library&gt; “ü”" in page


def test_password_change_stores_a_hash_and_ends_other_sessions(web):
    login(web)
    other = requests.Session()
    other.post(web.url + "/login", data={"password": "kamimamita"})
    assert other.get(web.url + "/settings", allow_redirects=False).status_code == 200
    form = current_form(web)
    resp = web.post("/settings", data={**form, "new_password": "s3cret ü", "new_password2": "s3cret ü"},
                    allow_redirects=False)
    assert resp.status_code == 303
    stored = web.ctx.settings.get("password")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert session.verify_password(stored, "s3cret ü") and not session.verify_password(stored, "kamimamita")
    assert web.get("/settings", allow_redirects=False).status_code == 200  # this browser got a new cookie
    assert other.get(web.url + "/settings", allow_redirects=False).status_code == 303
    assert login(web, "kamimamita").status_code == 403
    assert login(web, "s3cret ü").status_code == 303


def test_verify_password_forms():
    assert session.verify_password("kamimamita", "kamimamita")
    assert not session.verify_password("kamimamita", "kamimamitA")
    assert not session.verify_password("", "")
    hashed = session.hash_password("pw")
    assert hashed != session.hash_password("pw")  # salted
    assert session.verify_password(hashed, "pw") and not session.verify_password(hashed, "pW")
    assert not session.verify_password("scrypt$broken", "pw")


def test_no_fun_mode_sends_pages_to_login(web):
    web.ctx.settings.set("nofunmode", 1)
    resp = web.get(f"/reader?id={web.ids['Apple']}", allow_redirects=False)
    assert resp.status_code == 303
    assert parse_qs(urlsplit(resp.headers["Location"]).query)["next"] == [f"/reader?id={web.ids['Apple']}"]
    assert web.get("/", allow_redirects=False).status_code == 303
    assert web.get("/login").status_code == 200
    assert web.get("/static/style.css").status_code == 200
    assert web.get("/api/info").status_code == 401
    login(web)
    assert web.get("/").status_code == 200
    assert web.get("/api/info").status_code == 200  # the session cookie works for the API as well


def test_password_protection_off_opens_settings(web):
    web.ctx.settings.set("enablepass", 0)
    resp = web.get("/settings")
    assert resp.status_code == 200 and "Password protection" in resp.text
    assert "Password protection is off" in web.get("/login").text
    # a guest still needs the CSRF token of its own (guest) session
    form = current_form(web)
    assert web.post("/settings", data={**form, "csrf": "x"}, allow_redirects=False).status_code == 403
    assert web.post("/settings", data={**form, "pagesize": "9"}, allow_redirects=False).status_code == 303
    assert web.ctx.settings.get("pagesize") == 9
    assert web.ctx.settings.get("enablepass") == 0  # the box was shown unchecked and stayed so


def test_full_library_page_weight(web):
    """A full page at the default 100 archives per page, each with a long title and 8 shown tags."""
    files, static, archives = full_page_of_cards()
    html = web_pages.library_page(web.ctx, static, web_pages.LibraryState(), archives, 5000, 5000, 100,
                                  [], authed=False)
    total = len(html.encode()) + len(files["style.css"][0]) + len(files["library.js"][0])
    print(f"full library page weight (100 cards): {total} bytes")
    assert total <= PAGE_WEIGHT_LIMIT


def test_tankoubons_show_as_one_card_with_their_volumes(web):
    tank_id = web.put("/api/tankoubons", auth=True, params={"name": "Fruit <Saga>"}).json()["tankoubon_id"]
    for name in ("Cherry", "Apple"):
        assert web.put(f"/api/tankoubons/{tank_id}/{web.ids[name]}", auth=True).status_code == 200
    html = web.get("/").text
    # the two volumes are one card, linking to the tank's page with the tank's cover
    assert [unescape(t) for t in card_titles(html)] == ["Banana", NASTY_TITLE]
    links = [a["href"] for t, a in parse(html).tags if t == "a" and a.get("href", "").startswith("/tank?")]
    assert links == [f"/tank?id={tank_id}"]
    assert "Fruit &lt;Saga&gt;" in html and '<span class="tank">TANK</span>' in html
    assert f'src="/api/tankoubons/{tank_id}/thumbnail' in html  # with ?v= once its cover file exists
    assert "3 results of 3 archives" in html
    assert web.get(f"/api/tankoubons/{tank_id}/thumbnail").headers["Content-Type"].startswith("image/")
    # its page lists the volumes in the tank's order, each opening the reader
    page = web.get(f"/tank?id={tank_id}")
    assert page.status_code == 200 and "<h1>Fruit &lt;Saga&gt;</h1>" in page.text
    assert [unescape(t) for t in card_titles(page.text)] == ["Cherry", "Apple"]
    assert "2 volumes" in page.text
    missing = web.get("/tank?id=TANK_0000000000")
    assert missing.status_code == 404 and "doesn&#x27;t exist" in missing.text
    # a search that matches a volume finds the tank
    html = web.get("/", params={"q": "fruit:cherry$"}).text
    assert links == [a["href"] for t, a in parse(html).tags if t == "a" and a.get("href", "").startswith("/tank?")]
