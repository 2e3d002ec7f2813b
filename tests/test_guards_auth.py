"""Every key-protected route refuses a request without the key (SEMANTICS §1), with LANraragi's 401 body.

The table is derived, not typed: the operations the OpenAPI spec marks with `security: api_key`, the legacy
aliases of §19 whose modern twin is one of those, and every route the application itself flags as needing
the key. A route that loses its check therefore fails here by name, and because requests carry real IDs
(archive, category, tankoubon, stamp, job), a route that lost its check would also have acted — the library
is checked to be intact afterwards. Password protection is on (the default) and an API key is set.
"""

from __future__ import annotations

import base64
import re
import time

import pytest
import yaml
from archive_factory import make_comic
from spec_data import OPENAPI

from lrr_lite.http.app import create_app

SPEC = OPENAPI
UNAUTHORIZED_ERRORS = [{"message": "Unauthorized", "path": "/security/0/api_key"}]

# SEMANTICS §19: legacy path -> (modern method, modern spec path). /api/autoplugin has no modern twin.
LEGACY = {
    "/api/archivelist": ("GET", "/archives"),
    "/api/untagged": ("GET", "/archives/untagged"),
    "/api/thumbnail": ("GET", "/archives/{id}/thumbnail"),
    "/api/servefile": ("GET", "/archives/{id}/download"),
    "/api/extract": ("GET", "/archives/{id}/files"),
    "/api/page": ("GET", "/archives/{id}/page"),
    "/api/clear_new": ("DELETE", "/archives/{id}/isnew"),
    "/api/tagstats": ("GET", "/database/stats"),
    "/api/use_plugin": ("POST", "/plugins/use"),
    "/api/plugin/use": ("POST", "/plugins/use"),
    "/api/clean_temp": ("DELETE", "/tempfolder"),
    "/api/discard_cache": ("DELETE", "/search/cache"),
    "/api/backup": ("GET", "/database/backup"),
    "/api/clear_new_all": ("DELETE", "/database/isnew"),
    "/api/drop_database": ("POST", "/database/drop"),
    "/api/clean_database": ("POST", "/database/clean"),
    "/api/shinobu_status": ("GET", "/shinobu"),
    "/api/stop_shinobu": ("POST", "/shinobu/stop"),
    "/api/restart_shinobu": ("POST", "/shinobu/restart"),
}


def _spec_operations() -> dict[tuple[str, str], bool]:
    """(METHOD, spec path) -> needs the API key, for every operation of the spec."""
    spec = yaml.safe_load(SPEC.read_text())
    default = spec.get("security") or []
    return {(method.upper(), path): bool(op.get("security", default))
            for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in ("get", "put", "post", "delete", "patch")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("auth"))
    make_comic(srv.content / "Alpha.cbz", 3, "cbz")
    make_comic(srv.content / "Beta.cbz", 2, "cbz")
    srv.start()
    ids = sorted(a["arcid"] for a in srv.get("/api/archives").json())
    arcid = ids[0]
    assert srv.put(f"/api/archives/{arcid}/metadata", auth=True, data={"tags": "artist:kept"}).status_code == 200
    category = srv.put("/api/categories", auth=True, params={"name": "Kept"}).json()["category_id"]
    assert srv.put(f"/api/categories/{category}/{arcid}", auth=True).status_code == 200
    tank = srv.put("/api/tankoubons", auth=True, params={"name": "Kept tank"}).json()["tankoubon_id"]
    assert srv.put(f"/api/tankoubons/{tank}/{arcid}", auth=True).status_code == 200
    stamp = srv.put(f"/api/archives/{arcid}/stamps/1", auth=True, params={"content": "kept"}).json()["stamp_id"]
    job = srv.post("/api/regen_thumbs", auth=True).json()["job"]
    srv.wait_job(job)
    values = {"archive": arcid, "category": category, "tank": tank, "stamp": stamp, "job": job}
    yield srv, values
    srv.stop()


