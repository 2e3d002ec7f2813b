"""Categories and tankoubons over HTTP (SEMANTICS §7, §8, §22.4) against a real waitress."""

from __future__ import annotations

import json
import random
import re
import threading
import time

import pytest
import requests
from archive_factory import make_comic
from spec_data import SAMPLES

from lrr_lite.library import collections
from lrr_lite.storage.db import Database

CATEGORY_KEYS = {"archives", "id", "name", "pinned", "search"}
TANK_KEYS = {"archives", "id", "name", "progress", "summary", "tags"}
ENVELOPE_KEYS = {"operation", "error", "success", "successMessage"}
NAMES = ["Apple", "Banana", "Cherry", "Dragon", "Egg", "Fig", "Grape", "Hazel", "Iris", "Jade", "Kiwi", "Lime"]


@pytest.fixture
def lib(make_server):
    server = make_server()
    for n, name in enumerate(NAMES, start=1):  # distinct page counts: distinct IDs
        make_comic(server.content / f"{name}.cbz", n, "cbz")
    make_comic(server.content / 'Quote "&" Co.cbz', 13, "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    assert len(ids) == len(NAMES) + 1
    return server, ids


def ok(resp, operation: str, message: str = "") -> dict:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS and body == {"operation": operation, "error": "", "success": 1,
                                                   "successMessage": message}
    return body


def err(resp, operation: str, message: str, status: int = 400) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body == {"operation": operation, "error": message, "success": 0, "successMessage": ""}
    return body


def create_category(server, name: str, **params) -> str:
    resp = server.put("/api/categories", auth=True, params={"name": name, **params})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"category_id", "operation", "success"} and body["operation"] == "create_category"
    assert re.fullmatch(r"SET_\d{10}", body["category_id"]) and body["success"] == 1
    return body["category_id"]


def create_tank(server, name: str) -> str:
    resp = server.put("/api/tankoubons", auth=True, params={"name": name})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"operation", "success", "tankoubon_id"} and body["operation"] == "create_tankoubon"
    assert re.fullmatch(r"TANK_\d{10}", body["tankoubon_id"])
    return body["tankoubon_id"]


