"""The 0.6/0.7-era API documents walked against the server (SEMANTICS §19): usage texts, the `status` field
0.7 scripts read after a metadata update, and the auto-plugin endpoints."""

from __future__ import annotations

import pytest
from archive_factory import make_comic

from lrr_lite.library.plugins.runner import set_enabled

JSON = "application/json;charset=UTF-8"
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"
FILENAME = "(C99) [Some Circle (Some Artist)] Legacy Title (Some Series) [English]"

# every alias that takes ?id=, the method an old client used, whether it needs the key
ID_ALIASES = [("thumbnail", "GET", False), ("servefile", "GET", False), ("page", "GET", False),
              ("extract", "GET", False), ("clear_new", "GET", False), ("autoplugin", "POST", True)]


@pytest.fixture
def server(make_server):
    srv = make_server()
    make_comic(srv.content / f"{FILENAME}.cbz", 2, "cbz")
    srv.start()
    return srv, srv.get("/api/archives").json()[0]["arcid"]


@pytest.mark.parametrize(("name", "method", "key"), ID_ALIASES, ids=[a[0] for a in ID_ALIASES])
def test_usage_text_names_the_endpoint_without_api(server, name, method, key):
    srv, _ = server
    resp = srv.request(method, f"/api/{name}", params={"key": srv.api_key} if key else None)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == JSON
    assert resp.json() == {"operation": name, "error": f"API usage: {name}?id=YOUR_ID", "success": 0}


def test_metadata_update_has_status_for_07_scripts(server):
    srv, arc_id = server
    resp = srv.put(f"/api/archives/{arc_id}/metadata", auth=True, params={"title": "New \"Title\"", "tags": "a:b"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert body == {"operation": "update_metadata", "error": "", "success": 1, "status": 1,
                    "successMessage": "Updated metadata for &quot;New &quot;Title&quot;&quot;!"}
    assert type(body["status"]) is int and type(body["success"]) is int
    # a failure keeps LANraragi's envelope (no status)
    bad = srv.put(f"/api/archives/{UNKNOWN}/metadata", auth=True, params={"title": "x"})
    assert bad.status_code == 400 and "status" not in bad.json()


def _tags(srv, arc_id: str) -> set[str]:
    raw = srv.get(f"/api/archives/{arc_id}/metadata").json()["tags"]
    return {t.strip() for t in raw.split(",") if t.strip()}


@pytest.mark.parametrize("form", ["query", "path"])
def test_autoplugin_runs_the_enabled_plugins(server, form):
    srv, arc_id = server
    before = _tags(srv, arc_id)
    set_enabled(srv.ctx.db, "regexplugin", True)
    if form == "query":  # 0.6.x
        resp = srv.post("/api/autoplugin", params={"id": arc_id, "key": srv.api_key})
    else:  # 0.7.2
        resp = srv.post(f"/api/archives/{arc_id}/autoplugin", auth=True)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == JSON
    body = resp.json()
    after = _tags(srv, arc_id)
    added = after - before
    assert {"artist:some artist", "language:english", "series:some series"} <= {t.lower() for t in added}
    assert body == {"operation": "autoplugin", "id": arc_id, "success": 1,
                    "message": f"1 Plugins used successfully, 0 Plugins failed, {len(added)} tags added."}
    # a second run adds nothing new
    again = srv.post("/api/autoplugin", params={"id": arc_id}, auth=True).json()
    assert again["message"] == "1 Plugins used successfully, 0 Plugins failed, 0 tags added."
    assert _tags(srv, arc_id) == after


def test_autoplugin_with_no_plugin_enabled(server):
    srv, arc_id = server
    before = _tags(srv, arc_id)
    body = srv.post("/api/autoplugin", params={"id": arc_id}, auth=True).json()
    assert body == {"operation": "autoplugin", "id": arc_id, "success": 1,
                    "message": "0 Plugins used successfully, 0 Plugins failed, 0 tags added."}
    assert _tags(srv, arc_id) == before


def test_autoplugin_unknown_id_and_auth(server):
    srv, arc_id = server
    for path, params in (("/api/autoplugin", {"id": UNKNOWN}), (f"/api/archives/{UNKNOWN}/autoplugin", None)):
        resp = srv.post(path, params=params, auth=True)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
        assert resp.json() == {"operation": "autoplugin", "id": UNKNOWN, "success": 0,
                               "message": "ID not found in database or AutoPlugin disabled by admin."}
    # key-protected like /api/plugins/use
    assert srv.post("/api/autoplugin", params={"id": arc_id}).status_code == 401
    assert srv.post(f"/api/archives/{arc_id}/autoplugin").status_code == 401
    assert srv.post("/api/archives/short/autoplugin", auth=True).status_code == 400


def test_autoplugin_is_post_only(server):
    """A GET (a link or an <img> on another site) never runs plugins."""
    srv, arc_id = server
    set_enabled(srv.ctx.db, "regexplugin", True)
    before = _tags(srv, arc_id)
    resp = srv.get("/api/autoplugin", params={"id": arc_id, "key": srv.api_key})
    assert resp.status_code in (404, 405) and resp.json()["success"] == 0
    assert _tags(srv, arc_id) == before
