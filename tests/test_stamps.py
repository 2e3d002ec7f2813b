"""Stamps and the table of contents over HTTP (SEMANTICS §18, §22.4)."""

from __future__ import annotations

import json

from archive_factory import make_comic


def test_stamp_lifecycle(make_server):
    server = make_server()
    make_comic(server.content / "Notes.cbz", 4, "cbz")
    server.start()
    arc = server.get("/api/archives").json()[0]["arcid"]
    assert server.get(f"/api/archives/{arc}/stamps").json() == {"result": []}
    assert server.put(f"/api/archives/{arc}/stamps/1", params={"content": "x"}).status_code == 401
    made = []
    for page, content in ((1, "Lorem"), (1, "Ipsum"), (2, "Dolor <b>&")):
        resp = server.put(f"/api/archives/{arc}/stamps/{page}", auth=True,
                          params={"content": content, "position": "12,34"})
        body = resp.json()
        assert resp.status_code == 200 and body["operation"] == "add_stamp" and body["success"] == 1
        assert body["stamp_id"].startswith(f"STAMPS_{page}_")
        made.append(body["stamp_id"])
    assert len(set(made)) == 3
    assert sorted(server.get(f"/api/archives/{arc}/stamps").json()["result"]) == ["1", "2"]
    page1 = server.get(f"/api/archives/{arc}/stamps/1").json()["result"]
    assert [s["content"] for s in page1] == ["Lorem", "Ipsum"] and page1[0]["position"] == "12,34"
    stamp = server.get(f"/api/stamps/{made[2]}").json()
    assert stamp["content"] == "Dolor <b>&" and stamp["position"] == "12,34" and stamp["result"]["id"] == made[2]
    for bad_page in (0, 5):
        resp = server.put(f"/api/archives/{arc}/stamps/{bad_page}", auth=True, params={"content": "x"})
        assert resp.status_code == 400 and resp.json()["error"] == f"Page {bad_page} out of range."
    assert server.put(f"/api/stamps/{made[0]}", auth=True, params={"content": "Changed"}).json()["success"] == 1
    assert server.get(f"/api/stamps/{made[0]}").json()["content"] == "Changed"
    assert server.delete(f"/api/stamps/{made[1]}", auth=True).json()["success"] == 1
    missing = server.get(f"/api/stamps/{made[1]}")
    assert missing.status_code == 400 and missing.json()["error"] == "The given stamp does not exist."
    assert server.get("/api/archives/" + "0" * 40 + "/stamps").status_code == 400
    backup = server.get("/api/database/backup", auth=True).json()
    assert {s["stamp_id"] for s in backup["stamps"]} == {made[0], made[2]}
    # deleting the archive deletes its stamps
    server.delete(f"/api/archives/{arc}", auth=True)
    assert server.get(f"/api/stamps/{made[0]}").status_code == 400


def test_deleting_an_archive_leaves_no_dangling_references(make_server):
    server = make_server()
    make_comic(server.content / "Doomed.cbz", 2, "cbz")
    make_comic(server.content / "Kept.cbz", 3, "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    doomed = ids["Doomed"]
    cat = server.put("/api/categories", auth=True, params={"name": "C"}).json()["category_id"]
    tank = server.put("/api/tankoubons", auth=True, params={"name": "T"}).json()["tankoubon_id"]
    for member in (doomed, ids["Kept"]):
        server.put(f"/api/categories/{cat}/{member}", auth=True)
        server.put(f"/api/tankoubons/{tank}/{member}", auth=True)
    server.put(f"/api/archives/{doomed}/toc", auth=True, params={"page": 1, "title": "ch"})
    server.put(f"/api/archives/{doomed}/stamps/1", auth=True, params={"content": "x"})
    assert server.delete(f"/api/archives/{doomed}", auth=True).json()["success"] == 1
    assert server.get(f"/api/categories/{cat}").json()["archives"] == [ids["Kept"]]
    assert server.get(f"/api/tankoubons/{tank}").json()["result"]["archives"] == [ids["Kept"]]
    backup = server.get("/api/database/backup", auth=True).json()
    assert doomed not in json.dumps(backup)
    grouped = server.get("/api/search").json()
    assert [d["title"] for d in grouped["data"]] == ["T"] and grouped["recordsTotal"] == 1


def test_stamp_vectors_from_a_restored_backup(make_server, tmp_path):
    """SEMANTICS §22.4: be447b's five stamps (pages 0-3), brought in the way they exist: by a backup."""
    server = make_server()
    make_comic(server.content / "Eva.cbz", 4, "cbz")
    server.start()
    arc = server.get("/api/archives").json()[0]["arcid"]
    stamps = [("STAMPS_0_1777224824660", "Lorem"), ("STAMPS_0_1777224824661", "Ipsum"),
              ("STAMPS_1_1777224824662", "Dolor"), ("STAMPS_2_1777224824663", "Sit"),
              ("STAMPS_3_1777224824664", "Amet")]
    backup = {"archives": [], "categories": [],
              "stamps": [{"stamp_id": s, "content": c, "position": "0,0", "archive_id": arc} for s, c in stamps]}
    resp = server.post("/api/database/restore", auth=True,
                       files={"file": ("b.json", json.dumps(backup).encode(), "application/json")})
    assert server.wait_job(resp.json()["job"])["state"] == "finished"
    assert sorted(server.get(f"/api/archives/{arc}/stamps").json()["result"]) == ["0", "1", "2", "3"]
    assert len(server.get(f"/api/archives/{arc}/stamps/0").json()["result"]) == 2
    assert server.get(f"/api/archives/{arc}/stamps/1").json()["result"][0]["id"] == "STAMPS_1_1777224824662"
    lorem = server.get("/api/stamps/STAMPS_0_1777224824660").json()
    assert lorem["content"] == "Lorem" and lorem["position"] == "0,0"
