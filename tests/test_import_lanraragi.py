"""`lrr-lite import-lanraragi` against a second, real lrr_lite process playing the old LANraragi server.

The old server (`lrr-lite serve`, a subprocess on 127.0.0.1) and this library (a live server in the test
process) hold copies of the same CBZ files; the old one also has a file this one lacks. The old server is
given reading progress, isnew, metadata, TOC, stamps, a custom cover, categories (static, dynamic, pinned, one
holding a tank), a tankoubon with member order and progress, and the bookmark link, all through its API. The
import runs as a real `python -m lrr_lite` process beside this library's live server, and every check reads
this library's API. The steps share one pair of servers and run in order: dry run, a run cut off by a dropped
connection, a run killed while it waits, the completing run, a second run with 0 changes.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from archive_factory import make_comic
from conftest import LiveServer
from test_cli_errors import ENV, start_server, stop_server

OLD_KEY = "old-server-key"


def run_import(data: Path, content: Path, url: str, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrr_lite", "import-lanraragi", "--url", url, "--key", OLD_KEY,
                           "--content", str(content), "--data", str(data), *extra],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


class Proxy:
    """Forwards GETs to the old server; where `drop(path)` is true it closes the connection without a reply,
    `hang` (a path prefix) holds the request until the proxy stops: an old server that fails midway.
    `short_list` answers /api/archives without the reading state, as older LANraragi versions list it, so
    the import asks each archive's /metadata as it goes."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.drop: Callable[[str], bool] | None = None
        self.hang: str | None = None
        self.short_list = False
        self.hanging = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if proxy.drop and proxy.drop(self.path):
                    self.close_connection = True
                    return  # no status line at all: the connection just ends
                if proxy.hang and self.path.startswith(proxy.hang):
                    proxy.hanging.set()
                    proxy.release.wait(60)
                    self.close_connection = True
                    return
                reply = requests.get(proxy.target + self.path, headers={"Authorization": self.headers.get(
                    "Authorization", "")}, timeout=30)
                body = reply.content
                if proxy.short_list and self.path == "/api/archives":
                    body = json.dumps([{k: v for k, v in a.items() if k not in ("progress", "isnew")}
                                       for a in reply.json()]).encode()
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    files = root / "files"
    for n in range(1, 7):
        make_comic(files / f"Book {n}.cbz", 4 + n % 3, "zip", size=(100 + n, 150))  # distinct bytes, distinct IDs
    old_content, old_data = root / "old" / "content", root / "old" / "data"
    old_content.mkdir(parents=True)
    for f in files.iterdir():
        shutil.copy(f, old_content / f.name)
    make_comic(old_content / "Only There.cbz", 3, "cbz", size=(99, 150))
    proc, old_url = start_server("--content", str(old_content), "--data", str(old_data), "--api-key", OLD_KEY,
                                 "--watch", "off", "--host", "127.0.0.1", cwd=root)
    local = LiveServer(root / "local")
    for f in files.iterdir():
        shutil.copy(f, local.content / f.name)
    local.start()
    old = requests.Session()
    old.headers["Authorization"] = "Bearer " + base64.b64encode(OLD_KEY.encode()).decode()
    deadline = time.monotonic() + 60
    while len(old.get(old_url + "/api/archives").json()) < 7:
        assert time.monotonic() < deadline, "the old server did not scan its 7 files"
        time.sleep(0.2)
    yield {"root": root, "old": old, "old_url": old_url, "local": local}
    local.stop()
    stop_server(proc)


def _ok(reply: requests.Response) -> dict:
    assert reply.status_code == 200, (reply.request.method, reply.request.url, reply.text)
    return reply.json()


