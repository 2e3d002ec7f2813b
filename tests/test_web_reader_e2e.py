"""The reader in a real headless Chromium against the real server on 127.0.0.1 (issue 16).

Each mode (single, double with the cover and a wide page alone, vertical for a webtoon strip), the fits
measured by the image's rendered box against the stage, right to left from ComicInfo.xml, swipes from
synthesised touch events, tap zones, the seek slider, page number entry, broken pages and a 0-page archive.
Screenshots at 1280x1000 and 412x915 go to the test's tmp_path (READER_SHOTS=<dir> keeps them).
"""

from __future__ import annotations

import sys

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import app_with_web
from webdriver import KEY_ENTER, KEY_LEFT, KEY_RIGHT, Browser, keep_shots

PORTRAIT = (1200, 1800)  # bigger than the stage: every fit has something to do
WIDE = (1800, 1200)
STRIP = (400, 1600)  # 4:1, a webtoon strip
COMICINFO_RTL = (b'<?xml version="1.0" encoding="utf-8"?><ComicInfo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                 b"<Title>Manga</Title><Manga>YesAndRightToLeft</Manga></ComicInfo>")


@pytest.fixture(scope="module")
def browser():
    for driver in webdriver.module_browser(1280, 1000):
        driver.viewport(1280, 1000)
        yield driver


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    c = server.content

    def pages(sizes, name):
        return {f"{i:03d}.jpg": make_image(*size, text=f"{name} {i}") for i, size in enumerate(sizes, 1)}

    make_archive(c / "Single.cbz", pages([PORTRAIT] * 6, "Single"), "cbz")
    make_archive(c / "Spreads.cbz", pages([(600, 900)] * 3 + [WIDE] + [(600, 900)] * 2, "Spreads"), "cbz")
    make_archive(c / "Webtoon.cbz", pages([STRIP] * 5, "Webtoon"), "cbz")
    make_archive(c / "Manga.cbz", {"ComicInfo.xml": COMICINFO_RTL, **pages([(600, 900)] * 4, "Manga")}, "cbz")
    make_archive(c / "Broken.cbz", {"001.jpg": make_image(600, 900, text="ok"), "002.jpg": b"",
                                    "003.jpg": b"this is not a jpeg at all" * 10}, "cbz")
    make_archive(c / "Empty.cbz", {"readme.txt": b"no pages here"}, "cbz")
    server.start()
    server.ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    return server


@pytest.fixture
def shots(tmp_path):
    yield tmp_path
    keep_shots(tmp_path, "READER_SHOTS")




def open_reader(browser: Browser, site, name: str, shown: str = "1", query: str = "") -> None:
    browser.get(f"{site.url}/reader?id={site.ids[name]}{query}")
    browser.script("localStorage.clear()")
    wait_shown(browser, shown)


def wait_shown(browser: Browser, shown: str) -> None:
    browser.wait(lambda: browser.script("return document.body.dataset.shown") == shown,
                 message=f"view {shown} (now {browser.script('return document.body.dataset.shown')})")


def rect(browser: Browser, css: str) -> dict:
    return browser.script("var r=document.querySelector(arguments[0]).getBoundingClientRect();"
                          "return {x:r.left, y:r.top, w:r.width, h:r.height, b:r.bottom, r:r.right}", css)


def stage(browser: Browser) -> dict:
    return browser.script("var s=document.getElementById('stage');"
                          "return {w:s.clientWidth, h:s.clientHeight, b:s.getBoundingClientRect().bottom}")


def choose(browser: Browser, select: str, value: str) -> None:
    browser.script("var f=document.getElementById(arguments[0]); f.value=arguments[1];"
                   "f.dispatchEvent(new Event('change'))", select, value)


def swipe(browser: Browser, dx: int) -> None:
    """A one-finger swipe across the stage, as touch events (Chromium builds Touch objects on request)."""
    browser.script("""
        var s = document.getElementById('stage'), b = s.getBoundingClientRect();
        var x = b.left + b.width / 2, y = b.top + b.height / 2, dx = arguments[0];
        function t(cx) { return new Touch({identifier: 1, target: s, clientX: cx, clientY: y}); }
        var a = t(x), z = t(x + dx);
        s.dispatchEvent(new TouchEvent('touchstart', {touches: [a], changedTouches: [a], bubbles: true}));
        s.dispatchEvent(new TouchEvent('touchmove', {touches: [z], changedTouches: [z], bubbles: true}));
        s.dispatchEvent(new TouchEvent('touchend', {touches: [], changedTouches: [z], bubbles: true}));
    """, dx)


def tap(browser: Browser, fraction: float) -> None:
    browser.script("var s=document.getElementById('stage').getBoundingClientRect();"
                   "document.getElementById('stage').dispatchEvent(new MouseEvent('click', "
                   "{clientX: s.left + s.width * arguments[0], clientY: s.top + 50, bubbles: true}));", fraction)


def archive(site, name: str) -> dict:
    return site.get(f"/api/archives/{site.ids[name]}").json()


def test_single_page_fits_and_navigation(site, browser, shots):
    open_reader(browser, site, "Single")
    assert browser.script("return document.body.dataset.fit") == "screen"  # the default
    s, img = stage(browser), rect(browser, "#page")
    # fit screen: the whole page inside the stage, touching it on the limiting side (here the height)
    assert abs(img["h"] - s["h"]) <= 1 and img["w"] <= s["w"]
    assert abs(img["w"] / img["h"] - PORTRAIT[0] / PORTRAIT[1]) < 0.01
    browser.screenshot(shots / "single-1280.png")
    choose(browser, "fit", "width")
    img = rect(browser, "#page")
    assert abs(img["w"] - s["w"]) <= 1 and img["h"] > s["h"]  # taller than the screen: scrolls
    choose(browser, "fit", "height")
    assert abs(rect(browser, "#page")["h"] - s["h"]) <= 1
    # the strip open: the stage is shorter, and fit height still fits it, above the seek bar
    browser.find("#stripbtn").click()
    browser.wait(lambda: stage(browser)["h"] < s["h"] - 50, message="stage shrinks under the strip")
    s2 = stage(browser)
    browser.wait(lambda: abs(rect(browser, "#page")["h"] - s2["h"]) <= 1, message="fit height with the strip")
    assert rect(browser, "#page")["b"] <= rect(browser, "#seekbar")["y"] + 1
    choose(browser, "fit", "screen")
    assert rect(browser, "#page")["h"] <= s2["h"] + 1
    browser.screenshot(shots / "single-strip-1280.png")
    browser.find("#stripbtn").click()
    choose(browser, "fit", "original")
    assert rect(browser, "#page")["w"] == PORTRAIT[0]
    choose(browser, "fit", "screen")
    # zoom with ctrl + wheel: bigger than the fit, and back on the next page
    before = rect(browser, "#page")["h"]
    browser.script("var s=document.getElementById('stage').getBoundingClientRect();"
                   "document.getElementById('stage').dispatchEvent(new WheelEvent('wheel', {deltaY: -300, "
                   "ctrlKey: true, clientX: s.left + 100, clientY: s.top + 100, bubbles: true, cancelable: true}))")
    assert rect(browser, "#page")["h"] > before * 1.5

    # keyboard: right, space, end, home; progress follows the page shown
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "2")
    browser.wait(lambda: archive(site, "Single")["progress"] == 2, message="progress 2")
    assert abs(rect(browser, "#page")["h"] - before) <= 1  # zoom reset by the turn
    browser.keys(" ")
    wait_shown(browser, "3")
    browser.keys("\ue010")  # End
    wait_shown(browser, "6")
    browser.keys("\ue011")  # Home
    wait_shown(browser, "1")
    # page number entry
    browser.find("#pos").click()
    browser.find("#goto").send_keys("5" + KEY_ENTER)
    wait_shown(browser, "5")
    assert browser.find("#pn").text == "5" and browser.find("#pc").text == "6"
    # the seek slider, and its thumbnail on hover
    browser.script("var s=document.getElementById('seek'); s.value='4'; s.dispatchEvent(new Event('change'))")
    wait_shown(browser, "4")
    browser.script("var s=document.getElementById('seek'), b=s.getBoundingClientRect();"
                   "s.dispatchEvent(new MouseEvent('mousemove', {clientX: b.right - 2, clientY: b.top + 3}))")
    assert browser.script("return document.getElementById('tip').hidden") is False
    assert "/thumbnail?page=6" in browser.script("return document.querySelector('#tip img').src")
    # preloading: the next two pages were fetched before they were asked for
    browser.wait(lambda: browser.script(
        "return performance.getEntriesByType('resource').some(function(e){return /006\\.jpg$/.test(e.name)})"),
        message="page 6 preloaded")
    # tap zones: the right third goes forward, the left third back, the middle hides the bars
    tap(browser, 0.9)
    wait_shown(browser, "5")
    tap(browser, 0.1)
    wait_shown(browser, "4")
    tap(browser, 0.5)
    assert browser.script("return document.body.classList.contains('bare')")
    tap(browser, 0.5)
    # a swipe to the left turns forward (LTR)
    swipe(browser, -200)
    wait_shown(browser, "5")
    # fullscreen: the button, then `f` again leaves it
    browser.find("#fs").click()
    browser.wait(lambda: browser.script("return !!document.fullscreenElement"), message="fullscreen")
    browser.keys("f")
    browser.wait(lambda: browser.script("return !document.fullscreenElement"), message="fullscreen left")
    # the choices are kept per archive: a guest's in localStorage
    choose(browser, "fit", "width")
    assert '"fit":"width"' in browser.script(f"return localStorage.getItem('lrr_reader_{site.ids['Single']}')")


