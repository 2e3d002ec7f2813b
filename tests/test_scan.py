"""The library scan: bad files never stop it, rescans skip unchanged files, moves keep metadata."""

from __future__ import annotations

import os
import shutil

from archive_factory import (
    empty_file,
    garbage_file,
    make_archive,
    make_comic,
    make_encrypted_zip,
    make_image,
    truncated_copy,
)


def test_bad_files_are_skipped_with_a_reason_and_the_scan_finishes(make_server, tmp_path):
    srv = make_server()
    good = make_comic(srv.content / "Good.cbz", 3, "cbz")
    truncated_copy(make_comic(tmp_path / "t.cbz", 20, "cbz", size=(300, 400)), srv.content / "Truncated.cbz")
    garbage_file(srv.content / "Garbage.7z")
    empty_file(srv.content / "Empty.zip")
    make_encrypted_zip(srv.content / "Locked.cbz", {"001.jpg": make_image(40, 40)})
    (srv.content / "notes.txt").write_text("not an archive")
    make_comic(srv.content / "z" / "Last.7z", 2, "7z")
    srv.start()
    titles = sorted(a["title"] for a in srv.get("/api/archives").json())
    assert titles == ["Good", "Last"]
    result = srv.rescan()
    assert result["failed"] == 4 and result["added"] == 0
    report = {row["path"]: row["reason"] for row in srv.ctx.db.query("SELECT path, reason FROM bad_files")}
    assert set(os.path.basename(p) for p in report) == {"Truncated.cbz", "Garbage.7z", "Empty.zip", "Locked.cbz"}
    assert all(reason for reason in report.values())
    assert good.exists()


def test_rescan_skips_unchanged_and_follows_moves_and_deletions(make_server):
    srv = make_server()
    make_comic(srv.content / "Keep.cbz", 2, "cbz")
    moving = make_comic(srv.content / "Move Me.cbz", 2, "cbz", size=(100, 100))
    srv.start()
    arcs = {a["title"]: a for a in srv.get("/api/archives").json()}
    moved_id = arcs["Move Me"]["arcid"]
    srv.put(f"/api/archives/{moved_id}/metadata", params={"title": "Custom", "tags": "artist:kept"}, auth=True)

    result = srv.rescan()
    assert result["skipped"] == 2 and result["added"] == 0

    (srv.content / "deeper").mkdir()
    os.rename(moving, srv.content / "deeper" / "Renamed.cbz")
    result = srv.rescan()
    meta = srv.get(f"/api/archives/{moved_id}/metadata").json()
    assert meta["title"] == "Custom" and meta["tags"] == "artist:kept" and meta["filename"] == "Renamed"
    assert srv.get(f"/api/archives/{moved_id}/files").status_code == 200

    (srv.content / "deeper" / "Renamed.cbz").unlink()
    srv.rescan()
    assert moved_id not in {a["arcid"] for a in srv.get("/api/archives").json()}
    assert srv.get(f"/api/archives/{moved_id}/metadata").status_code == 400
    # the file comes back: the stored metadata was never lost
    make_comic(srv.content / "back.cbz", 2, "cbz", size=(100, 100))
    srv.rescan()
    assert srv.get(f"/api/archives/{moved_id}/metadata").json()["title"] == "Custom"


def test_new_files_appear_on_rescan_and_restart_keeps_everything(make_server):
    srv = make_server()
    make_comic(srv.content / "A.cbz", 1, "cbz")
    srv.start()
    make_comic(srv.content / "B.cbz", 2, "cbz")
    assert srv.rescan()["added"] == 1
    srv.put(f"/api/archives/{srv.get('/api/archives').json()[0]['arcid']}/progress/1")
    before = sorted(srv.get("/api/archives").json(), key=lambda a: a["arcid"])
    srv.restart()
    after = sorted(srv.get("/api/archives").json(), key=lambda a: a["arcid"])
    assert before == after


