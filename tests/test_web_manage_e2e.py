"""The management pages in a real headless Chromium against the real server on 127.0.0.1, driven as a user would:
create a dynamic category and open its results; add an archive to a static category from its page; reorder a
tankoubon by drag & drop (synthesised drag events) and with the keyboard, and add a volume by search and pick;
run a rescan and watch its job's progress bar reach done; restore a backup (upload, read the confirmation,
confirm). Every result is checked through the API. Screenshots at 1280x1000 and 412x915 go under tmp_path.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
import webdriver
from archive_factory import make_archive, make_image
from test_web import app_with_web
from test_web_archive_e2e import DESKTOP, log_in, shots
from webdriver import KEY_ENTER, Browser

NAMES = ("Apple", "Banana", "Cherry", "Damson")


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(*DESKTOP)


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in NAMES:
        pages = {f"{p:03d}.jpg": make_image(300, 420, text=f"{name} p{p}") for p in range(1, 3)}
        make_archive(server.content / f"{name}.cbz", pages, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for name, aid in server.ids.items():
        tags = f"fruit:{'red' if name in ('Apple', 'Cherry') else 'other'}, name:{name.lower()}, artist:alice"
        assert server.put(f"/api/archives/{aid}/metadata", auth=True, data={"title": name, "tags": tags}).ok
    return server


def grid_titles(browser: Browser) -> list[str]:
    return browser.script("return Array.from(document.querySelectorAll('#grid b')).map(function(b){return b.textContent})")


def test_dynamic_category_and_its_results_and_the_archive_page_control(site, browser, tmp_path):
    log_in(browser, site, "/categories")
    browser.find("#nc_name").send_keys("Red fruit")
    browser.find("#nc_search").send_keys("fruit:red")
    browser.find("#nc_pinned").click()
    browser.find("#nc_create").click()
    browser.wait(lambda: "done=created" in browser.url, message="created")
    assert browser.find("#notice").text == "Created."
    cat = next(c for c in site.get("/api/categories").json() if c["name"] == "Red fruit")
    assert cat["search"] == "fruit:red" and cat["pinned"] == "1"
    shots(browser, tmp_path, "categories")
    # rename through the <details> form
    row = f'#catlist li[data-id="{cat["id"]}"]'
    browser.find(f"{row} details.edit summary").click()
    name = browser.find(f'#n_{cat["id"]}')
    name.clear()
    name.send_keys("Reds")
    browser.find(f"{row} details.edit button[type=submit]").click()
    browser.wait(lambda: "done=saved" in browser.url, message="renamed")
    assert site.get(f"/api/categories/{cat['id']}").json()["name"] == "Reds"
    # its results: the library filtered by its search
    browser.find(f"{row} a.mname").click()
    browser.wait(lambda: "cat=" in browser.url, message="results")
    assert sorted(grid_titles(browser)) == ["Apple", "Cherry"]

    # a static category, filled from an archive page
    shelf = site.put("/api/categories", auth=True, params={"name": "Shelf"}).json()["category_id"]
    aid = site.ids["Banana"]
    browser.get(f"{site.url}/archive?id={aid}")
    browser.script("var s=document.getElementById('cat_pick'); s.value=arguments[0];", shelf)
    browser.find("#cat_add").click()
    browser.wait(lambda: browser.find_all('#afacts button[aria-label="Remove from Shelf"]'), message="added")
    assert site.get(f"/api/categories/{shelf}").json()["archives"] == [aid]
    shots(browser, tmp_path, "archive-categories", "#afacts")
    browser.find('#afacts button[aria-label="Remove from Shelf"]').click()
    browser.wait(lambda: not browser.find_all('#afacts button[aria-label="Remove from Shelf"]'), message="removed")
    assert site.get(f"/api/categories/{shelf}").json()["archives"] == []


def order(site, tid: str) -> list[str]:
    return site.get(f"/api/tankoubons/{tid}").json()["archives"]


def test_tankoubon_reorder_by_drag_and_by_keyboard(site, browser, tmp_path):
    ids = site.ids
    tid = site.put("/api/tankoubons", auth=True, params={"name": "Fruit Saga"}).json()["tankoubon_id"]
    for name in ("Apple", "Banana", "Cherry"):
        assert site.put(f"/api/tankoubons/{tid}/{ids[name]}", auth=True).ok
    log_in(browser, site, "/tankoubons")
    assert "Fruit Saga" in browser.find("#tanklist").text
    shots(browser, tmp_path, "tankoubons")
    browser.find("#tanklist a.mname").click()
    browser.wait(lambda: browser.find_all("#members li"), message="editor")
    shots(browser, tmp_path, "tank-edit")
    shots(browser, tmp_path, "tank-edit-volumes", "#members")

    # drag Cherry onto the top half of Apple: it becomes the first volume
    browser.script("""
        var list = document.getElementById('members'), items = list.children;
        var src = items[2], dst = items[0], box = dst.getBoundingClientRect(), dt = new DataTransfer();
        function fire(el, type) {
          el.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt,
                                                clientX: box.left + 10, clientY: box.top + 2}));
        }
        fire(src, 'dragstart'); fire(dst, 'dragover'); fire(dst, 'drop'); fire(src, 'dragend');""")
    browser.wait(lambda: browser.find("#m_status").text == "Order saved.", message="drag saved")
    assert order(site, tid) == [ids["Cherry"], ids["Apple"], ids["Banana"]]
    assert [e.text for e in browser.find_all("#members .pos")] == ["1", "2", "3"]

    # the keyboard way: focus Cherry's "down" button and press Enter
    browser.script("document.querySelector('#members li button.down').focus()")
    browser.keys(KEY_ENTER)
    browser.wait(lambda: order(site, tid) == [ids["Apple"], ids["Cherry"], ids["Banana"]], message="moved down")
    browser.wait(lambda: browser.find("#m_status").text == "Order saved.", message="saved")
    assert browser.script("return document.activeElement.closest('li').getAttribute('data-id')") == ids["Cherry"]

    # someone else changes the tank: the stale page's move is refused and the list goes back
    assert site.put(f"/api/tankoubons/{tid}/{ids['Damson']}", auth=True).ok
    browser.script("document.querySelectorAll('#members li button.up')[1].form.requestSubmit()")
    browser.wait(lambda: "changed since you opened" in browser.find("#m_status").text, message="conflict")
    assert order(site, tid) == [ids["Apple"], ids["Cherry"], ids["Banana"], ids["Damson"]]

    # search and pick, then the name and summary
    browser.get(f"{site.url}/tankoubons/edit?id={tid}")
    browser.find("#t_q").send_keys("name:damson" + KEY_ENTER)
    browser.wait(lambda: browser.find_all("#picks li"), message="found")
    assert "in it" in browser.find("#picks").text
    browser.get(f"{site.url}/tankoubons/edit?id={tid}")
    browser.script("document.querySelector('#members li[data-id=\"' + arguments[0] + '\"] button.rm').click()",
                   ids["Damson"])
    browser.wait(lambda: "done=removed" in browser.url, message="removed")
    browser.find("#t_q").send_keys("damson" + KEY_ENTER)
    browser.wait(lambda: browser.find_all("#picks button.add"), message="pick")
    browser.find("#picks button.add").click()
    browser.wait(lambda: "done=added" in browser.url, message="added")
    assert order(site, tid)[-1] == ids["Damson"]
    summary = browser.find("#t_summary")
    summary.send_keys("Four fruits.")
    browser.find("#t_save").click()
    browser.wait(lambda: "done=saved" in browser.url, message="saved")
    assert site.get(f"/api/tankoubons/{tid}").json()["summary"] == "Four fruits."


def job_row(browser: Browser, job: str) -> dict | None:
    """The job list's row of job `job` (its id) as the page shows it, or None."""
    return browser.script("""
        var row = document.querySelector('#jobrows tr[data-id="' + arguments[0] + '"]');
        if (!row) return null;
        var bar = row.querySelector('progress');
        return {label: row.children[1].textContent, state: row.querySelector('.state').textContent,
                value: bar.hasAttribute('value') ? bar.value : null, max: bar.max,
                text: row.querySelector('.jt').textContent};""", job)


