"""The Archive API over HTTP against a real waitress, on real archives in every format."""

from __future__ import annotations

import hashlib
import io
import json
import time

import pytest
from archive_factory import make_archive, make_comic, make_image, page_images, png_with_ihdr
from PIL import Image
from spec_data import SAMPLES

from lrr_lite.library.pages import cover_path

FORMATS = ["zip", "cbz", "epub", "7z", "cb7", "tar", "cbt", "tar.gz", "tar.zst", "zst", "xz", "lzma", "rar", "cbr", "pdf"]
ARCHIVE_KEYS = {"arcid", "extension", "filename", "isnew", "lastreadtime", "pagecount", "progress", "size",
                "summary", "tags", "title", "toc"}


@pytest.fixture
def library(make_server):
    server = make_server()
    make_comic(server.content / "Alpha.cbz", 5, "cbz")
    make_archive(server.content / "sub dir" / "Beta & Co.zip", {
        "Beta/p10.jpg": make_image(60, 80, text="10"), "Beta/p2.jpg": make_image(60, 80, text="2"),
        "Beta/p1.jpg": make_image(60, 80, text="1"), "Beta/notes.txt": b"just text",
        "Beta/sp ace+&.jpg": make_image(60, 80, text="s"), "Beta/日本.png": make_image(50, 50, "PNG")}, "zip")
    make_comic(server.content / "Gamma.7z", 4, "7z")
    make_comic(server.content / "Delta.pdf", 3, "pdf")
    server.start()
    by_title = {a["title"]: a for a in server.get("/api/archives").json()}
    return server, by_title


def test_archive_list_matches_lanraragi_shape(library):
    server, by_title = library
    resp = server.get("/api/archives")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert set(by_title) == {"Alpha", "Beta & Co", "Gamma", "Delta"}
    oracle = json.loads((SAMPLES / "archives.json").read_text())
    for arc in by_title.values():
        assert set(arc) == ARCHIVE_KEYS
        assert len(arc["arcid"]) == 40 and all(c in "0123456789abcdef" for c in arc["arcid"])
        assert arc["isnew"] == "true"
        assert arc["tags"].startswith("date_added:")
        for key in ("lastreadtime", "pagecount", "progress", "size"):
            assert isinstance(arc[key], int)
        for key, value in oracle[0].items():
            if key != "isnew":  # SEMANTICS §3 Do: emit the strings
                assert type(arc[key]) is type(value), key
    alpha = by_title["Alpha"]
    assert alpha["pagecount"] == 5 and alpha["extension"] == "cbz" and alpha["filename"] == "Alpha"
    data = (server.content / "Alpha.cbz").read_bytes()
    assert alpha["arcid"] == hashlib.sha1(data[:512000]).hexdigest()
    assert alpha["size"] == len(data)
    assert by_title["Delta"]["pagecount"] == 3 and by_title["Delta"]["extension"] == "pdf"


def test_metadata_and_untagged(library):
    server, by_title = library
    arc = by_title["Gamma"]
    for path in (f"/api/archives/{arc['arcid']}/metadata", f"/api/archives/{arc['arcid']}"):
        resp = server.get(path)
        assert resp.status_code == 200 and resp.json() == arc
    untagged = server.get("/api/archives/untagged").json()
    assert sorted(untagged) == sorted(a["arcid"] for a in by_title.values())
    server.put(f"/api/archives/{arc['arcid']}/metadata", params={"tags": "female:glasses"}, auth=True)
    assert arc["arcid"] not in server.get("/api/archives/untagged").json()


def test_unknown_and_malformed_ids(library):
    server, _ = library
    resp = server.get("/api/archives/notanid/metadata")
    assert resp.status_code == 400
    body = resp.json()
    # LANraragi's validator keys, plus the envelope keys the spec documents for its 400s
    assert body["errors"] == [{"message": "String is too short: 7/40.", "path": "/id"}] and body["status"] == 400
    assert body["operation"] == "metadata" and body["success"] == 0
    resp = server.get("/api/archives/" + "0" * 40 + "/metadata")
    assert resp.status_code == 400
    assert resp.json() == {"error": "This ID doesn&#39;t exist on the server.", "operation": "metadata",
                           "success": 0, "successMessage": ""}
    for method, suffix in (("GET", "/files"), ("GET", "/page?path=001.jpg"), ("GET", "/download")):
        resp = server.request(method, "/api/archives/" + "1" * 40 + suffix)
        assert resp.status_code in (400, 404)
        assert resp.json()["success"] == 0
    resp = server.put("/api/archives/" + "2" * 40 + "/metadata", params={"title": "x"}, auth=True)
    assert resp.status_code == 400 and "doesn&#39;t exist" in resp.json()["error"]
    resp = server.delete("/api/archives/" + "3" * 40, auth=True)
    assert resp.status_code == 200
    assert resp.json() == {"operation": "delete_archive", "id": "3" * 40, "filename": "0", "success": 0}
    assert server.get("/api/archives/" + "4" * 40 + "/categories").json() == {
        "categories": [], "operation": "find_arc_categories", "success": 1}
    assert server.get("/api/archives/" + "4" * 40 + "/tankoubons").json() == {
        "operation": "find_arc_tankoubons", "success": 1, "tankoubons": []}
    resp = server.get("/api/no/such/route")
    assert resp.status_code == 404 and resp.json()["success"] == 0


