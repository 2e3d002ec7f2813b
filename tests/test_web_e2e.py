"""The web UI in a real headless Chromium against the real server on 127.0.0.1.

Search a tag, open an archive, turn pages forward and back (progress seen through the API), log in and
change a setting. Screenshots of the library page and the reader go under the test's tmp_path.
"""

from __future__ import annotations

import sys
from urllib.parse import unquote

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import NASTY_TAGS, NASTY_TITLE, app_with_web
from webdriver import KEY_ENTER, KEY_LEFT, KEY_RIGHT, Browser

WIDE = (1200, 900)  # Banana's pages: wider than the window, so fit-width has something to do


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(1000, 800)


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    sizes = {"Apple": (300, 420), "Banana": WIDE, "Cherry": (320, 440), "Nasty": (200, 280)}
    for name, size in sizes.items():
        pages = {f"{p:03d}.jpg": make_image(*size, text=f"{name} page {p}") for p in range(1, 6)}
        make_archive(server.content / f"{name}.cbz", pages, "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    meta = {"Apple": ("Apple", "fruit:apple, artist:alice"), "Banana": ("Banana", "fruit:banana, artist:bob"),
            "Cherry": ("Cherry", "fruit:cherry, artist:alice"), "Nasty": (NASTY_TITLE, NASTY_TAGS)}
    for name, (title, tags) in meta.items():
        assert server.put(f"/api/archives/{ids[name]}/metadata", auth=True,
                          data={"title": title, "tags": tags}).status_code == 200
    server.ids = ids
    return server


def card_titles(browser: Browser) -> list[str]:
    return [e.text for e in browser.find_all("#grid li > a > b")]


def archive(site, name: str) -> dict:
    return site.get(f"/api/archives/{site.ids[name]}").json()


def test_search_open_and_read(site, browser, tmp_path):
    browser.get(site.url + "/")
    browser.wait(lambda: len(card_titles(browser)) == 4, message="four cards")
    assert card_titles(browser) == ["Apple", "Banana", "Cherry", NASTY_TITLE]
    # hostile strings are text: no element came from them, and the text reads exactly as stored
    assert browser.script("return document.querySelectorAll('.tags b, #grid script, .tags img, #grid b b').length") == 0
    assert "artist:<b>bold</b>" in browser.find("body").text
    assert browser.script("return document.querySelectorAll('#grid .new').length") == 4  # all new at import
    shot = tmp_path / "library.png"
    size = browser.screenshot(shot)
    viewport = browser.script("return [window.innerWidth, window.innerHeight]")
    assert list(size) == viewport and shot.stat().st_size > 1000
    covers = browser.find_all("#grid img")
    assert all(c.attribute("loading") == "lazy" for c in covers)
    browser.wait(lambda: browser.script("return document.querySelector('#grid img').naturalWidth") > 0,
                 message="first thumbnail")

    # clicking a tag searches it
    next(t for t in browser.find_all(".tags a") if t.text == "artist:alice").click()
    browser.wait(lambda: card_titles(browser) == ["Apple", "Cherry"], message="artist:alice results")
    assert unquote(browser.url).endswith("/?q=artist:alice$")
    # typing in the search box
    box = browser.find("#q")
    box.clear()
    box.send_keys("fruit:banana" + KEY_ENTER)
    browser.wait(lambda: card_titles(browser) == ["Banana"], message="banana result")
    assert "1 result of 4 archives" in browser.find("#summary").text

    # open it
    browser.find("#grid li > a").click()
    browser.wait(lambda: browser.script("return document.getElementById('page').naturalWidth") == WIDE[0],
                 message="page 1 shown")
    assert browser.find("#pn").text == "1" and browser.find("#pc").text == "5"
    assert browser.find("#rtitle").text == "Banana"
    browser.wait(lambda: archive(site, "Banana")["progress"] == 1, message="progress 1 stored")
    assert archive(site, "Banana")["isnew"] == "true"  # NEW is cleared from page 2 on (test_web_reader.py)
    # fit width: scaled to the viewport; original: natural size
    browser.script("var f=document.getElementById('fit'); f.value='width';"
                   "f.dispatchEvent(new Event('change'))")
    shown = browser.script("return document.getElementById('page').getBoundingClientRect().width")
    assert shown == browser.script("return document.documentElement.clientWidth") < WIDE[0]
    reader_shot = tmp_path / "reader.png"
    assert list(browser.screenshot(reader_shot)) == viewport

    # forward with the keyboard, forward with a tap on the right half, back with the keyboard
    browser.keys(KEY_RIGHT)
    browser.wait(lambda: browser.find("#pn").text == "2", message="page 2")
    browser.wait(lambda: archive(site, "Banana")["progress"] == 2, message="progress 2")
    browser.wait(lambda: archive(site, "Banana")["isnew"] == "false", message="new flag cleared")
    assert browser.script("return document.getElementById('page').src").endswith("002.jpg")
    browser.script("var s=document.getElementById('stage').getBoundingClientRect();"
                   "document.getElementById('stage').dispatchEvent(new MouseEvent('click', "
                   "{clientX: s.left + s.width * 0.9, clientY: s.top + 50, bubbles: true}));")
    browser.wait(lambda: browser.find("#pn").text == "3", message="page 3 after a tap")
    browser.wait(lambda: archive(site, "Banana")["progress"] == 3, message="progress 3")
    browser.keys(KEY_LEFT)
    browser.wait(lambda: browser.find("#pn").text == "2", message="back to page 2")
    browser.wait(lambda: archive(site, "Banana")["progress"] == 2, message="progress back to 2")
    # the next pages were preloaded: fetched by the browser, so in its resource timing
    browser.wait(lambda: browser.script(
        "return performance.getEntriesByType('resource').some(function(e){return /004\\.jpg$/.test(e.name)})"),
        message="page 4 preloaded")
    assert archive(site, "Banana")["progress"] == 2  # preloading is not reading

    # original size, then right-to-left: the left arrow now goes forward
    browser.script("var f=document.getElementById('fit'); f.value='original';"
                   "f.dispatchEvent(new Event('change'))")
    assert browser.script("return document.getElementById('page').getBoundingClientRect().width") == WIDE[0]
    browser.find("#dir").click()
    assert browser.find("#dir").text == "RTL"
    browser.keys(KEY_LEFT)
    browser.wait(lambda: browser.find("#pn").text == "3", message="RTL forward")
    browser.find("#dir").click()

    # the page strip jumps anywhere
    browser.find("#stripbtn").click()
    links = browser.find_all("#strip a")
    assert len(links) == 5
    links[4].click()
    browser.wait(lambda: browser.find("#pn").text == "5", message="page 5 from the strip")
    browser.wait(lambda: archive(site, "Banana")["progress"] == 5, message="progress 5")
    # the strip asked for page thumbnails and swapped the placeholders (200x280) for them (500 px wide)
    browser.wait(lambda: browser.script("return document.querySelector('#strip img').naturalWidth") == 500,
                 timeout=20, message="page thumbnails in the strip")
    browser.screenshot(tmp_path / "reader-strip.png")
    assert (tmp_path / "library.png").is_file() and reader_shot.is_file()