def tank(server, tank_id: str, **params) -> dict:
    resp = server.get(f"/api/tankoubons/{tank_id}", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def search_ids(server, text: str) -> list[str]:
    resp = server.get("/api/search", params={"filter": text, "start": -1})
    assert resp.status_code == 200, resp.text
    return [row["arcid"] for row in resp.json()["data"]]


# -- categories ------------------------------------------------------------------------------------------------

def test_category_vectors(lib):
    server, ids = lib
    ebf = ids["Apple"]
    static = create_category(server, "Test Category")
    dynamic = create_category(server, "Dynamic Test", search="artist:test", pinned="1")
    assert static != dynamic
    cat = server.get(f"/api/categories/{static}").json()
    assert cat == {"archives": [], "id": static, "name": "Test Category", "pinned": "0", "search": ""}
    dyn = server.get(f"/api/categories/{dynamic}").json()
    assert dyn == {"archives": [], "id": dynamic, "name": "Dynamic Test", "pinned": "1", "search": "artist:test"}
    assert set(json.loads((SAMPLES / "category_get.json").read_text())) == set(cat) == CATEGORY_KEYS

    ok(server.put(f"/api/categories/{static}/{ebf}", auth=True), "add_to_category",
       "Added &quot;Apple&quot; to category &quot;Test Category&quot;!")
    ok(server.put(f"/api/categories/{static}/{ebf}", auth=True), "add_to_category",
       "Added &quot;Apple&quot; to category &quot;Test Category&quot;!")
    assert server.get(f"/api/categories/{static}").json()["archives"] == [ebf]

    body = server.put(f"/api/categories/{dynamic}/{ebf}", auth=True).json()
    assert body["success"] == 0 and "dynamic category" in body["error"]
    assert body["error"] == f"{dynamic} is a favorite search/dynamic category, can&#39;t add archives to it."
    assert server.get(f"/api/categories/{dynamic}").json()["archives"] == []

    # both tanks can be added; removing one keeps the other
    t1, t2 = create_tank(server, "Hello"), create_tank(server, "World")
    ok(server.put(f"/api/categories/{static}/{t1}", auth=True), "add_to_category",
       "Added &quot;Hello&quot; to category &quot;Test Category&quot;!")
    ok(server.put(f"/api/categories/{static}/{t2}", auth=True), "add_to_category",
       "Added &quot;World&quot; to category &quot;Test Category&quot;!")
    assert server.get(f"/api/categories/{static}").json()["archives"] == [ebf, t1, t2]
    ok(server.delete(f"/api/categories/{static}/{t1}", auth=True), "remove_from_category",
       "Removed &quot;Hello&quot; from category &quot;Test Category&quot;!")
    assert server.get(f"/api/categories/{static}").json()["archives"] == [ebf, t2]
    ok(server.delete(f"/api/categories/{static}/{t1}", auth=True), "remove_from_category",
       "Removed &quot;Hello&quot; from category &quot;Test Category&quot;!")  # not a member: no-op

    found = server.get(f"/api/archives/{ebf}/categories").json()
    assert found["operation"] == "find_arc_categories" and [c["id"] for c in found["categories"]] == [static]

    listed = {c["id"]: c for c in server.get("/api/categories").json()}
    assert listed[static] == server.get(f"/api/categories/{static}").json()
    assert all(set(c) == CATEGORY_KEYS and c["pinned"] in ("0", "1") for c in listed.values())

    ok(server.delete(f"/api/categories/{static}", auth=True), "delete_category")
    err(server.get(f"/api/categories/{static}"), "get_category", "The given category does not exist.")
    assert static not in {c["id"] for c in server.get("/api/categories").json()}
    ok(server.delete(f"/api/categories/{static}", auth=True), "delete_category")  # missing: still a success
    assert server.get(f"/api/archives/{ebf}/metadata").status_code == 200  # archives are never deleted
    assert server.get(f"/api/archives/{ebf}/categories").json()["categories"] == []


def test_category_titles_are_xml_escaped_and_category_search_works(lib):
    server, ids = lib
    arc = ids['Quote "&" Co']
    cat = create_category(server, "Tom's <picks>")
    ok(server.put(f"/api/categories/{cat}/{arc}", auth=True), "add_to_category",
       "Added &quot;Quote &quot;&amp;&quot; Co&quot; to category &quot;Tom&#39;s &lt;picks&gt;&quot;!")
    # the raw name is stored and served unescaped in the object itself
    assert server.get(f"/api/categories/{cat}").json()["name"] == "Tom's <picks>"
    resp = server.get("/api/search", params={"category": cat})
    assert [row["arcid"] for row in resp.json()["data"]] == [arc]


def test_category_update_rules(lib):
    server, _ = lib
    cat = create_category(server, "Original", pinned="true")
    assert server.get(f"/api/categories/{cat}").json()["pinned"] == "1"
    resp = server.put(f"/api/categories/{cat}", auth=True, params={"name": ""})
    assert resp.status_code == 200
    assert resp.json() == {"category_id": cat, "operation": "update_category", "success": 1}
    got = server.get(f"/api/categories/{cat}").json()
    assert got["name"] == "Original" and got["pinned"] == "0"  # empty name kept, pinned reset
    server.put(f"/api/categories/{cat}", auth=True, params={"name": "Renamed", "search": "fruit:x", "pinned": "1"})
    got = server.get(f"/api/categories/{cat}").json()
    assert got == {"archives": [], "id": cat, "name": "Renamed", "pinned": "1", "search": "fruit:x"}
    server.put(f"/api/categories/{cat}", auth=True, params={"search": "", "pinned": "false"})
    got = server.get(f"/api/categories/{cat}").json()
    assert got["search"] == "fruit:x" and got["pinned"] == "0"  # a predicate cannot be removed
    # form bodies work as well as the query string
    server.put(f"/api/categories/{cat}", auth=True, data={"name": "Form Name"})
    assert server.get(f"/api/categories/{cat}").json()["name"] == "Form Name"
    err(server.put("/api/categories/SET_0000000001", auth=True, params={"name": "x"}), "update_category",
        "The given category does not exist.")


def test_category_bad_input(lib):
    server, ids = lib
    arc = ids["Banana"]
    err(server.put("/api/categories", auth=True), "create_category", "Category name not specified.")
    err(server.put("/api/categories", auth=True, params={"name": ""}), "create_category",
        "Category name not specified.")
    resp = server.put("/api/categories", params={"name": "x"})
    assert resp.status_code == 401 and resp.json()["operation"] == "create_category"
    for method in ("put", "delete"):
        resp = getattr(server, method)(f"/api/categories/SET_1/{arc}", auth=True)
        assert resp.status_code == 400 and resp.json()["errors"] == [
            {"message": "String is too short: 5/14.", "path": "/id"}]
        resp = getattr(server, method)("/api/categories/SET_0000000001/abc", auth=True)
        assert resp.status_code == 400 and resp.json()["errors"][0]["path"] == "/archive"
    resp = server.get("/api/categories/SET_12345678901")
    assert resp.status_code == 400 and resp.json()["errors"][0]["message"] == "String is too long: 15/14."
    err(server.get("/api/categories/SET_0000000001"), "get_category", "The given category does not exist.")
    err(server.put(f"/api/categories/SET_0000000001/{arc}", auth=True), "add_to_category",
        "SET_0000000001 doesn&#39;t exist in the database!")
    err(server.delete(f"/api/categories/SET_0000000001/{arc}", auth=True), "remove_from_category",
        "SET_0000000001 doesn&#39;t exist in the database!")
    cat = create_category(server, "Static")
    missing = "0" * 40
    err(server.put(f"/api/categories/{cat}/{missing}", auth=True), "add_to_category",
        f"{missing} does not exist in the database.")
    err(server.put(f"/api/categories/{cat}/TANK_0000000001", auth=True), "add_to_category",
        "TANK_0000000001 does not exist in the database.")
    err(server.delete(f"/api/categories/{cat}/{missing}", auth=True), "remove_from_category",
        f"{missing} does not exist in the database.")
    assert server.get(f"/api/categories/{cat}").json()["archives"] == []


def test_category_ids_never_collide(lib):
    server, _ = lib
    made = [create_category(server, f"Quick {n}") for n in range(6)]  # all within a second or two
    assert len(set(made)) == 6
    stamps = sorted(int(i[4:]) for i in made)
    assert stamps == list(range(stamps[0], stamps[0] + 6))  # +1 s on each collision


def test_bookmark_link(lib):
    server, _ = lib
    base = "/api/categories/bookmark_link"
    server.delete(base, auth=True)  # whatever first start linked
    assert server.get(base).json() == {"category_id": "", "operation": "get_bookmark_link", "success": 1}
    static, dynamic = create_category(server, "Bookmarks"), create_category(server, "Dyn", search="x")
    for bad in ("SET_abcdefghij", "XXX_1234567890"):
        resp = server.put(f"{base}/{bad}", auth=True)
        assert resp.status_code == 400
        assert resp.json() == {"operation": "update_bookmark_link", "success": 0, "category_id": bad,
                               "error": "Input category ID is invalid."}
    resp = server.put(f"{base}/SET_0000000001", auth=True)
    assert resp.status_code == 404 and resp.json()["error"] == "Category does not exist!"
    resp = server.put(f"{base}/{dynamic}", auth=True)
    assert resp.status_code == 400 and resp.json() == {
        "operation": "update_bookmark_link", "success": 0, "category_id": dynamic,
        "error": "Cannot link bookmark to a dynamic category."}
    assert server.put(f"{base}/{static}").status_code == 401
    resp = server.put(f"{base}/{static}", auth=True)
    assert resp.json() == {"category_id": static, "operation": "update_bookmark_link", "success": 1}
    assert server.get(base).json()["category_id"] == static
    resp = server.delete(base, auth=True)
    assert resp.json() == {"category_id": static, "operation": "remove_bookmark_link", "success": 1}
    assert server.delete(base, auth=True).json()["category_id"] == ""
    server.put(f"{base}/{static}", auth=True)
    server.delete(f"/api/categories/{static}", auth=True)  # deleting the linked category unlinks it
    assert server.get(base).json()["category_id"] == ""


def test_default_favorites_created_once(make_server, tmp_path):
    db = Database(tmp_path / "fresh.sqlite")
    made = collections.ensure_default_favorites(db)
    assert made is not None and re.fullmatch(r"SET_\d{10}", made)
    assert collections.list_categories(db) == [
        {"archives": [], "id": made, "name": "🔖 Favorites", "pinned": "0", "search": ""}]
    assert collections.get_bookmark_link(db) == made
    assert collections.ensure_default_favorites(db) is None  # second start: nothing new
    collections.delete_category(db, made)
    assert collections.get_bookmark_link(db) == ""
    assert collections.ensure_default_favorites(db) is None  # deleting it sticks
    assert collections.list_categories(db) == []
    db.close()

    # a library that already has categories never gets one
    db2 = Database(tmp_path / "other.sqlite")
    collections.create_category(db2, "Mine")
    assert collections.ensure_default_favorites(db2) is None
    collections.delete_category(db2, collections.list_categories(db2)[0]["id"])
    assert collections.ensure_default_favorites(db2) is None and collections.list_categories(db2) == []
    db2.close()

    # over HTTP, whether or not Context.open already made it, it is static, linked and survives a restart
    server = make_server(scan=False).start()
    collections.ensure_default_favorites(server.ctx.db)
    favs = [c for c in server.get("/api/categories").json() if c["name"] == "🔖 Favorites"]
    assert len(favs) == 1 and favs[0]["search"] == ""
    assert server.get("/api/categories/bookmark_link").json()["category_id"] == favs[0]["id"]
    server.delete(f"/api/categories/{favs[0]['id']}", auth=True)
    server.restart()
    collections.ensure_default_favorites(server.ctx.db)
    assert not [c for c in server.get("/api/categories").json() if c["name"] == "🔖 Favorites"]


# -- tankoubons ------------------------------------------------------------------------------------------------

def test_tank_list_shape_and_paging(lib):
    server, _ = lib
    body = server.get("/api/tankoubons").json()
    assert body == {"filtered": 0, "result": [], "total": 0}
    assert body == json.loads((SAMPLES / "tankoubons.json").read_text())
    made = [create_tank(server, f"Tank {n}") for n in range(3)]
    assert made == sorted(made) and len(set(made)) == 3
    server.ctx.settings.set("pagesize", 2)
    page0 = server.get("/api/tankoubons").json()  # missing page = page 0
    assert page0["total"] == 3 and page0["filtered"] == 2 and [t["id"] for t in page0["result"]] == made[:2]
    assert all(set(t) == TANK_KEYS for t in page0["result"])
    assert page0["result"][0] == {"archives": [], "id": made[0], "name": "Tank 0", "progress": 0, "summary": "",
                                  "tags": ""}
    assert server.get("/api/tankoubons", params={"page": 0}).json() == page0
    page1 = server.get("/api/tankoubons", params={"page": 1}).json()
    assert page1["filtered"] == 1 and [t["id"] for t in page1["result"]] == made[2:]
    assert server.get("/api/tankoubons", params={"page": 5}).json() == {"filtered": 0, "result": [], "total": 3}
    every = server.get("/api/tankoubons", params={"page": -1}).json()
    assert every["filtered"] == 3 and [t["id"] for t in every["result"]] == made
    resp = server.get("/api/tankoubons", params={"page": "x"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["path"] == "/page"


def test_tank_vectors(lib):
    server, ids = lib
    tank_id = create_tank(server, "Test Tank")
    order = [ids[n] for n in NAMES]  # 12 archives
    for n, arc in enumerate(order):
        ok(server.put(f"/api/tankoubons/{tank_id}/{arc}", auth=True), "add_to_tankoubon",
           f"Added &quot;{NAMES[n]}&quot; to tankoubon &quot;Test Tank&quot;!")
    got = tank(server, tank_id, page=-1)
    assert got["total"] == 12 and got["filtered"] == 12 and got["result"]["archives"] == order
    assert set(got["result"]) == TANK_KEYS
    ok(server.put(f"/api/tankoubons/{tank_id}/{order[3]}", auth=True), "add_to_tankoubon",
       f"Added &quot;{NAMES[3]}&quot; to tankoubon &quot;Test Tank&quot;!")  # re-add: no-op
    assert tank(server, tank_id, page=-1)["result"]["archives"] == order

    ok(server.delete(f"/api/tankoubons/{tank_id}/{order[1]}", auth=True), "remove_from_tankoubon",
       f"Removed &quot;{NAMES[1]}&quot; from tankoubon &quot;Test Tank&quot;!")
    order.pop(1)
    assert tank(server, tank_id, page=-1)["result"]["archives"] == order
    positions = [r["position"] for r in server.ctx.db.query(
        "SELECT position FROM tank_archives WHERE tank_id=? ORDER BY position", (tank_id,))]
    assert positions == list(range(1, 12))  # the gap closed

    resp = server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": order[::-1]})
    ok(resp, "update_tankoubon", "Updated tankoubon &quot;Test Tank&quot;!")
    assert tank(server, tank_id, page=-1)["result"]["archives"] == order[::-1]

    ok(server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"tags": "test, tankoubon"}}),
       "update_tankoubon", "Updated tankoubon &quot;Test Tank&quot;!")
    result = tank(server, tank_id)["result"]
    assert result["tags"] == "test,tankoubon" and result["archives"] == order[::-1]  # archives untouched

    assert result["progress"] == 0
    resp = server.put(f"/api/tankoubons/{tank_id}/progress/7")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"id", "lastreadtime", "operation", "page", "success"}
    assert body["id"] == tank_id and body["page"] == 7 and body["operation"] == "update_tank_progress"
    assert isinstance(body["lastreadtime"], int) and body["success"] == 1
    assert tank(server, tank_id)["result"]["progress"] == 7
    assert server.get(f"/api/archives/{order[0]}/metadata").json()["progress"] == 0  # members untouched

    found = server.get(f"/api/archives/{order[0]}/tankoubons").json()
    assert found == {"operation": "find_arc_tankoubons", "success": 1, "tankoubons": [tank_id]}

    ok(server.delete(f"/api/tankoubons/{tank_id}", auth=True), "delete_tankoubon")
    err(server.get(f"/api/tankoubons/{tank_id}"), "get_tankoubon", "The given tankoubon does not exist.")
    assert server.get(f"/api/archives/{order[0]}/metadata").status_code == 200
    assert server.get(f"/api/archives/{order[0]}/tankoubons").json()["tankoubons"] == []


