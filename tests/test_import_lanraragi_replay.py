"""`lrr-lite import-lanraragi` against a replay of a real LANraragi 0.9.81: a small http.server on 127.0.0.1
answering each request with the reply recorded in tests/data/oracle-samples (status, content type, body as
recorded: booleans and numbers as 0.9.81 sends them, `pinned` a number). This library holds the one recorded
archive file (the download of "Oracle Chronicles 01", ID 7d91e2…); the other four recorded archives are
missing here and must be listed. The replay has no recording of the backup or the bookmark link: it answers
those 404, as an older LANraragi would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from spec_data import SAMPLES
from test_cli_errors import ENV

KEY = "replay-key"
ORACLE = "7d91e2ac8634700a06f249c7947da49f9c425e7a"
NOT_FOUND = (SAMPLES / "archive_comicinfo_toc.json").read_bytes()  # LANraragi's recorded 404 body


class Replay:
    """GET only. A path recorded more than once answers with its last recording unless `pick` names one;
    `bodies` replaces a reply outright (for a list shaped like an older version's)."""

    def __init__(self, pick: dict[str, str] | None = None, bodies: dict[str, bytes] | None = None) -> None:
        index = json.loads((SAMPLES / "index.json").read_text())
        self.recorded: dict[str, dict] = {}
        for entry in index:
            if entry["method"] == "GET" and entry.get("body_file", "").endswith(".json"):
                self.recorded[entry["path"]] = entry
        by_name = {e["name"]: e for e in index}
        for path, name in (pick or {}).items():
            self.recorded[path] = by_name[name]
        self.bodies = bodies or {}
        self.asked: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                replay.asked.append(self.path)
                status, ctype, body = replay.answer(self.path, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, authorization: str) -> tuple[int, str, bytes]:
        if path in self.bodies:
            return 200, "application/json;charset=UTF-8", self.bodies[path]
        if urlsplit(path).path == "/api/shinobu":  # the keyed endpoint: recorded with and without the key
            good = authorization == "Bearer " + base64.b64encode(KEY.encode()).decode()
            path = "/api/shinobu"
            entry = next(e for e in json.loads((SAMPLES / "index.json").read_text())
                         if e["name"] == ("shinobu_status" if good else "shinobu_status_noauth"))
        else:
            entry = self.recorded.get(path) or self.recorded.get(urlsplit(path).path)
        if entry is None:
            return 404, "application/json;charset=UTF-8", NOT_FOUND
        return entry["status"], entry["content_type"], (SAMPLES / entry["body_file"]).read_bytes()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def library(make_server):
    server = make_server(scan=False)
    shutil.copy(SAMPLES / "archive_comicinfo_download.bin", server.content / "Oracle Chronicles 01.cbz")
    server.scan_on_start = True
    return server.start()


def run_import(server, url: str, key: str = KEY, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrr_lite", "import-lanraragi", "--url", url, "--key", key,
                           "--content", str(server.content), "--data", str(server.data)],
                          capture_output=True, text=True, timeout=120, env=ENV, input=stdin)


def test_recorded_replies_import_and_the_missing_are_listed(library):
    assert library.get(f"/api/archives/{ORACLE}/metadata").status_code == 200  # the same ID from the same file
    replay = Replay()
    try:
        out = run_import(library, replay.url)
        again = run_import(library, replay.url, key="-", stdin=KEY + "\n")  # the key kept off the command line
    finally:
        replay.close()
    assert out.returncode == 0, out.stderr
    recorded = json.loads((SAMPLES / "archives.json").read_text())
    for arc in recorded:
        if arc["arcid"] != ORACLE:
            assert f"missing here: {arc['arcid']}  {arc['title']!r}  file {arc['filename']!r}" in out.stdout
    lines = out.stdout.splitlines()
    assert next(line for line in lines if line.startswith("archives")).split()[1:] == ["1", "0", "4", "0"]
    assert "no backup from the old server (GET /api/database/backup: it has none (404))" in out.stdout  # said
    # what the recording holds arrived: the list's fields on the archive, the categories of categories_after
    meta = library.get(f"/api/archives/{ORACLE}/metadata").json()
    old = next(a for a in recorded if a["arcid"] == ORACLE)
    assert (meta["title"], meta["tags"], meta["summary"], meta["progress"], meta["isnew"]) == \
        (old["title"], old["tags"], old["summary"], old["progress"], "true")
    cats = {c["name"]: c for c in library.get("/api/categories").json()}
    assert cats["Oracle Cat"]["archives"] == [ORACLE] and cats["Oracle Cat"]["pinned"] == "0"
    assert cats["Dyn Test"]["search"] == "test" and cats["Dyn Test"]["archives"] == []
    assert sum(1 for c in cats.values() if c["name"] == "🔖 Favorites") == 1  # matched, not doubled
    assert again.returncode == 0 and any(line.startswith("0 changes") for line in again.stdout.splitlines())


