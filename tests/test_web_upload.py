"""The upload page over HTTP, no browser: every POST needs the login and the session's CSRF token; one file
as a raw body (what upload.js sends) lands in the library with the batch's tags and category; a refused file
answers with the server's reason and status; the plain multipart form (no JS) takes several files and lists
each outcome; URL downloads are queued jobs whose outcome /upload/job reports."""

from __future__ import annotations

import http.server
import io
import sys
import threading
import time
import zipfile
from urllib.parse import quote

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, login
from test_web_archive import csrf_of

JSON = {"Accept": "application/json"}


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    server.start()
    return server


def cbz(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("001.jpg", make_image(40, 60, text=text))
        zf.writestr("002.jpg", make_image(40, 60, text=text + " 2"))
    return buf.getvalue()


def send(server, name: str, data: bytes, csrf: str, **fields) -> object:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"name": name, **fields}.items())
    return server.post(f"/upload/file?{query}", data=data,
                       headers={**JSON, "X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"})


def test_every_upload_route_needs_login_and_csrf(site):
    assert "/login?next=%2Fupload" in site.get("/upload", allow_redirects=False).headers["Location"]
    resp = send(site, "a.cbz", cbz("a"), "")
    assert resp.status_code == 401 and "Log in" in resp.json()["error"]
    assert site.get("/upload/job?job=1").status_code == 401
    login(site)
    page = site.get("/upload")
    assert page.status_code == 200 and 'id="drop"' in page.text and '<a href="/upload">Upload</a>' in page.text
    for token in ("", "0" * 64):
        resp = send(site, "a.cbz", cbz("a"), token)
        assert resp.status_code == 403 and "expired" in resp.json()["error"]
    resp = site.post("/upload", files={"file": ("b.cbz", cbz("b"))}, data={"csrf": "x"})
    assert resp.status_code == 403
    resp = site.post("/upload/url", headers=JSON, data={"csrf": "x", "urls": "http://127.0.0.1:1/x.cbz"})
    assert resp.status_code == 403
    assert site.get("/api/archives").json() == [] and not list(site.content.iterdir())


def test_a_raw_body_upload_lands_with_the_batch_metadata(site):
    login(site)
    csrf = csrf_of(site.get("/upload").text)
    cat = site.put("/api/categories", auth=True, params={"name": "Uploads"}).json()["category_id"]
    resp = send(site, "Straw berry.cbz", cbz("s"), csrf, tags="fruit:straw, batch", category_id=cat, title="")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ok"] == 1 and body["title"] == "Straw berry" and "Straw berry" in body["message"]
    meta = site.get(f"/api/archives/{body['id']}/metadata").json()
    assert "fruit:straw" in meta["tags"] and "batch" in meta["tags"] and meta["pagecount"] == 2
    assert site.get(f"/api/categories/{cat}").json()["archives"] == [body["id"]]
    assert (site.content / "Straw berry.cbz").read_bytes() == cbz("s")


def test_refused_files_answer_with_the_servers_reason(site):
    login(site)
    csrf = csrf_of(site.get("/upload").text)
    cases = [("notes.txt", b"hello", 415, "Unsupported file extension"),
             ("broken.cbz", b"PK\x03\x04 not really a zip" * 10, 422, "isn't a readable archive"),
             ("empty.cbz", b"", 400, "empty")]
    for name, data, status, reason in cases:
        resp = send(site, name, data, csrf)
        assert resp.status_code == status and reason in resp.json()["error"], (name, resp.text)
    assert send(site, "one.cbz", cbz("one"), csrf).status_code == 200
    again = send(site, "one-again.cbz", cbz("one"), csrf)
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    assert sorted(p.name for p in site.content.iterdir()) == ["one.cbz"]


def test_the_plain_form_takes_several_files_and_lists_each_outcome(site):
    login(site)
    csrf = csrf_of(site.get("/upload").text)
    files = [("file", ("Good.cbz", cbz("good"))), ("file", ("bad.txt", b"nope")), ("file", ("Other.cbz", cbz("o")))]
    resp = site.post("/upload", files=files, data={"csrf": csrf, "tags": "via:form"})
    assert resp.status_code == 200
    assert 'class="ok"><b>Good.cbz</b>' in resp.text and 'class="ok"><b>Other.cbz</b>' in resp.text
    assert 'class="bad"><b>bad.txt</b> <span class="note">Unsupported file extension' in resp.text
    titles = {a["title"]: a["tags"] for a in site.get("/api/archives").json()}
    assert set(titles) == {"Good", "Other"} and all("via:form" in t for t in titles.values())


@pytest.fixture
def remote(tmp_path):
    """A plain HTTP server on 127.0.0.1 serving one archive (the URL download's far end)."""
    root = tmp_path / "remote"
    root.mkdir()
    make_archive(root / "Far Away.cbz", {"001.jpg": make_image(40, 60, text="far")}, "cbz")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_downloads_are_queued_and_followed(site, remote):
    site.ctx.settings.set("downloadallowlocal", 1)  # the far end is this machine
    login(site)
    csrf = csrf_of(site.get("/upload").text)
    bad = site.post("/upload/url", headers=JSON, data={"csrf": csrf, "urls": "ftp://example/x.cbz"})
    assert bad.status_code == 400 and "Not an http(s) URL" in bad.json()["error"]
    resp = site.post("/upload/url", headers=JSON,
                     data={"csrf": csrf, "urls": f"{remote}/Far%20Away.cbz\n{remote}/missing.cbz\n"})
    assert resp.status_code == 200
    jobs = resp.json()["jobs"]
    assert [j["url"] for j in jobs] == [f"{remote}/Far%20Away.cbz", f"{remote}/missing.cbz"]
    outcomes = []
    for j in jobs:
        deadline = time.monotonic() + 30
        while True:
            state = site.get(f"/upload/job?job={j['job']}").json()
            if state["state"] in ("finished", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        outcomes.append(state)
    assert outcomes[0]["ok"] == 1 and outcomes[0]["id"]
    assert outcomes[1]["ok"] == 0 and "404" in outcomes[1]["message"]
    assert [a["arcid"] for a in site.get("/api/archives").json()] == [outcomes[0]["id"]]


def test_behind_a_url_prefix_every_link_and_answer_carries_it(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    srv = make_server(config={"base_url_path": "/lrr/"}).start()
    srv.post("/lrr/login", data={"password": "kamimamita", "next": "/lrr/upload"})
    html = srv.get("/lrr/upload").text
    assert 'action="/lrr/upload"' in html and 'action="/lrr/upload/url"' in html and 'href="/lrr/upload"' in html
    resp = srv.post("/lrr/upload/file?name=P.cbz", data=cbz("p"),
                    headers={**JSON, "X-CSRF-Token": csrf_of(html)})
    assert resp.status_code == 200, resp.text
    batch = srv.get("/lrr/batch?sel=1").text
    assert 'action="/lrr/batch"' in batch
    resp = srv.post("/lrr/batch", headers=JSON, data={"csrf": csrf_of(batch), "op": "add_tags", "tags": "x",
                                                      "ids": resp.json()["id"]})
    assert resp.status_code == 200 and resp.json()["url"].startswith("/lrr/batch?job=")
