"""The category manager (/categories), the tankoubon editor (/tankoubons) and the archive page's category
control over HTTP, no browser: the JS-off pages show everything, every POST needs the login and this session's
CSRF token, each write is checked through the API, and a write aimed at something deleted or changed meanwhile
says so instead of being lost."""

from __future__ import annotations

import re
import sys
from html import unescape

import pytest
import requests
from archive_factory import make_archive, make_image
from test_web import app_with_web, login, page_weight

JSON = {"Accept": "application/json"}
PAGE_LIMIT = 150 * 1024
POSTS = ("/categories/create", "/categories/update", "/categories/pin", "/categories/delete", "/categories/member",
         "/tankoubons/create", "/tankoubons/update", "/tankoubons/order", "/tankoubons/move", "/tankoubons/member",
         "/tankoubons/delete")


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Banana", "Cherry", "Damson"):
        make_archive(server.content / f"{name}.cbz", {"001.jpg": make_image(40, 60, text=name)}, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for name, aid in server.ids.items():
        tags = "fruit:red" if name in ("Apple", "Cherry") else "fruit:other"
        assert server.put(f"/api/archives/{aid}/metadata", auth=True, data={"title": name, "tags": tags}).ok
    return server


def csrf_of(html: str) -> str:
    return unescape(re.search(r'name="csrf" value="([^"]+)"', html).group(1))


def token(site, path: str = "/categories") -> str:
    return csrf_of(site.get(path).text)


def was_of(html: str, cat_id: str) -> str:
    """The fingerprint the category's rename form was loaded with."""
    return re.search(f'name="id" value="{cat_id}"><input type="hidden" name="was" value="([0-9a-f]+)"', html).group(1)


def categories(site) -> dict[str, dict]:
    return {c["name"]: c for c in site.get("/api/categories").json()}


def tank(site, tid: str) -> dict:
    return site.get(f"/api/tankoubons/{tid}").json()


def test_every_post_needs_the_login_and_this_sessions_token(site):
    for path in POSTS:
        resp = site.post(path, data={"name": "x"}, allow_redirects=False)
        assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"], path
        resp = site.post(path, data={"name": "x"}, headers=JSON)
        assert resp.status_code == 401 and "Log in" in resp.json()["error"], path
    for path in ("/categories", "/tankoubons"):
        assert site.get(path, allow_redirects=False).status_code == 303
    login(site)
    other = requests.Session()
    other.post(site.url + "/login", data={"password": "kamimamita"})
    other_token = csrf_of(other.get(site.url + "/categories").text)
    for path in POSTS:
        for csrf in ("", "0" * 64, other_token):
            resp = site.post(path, data={"name": "Hacked", "csrf": csrf}, headers=JSON)
            assert resp.status_code == 403 and "expired" in resp.json()["error"], (path, csrf)
        assert site.post(path, data={"name": "Hacked", "csrf": ""}).status_code == 403
    assert "Hacked" not in categories(site)
    assert site.get("/api/tankoubons").json()["total"] == 0


def test_categories_create_pin_rename_delete_without_js(site):
    login(site)
    csrf = token(site)
    resp = site.post("/categories/create", data={"csrf": csrf, "name": "Reds", "search": "fruit:red"},
                     allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/categories?done=created")
    resp = site.post("/categories/create", data={"csrf": csrf, "name": "Shelf <b>", "pinned": "1"}, headers=JSON)
    assert resp.status_code == 200 and resp.json()["ok"] == 1
    cats = categories(site)
    reds, shelf = cats["Reds"], cats["Shelf <b>"]
    assert reds["search"] == "fruit:red" and reds["pinned"] == "0" and shelf["pinned"] == "1"
    html = site.get("/categories").text
    assert "Shelf &lt;b&gt;" in html and "Shelf <b>" not in html
    assert 'href="/?q=fruit:red"' in html and "dynamic" in html and "static, 0 archives" in html
    # the dynamic category's results are its library search
    library = site.get("/?cat=" + reds["id"]).text
    assert "Apple" in library and "Cherry" in library and "Banana" not in library

    assert site.post("/categories/pin", data={"csrf": csrf, "id": reds["id"], "pinned": "1"}, headers=JSON).ok
    assert categories(site)["Reds"]["pinned"] == "1"
    resp = site.post("/categories/update", data={"csrf": csrf, "id": reds["id"], "name": "Red fruit",
                                                 "search": "fruit:red$"}, headers=JSON)
    assert resp.status_code == 200
    renamed = categories(site)["Red fruit"]
    assert renamed["search"] == "fruit:red$" and renamed["pinned"] == "1"  # the rename kept the pin
    resp = site.post("/categories/update", data={"csrf": csrf, "id": shelf["id"], "name": "S", "search": "x"},
                     headers=JSON)
    assert resp.status_code == 400 and "static category" in resp.json()["error"]

    # someone else renames it meanwhile: the stale form's rename is refused with the stored name
    was = was_of(site.get("/categories").text, reds["id"])
    assert site.put(f"/api/categories/{reds['id']}", auth=True, params={"name": "Theirs", "pinned": "1"}).ok
    resp = site.post("/categories/update", data={"csrf": csrf, "id": reds["id"], "name": "Mine",
                                                 "search": "fruit:red$", "was": was}, headers=JSON)
    assert resp.status_code == 409 and 'it is now "Theirs"' in resp.json()["error"]
    assert categories(site)["Theirs"]["id"] == reds["id"]
    assert was_of(site.get("/categories").text, reds["id"]) != was  # a reloaded page carries the new fingerprint

    # someone else deletes it; renaming, pinning, deleting it or adding to it from the stale page says so, in the
    # same words whichever the route
    assert site.delete(f"/api/categories/{reds['id']}", auth=True).ok
    said = set()
    for path, extra in (("/categories/update", {"name": "Again"}), ("/categories/pin", {"pinned": "0"}),
                        ("/categories/delete", {}), ("/categories/member", {"archive": site.ids["Apple"], "op": "add"})):
        resp = site.post(path, data={"csrf": csrf, "id": reds["id"], **extra}, headers=JSON)
        assert resp.status_code == 404 and "no longer exists" in resp.json()["error"], path
        said.add(resp.json()["error"])
        page = site.post(path, data={"csrf": csrf, "id": reds["id"], **extra})
        assert page.status_code == 404 and "no longer exists" in page.text
    assert len(said) == 1, said
    assert "Again" not in categories(site)
    resp = site.post("/categories/delete", data={"csrf": csrf, "id": shelf["id"]}, allow_redirects=False)
    assert resp.status_code == 303 and categories(site) .get("Shelf <b>") is None


def test_archive_page_adds_and_removes_a_static_category(site):
    aid = site.ids["Apple"]
    cat = site.put("/api/categories", auth=True, params={"name": "Shelf"}).json()["category_id"]
    site.put("/api/categories", auth=True, params={"name": "Dyn", "search": "fruit"})
    assert 'id="catadd"' not in site.get(f"/archive?id={aid}").text  # logged out: no control
    login(site)
    html = site.get(f"/archive?id={aid}").text
    assert 'id="catadd"' in html and ">Shelf</option>" in html and ">Dyn</option>" not in html
    csrf = csrf_of(html)
    resp = site.post("/categories/member", data={"csrf": csrf, "id": cat, "archive": aid, "op": "add"},
                     allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/archive?id={aid}")
    assert site.get(f"/api/categories/{cat}").json()["archives"] == [aid]
    html = site.get(f"/archive?id={aid}").text
    assert 'aria-label="Remove from Shelf"' in html and ">Shelf</option>" not in html  # in it: not offered
    resp = site.post("/categories/member", data={"csrf": csrf, "id": cat, "archive": aid, "op": "remove"},
                     headers=JSON)
    assert resp.status_code == 200 and "Removed" in resp.json()["message"]
    assert site.get(f"/api/categories/{cat}").json()["archives"] == []
    site.delete(f"/api/categories/{cat}", auth=True)
    resp = site.post("/categories/member", data={"csrf": csrf, "id": cat, "archive": aid, "op": "add"}, headers=JSON)
    assert resp.status_code == 404 and "no longer exists" in resp.json()["error"]


def test_tankoubon_create_edit_fill_reorder_delete(site):
    ids = site.ids
    login(site)
    csrf = token(site, "/tankoubons")
    resp = site.post("/tankoubons/create", data={"csrf": csrf, "name": "Saga"}, allow_redirects=False)
    assert resp.status_code == 303 and "/tankoubons/edit?id=TANK_" in resp.headers["Location"]
    tid = resp.headers["Location"].split("id=")[1].split("&")[0]
    assert site.post("/tankoubons/update", data={"csrf": csrf, "id": tid, "name": "Fruit Saga",
                                                 "summary": "All of them", "tags": "genre:fruit"}, headers=JSON).ok
    got = tank(site, tid)
    assert (got["name"], got["summary"], got["tags"]) == ("Fruit Saga", "All of them", "genre:fruit")
    # a save from a page loaded before someone else's change is refused; the user's text is not lost
    version = re.search(r'id="t_version" value="([0-9a-f]+)"', site.get(f"/tankoubons/edit?id={tid}").text).group(1)
    assert site.put(f"/api/tankoubons/{tid}", auth=True, json={"metadata": {"name": "Their Saga"}}).ok
    mine = {"csrf": csrf, "id": tid, "name": "My Saga", "summary": "Mine", "tags": "", "version": version}
    resp = site.post("/tankoubons/update", data=mine, headers=JSON)
    assert resp.status_code == 409 and "changed since you opened" in resp.json()["error"]
    assert resp.json()["name"] == "Their Saga"
    page = site.post("/tankoubons/update", data=mine)
    assert page.status_code == 409 and 'id="t_conflict"' in page.text and "Their Saga" in page.text
    assert 'id="t_name" value="My Saga"' in page.text and tank(site, tid)["name"] == "Their Saga"
    again = re.search(r'id="t_version" value="([0-9a-f]+)"', page.text).group(1)
    assert site.post("/tankoubons/update", data={**mine, "version": again}, headers=JSON).ok  # deliberate overwrite
    assert tank(site, tid)["name"] == "My Saga"

    # search and pick: the edit page lists what a search finds, with an Add button each
    html = site.get(f"/tankoubons/edit?id={tid}&q=fruit:red").text
    assert 'id="picks"' in html and "Apple" in html and "Cherry" in html and "Banana" not in html
    for name in ("Apple", "Banana", "Cherry"):
        resp = site.post("/tankoubons/member", data={"csrf": csrf, "id": tid, "archive": ids[name], "op": "add",
                                                     "q": "fruit"}, allow_redirects=False)
        assert resp.status_code == 303 and "q=fruit" in resp.headers["Location"]
    assert tank(site, tid)["archives"] == [ids["Apple"], ids["Banana"], ids["Cherry"]]
    html = site.get(f"/tankoubons/edit?id={tid}").text
    assert html.count('draggable="true"') == 3 and html.count('class="up"') == 3

    # no-JS reorder: one place up
    resp = site.post("/tankoubons/move", data={"csrf": csrf, "id": tid, "archive": ids["Cherry"], "dir": "up"},
                     allow_redirects=False)
    assert resp.status_code == 303
    assert tank(site, tid)["archives"] == [ids["Apple"], ids["Cherry"], ids["Banana"]]
    # the whole order (drag & drop), sent with the order the page showed
    shown = [ids["Apple"], ids["Cherry"], ids["Banana"]]
    wanted = [ids["Banana"], ids["Apple"], ids["Cherry"]]
    resp = site.post("/tankoubons/order", data={"csrf": csrf, "id": tid, "archives": ",".join(wanted),
                                                "expected": ",".join(shown)}, headers=JSON)
    assert resp.status_code == 200 and resp.json()["archives"] == wanted
    assert tank(site, tid)["archives"] == wanted
    # another client adds a volume: an order from the stale page is refused, nothing lost
    assert site.put(f"/api/tankoubons/{tid}/{ids['Damson']}", auth=True).ok
    resp = site.post("/tankoubons/order", data={"csrf": csrf, "id": tid, "archives": ",".join(shown),
                                                "expected": ",".join(wanted)}, headers=JSON)
    assert resp.status_code == 409 and "changed since you opened" in resp.json()["error"]
    assert tank(site, tid)["archives"] == [*wanted, ids["Damson"]]

    assert site.post("/tankoubons/member", data={"csrf": csrf, "id": tid, "archive": ids["Apple"], "op": "remove"},
                     headers=JSON).ok
    assert ids["Apple"] not in tank(site, tid)["archives"]
    resp = site.post("/tankoubons/move", data={"csrf": csrf, "id": tid, "archive": ids["Apple"], "dir": "up"},
                     headers=JSON)  # a stale page moves a volume someone removed
    assert resp.status_code == 404 and "no longer in the tankoubon" in resp.json()["error"]
    total, parts = page_weight(site, f"/tankoubons/edit?id={tid}&q=fruit")
    print(f"tankoubon editor weight: {total} bytes {parts}")
    assert total <= PAGE_LIMIT
    resp = site.post("/tankoubons/delete", data={"csrf": csrf, "id": tid}, allow_redirects=False)
    assert resp.status_code == 303 and site.get("/api/tankoubons").json()["total"] == 0
    resp = site.post("/tankoubons/update", data={"csrf": csrf, "id": tid, "name": "Zombie"}, headers=JSON)
    assert resp.status_code == 404 and "no longer exists" in resp.json()["error"]
    assert site.get(f"/tankoubons/edit?id={tid}").status_code == 404


def test_pages_weigh_little_and_show_without_js(site):
    login(site)
    site.put("/api/categories", auth=True, params={"name": "Shelf"})
    site.put("/api/tankoubons", auth=True, params={"name": "Saga"})
    for path, needle in (("/categories", "Shelf"), ("/tankoubons", "Saga")):
        html = site.get(path).text
        assert needle in html and "<noscript" not in html
        total, parts = page_weight(site, path)
        print(f"{path} weight: {total} bytes {parts}")
        assert total <= PAGE_LIMIT
    nav = site.get("/").text
    assert 'href="/categories"' in nav and 'href="/admin"' in nav
