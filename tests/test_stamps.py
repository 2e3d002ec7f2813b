"""Stamps and the table of contents over HTTP (SEMANTICS §18, §22.4)."""

from __future__ import annotations

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
