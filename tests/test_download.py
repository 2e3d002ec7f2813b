"""POST /api/download_url against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from archive_factory import make_comic


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, dict[str, str], float]] = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        body, headers, delay = self.routes.get(self.path.split("?")[0], (b"", {}, 0.0))
        if not body and not headers:
            self.send_error(404)
            return
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if delay:
            self.wfile.write(body[:10])
            self.wfile.flush()
            time.sleep(delay)
        try:
            self.wfile.write(body[10:] if delay else body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def web(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    comic = make_comic(tmp_path / "src.cbz", 3, "cbz").read_bytes()
    Handler.routes = {
        "/good": (comic, {"Content-Disposition": 'attachment; filename="Downloaded Book.cbz"'}, 0.0),
        "/noname/book.cbz": (comic[:-1] + comic[-1:], {}, 0.0),
        "/page.html": (b"<html>not an archive</html>" * 10, {"Content-Type": "text/html"}, 0.0),
        "/big": (comic + bytes(1_500_000), {"Content-Disposition": 'attachment; filename="big.cbz"'}, 0.0),
        "/slow": (comic, {"Content-Disposition": 'attachment; filename="slow.cbz"'}, 3.0),
    }
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def start(make_server):
    """A server that may download from the test's own HTTP server, which is on loopback."""
    server = make_server().start()
    server.ctx.settings.set("downloadallowlocal", 1)
    return server


def queue(server, url: str, **extra) -> dict:
    resp = server.post("/api/download_url", auth=True, params={"url": url, **extra})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["operation"] == "download_url" and body["success"] == 1 and body["url"] == url
    assert server.wait_job(body["job"], timeout=60)["state"] == "finished"
    return server.get(f"/api/minion/{body['job']}/detail", auth=True).json()["result"]


def content_files(server) -> set[str]:
    return {p.name for p in server.content.rglob("*") if p.is_file()}


def test_good_archive_then_duplicate(make_server, web):
    server = start(make_server)
    result = queue(server, web + "/good")
    assert result["success"] == 1 and result["title"] == "Downloaded Book"
    meta = server.get(f"/api/archives/{result['id']}/metadata").json()
    assert f"source:{web}/good" in meta["tags"] and meta["pagecount"] == 3
    assert content_files(server) == {"Downloaded Book.cbz"}
    again = queue(server, web.replace("http://", "https://") + "/good/")
    assert again["success"] == 0 and again["message"] == "URL already downloaded!" and again["id"] == result["id"]


def test_name_from_url_when_no_disposition(make_server, web):
    server = start(make_server)
    result = queue(server, web + "/noname/book.cbz")
    assert result["success"] == 1 and content_files(server) == {"book.cbz"}


@pytest.mark.parametrize(("path", "reason"), [("/page.html", "not an archive"), ("/big", "too large"),
                                               ("/slow", "Download"), ("/missing", "Download failed")])
def test_refused_downloads_leave_nothing_behind(make_server, web, path, reason):
    server = start(make_server)
    server.ctx.settings.set("downloadmaxsize", 1)  # MB
    server.ctx.settings.set("downloadtimeout", 1)  # s
    result = queue(server, web + path)
    assert result["success"] == 0 and reason in result["message"], result
    assert content_files(server) == set()
    assert not [p for p in server.ctx.config.temp.iterdir() if p.name.startswith("download-")]
    assert server.get("/api/archives").json() == []


def test_bad_requests(make_server):
    server = make_server().start()
    assert server.post("/api/download_url", params={"url": "http://x"}).status_code == 401
    resp = server.post("/api/download_url", auth=True)
    assert resp.status_code == 400 and resp.json()["error"] == "No URL specified."
    result = queue(server, "file:///etc/passwd")
    assert result["success"] == 0 and "http" in result["message"]
