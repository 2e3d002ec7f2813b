"""Batch edits over HTTP, no browser: /batch needs the login and the session's CSRF token, a selection of IDs or
"all results of a search" (resolved by the server) becomes one job whose status lists every archive's outcome,
tags are added and removed, a plugin's result applied, a category filled, and a deletion needs the count the
user confirmed."""

from __future__ import annotations

import re
import sys
import time

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, full_page_of_cards, login, page_weight
from test_web_archive import csrf_of

from lrr_lite.http.web import pages as web_pages
from lrr_lite.http.web.collection_routes import GONE_CATEGORY

JSON = {"Accept": "application/json"}
PLUGIN_NAME = "[Alice Artist] Fruit Salad (Orchard)"


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Banana", "Cherry", "Damson", PLUGIN_NAME):
        make_archive(server.content / f"{name}.cbz", {"001.jpg": make_image(40, 60, text=name)}, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for name in ("Apple", "Banana", "Cherry"):
        server.put(f"/api/archives/{server.ids[name]}/metadata", auth=True, data={"tags": "fruit:red, keep"})
    return server


def tags_of(server, aid: str) -> list[str]:
    return [t.strip() for t in server.get(f"/api/archives/{aid}/metadata").json()["tags"].split(",") if t.strip()]


def finished(server, job: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = server.get(f"/batch/status?job={job}", headers=JSON).json()
        if status["state"] in ("finished", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("batch job still running")


def run(server, **fields) -> dict:
    csrf = csrf_of(server.get("/batch?sel=1").text)
    resp = server.post("/batch", headers=JSON, data={"csrf": csrf, **fields})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["url"] == f"/batch?job={body['job']}"
    return finished(server, body["job"])


def test_every_batch_route_needs_login_and_csrf(site):
    aid = site.ids["Apple"]
    fields = {"op": "add_tags", "tags": "x", "ids": aid}
    # not logged in: the page sends to the login, a script gets 401 with the reason, nothing is queued
    assert "/login?next=%2Fbatch" in site.get("/batch", allow_redirects=False).headers["Location"]
    assert site.get("/batch/status?job=1").status_code == 401
    resp = site.post("/batch", data=fields, allow_redirects=False)
    assert resp.status_code == 303 and "/login" in resp.headers["Location"]
    resp = site.post("/batch", headers=JSON, data=fields)
    assert resp.status_code == 401 and "Log in" in resp.json()["error"]
    login(site)
    # logged in, but no token or another session's token: 403, with the reason
    for token in ("", "0" * 64):
        resp = site.post("/batch", headers=JSON, data={**fields, "csrf": token})
        assert resp.status_code == 403 and "expired" in resp.json()["error"]
    assert site.post("/batch", data={**fields, "csrf": "x"}).status_code == 403
    assert "x" not in tags_of(site, aid)
    assert not site.ctx.jobs.db.query("SELECT id FROM jobs WHERE task='batch_edit'")


def test_add_then_remove_tags_on_a_selection(site):
    login(site)
    chosen = [site.ids[n] for n in ("Apple", "Banana", "Damson")]
    status = run(site, op="add_tags", tags="batch:one, Keep", ids=",".join(chosen))
    assert status["state"] == "finished" and status["total"] == status["done"] == 3 and status["failed"] == 0
    assert {r["id"] for r in status["results"]} == set(chosen) and all(r["ok"] for r in status["results"])
    for aid in chosen:
        assert "batch:one" in tags_of(site, aid)
    assert "batch:one" not in tags_of(site, site.ids["Cherry"])
    # "keep" was there already on Apple and Banana (any case): not doubled
    assert tags_of(site, site.ids["Apple"]).count("keep") == 1
    status = run(site, op="remove_tags", tags="fruit:red", ids=",".join(chosen))
    messages = {r["id"]: r["message"] for r in status["results"]}
    assert messages[site.ids["Damson"]] == "tag not present"
    assert "fruit:red" not in tags_of(site, site.ids["Apple"]) and "fruit:red" in tags_of(site, site.ids["Cherry"])
    # the progress page, rendered by the server, shows the finished job at 100 % with its results
    html = site.get(f"/batch?job={status['job']}").text
    assert 'id="b_bar" max="100" value="100"' in html and "tag not present" in html


def test_all_results_of_a_search_are_resolved_by_the_server(site):
    login(site)
    # the form for "all results" counts the matches; the browser sends only the filter
    html = site.get("/batch?all=1&q=fruit:red").text
    assert '<b id="b_count">3</b> archives' in html and 'name="q" value="fruit:red"' in html
    cat = site.put("/api/categories", auth=True, params={"name": "Reds"}).json()["category_id"]
    status = run(site, op="category", category=cat, all="1", q="fruit:red")
    assert status["total"] == 3 and status["failed"] == 0
    members = set(site.get(f"/api/categories/{cat}").json()["archives"])
    assert members == {site.ids[n] for n in ("Apple", "Banana", "Cherry")}
    # a search matching nothing is refused before any job
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf_of(html), "op": "add_tags", "tags": "x", "all": "1",
                                                    "q": "nothing-matches-this"})
    assert resp.status_code == 400 and "matches no archive" in resp.json()["error"]


def test_plugin_results_are_applied_and_failures_listed_per_archive(site):
    login(site)
    unknown = "f" * 40
    status = run(site, op="plugin", plugin="regexplugin", ids=f"{site.ids[PLUGIN_NAME]},{unknown}")
    assert status["total"] == 2 and status["failed"] == 1
    by_id = {r["id"]: r for r in status["results"]}
    assert by_id[unknown]["ok"] == 0 and "ID" in by_id[unknown]["message"]
    assert by_id[site.ids[PLUGIN_NAME]]["ok"] == 1
    body = site.get(f"/api/archives/{site.ids[PLUGIN_NAME]}/metadata").json()
    assert body["title"] == "Fruit Salad" and "artist:Alice Artist" in body["tags"]


def test_bad_batch_requests_are_refused_with_the_reason(site):
    login(site)
    csrf = csrf_of(site.get("/batch?sel=1").text)
    cases = [({"op": "", "ids": site.ids["Apple"]}, "Choose what to do"),
             ({"op": "add_tags", "tags": " , ", "ids": site.ids["Apple"]}, "at least one tag"),
             ({"op": "add_tags", "tags": "x", "ids": ""}, "No archive is selected"),
             ({"op": "add_tags", "tags": "x", "ids": "../etc"}, "not an archive ID"),
             ({"op": "plugin", "plugin": "nope", "ids": site.ids["Apple"]}, "metadata plugin")]
    for fields, reason in cases:
        resp = site.post("/batch", headers=JSON, data={"csrf": csrf, **fields})
        assert resp.status_code == 400 and reason in resp.json()["error"], (fields, resp.text)
    # without JS the form comes back with the reason
    resp = site.post("/batch", data={"csrf": csrf, "op": "add_tags", "tags": "", "ids": site.ids["Apple"]})
    assert resp.status_code == 400 and "at least one tag" in resp.text and 'id="batchform"' in resp.text


def test_delete_needs_the_confirmed_count(site):
    login(site)
    csrf = csrf_of(site.get("/batch?sel=1").text)
    two = f"{site.ids['Apple']},{site.ids['Banana']}"
    for confirmed in ("", "1", "3"):
        resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "delete", "ids": two,
                                                       "confirmed": confirmed})
        assert resp.status_code == 400 and "Confirm the deletion of 2 archives" in resp.json()["error"]
    assert (site.content / "Apple.cbz").exists()
    status = run(site, op="delete", ids=two, confirmed="2")
    assert status["done"] == 2 and status["failed"] == 0
    assert not (site.content / "Apple.cbz").exists() and not (site.content / "Banana.cbz").exists()
    assert site.ids["Apple"] not in {a["arcid"] for a in site.get("/api/archives").json()}
    # "all results": the confirmed count must be the search's count now
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "delete", "all": "1", "q": "fruit:red",
                                                   "confirmed": "5"})
    assert resp.status_code == 400 and "Confirm the deletion of 1 archive" in resp.json()["error"]
    assert (site.content / "Cherry.cbz").exists()