@pytest.fixture(scope="module")
def curated(world):
    """The old server's curated state, made through its API; returns the IDs involved."""
    old, url = world["old"], world["old_url"]
    by_name = {a["filename"]: a for a in old.get(url + "/api/archives").json()}
    ids = [by_name[f"Book {n}"]["arcid"] for n in range(1, 7)]
    only_there = by_name["Only There"]["arcid"]
    a1, a2, a3, a4, a5, a6 = ids
    _ok(old.put(f"{url}/api/archives/{a1}/metadata", data={"title": "Renamed One", "tags":
                                                              "artist:someone, series:imported", "summary": "kept"}))
    _ok(old.put(f"{url}/api/archives/{a1}/progress/3"))
    _ok(old.put(f"{url}/api/archives/{a2}/progress/2"))
    _ok(old.delete(f"{url}/api/archives/{a2}/isnew"))
    _ok(old.delete(f"{url}/api/archives/{a6}/isnew"))
    _ok(old.put(f"{url}/api/archives/{a3}/toc", params={"page": 2, "title": "Chapter Two"}))
    _ok(old.put(f"{url}/api/archives/{a3}/toc", params={"page": 4, "title": "Chapter Four"}))
    _ok(old.put(f"{url}/api/archives/{a3}/stamps/2", params={"content": "look here", "position": "10,20"}))
    _ok(old.put(f"{url}/api/archives/{a3}/stamps/2", params={"content": "and here", "position": "50,50"}))
    _ok(old.put(f"{url}/api/archives/{a5}/stamps/1", params={"content": "first", "position": "0,0"}))
    _ok(old.put(f"{url}/api/archives/{a4}/thumbnail", params={"page": 3}))
    tank = _ok(old.put(f"{url}/api/tankoubons", data={"name": "The Series"}))["tankoubon_id"]
    _ok(old.put(f"{url}/api/tankoubons/{tank}", json={"archives": [a5, a1, a2, only_there],
                                                     "metadata": {"summary": "three books", "tags": "series:tank"}}))
    _ok(old.put(f"{url}/api/tankoubons/{tank}/progress/6"))
    static = _ok(old.put(f"{url}/api/categories", data={"name": "Shelf", "pinned": "1"}))["category_id"]
    time.sleep(1.05)  # category IDs are epoch seconds: the next one must not collide
    dynamic = _ok(old.put(f"{url}/api/categories", data={"name": "Artists", "search": "artist:someone",
                                                         "pinned": "1"}))["category_id"]
    time.sleep(1.05)
    plain = _ok(old.put(f"{url}/api/categories", data={"name": "Plain"}))["category_id"]
    for member in (a3, a1, only_there, tank):
        _ok(old.put(f"{url}/api/categories/{static}/{member}"))
    _ok(old.put(f"{url}/api/categories/{plain}/{a6}"))
    _ok(old.put(f"{url}/api/categories/bookmark_link/{static}"))
    return {"ids": ids, "only_there": only_there, "tank": tank, "static": static, "dynamic": dynamic,
            "plain": plain}


def _import(world, url: str | None = None, *extra: str) -> subprocess.CompletedProcess:
    local = world["local"]
    return run_import(local.data, local.content, url or world["old_url"], *extra)


def _archive(server_get, archive_id: str) -> dict:
    body = server_get(f"/api/archives/{archive_id}/metadata").json()
    return {k: body[k] for k in ("title", "tags", "summary", "isnew", "progress", "lastreadtime", "toc")}