def _concrete(path: str, v: dict) -> str:
    """A spec or Bottle path with its parameters filled by real values of the right kind."""
    path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", path)  # Bottle's <name> / <name:re:...> as {name}
    kind = {"archives": "archive", "categories": "category", "tankoubons": "tank", "stamps": "stamp",
            "minion": "job"}.get(path.removeprefix("/api").split("/")[1], "archive")
    fill = {"id": v[kind], "archive_id": v["archive"], "archive": v["archive"], "member": v["archive"],
            "cat_id": v["category"], "tank_id": v["tank"], "stamp_id": v["stamp"], "jobid": v["job"],
            "job_id": v["job"], "jobname": "thumbnail_task", "job_name": "thumbnail_task", "index": 1,
            "page": 1, "page_no": 1, "type": "metadata", "plugin_type": "metadata", "namespace": "comicinfo"}
    return re.sub(r"\{(\w+)\}", lambda m: str(fill[m.group(1)]), path)


def _protected_requests(srv, values) -> list[tuple[str, str]]:
    ops = _spec_operations()
    secured = {key for key, needs_key in ops.items() if needs_key}
    assert ("POST", "/database/drop") in secured and len(secured) >= 40  # the spec was read as meant
    table = {(method, _concrete("/api" + path, values)) for method, path in secured}
    for legacy, (method, modern) in LEGACY.items():
        assert (method, modern) in ops, (legacy, method, modern)  # the §19 twin is a real operation
        if (method, modern) in secured:
            # 0.6/0.7 clients call these with GET; the modern verb is accepted too
            table |= {("GET", legacy)} | (
                {("POST", legacy)} if method != "GET" else set())
    # and whatever the application itself marks as needing the key
    for route in create_app(srv.ctx).routes:
        if route.config.get("secure") and route.method != "HEAD":
            table.add((route.method, _concrete(route.rule, values)))
    return sorted(table)


def _assert_401(resp, what) -> None:
    assert resp.status_code == 401, (what, resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json"), what
    body = resp.json()
    assert body["errors"] == UNAUTHORIZED_ERRORS and body["status"] == 401, (what, body)
    assert body["error"] == "This API is protected and requires login or an API Key." and body["success"] == 0


def test_every_key_protected_route_refuses_without_the_key(server):
    srv, values = server
    before = srv.get("/api/archives").json()
    wrong = {"Authorization": "Bearer " + base64.b64encode(b"not-the-key").decode()}
    table = _protected_requests(srv, values)
    assert len(table) >= 60
    refused_by_back_off = 0
    for method, path in table:
        _assert_401(srv.request(method, path), (method, path))
        sep = "&" if "?" in path else "?"
        for what, resp in (("wrong key", srv.request(method, path, headers=wrong)),
                           ("wrong ?key=", srv.request(method, f"{path}{sep}key=not-the-key"))):
            if resp.status_code == 429:  # past KEY_FREE wrong keys from this address (test_key_throttle.py)
                refused_by_back_off += 1
                assert resp.json()["success"] == 0 and resp.headers["Retry-After"], (method, path, what)
            else:
                _assert_401(resp, (method, path, what))
    assert refused_by_back_off > 0  # so many wrong keys from one address: the back-off took over
    # nothing any of those requests asked for happened
    assert srv.get("/api/archives").json() == before
    assert srv.get(f"/api/archives/{values['archive']}/metadata").json()["tags"] == "artist:kept"
    assert srv.get(f"/api/categories/{values['category']}").json()["archives"] == [values["archive"]]
    assert srv.get(f"/api/tankoubons/{values['tank']}").json()["result"]["archives"] == [values["archive"]]
    assert srv.get(f"/api/stamps/{values['stamp']}").json()["content"] == "kept"
    # and the key itself opens a protected route (once the back-off has passed): the 401s came from the key
    deadline = time.monotonic() + 400
    while (resp := srv.get("/api/shinobu", auth=True)).status_code == 429 and time.monotonic() < deadline:
        time.sleep(min(float(resp.headers["Retry-After"]), 1.0))
    assert resp.status_code == 200


def test_public_spec_routes_do_not_ask_for_the_key(server):
    """The other side of the table: operations the spec leaves open answer without the key (no 401)."""
    srv, values = server
    for (method, path), needs_key in _spec_operations().items():
        if not needs_key and method == "GET":
            resp = srv.request(method, _concrete("/api" + path, values))
            assert resp.status_code != 401, (method, path, resp.text[:200])
