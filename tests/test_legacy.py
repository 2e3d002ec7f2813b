"""The 0.6/0.7-era paths (SEMANTICS §19) in their old shapes, with `?key=` auth."""

from __future__ import annotations

import pytest
from archive_factory import make_archive, make_image


@pytest.fixture
def server(make_server):
    srv = make_server()
    make_archive(srv.content / "Old Client.cbz", {"a b/01.jpg": make_image(40, 60), "a b/02.jpg": make_image(41, 60)},
                 "cbz")
    srv.start()
    return srv, srv.get("/api/archives").json()[0]["arcid"]


def test_archivelist_and_untagged(server):
    srv, arc_id = server
    listing = srv.get("/api/archivelist").json()
    assert [a["arcid"] for a in listing] == [arc_id]
    assert {"arcid", "title", "tags", "isnew"} <= set(listing[0]) and listing[0]["isnew"] == "true"
    assert srv.get("/api/untagged").json() == [arc_id]


def test_extract_and_page(server):
    srv, arc_id = server
    body = srv.get("/api/extract", params={"id": arc_id}).json()
    assert body == {"pages": [f"./api/page?id={arc_id}&path=a%20b/01.jpg", f"./api/page?id={arc_id}&path=a%20b/02.jpg"]}
    page = srv.get(body["pages"][1].lstrip("."))
    assert page.status_code == 200 and page.headers["Content-Type"] == "image/jpeg"
    assert page.content == srv.get(f"/api/archives/{arc_id}/page", params={"path": "a b/02.jpg"}).content


def test_missing_id_message(server):
    srv, _ = server
    for endpoint in ("/api/extract", "/api/thumbnail", "/api/page", "/api/servefile", "/api/clear_new"):
        resp = srv.get(endpoint)
        assert resp.status_code == 400
        assert resp.json()["error"] == f"API usage: {endpoint.removeprefix('/api/')}?id=YOUR_ID"


def test_thumbnail_servefile_clear_new(server):
    srv, arc_id = server
    thumb = srv.get("/api/thumbnail", params={"id": arc_id})
    assert thumb.status_code == 200 and thumb.headers["Content-Type"].startswith("image/")
    served = srv.get("/api/servefile", params={"id": arc_id})
    assert served.content == (srv.content / "Old Client.cbz").read_bytes()
    assert srv.get("/api/clear_new", params={"id": arc_id}).json()["operation"] == "clear_new"
    assert srv.get(f"/api/archives/{arc_id}/metadata").json()["isnew"] == "false"


def test_key_only_auth_on_protected_aliases(server):
    srv, arc_id = server
    assert srv.get("/api/clean_temp").status_code == 401
    assert srv.get("/api/clean_temp", params={"key": "test-key"}).json()["operation"] == "cleantemp"
    assert srv.get("/api/discard_cache", params={"key": "test-key"}).json()["operation"] == "clear_cache"
    backup = srv.get("/api/backup", params={"key": "test-key"}).json()
    assert [a["arcid"] for a in backup["archives"]] == [arc_id]
    assert srv.get("/api/clear_new_all", params={"key": "test-key"}).json()["operation"] == "clear_new_all"
    stats = srv.get("/api/tagstats").json()
    assert stats and {"namespace", "text", "weight"} == set(stats[0])
    assert srv.get("/api/clean_database").status_code == 401
    assert srv.get("/api/clean_database", params={"key": "test-key"}).json()["operation"] == "clean_database"


def test_old_search_parameters(server):
    srv, arc_id = server
    body = srv.get("/api/search", params={"filter": "old client", "start": 0, "sortby": "title", "order": "asc"}).json()
    assert body["draw"] == 0 and [d["arcid"] for d in body["data"]] == [arc_id]


def test_shinobu_and_plugin_aliases(server):
    srv, arc_id = server
    status = srv.get("/api/shinobu_status", params={"key": "test-key"}).json()
    assert status["operation"] == "shinobu_status" and isinstance(status["pid"], int)
    used = srv.get("/api/use_plugin", params={"key": "test-key", "plugin": "regexplugin", "id": arc_id}).json()
    assert used["operation"] == "use_plugin" and used["success"] == 1
    assert srv.get("/api/use_plugin", params={"plugin": "regexplugin", "id": arc_id}).status_code == 401


def test_shinobu_control_and_drop_aliases(server):
    srv, arc_id = server
    assert srv.get("/api/stop_shinobu").status_code == 401
    assert srv.get("/api/stop_shinobu", params={"key": "test-key"}).json()["operation"] == "shinobu_stop"
    restarted = srv.get("/api/restart_shinobu", params={"key": "test-key"}).json()
    assert restarted["operation"] == "shinobu_restart" and isinstance(restarted["new_pid"], int)
    srv.get("/api/stop_shinobu", params={"key": "test-key"})
    assert srv.get("/api/drop_database", params={"key": "test-key"}).json()["operation"] == "drop_database"
