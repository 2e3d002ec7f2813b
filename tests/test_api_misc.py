"""/api/info, auth modes, CORS, temp folder, thumbnail regeneration and Minion jobs over HTTP."""

from __future__ import annotations

import base64
import io

import pytest
from archive_factory import make_archive, make_comic
from PIL import Image

INFO_TYPES = {"archives_per_page": int, "authenticated_progress": bool, "cache_last_cleared": int,
              "debug_mode": bool, "excluded_namespaces": list, "has_password": bool, "motd": str, "name": str,
              "nofun_mode": bool, "server_resizes_images": bool, "server_tracks_progress": bool,
              "total_archives": int, "total_pages_read": int, "version": str, "version_desc": str,
              "version_name": str}


@pytest.fixture
def server(make_server):
    srv = make_server()
    make_comic(srv.content / "One.cbz", 3, "cbz")
    make_comic(srv.content / "Two.7z", 2, "7z")
    return srv.start()


def test_info_shape(server):
    resp = server.get("/api/info")
    assert resp.status_code == 200
    info = resp.json()
    assert {k: type(v) for k, v in info.items()} == INFO_TYPES
    assert info["version"] == "0.9.81" and info["total_archives"] == 2 and info["archives_per_page"] == 100
    assert info["excluded_namespaces"] == ["source", "date_added"]
    assert info["has_password"] is True and info["server_tracks_progress"] is True


def test_info_escapes_name_and_reflects_settings(server):
    server.ctx.settings.set("htmltitle", "Tom & Jerry's <lib>")
    server.ctx.settings.set("pagesize", 25)
    info = server.get("/api/info").json()
    assert info["name"] == "Tom &amp; Jerry&#39;s &lt;lib&gt;"
    assert info["archives_per_page"] == 25


def test_auth_forms(server):
    url = "/api/tempfolder"
    assert server.delete(url).status_code == 401
    body = server.delete(url).json()
    assert body["error"] == "This API is protected and requires login or an API Key."
    assert body["errors"][0]["path"] == "/security/0/api_key" and body["status"] == 401
    assert server.delete(url, auth=True).status_code == 200
    assert server.delete(url + "?key=test-key").status_code == 200
    # the raw key in the header and a wrong-case scheme do not authenticate
    assert server.delete(url, headers={"Authorization": "Bearer test-key"}).status_code == 401
    encoded = base64.b64encode(b"test-key").decode()
    assert server.delete(url, headers={"Authorization": "bearer " + encoded}).status_code == 401


def test_empty_key_never_authenticates(make_server):
    srv = make_server(api_key="").start()
    assert srv.delete("/api/tempfolder", headers={"Authorization": "Bearer "}).status_code == 401
    assert srv.delete("/api/tempfolder?key=").status_code == 401


def test_password_off_opens_everything(server):
    server.ctx.settings.set("enablepass", 0)
    assert server.delete("/api/tempfolder").status_code == 200
    assert server.get("/api/info").json()["has_password"] is False


def test_nofun_mode_closes_every_route(server):
    server.ctx.settings.set("nofunmode", 1)
    for path in ("/api/info", "/api/archives", "/api/archives/untagged"):
        resp = server.get(path)
        assert resp.status_code == 401, path
        assert resp.json()["error"] == "This API is protected and requires login or an API Key."
    assert server.get("/api/info", auth=True).json()["nofun_mode"] is True
    assert server.get("/api/archives?key=test-key").status_code == 200


def test_cors(server):
    assert "Access-Control-Allow-Origin" not in server.get("/api/info").headers
    server.ctx.settings.set("enablecors", 1)
    resp = server.get("/api/info")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST, DELETE, PUT"
    assert resp.headers["Access-Control-Allow-Headers"] == "Authorization"
    pre = server.request("OPTIONS", "/api/archives/upload")
    assert pre.status_code in (200, 204) and pre.headers["Access-Control-Allow-Origin"] == "*"


def test_tempfolder_clears_page_cache(server):
    arc = next(a for a in server.get("/api/archives").json() if a["title"] == "Two")
    pages = server.get(f"/api/archives/{arc['arcid']}/files").json()["pages"]
    assert server.get(pages[0]).status_code == 200
    assert server.ctx.cache.size() > 0
    resp = server.delete("/api/tempfolder", auth=True)
    assert resp.json() == {"operation": "cleantemp", "success": 1, "error": "", "newsize": 0}
    assert server.ctx.cache.size() == 0
    assert server.get(pages[1]).status_code == 200  # refilled on demand


