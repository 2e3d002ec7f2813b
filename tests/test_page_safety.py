"""Pages are served only as what they are (issue 11, item 3): a member that is not an image (HTML, SVG, an SVG
named .jpg) is a download the browser never renders on our origin, every API reply says nosniff and carries a
sandboxing CSP, and a large page is streamed whole and exact."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from archive_factory import make_image

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/api/database/drop\',{method:\'POST\'})"/>'
HTML = b"<html><script>fetch('/settings').then(r => r.text()).then(alert)</script></html>"
BIG_PNG = b"\x89PNG\r\n\x1a\n" + bytes(12 * 1024 * 1024)  # magic of a PNG and 12 MB after it: over the stream size


@pytest.fixture
def served(make_server):
    server = make_server()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in (("001.jpg", make_image(40, 50)), ("002.jpg", SVG), ("evil.html", HTML),
                           ("evil.svg", SVG), ("big.png", BIG_PNG)):
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    data = buf.getvalue()
    (server.content / "Mixed.cbz").write_bytes(data)
    server.start()
    return server, hashlib.sha1(data[:512_000]).hexdigest()


def _page(server, arcid: str, name: str, method: str = "GET"):
    return server.request(method, f"/api/archives/{arcid}/page", params={"path": name})


@pytest.mark.parametrize("name,body", [("002.jpg", SVG), ("evil.html", HTML), ("evil.svg", SVG)])
def test_a_member_that_is_not_an_image_is_a_download(served, name, body):
    server, arcid = served
    for method in ("GET", "HEAD"):
        resp = _page(server, arcid, name, method)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        if method == "GET":
            assert resp.content == body  # still fetchable, as SEMANTICS §10 wants: just never rendered


def test_an_image_is_inline_with_its_true_type(served):
    server, arcid = served
    resp = _page(server, arcid, "001.jpg")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["Content-Disposition"].startswith("inline;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.content[:2] == b"\xff\xd8"


def test_every_api_reply_is_sandboxed(served):
    server, arcid = served
    for path in ("/api/info", f"/api/archives/{arcid}/metadata", f"/api/archives/{arcid}/thumbnail",
                 "/api/nothing/here", "/api/opds"):
        resp = server.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Content-Security-Policy"] == "sandbox; default-src 'none'", path


def test_a_large_page_is_streamed_exactly(served):
    server, arcid = served
    resp = _page(server, arcid, "big.png")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert int(resp.headers["Content-Length"]) == len(BIG_PNG) and resp.content == BIG_PNG
    head = _page(server, arcid, "big.png", "HEAD")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(BIG_PNG)
    again = server.get(f"/api/archives/{arcid}/page", params={"path": "big.png"},
                       headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