def test_pages_stay_under_the_weight_budget(site):
    """Every new page, and the library page as an editor sees it (selection script and styles), with its CSS
    and JS, uncompressed: at most 150 KB (the issue's budget)."""
    login(site)
    job = run(site, op="add_tags", tags="x", ids=site.ids["Apple"])["job"]
    for path in ("/", "/batch?sel=1", "/batch?all=1&q=fruit", f"/batch?job={job}", "/upload"):
        total, parts = page_weight(site, path)
        print(f"{path} weight: {total} bytes {parts}")
        assert total <= 150 * 1024, (path, parts)
    assert "/static/select.js" in page_weight(site, "/")[1]


def test_full_library_page_weight_for_an_editor(site):
    """100 cards with long titles and 8 tags each, as a logged-in editor gets them (select.js and batch.css
    added): within the issue's 150 KB. (A guest's page keeps its 100 KiB budget: test_web.py.)"""
    files, static, archives = full_page_of_cards()
    html = web_pages.library_page(site.ctx, static, web_pages.LibraryState(), archives, 5000, 5000, 100, [],
                                  authed=True)
    assert 'data-select="1"' in html and "select.js" in html and "batch.css" in html
    total = len(html.encode()) + sum(len(files[n][0]) for n in ("style.css", "library.js", "select.js", "batch.css"))
    print(f"full library page weight for an editor (100 cards): {total} bytes")
    assert total <= 150 * 1024


