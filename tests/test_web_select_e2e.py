"""The library grid's selection in a real headless Chromium against the real server on 127.0.0.1: archives
selected on the grid become a new tankoubon (volumes in the order they were picked) and join a category; the
same works with JavaScript off (a checkbox form to the batch page); a cover set on the archive page shows in the
grid at once (versioned cover URLs, though covers are cached an hour). Results are checked through the API;
screenshots at 1280x1000 and 412x915 go under the test's tmp_path (printed with -s).
"""

from __future__ import annotations

import sys
import time

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import app_with_web
from test_web_archive_e2e import DESKTOP, log_in, shots, shown

NAMES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(*DESKTOP)


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in NAMES:  # page 1 portrait, page 2 landscape: a cover from page 2 has another shape
        make_archive(server.content / f"{name}.cbz", {"001.jpg": make_image(300, 420, text=f"{name} 1"),
                                                      "002.jpg": make_image(420, 300, text=f"{name} 2")}, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    server.ids = [ids[n] for n in NAMES]
    for aid in server.ids:  # every cover made before the browser looks, so the grid caches real covers
        deadline = time.monotonic() + 30
        while server.get(f"/api/archives/{aid}/thumbnail", params={"no_fallback": "true"}).status_code != 200:
            assert time.monotonic() < deadline, "cover not made"
            time.sleep(0.1)
    return server


def grid_ids(browser) -> list[str]:
    return browser.script("return Array.from(document.querySelectorAll('#grid li a[href*=\"/reader?id=\"]'))"
                          ".map(function(a){return a.getAttribute('href').split('id=')[1]})")


def test_new_tankoubon_and_category_from_a_grid_selection(site, browser, tmp_path):
    cat = site.put("/api/categories", auth=True, params={"name": "Picked"}).json()["category_id"]
    log_in(browser, site, "/")
    assert not shown(browser, "#selmode-plain")  # select.js replaced the no-JS link with its own button
    browser.find("#selmode").click()
    order = [site.ids[3], site.ids[0], site.ids[2]]  # Delta, Alpha, Charlie: not the grid's order
    for aid in order:
        browser.find(f'#grid li input.pick[data-id="{aid}"]').click()
    assert browser.find("#selcount").text == "3 selected"
    assert shown(browser, "#seltank") and shown(browser, "#selcat")
    browser.find("#seltank").click()
    browser.wait(lambda: "op=tankoubon" in browser.url, message="batch form")
    assert browser.find("#b_count").text == "3" and shown(browser, "#b_name") and not shown(browser, "#b_tags")
    assert browser.find("#b_run").text == "Make a tankoubon of 3 archives"
    browser.find("#b_name").send_keys("Picked volumes")
    shots(browser, tmp_path, "batch-tankoubon")
    browser.find("#b_run").click()
    browser.wait(lambda: "/tankoubons/edit?id=TANK_" in browser.url, message="tankoubon editor")
    tank = browser.url.split("id=")[1].split("&")[0]
    assert site.get(f"/api/tankoubons/{tank}").json()["result"]["archives"] == order
    assert browser.script("return Array.from(document.querySelectorAll('#members li'))"
                          ".map(function(li){return li.getAttribute('data-id')})") == order

    # the selection was used up; pick two others (the three are one tankoubon card in the grid now) and add them
    # to a category: a job with a progress bar
    two = [site.ids[1], site.ids[4]]
    browser.get(site.url + "/")
    browser.find("#selmode").click()
    for aid in two:
        browser.find(f'#grid li input.pick[data-id="{aid}"]').click()
    browser.find("#selcat").click()
    browser.wait(lambda: "op=category" in browser.url, message="batch form")
    assert shown(browser, "#b_cat")
    browser.script("document.getElementById('b_cat').value = arguments[0]", cat)
    browser.find("#b_run").click()
    browser.wait(lambda: browser.script("var v = document.getElementById('batchjob');"
                                        "return v && v.getAttribute('data-state')") == "finished",
                 timeout=30, message="job finished")
    assert browser.find("#b_pct").text == "100"
    assert set(site.get(f"/api/categories/{cat}").json()["archives"]) == set(two)


def test_selection_without_javascript(site, browser, tmp_path):
    log_in(browser, site, "/")
    browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Emulation.setScriptExecutionDisabled",
                                              "params": {"value": True}})
    try:
        browser.get(site.url + "/")
        assert not browser.find_all("#selmode")  # no script ran: no selection bar of select.js
        browser.find("#selmode-plain").click()
        browser.wait(lambda: "select=1" in browser.url, message="selection page")
        assert len(browser.find_all("#grid input.pick")) == len(NAMES)
        shots(browser, tmp_path, "library-select-nojs")
        picked = [site.ids[4], site.ids[1]]
        for aid in picked:
            browser.find(f'#grid input.pick[value="{aid}"]').click()
        browser.find("#selsubtank").click()
        browser.wait(lambda: "/batch?" in browser.url, message="batch form")
        assert browser.find("#b_count").text == "2"
        browser.find("#b_name").send_keys("No script")
        browser.find("#b_run").click()
        browser.wait(lambda: "/tankoubons/edit?id=TANK_" in browser.url, message="tankoubon editor")
        tank = browser.url.split("id=")[1].split("&")[0]
        # without JS the checkboxes go in grid order (Bravo before Echo)
        assert site.get(f"/api/tankoubons/{tank}").json()["result"]["archives"] == [site.ids[1], site.ids[4]]
    finally:
        browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Emulation.setScriptExecutionDisabled",
                                                  "params": {"value": False}})


def test_a_cover_set_on_the_archive_page_shows_in_the_grid_at_once(site, browser, tmp_path):
    aid = site.ids[0]
    log_in(browser, site, "/")
    card = f'#grid a[href="/reader?id={aid}"] img'
    size = f"var i = document.querySelector('{card}'); return i.complete ? [i.naturalWidth, i.naturalHeight] : null"
    w, h = browser.wait(lambda: browser.script(size), message="grid cover loaded")
    assert w < h  # page 1: portrait
    before = browser.find(card).attribute("src")
    browser.find(f'#grid a[href="/archive?id={aid}"]').click()
    browser.wait(lambda: "/archive?id=" in browser.url, message="archive page")
    browser.find("#b_cover").click()
    browser.find("#c_page").clear()
    browser.find("#c_page").send_keys("2")
    browser.script("document.getElementById('coverform').submit()")  # the plain form: a redirect back
    browser.wait(lambda: "cover=1" in browser.url, message="cover set")
    browser.find('.top nav a[href="/"]').click()
    browser.wait(lambda: browser.url.rstrip("/") == site.url, message="library")
    w, h = browser.wait(lambda: browser.script(size), message="grid cover loaded")
    assert w > h, "the grid still shows the old (cached) cover"
    assert browser.find(card).attribute("src") != before
