"""KOReader progress sync (kosync), tested from KOReader's side: a client written from KOReader's own plugin
(plugins/kosync.koplugin: api.json, KOSyncClient.lua, main.lua) and its document fingerprint
(frontend/util.lua `util.partialMD5`), taken over the bytes the OPDS acquisition link serves. Progress pushed by
one device moves LANraragi's progress; progress set by any LANraragi client is pulled by another device."""

from __future__ import annotations

import hashlib
import random
import re
import sqlite3

import pytest
from archive_factory import make_archive, make_comic
from lxml import etree

from lrr_lite.library import kosync
from lrr_lite.storage.db import Database

ATOM = {"a": "http://www.w3.org/2005/Atom"}
ACQUISITION = "http://opds-spec.org/acquisition"
KOREADER_ACCEPT = "application/vnd.koreader.v1+json"


def lua_lshift(value: int, count: int) -> int:
    """LuaJIT's bit.lshift: 32-bit, the shift count taken modulo 32, the result a signed 32-bit number."""
    result = (value << (count & 31)) & 0xFFFFFFFF
    return result - (1 << 32) if result & 0x80000000 else result


def partial_md5(data: bytes) -> str:
    """util.partialMD5 over a file's bytes: for i = -1..10, seek to lshift(1024, 2*i), read 1024 bytes, stop at
    the first read that gives nothing (Lua's read answers nil at the end of the file)."""
    digest = hashlib.md5()
    for i in range(-1, 11):
        offset = lua_lshift(1024, 2 * i)
        sample = data[offset:offset + 1024]
        if not sample:
            break
        digest.update(sample)
    return digest.hexdigest()