def test_regen_thumbs_job(server):
    cover_dir = server.ctx.config.thumbs
    for cover in cover_dir.rglob("*.jpg"):
        cover.unlink()
    resp = server.post("/api/regen_thumbs", auth=True)
    assert resp.status_code == 200
    body = resp.json()
    assert body["operation"] == "regen_thumbnails" and body["success"] == 1
    status = server.wait_job(body["job"])
    assert status["state"] == "finished" and status["task"] == "regen_all_thumbnails"
    assert len(list(cover_dir.rglob("*.jpg"))) == 2


def test_minion_status_detail_queue(server):
    resp = server.get("/api/minion/999999")
    assert resp.status_code == 400
    assert resp.json()["error"] == "No job with this ID." and resp.json()["operation"] == "minion_job_status"
    assert server.get("/api/minion/abc").status_code == 400
    arc = server.get("/api/archives").json()[0]
    resp = server.post("/api/minion/thumbnail_task/queue", auth=True,
                       params={"args": f'["/ignored", "{arc["arcid"]}", 1]', "priority": "3"})
    assert resp.status_code == 200
    job = resp.json()["job"]
    assert resp.json() == {"operation": "queue_minion_job", "success": 1, "job": job}
    assert server.wait_job(job)["state"] == "finished"
    detail = server.get(f"/api/minion/{job}/detail", auth=True).json()
    assert detail["priority"] == "3" and detail["state"] == "finished" and detail["task"] == "thumbnail_task"
    assert server.get(f"/api/minion/{job}/detail").status_code == 401
    bad = server.post("/api/minion/thumbnail_task/queue", auth=True, params={"args": "not json"})
    assert bad.status_code == 400 and bad.json()["success"] == 0
    failing = server.post("/api/minion/thumbnail_task/queue", auth=True, params={"args": '["x", "' + "0" * 40 + '", 1]'})
    status = server.wait_job(failing.json()["job"])
    assert status["state"] == "failed"
    assert "doesn't exist" in server.get(f"/api/minion/{failing.json()['job']}/detail", auth=True).json()["result"]["error"]


def test_job_rows_survive_a_restart_honestly(server):
    db = server.ctx.db
    with db.write() as conn:
        conn.execute("INSERT INTO jobs(task, args, state, created, started) VALUES "
                     "('page_thumbnails', '[]', 'active', 1, 2)")
        stuck = conn.execute("SELECT MAX(id) FROM jobs").fetchone()[0]
    done = server.post("/api/regen_thumbs", auth=True).json()["job"]
    server.wait_job(done)
    server.restart()
    assert server.get(f"/api/minion/{done}").json()["state"] == "finished"
    status = server.get(f"/api/minion/{stuck}").json()
    assert status["state"] == "failed"
    assert "Interrupted" in server.get(f"/api/minion/{stuck}/detail", auth=True).json()["result"]["error"]


def test_files_force_queues_an_extraction_that_fills_the_cache(server):
    arc = next(a for a in server.get("/api/archives").json() if a["title"] == "Two")
    server.delete("/api/tempfolder", auth=True)
    body = server.get(f"/api/archives/{arc['arcid']}/files", params={"force": "true"}).json()
    assert len(body["pages"]) == 2 and isinstance(body["job"], int)
    status = server.wait_job(body["job"])
    assert status["state"] == "finished" and status["task"] == "extract_archive"
    assert status["notes"] == {"extracted": "2", "total_pages": "2"}  # note values are strings, as in LANraragi
    assert server.ctx.cache.size() > 0
    assert "job" not in server.get(f"/api/archives/{arc['arcid']}/files").json()


def test_find_duplicates_and_build_stat_hashes_jobs(make_server):
    srv = make_server()
    book = make_comic(srv.content / "Original.cbz", 3, "cbz")
    gradient = Image.linear_gradient("L").rotate(90).convert("RGB").resize((200, 300))  # not alike a flat page
    buf = io.BytesIO()
    gradient.save(buf, "JPEG")
    make_archive(srv.content / "Other.cbz", {"01.jpg": buf.getvalue()}, "cbz")
    raw = bytearray(book.read_bytes())
    (srv.content / "Copy with another tail.cbz").write_bytes(bytes(raw) + b"\0" * 600_000)  # same pages, new ID
    srv.start()
    ids = {a["title"]: a["arcid"] for a in srv.get("/api/archives").json()}
    assert len(ids) == 3
    job = srv.post("/api/minion/find_duplicates/queue", auth=True, params={"args": "[0]"}).json()["job"]
    assert srv.wait_job(job)["state"] == "finished"
    result = srv.get(f"/api/minion/{job}/detail", auth=True).json()["result"]
    assert result["duplicates"] == [sorted([ids["Original"], ids["Copy with another tail"]])]
    job = srv.post("/api/minion/build_stat_hashes/queue", auth=True, params={"args": "[]"}).json()["job"]
    assert srv.wait_job(job)["state"] == "finished"
    assert srv.get(f"/api/minion/{job}/detail", auth=True).json()["result"]["success"] == 1