def test_same_content_under_two_names_is_one_archive(make_server):
    srv = make_server()
    first = make_comic(srv.content / "One.cbz", 2, "cbz")
    (srv.content / "Two.cbz").write_bytes(first.read_bytes())
    srv.start()
    assert len(srv.get("/api/archives").json()) == 1
    first.unlink()
    srv.rescan()
    arcs = srv.get("/api/archives").json()
    assert len(arcs) == 1 and srv.get(f"/api/archives/{arcs[0]['arcid']}/files").status_code == 200


def test_date_added_uses_mtime_when_asked(make_server):
    srv = make_server(scan=False)
    book = make_comic(srv.content / "Old.cbz", 1, "cbz")
    os.utime(book, (1_500_000_000, 1_500_000_000))
    srv.start()
    srv.ctx.settings.set("usedatemodified", 1)
    srv.rescan()
    assert srv.get("/api/archives").json()[0]["tags"] == "date_added:1500000000"


def test_changed_content_rekeys_and_keeps_metadata(make_server):
    srv = make_server()
    book = make_comic(srv.content / "Changing.cbz", 2, "cbz")
    srv.start()
    old = srv.get("/api/archives").json()[0]["arcid"]
    srv.put(f"/api/archives/{old}/metadata", params={"title": "Kept", "tags": "artist:kept"}, auth=True)
    make_comic(book, 5, "cbz", size=(90, 90))  # new content at the same path
    srv.rescan()
    arcs = srv.get("/api/archives").json()
    assert len(arcs) == 1
    new = arcs[0]
    assert new["arcid"] != old and new["title"] == "Kept" and new["tags"] == "artist:kept" and new["pagecount"] == 5
    assert srv.get(f"/api/archives/{old}/metadata").status_code == 400
    assert len(srv.get(f"/api/archives/{new['arcid']}/files").json()["pages"]) == 5


def test_rescan_compares_folder_by_folder_whatever_the_names(make_server):
    """The walk reads the file map folder by folder, skipping over each subfolder's range of paths: folders
    whose names sort right next to each other ("a", "a b", "a-b", "a.cbz", "a/sub"), one whose name is not
    UTF-8, and a folder deleted as a whole must each find exactly their own files."""
    srv = make_server()
    folders = ["a", "a b", "a-b", "a.b", "ab", "a/sub", "a/sub/deep", "a b/sub", os.fsdecode(b"\xff odd")]
    for n, folder in enumerate(folders):
        (srv.content / folder).mkdir(parents=True, exist_ok=True)
        make_archive(srv.content / folder / f"book {n}.cbz", {"001.jpg": make_image(30, 40), "n.txt": folder.encode("utf-8", "surrogateescape")}, "cbz")
    make_archive(srv.content / "a.cbz", {"001.jpg": make_image(30, 40), "n.txt": b"root"}, "cbz")
    garbage_file(srv.content / "a" / "sub" / "bad.cbz")
    srv.start()
    titles = {a["title"] for a in srv.get("/api/archives").json()}
    assert titles == {f"book {n}" for n in range(len(folders))} | {"a"}

    again = srv.rescan()
    assert (again["seen"], again["skipped"], again["failed"], again["vanished"], again["added"]) == (11, 10, 1, 0, 0)

    shutil.rmtree(srv.content / "a" / "sub")  # two files and a bad file, in a folder and its subfolder
    (srv.content / "a b" / "book 1.cbz").unlink()
    (srv.content / os.fsdecode(b"\xff odd") / "book 8.cbz").rename(srv.content / "ab" / "moved.cbz")
    after = srv.rescan()
    assert (after["vanished"], after["added"], after["failed"]) == (4, 0, 0)
    titles = {a["title"] for a in srv.get("/api/archives").json()}
    assert titles == {"a", "book 0", "book 2", "book 3", "book 4", "book 7", "book 8"}
    assert srv.ctx.db.query("SELECT path FROM bad_files") == []
    assert srv.rescan()["vanished"] == 0
