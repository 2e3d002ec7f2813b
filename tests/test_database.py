"""/api/database over HTTP: stats (also streamed a span of tag IDs at a time, records.tag_stats_chunks),
backup/drop/restore round trips, LANraragi backups, clean, new flags."""

from __future__ import annotations

import json

import pytest
from archive_factory import make_comic
from spec_data import SAMPLES

from lrr_lite.library import housekeeping, records


@pytest.fixture
def server(make_server):
    srv = make_server()
    for i, name in enumerate(("Alpha", "Beta", "Gamma")):
        make_comic(srv.content / f"{name}.cbz", 2 + i, "cbz")
    srv.start()
    return srv


def ids_by_title(server) -> dict[str, str]:
    return {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}


def test_stats_shape_and_options(server):
    ids = ids_by_title(server)
    server.put(f"/api/archives/{ids['Alpha']}/metadata", auth=True, params={"tags": "artist:Bob, Color, source:x"})
    server.put(f"/api/archives/{ids['Beta']}/metadata", auth=True, params={"tags": "artist:bob, color"})
    stats = server.get("/api/database/stats").json()
    by_key = {(s["namespace"], s["text"]): s["weight"] for s in stats}
    assert by_key[("artist", "bob")] == 2 and by_key[("", "color")] == 2 and by_key[("source", "x")] == 1
    sample = json.loads((SAMPLES / "database_stats.json").read_text())[0]
    assert {k: type(v) for k, v in stats[0].items()} == {k: type(v) for k, v in sample.items()}
    heavy = server.get("/api/database/stats", params={"minweight": 2}).json()
    assert all(s["weight"] >= 2 for s in heavy) and ("artist", "bob") in {(s["namespace"], s["text"]) for s in heavy}
    hidden = server.get("/api/database/stats", params={"hide_excluded_namespaces": "true"}).json()
    assert not {s["namespace"] for s in hidden} & {"source", "date_added"}
    assert server.get("/api/database/stats", params={"minweight": "x"}).status_code == 400


def test_backup_drop_restore_round_trip(server):
    ids = ids_by_title(server)
    server.put(f"/api/archives/{ids['Alpha']}/metadata", auth=True,
               params={"title": "Ålpha «1» & co", "tags": "artist:bob,series:x", "summary": "line one"})
    server.put(f"/api/archives/{ids['Gamma']}/metadata", auth=True, params={"tags": ""})
    server.put(f"/api/archives/{ids['Gamma']}/toc", auth=True, params={"page": 2, "title": "Part two"})
    assert server.get("/api/database/backup").status_code == 401
    before = server.get("/api/database/backup", auth=True).json()
    assert set(before) == {"categories", "archives"}  # no tanks or stamps: keys absent
    assert {a["arcid"] for a in before["archives"]} == set(ids.values())
    assert all(set(a) - {"toc"} == {"arcid", "title", "tags", "summary", "thumbhash", "filename", "stamps"}
               for a in before["archives"])

    resp = server.post("/api/database/drop", auth=True)
    assert resp.status_code == 200 and resp.json()["operation"] == "drop_database"
    assert server.ctx.jobs.wait_idle(60)
    after_drop = {a["arcid"]: a for a in server.get("/api/archives").json()}
    assert set(after_drop) == set(ids.values())  # the files came back, the metadata did not
    assert after_drop[ids["Alpha"]]["title"] == "Alpha"

    resp = server.post("/api/database/restore", auth=True,
                       files={"file": ("b.json", json.dumps(before).encode(), "application/json")})
    assert resp.status_code == 200 and resp.json()["operation"] == "queue_restore"
    assert server.wait_job(resp.json()["job"])["state"] == "finished"
    after = server.get("/api/database/backup", auth=True).json()
    assert json.dumps(after["archives"], sort_keys=True) == json.dumps(before["archives"], sort_keys=True)
    meta = server.get(f"/api/archives/{ids['Alpha']}/metadata").json()
    assert meta["title"] == "Ålpha «1» & co" and meta["tags"] == "artist:bob,series:x"
    assert server.get(f"/api/archives/{ids['Gamma']}/metadata").json()["toc"] == [{"page": 2, "name": "Part two"}]
    hits = server.get("/api/search", params={"filter": "series:x"}).json()["data"]
    assert [h["arcid"] for h in hits] == [ids["Alpha"]]


def test_backup_job_and_download(server):
    resp = server.post("/api/database/backup", auth=True)
    assert resp.json()["operation"] == "queue_backup"
    job = resp.json()["job"]
    assert server.wait_job(job)["state"] == "finished"
    as_json = server.get(f"/api/database/backup/{job}", auth=True, params={"format": "json"})
    assert as_json.status_code == 200 and len(as_json.json()["archives"]) == 3
    as_file = server.get(f"/api/database/backup/{job}", auth=True)
    assert f"backup_{job}.json" in as_file.headers["Content-Disposition"]
    assert json.loads(as_file.content) == as_json.json()
    assert server.get("/api/database/backup/999999", auth=True).json()["error"] == "Job not found"
    other = server.post("/api/regen_thumbs", auth=True).json()["job"]
    assert server.get(f"/api/database/backup/{other}", auth=True).json()["error"] == "Job not found"