def test_page_list_urls_are_encoded_and_ordered(library):
    server, by_title = library
    arc = by_title["Beta & Co"]
    pages = server.get(f"/api/archives/{arc['arcid']}/files").json()["pages"]
    prefix = f"/api/archives/{arc['arcid']}/page?path="
    assert pages == [prefix + p for p in (
        "Beta/p1.jpg", "Beta/p2.jpg", "Beta/p10.jpg", "Beta/sp%20ace%2B%26.jpg", "Beta/%E6%97%A5%E6%9C%AC.png")]
    assert arc["pagecount"] == 5
    for url in pages:
        resp = server.get(url)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] in ("image/jpeg", "image/png")
        Image.open(io.BytesIO(resp.content)).verify()
    # a member that is not a page is still fetchable, with its own type
    resp = server.get(prefix + "Beta/notes.txt")
    assert resp.status_code == 200 and resp.content == b"just text"


def test_page_cache_headers_and_revalidation(library):
    server, by_title = library
    arc = by_title["Alpha"]
    url = f"/api/archives/{arc['arcid']}/page?path=001.jpg"
    first = server.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    again = server.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_cover_cached_for_good_only_under_its_own_version(library):
    """The web pages version cover URLs (`?v=` mtime.size); that URL names one file, so it may be cached for
    good; a stale or made-up version, or none, stays revalidated hourly (a cover can change)."""
    server, by_title = library
    arc = by_title["Alpha"]
    url = f"/api/archives/{arc['arcid']}/thumbnail"
    deadline = time.monotonic() + 20
    while (plain := server.get(url, params={"no_fallback": "true"})).status_code != 200:
        assert time.monotonic() < deadline, "cover not made"
        time.sleep(0.05)
    assert plain.headers["Cache-Control"] == "public, max-age=3600"
    st = cover_path(server.ctx.config.thumbs, arc["arcid"]).stat()
    version = f"{st.st_mtime_ns // 1_000_000:x}.{st.st_size:x}"
    assert "immutable" in server.get(url, params={"v": version}).headers["Cache-Control"]
    assert server.get(url, params={"v": "1.2"}).headers["Cache-Control"] == "public, max-age=3600"
    assert server.get(url, params={"v": version}).content == plain.content


@pytest.mark.parametrize("hostile", ["../../../../etc/passwd", "/etc/passwd", "001.jpg/../../x", "nope.jpg",
                                     "001.jpg\x00.png", "..", ""])
def test_hostile_page_paths_never_leave_the_archive(library, hostile):
    server, by_title = library
    arc = by_title["Alpha"]
    resp = server.get(f"/api/archives/{arc['arcid']}/page", params={"path": hostile})
    assert resp.status_code in (400, 404)
    body = resp.json()
    assert body["success"] == 0 and body["operation"] == "serve_page"
    assert b"root:" not in resp.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_lists_and_serves_pages(make_server, fmt):
    server = make_server()
    name = f"Book.{fmt}"
    if fmt == "pdf":
        make_comic(server.content / name, 3, "pdf")
        expected = None
    else:
        images = page_images(3, (90, 120))
        make_archive(server.content / name, {f"{i:02d}.jpg": d for i, d in enumerate(images, 1)}, fmt)
        expected = images
    server.start()
    archives = server.get("/api/archives").json()
    assert len(archives) == 1, archives
    arc = archives[0]
    assert arc["pagecount"] == 3
    pages = server.get(f"/api/archives/{arc['arcid']}/files").json()["pages"]
    assert len(pages) == 3
    for i, url in enumerate(pages):
        resp = server.get(url)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "image/jpeg"
        if expected is not None:
            assert resp.content == expected[i]
        else:
            assert Image.open(io.BytesIO(resp.content)).size[0] > 0
    cover = server.get(f"/api/archives/{arc['arcid']}/thumbnail")
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"


