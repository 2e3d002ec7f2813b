"""The archive page in a real headless Chromium against the real server on 127.0.0.1, driven as a user would:
open it from the library, edit title, tags (chips, autocomplete) and summary and save; a save from a stale
page shows the conflict; a plugin's proposal previewed, accepted, saved; a page picked as the cover; the
archive deleted after the confirmation. Every result is checked through the API. Screenshots at 1280x1000 and
412x915 go under the test's tmp_path (printed with -s).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import app_with_web
from webdriver import KEY_ENTER, Browser

DESKTOP, PHONE = (1280, 1000), (412, 915)
PLUGIN_NAME = "[Alice Artist] Fruit Salad (Orchard)"


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(*DESKTOP)


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for n, name in enumerate(("Apple", "Banana", PLUGIN_NAME)):
        pages = {f"{p:03d}.jpg": make_image(300, 420, text=f"{name[:6]} p{p}") for p in range(1, 5 + n)}
        make_archive(server.content / f"{name}.cbz", pages, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    ids["Plugin"] = ids.pop(PLUGIN_NAME)
    for name, title, tags, summary in (
            ("Apple", "Apple", "fruit:apple, artist:alice, colour:green, date_added:1700000000",
             "A green apple.\nCrisp."),
            ("Banana", "Banana", "fruit:banana, artist:bob, colour:red, colour:yellow", "")):
        assert server.put(f"/api/archives/{ids[name]}/metadata", auth=True,
                          data={"title": title, "tags": tags, "summary": summary}).status_code == 200
    server.ids = ids
    return server


def log_in(browser: Browser, site, path: str) -> None:
    browser.get(site.url + "/login?next=" + quote(path, safe=""))
    browser.find("#password").send_keys("kamimamita" + KEY_ENTER)
    browser.wait(lambda: browser.url.endswith(path.split("#")[0]), message="logged in and back")


def meta(site, aid: str) -> dict:
    return site.get(f"/api/archives/{aid}/metadata").json()


def shown(browser: Browser, css: str) -> bool:
    return browser.script("var e=document.querySelector(arguments[0]);"
                          "return !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0", css)


def chips(browser: Browser) -> list[str]:
    return browser.script("return Array.from(document.querySelectorAll('#e_chips .tag'))"
                          ".map(function(c){return c.firstChild.textContent})")


def shots(browser: Browser, folder: Path, name: str, focus: str = "") -> None:
    """The page at the desktop and at the phone viewport size (checked), scrolled to `focus` if given."""
    for label, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.viewport(w, h)
        if focus:
            browser.script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", focus)
        path = folder / f"{name}-{label}.png"
        assert browser.screenshot(path) == (w, h) and path.stat().st_size > 1000
        # nothing sticks out sideways (the usual way a page breaks on a phone): name what does
        wide = browser.script("var w = window.innerWidth; return document.documentElement.scrollWidth <= w ? null :"
                              " Array.from(document.querySelectorAll('body *')).filter(function (e) {"
                              " return e.getBoundingClientRect().right > w + 1; }).slice(-3).map(function (e) {"
                              " return e.tagName + '#' + e.id + '.' + e.className; })")
        assert wide is None, f"{name} ({label}) is wider than the screen: {wide}"
        print("screenshot", path)
    browser.viewport(*DESKTOP)




def test_open_edit_save_and_a_conflicting_save(site, browser, tmp_path):
    aid = site.ids["Apple"]
    log_in(browser, site, "/")
    # the title on the library card opens the archive page; the cover still opens the reader
    link = next(a for a in browser.find_all("#grid li > a > b") if a.text == "Apple")
    assert browser.script("return document.querySelector('#grid li > a').getAttribute('href')").startswith("/reader")
    link.click()
    browser.wait(lambda: browser.url.endswith(f"/archive?id={aid}"), message="archive page")
    browser.wait(lambda: browser.script("return document.getElementById('acover').naturalWidth") > 0, message="cover")
    assert browser.find("#atitle").text == "Apple"
    assert "A green apple." in browser.find("#asummary").text
    assert "Nov 14, 2023" in browser.find("#afacts").text or "14 Nov 2023" in browser.find("#afacts").text
    assert not shown(browser, "#edit")
    shots(browser, tmp_path, "archive")

    browser.find("#b_edit").click()
    browser.wait(lambda: shown(browser, "#edit"), message="edit panel")
    assert chips(browser) == ["fruit:apple", "artist:alice", "colour:green", "date_added:1700000000"]
    title = browser.find("#e_title")
    title.clear()
    title.send_keys("Apple Deluxe")
    # remove a chip, add one from the autocomplete (fetched from /api/database/stats), type a new one
    browser.find('#e_chips button[aria-label="Remove colour:green"]').click()
    box = browser.find("#e_taginput")
    box.send_keys("yell")
    browser.wait(lambda: "colour:yellow" in browser.find("#e_suggest").text, message="suggestion")
    browser.find("#e_suggest li").click()
    box.send_keys("season:autumn" + KEY_ENTER)
    assert chips(browser) == ["fruit:apple", "artist:alice", "date_added:1700000000", "colour:yellow", "season:autumn"]
    summary = browser.find("#e_summary")
    summary.clear()
    summary.send_keys("A deluxe apple.")
    shots(browser, tmp_path, "edit", "#edit")
    browser.find("#e_save").click()
    browser.wait(lambda: "saved=1" in browser.url, message="saved")
    stored = meta(site, aid)
    assert stored["title"] == "Apple Deluxe" and stored["summary"] == "A deluxe apple."
    assert stored["tags"] == "fruit:apple,artist:alice,date_added:1700000000,colour:yellow,season:autumn"
    assert browser.find("#notice").text == "Saved."
    assert browser.find("#atitle").text == "Apple Deluxe"

    # a conflicting save: someone else changes the archive while the form is open
    browser.find("#b_edit").click()
    browser.wait(lambda: shown(browser, "#edit"), message="edit panel again")
    browser.find("#e_title").clear()
    browser.find("#e_title").send_keys("Mine")
    assert site.put(f"/api/archives/{aid}/metadata", auth=True,
                    data={"title": "Theirs", "tags": "fruit:apple,theirs:1"}).status_code == 200
    browser.find("#e_save").click()
    browser.wait(lambda: shown(browser, "#e_conflict"), message="conflict shown")
    text = browser.find("#e_conflict").text
    assert "Not saved" in text and "Theirs" in text and "theirs:1" in text
    assert "changed since you opened it" in browser.find("#e_status").text
    assert meta(site, aid)["title"] == "Theirs"  # nothing overwritten
    assert browser.find("#e_title").prop("value") == "Mine"  # and the edit is not lost
    shots(browser, tmp_path, "conflict", "#e_conflict")
    browser.find("#c_merge").click()  # their tags added to mine, then save deliberately
    assert "theirs:1" in chips(browser)
    browser.find("#e_save").click()
    browser.wait(lambda: "saved=1" in browser.url, message="saved over theirs")
    stored = meta(site, aid)
    assert stored["title"] == "Mine" and "theirs:1" in stored["tags"].split(",") and "season:autumn" in stored["tags"]


def test_plugin_preview_then_accept(site, browser, tmp_path):
    aid = site.ids["Plugin"]
    log_in(browser, site, f"/archive?id={aid}")
    before = meta(site, aid)
    browser.find("#b_edit").click()
    browser.wait(lambda: shown(browser, "#edit"), message="edit panel")
    browser.script("var s=document.getElementById('p_plugin'); s.value='regexplugin';"
                   "s.dispatchEvent(new Event('change'))")
    browser.find("#p_run").click()
    browser.wait(lambda: shown(browser, "#p_added"), message="the proposal")
    added = browser.find("#p_added").text
    assert "+ artist:Alice Artist" in added and "+ series:Orchard" in added
    assert "Fruit Salad" in browser.find("#p_title").text
    assert meta(site, aid) == before  # a preview writes nothing
    shots(browser, tmp_path, "plugin", "#pluginform")
    browser.find("#p_accept").click()
    assert "artist:Alice Artist" in chips(browser) and browser.find("#e_title").prop("value") == "Fruit Salad"
    assert meta(site, aid) == before  # accepting fills the form; still nothing written
    browser.find("#e_save").click()
    browser.wait(lambda: "saved=1" in browser.url, message="saved")
    stored = meta(site, aid)
    assert stored["title"] == "Fruit Salad" and "artist:Alice Artist" in stored["tags"].split(",")
    # run again: nothing new to propose; a discarded proposal changes nothing either
    browser.find("#b_edit").click()
    browser.script("var s=document.getElementById('p_plugin'); s.value='regexplugin';"
                   "s.dispatchEvent(new Event('change'))")
    browser.find("#p_run").click()
    browser.wait(lambda: "found nothing new" in browser.find("#p_result").text, message="nothing new")


def test_cover_from_a_page_and_delete_with_confirmation(site, browser, tmp_path):
    aid = site.ids["Banana"]
    log_in(browser, site, f"/archive?id={aid}")
    browser.wait(lambda: browser.script("return document.getElementById('acover').naturalWidth") > 200,
                 timeout=20, message="the cover made")
    first_cover = site.get(f"/api/archives/{aid}/thumbnail").content
    browser.find("#b_cover").click()
    browser.wait(lambda: len(browser.find_all("#c_pick button")) == 5, message="page picker")
    # the page thumbnails (500 px wide) replace the placeholders (200 px) once made
    browser.wait(lambda: browser.script("return Array.from(document.querySelectorAll('#c_pick img'))"
                                        ".every(function(i){return i.naturalWidth === 500})"),
                 timeout=20, message="page thumbnails")
    shots(browser, tmp_path, "cover", "#cover")
    browser.find('#c_pick button[data-page="3"]').click()
    browser.wait(lambda: browser.find("#c_status").text == "Page 3 is the cover now.", message="cover set")
    cover = site.get(f"/api/archives/{aid}/thumbnail").content
    assert cover != first_cover
    # the same cover the API makes from page 3 (its writer is deterministic), so page 3 it is
    assert site.put(f"/api/archives/{aid}/thumbnail?page=3", auth=True).status_code == 200
    assert site.get(f"/api/archives/{aid}/thumbnail").content == cover

    browser.find("#b_delete").click()
    browser.wait(lambda: shown(browser, "#delete"), message="confirmation")
    assert (site.content / "Banana.cbz").is_file()  # asking is not deleting
    assert "Banana.cbz" in browser.find("#delete").text  # the confirmation names the file
    shots(browser, tmp_path, "delete")
    browser.find("#d_cancel").click()
    browser.wait(lambda: not shown(browser, "#delete"), message="cancelled")
    assert (site.content / "Banana.cbz").is_file()
    browser.find("#b_delete").click()
    browser.wait(lambda: shown(browser, "#delete"), message="confirmation again")
    browser.find("#d_confirm").click()
    browser.wait(lambda: browser.url.rstrip("/") == site.url, message="back in the library")
    assert not (site.content / "Banana.cbz").exists()
    assert site.get(f"/api/archives/{aid}/metadata").status_code == 400
    assert "Banana" not in [e.text for e in browser.find_all("#grid li > a > b")]