def test_double_page_cover_and_wide_page_alone(site, browser, shots):
    open_reader(browser, site, "Spreads")
    choose(browser, "mode", "double")
    wait_shown(browser, "1")  # the cover alone
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "2-3")
    assert browser.find("#pn").text == "2-3"
    left, right = rect(browser, "#page"), rect(browser, "#page2")
    assert abs(left["r"] - right["x"]) <= 1 and abs(left["h"] - right["h"]) <= 1  # side by side, same height
    assert right["r"] - left["x"] <= stage(browser)["w"] + 1
    browser.screenshot(shots / "double-1280.png")
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "4")  # the wide page alone
    assert browser.script("return document.getElementById('page2')") is None
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "5-6")
    browser.keys(KEY_LEFT)
    wait_shown(browser, "4")
    browser.keys(KEY_LEFT)
    wait_shown(browser, "2-3")
    browser.wait(lambda: archive(site, "Spreads")["progress"] == 3, message="progress = the spread's last page")
    # without the cover alone: 1-2, 3, 4 (wide), 5-6
    choose(browser, "mode", "double-nocover")
    wait_shown(browser, "1-2")
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "3")
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "4")
    choose(browser, "mode", "double")
    wait_shown(browser, "4")
    # remembered for this archive: a reload opens in double mode
    browser.get(f"{site.url}/reader?id={site.ids['Spreads']}&page=2")
    wait_shown(browser, "2-3")
    assert browser.script("return document.getElementById('mode').value") == "double"