def test_thumbnails_cover_pages_jobs_and_placeholder(library):
    server, by_title = library
    arc_id = by_title["Alpha"]["arcid"]
    cover = server.get(f"/api/archives/{arc_id}/thumbnail")
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"
    img = Image.open(io.BytesIO(cover.content))
    assert img.format == "JPEG" and (img.size[0] == 500 or img.size[1] == 1000)
    missing = server.get("/api/archives/" + "5" * 40 + "/thumbnail")
    assert missing.status_code == 200 and missing.headers["Content-Type"] == "image/png"
    queued = server.get(f"/api/archives/{arc_id}/thumbnail", params={"page": 2, "no_fallback": "true"})
    assert queued.status_code == 202
    body = queued.json()
    assert body["operation"] == "serve_thumbnail" and body["success"] == 1 and isinstance(body["job"], int)
    status = server.wait_job(body["job"])
    assert status == {"error": "", "notes": {}, "state": "finished", "task": "thumbnail_task"}
    detail = server.get(f"/api/minion/{body['job']}/detail", auth=True).json()
    assert detail["id"] == str(body["job"]) and detail["args"][1:] == [arc_id, 2]  # a string, as LANraragi sends it
    assert detail["result"].endswith(f"{arc_id}/2.jpg")
    page2 = server.get(f"/api/archives/{arc_id}/thumbnail", params={"page": 2, "no_fallback": "true"})
    assert page2.status_code == 200 and page2.headers["Content-Type"] == "image/jpeg"
    # without no_fallback a missing page thumbnail is the placeholder
    page3 = server.get(f"/api/archives/{arc_id}/thumbnail", params={"page": 3})
    assert page3.status_code == 200 and page3.headers["Content-Type"] in ("image/png", "image/jpeg")
    resp = server.put(f"/api/archives/{arc_id}/thumbnail", params={"page": 4}, auth=True)
    assert resp.status_code == 200
    assert resp.json()["operation"] == "update_thumbnail" and resp.json()["success"] == 1
    assert server.get(f"/api/archives/{arc_id}/thumbnail").content != cover.content
    resp = server.put(f"/api/archives/{arc_id}/thumbnail", params={"page": 99}, auth=True)
    assert resp.status_code == 400 and resp.json()["success"] == 0


def test_page_thumbnail_job_and_notes(library):
    server, by_title = library
    arc_id = by_title["Gamma"]["arcid"]
    resp = server.post(f"/api/archives/{arc_id}/files/thumbnails")
    assert resp.status_code == 202
    job = resp.json()["job"]
    status = server.wait_job(job)
    assert status["state"] == "finished"
    assert status["notes"]["total_pages"] == "4"  # note values are strings, as in LANraragi
    assert all(status["notes"][str(n)] == "processed" for n in range(1, 5))
    resp = server.post(f"/api/archives/{arc_id}/files/thumbnails")
    assert resp.status_code == 200
    assert resp.json() == {"operation": "generate_page_thumbnails", "success": 1,
                           "message": "No job queued, all thumbnails already exist."}
    assert server.post(f"/api/archives/{arc_id}/files/thumbnails", params={"force": "true"}).status_code == 202


def test_metadata_update_auth_and_tag_normalisation(library):
    server, by_title = library
    arc_id = by_title["Alpha"]["arcid"]
    url = f"/api/archives/{arc_id}/metadata"
    assert server.put(url, params={"title": "x"}).status_code == 401
    assert server.put(url, params={"title": "x", "key": "wrong"}).status_code == 401
    resp = server.put(url, params={"title": "The <Oracle> & 'Co'", "tags": " artist:john , b,b, c\n ",
                                   "summary": "sum"}, auth=True)
    assert resp.status_code == 200
    assert resp.json() == {"operation": "update_metadata", "error": "", "success": 1, "status": 1,
                           "successMessage": "Updated metadata for &quot;The &lt;Oracle&gt; &amp; &#39;Co&#39;&quot;!"}
    meta = server.get(url).json()
    assert meta["title"] == "The <Oracle> & 'Co'" and meta["tags"] == "artist:john,b,c" and meta["summary"] == "sum"
    # legacy ?key= works, form bodies work, empty title keeps the old one, tags="" clears
    resp = server.put(url + "?key=test-key", data={"title": "", "tags": ""})
    assert resp.status_code == 200
    meta = server.get(url).json()
    assert meta["title"] == "The <Oracle> & 'Co'" and meta["tags"] == ""
    resp = server.put(url, params={"summary": "only"}, auth=True)
    assert resp.status_code == 400 and resp.json()["success"] == 0