def test_tank_get_paging_and_full_data(lib):
    server, ids = lib
    tank_id = create_tank(server, "Paged")
    order = [ids[n] for n in NAMES[:5]]
    assert server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": order}).status_code == 200
    server.ctx.settings.set("pagesize", 2)
    got = tank(server, tank_id)  # missing page = first page
    assert got["total"] == 5 and got["filtered"] == 2 and got["result"]["archives"] == order[:2]
    assert "full_data" not in got["result"]
    got = tank(server, tank_id, page=2, include_full_data="true")
    assert got["filtered"] == 1 and got["result"]["archives"] == order[4:]
    assert [a["arcid"] for a in got["result"]["full_data"]] == order[4:]
    assert "full_data" not in tank(server, tank_id, include_full_data="false")["result"]

    full = server.get(f"/api/tankoubons/{tank_id}/full").json()  # default: every member
    assert full["total"] == 5 and full["filtered"] == 5 and full["result"]["archives"] == order
    assert [a["arcid"] for a in full["result"]["full_data"]] == order
    assert full["result"]["full_data"][0]["title"] == NAMES[0] and full["result"]["full_data"][0]["pagecount"] == 1
    assert set(full["result"]) == TANK_KEYS | {"full_data"}
    full1 = server.get(f"/api/tankoubons/{tank_id}/full", params={"page": 1}).json()
    assert full1["filtered"] == 2 and full1["result"]["archives"] == order[2:4]
    err(server.get("/api/tankoubons/TANK_0000000001/full"), "get_tankoubon_full",
        "The given tankoubon does not exist.")


