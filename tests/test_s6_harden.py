"""Session 6 hardening: logout is a POST with the CSRF token, "busy" is a 503, tank covers are versioned,
one guard for every management POST (each over a real server, as a client sees it)."""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
import requests
from archive_factory import make_archive, make_image
from PIL import Image
from test_web import app_with_web, csrf_of, login

from lrr_lite.errors import ImageError
from lrr_lite.http.web import session
from lrr_lite.media import memory, thumbs


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Banana"):
        make_archive(server.content / f"{name}.cbz", {f"{p:03d}.jpg": make_image(60, 90, text=name)
                                                      for p in range(1, 3)}, "cbz")
    server.start()
    server.ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    return server


# -- 1. logout: a link never acts as the user ------------------------------------------------------------------

def test_get_logout_only_shows_a_button(site):
    assert login(site).status_code == 303
    page = site.get("/logout", allow_redirects=False)
    assert page.status_code == 200
    assert 'method="post" action="/logout"' in page.text and "Log out</button>" in page.text
    assert site.get("/settings", allow_redirects=False).status_code == 200  # still logged in
    # the header's "Log out" is the same form (no link to /logout anywhere), with this session's token
    home = site.get("/").text
    assert 'href="/logout"' not in home
    assert f'name="csrf" value="{csrf_of(page.text)}"' in home


def test_logout_post_needs_the_sessions_token(site):
    login(site)
    token = csrf_of(site.get("/logout").text)
    for refused in ({}, {"csrf": ""}, {"csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
        resp = site.post("/logout", data=refused, allow_redirects=False)
        assert resp.status_code == 403, refused
        assert site.get("/settings", allow_redirects=False).status_code == 200  # session kept
    cookie = site.session.cookies.get(session.COOKIE)
    resp = site.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status_code == 303
    assert session.COOKIE not in site.session.cookies  # the browser's cookie is deleted...
    replay = site.get("/settings", allow_redirects=False, cookies={session.COOKIE: cookie})
    assert replay.status_code == 303 and "/login" in replay.headers["Location"]  # ...and dead on the server


# -- 2. "server busy" is a 503 with Retry-After, in LANraragi's error shape --------------------------------------

def noisy_jpeg(width: int, height: int) -> bytes:
    """A JPEG whose decode takes a while (noise does not compress away)."""
    buf = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def resizing(site):
    """The site with reader resizing on: a page request decodes the page (a share of the memory budget)."""
    big = noisy_jpeg(2400, 3400)
    make_archive(site.content / "Big.cbz", {"001.jpg": big, "002.jpg": big}, "cbz")
    site.rescan()
    site.ids = {a["title"]: a["arcid"] for a in site.get("/api/archives").json()}
    site.ctx.settings.set("enableresize", 1)
    site.ctx.settings.set("sizethreshold", 1)
    old = memory.budget()
    probe = memory.set_budget(1 << 30)
    thumbs.resize_for_reader(big)  # what one decode of this page holds
    site.need = probe.peak
    yield site
    memory._budget = old


def page_of(site, name: str) -> str:
    return f"/api/archives/{site.ids['Big']}/page?path={name}"


def test_busy_is_503_with_retry_after_never_400(resizing):
    budget = memory.set_budget(int(resizing.need * 1.5), wait=0.2)
    with budget.reserve(budget.total, "a decode in flight", ImageError):  # the budget is taken meanwhile
        resp = resizing.get(page_of(resizing, "001.jpg"))
    assert resp.status_code == 503, resp.headers.get("Content-Type")
    assert int(resp.headers["Retry-After"]) > 0
    body = resp.json()
    assert body["operation"] == "serve_page" and body["success"] == 0 and "server busy" in body["error"]
    assert resizing.get(page_of(resizing, "001.jpg")).status_code == 200  # free again: served


def test_two_concurrent_big_decodes_one_waits_its_turn_or_is_told_to_retry(resizing):
    memory.set_budget(int(resizing.need * 1.5), wait=0)  # room for one decode; no waiting at all
    statuses: list[int] = []
    gate = threading.Barrier(2)  # reusable: each round's two requests leave it together

    def get(name: str) -> requests.Response:
        gate.wait()
        return requests.get(resizing.url + page_of(resizing, name), timeout=30)

    for _ in range(6):  # two requests released together; their decodes overlap (most rounds)
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(get, ("001.jpg", "002.jpg")))
        for resp in replies:
            assert resp.status_code in (200, 503), resp.content[:200]  # never a 500 (nor the 400 it used to be)
            if resp.status_code == 503:
                assert resp.headers["Retry-After"] and resp.json()["success"] == 0
            statuses.append(resp.status_code)
        if 503 in statuses:
            break
    assert 503 in statuses and 200 in statuses


# -- 8. a tankoubon card's cover URL is versioned (cached for good) as an archive card's is -----------------------

def tank_cover_src(html: str, tank_id: str) -> str:
    found = re.search(rf'<a href="/tank\?id={tank_id}"><img src="([^"]+)"', html)
    assert found, html
    return unescape(found.group(1))


def test_tank_card_cover_carries_its_version(site):
    tank_id = site.put("/api/tankoubons", auth=True, params={"name": "Fruit Saga"}).json()["tankoubon_id"]
    for name in ("Banana", "Apple"):
        assert site.put(f"/api/tankoubons/{tank_id}/{site.ids[name]}", auth=True).status_code == 200
    assert site.put(f"/api/tankoubons/{tank_id}/thumbnail", auth=True).status_code == 200  # its cover file
    src = tank_cover_src(site.get("/").text, tank_id)
    assert src.startswith(f"/api/tankoubons/{tank_id}/thumbnail?v=")
    resp = site.get(src)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # a new cover (another page) is a new URL, so the long cache never shows the old one
    time.sleep(0.01)
    assert site.put(f"/api/tankoubons/{tank_id}/thumbnail", auth=True, params={"page": 2}).status_code == 200
    assert tank_cover_src(site.get("/").text, tank_id) != src
