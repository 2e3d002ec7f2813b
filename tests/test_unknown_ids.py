"""SEMANTICS §17, "Unknown IDs and other errors": every row of the table, over HTTP, as its "Do" column says.

A well-formed ID (40 hex digits, TANK_ + 10 digits, a job number, a stamp ID) that the server does not know.
Each case asserts the status, the content type and the exact JSON body (keys, values and JSON types).
"""

from __future__ import annotations

import pytest
from archive_factory import make_comic

UNKNOWN = "0123456789abcdef0123456789abcdef01234567"
JSON = "application/json;charset=UTF-8"
NO_ID = "This ID doesn&#39;t exist on the server."


def envelope_error(operation: str, message: str) -> dict:
    return {"operation": operation, "error": message, "success": 0, "successMessage": ""}


# (row of the table, method, path, needs the key, status, body: a dict compared exactly, or None for a non-JSON reply)
CASES = [
    ("metadata", "GET", f"/api/archives/{UNKNOWN}/metadata", False, 400, envelope_error("metadata", NO_ID)),
    ("metadata (deprecated path)", "GET", f"/api/archives/{UNKNOWN}", False, 400, envelope_error("metadata", NO_ID)),
    ("thumbnail", "GET", f"/api/archives/{UNKNOWN}/thumbnail", False, 200, None),
    ("files", "GET", f"/api/archives/{UNKNOWN}/files", False, 400, envelope_error("get_file_list", NO_ID)),
    ("page", "GET", f"/api/archives/{UNKNOWN}/page?path=01.jpg", False, 404, envelope_error("serve_page", NO_ID)),
    ("download", "GET", f"/api/archives/{UNKNOWN}/download", False, 404,
     envelope_error("download_archive", NO_ID)),
    ("categories", "GET", f"/api/archives/{UNKNOWN}/categories", False, 200,
     {"categories": [], "operation": "find_arc_categories", "success": 1}),
    ("tankoubons", "GET", f"/api/archives/{UNKNOWN}/tankoubons", False, 200,
     {"operation": "find_arc_tankoubons", "success": 1, "tankoubons": []}),
    ("progress", "PUT", f"/api/archives/{UNKNOWN}/progress/3", False, 400,
     envelope_error("update_progress", "Archive doesn&#39;t have a total page count recorded yet.")),
    ("delete", "DELETE", f"/api/archives/{UNKNOWN}", True, 200,
     {"operation": "delete_archive", "id": UNKNOWN, "filename": "0", "success": 0}),
    ("put metadata", "PUT", f"/api/archives/{UNKNOWN}/metadata?title=x&tags=y", True, 400,
     envelope_error("update_metadata", NO_ID)),
    ("put isnew", "PUT", f"/api/archives/{UNKNOWN}/isnew", True, 400, envelope_error("add_new", NO_ID)),
    ("delete isnew", "DELETE", f"/api/archives/{UNKNOWN}/isnew", False, 400, envelope_error("clear_new", NO_ID)),
    ("category", "GET", "/api/categories/SET_1234567890", False, 400,
     envelope_error("get_category", "The given category does not exist.")),
    ("tankoubon", "GET", "/api/tankoubons/TANK_1234567890", False, 400,
     envelope_error("get_tankoubon", "The given tankoubon does not exist.")),
    ("tankoubon full", "GET", "/api/tankoubons/TANK_1234567890/full", False, 400,
     envelope_error("get_tankoubon_full", "The given tankoubon does not exist.")),
    ("minion job", "GET", "/api/minion/999999", False, 400,
     envelope_error("minion_job_status", "No job with this ID.")),
    ("stamp", "GET", "/api/stamps/STAMPS_1_1700000000000", False, 400,
     envelope_error("get_stamp", "The given stamp does not exist.")),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("unknown"))
    make_comic(srv.content / "known.cbz", 3, "cbz")
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(("row", "method", "path", "key", "status", "body"), CASES, ids=[c[0] for c in CASES])
def test_unknown_id_row(server, row, method, path, key, status, body):
    resp = server.request(method, path, auth=key)
    assert resp.status_code == status, (row, resp.text)
    if body is None:
        return
    assert resp.headers["Content-Type"] == JSON
    got = resp.json()
    assert got == body
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in body.items()}


def test_unknown_thumbnail_is_the_placeholder(server):
    resp = server.get(f"/api/archives/{UNKNOWN}/thumbnail")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.content.startswith(b"\x89PNG\r\n\x1a\n")
    # no job was queued for it: nothing for an unknown ID unless the client asked for the job
    assert not server.ctx.db.query("SELECT id FROM jobs WHERE task='thumbnail_task' AND args LIKE ?",
                                   (f"%{UNKNOWN}%",))


def test_unknown_thumbnail_no_fallback_is_202_with_a_job(server):
    resp = server.get(f"/api/archives/{UNKNOWN}/thumbnail", params={"no_fallback": "true"})
    assert resp.status_code == 202, resp.text
    assert resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert set(body) == {"operation", "success", "job"}
    assert body["operation"] == "serve_thumbnail" and body["success"] == 1
    assert isinstance(body["job"], int) and not isinstance(body["job"], bool)
    # the job exists and ends failed, as LANraragi's does: there is no archive to make a thumbnail of
    job = server.wait_job(body["job"])
    assert job["state"] == "failed" and job["task"] == "thumbnail_task"
    # asking again reuses a pending job or queues a new one, never a 200 placeholder
    again = server.get(f"/api/archives/{UNKNOWN}/thumbnail", params={"no_fallback": "true"})
    assert again.status_code == 202 and isinstance(again.json()["job"], int)


def test_unknown_ids_change_nothing(server):
    """PUT metadata / isnew on an unknown ID create no phantom record (the Do column's departure)."""
    server.put(f"/api/archives/{UNKNOWN}/metadata", auth=True, params={"title": "ghost", "tags": "a"})
    server.put(f"/api/archives/{UNKNOWN}/isnew", auth=True)
    assert server.ctx.db.query_one("SELECT id FROM archives WHERE id=?", (UNKNOWN,)) is None
    listed = [a["arcid"] for a in server.get("/api/archives").json()]
    assert len(listed) == 1 and UNKNOWN not in listed


@pytest.mark.parametrize("path", ["/api/search?category=SET_0000000000", "/api/opds?category=SET_0000000000"])
def test_unknown_category_is_ignored(server, path):
    resp = server.get(path)
    assert resp.status_code == 200
    known = server.get("/api/archives").json()[0]["arcid"]
    if path.startswith("/api/search"):
        body = resp.json()
        assert [d["arcid"] for d in body["data"]] == [known] and body["recordsFiltered"] == 1
    else:
        assert f"<id>urn:lrr:{known}</id>".encode() in resp.content