def test_1_dry_run_prints_the_summary_and_writes_nothing(world, curated):
    local = world["local"]
    a1 = curated["ids"][0]
    before = local.get(f"/api/archives/{a1}/metadata").json()
    cats_before = local.get("/api/categories").json()
    out = _import(world, None, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would import" in out.stdout and "dry run: nothing written" in out.stdout
    assert f"missing here: {curated['only_there']}  'Only There'  file 'Only There'" in out.stdout
    changes = int(out.stdout.split(" changes")[0].rsplit("\n", 1)[-1])
    assert changes > 10
    assert local.get(f"/api/archives/{a1}/metadata").json() == before
    assert local.get("/api/categories").json() == cats_before


def test_2_a_connection_dropped_after_3_archives_stops_with_one_line_and_exit_1(world, curated):
    asked: list[str] = []

    def fourth_metadata(path: str) -> bool:
        match = re.fullmatch(r"/api/archives/([0-9a-f]{40})/metadata", path)
        if match:
            asked.append(match.group(1))
        return len(asked) == 4 and bool(match)

    proxy = Proxy(world["old_url"])
    try:
        proxy.short_list, proxy.drop = True, fourth_metadata
        out = _import(world, proxy.url)
    finally:
        proxy.close()
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("lrr-lite: ")]
    assert len(errors) == 1 and "import stopped" in errors[0] and "again" in errors[0], out.stderr
    assert "Traceback" not in out.stderr
    assert "stopped early: the connection to" in out.stdout
    # the 3 archives read before the drop were applied (with their state from /metadata), the 4th not
    local, old, url = world["local"], world["old"], world["old_url"]
    for archive_id in asked[:3]:
        assert _archive(local.get, archive_id) == _archive(lambda p: old.get(url + p), archive_id)
    a1 = curated["ids"][0]
    assert (local.get(f"/api/archives/{a1}/metadata").json()["title"] == "Renamed One") == (a1 in asked[:3])
    assert local.get("/api/tankoubons").json()["total"] == 0


def test_3_a_run_killed_while_it_waits_is_finished_by_the_next_run(world, curated):
    local = world["local"]
    a2 = curated["ids"][1]
    proxy = Proxy(world["old_url"])
    proxy.hang = "/api/categories"
    local_ = world["local"]
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "import-lanraragi", "--url", proxy.url, "--key",
                             OLD_KEY, "--content", str(local_.content), "--data", str(local_.data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proxy.hanging.wait(60), "the import never reached the categories"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proxy.close()
    assert proc.returncode == -signal.SIGKILL
    # halfway: archives and the tank are in, categories are not
    assert local.get(f"/api/archives/{a2}/metadata").json()["isnew"] == "false"
    assert local.get("/api/tankoubons").json()["total"] == 1
    assert "Shelf" not in {c["name"] for c in local.get("/api/categories").json()}
    out = _import(world)
    assert out.returncode == 0, out.stderr
    assert not any(line.startswith("0 changes") for line in out.stdout.splitlines()), out.stdout


def test_4_every_field_arrived(world, curated):
    local, old, url = world["local"], world["old"], world["old_url"]
    ids = curated["ids"]
    for archive_id in ids:
        assert _archive(local.get, archive_id) == _archive(lambda p: old.get(url + p), archive_id), archive_id
    a1, a2, a3, a4, a5, a6 = ids
    assert _archive(local.get, a1)["progress"] == 3 and _archive(local.get, a1)["lastreadtime"] > 0
    assert _archive(local.get, a2)["isnew"] == "false"
    # stamps (IDs are new here; page, text and position are the old ones)
    for archive_id, page in ((a3, 2), (a5, 1)):
        mine = {(s["content"], s["position"]) for s in local.get(f"/api/archives/{archive_id}/stamps/{page}")
                .json()["result"]}
        theirs = {(s["content"], s["position"]) for s in old.get(f"{url}/api/archives/{archive_id}/stamps/{page}")
                  .json()["result"]}
        assert mine == theirs and mine
    # the custom cover: made from page 3 here too (same page, same thumbnailer: the same JPEG)
    cover_here = local.get(f"/api/archives/{a4}/thumbnail")
    assert cover_here.headers["Content-Type"].startswith("image/jpeg")
    assert cover_here.content == old.get(f"{url}/api/archives/{a4}/thumbnail").content
    assert cover_here.content != local.get(f"/api/archives/{a4}/thumbnail", params={"page": 1}).content
    # the tank: members in order (the one missing here left out), metadata, progress
    tanks = local.get("/api/tankoubons").json()["result"]
    assert len(tanks) == 1
    tank = tanks[0]
    assert (tank["name"], tank["archives"], tank["summary"], tank["tags"], tank["progress"]) == \
        ("The Series", [a5, a1, a2], "three books", "series:tank", 6)
    # categories: static with its members (the tank mapped to ours), dynamic, pinned, the bookmark link
    cats = {c["name"]: c for c in local.get("/api/categories").json()}
    assert cats["Shelf"]["archives"] == [a3, a1, tank["id"]] and cats["Shelf"]["pinned"] == "1"
    assert cats["Artists"]["search"] == "artist:someone" and cats["Artists"]["pinned"] == "1"
    assert cats["Plain"]["archives"] == [a6] and cats["Plain"]["pinned"] == "0"
    assert local.get("/api/categories/bookmark_link").json()["category_id"] == cats["Shelf"]["id"]
    # the search cache was told: the dynamic category finds the renamed archive
    found = local.get("/api/search", params={"category": cats["Artists"]["id"], "groupby_tanks": "false"}).json()
    assert [d["arcid"] for d in found["data"]] == [a1]


def test_5_a_second_run_changes_nothing(world, curated):
    out = _import(world)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("0 changes") for line in lines), out.stdout
    archives = next(line for line in lines if line.startswith("archives"))
    assert archives.split()[1:] == ["0", "6", "1", "0"]
    assert f"missing here: {curated['only_there']}" in out.stdout
    # the plain progress lines (stderr is not a terminal)
    assert "archives 7/7" in out.stderr


