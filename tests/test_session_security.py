"""Issue 11's security items over real HTTP: no cookie-authorized state-changing GET (CSRF by a link),
revocable and rotated sessions, login throttling, and an API key that no page ever shows."""

from __future__ import annotations

import http.client
import re
import sys
import time
from urllib.parse import urlencode

import bottle
import pytest
import requests
from archive_factory import make_archive, make_image
from test_web import app_with_web, current_form, logout, parse

from lrr_lite.http.api import legacy
from lrr_lite.http.app import UNAUTHORIZED
from lrr_lite.http.web import load_static, session
from lrr_lite.http.web.throttle import FREE, LoginThrottle, client_key

KEY = "test-key"
PASSWORD = "kamimamita"

# State-changing legacy aliases that need the key (every GET alias of a modern PUT/POST/DELETE).
SECURE_WRITE_ALIASES = [path for path, method, _, _, secure in legacy.ALIASES if method != "GET" and secure]


@pytest.fixture
def srv(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    make_archive(server.content / "Keep Me.cbz", {"01.jpg": make_image(40, 60), "02.jpg": make_image(41, 60)}, "cbz")
    server.start()
    server.arcid = server.get("/api/archives").json()[0]["arcid"]
    return server


def login(server, client: requests.Session | None = None, password: str = PASSWORD) -> requests.Response:
    client = client if client is not None else server.session
    return client.post(server.url + "/login", data={"password": password, "next": "/"}, allow_redirects=False,
                       timeout=30)


def cookie_of(resp: requests.Response) -> str:
    return re.search(session.COOKIE + r"=([^;]+)", resp.headers["Set-Cookie"]).group(1)


def with_cookie(server, method: str, path: str, value: str, **kw) -> requests.Response:
    """A request carrying exactly this cookie value (a replay from anywhere), no jar involved."""
    headers = {"Cookie": f"{session.COOKIE}={value}", **kw.pop("headers", {})}
    return requests.request(method, server.url + path, headers=headers, allow_redirects=False, timeout=30, **kw)


def library_state(server) -> dict:
    """What the state-changing aliases would change, read with the key."""
    archive = server.get(f"/api/archives/{server.arcid}", auth=True).json()
    return {"archives": [a["arcid"] for a in server.get("/api/archives", auth=True).json()],
            "categories": [c["name"] for c in server.get("/api/categories", auth=True).json()],
            "isnew": archive["isnew"], "tags": archive["tags"],
            "watching": server.get("/api/shinobu", auth=True).json()["is_alive"]}


# -- 1. no state-changing GET authorized by the cookie ----------------------------------------------------------

def test_cookie_never_authorizes_a_legacy_write_by_get(srv):
    assert set(SECURE_WRITE_ALIASES) >= {"/api/drop_database", "/api/clear_new_all", "/api/clean_database",
                                         "/api/clean_temp", "/api/stop_shinobu"}
    assert srv.post("/api/shinobu/restart", auth=True).json()["success"] == 1  # a watcher for stop_shinobu to stop
    assert srv.put("/api/categories", auth=True, params={"name": "Curated"}).status_code == 200
    assert login(srv).status_code == 303
    before = library_state(srv)
    assert before["archives"] == [srv.arcid] and before["isnew"] == "true" and before["watching"] == 1
    assert "Curated" in before["categories"]
    for path in SECURE_WRITE_ALIASES:
        params = {"plugin": "regexplugin", "id": srv.arcid} if "plugin" in path else {}
        resp = srv.get(path, params=params)  # the browser's jar: the logged-in cookie goes along
        assert resp.status_code == 401, (path, resp.text)
        body = resp.json()
        assert body["error"] == UNAUTHORIZED["error"] and body["status"] == 401
        assert body["errors"] == UNAUTHORIZED["errors"] and body["success"] == 0
        assert srv.request("HEAD", path, params=params).status_code == 404  # not served for HEAD at all
        assert library_state(srv) == before, path
    # the cookie still authorizes reads, and writes by their proper methods (SameSite keeps other sites' out)
    assert srv.get("/api/shinobu_status").json()["is_alive"] == 1
    assert srv.get("/api/backup").json()["archives"][0]["arcid"] == srv.arcid
    assert srv.post("/api/clean_temp").json()["operation"] == "cleantemp"
    assert srv.delete("/api/tempfolder").json()["operation"] == "cleantemp"
    # ?key= and the Authorization header still work on the legacy GETs, cookie or not
    assert srv.get("/api/clear_new_all", params={"key": KEY}).json()["operation"] == "clear_new_all"
    assert library_state(srv)["isnew"] == "false"
    assert srv.get("/api/stop_shinobu", auth=True).json()["operation"] == "shinobu_stop"
    assert library_state(srv)["watching"] == 0
    assert srv.get("/api/drop_database", params={"key": KEY}).json()["operation"] == "drop_database"
    # gone with the database (the watcher may re-add the file itself, so test a category)
    assert "Curated" not in [c["name"] for c in srv.get("/api/categories", auth=True).json()]


def test_public_write_alias_under_no_fun_mode(srv):
    """/api/clear_new is public (like its modern twin), but in No-Fun mode a cookie GET may not clear it."""
    srv.ctx.settings.set("nofunmode", 1)
    assert login(srv).status_code == 303
    assert srv.get("/api/clear_new", params={"id": srv.arcid}).status_code == 401
    assert library_state(srv)["isnew"] == "true"
    assert srv.delete(f"/api/archives/{srv.arcid}/isnew").status_code == 200  # the cookie on a DELETE is fine
    assert srv.get("/api/clear_new", params={"id": srv.arcid, "key": KEY}).json()["operation"] == "clear_new"


def test_cross_site_browser_requests(srv):
    assert login(srv).status_code == 303
    cross = {"Sec-Fetch-Site": "cross-site"}
    # another site's page (or another port on this host: same-site) cannot write with our cookie
    for fetch_site in ("cross-site", "same-site"):
        assert srv.delete("/api/search/cache", headers={"Sec-Fetch-Site": fetch_site}).status_code == 401
    assert srv.delete("/api/search/cache", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert srv.get("/api/backup", headers=cross).status_code == 200  # a read: the response is not theirs to see
    # password protection off opens everything (SEMANTICS §1) but a link on another site still drops nothing
    srv.ctx.settings.set("enablepass", 0)
    fresh = requests.Session()
    assert fresh.get(srv.url + "/api/drop_database", headers=cross).status_code == 401
    assert library_state(srv)["archives"] == [srv.arcid]
    assert fresh.get(srv.url + "/api/clean_temp").json()["operation"] == "cleantemp"  # a script or old client


def test_every_get_api_route_is_classified(srv):
    """A GET that changes state must say so (`writes=True`) or be listed here as a known, reviewed effect:
    a new GET route fails this test until someone decides."""
    known_effects = {
        # enqueue a thumbnail job when the thumbnail is missing (a cache fill; idempotent)
        "/api/archives/<archive_id>/thumbnail", "/api/tankoubons/<tank_id>/thumbnail",
        # ?force=true enqueues an extract job; the first call stores the page list
        "/api/archives/<archive_id>/files",
        # caches pages of stream-only archives in the temp folder
        "/api/archives/<archive_id>/page",
        # sets the reading progress (OPDS page streaming, as in LANraragi)
        "/api/opds/<archive_id>/pse",
        # the first call stores the page list (like /files)
        "/api/extract", "/api/opds2/archives/<archive_id>/manifest.json",
    }
    read_only = {
        "/api/archives", "/api/archives/untagged", "/api/archives/<archive_id>", "/api/archives/<archive_id>/metadata",
        "/api/archives/<archive_id>/categories", "/api/archives/<archive_id>/tankoubons",
        "/api/archives/<archive_id>/download", "/api/archives/<archive_id>/stamps",
        "/api/archives/<archive_id>/stamps/<index>", "/api/stamps/<stamp_id>", "/api/categories",
        "/api/categories/bookmark_link", "/api/categories/<cat_id>", "/api/database/stats", "/api/database/backup",
        "/api/database/backup/<job_id>", "/api/minion/<job_id>", "/api/minion/<job_id>/detail", "/api/info",
        "/api/opds", "/api/opds/opensearch.xml", "/api/opds/<archive_id>", "/api/plugins/<plugin_type>",
        "/api/search", "/api/search/ids", "/api/search/random", "/api/shinobu", "/api/tankoubons",
        "/api/tankoubons/<tank_id>", "/api/tankoubons/<tank_id>/full", "/api/<rest:path>",
        "/api/opds2", "/api/opds2/categories", "/api/opds2/publications",
        # legacy aliases of modern GETs
        "/api/archivelist", "/api/untagged", "/api/thumbnail", "/api/servefile", "/api/page", "/api/tagstats",
        "/api/backup", "/api/shinobu_status",
    }
    app = app_with_web(srv.ctx)
    unclassified, flagged = [], set()
    for route in app.routes:
        if route.method not in ("GET", "HEAD") or not route.rule.startswith("/api"):
            continue
        if route.config.get("writes"):
            flagged.add(route.rule)
        elif route.rule not in known_effects | read_only:
            unclassified.append(route.rule)
    assert unclassified == [], "classify these GET routes (writes=True if they change state)"
    assert flagged == {path for path, method, *_ in legacy.ALIASES if method != "GET"}
    assert not flagged & read_only


# -- 2. sessions: revoked on logout, rotated on login, ended by a password change -----------------------------------

def test_logout_revokes_the_cookie_even_after_a_restart(srv):
    first = login(srv)
    kept = login(srv, requests.Session())  # another browser, which stays logged in
    old, other = cookie_of(first), cookie_of(kept)
    assert with_cookie(srv, "GET", "/settings", old).status_code == 200
    assert logout(srv).status_code == 303
    # the old cookie, replayed as is: refused by pages and by the API, at once
    assert with_cookie(srv, "GET", "/settings", old).status_code == 303
    assert with_cookie(srv, "DELETE", "/api/search/cache", old).status_code == 401
    assert with_cookie(srv, "GET", "/settings", other).status_code == 200
    srv.restart()
    assert with_cookie(srv, "GET", "/settings", old).status_code == 303  # still revoked after a restart
    assert with_cookie(srv, "DELETE", "/api/search/cache", old).status_code == 401
    assert with_cookie(srv, "GET", "/settings", other).status_code == 200  # a live session survives it
    assert with_cookie(srv, "DELETE", "/api/search/cache", other).status_code == 200


def test_login_rotates_the_session(srv):
    # a guest cookie (password protection off hands one out for the settings form's CSRF token)
    srv.ctx.settings.set("enablepass", 0)
    guest = srv.get("/settings")
    assert guest.status_code == 200
    guest_value = srv.session.cookies.get(session.COOKIE)
    srv.ctx.settings.set("enablepass", 1)
    assert with_cookie(srv, "GET", "/settings", guest_value).status_code == 303
    first = login(srv)  # sent with the guest cookie
    assert first.status_code == 303
    logged_in = cookie_of(first)
    assert logged_in.split(".")[1] != guest_value.split(".")[1]  # a new nonce, not the guest's upgraded
    assert with_cookie(srv, "GET", "/settings", guest_value).status_code == 303
    assert with_cookie(srv, "DELETE", "/api/search/cache", guest_value).status_code == 401
    assert with_cookie(srv, "GET", "/settings", logged_in).status_code == 200
    # logging in again replaces the session: the previous cookie is revoked
    second = cookie_of(login(srv))
    assert second != logged_in
    assert with_cookie(srv, "GET", "/settings", logged_in).status_code == 303
    assert with_cookie(srv, "GET", "/settings", second).status_code == 200


def test_password_change_revokes_every_session(srv):
    login(srv)
    other = cookie_of(login(srv, requests.Session()))
    form = current_form(srv)
    resp = srv.post("/settings", data={**form, "new_password": "n3w", "new_password2": "n3w"}, allow_redirects=False)
    assert resp.status_code == 303
    assert with_cookie(srv, "GET", "/settings", other).status_code == 303
    assert srv.get("/settings", allow_redirects=False).status_code == 200  # this browser got a new session
    # even with the old password back (same fingerprint), the old cookie's row is gone
    srv.ctx.settings.set("password", PASSWORD)
    assert with_cookie(srv, "GET", "/settings", other).status_code == 303


# -- 3. login throttling ---------------------------------------------------------------------------------------

def login_from(server, source: str, password: str) -> http.client.HTTPResponse:
    """A login POST whose TCP connection comes from `source` (any 127.x address reaches 127.0.0.1 on Linux)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    conn.request("POST", "/login", body=urlencode({"password": password, "next": "/"}),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.body = resp.read()
    conn.close()
    return resp


def test_login_throttle_backs_off_per_address(srv):
    for _ in range(FREE):
        started = time.monotonic()
        resp = login(srv, password="wrong")
        assert resp.status_code == 403 and "Wrong password." in resp.text
        assert time.monotonic() - started < 0.25  # a wrong guess no longer holds the thread
    barred = login(srv, password="wrong")
    assert barred.status_code == 429 and barred.headers["Retry-After"] == "1"
    assert "Too many failed attempts" in barred.text
    right = login(srv)  # the right password is refused too while barred
    assert right.status_code == 429 and "Set-Cookie" not in right.headers
    assert srv.get("/settings", allow_redirects=False).status_code == 303
    # another address is not affected
    elsewhere = login_from(srv, "127.0.0.2", PASSWORD)
    assert elsewhere.status == 303 and session.COOKIE in elsewhere.getheader("Set-Cookie")
    time.sleep(int(barred.headers["Retry-After"]) + 0.05)
    assert login(srv, password="wrong").status_code == 403  # allowed again; the bar is now 2 s
    barred = login(srv)
    assert barred.status_code == 429 and barred.headers["Retry-After"] == "2"
    time.sleep(2.05)
    assert login(srv).status_code == 303  # success resets the counter: FREE free guesses again
    for _ in range(FREE):
        assert login(srv, password="wrong").status_code == 403
    assert login(srv, password="wrong").status_code == 429


def test_throttle_schedule_and_memory_bound():
    now = [1000.0]
    throttle = LoginThrottle(free=3, cap=8, forget=100, max_addresses=50, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        wait = throttle.begin("10.0.0.1")
        while wait is not None:  # barred: wait it out, as a client honouring Retry-After would
            waits.append(wait)
            now[0] += wait
            wait = throttle.begin("10.0.0.1")
    assert waits == [1, 2, 4, 8, 8]  # 3 at once, then bars doubling up to the cap (the 8th's bar not waited)
    now[0] += 101
    assert throttle.begin("10.0.0.1") is None  # forgotten after a quiet spell
    throttle.succeeded("10.0.0.1")
    for n in range(200):
        throttle.begin(f"10.1.{n // 256}.{n % 256}")
    assert len(throttle) == 50
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key("junk") == "junk"


# -- 4. the API key is never rendered ---------------------------------------------------------------------------

def test_api_key_never_rendered_and_replaceable(srv):
    secret = "Sup3r-Secret_Key.value"
    srv.ctx.settings.set("apikey", secret)
    static = list(load_static())
    assert login(srv).status_code == 303
    bad = srv.post("/settings", data={**current_form(srv), "pagesize": "0"}, allow_redirects=False)
    assert bad.status_code == 400
    pages = [srv.get(p) for p in ("/", "/settings", "/settings?saved=1", "/login", f"/reader?id={srv.arcid}",
                                  "/nope")] + [bad] + [srv.get(f"/static/{name}") for name in static]
    for resp in pages:
        assert secret not in resp.text, resp.url
    html = srv.get("/settings").text
    assert "A key is set" in html and "until the next restart" in html  # conftest pins a key in the config
    field = next(a for t, a in parse(html).tags if t == "input" and a.get("name") == "apikey")
    assert field["value"] == "" and field["type"] == "text"
    # saving the form untouched keeps the key
    assert srv.post("/settings", data=current_form(srv), allow_redirects=False).status_code == 303
    assert srv.get("/api/clean_temp", params={"key": secret}).status_code == 200
    # replacing it
    assert srv.post("/settings", data={**current_form(srv), "apikey": " n3w-key "},
                    allow_redirects=False).status_code == 303
    assert srv.get("/api/clean_temp", params={"key": "n3w-key"}).status_code == 200
    assert requests.get(srv.url + "/api/clean_temp", params={"key": secret}, timeout=30).status_code == 401
    assert "n3w-key" not in srv.get("/settings").text
    # both at once is an error; clearing it turns the key off
    both = srv.post("/settings", data={**current_form(srv), "apikey": "x", "apikey_clear": "1"}, allow_redirects=False)
    assert both.status_code == 400 and "not both" in both.text and srv.ctx.settings.get("apikey") == "n3w-key"
    assert srv.post("/settings", data={**current_form(srv), "apikey_clear": "1"}, allow_redirects=False).status_code == 303
    assert "No key is set" in srv.get("/settings").text
    assert requests.get(srv.url + "/api/clean_temp", params={"key": "n3w-key"}, timeout=30).status_code == 401


def test_route_flag_is_one_keyword(make_server, monkeypatch):
    """Any route can opt in: `writes=True` is all it takes (what the lead applies to modern GETs)."""
    calls: list[str] = []

    def app_with_effect(ctx):
        app = app_with_web(ctx)

        @app.route("/api/test_effect", method=["GET", "HEAD", "POST"], secure=True, writes=True,
                   operation="test_effect")
        def effect() -> str:
            calls.append(bottle.request.method)
            return "{}"

        return app

    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_effect)
    server = make_server(scan=False).start()
    cookie = cookie_of(login(server))
    assert with_cookie(server, "GET", "/api/test_effect", cookie).status_code == 401
    assert with_cookie(server, "HEAD", "/api/test_effect", cookie).status_code == 401
    assert with_cookie(server, "POST", "/api/test_effect", cookie).status_code == 200
    assert server.get("/api/test_effect", params={"key": KEY}).status_code == 200
    assert server.get("/api/test_effect", auth=True).status_code == 200
    assert calls == ["POST", "GET", "GET"]