def test_progress_isnew_and_toc(library):
    server, by_title = library
    arc_id = by_title["Alpha"]["arcid"]
    resp = server.put(f"/api/archives/{arc_id}/progress/3")
    assert resp.status_code == 200
    body = resp.json()
    assert body["operation"] == "update_progress" and body["page"] == 3 and body["success"] == 1
    assert isinstance(body["lastreadtime"], int) and body["lastreadtime"] > 0
    meta = server.get(f"/api/archives/{arc_id}/metadata").json()
    assert meta["progress"] == 3 and meta["lastreadtime"] == body["lastreadtime"]
    assert server.get("/api/info").json()["total_pages_read"] == 1
    for bad in ("0", "6", "-1"):
        resp = server.put(f"/api/archives/{arc_id}/progress/{bad}")
        assert resp.status_code == 400 and resp.json()["error"] == "Invalid progress value."
    assert server.put(f"/api/archives/{arc_id}/progress/abc").status_code == 400
    assert server.put(f"/api/archives/{arc_id}/progress/9", params={"force": "1"}).status_code == 200

    assert server.delete(f"/api/archives/{arc_id}/isnew").json() == {
        "id": arc_id, "operation": "clear_new", "success": 1}
    assert server.get(f"/api/archives/{arc_id}/metadata").json()["isnew"] == "false"
    assert server.put(f"/api/archives/{arc_id}/isnew").status_code == 401
    resp = server.put(f"/api/archives/{arc_id}/isnew", auth=True)
    assert resp.status_code == 200 and resp.json()["operation"] == "add_new"
    assert server.get(f"/api/archives/{arc_id}/metadata").json()["isnew"] == "true"

    resp = server.put(f"/api/archives/{arc_id}/toc", params={"page": 3, "title": "Chapter 2"}, auth=True)
    assert resp.json()["successMessage"] == "Added ToC entry for page 3."
    server.put(f"/api/archives/{arc_id}/toc", params={"page": 1, "title": "Chapter 1"}, auth=True)
    assert server.get(f"/api/archives/{arc_id}/metadata").json()["toc"] == [
        {"page": 1, "name": "Chapter 1"}, {"page": 3, "name": "Chapter 2"}]
    listed = {a["arcid"]: a["toc"] for a in server.get("/api/archives", auth=True).json()}
    assert listed[arc_id] == [{"page": 1, "name": "Chapter 1"}, {"page": 3, "name": "Chapter 2"}]
    assert all(toc == [] for other, toc in listed.items() if other != arc_id)
    assert server.put(f"/api/archives/{arc_id}/toc", params={"page": 3}, auth=True).json()["error"] == \
        "Missing page and/or title."
    resp = server.delete(f"/api/archives/{arc_id}/toc", params={"page": 3}, auth=True)
    assert resp.json()["successMessage"] == "Removed ToC entry for page 3."
    assert server.get(f"/api/archives/{arc_id}/metadata").json()["toc"] == [{"page": 1, "name": "Chapter 1"}]


def test_progress_settings(library):
    server, by_title = library
    arc_id = by_title["Alpha"]["arcid"]
    server.ctx.settings.set("authprogress", 1)
    resp = server.put(f"/api/archives/{arc_id}/progress/2")
    assert resp.status_code == 401
    assert resp.json() == {"operation": "update_progress", "success": 0,
                           "error": "This operation requires authentication."}
    assert server.put(f"/api/archives/{arc_id}/progress/2", auth=True).status_code == 200
    server.ctx.settings.set("authprogress", 0)
    server.ctx.settings.set("localprogress", 1)
    resp = server.put(f"/api/archives/{arc_id}/progress/2")
    assert resp.status_code == 400
    assert resp.json()["error"] == "Server-side Progress Tracking is disabled on this instance."
    assert server.get("/api/info").json()["server_tracks_progress"] is False