def test_6_url_key_and_network_errors_are_one_line_with_an_exit_code(world, tmp_path):
    local = world["local"]

    def error(out: subprocess.CompletedProcess) -> str:
        assert "Traceback" not in out.stderr, out.stderr
        lines = [line for line in out.stderr.splitlines() if line.startswith("lrr-lite: ")]
        assert len(lines) == 1, out.stderr
        return lines[0]

    wrong = subprocess.run([sys.executable, "-m", "lrr_lite", "import-lanraragi", "--url", world["old_url"],
                            "--key", "wrong", "--content", str(local.content), "--data", str(local.data)],
                           capture_output=True, text=True, timeout=60, env=ENV)
    assert wrong.returncode == 2 and "refused the API key (401)" in error(wrong)

    class NotLrr(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = b"<html>a router's login page</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    other = ThreadingHTTPServer(("127.0.0.1", 0), NotLrr)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        out = _import(world, f"http://127.0.0.1:{other.server_address[1]}")
    finally:
        other.shutdown()
        other.server_close()
    assert out.returncode == 2 and "is this a LANraragi server?" in error(out)

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    out = _import(world, f"http://127.0.0.1:{closed}")
    assert out.returncode == 1 and "cannot reach" in error(out)

    proxy = Proxy(world["old_url"])
    proxy.hang = "/api/info"
    try:
        started = time.monotonic()
        out = _import(world, proxy.url, "--timeout", "1")
        assert time.monotonic() - started < 30
    finally:
        proxy.close()
    assert out.returncode == 1 and "did not answer /api/info within 1 s" in error(out)

    out = _import(world, "ftp://example.invalid/")
    assert out.returncode == 2 and "is not an http:// or https:// URL" in error(out)


def test_7_on_a_terminal_the_progress_is_a_bar(world, curated):
    local = world["local"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "import-lanraragi", "--url", world["old_url"],
                             "--key", OLD_KEY, "--content", str(local.content), "--data", str(local.data)],
                            stdout=subprocess.PIPE, stderr=follower, text=True, env=ENV)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    text = seen.decode()
    assert "\rarchives [" + "#" * 30 + "] 7/7" in text and "archives 1/7\n" not in text.replace("\r\n", "\n")
    assert any(line.startswith("0 changes") for line in out.splitlines())
