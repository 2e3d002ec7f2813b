"""The library's reading state in a real headless Chromium against the real server on 127.0.0.1 (issue 16, item 4).

Reading half an archive in the real reader (keyboard page turns) puts it on the "Continue reading" shelf;
mark read / unread / clear NEW from a card's menu and from the archive page change what
/api/archives/{id}/metadata says; the progress bars' painted widths (pixels of the bar's colour in an element
screenshot) match progress / pages. Screenshots at 1280x1000 and 412x915 go to the test's tmp_path
(SHELF_SHOTS=<dir> keeps them).
"""

from __future__ import annotations

import base64
import io
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import webdriver
from archive_factory import make_archive, make_image
from PIL import Image
from test_web import app_with_web
from webdriver import KEY_ENTER, KEY_RIGHT, Browser, keep_shots

DESKTOP, PHONE = (1280, 1000), (412, 915)
PAGES = 6
NAMES = ("Half Read", "Finished", "Started", "Barely", "Most", "Fresh", "Another", "Last One")
COLOURS = ((200, 120, 40), (150, 60, 90), (90, 90, 60), (220, 200, 180))  # covers: none near the bars' colours
ACCENT, DONE = (0x5A, 0xA0, 0xE6), (0x5C, 0xB8, 0x5C)  # style.css: --acc, a finished bar


@pytest.fixture(scope="module")
def browser():
    for driver in webdriver.module_browser(*DESKTOP):
        driver.viewport(*DESKTOP)
        yield driver


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for n, name in enumerate(NAMES):
        make_archive(server.content / f"{name}.cbz",
                     {f"{p:03d}.jpg": make_image(500, 700, color=COLOURS[n % 4], text=f"{name} {p}")
                      for p in range(1, PAGES + 1)}, "cbz")
    server.start()
    server.ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    return server


@pytest.fixture
def shots(tmp_path):
    yield tmp_path
    keep_shots(tmp_path, "SHELF_SHOTS")




def log_in(browser: Browser, site, path: str) -> None:
    browser.get(site.url + "/login?next=" + quote(path, safe=""))
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: browser.url.endswith(path), message="logged in and back")


def meta(site, name: str) -> dict:
    return site.get(f"/api/archives/{site.ids[name]}/metadata").json()