def test_login_and_change_a_setting(site, browser, tmp_path):
    browser.get(site.url + "/settings")
    browser.wait(lambda: "/login" in browser.url, message="redirect to the login page")
    browser.find("#password").send_keys("not it" + KEY_ENTER)
    browser.wait(lambda: "Wrong password." in browser.find("body").text, message="refusal")
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: browser.url.endswith("/settings"), message="back on the settings page")
    field = browser.find("#s_pagesize")
    assert field.prop("value") == "100"
    field.clear()
    field.send_keys("2")
    browser.find("#save").click()
    browser.wait(lambda: "Settings saved." in browser.find("body").text, message="saved notice")
    assert site.get("/api/info").json()["archives_per_page"] == 2
    browser.screenshot(tmp_path / "settings.png")
    browser.get(site.url + "/")
    browser.wait(lambda: len(card_titles(browser)) == 2, message="two cards per page")
    assert "page 1 of 2" in browser.find("#summary").text
    browser.find(".pager a[rel=next]").click()
    browser.wait(lambda: card_titles(browser) == ["Cherry", NASTY_TITLE], message="second page")
    browser.find("header.top button.linkish").click()  # the header's "Log out": a form, styled as a link
    browser.wait(lambda: bool(browser.find_all("header.top a[href$='/login']")), message="logged out")
    browser.get(site.url + "/settings")
    browser.wait(lambda: "/login" in browser.url, message="logged out")


def test_reader_under_a_url_prefix(make_server, monkeypatch, browser):
    """Behind a proxy at /lrr (SEMANTICS §20) every request the reader makes goes under /lrr."""
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server(config={"base_url_path": "/lrr"})
    make_archive(server.content / "Prefixed.cbz",
                 {f"{p:03d}.jpg": make_image(300, 420, text=f"page {p}") for p in range(1, 4)}, "cbz")
    server.start()
    arcid = server.get("/api/archives").json()[0]["arcid"]
    browser.get(f"{server.url}/lrr/")
    browser.find("#grid li > a").click()
    browser.wait(lambda: browser.script("return document.getElementById('page').naturalWidth") == 300,
                 message="page 1 shown")
    browser.keys(KEY_RIGHT)
    browser.wait(lambda: server.get(f"/api/archives/{arcid}").json()["progress"] == 2, message="progress 2")
    assert "/lrr/reader?id=" in browser.url
    browser.find("#stripbtn").click()
    # the thumbnail job was followed through /api/minion to the end: the placeholders were swapped
    browser.wait(lambda: "&t=" in browser.script("return document.querySelector('#strip img').src"),
                 timeout=20, message="page thumbnails in the strip")
    requested = browser.script("return performance.getEntriesByType('resource').map(function(e){return e.name})")
    assert requested and all(url.startswith(f"{server.url}/lrr/") for url in requested), requested