def test_restore_a_lanraragi_backup(server):
    ids = ids_by_title(server)
    lrr_backup = {
        "archives": [
            {"arcid": ids["Beta"], "title": "From LANraragi", "tags": "artist:someone,  language:english, ",
             "summary": None, "thumbhash": None, "filename": None, "stamps": None},
            {"arcid": "f" * 40, "title": "Not here", "tags": "x", "summary": "", "thumbhash": None,
             "filename": "gone"},
        ],
        "categories": [{"catid": "SET_1613080290", "name": "Imported", "search": "",
                        "archives": [ids["Beta"], "e" * 40]}],
        "tankoubons": [{"tankid": "TANK_1749925516", "name": "Imported tank", "summary": "", "tags": "",
                        "archives": [ids["Alpha"], ids["Gamma"]]}],
    }
    resp = server.post("/api/database/restore", auth=True,
                       files={"file": ("lrr.json", json.dumps(lrr_backup).encode(), "application/json")})
    status = server.wait_job(resp.json()["job"])
    assert status["state"] == "finished"
    meta = server.get(f"/api/archives/{ids['Beta']}/metadata").json()
    assert meta["title"] == "From LANraragi" and meta["tags"] == "artist:someone,language:english"
    assert server.get("/api/archives/" + "f" * 40 + "/metadata").status_code == 400
    backup = server.get("/api/database/backup", auth=True).json()
    imported = [c for c in backup["categories"] if c["catid"] == "SET_1613080290"]
    assert imported == [{"catid": "SET_1613080290", "name": "Imported", "search": "", "archives": [ids["Beta"]]}]
    assert backup["tankoubons"][0]["archives"] == [ids["Alpha"], ids["Gamma"]]


def test_restore_refuses_bad_files_and_changes_nothing(server):
    before = server.get("/api/database/backup", auth=True).json()
    assert server.post("/api/database/restore", auth=True).json()["error"] == "No file provided"
    resp = server.post("/api/database/restore", auth=True, files={"file": ("x.txt", b"{}", "text/plain")})
    assert resp.status_code == 400 and resp.json()["error"] == "File must be JSON"
    resp = server.post("/api/database/restore", auth=True,
                       files={"file": ("x.json", b"{not json", "application/json")})
    assert resp.status_code == 400
    resp = server.post("/api/database/restore", auth=True,
                       files={"file": ("x.json", b'{"archives": 5}', "application/json")})
    assert server.wait_job(resp.json()["job"])["state"] == "failed"
    assert server.get("/api/database/backup", auth=True).json() == before


def test_clean_and_clear_new(server):
    ids = ids_by_title(server)
    (server.content / "Beta.cbz").unlink()
    resp = server.post("/api/database/clean", auth=True)
    assert resp.json() == {"operation": "clean_database", "deleted": 1, "unlinked": 0, "success": 1}
    assert server.get(f"/api/archives/{ids['Beta']}/metadata").status_code == 400
    assert list((server.data / "backups").glob("autobackup_*.json"))
    resp = server.delete("/api/database/isnew", auth=True)
    assert resp.json()["operation"] == "clear_new_all" and resp.json()["success"] == 1
    assert {a["isnew"] for a in server.get("/api/archives").json()} == {"false"}


def test_archive_counts_follow_every_kind_of_change(server):
    """recordsTotal and /api/info's total come from a count kept by the database itself: after each change
    they still equal the number of archives /api/archives lists."""

    def assert_counts(expected: int) -> None:
        listed = len(server.get("/api/archives").json())
        assert listed == expected
        assert server.get("/api/info").json()["total_archives"] == expected
        body = server.get("/api/search", params={"filter": ""}).json()
        assert body["recordsTotal"] == body["recordsFiltered"] == expected
        assert server.get("/api/search", params={"filter": "-nothing"}).json()["recordsFiltered"] == expected

    assert_counts(3)
    ids = ids_by_title(server)
    gamma = server.content / "Gamma.cbz"
    kept = gamma.read_bytes()
    gamma.unlink()
    server.rescan()
    assert_counts(2)  # the file is gone: its record stays, hidden
    gamma.write_bytes(kept)
    server.rescan()
    assert_counts(3)
    assert server.delete(f"/api/archives/{ids['Beta']}", auth=True).status_code == 200
    assert_counts(2)
    make_comic(server.content / "Delta.cbz", 5, "cbz")
    server.rescan()
    assert_counts(3)
    assert server.post("/api/database/drop", auth=True).status_code == 200
    assert server.ctx.jobs.wait_idle(60)
    assert_counts(3)  # a rescan after the drop finds the files again


def test_stats_streamed_in_spans_match_the_whole_list(server, monkeypatch):
    """The reply is sent a span of tag IDs at a time: spans of one or two tags (so some are empty, some
    hold only hidden or light tags) give exactly the list the Python path counts, in every variant."""
    ids = ids_by_title(server)
    server.put(f"/api/archives/{ids['Alpha']}/metadata", auth=True,
               params={"tags": 'artist:bob, "quoted" \\ tag, source:x, ünïcode'})
    server.put(f"/api/archives/{ids['Beta']}/metadata", auth=True, params={"tags": "artist:bob, source:y"})
    server.put(f"/api/archives/{ids['Gamma']}/metadata", auth=True, params={"tags": "artist:ann"})  # drops tags
    settings = server.ctx.settings
    for span in (1, 2, 20_000):
        monkeypatch.setattr(records, "_STATS_SPAN", span)
        for params in ({}, {"minweight": 2}, {"hide_excluded_namespaces": "true"}, {"minweight": 0}):
            reply = server.get("/api/database/stats", params=params)
            assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
            want = housekeeping.tag_stats(server.ctx.db, settings, params.get("minweight", 1),
                                          "hide_excluded_namespaces" in params)
            assert sorted(reply.json(), key=json.dumps) == sorted(want, key=json.dumps), (span, params)