def test_rescan_job_and_a_restored_backup(site, browser, tmp_path):
    log_in(browser, site, "/admin")
    make_archive(site.content / "Elder.cbz", {"001.jpg": make_image(300, 420, text="Elder")}, "cbz")
    browser.find("#a_rescan").click()
    queued = browser.wait(lambda: re.search(r"Queued as job (\d+)", browser.find("#tools").text), message="queued")
    assert browser.url.endswith("/admin")  # stayed on the page: the list refreshes itself
    job = queued.group(1)
    seen = browser.wait(lambda: (lambda r: r if r and r["state"] == "finished" else None)(job_row(browser, job)),
                        timeout=30, message="rescan finished")
    assert seen["label"] == "Rescan"
    assert seen["value"] == seen["max"] and "1 added" in seen["text"]
    assert len(site.get("/api/archives").json()) == 5
    shots(browser, tmp_path, "admin")
    shots(browser, tmp_path, "admin-plugins", "#plugins")
    shots(browser, tmp_path, "admin-backup", "#backup")
    shots(browser, tmp_path, "admin-log", "#logs")

    # restore: a backup with changed titles and a new category, uploaded through the page
    data = site.get("/api/database/backup", auth=True).json()
    for arc in data["archives"]:
        arc["title"] = arc["title"] + " (restored)"
    data["categories"].append({"catid": "SET_1234567890", "name": "From backup", "search": "", "archives": []})
    path = tmp_path / "my-backup.json"
    path.write_text(json.dumps(data))
    browser.find("#r_file").send_keys(str(path))
    browser.find("#r_check").click()
    browser.wait(lambda: browser.find_all("#restore-confirm"), message="confirmation")
    text = browser.find("#restore-changes").text
    assert "the backup has 5 archives; 5 of them are in this library" in text
    assert "the backup has 2 (here now: 1); 1 with the same ID are replaced, 1 added" in text
    assert site.get(f"/api/archives/{site.ids['Apple']}/metadata").json()["title"] == "Apple"  # not yet
    shots(browser, tmp_path, "restore-confirm", "#restore-confirm")
    browser.find("#r_confirm").click()
    browser.wait(lambda: "done=restore" in browser.url, message="restore queued")
    # the page came back with the queued job listed (server-rendered, newest first)
    restore = browser.script("return Array.from(document.querySelectorAll('#jobrows tr')).filter(function (r) {"
                             "return r.children[1].textContent === 'Restore'; })[0].getAttribute('data-id')")
    browser.wait(lambda: (job_row(browser, restore) or {}).get("state") == "finished", timeout=30,
                 message="restore finished")
    assert site.get(f"/api/archives/{site.ids['Apple']}/metadata").json()["title"] == "Apple (restored)"
    assert site.get("/api/categories/SET_1234567890").json()["name"] == "From backup"

    browser.get(site.url + "/statistics")
    assert "artist" in browser.find("#topns").text and browser.find_all("#cloud a")
    shots(browser, tmp_path, "statistics")