def test_a_large_selection_goes_as_a_file_part_and_is_bounded(site):
    """batch.js sends the selection as a file part (a form field over 100 KB is refused by Bottle): 10,000 IDs
    (410 KB) are taken, one more is refused with the reason."""
    login(site)
    csrf = csrf_of(site.get("/batch?sel=1").text)
    real = [site.ids[n] for n in ("Apple", "Banana")]
    fake = [f"{n:040x}" for n in range(1, 10_000 - len(real) + 1)]
    ids = ",".join(real + fake)
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "add_tags", "tags": "big"},
                     files={"ids": ("ids.txt", ids.encode(), "text/plain")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == 10_000
    job = resp.json()["job"]
    status = finished(site, job)
    assert status["total"] == 10_000 and status["failed"] == len(fake)
    assert all("big" in tags_of(site, aid) for aid in real)
    # the job row stays small: the selection is row numbers (packed) plus the first unknown IDs, and the result
    # names groups, not 10,000 entries (it was 440 KB of args and 1.2 MB of result)
    args_len, result_len = site.ctx.jobs.db.query_one("SELECT length(args), length(result) FROM jobs WHERE id=?",
                                                      [job])
    print(f"10,000-ID selection: job args {args_len} bytes, result {result_len} bytes")
    assert args_len + result_len < 20_000
    # ... and the progress page still lists archives: the real ones by title, the unknown IDs with the reason
    by_id = {r["id"]: r for r in status["results"]}
    assert {by_id[aid]["title"] for aid in real} == {"Apple", "Banana"} and all(by_id[a]["ok"] for a in real)
    assert by_id[fake[0]]["ok"] == 0 and "ID" in by_id[fake[0]]["message"]
    assert status["unlisted_failed"] == len(fake) - (len(status["results"]) - len(real))
    assert f'{status["unlisted_failed"]} more failed (not listed)' in site.get(f"/batch?job={job}").text
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "add_tags", "tags": "big"},
                     files={"ids": ("ids.txt", (ids + "," + "e" * 40).encode(), "text/plain")})
    assert resp.status_code == 400 and "At most 10,000 selected archives" in resp.json()["error"]