def test_api_key_is_replaced_never_shown(site, browser, tmp_path):
    """The settings page says whether a key is set and takes a new one, but the page never holds the key."""
    secret = "e2e-Secret-Key-0123"
    site.ctx.settings.set("apikey", secret)
    browser.get(site.url + "/login?next=%2Fsettings")
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: browser.url.endswith("/settings"), message="on the settings page")
    assert "A key is set" in browser.find("#s_apikey_state").text
    assert secret not in browser.script("return document.documentElement.outerHTML")
    assert browser.find("#s_apikey").prop("value") == ""
    shots = {}
    try:
        for name, (width, height) in (("desktop", (1280, 900)), ("phone", (390, 844))):
            browser.cmd("POST", "/window/rect", {"width": width, "height": height})
            browser.script("document.getElementById('s_apikey').scrollIntoView({block: 'center'})")
            # nothing sticks out sideways, even on a phone
            assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
            shots[name] = tmp_path / f"settings-{name}.png"
            browser.screenshot(shots[name])
    finally:
        browser.cmd("POST", "/window/rect", {"width": 1000, "height": 800})
    browser.find("#s_apikey").send_keys("brand-new-key")
    browser.find("#save").click()
    browser.wait(lambda: "Settings saved." in browser.find("body").text, message="saved notice")
    assert site.get("/api/clean_temp", params={"key": "brand-new-key"}).status_code == 200
    assert site.get("/api/clean_temp", params={"key": secret}).status_code == 401
    assert "brand-new-key" not in browser.script("return document.documentElement.outerHTML")
    browser.find("#s_apikey_clear").click()
    browser.find("#save").click()
    browser.wait(lambda: "No key is set" in browser.find("#s_apikey_state").text, message="key removed")
    assert site.ctx.settings.get("apikey") == ""
    assert all(path.stat().st_size > 1000 for path in shots.values())
    print("settings screenshots:", *shots.values())


def test_first_look(make_server, monkeypatch, browser, tmp_path):
    """Issue #13: an empty library explains where archives go; a card shows its date_added as a date in the
    browser's locale, not as a `date_added:` chip; the page titles say lrr_lite."""
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server().start()
    content = str(server.content.resolve())
    browser.get(server.url + "/")
    hint = browser.wait(lambda: browser.find_all("#empty-library"), message="the empty-library hint")[0]
    assert "Your library is empty" in hint.text and "Sub-folders are fine" in hint.text
    assert "the server's content folder" in hint.text and content not in browser.find("body").text
    assert "lrr_lite" in browser.title and "Nothing found." not in browser.find("body").text
    browser.screenshot(tmp_path / "empty-anonymous.png")

    # logged in, the hint names the folder
    browser.find("#empty-library a[href='/login']").click()
    browser.wait(lambda: "/login" in browser.url, message="the login page")
    assert "lrr_lite" in browser.title
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: browser.find_all("#content-path"), message="the content path")
    assert browser.find("#content-path").text == content
    browser.screenshot(tmp_path / "empty-logged-in.png")
    try:  # on a phone the long path wraps instead of pushing the page sideways
        browser.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
        browser.screenshot(tmp_path / "empty-phone.png")
    finally:
        browser.cmd("POST", "/window/rect", {"width": 1000, "height": 800})

    make_archive(server.content / "comics" / "Dated.cbz",
                 {f"{p}.jpg": make_image(300, 420, text=f"Dated {p}") for p in (1, 2)}, "cbz")
    server.rescan()
    arcid = server.get("/api/archives").json()[0]["arcid"]
    assert server.put(f"/api/archives/{arcid}/metadata", auth=True,
                      data={"tags": "artist:alice, date_added:1796396660, fruit:kiwi"}).status_code == 200
    browser.get(server.url + "/")
    browser.wait(lambda: card_titles(browser) == ["Dated"], message="the card")
    dates = browser.find_all("#grid time.date")
    assert len(dates) == 1
    local = browser.script("return 'added ' + new Date(1796396660000).toLocaleDateString(undefined, "
                           "{year: 'numeric', month: 'short', day: 'numeric'})")
    assert dates[0].text == local and "2026" in local  # the browser's own rendering of that day
    assert [t.text for t in browser.find_all(".tags a")] == ["artist:alice", "fruit:kiwi"]
    assert "date_added" not in browser.find("#grid").text and "1796396660" not in browser.find("#grid").text
    assert "lrr_lite" in browser.title
    browser.screenshot(tmp_path / "dated-card.png")
    print("first-look screenshots:", *sorted(tmp_path.glob("*.png")))
