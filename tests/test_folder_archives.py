"""Folders of images as archives, end to end (issue 18): a real lrr_lite on 127.0.0.1 over a content folder
of real image files made here. Scan, ID and page order, every API path a client uses (files, page,
thumbnail, metadata, search, OPDS PSE, download with Range, delete), the watcher re-keying a folder whose
pages change and importing a folder copied page by page once, the setting that turns them off, a folder of
chapter folders, and a symlinked page that is never served."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import archive_factory as af  # noqa: E402
import webdriver  # noqa: E402
from conftest import LiveServer  # noqa: E402
from test_kosync import KOReader, by_title, opds_downloads  # noqa: E402
from test_kosync import partial_md5 as koreader_md5  # noqa: E402
from test_web import app_with_web  # noqa: E402
from webdriver import KEY_RIGHT  # noqa: E402

from lrr_lite.media.formats.names import order_pages  # noqa: E402

COMICINFO = (b"<?xml version='1.0'?><ComicInfo><Title>Folder Title From XML</Title>"
             b"<Writer>Jane Writer</Writer><Genre>Action</Genre></ComicInfo>")


def make_book(path: Path, n: int, tag: str) -> dict[str, bytes]:
    """A folder of n JPEG pages and a cover PNG, each visibly and byte-wise its own."""
    path.mkdir(parents=True)
    pages = {f"{i:03d}.jpg": af.make_image(60 + i, 80, text=f"{tag} {i}") for i in range(1, n + 1)}
    pages["cover.png"] = af.make_image(50, 70, fmt="PNG", text=f"{tag} cover")
    for name, data in pages.items():
        (path / name).write_bytes(data)
    return pages


def expected_id(pages: dict[str, bytes]) -> str:
    """The ID the README documents, computed here from the bytes: SHA-1 of b"lrr_lite folder\\0" and the
    first 512,000 bytes of the pages in page order."""
    joined = b"".join(pages[name] for name in order_pages(list(pages)))
    return hashlib.sha1(b"lrr_lite folder\0" + joined[:512_000]).hexdigest()


def archives(server: LiveServer) -> dict[str, dict]:
    return {a["arcid"]: a for a in server.get("/api/archives").json()}


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    content = root / "srv" / "content"
    content.mkdir(parents=True)
    book = make_book(content / "Book. One", 12, "book")
    (content / "Book. One" / "ComicInfo.xml").write_bytes(COMICINFO)
    (content / "Book. One" / "notes.txt").write_text("not a page")
    secret = root / "secret.jpg"
    secret.write_bytes(af.make_image(20, 20, text="secret"))
    (content / "Book. One" / "zz-link.jpg").symlink_to(secret)
    chapters = {n: make_book(content / "Series" / f"Chapter {n}", 3, f"ch{n}") for n in (1, 2)}
    (content / "Series" / "poster.jpg").write_bytes(af.make_image(30, 30, text="poster"))
    # a series folder with a cover image beside its volumes: the volume is the archive, not the folder
    (content / "Mixed").mkdir()
    (content / "Mixed" / "cover.jpg").write_bytes(af.make_image(30, 30, text="mixed"))
    vol = af.make_archive(content / "Mixed" / "Vol 1.cbz", {"01.jpg": af.make_image(30, 30, text="vol")}, "cbz")
    # a NAS's thumbnails of that volume are no book either
    (content / "Mixed" / "@eaDir" / "Vol 1.cbz").mkdir(parents=True)
    (content / "Mixed" / "@eaDir" / "Vol 1.cbz" / "SYNOFILE_THUMB_M.jpg").write_bytes(af.make_image(9, 9))
    server = LiveServer(root / "srv").start()
    server.book, server.chapters, server.secret = book, chapters, secret
    server.book_id = expected_id(book)
    server.vol_id = hashlib.sha1(Path(vol).read_bytes()[:512_000]).hexdigest()
    yield server
    server.stop()


def test_scan_finds_folder_archives_with_their_ids(lib):
    found = archives(lib)
    chapter_ids = {expected_id(pages) for pages in lib.chapters.values()}
    assert set(found) == {lib.book_id, lib.vol_id} | chapter_ids, [a["title"] for a in found.values()]  # no Series, Mixed or @eaDir archive
    book = found[lib.book_id]
    assert book["extension"] == "folder"
    assert book["title"] == "Book. One"  # the folder's whole name: a dot is no extension
    assert book["filename"] == "Book. One"
    assert book["pagecount"] == 13
    chapters = sorted(found[i]["title"] for i in chapter_ids)
    assert chapters == ["Chapter 1", "Chapter 2"]
    assert found[lib.vol_id]["extension"] == "cbz"


def test_files_and_pages_in_order_read_from_the_files(lib):
    body = lib.get(f"/api/archives/{lib.book_id}/files").json()
    names = [url.split("path=", 1)[1] for url in body["pages"]]
    assert names == ["cover.png"] + [f"{i:03d}.jpg" for i in range(1, 13)]  # no notes, no link
    for url, name in zip(body["pages"], names, strict=True):
        r = lib.get(url)
        assert r.status_code == 200 and r.content == lib.book[name], name


def test_symlinked_page_is_never_served(lib):
    for name in ("zz-link.jpg", "../secret.jpg", "notes.txt"):
        r = lib.get(f"/api/archives/{lib.book_id}/page", params={"path": name})
        assert r.status_code in (400, 404), name
        assert lib.secret.read_bytes() not in r.content


def test_metadata_search_and_thumbnail(lib):
    meta = lib.get(f"/api/archives/{lib.book_id}/metadata").json()
    assert meta["arcid"] == lib.book_id and meta["extension"] == "folder" and meta["pagecount"] == 13
    assert meta["size"] == sum(len(v) for v in lib.book.values())
    hits = lib.get("/api/search", params={"filter": "Book. One"}).json()["data"]
    assert [h["arcid"] for h in hits] == [lib.book_id]
    r = lib.get(f"/api/archives/{lib.book_id}/thumbnail", params={"no_fallback": "true"})
    if r.status_code == 202:
        assert lib.wait_job(r.json()["job"])["state"] == "finished"
        r = lib.get(f"/api/archives/{lib.book_id}/thumbnail")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"


def test_comicinfo_in_the_folder_is_read_by_the_plugin(lib):
    r = lib.post("/api/plugins/use", params={"plugin": "comicinfo", "id": lib.book_id}, auth=True)
    body = r.json()
    assert body["success"] == 1, body
    assert body["data"]["title"] == "Folder Title From XML"
    assert "group:Jane Writer" in body["data"]["new_tags"] and "Action" in body["data"]["new_tags"]


def test_opds_pse_serves_the_pages(lib):
    for n, name in enumerate(["cover.png", "001.jpg", "012.jpg"]):
        page = 0 if n == 0 else int(name[:3])
        r = lib.get(f"/api/opds/{lib.book_id}/pse", params={"page": page + 1})
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/")
        assert r.content == lib.get(f"/api/archives/{lib.book_id}/page", params={"path": name}).content
    entry = lib.get(f"/api/opds/{lib.book_id}").text
    assert "application/vnd.comicbook+zip" in entry  # its download is a ZIP


def test_download_is_a_stable_zip_with_ranges(lib, tmp_path):
    url = f"/api/archives/{lib.book_id}/download"
    first, second = lib.get(url), lib.get(url)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/zip"
    assert first.headers["Accept-Ranges"] == "bytes"
    assert int(first.headers["Content-Length"]) == len(first.content)
    assert 'filename="Book. One.cbz"' in first.headers["Content-Disposition"]
    assert first.content == second.content  # byte-stable across requests
    with zipfile.ZipFile(io.BytesIO(first.content)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == order_pages(list(lib.book))
        assert all(zf.read(name) == data for name, data in lib.book.items())
    head = lib.request("HEAD", url)
    assert head.status_code == 200 and head.headers["Content-Length"] == first.headers["Content-Length"]
    size = len(first.content)
    for lo, hi in ((0, 99), (1000, 5000), (size - 300, size - 1)):
        r = lib.get(url, headers={"Range": f"bytes={lo}-{hi}"})
        assert r.status_code == 206
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{size}"
        assert r.content == first.content[lo:hi + 1]
    assert lib.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    bsdtar = shutil.which("bsdtar")
    if bsdtar:  # only this assertion needs the tool
        saved = tmp_path / "book.cbz"
        saved.write_bytes(first.content)
        listed = subprocess.run([bsdtar, "-tf", str(saved)], capture_output=True, text=True, check=True)
        assert listed.stdout.split("\n")[:-1] == order_pages(list(lib.book))


def test_delete_removes_only_the_folders_own_files(make_server):
    server = make_server()
    kept = make_book(server.content / "Kept Notes", 2, "kept")
    (server.content / "Kept Notes" / "ComicInfo.xml").write_bytes(COMICINFO)
    (server.content / "Kept Notes" / "readme.txt").write_text("mine")
    gone = make_book(server.content / "Only Pages", 2, "gone")
    server.start()
    kept_id, gone_id = expected_id(kept), expected_id(gone)
    assert set(archives(server)) == {kept_id, gone_id}
    for archive_id in (kept_id, gone_id):
        body = server.delete(f"/api/archives/{archive_id}", auth=True).json()
        assert body["success"] == 1 and body["id"] == archive_id
    assert sorted(os.listdir(server.content / "Kept Notes")) == ["readme.txt"]
    assert not (server.content / "Only Pages").exists()
    assert archives(server) == {}
    assert server.rescan()["added"] == 0


def test_setting_off_folders_are_no_archives(make_server):
    server = make_server()
    pages = make_book(server.content / "A Book", 3, "off")
    server.start()
    assert list(archives(server)) == [expected_id(pages)]
    server.stop()
    server.extra_config = {"folder_archives": False}
    server.start()
    server.rescan()
    assert archives(server) == {}  # forgotten like a removed file
    server.stop()
    server.extra_config = {}
    server.start()
    server.rescan()
    assert list(archives(server)) == [expected_id(pages)]


def _watched(make_server, mode: str) -> LiveServer:
    server = make_server().start()
    w = server.ctx.watcher
    w.requested_mode, w.requested_interval = mode, 0.5
    assert server.post("/api/shinobu/restart", auth=True).json()["success"] == 1
    deadline = time.monotonic() + 5
    while w.mode != mode and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.mode == mode
    time.sleep(0.2)
    return server


def _wait(server: LiveServer, check, what: str, limit: float = 8.0) -> dict[str, dict]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = archives(server)
        if check(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not seen within {limit}s; library={archives(server)}")


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_watcher_rekeys_a_folder_whose_pages_change(make_server, mode):
    server = _watched(make_server, mode)
    try:
        pages = make_book(server.content / "Watched", 3, f"w{mode}")
        old_id = expected_id(pages)
        _wait(server, lambda lib: old_id in lib, "new folder")
        assert server.put(f"/api/archives/{old_id}/metadata", auth=True,
                          data={"tags": "series:kept"}).status_code == 200
        pages["000.jpg"] = af.make_image(70, 70, text="new first page")
        (server.content / "Watched" / "000.jpg").write_bytes(pages["000.jpg"])
        new_id = expected_id(pages)
        found = _wait(server, lambda lib: new_id in lib and old_id not in lib, "page added")
        assert found[new_id]["pagecount"] == 5 and "series:kept" in found[new_id]["tags"]
        (server.content / "Watched" / "000.jpg").unlink()
        _wait(server, lambda lib: old_id in lib and new_id not in lib, "page removed")
        shutil.rmtree(server.content / "Watched")
        _wait(server, lambda lib: not lib, "folder removed")
    finally:
        server.ctx.watcher.stop()


def test_folder_copied_page_by_page_becomes_one_archive(make_server):
    server = _watched(make_server, "inotify")
    try:
        source = server.content.parent / "source"
        pages = make_book(source, 8, "copy")
        old = time.time() - 3600
        dest = server.content / "Copied In"
        dest.mkdir()
        seen: set[str] = set()
        for name in sorted(pages):
            shutil.copyfile(source / name, dest / name)
            os.utime(dest / name, (old, old))  # as cp -p or rsync leave them: an hour old already
            time.sleep(0.3)  # each pause shorter than the settle time
            seen.update(archives(server))
        assert not seen, "a folder still being copied was imported"
        want = expected_id(pages)
        found = _wait(server, lambda lib: want in lib, "copied folder")
        assert list(found) == [want] and found[want]["pagecount"] == 9
        assert server.ctx.db.query("SELECT * FROM bad_files") == []
    finally:
        server.ctx.watcher.stop()


def test_thumbnails_kept_inside_the_content_folder_are_no_archive(make_server):
    server = make_server()
    server.extra_config = {"thumbs": str(server.content / "thumbs")}  # a data folder kept inside content
    pages = make_book(server.content / "Book", 2, "thumbs")
    server.start()
    book_id = expected_id(pages)
    assert list(archives(server)) == [book_id]
    r = server.get(f"/api/archives/{book_id}/thumbnail", params={"no_fallback": "true"})
    if r.status_code == 202:
        assert server.wait_job(r.json()["job"])["state"] == "finished"
    assert any((server.content / "thumbs").rglob("*.jpg"))  # the cover is there, a folder of JPEGs
    server.rescan()
    assert list(archives(server)) == [book_id]


def test_web_archive_and_reader_pages_show_a_folder(lib):
    for url in (f"/archive?id={lib.book_id}", f"/reader?id={lib.book_id}"):
        r = lib.get(url)
        assert r.status_code == 200, url
        assert "Book. One" in r.text, url
    reader = lib.get(f"/reader?id={lib.book_id}").text
    assert f"/api/archives/{lib.book_id}/download" in reader  # without JS: the ZIP to read elsewhere


@pytest.fixture(scope="module")
def browser():
    yield from webdriver.module_browser(1000, 800)


def _shown(browser, n: str) -> bool:
    """Page n is the one shown and its image has loaded."""
    return browser.script("var i=document.getElementById('page');"
                          "return document.body.dataset.shown === arguments[0] && i.complete && i.naturalWidth > 0", n)


def test_reader_in_chromium_turns_the_pages_of_a_folder(make_server, monkeypatch, browser, tmp_path):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    pages = make_book(server.content / "Read Me", 3, "reader")
    server.start()
    browser.get(f"{server.url}/reader?id={expected_id(pages)}")
    browser.script("localStorage.clear()")
    browser.wait(lambda: _shown(browser, "1"), message="first page shown")
    assert browser.script("return document.getElementById('page').naturalWidth") == 50  # cover.png
    browser.screenshot(tmp_path / "folder-reader-1.png")
    browser.keys(KEY_RIGHT)
    browser.wait(lambda: _shown(browser, "2"), message="second page shown")
    assert browser.script("return document.getElementById('page').naturalWidth") == 61  # 001.jpg
    browser.screenshot(tmp_path / "folder-reader-2.png")
    webdriver.keep_shots(tmp_path, "READER_SHOTS")


def test_koreader_progress_sync_knows_the_downloaded_zip(make_server):
    server = make_server()
    pages = make_book(server.content / "Synced", 4, "sync")
    server.start()
    downloads = opds_downloads(server)
    archive_id, data, name = by_title(downloads, "Synced")
    assert archive_id == expected_id(pages) and name == "Synced.cbz"
    kobo = KOReader(server)
    assert kobo.register().status_code == 201
    assert kobo.push(koreader_md5(data), 3, 5).status_code == 200  # KOReader's "binary" document hash
    assert server.get(f"/api/archives/{archive_id}/metadata").json()["progress"] == 3
    by_name = hashlib.md5(name.encode("utf-8")).hexdigest()  # its "filename" hash
    assert kobo.push(by_name, 2, 5).status_code == 200
    assert server.get(f"/api/archives/{archive_id}/metadata").json()["progress"] == 2