class KOReader:
    """One device running KOReader's Progress sync plugin against our server."""

    def __init__(self, server, prefix: str = "/kosync", *, user: str = "reader", password: str = "test-key",
                 device: str = "Kobo Libra 2", device_id: str = "A1") -> None:
        self.server, self.base = server, server.url + prefix
        self.user, self.userkey = user, hashlib.md5(password.encode()).hexdigest()  # main.lua: md5(password)
        self.device, self.device_id = device, device_id

    def headers(self, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": KOREADER_ACCEPT, "Content-Type": "application/json"}  # the GinClient middleware
        if auth:
            headers.update({"x-auth-user": self.user, "x-auth-key": self.userkey})  # the KOSyncAuth middleware
        return headers

    def register(self):
        return self.server.session.post(self.base + "/users/create", headers=self.headers(auth=False),
                                        json={"username": self.user, "password": self.userkey}, timeout=30)

    def authorize(self):
        return self.server.session.get(self.base + "/users/auth", headers=self.headers(), timeout=30)

    def push(self, document: str, page: int, pages: int):
        """updateProgress for a page-based document: progress = tostring(page), percentage = page / pages."""
        body = {"document": document, "progress": str(page), "percentage": round(page / pages, 4),
                "device": self.device, "device_id": self.device_id}
        return self.server.session.put(self.base + "/syncs/progress", headers=self.headers(), json=body, timeout=30)

    def pull(self, document: str):
        return self.server.session.get(self.base + f"/syncs/progress/{document}", headers=self.headers(), timeout=30)


def opds_downloads(server, query: str = "") -> dict[str, tuple[str, bytes, str]]:
    """Every archive of the OPDS feed as a reader gets it: id -> (title, the bytes its acquisition link serves,
    the file name the reply gives)."""
    feed = etree.fromstring(server.get("/api/opds" + query).content)
    found = {}
    for entry in feed.findall("a:entry", ATOM):
        archive_id = entry.findtext("a:id", namespaces=ATOM).removeprefix("urn:lrr:")
        (link,) = [x for x in entry.findall("a:link", ATOM) if x.get("rel") == ACQUISITION]
        reply = server.get(link.get("href"))
        assert reply.status_code == 200
        # KOReader's "Use server filenames" asks with HEAD for the name the file is saved under
        disposition = server.request("HEAD", link.get("href")).headers["Content-Disposition"]
        name = re.search(r"filename\*=UTF-8''([^;]+)|filename=\"([^\"]+)\"", disposition)
        found[archive_id] = (entry.findtext("a:title", namespaces=ATOM), reply.content,
                             name.group(1) or name.group(2))
    return found


def metadata(server, archive_id: str) -> dict:
    reply = server.get(f"/api/archives/{archive_id}/metadata", auth=True)
    assert reply.status_code == 200
    return reply.json()


@pytest.fixture
def library(make_server):
    server = make_server()
    make_comic(server.content / "Alpha.cbz", 5, "cbz")
    # bigger than 1 MiB: the fingerprint's samples at 1 MiB lie past the head ingest reads for the ID
    noise = random.Random(7)
    make_archive(server.content / "Beta.cbz", {f"{i:03d}.jpg": noise.randbytes(400_000) for i in range(1, 5)}, "cbz")
    make_comic(server.content / "Gamma.pdf", 6, "pdf")
    return server.start()


def by_title(downloads: dict, title: str) -> tuple[str, bytes, str]:
    ((archive_id, data, name),) = [(k, v[1], v[2]) for k, v in downloads.items() if v[0] == title]
    return archive_id, data, name


def test_progress_follows_the_reader_across_devices(library):
    downloads = opds_downloads(library)
    assert len(downloads) == 3
    kobo = KOReader(library, device="Kobo Libra 2", device_id="A1")
    phone = KOReader(library, user="someone-else", device="Android phone", device_id="B2")
    assert kobo.authorize().json() == {"authorized": "OK"}
    assert kobo.register().status_code == 201  # the Register button works with the right key too
    for title, pages in (("Alpha", 5), ("Beta", 4), ("Gamma", 6)):
        archive_id, data, name = by_title(downloads, title)
        assert len(data) > 1024 * 1024 or title != "Beta"
        document = partial_md5(data)
        assert metadata(library, archive_id)["progress"] == 0
        assert phone.pull(document).json() == {}  # never read: KOReader says "No progress found"

        # device A pushes: LANraragi's progress moves
        pushed = kobo.push(document, 3, pages)
        assert pushed.status_code == 200 and pushed.headers["Content-Type"].startswith("application/json")
        assert pushed.json()["document"] == document
        meta = metadata(library, archive_id)
        assert meta["progress"] == 3 and meta["lastreadtime"] == pushed.json()["timestamp"]

        # device B pulls device A's position
        got = phone.pull(document).json()
        assert got == {"document": document, "progress": "3", "percentage": round(3 / pages, 4),
                       "device": "Kobo Libra 2", "device_id": "A1", "timestamp": meta["lastreadtime"]}

        # a LANraragi client moves the progress (in the same second, even): device B pulls that
        assert library.put(f"/api/archives/{archive_id}/progress/{pages}", auth=True).status_code == 200
        meta = metadata(library, archive_id)
        got = phone.pull(document).json()
        assert got["progress"] == str(pages) and got["percentage"] == 1
        assert got["device"] == "lrr_lite" and got["device_id"] not in ("A1", "B2")
        assert got["timestamp"] == meta["lastreadtime"]

        # device B reads on and pushes; the "filename" method names the same archive as the "binary" one
        assert phone.push(document, 2, pages).status_code == 200
        assert metadata(library, archive_id)["progress"] == 2
        by_name = hashlib.md5(name.encode("utf-8")).hexdigest()  # KOSync:getFileNameDigest
        assert name == f"{title}.{'pdf' if title == 'Gamma' else 'cbz'}"
        got = kobo.pull(by_name).json()
        assert (got["progress"], got["device"], got["document"]) == ("2", "Android phone", by_name)
        assert kobo.push(by_name, 1, pages).status_code == 200
        assert metadata(library, archive_id)["progress"] == 1
        assert phone.pull(document).json()["device_id"] == "A1"


def test_a_page_read_through_pse_is_pulled(library):
    archive_id, data, _ = by_title(opds_downloads(library), "Alpha")
    assert library.get(f"/api/opds/{archive_id}/pse?page=4").status_code == 200
    got = KOReader(library).pull(partial_md5(data)).json()
    assert (got["progress"], got["percentage"], got["device"]) == ("4", 0.8, "lrr_lite")


def test_an_unknown_document_is_kept_as_kosync_keeps_it(library):
    kobo, phone = KOReader(library, device_id="A1"), KOReader(library, device="Phone", device_id="B2")
    document = hashlib.md5(b"a book lrr_lite does not have").hexdigest()
    assert phone.pull(document).status_code == 200 and phone.pull(document).json() == {}
    pushed = kobo.push(document, 42, 100)
    assert pushed.status_code == 200 and pushed.json()["document"] == document
    got = phone.pull(document).json()
    assert got == {"document": document, "progress": "42", "percentage": 0.42, "device": "Kobo Libra 2",
                   "device_id": "A1", "timestamp": pushed.json()["timestamp"]}
    # an XPointer, as KOReader sends for a reflowed book, comes back as it was sent
    xpointer = "/body/DocFragment[20]/body/p[22]/text().17"
    body = {"document": document, "progress": xpointer, "percentage": 0.5, "device": "Phone", "device_id": "B2"}
    assert library.session.put(kobo.base + "/syncs/progress", headers=phone.headers(), json=body).status_code == 200
    assert kobo.pull(document).json()["progress"] == xpointer
    assert all(a["progress"] == 0 for a in library.get("/api/archives").json())


def test_wrong_key_is_refused_in_kosync_shape(library):
    archive_id, data, _ = by_title(opds_downloads(library), "Alpha")
    document = partial_md5(data)
    intruder = KOReader(library, password="not-the-key")
    unauthorized = {"code": 2001, "message": "Unauthorized"}
    for reply in (intruder.authorize(), intruder.push(document, 2, 5), intruder.pull(document)):
        assert reply.status_code == 401 and reply.json() == unauthorized
    assert metadata(library, archive_id)["progress"] == 0
    # no headers at all, or the raw key instead of its MD5
    bare = library.session.get(intruder.base + "/users/auth", headers={"Accept": KOREADER_ACCEPT})
    assert bare.status_code == 401 and bare.json() == unauthorized
    raw = library.session.get(intruder.base + "/users/auth", headers={"x-auth-user": "me", "x-auth-key": "test-key"})
    assert raw.status_code == 401
    created = intruder.register()
    assert created.status_code == 402 and created.json()["code"] == 2005 and "API key" in created.json()["message"]
    assert KOReader(library).register().json() == {"username": "reader"}
    # malformed pushes: kosync's "invalid request" and "no document" errors
    good = KOReader(library)
    missing = library.session.put(good.base + "/syncs/progress", headers=good.headers(),
                                  json={"progress": "1", "percentage": 0.1, "device": "x"})
    assert missing.status_code == 403 and missing.json()["code"] == 2004
    bad = library.session.put(good.base + "/syncs/progress", headers=good.headers(),
                              json={"document": document, "progress": "1", "percentage": "lots", "device": "x"})
    assert bad.status_code == 403 and bad.json() == {"code": 2003, "message": "Invalid request"}
    assert library.get("/kosync/healthcheck").json() == {"state": "OK"}


def test_no_fun_mode_password_protection_and_client_side_progress(library):
    archive_id, data, _ = by_title(opds_downloads(library), "Alpha")
    document = partial_md5(data)
    kobo = KOReader(library)
    library.ctx.settings.set("nofunmode", 1)
    # No-Fun mode closes the API to requests without the key; KOReader's headers carry it
    assert library.get(f"/api/archives/{archive_id}/metadata").status_code == 401
    assert kobo.push(document, 2, 5).status_code == 200
    assert metadata(library, archive_id)["progress"] == 2
    assert KOReader(library, password="nope").pull(document).status_code == 401
    assert library.get("/kosync/healthcheck").status_code == 200
    library.ctx.settings.set("nofunmode", 0)

    # server-side progress off: pushes are kept for the devices, LANraragi's progress stays
    library.ctx.settings.set("localprogress", 1)
    assert kobo.push(document, 4, 5).status_code == 200
    assert metadata(library, archive_id)["progress"] == 2
    assert KOReader(library, device_id="B2").pull(document).json()["progress"] == "4"
    library.ctx.settings.set("localprogress", 0)

    # password protection off: the server is open, to KOReader as to every client
    library.ctx.settings.set("enablepass", 0)
    assert KOReader(library, user="anyone", password="anything").authorize().status_code == 200
    assert KOReader(library, password="anything").register().status_code == 201
    library.ctx.settings.set("enablepass", 1)
    library.ctx.settings.set("apikey", "")  # protection on and no key: nobody gets in
    assert KOReader(library, password="").authorize().status_code == 401
    assert kobo.authorize().status_code == 401


def test_archives_recorded_before_fingerprints_get_them_from_a_job(library):
    downloads = opds_downloads(library)
    db_path = library.data / "database.sqlite"
    library.stop()
    with sqlite3.connect(db_path) as conn:  # a library from before schema 13: no fingerprints
        conn.execute("DELETE FROM doc_hashes")
        conn.execute("DELETE FROM meta WHERE key = ?", (kosync.BACKFILL_DONE_KEY,))
    library.scan_on_start = False
    library.start()
    assert library.ctx.jobs.wait_idle(30)
    for archive_id, (_, data, name) in downloads.items():
        assert KOReader(library).push(partial_md5(data), 1, 4).status_code == 200
        assert metadata(library, archive_id)["progress"] == 1
        assert KOReader(library, device_id="B2").pull(hashlib.md5(name.encode()).hexdigest()).json()["progress"] == "1"


def test_the_backfill_runs_once_and_skips_a_file_it_cannot_read(library):
    names = {a["title"]: a["arcid"] for a in library.get("/api/archives").json()}
    library.stop()
    with sqlite3.connect(library.data / "database.sqlite") as conn:  # from before schema 13, one file gone
        conn.execute("DELETE FROM doc_hashes")
        conn.execute("UPDATE archives SET path = path || '.gone' WHERE id = ?", (names["Alpha"],))
    db = Database(library.data / "database.sqlite")
    try:
        assert kosync.missing_fingerprints(db)
        assert kosync.backfill(db) == {"fingerprinted": len(names) - 1, "failed": 1}
        assert not kosync.missing_fingerprints(db)  # the next start does not read every file again
    finally:
        db.close()


def test_changed_file_gets_its_new_fingerprint(library):
    archive_id, data, _ = by_title(opds_downloads(library), "Alpha")
    path = library.content / "Alpha.cbz"
    make_comic(path, 7, "cbz", size=(130, 170))  # new content at the same path: re-keyed
    library.rescan()
    (new_id, new_data, _), = [(k, v[1], v[2]) for k, v in opds_downloads(library).items() if v[0] == "Alpha"]
    assert new_id != archive_id and new_data != data
    kobo = KOReader(library)
    assert kobo.push(partial_md5(new_data), 6, 7).status_code == 200
    assert metadata(library, new_id)["progress"] == 6
    assert kobo.pull(partial_md5(data)).json() == {}  # the old bytes name nothing now


@pytest.mark.parametrize("setting, prefix", [("/sync/ko/", "/sync/ko"), ("/", ""), ("off", None)])
def test_the_prefix_is_configurable(make_server, setting, prefix):
    server = make_server(config={"kosync_path": setting})
    make_comic(server.content / "One.cbz", 3, "cbz")
    server.start()
    if prefix is None:
        assert server.get("/kosync/healthcheck").status_code == 404
        return
    assert server.get(prefix + "/healthcheck").json() == {"state": "OK"}
    assert KOReader(server, prefix).authorize().status_code == 200
    (archive_id, (_, data, _)), = opds_downloads(server).items()
    assert KOReader(server, prefix).push(partial_md5(data), 2, 3).status_code == 200
    assert metadata(server, archive_id)["progress"] == 2


def test_one_file_name_in_two_folders_names_no_archive(make_server):
    server = make_server()
    make_comic(server.content / "a" / "Same.cbz", 3, "cbz")
    make_comic(server.content / "b" / "Same.cbz", 4, "cbz")
    server.start()
    downloads = opds_downloads(server)
    assert len(downloads) == 2
    kobo = KOReader(server)
    by_name = hashlib.md5(b"Same.cbz").hexdigest()
    # which of the two the device holds is unknown: neither moves, the position is kept for the devices
    assert kobo.push(by_name, 2, 3).status_code == 200
    assert all(metadata(server, archive_id)["progress"] == 0 for archive_id in downloads)
    assert KOReader(server, device_id="B2").pull(by_name).json()["progress"] == "2"
    # the bytes tell them apart
    for archive_id, (_, data, _) in downloads.items():
        assert kobo.push(partial_md5(data), 3, 3).status_code == 200
        assert metadata(server, archive_id)["progress"] == 3


def test_under_a_reverse_proxy_prefix(make_server):
    server = make_server(config={"base_url_path": "/lrr"})
    make_comic(server.content / "One.cbz", 3, "cbz")
    server.start()
    (archive_id, (_, data, _)), = opds_downloads(server).items()
    for prefix in ("/lrr/kosync", "/kosync"):  # the proxy may pass the prefix on or strip it
        assert KOReader(server, prefix).push(partial_md5(data), 2, 3).status_code == 200
    assert metadata(server, archive_id)["progress"] == 2
