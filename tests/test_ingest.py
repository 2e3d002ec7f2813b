"""One way in for every archive (issue 10): uploads racing the watcher, files dropped in beside them, and the
five ways a file arrives (CLI scan, scan job, watcher, upload, download_url) giving the same record.

Everything goes through a real server on 127.0.0.1 and real files the tests make.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from lrr_lite.__main__ import main as cli_main
from lrr_lite.storage.settings import DEFAULTS

POLL_INTERVAL = 0.5


def _png(n: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (n * 37 % 256, n * 91 % 256, 120)).save(buf, "PNG")
    return buf.getvalue()


def cbz(tag: str, pages: int = 2) -> bytes:
    """A small real CBZ whose bytes (and so its ID) are unique to `tag`; members carry a fixed timestamp."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("info.txt", (2020, 1, 1, 0, 0, 0)), tag)
        for n in range(1, pages + 1):
            zf.writestr(zipfile.ZipInfo(f"{n:03d}.png", (2020, 1, 1, 0, 0, 0)), _png(n))
    return buf.getvalue()


def arc_id(data: bytes) -> str:
    return hashlib.sha1(data[:512_000]).hexdigest()


def start_watcher(server, mode: str) -> None:
    w = server.ctx.watcher
    w.requested_mode, w.requested_interval = mode, POLL_INTERVAL
    assert server.post("/api/shinobu/restart", auth=True).json()["success"] == 1
    deadline = time.monotonic() + 5
    while w.mode != mode and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.mode == mode and w.is_alive()


def upload(server, name: str, data: bytes, **fields: str):
    return server.put("/api/archives/upload", auth=True,
                      files={"file": (name, io.BytesIO(data), "application/octet-stream")}, data=fields)


def library(server) -> dict[str, dict]:
    return {a["arcid"]: a for a in server.get("/api/archives").json()}


@pytest.mark.parametrize("mode", ["inotify", "poll"])
@pytest.mark.parametrize("with_drops", [False, True], ids=["uploads", "uploads+drops"])
def test_parallel_uploads_under_the_watcher_keep_every_field(make_server, mode, with_drops):
    """40 uploads with title/tags/summary/category, 4 at a time, while the watcher runs (and, in the second
    variant, while 20 other files are dropped into the folder): every reply 200, every field kept."""
    server = make_server(scan=False).start()
    start_watcher(server, mode)
    cat = server.put("/api/categories", auth=True, params={"name": "Uploads"}).json()["category_id"]
    uploads = {f"Upload {n:02d}.cbz": cbz(f"upload {n}") for n in range(40)}
    drops = {f"Dropped {n:02d}.cbz": cbz(f"dropped {n}", pages=3) for n in range(20)} if with_drops else {}

    def send(item: tuple[str, bytes]):
        name, data = item
        n = name[7:9]
        return name, upload(server, name, data, title=f"Title {n}", tags=f"artist:a{n}, series:s{n}",
                            summary=f"Summary {n}", category_id=cat)

    def drop_all() -> None:
        for name, data in drops.items():
            tmp = server.content / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, server.content / name)
            time.sleep(0.01)

    dropper = threading.Thread(target=drop_all)
    dropper.start()
    with ThreadPoolExecutor(4) as pool:
        replies = dict(pool.map(send, uploads.items()))
    dropper.join()

    for name, resp in replies.items():
        assert resp.status_code == 200, (name, resp.status_code, resp.text)
        assert resp.json() == {"operation": "upload", "success": 1, "id": arc_id(uploads[name])}

    def check() -> dict[str, dict]:
        lib = library(server)
        for name, data in uploads.items():
            n = name[7:9]
            entry = lib[arc_id(data)]
            assert entry["title"] == f"Title {n}" and entry["summary"] == f"Summary {n}", entry
            assert entry["tags"].startswith(f"artist:a{n}, series:s{n},date_added:"), entry
            assert entry["filename"] == name[:-4] and entry["pagecount"] == 2
        return lib

    check()
    members = set(server.get(f"/api/categories/{cat}").json()["archives"])
    assert members == {arc_id(d) for d in uploads.values()}
    # Let the watcher see everything it was told about (polling: a few intervals), then look again: it must
    # neither have re-imported an upload (fields lost) nor made a second record of one.
    wanted = {arc_id(d) for d in uploads.values()} | {arc_id(d) for d in drops.values()}
    deadline = time.monotonic() + 10
    while set(library(server)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2 * POLL_INTERVAL + 1.2)
    lib = check()
    assert set(lib) == wanted
    assert len(lib) == 40 + len(drops)
    for name, data in drops.items():
        assert lib[arc_id(data)]["title"] == name[:-4] and lib[arc_id(data)]["pagecount"] == 3
    assert server.ctx.watcher.is_alive() and server.ctx.watcher.last_error is None