def test_tank_metadata_rename_and_append(lib):
    server, ids = lib
    tank_id = create_tank(server, "Before")
    resp = server.put("/api/tankoubons", auth=True, params={"name": "After", "tankid": tank_id})
    assert resp.json() == {"operation": "create_tankoubon", "success": 1, "tankoubon_id": tank_id}
    assert tank(server, tank_id)["result"]["name"] == "After"
    assert server.get("/api/tankoubons").json()["total"] == 1

    meta = {"name": "Named", "summary": "A summary", "tags": "series:hello,  a, a,\nb"}
    ok(server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": meta}), "update_tankoubon",
       "Updated tankoubon &quot;Named&quot;!")
    result = tank(server, tank_id)["result"]
    assert (result["name"], result["summary"], result["tags"]) == ("Named", "A summary", "series:hello,a,b")
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"tags": "c, a", "append": True}})
    assert tank(server, tank_id)["result"]["tags"] == "series:hello,a,b,c"
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"name": "", "summary": ""}})
    result = tank(server, tank_id)["result"]
    assert result["name"] == "Named" and result["summary"] == ""  # empty name = unchanged; absent keys unchanged
    assert result["tags"] == "series:hello,a,b,c"

    # renamed tank is found by its new name in grouped search, not the old one
    server.put(f"/api/tankoubons/{tank_id}/{ids['Apple']}", auth=True)
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"name": "Updated Tank Name"}})
    assert tank_id in search_ids(server, "updated tank name")
    assert tank_id not in search_ids(server, "before")