def bar_fill(browser: Browser, css: str) -> float:
    """The share of a progress bar painted in the bar's colour: its rendered width, not its attributes."""
    el = browser.find(css)
    shot = Image.open(io.BytesIO(base64.b64decode(browser.cmd("GET", f"/element/{el.ref}/screenshot")))).convert("RGB")
    row = [shot.getpixel((x, shot.height // 2)) for x in range(shot.width)]
    painted = sum(1 for px in row if any(all(abs(a - b) <= 12 for a, b in zip(px, colour, strict=True))
                                         for colour in (ACCENT, DONE)))
    print(f"bar {css}: {painted}/{shot.width} px painted")
    return painted / shot.width


def card(site, name: str) -> str:
    """CSS for an archive's card in the grid (its cover link names it)."""
    return f'#grid li:has(> a[href$="/reader?id={site.ids[name]}"])'


def shots_at(browser: Browser, folder: Path, name: str) -> None:
    for label, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.viewport(w, h)
        path = folder / f"{name}-{label}.png"
        assert browser.screenshot(path) == (w, h)
        # the page itself never scrolls sideways (the shelf scrolls inside itself)
        assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth"), (name, label)
        print("screenshot", path)
    browser.viewport(*DESKTOP)


def test_reading_half_puts_it_on_the_shelf_and_bars_match(site, browser, shots):
    now = int(time.time())
    # others read earlier (as another device left them), so the shelf is a full row
    for n, (name, page) in enumerate((("Started", 2), ("Barely", 1), ("Most", 5), ("Another", 4), ("Last One", 3))):
        site.ctx.archives.update_progress(site.ids[name], page, force=True, lastreadtime=now - 600 + n)
    site.ctx.archives.update_progress(site.ids["Finished"], PAGES, force=True, lastreadtime=now - 10)
    log_in(browser, site, "/")
    assert browser.find_all("#shelf li") and "Half Read" not in browser.find("#shelf").text
    # the real reader, paged with the keyboard to the middle
    browser.get(f"{site.url}/reader?id={site.ids['Half Read']}")
    browser.wait(lambda: browser.script("return document.body.dataset.shown") == "1", message="page 1 shown")
    for page in (2, 3):
        browser.keys(KEY_RIGHT)
        browser.wait(lambda page=page: browser.script("return document.body.dataset.shown") == str(page),
                     message=f"page {page}")
    browser.wait(lambda: meta(site, "Half Read")["progress"] == 3, message="progress 3 stored")
    assert meta(site, "Half Read")["isnew"] == "false"  # the reader clears NEW at page 2 (SEMANTICS §6)
    browser.get(site.url + "/")
    titles = [e.text for e in browser.find_all("#shelf li b")]
    assert titles == ["Half Read", "Last One", "Another", "Most", "Barely", "Started"]  # last read first
    assert "Finished" not in titles
    # a bar's painted width is progress / pages, on the shelf and on the cards
    assert bar_fill(browser, "#shelf li:first-child progress") == pytest.approx(3 / PAGES, abs=0.04)
    for name, page in (("Half Read", 3), ("Barely", 1), ("Most", 5), ("Finished", PAGES)):
        assert bar_fill(browser, f"{card(site, name)} progress") == pytest.approx(page / PAGES, abs=0.04), name
    assert not browser.find_all(f"{card(site, 'Fresh')} progress")
    # the shelf's cover resumes in the reader where it stopped
    browser.find("#shelf li:first-child a").click()
    browser.wait(lambda: browser.script("return document.body.dataset.shown") == "3", message="resumed at 3")
    browser.get(site.url + "/")
    shots_at(browser, shots, "library-shelf")
    browser.viewport(*PHONE)
    # on a phone the shelf is one row that scrolls sideways
    row = browser.script("var u=document.querySelector('#shelf ul');"
                         "return [u.scrollWidth, u.clientWidth, new Set(Array.from(u.children)"
                         ".map(function (li) { return Math.round(li.getBoundingClientRect().top); })).size]")
    assert row[0] > row[1] and row[2] == 1, row
    browser.viewport(*DESKTOP)


def test_mark_read_unread_and_clear_new_from_a_card(site, browser, shots):
    log_in(browser, site, "/")
    menu = card(site, "Fresh") + " details.cm"
    browser.find(menu + " summary").click()
    assert [b.text for b in browser.find_all(menu + " button")] == ["Mark read", "Clear NEW"]
    shots_at(browser, shots, "card-menu")
    browser.find(f'{menu} button[value="read:{site.ids["Fresh"]}"]').click()
    browser.wait(lambda: browser.find_all(f"{card(site, 'Fresh')} progress.done"), message="card shows read")
    m = meta(site, "Fresh")
    assert (m["progress"], m["isnew"]) == (PAGES, "false")
    assert bar_fill(browser, f"{card(site, 'Fresh')} progress") == pytest.approx(1, abs=0.04)
    assert not browser.find_all(f"{card(site, 'Fresh')} .new")
    browser.find(menu + " summary").click()
    browser.find(f'{menu} button[value="unread:{site.ids["Fresh"]}"]').click()
    browser.wait(lambda: browser.find_all(f"{card(site, 'Fresh')} .new"), message="card shows NEW again")
    m = meta(site, "Fresh")
    assert (m["progress"], m["isnew"]) == (0, "true")
    assert not browser.find_all(f"{card(site, 'Fresh')} progress")
    # clear NEW alone, on the last card, scrolled down to it: library.js posts it in the background and
    # reloads, so the page stays where it was (the no-JS redirect would go back to the top)
    other = card(site, "Started") + " details.cm"
    browser.viewport(*PHONE)
    browser.script("document.querySelector(arguments[0]).scrollIntoView({block: 'end'})", card(site, "Started"))
    scrolled = browser.script("return window.scrollY")
    assert scrolled > 50
    browser.find(other + " summary").click()
    browser.find(f'{other} button[value="seen:{site.ids["Started"]}"]').click()
    browser.wait(lambda: not browser.find_all(f"{card(site, 'Started')} .new"), message="NEW cleared")
    m = meta(site, "Started")
    assert (m["progress"], m["isnew"]) == (0, "false")
    assert browser.script("return window.scrollY") == pytest.approx(scrolled, abs=5)
    browser.viewport(*DESKTOP)


def test_mark_from_the_archive_page(site, browser, shots):
    aid = site.ids["Most"]
    site.ctx.archives.update_progress(aid, 5, force=True, lastreadtime=int(time.time()))
    log_in(browser, site, f"/archive?id={aid}")
    assert [b.text for b in browser.find_all("#markform button")] == ["Mark read", "Mark unread", "Clear NEW"]
    shots_at(browser, shots, "archive-marks")
    browser.find("#m_read").click()
    browser.wait(lambda: not browser.find_all("#m_read"), message="page shows read")
    m = meta(site, "Most")
    assert (m["progress"], m["isnew"]) == (PAGES, "false")
    assert browser.find("#aprogress").prop("value") == PAGES
    browser.find("#m_unread").click()
    browser.wait(lambda: browser.find_all("#m_read") and browser.find_all("#m_seen"), message="page shows unread")
    m = meta(site, "Most")
    assert (m["progress"], m["isnew"]) == (0, "true")
    browser.find("#m_seen").click()
    browser.wait(lambda: not browser.find_all("#m_seen"), message="NEW cleared")
    assert meta(site, "Most")["isnew"] == "false"