def test_vertical_webtoon_by_shape_and_progress(site, browser, shots):
    assert archive(site, "Webtoon")["isnew"] == "true"
    open_reader(browser, site, "Webtoon")
    # no choice, no ComicInfo: pages taller than 3:1 read as one vertical strip
    assert browser.script("return document.body.dataset.mode") == "vertical"
    assert browser.script("return document.querySelectorAll('#vlist .vp').length") == 5
    browser.wait(lambda: archive(site, "Webtoon")["progress"] == 1, message="progress 1")
    assert archive(site, "Webtoon")["isnew"] == "true"  # the first page alone is not reading
    s = stage(browser)
    width = rect(browser, "#vlist .vp img")["w"]
    assert width == STRIP[0] < s["w"]  # fit screen: a narrow strip is not blown up
    browser.screenshot(shots / "vertical-1280.png")
    browser.script("var s=document.getElementById('stage'); s.scrollTop = document.querySelectorAll('.vp')[2].offsetTop")
    browser.wait(lambda: browser.find("#pn").text == "3", message="position 3 from the scroll")
    browser.wait(lambda: archive(site, "Webtoon")["progress"] == 3, message="progress 3 from the scroll")
    browser.wait(lambda: archive(site, "Webtoon")["isnew"] == "false", message="NEW cleared past page 2")
    # the pages stream in as they come near: the last one is not loaded yet... until the end is reached
    browser.keys("\ue010")  # End
    browser.wait(lambda: archive(site, "Webtoon")["progress"] == 5, message="progress 5 at the end")
    # pages far behind let their pixels go, and keep their place
    browser.wait(lambda: browser.script("return document.querySelectorAll('#vlist img').length") < 5,
                 message="the first pages unloaded")
    assert browser.script("return document.querySelector('.vp').offsetHeight") == STRIP[1]
    browser.keys("\ue011")  # Home: page 1 comes back
    browser.wait(lambda: browser.script("return document.querySelector('.vp img') !== null"), message="page 1 again")