def test_tank_tag_index_vectors(lib):
    server, ids = lib
    for name in ("Apple", "Banana", "Cherry"):
        server.put(f"/api/archives/{ids[name]}/metadata", auth=True, params={"tags": f"fruit:{name.lower()}"})
    tank_id = create_tank(server, "Fruits")
    server.put(f"/api/tankoubons/{tank_id}/{ids['Apple']}", auth=True)
    assert tank_id in search_ids(server, "fruit:apple")
    server.put(f"/api/tankoubons/{tank_id}/{ids['Banana']}", auth=True)
    assert tank_id in search_ids(server, "fruit:apple") and tank_id in search_ids(server, "fruit:banana")
    server.delete(f"/api/tankoubons/{tank_id}/{ids['Apple']}", auth=True)
    assert tank_id not in search_ids(server, "fruit:apple") and tank_id in search_ids(server, "fruit:banana")
    assert ids["Apple"] in search_ids(server, "fruit:apple")  # visible again once out of every tank
    server.put(f"/api/archives/{ids['Banana']}/metadata", auth=True, params={"tags": "fruit:elderberry"})
    assert tank_id in search_ids(server, "fruit:elderberry") and tank_id not in search_ids(server, "fruit:banana")
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"tags": "series:test series"}})
    assert tank_id in search_ids(server, "series:test series")
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": [ids["Cherry"]]})
    assert tank_id in search_ids(server, "fruit:cherry") and tank_id not in search_ids(server, "fruit:elderberry")