# -- the five ways in --------------------------------------------------------------------------------------------

NAME = "[Some Artist] A Fine Book (Fine Series) [English].cbz"
PLUGIN_TAGS = {"artist:Some Artist", "series:Fine Series", "language:English"}  # case kept, as LANraragi


class _Files(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Disposition", f'attachment; filename="{NAME}"')
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _enable_filename_plugin(server) -> None:
    resp = server.put("/api/plugins/regexplugin/enabled", auth=True, params={"value": "1"})
    assert resp.status_code == 200, resp.text


def _record(server, archive_id: str) -> dict:
    assert server.ctx.jobs.wait_idle(30)
    meta = server.get(f"/api/archives/{archive_id}/metadata").json()
    tags = {t.strip() for t in meta["tags"].split(",") if t.strip() and not t.strip().startswith("date_added:")}
    cover = server.get(f"/api/archives/{archive_id}/thumbnail", params={"no_fallback": "true"})
    return {"title": meta["title"], "filename": meta["filename"], "extension": meta["extension"],
            "pagecount": meta["pagecount"], "tags": tags, "cover": (cover.status_code, cover.headers["Content-Type"])}


def test_five_ways_in_give_the_same_record(make_server, tmp_path):
    data = cbz("the same file", pages=3)
    archive_id = arc_id(data)
    records: dict[str, dict] = {}

    # 1. `lrr-lite scan` (the CLI), then a server over the same folders shows what it recorded
    server = make_server(scan=False)
    server.start()
    _enable_filename_plugin(server)
    server.stop()
    (server.content / NAME).write_bytes(data)
    assert cli_main(["scan", "--content", str(server.content), "--data", str(server.data)]) == 0
    server.start()
    records["cli"] = _record(server, archive_id)

    # 2. the scan job
    server = make_server(scan=False).start()
    _enable_filename_plugin(server)
    (server.content / NAME).write_bytes(data)
    server.rescan()
    records["scan job"] = _record(server, archive_id)

    # 3. the watcher
    server = make_server(scan=False).start()
    _enable_filename_plugin(server)
    start_watcher(server, "inotify")
    (server.content / NAME).write_bytes(data)
    deadline = time.monotonic() + 10
    while server.get(f"/api/archives/{archive_id}/metadata").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the watcher queues covers once its burst is over
    records["watcher"] = _record(server, archive_id)

    # 4. upload, into a category
    server = make_server(scan=False).start()
    _enable_filename_plugin(server)
    cat = server.put("/api/categories", auth=True, params={"name": "In"}).json()["category_id"]
    assert upload(server, NAME, data, category_id=cat).status_code == 200
    records["upload"] = _record(server, archive_id)
    assert server.get(f"/api/categories/{cat}").json()["archives"] == [archive_id]

    # 5. download_url, into a category, from a server on 127.0.0.1
    server = make_server(scan=False).start()
    _enable_filename_plugin(server)
    if "downloadallowlocal" in DEFAULTS:  # loopback downloads are refused unless the user allows them
        server.ctx.settings.set("downloadallowlocal", 1)
    cat = server.put("/api/categories", auth=True, params={"name": "In"}).json()["category_id"]
    _Files.body = data
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/book"
        job = server.post("/api/download_url", auth=True, params={"url": url, "catid": cat}).json()["job"]
        assert server.wait_job(job)["state"] == "finished"
        result = server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]
        assert result["success"] == 1, result
    finally:
        httpd.shutdown()
    records["download_url"] = _record(server, archive_id)
    assert server.get(f"/api/categories/{cat}").json()["archives"] == [archive_id]
    records["download_url"]["tags"].discard(f"source:{url}")  # the one tag a download adds by design

    expected = {"title": "A Fine Book", "filename": NAME[:-4], "extension": "cbz", "pagecount": 3,
                "tags": PLUGIN_TAGS, "cover": (200, "image/jpeg")}
    for way, record in records.items():
        assert record == expected, (way, record)