def test_a_list_without_reading_state_is_completed_from_each_archives_metadata(library):
    # older servers list less; the archive's own /metadata (here the recording made after the ComicInfo
    # plugin ran: a new title and tags) fills it in
    after = json.loads((SAMPLES / "archive_comicinfo_metadata_after.json").read_text())
    short = {k: after[k] for k in ("arcid", "title", "filename", "tags")}
    replay = Replay(pick={f"/api/archives/{ORACLE}/metadata": "archive_comicinfo_metadata_after"},
                    bodies={"/api/archives": json.dumps([short]).encode()})
    try:
        out = run_import(library, replay.url)
    finally:
        replay.close()
    assert out.returncode == 0, out.stderr
    assert f"/api/archives/{ORACLE}/metadata" in replay.asked
    meta = library.get(f"/api/archives/{ORACLE}/metadata").json()
    assert meta["title"] == "The Oracle Chronicles"
    assert meta["tags"] == "artist:john artist,series:oracle series,genre:action,oracle"


def test_a_wrong_key_is_the_recorded_401(library):
    replay = Replay()
    try:
        out = run_import(library, replay.url, key="not-the-key")
    finally:
        replay.close()
    assert out.returncode == 2
    assert [line for line in out.stderr.splitlines() if line.startswith("lrr-lite: ")] == \
        [f"lrr-lite: {replay.url} refused the API key (401): check --key (LANraragi's settings, 'API Key')"]


def test_a_backup_brings_the_cover_page_and_stamps_and_a_refused_stamp_is_a_listed_failure(library):
    # The recording has no backup: this one is written in 0.9.81's backup shape (SEMANTICS §13). Its
    # thumbhash is the SHA-1 of the file's page 3, i.e. a cover chosen from page 3; one stamp is on a page the
    # archive does not have.
    with zipfile.ZipFile(SAMPLES / "archive_comicinfo_download.bin") as zf:
        page3 = hashlib.sha1(zf.read("003.jpg")).hexdigest()
    backup = {"categories": [], "stamps": [
        {"stamp_id": "STAMPS_2_1795333300000", "content": "a note", "position": "5,5", "archive_id": ORACLE},
        {"stamp_id": "STAMPS_99_1795333300001", "content": "lost", "position": "0,0", "archive_id": ORACLE}],
        "archives": [{"arcid": ORACLE, "title": "Oracle Chronicles 01", "tags": "date_added:1795333180",
                      "summary": "", "thumbhash": page3, "filename": "Oracle Chronicles 01",
                      "stamps": '["STAMPS_2_1795333300000","STAMPS_99_1795333300001"]'}]}
    replay = Replay(bodies={"/api/database/backup": json.dumps(backup).encode()})
    try:
        out = run_import(library, replay.url)
        again = run_import(library, replay.url)
    finally:
        replay.close()
    assert out.returncode == 0, out.stderr
    assert f"failed: archive {ORACLE} 'Oracle Chronicles 01': stamps: Page 99 out of range." in out.stdout
    fields = next(line for line in out.stdout.splitlines() if " changes" in line)
    assert "cover 1" in fields and "stamps 1" in fields
    stamps = library.get(f"/api/archives/{ORACLE}/stamps/2").json()["result"]
    assert [(s["content"], s["position"]) for s in stamps] == [("a note", "5,5")]
    # the cover is page 3's now: the second run finds the same SHA-1 and changes nothing but retries the stamp
    fields = next(line for line in again.stdout.splitlines() if " changes" in line)
    assert fields.startswith("0 changes") and "Page 99 out of range." in again.stdout