def test_tank_bad_input(lib):
    server, ids = lib
    tank_id = create_tank(server, "Guarded")
    arc = ids["Apple"]
    server.put(f"/api/tankoubons/{tank_id}/{arc}", auth=True)
    err(server.put("/api/tankoubons", auth=True), "create_tankoubon", "Tankoubon name not specified.")
    err(server.put("/api/tankoubons", auth=True, params={"name": "x", "tankid": "TANK_0000000001"}),
        "create_tankoubon", "The given tankoubon does not exist.")
    assert server.put("/api/tankoubons", params={"name": "x"}).status_code == 401
    err(server.get("/api/tankoubons/TANK_0000000001"), "get_tankoubon", "The given tankoubon does not exist.")
    err(server.get("/api/tankoubons/nope"), "get_tankoubon", "The given tankoubon does not exist.")

    url = f"/api/tankoubons/{tank_id}"
    headers = {"Content-Type": "application/json"}
    for raw in (b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"archives": "abc"}',
                b'{"archives": [1, 2]}', b'{"metadata": []}', b'{"metadata": {"name": 5}}',
                b'{"metadata": {"tags": ["a"]}}'):
        resp = server.put(url, auth=True, data=raw, headers=headers)
        assert resp.status_code == 400, raw
        body = resp.json()
        assert set(body) == ENVELOPE_KEYS and body["operation"] == "update_tankoubon" and body["success"] == 0
    missing = "0" * 40
    err(server.put(url, auth=True, json={"archives": [ids["Banana"], missing]}), "update_tankoubon",
        f"{missing} does not exist in the database.")
    err(server.put(url, auth=True, json={"archives": [missing], "metadata": {"name": "Lost"}}),
        "update_tankoubon", f"{missing} does not exist in the database.")
    result = tank(server, tank_id)["result"]
    assert result["archives"] == [arc] and result["name"] == "Guarded"  # all or nothing
    err(server.put("/api/tankoubons/TANK_0000000001", auth=True, json={"archives": []}), "update_tankoubon",
        "TANK_0000000001 doesn&#39;t exist in the database!")
    assert server.put(url, json={"archives": []}).status_code == 401

    err(server.put(f"/api/tankoubons/TANK_0000000001/{arc}", auth=True), "add_to_tankoubon",
        "TANK_0000000001 doesn&#39;t exist in the database!")
    err(server.put(f"{url}/{missing}", auth=True), "add_to_tankoubon", f"{missing} does not exist in the database.")
    err(server.delete(f"{url}/{missing}", auth=True), "remove_from_tankoubon",
        f"{missing} does not exist in the database.")
    resp = server.put(f"{url}/abc", auth=True)
    assert resp.status_code == 400 and resp.json()["errors"] == [
        {"message": "String is too short: 3/40.", "path": "/archive"}]
    ok(server.delete(f"{url}/{ids['Banana']}", auth=True), "remove_from_tankoubon",
       "Removed &quot;Banana&quot; from tankoubon &quot;Guarded&quot;!")  # not a member: no-op success
    assert tank(server, tank_id)["result"]["archives"] == [arc]

    err(server.delete("/api/tankoubons/TANK_1", auth=True), "delete_tankoubon", "The given tankoubon does not exist.")
    ok(server.delete("/api/tankoubons/TANK_0000000001", auth=True), "delete_tankoubon")  # missing: success