def test_download_with_range(library):
    server, by_title = library
    arc_id = by_title["Gamma"]["arcid"]
    data = (server.content / "Gamma.7z").read_bytes()
    resp = server.get(f"/api/archives/{arc_id}/download")
    assert resp.status_code == 200 and resp.content == data
    assert 'filename="Gamma.7z"' in resp.headers["Content-Disposition"]
    part = server.get(f"/api/archives/{arc_id}/download", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == data[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(data)}"
    tail = server.get(f"/api/archives/{arc_id}/download", headers={"Range": "bytes=-20"})
    assert tail.status_code == 206 and tail.content == data[-20:]
    bad = server.get(f"/api/archives/{arc_id}/download", headers={"Range": f"bytes={len(data) + 5}-"})
    assert bad.status_code == 416


def test_delete_archive_removes_file_and_record(library):
    server, by_title = library
    arc_id = by_title["Gamma"]["arcid"]
    assert server.delete(f"/api/archives/{arc_id}").status_code == 401
    resp = server.delete(f"/api/archives/{arc_id}", auth=True)
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] == 1 and body["filename"] == str(server.content / "Gamma.7z")
    assert not (server.content / "Gamma.7z").exists()
    assert arc_id not in {a["arcid"] for a in server.get("/api/archives").json()}
    assert server.get(f"/api/archives/{arc_id}/metadata").status_code == 400


def test_huge_integers_are_client_errors(library):
    server, by_title = library
    arc_id = by_title["Alpha"]["arcid"]
    huge = str(2**80)
    for method, path, params in (
            ("PUT", f"/api/archives/{arc_id}/toc", {"page": huge, "title": "x"}),
            ("DELETE", f"/api/archives/{arc_id}/toc", {"page": huge}),
            ("GET", f"/api/archives/{arc_id}/thumbnail", {"page": huge}),
            ("PUT", f"/api/archives/{arc_id}/progress/{huge}", {}),
            ("GET", f"/api/minion/{huge}", {}),
            ("GET", f"/api/minion/{huge}/detail", {}),
            ("POST", "/api/minion/find_duplicates/queue", {"args": "[0]", "priority": huge})):
        resp = server.request(method, path, params=params, auth=True)
        assert resp.status_code == 400, (method, path, resp.text)
        assert resp.json()["success"] == 0


def test_malformed_multipart_upload_is_a_client_error(library):
    server, _ = library
    body = (b'--XX\r\nContent-Disposition: form-data; name="\x16z\x00"\r\n\r\nv\r\n'
            b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.cbz"\r\n\r\nabc\r\n--XX--\r\n')
    resp = server.put("/api/archives/upload", auth=True, data=body,
                      headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert resp.status_code == 400 and resp.json()["success"] == 0


def test_hostile_pages_give_placeholders_not_errors(make_server):
    server = make_server()
    make_archive(server.content / "Hostile.cbz", {
        "01.png": png_with_ihdr(100_000, 100_000), "02.jpg": b"\xff\xd8\xff garbage not a jpeg",
        "03.jpg": make_image(50, 70)}, "cbz")
    server.start()
    arc = server.get("/api/archives").json()[0]
    assert arc["pagecount"] == 3
    cover = server.get(f"/api/archives/{arc['arcid']}/thumbnail")
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/png"  # placeholder
    for page in (1, 2):
        queued = server.get(f"/api/archives/{arc['arcid']}/thumbnail", params={"page": page, "no_fallback": "true"})
        assert queued.status_code == 202
        assert server.wait_job(queued.json()["job"])["state"] == "failed"
        detail = server.get(f"/api/minion/{queued.json()['job']}/detail", auth=True).json()
        assert "thumbnail" in detail["result"]["error"]
    # the raw bytes are still served as they are: a client may be able to show them
    raw = server.get(f"/api/archives/{arc['arcid']}/page", params={"path": "01.png"})
    assert raw.status_code == 200 and raw.headers["Content-Type"] == "image/png"
    resp = server.put(f"/api/archives/{arc['arcid']}/thumbnail", params={"page": 1}, auth=True)
    assert resp.status_code == 400 and "too large" in resp.json()["error"]
    assert server.put(f"/api/archives/{arc['arcid']}/thumbnail", params={"page": 3}, auth=True).status_code == 200


def test_corrupt_member_is_a_client_error(make_server):
    server = make_server()
    book = make_archive(server.content / "Crc.cbz", {"01.jpg": make_image(60, 60), "02.jpg": make_image(61, 61)},
                        "cbz")
    raw = bytearray(book.read_bytes())
    raw[60] ^= 0xFF  # inside the first member's data: its CRC no longer matches
    book.write_bytes(bytes(raw))
    server.start()
    arc = server.get("/api/archives").json()[0]
    resp = server.get(f"/api/archives/{arc['arcid']}/page", params={"path": "01.jpg"})
    assert resp.status_code == 400 and resp.json()["success"] == 0
    assert server.get(f"/api/archives/{arc['arcid']}/page", params={"path": "02.jpg"}).status_code == 200