def test_same_bytes_under_two_paths_keep_one_consistent_record(make_server):
    """The record keeps the file it has (title, filename, extension from that one file); the copy is reported
    as a duplicate in the scan job's result; when the first file goes, the record moves to the copy."""
    server = make_server(scan=False).start()
    data = cbz("twins")
    first = server.content / "First Name.cbz"
    first.write_bytes(data)
    server.rescan()
    (server.content / "sub").mkdir()
    copy = server.content / "sub" / "Other Name.zip"
    copy.write_bytes(data)
    result = server.rescan()
    assert result["duplicates"] == {str(copy): str(first)}
    meta = server.get(f"/api/archives/{arc_id(data)}/metadata").json()
    assert (meta["title"], meta["filename"], meta["extension"]) == ("First Name", "First Name", "cbz")
    assert len(library(server)) == 1
    first.unlink()
    server.rescan()
    meta = server.get(f"/api/archives/{arc_id(data)}/metadata").json()
    assert (meta["filename"], meta["extension"]) == ("Other Name", "zip")
    assert meta["title"] == "First Name"  # metadata stays with the archive; only the file moved


def test_crash_leftovers_are_removed_at_start(make_server):
    """A killed upload or restore leaves temp/upload-* and temp/restore-*.json behind; the next start removes
    them, except a restore file that a queued job still needs (that job runs after the start)."""
    server = make_server(scan=False).start()
    temp = server.ctx.config.temp
    backup = server.get("/api/database/backup", auth=True).content
    server.ctx.jobs.stop()  # keep the queued restore from running before the restart
    kept = temp / "restore-queued.json"
    kept.write_bytes(backup)
    job = server.ctx.jobs.enqueue("restore_backup", [str(kept)])
    server.stop()
    (temp / "upload-abc123").mkdir()
    (temp / "upload-abc123" / "file").write_bytes(b"partial")
    (temp / "download-xyz").mkdir()
    for n in range(4):
        (temp / f"restore-{n}.json").write_text("{}")
    server.start()
    assert not (temp / "upload-abc123").exists() and not (temp / "download-xyz").exists()
    assert not list(temp.glob("restore-[0-9].json"))
    assert server.ctx.jobs.wait_idle(30)
    done = server.ctx.jobs.get(job)
    assert done["state"] == "finished" and done["result"]["success"] == 1, done


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_a_name_that_is_not_utf8_is_imported_and_the_watcher_goes_on(make_server, mode):
    """A file named with bytes that are not UTF-8 (b'\\xff\\xfe.cbz') used to stop the watcher thread for good.
    Now it is imported like any other (its title shown with U+FFFD, its pages and download served from the
    path as it is on disk), and the 10 files dropped after it are imported too."""
    server = make_server(scan=False).start()
    start_watcher(server, mode)
    odd = cbz("odd name", pages=2)
    with open(os.path.join(os.fsencode(server.content), b"\xff\xfe Odd.cbz"), "wb") as fh:
        fh.write(odd)
    later = {f"Later {n}.cbz": cbz(f"later {n}") for n in range(10)}
    for name, data in later.items():
        (server.content / name).write_bytes(data)
    wanted = {arc_id(odd)} | {arc_id(d) for d in later.values()}
    deadline = time.monotonic() + 15
    while set(library(server)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(library(server)) == wanted
    assert server.ctx.watcher.is_alive() and server.ctx.watcher.last_error is None
    meta = server.get(f"/api/archives/{arc_id(odd)}/metadata").json()
    assert meta["title"] == "\ufffd\ufffd Odd" and meta["filename"] == "\ufffd\ufffd Odd"
    pages = server.get(f"/api/archives/{arc_id(odd)}/files").json()["pages"]
    assert len(pages) == 2
    page = server.get(pages[0])
    assert page.status_code == 200 and page.content[:8] == b"\x89PNG\r\n\x1a\n"
    download = server.get(f"/api/archives/{arc_id(odd)}/download")
    assert download.status_code == 200 and download.content == odd
    assert "filename*=UTF-8''%FF%FE%20Odd.cbz" in download.headers["Content-Disposition"]
    # a restart's scan meets the same name without failing
    assert server.rescan()["failed"] == 0


def test_control_characters_in_names_never_break_a_reply(make_server):
    """Members and files named with a newline or CR: pages and downloads answer, the header stays one line."""
    server = make_server(scan=False).start()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("new\nline.png", _png(1))
        zf.writestr("car\rriage.png", _png(2))
    data = buf.getvalue()
    (server.content / "new\nline.cbz").write_bytes(data)
    server.rescan()
    pages = server.get(f"/api/archives/{arc_id(data)}/files").json()["pages"]
    assert len(pages) == 2
    for url in pages:
        resp = server.get(url)
        assert resp.status_code == 200, resp.text
        assert "\n" not in resp.headers["Content-Disposition"] and "\r" not in resp.headers["Content-Disposition"]
    resp = server.get(f"/api/archives/{arc_id(data)}/download")
    assert resp.status_code == 200 and resp.content == data
    assert "filename*=UTF-8''new%0Aline.cbz" in resp.headers["Content-Disposition"]


def test_log_lines_escape_control_characters_in_names():
    import logging

    from lrr_lite.__main__ import _escape_controls
    from lrr_lite.library.intake.ingest import shown

    assert shown("new\nline\r.cbz") == "new\\nline\\r.cbz"
    assert shown(os.fsdecode(b"\xff.cbz")) == "\\udcff.cbz"
    assert shown("日本語 ok.cbz") == "日本語 ok.cbz"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "skipped %s: %s", ("a\nINFO forged", "why"), None)
    assert _escape_controls(record) and record.getMessage() == "skipped a\\nINFO forged: why"


def test_the_watcher_is_started_again_after_an_error_and_says_so(make_server, monkeypatch):
    """An error that escapes the watch loop (here: the first walk fails once) does not end the thread: the
    supervisor starts the loop again, /api/shinobu reports the restart and the error, and files still arrive."""
    from lrr_lite.library.intake import watcher as watcher_module

    server = make_server(scan=False).start()
    real_scan = watcher_module.scan.scan
    calls = {"n": 0}

    def failing_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("the disk went away for a moment")
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(watcher_module.scan, "scan", failing_once)
    start_watcher(server, "inotify")
    deadline = time.monotonic() + 10
    while server.ctx.watcher.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    status = server.get("/api/shinobu", auth=True).json()
    assert status["is_alive"] == 1 and status["restarts"] == 1
    assert status["last_error"] == "OSError: the disk went away for a moment"
    data = cbz("after the restart")
    deadline = time.monotonic() + 10
    while server.ctx.watcher.mode != "inotify" or calls["n"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (server.content / "After.cbz").write_bytes(data)
    while arc_id(data) not in library(server):
        assert time.monotonic() < deadline + 10, "the restarted watcher did not import the file"
        time.sleep(0.05)