def test_tank_progress_rules(lib):
    server, ids = lib
    tank_id = create_tank(server, "Reading")
    server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": [ids["Banana"], ids["Cherry"]]})
    url = f"/api/tankoubons/{tank_id}/progress"
    assert server.put(f"{url}/4").json()["page"] == 4  # global page: beyond the first member
    assert server.put(f"{url}/99").status_code == 200  # only page > 0 is checked
    err(server.put(f"{url}/0"), "update_tank_progress", "Invalid progress value.")
    err(server.put(f"{url}/-3"), "update_tank_progress", "Invalid progress value.")
    resp = server.put(f"{url}/abc")
    assert resp.status_code == 400 and resp.json()["errors"][0]["path"] == "/page"
    resp = server.put("/api/tankoubons/TANK_1/progress/3")
    assert resp.status_code == 400 and resp.json()["errors"][0]["path"] == "/id"
    err(server.put("/api/tankoubons/TANK_0000000001/progress/3"), "update_tank_progress",
        "The given tankoubon does not exist.")
    server.ctx.settings.set("localprogress", 1)
    err(server.put(f"{url}/5"), "update_tank_progress", "Server-side Progress Tracking is disabled on this instance.")
    server.ctx.settings.set("authprogress", 1)
    resp = server.put(f"{url}/5")
    assert resp.status_code == 401 and resp.json()["operation"] == "update_tank_progress"
    assert server.put(f"{url}/5", auth=True).status_code == 200
    assert tank(server, tank_id)["result"]["progress"] == 5


def test_thumbnail_path_is_not_an_archive_member(lib):
    server, _ = lib
    tank_id = create_tank(server, "Covers")
    resp = server.put(f"/api/tankoubons/{tank_id}/thumbnail", auth=True, params={"page": 1})
    assert resp.json().get("operation") != "add_to_tankoubon"


# -- locks and concurrency -------------------------------------------------------------------------------------

def test_writer_waits_for_a_held_lock_then_gets_423(lib):
    """A writer queues behind a held lock (departure from LANraragi, which refuses at once) and answers 423
    "Locked resource" only when its wait runs out; nothing is written then."""
    server, ids = lib
    server.ctx.locks.wait = 0.3  # the server waits 5 s by default; keep the test short
    cat, tank_id = create_category(server, "Locked"), create_tank(server, "Locked")
    arc = ids["Apple"]
    with server.ctx.locks.hold("category-write", cat):
        for method, path, op in (("put", f"/api/categories/{cat}/{arc}", "add_to_category"),
                                 ("delete", f"/api/categories/{cat}/{arc}", "remove_from_category"),
                                 ("put", f"/api/categories/{cat}", "update_category"),
                                 ("delete", f"/api/categories/{cat}", "delete_category")):
            started = time.monotonic()
            resp = getattr(server, method)(path, auth=True, params={"name": "x"})
            assert time.monotonic() - started >= 0.3  # it waited its turn first
            assert resp.status_code == 423
            assert resp.json() == {"operation": op, "success": 0, "error": f"Locked resource: {cat}."}
    with server.ctx.locks.hold("tankoubon-write", tank_id):
        for method, path, op in (("put", f"/api/tankoubons/{tank_id}/{arc}", "add_to_tankoubon"),
                                 ("delete", f"/api/tankoubons/{tank_id}/{arc}", "remove_from_tankoubon"),
                                 ("put", f"/api/tankoubons/{tank_id}/progress/2", "update_tank_progress"),
                                 ("delete", f"/api/tankoubons/{tank_id}", "delete_tankoubon")):
            resp = getattr(server, method)(path, auth=True)
            assert resp.status_code == 423
            assert resp.json() == {"operation": op, "success": 0, "error": f"Locked resource: {tank_id}."}
        resp = server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": [arc]})
        assert resp.status_code == 423 and resp.json()["operation"] == "update_tankoubon"
    assert server.get(f"/api/categories/{cat}").json()["archives"] == []
    assert tank(server, tank_id)["result"]["archives"] == []


def test_writer_gets_its_turn_when_the_lock_is_released_in_time(lib):
    server, ids = lib
    server.ctx.locks.wait = 5.0
    cat = create_category(server, "Queued")
    holding = threading.Event()

    def holder() -> None:  # another writer holds the category for half a second
        with server.ctx.locks.hold("category-write", cat):
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(5)
    started = time.monotonic()
    resp = server.put(f"/api/categories/{cat}/{ids['Apple']}", auth=True)
    waited = time.monotonic() - started
    thread.join()
    assert resp.status_code == 200 and resp.json()["success"] == 1
    assert waited >= 0.4  # it was queued behind the holder, not refused and not run beside it
    assert server.get(f"/api/categories/{cat}").json()["archives"] == [ids["Apple"]]


