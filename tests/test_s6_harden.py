"""Session 6 hardening: logout is a POST with the CSRF token, "busy" is a 503, tank covers are versioned,
one guard for every management POST (each over a real server, as a client sees it)."""

from __future__ import annotations

import sys

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, csrf_of, login

from lrr_lite.http.web import session


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