def test_rtl_from_comicinfo_swipes_and_taps(site, browser, shots):
    open_reader(browser, site, "Manga")
    assert browser.find("#dir").text == "RTL"
    assert browser.script("return document.body.classList.contains('rtl')")
    browser.keys(KEY_LEFT)  # the left arrow goes forward
    wait_shown(browser, "2")
    swipe(browser, 200)  # a swipe to the right goes forward
    wait_shown(browser, "3")
    tap(browser, 0.1)  # so does the left third
    wait_shown(browser, "4")
    tap(browser, 0.9)
    wait_shown(browser, "3")
    # the slider runs right to left
    assert browser.script("return getComputedStyle(document.getElementById('seek')).direction") == "rtl"
    choose(browser, "mode", "double")
    wait_shown(browser, "2-3")
    left, right = rect(browser, "#page"), rect(browser, "#page2")
    assert right["r"] <= left["x"] + 1  # page 3 on the left of page 2
    browser.screenshot(shots / "rtl-double-1280.png")


def test_broken_pages_and_no_pages(site, browser, shots):
    open_reader(browser, site, "Broken")
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "2")
    text = browser.find(".broken").text
    assert "Page 2 can't be shown" in text
    browser.keys(KEY_RIGHT)
    wait_shown(browser, "3")
    assert "Page 3 can't be shown" in browser.find(".broken").text
    browser.screenshot(shots / "broken-1280.png")
    browser.get(f"{site.url}/reader?id={site.ids['Empty']}")
    browser.wait(lambda: "no pages" in browser.find("#msg").text, message="the no-pages message")
    assert "1 / 0" not in browser.find("body").text and browser.find("#pos").text == "No pages"
    browser.screenshot(shots / "empty-1280.png")
    # a count the server does not know yet (0 = unknown for old records): the reader finds the pages
    with site.ctx.db.write() as conn:
        conn.execute("UPDATE archives SET pagecount=0 WHERE id=?", (site.ids["Single"],))
    browser.get(f"{site.url}/reader?id={site.ids['Single']}")
    wait_shown(browser, "1")
    assert browser.find("#pos").text == "1 / 6"


def test_choices_kept_by_the_server_after_login(site, browser, shots):
    browser.get(site.url + "/login")
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: "/login" not in browser.url, message="logged in")
    open_reader(browser, site, "Spreads")
    assert browser.script("return document.body.dataset.prefs") == "server"
    choose(browser, "mode", "double")
    choose(browser, "fit", "height")
    browser.find("#dir").click()
    want = {"mode": "double", "fit": "height", "direction": "rtl"}
    browser.wait(lambda: site.get(f"/reader/prefs?id={site.ids['Spreads']}", auth=True).json()["saved"] == want,
                 message="the choices saved on the server")
    browser.get(f"{site.url}/logout")  # the page's "Log out" button (a GET alone logs nobody out)
    browser.find("main form button").click()
    browser.wait(lambda: "/logout" not in browser.url, message="logged out")


def test_phone_screenshots(site, browser, shots):
    browser.viewport(412, 915)
    try:
        open_reader(browser, site, "Single")
        s, img = stage(browser), rect(browser, "#page")
        assert abs(img["w"] - s["w"]) <= 1 and img["h"] <= s["h"] + 1  # fit screen: width-limited here
        assert rect(browser, "#rbar")["r"] <= 413  # the bar wraps, never wider than the phone
        browser.screenshot(shots / "single-412.png")
        swipe(browser, -150)
        wait_shown(browser, "2")
        open_reader(browser, site, "Webtoon")
        browser.screenshot(shots / "vertical-412.png")
        open_reader(browser, site, "Manga")
        browser.screenshot(shots / "rtl-412.png")
    finally:
        browser.viewport(1280, 1000)