def test_32_clients_on_one_category_never_423_and_keep_every_acknowledged_write(lib):
    """32 clients add and remove archives of one category for a few seconds (scripts/bench_locks.py runs the
    same for 30 s): no 423, and the final membership equals the model built from the acknowledged writes,
    applied in the order the server acknowledged them per archive."""
    server, ids = lib
    cat = create_category(server, "Crowd")
    members = sorted(ids.values())
    last: dict[str, tuple[int, bool]] = {}  # archive -> (ack sequence, member after that write)
    guard = threading.Lock()
    seq = iter(range(10**9))
    problems: list[str] = []
    deadline = time.monotonic() + 3.0
    # Each archive is written by one client only, so the order of its writes is the order its client saw them
    # acknowledged: the model is then exact, not a guess about races between clients.
    owners = {n: [a for i, a in enumerate(members) if i % 32 == n] for n in range(32)}

    def client(n: int) -> None:
        session = requests.Session()
        rng = random.Random(n)
        mine = owners[n]
        while time.monotonic() < deadline:
            arc = rng.choice(mine) if mine else ""
            add = rng.random() < 0.6
            if mine:
                resp = session.request("PUT" if add else "DELETE", f"{server.url}/api/categories/{cat}/{arc}",
                                       headers=server.auth(), timeout=30)
            else:  # more clients than archives: the rest rename the category, under the same lock
                resp = session.put(f"{server.url}/api/categories/{cat}", params={"name": f"Crowd {n}"},
                                   headers=server.auth(), timeout=30)
            if resp.status_code != 200 or resp.json().get("success") != 1:
                with guard:
                    problems.append(f"{resp.status_code} {resp.text[:200]}")
                return
            if owners[n]:
                with guard:
                    last[arc] = (next(seq), add)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems[:5]
    assert last, "no write was acknowledged"
    expected = sorted(arc for arc, (_, member) in last.items() if member)
    assert sorted(server.get(f"/api/categories/{cat}").json()["archives"]) == expected


def test_concurrent_writers(lib):
    """8 threads add, update and remove on one category and one tank at once: every change is acknowledged
    (writers wait their turn, none is refused with 423) and there afterwards."""
    server, ids = lib
    cat, tank_id = create_category(server, "Busy"), create_tank(server, "Busy")
    members = [ids[n] for n in NAMES[:8]]
    guard = threading.Lock()
    acked_names: list[str] = []
    acked_summaries: list[str] = []
    failures: list[BaseException] = []

    def call(method: str, path: str, **kw) -> bool:
        resp = requests.request(method, server.url + path, headers=server.auth(), timeout=30, **kw)
        body = resp.json()
        assert resp.status_code == 200 and body["success"] == 1, body
        return True

    def until_done(method: str, path: str, n: int) -> None:
        assert call(method, path)
        # an update of the same resources between every member change, to contend for the locks
        assert call("PUT", f"/api/categories/{cat}", params={"name": f"Busy {n}"})
        with guard:
            acked_names.append(f"Busy {n}")
        assert call("PUT", f"/api/tankoubons/{tank_id}", json={"metadata": {"summary": f"Summary {n}"}})
        with guard:
            acked_summaries.append(f"Summary {n}")

    def run_all(method: str) -> None:
        def worker(n: int, arc: str) -> None:
            try:
                until_done(method, f"/api/categories/{cat}/{arc}", n)
                until_done(method, f"/api/tankoubons/{tank_id}/{arc}", n)
            except BaseException as exc:  # noqa: BLE001 - reported below
                with guard:
                    failures.append(exc)

        threads = [threading.Thread(target=worker, args=(n, arc)) for n, arc in enumerate(members)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures, failures

    run_all("PUT")
    got_cat = server.get(f"/api/categories/{cat}").json()
    assert sorted(got_cat["archives"]) == sorted(members) and len(got_cat["archives"]) == 8
    got_tank = tank(server, tank_id, page=-1)["result"]
    assert sorted(got_tank["archives"]) == sorted(members) and len(got_tank["archives"]) == 8
    assert len(acked_names) == 16 and got_cat["name"] in acked_names  # two member changes per worker
    assert len(acked_summaries) == 16 and got_tank["summary"] in acked_summaries
    positions = [r["position"] for r in server.ctx.db.query(
        "SELECT position FROM tank_archives WHERE tank_id=? ORDER BY position", (tank_id,))]
    assert positions == list(range(1, 9))

    run_all("DELETE")
    assert server.get(f"/api/categories/{cat}").json()["archives"] == []
    assert tank(server, tank_id, page=-1)["result"]["archives"] == []
    for arc in members:  # the archives themselves are untouched
        assert server.get(f"/api/archives/{arc}/metadata").status_code == 200
