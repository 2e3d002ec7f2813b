"""Batch edits and uploads in a real headless Chromium against the real server on 127.0.0.1, driven as a user
would: select 20 archives on the library grid, add a tag to all of them and watch the job's progress bar reach
100 % with one result per archive; "all results" of a search offers a deletion that names the count; drop 6
files on the upload page (5 archives and a text file), each with its own progress bar, the text file refused
with the server's reason. Every result is checked through the API. Screenshots at 1280x1000 and 412x915 go
under the test's tmp_path (printed with -s).
"""

from __future__ import annotations

import base64
import io
import sys
import zipfile

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import app_with_web
from test_web_archive_e2e import DESKTOP, log_in, shots, shown

N = 20


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(*DESKTOP)


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for n in range(N + 2):
        make_archive(server.content / f"Volume {n:02d}.cbz", {"001.jpg": make_image(150, 210, text=f"V{n}")}, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    server.ids = [ids[f"Volume {n:02d}"] for n in range(N + 2)]
    for aid in server.ids[:N]:
        assert server.put(f"/api/archives/{aid}/metadata", auth=True, data={"tags": "set:chosen"}).status_code == 200
    return server


def tags_of(site, aid: str) -> str:
    return site.get(f"/api/archives/{aid}/metadata").json()["tags"]


def test_select_twenty_and_add_a_tag_with_a_progress_bar(site, browser, tmp_path):
    log_in(browser, site, "/?q=set:chosen")
    assert browser.find("#summary").text.startswith(f"{N} results")
    assert not browser.find_all("#grid input.pick")  # no checkbox until the selection mode is on
    browser.find("#selmode").click()
    browser.wait(lambda: shown(browser, "#selpage"), message="selection tools")
    browser.find("#selpage").click()
    assert browser.find("#selcount").text == f"{N} selected"
    # a click on a card toggles it (and does not open the reader)
    first = browser.find("#grid li:first-child img")
    first.click()
    assert browser.find("#selcount").text == f"{N - 1} selected" and "/reader" not in browser.url
    first.click()
    assert browser.find("#selcount").text == f"{N} selected"
    assert len(browser.find_all("#grid li.picked input.pick")) == N
    shots(browser, tmp_path, "library-selecting")

    browser.find("#selgo").click()
    browser.wait(lambda: "/batch?sel=1" in browser.url, message="batch form")
    assert browser.find("#b_count").text == str(N)
    assert shown(browser, "#b_tags") and not shown(browser, "#b_cat")
    browser.find("#b_tags").send_keys("batch:done, extra tag")
    shots(browser, tmp_path, "batch-form")
    browser.find("#b_run").click()
    browser.wait(lambda: "/batch?job=" in browser.url, message="job page")
    browser.wait(lambda: browser.script("return document.getElementById('batchjob').getAttribute('data-state')")
                 == "finished", timeout=30, message="job finished")
    assert browser.script("return document.getElementById('b_bar').value") == 100
    assert browser.find("#b_pct").text == "100" and browser.find("#b_done").text == str(N)
    assert browser.find("#b_failed").text == "0"
    assert len(browser.find_all("#b_results li.ok")) == N
    shots(browser, tmp_path, "batch-job")
    for aid in site.ids[:N]:
        tags = tags_of(site, aid)
        assert "batch:done" in tags and "extra tag" in tags
    for aid in site.ids[N:]:
        assert "batch:done" not in tags_of(site, aid)
    # the selection was used up: the library no longer opens in selection mode
    browser.get(site.url + "/")
    assert not browser.find_all("#grid input.pick")


def test_all_results_delete_asks_naming_the_count(site, browser):
    log_in(browser, site, "/?q=set:chosen")
    browser.find("#selmode").click()
    browser.find("#selall").click()
    browser.wait(lambda: "/batch?" in browser.url and "all=1" in browser.url, message="all-results form")
    assert browser.find("#b_count").text == str(N)
    browser.find('input[name=op][value="delete"]').click()
    assert browser.find("#b_run").text == f"Delete {N} archives"
    browser.find("#b_run").click()
    alert = browser.wait(lambda: browser.cmd("GET", "/alert/text"), message="confirmation dialog")
    assert f"Delete {N} archives and their files" in alert
    browser.cmd("POST", "/alert/dismiss", {})
    assert "/batch?job=" not in browser.url
    assert len(site.get("/api/archives").json()) == N + 2  # cancelled: nothing deleted


def cbz(text: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in range(3):
            zf.writestr(f"{p:03d}.jpg", make_image(200, 280, text=f"{text} {p}"))
    return base64.b64encode(buf.getvalue()).decode()


DROP = """
var files = arguments[0].map(function (f) {
  var bin = atob(f[1]), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new File([bytes], f[0], {type: 'application/octet-stream'});
});
var dt = new DataTransfer();
files.forEach(function (f) { dt.items.add(f); });
var target = document.getElementById('drop');
['dragenter', 'dragover', 'drop'].forEach(function (type) {
  target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
});
"""


def test_drop_six_files_on_the_upload_page(site, browser, tmp_path):
    cat = site.put("/api/categories", auth=True, params={"name": "Dropped"}).json()["category_id"]
    log_in(browser, site, "/")
    browser.find('.top nav a[href="/upload"]').click()
    browser.wait(lambda: browser.url.endswith("/upload"), message="upload page")
    assert not shown(browser, "#u_send")  # with JS, files go as soon as they are dropped
    browser.find("#u_tags").send_keys("source:dropped")
    browser.script("document.getElementById('u_cat').value = arguments[0]", cat)
    files = [[f"Dropped {n}.cbz", cbz(f"D{n}")] for n in range(5)] + [["notes.txt", base64.b64encode(b"hi").decode()]]
    browser.script(DROP, files)
    browser.wait(lambda: len(browser.find_all("#u_list li")) == 6, message="six rows")
    browser.wait(lambda: browser.script(
        "return Array.from(document.querySelectorAll('#u_list li')).every(function (li) {"
        " return ['done', 'error'].indexOf(li.getAttribute('data-state')) >= 0 })"), timeout=30, message="all ended")
    rows = browser.script("return Array.from(document.querySelectorAll('#u_list li')).map(function (li) {"
                          " return [li.querySelector('b').textContent, li.getAttribute('data-state'),"
                          " li.querySelector('progress').value, li.querySelector('.note').textContent] })")
    done = {r[0]: r for r in rows if r[1] == "done"}
    assert sorted(done) == [f"Dropped {n}.cbz" for n in range(5)]
    assert all(r[2] == 100 and "Added as" in r[3] for r in done.values())
    refused = next(r for r in rows if r[0] == "notes.txt")
    assert refused[1] == "error" and "Unsupported file extension" in refused[3]
    shots(browser, tmp_path, "upload")
    archives = {a["title"]: a for a in site.get("/api/archives").json()}
    for n in range(5):
        assert "source:dropped" in archives[f"Dropped {n}"]["tags"]
    members = set(site.get(f"/api/categories/{cat}").json()["archives"])
    assert members == {archives[f"Dropped {n}"]["arcid"] for n in range(5)}