def test_without_js_the_selection_is_a_checkbox_form_to_the_batch_page(site):
    """Progressive enhancement: the library's "Select" link opens a page whose cards carry checkboxes in a GET
    form to /batch; the batch form then holds the ticked IDs itself and posts them as a plain form field."""
    login(site)
    lib = site.get("/?q=fruit:red").text
    link = re.search(r'id="selmode-plain" href="([^"]+)"', lib).group(1)
    assert link == "/?q=fruit:red&amp;select=1"
    page = site.get("/?q=fruit:red&select=1").text
    assert '<form method="get" action="/batch" id="selform">' in page
    boxes = re.findall(r'<input type="checkbox" class="pick" name="id" value="([0-9a-f]{40})"', page)
    assert sorted(boxes) == sorted(site.ids[n] for n in ("Apple", "Banana", "Cherry"))
    assert 'name="id"' not in site.get("/?q=fruit:red").text  # the ordinary page carries no checkboxes
    site.ctx.settings.set("pagesize", 2)  # paging keeps the selection page
    assert 'href="/?q=fruit:red&amp;p=2&amp;select=1"' in site.get("/?q=fruit:red&select=1").text
    site.ctx.settings.set("pagesize", 100)
    # the browser submits the ticked boxes (two of them) with the "Add to category" button
    chosen = [site.ids["Cherry"], site.ids["Apple"]]
    form = site.get("/batch", params=[("id", chosen[0]), ("id", chosen[1]), ("op", "category")]).text
    assert '<b id="b_count">2</b> selected archives' in form
    assert f'value="{chosen[0]},{chosen[1]}"' in form and 'value="category" checked' in form
    cat = site.put("/api/categories", auth=True, params={"name": "Picked"}).json()["category_id"]
    resp = site.post("/batch", data={"csrf": csrf_of(form), "op": "category", "category": cat,
                                     "ids": ",".join(chosen)}, allow_redirects=False)
    assert resp.status_code == 303 and "/batch?job=" in resp.headers["Location"]
    job = int(resp.headers["Location"].rsplit("=", 1)[1])
    assert finished(site, job)["failed"] == 0
    assert set(site.get(f"/api/categories/{cat}").json()["archives"]) == set(chosen)
    # a category deleted meanwhile is said as the category pages say it, and no job is queued
    assert site.delete(f"/api/categories/{cat}", auth=True).ok
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf_of(form), "op": "category", "category": cat,
                                                   "ids": ",".join(chosen)})
    assert resp.status_code == 404 and resp.json()["error"] == GONE_CATEGORY


def test_a_new_tankoubon_from_a_selection_keeps_the_selection_order(site):
    login(site)
    csrf = csrf_of(site.get("/batch?sel=1").text)
    chosen = [site.ids[n] for n in ("Damson", "Apple", "Cherry")]
    resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "tankoubon", "name": "Picked volumes",
                                                   "ids": ",".join(chosen)})
    assert resp.status_code == 200, resp.text
    tank = resp.json()["tank"]
    assert resp.json()["url"] == f"/tankoubons/edit?id={tank}&done=created"
    body = site.get(f"/api/tankoubons/{tank}").json()["result"]
    assert body["name"] == "Picked volumes" and body["archives"] == chosen
    # a name is needed; an unknown archive refuses the whole tankoubon (none is left behind, empty)
    before = len(site.get("/api/tankoubons").json()["result"])
    for fields, reason in (({"name": " "}, "Name the new tankoubon"), ({"name": "X", "ids": "f" * 40}, "f" * 40)):
        resp = site.post("/batch", headers=JSON, data={"csrf": csrf, "op": "tankoubon", "ids": chosen[0], **fields})
        assert resp.status_code in (400, 404) and reason in resp.json()["error"], resp.text
    assert len(site.get("/api/tankoubons").json()["result"]) == before
    # without JS: a redirect to the new tankoubon's editor
    resp = site.post("/batch", data={"csrf": csrf, "op": "tankoubon", "name": "Plain", "ids": chosen[1]},
                     allow_redirects=False)
    assert resp.status_code == 303 and "/tankoubons/edit?id=TANK_" in resp.headers["Location"]


def test_a_selection_packs_to_a_few_bytes_an_archive():
    """10,000 row numbers of a 100,000-archive library (the largest explicit selection) pack to ~20 KB, a run
    of consecutive rows to a few bytes, and unpack to the same numbers."""
    import random

    from lrr_lite.library import batch

    nums = sorted(random.Random(15).sample(range(1, 100_001), 10_000))
    packed = batch.pack(nums)
    print(f"10,000 of 100,000 rows packed: {len(packed)} bytes (as IDs: {10_000 * 41} bytes)")
    assert batch.unpack(packed) == nums and len(packed) < 25_000
    run = list(range(500, 10_500))
    assert batch.unpack(batch.pack(run)) == run and len(batch.pack(run)) < 20
    assert batch.unpack(batch.pack([7, 3, 3, 9])) == [3, 7, 9] and batch.unpack("") == []
