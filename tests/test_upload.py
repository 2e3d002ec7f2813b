"""PUT /api/archives/upload: every documented status, and nothing stored is ever lost."""

from __future__ import annotations

import hashlib

import pytest
from archive_factory import garbage_file, make_comic


@pytest.fixture
def server(make_server):
    srv = make_server()
    make_comic(srv.content / "Existing.cbz", 2, "cbz")
    return srv.start()


def upload(server, path, name=None, auth=True, **fields):
    with open(path, "rb") as fh:
        return server.put("/api/archives/upload", auth=auth,
                          files={"file": (name or path.name, fh, "application/octet-stream")}, data=fields)


def test_upload_creates_archive_with_metadata(server, tmp_path):
    src = make_comic(tmp_path / "Fresh Book.cbz", 4, "cbz")
    data = src.read_bytes()
    resp = upload(server, src, title="A Title", tags="artist:me, good", summary="nice",
                  file_checksum=hashlib.sha1(data).hexdigest())
    assert resp.status_code == 200, resp.text
    new_id = hashlib.sha1(data[:512000]).hexdigest()
    assert resp.json() == {"operation": "upload", "success": 1, "id": new_id}
    assert (server.content / "Fresh Book.cbz").read_bytes() == data
    meta = server.get(f"/api/archives/{new_id}/metadata").json()
    assert meta["title"] == "A Title" and meta["summary"] == "nice" and meta["pagecount"] == 4
    assert meta["tags"].startswith("artist:me, good,date_added:")
    # The cover is not made inside the upload request: it is a queued job, as for every import.
    assert server.ctx.jobs.wait_idle(30)
    cover = server.get(f"/api/archives/{new_id}/thumbnail", params={"no_fallback": "true"})
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"


def test_upload_needs_auth_and_a_file(server, tmp_path):
    src = make_comic(tmp_path / "x.cbz", 1, "cbz")
    assert upload(server, src, auth=False).status_code == 401
    resp = server.put("/api/archives/upload", auth=True, data={"title": "no file"})
    assert resp.status_code == 400
    assert resp.json() == {"operation": "upload", "error": "No file attached", "success": 0}


def test_upload_checksum_mismatch(server, tmp_path):
    src = make_comic(tmp_path / "x.cbz", 1, "cbz")
    actual = hashlib.sha1(src.read_bytes()).hexdigest()
    resp = upload(server, src, file_checksum="0" * 40)
    assert resp.status_code == 417
    assert resp.json()["error"] == f"Checksum mismatch: expected {'0' * 40}, got {actual}."
    # LANraragi compares case-sensitively against lowercase hex
    assert upload(server, src, file_checksum=actual.upper()).status_code == 417
    assert not (server.content / "x.cbz").exists()


def test_upload_unsupported_extension(server, tmp_path):
    src = make_comic(tmp_path / "x.cbz", 1, "cbz")
    resp = upload(server, src, name="x.tgz")
    assert resp.status_code == 415
    assert resp.json() == {"operation": "upload", "error": "Unsupported file extension (x.tgz)", "success": 0}


def test_upload_duplicates(server, tmp_path):
    existing = server.content / "Existing.cbz"
    copy = tmp_path / "Other Name.cbz"
    copy.write_bytes(existing.read_bytes())
    resp = upload(server, copy)
    assert resp.status_code == 409
    body = resp.json()
    assert body["id"] == hashlib.sha1(existing.read_bytes()[:512000]).hexdigest()
    assert body["error"].startswith("This file already exists in the Library.")
    other = make_comic(tmp_path / "Existing.cbz", 3, "cbz")
    resp = upload(server, other)
    assert resp.status_code == 409
    assert resp.json()["error"].startswith("A file with the same name is present in the Library.")
    assert len(server.get("/api/archives").json()) == 1


def test_upload_corrupt_file_is_refused_and_not_stored(server, tmp_path):
    bad = garbage_file(tmp_path / "broken.cbz")
    resp = upload(server, bad)
    assert resp.status_code == 422
    assert resp.json()["success"] == 0 and "readable archive" in resp.json()["error"]
    assert not (server.content / "broken.cbz").exists()
    assert len(server.get("/api/archives").json()) == 1


def test_upload_hostile_name_stays_in_content_folder(server, tmp_path):
    src = make_comic(tmp_path / "x.cbz", 1, "cbz")
    resp = upload(server, src, name="../../escape.cbz")
    assert resp.status_code == 200
    assert (server.content / "escape.cbz").exists()
    assert not (server.content.parent / "escape.cbz").exists()


def test_long_name_is_truncated_keeping_extension(server, tmp_path):
    src = make_comic(tmp_path / "x.cbz", 1, "cbz")
    resp = upload(server, src, name="é" * 200 + ".cbz")
    assert resp.status_code == 200
    stored = [p.name for p in server.content.iterdir() if p.name.endswith(".cbz") and p.name != "Existing.cbz"]
    assert len(stored) == 1 and len((stored[0] + ".upload").encode()) <= 255


def test_handle_upload_job_imports_staged_files_only(server, tmp_path):
    staged = make_comic(server.ctx.config.temp / "Staged Book.cbz", 3, "cbz")
    resp = server.post("/api/minion/handle_upload/queue", auth=True, params={"args": f'["{staged}", null]'})
    job = resp.json()["job"]
    assert server.wait_job(job)["state"] == "finished"
    result = server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]
    assert result["success"] == 1 and result["title"] == "Staged Book", result
    assert (server.content / "Staged Book.cbz").exists() and not staged.exists()
    assert server.get(f"/api/archives/{result['id']}/metadata").json()["pagecount"] == 3
    outside = make_comic(tmp_path / "Outside.cbz", 1, "cbz")
    resp = server.post("/api/minion/handle_upload/queue", auth=True, params={"args": f'["{outside}", null]'})
    job = resp.json()["job"]
    server.wait_job(job)
    assert server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]["success"] == 0
    assert outside.exists() and not (server.content / "Outside.cbz").exists()


def test_upload_into_a_category_and_failed_adds_are_ignored(server, tmp_path):
    static = server.put("/api/categories", auth=True, params={"name": "Shelf"}).json()["category_id"]
    dynamic = server.put("/api/categories", auth=True, params={"name": "Dyn", "search": "x"}).json()["category_id"]
    first = make_comic(tmp_path / "Shelved.cbz", 3, "cbz")
    resp = upload(server, first, category_id=static)
    assert resp.status_code == 200
    assert server.get(f"/api/categories/{static}").json()["archives"] == [resp.json()["id"]]
    for n, cat in enumerate((dynamic, "SET_0000000001"), start=4):
        other = make_comic(tmp_path / f"Loose {n}.cbz", n, "cbz")
        resp = upload(server, other, category_id=cat)
        assert resp.status_code == 200, resp.text
        assert server.get(f"/api/archives/{resp.json()['id']}/metadata").status_code == 200
