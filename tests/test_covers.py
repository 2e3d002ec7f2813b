"""Covers that cannot be made: recorded with their reason and retried with back-off, not on every batch."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from archive_factory import make_comic


def _bad_cover_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("001.jpg", (2020, 1, 1, 0, 0, 0)), b"this is not a picture" * 50)
    return buf.getvalue()


def test_a_failed_cover_waits_for_its_retry_and_says_why(make_server):
    server = make_server(scan=False).start()
    bad = _bad_cover_zip()
    (server.content / "Broken Cover.cbz").write_bytes(bad)
    make_comic(server.content / "Fine.cbz", 2, "cbz")
    server.rescan()
    assert server.ctx.jobs.wait_idle(30)
    bad_id = hashlib.sha1(bad[:512_000]).hexdigest()
    row = server.ctx.db.query_one("SELECT reason, failures FROM cover_failures WHERE archive_id=?", (bad_id,))
    assert row is not None and row["failures"] == 1 and row["reason"]

    # the next cover run (after the next import) does not try it again before its retry time
    job = server.ctx.jobs.enqueue("regen_all_thumbnails", [str(server.ctx.config.thumbs), 0])
    assert server.ctx.jobs.wait_idle(30)
    result = server.ctx.jobs.get(job)["result"]
    assert result["errors"] == {} and result["waiting_retry"] == 1
    assert server.ctx.db.query_one("SELECT failures FROM cover_failures WHERE archive_id=?", (bad_id,))[0] == 1

    # the thumbnail route answers the placeholder with the reason, and queues no job for it
    jobs_before = server.ctx.db.query_one("SELECT COUNT(*) FROM jobs")[0]
    resp = server.get(f"/api/archives/{bad_id}/thumbnail", params={"no_fallback": "true"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Thumbnail-Error"] == row["reason"][:200]
    assert server.ctx.db.query_one("SELECT COUNT(*) FROM jobs")[0] == jobs_before

    # forced, it is tried again; a second failure doubles the wait
    job = server.ctx.jobs.enqueue("regen_all_thumbnails", [str(server.ctx.config.thumbs), 1])
    assert server.ctx.jobs.wait_idle(30)
    assert bad_id in server.ctx.jobs.get(job)["result"]["errors"]
    again = server.ctx.db.query_one("SELECT failures, retry_at FROM cover_failures WHERE archive_id=?", (bad_id,))
    assert again["failures"] == 2 and again["retry_at"] - time.time() > 100  # 2 minutes, not 1

    # archives whose cover was made carry no record
    fine = [a for a in server.get("/api/archives").json() if a["title"] == "Fine"][0]["arcid"]
    assert server.ctx.db.query_one("SELECT 1 FROM cover_failures WHERE archive_id=?", (fine,)) is None


@pytest.mark.parametrize("decoders", [1, 2])
def test_the_cover_job_makes_every_cover_and_records_each_thumbhash(make_server, decoders):
    """The batch job (decode threads, or the job's own thread with decode_concurrency 1; thumbhashes written
    in batches): every archive of every kind gets a cover of its own first page, its thumbhash is that page's
    SHA-1, and a cover that failed before and can now be made loses its failure record."""
    from PIL import Image

    server = make_server(scan=False, config={"decode_concurrency": decoders}).start()
    kinds = ["cbz", "cb7", "cbt", "pdf"] * 4
    for n, kind in enumerate(kinds):
        make_comic(server.content / f"Comic {n:02d}.{kind}", 2 + n % 3, kind, size=(100 + n, 150))
    server.rescan()
    assert server.ctx.jobs.wait_idle(60)
    listed = server.get("/api/archives").json()
    assert len(listed) == len(kinds)
    some_id = listed[0]["arcid"]
    # a failure on record for an archive whose cover can be made: the next forced run clears it
    with server.ctx.db.write() as conn:
        conn.execute("INSERT INTO cover_failures(archive_id, reason, failures, retry_at) VALUES (?, 'x', 1, 0)",
                     (some_id,))
    job = server.ctx.jobs.enqueue("regen_all_thumbnails", [str(server.ctx.config.thumbs), 1])
    assert server.ctx.jobs.wait_idle(60)
    assert server.ctx.jobs.get(job)["result"]["errors"] == {}
    assert server.ctx.db.query_one("SELECT 1 FROM cover_failures WHERE archive_id=?", (some_id,)) is None
    for arc in listed:
        page = server.get(f"/api/archives/{arc['arcid']}/page", params={"path": _first_page(server, arc["arcid"])})
        assert page.status_code == 200
        row = server.ctx.db.query_one("SELECT thumbhash FROM archives WHERE id=?", (arc["arcid"],))
        assert row["thumbhash"] == hashlib.sha1(page.content).hexdigest()
        resp = server.get(f"/api/archives/{arc['arcid']}/thumbnail", params={"no_fallback": "true"})
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
        cover = Image.open(io.BytesIO(resp.content))
        first = Image.open(io.BytesIO(page.content))
        assert cover.width == 500 or cover.height == 1000  # fitted into 500x1000, small pages enlarged
        assert abs(cover.width / cover.height - first.width / first.height) < 0.02


def _first_page(server, archive_id: str) -> str:
    row = server.ctx.db.query_one("SELECT pages FROM archive_pages WHERE archive_id=?", (archive_id,))
    return str(json.loads(row[0])[0])


def test_an_archive_deleted_while_its_cover_waits_is_no_failure(make_server, caplog):
    """The cover job lists the archives first; a file deleted before its turn (a folder removed right after a
    drop) leaves the library: no error in the job's result, no failure record, no warning per archive."""
    from lrr_lite.library import pages

    server = make_server(scan=False).start()
    for n in range(3):
        make_comic(server.content / f"Comic {n}.cbz", 2 + n, "cbz", size=(100 + n, 150))
    server.rescan()
    assert server.ctx.jobs.wait_idle(30)
    rows = server.ctx.db.query("SELECT id, path FROM archives ORDER BY id")
    gone = rows[0]
    Path(gone["path"]).unlink()
    assert server.ctx.ingest.vanished({gone["path"]}) == 1
    for arc in rows:
        for made in server.ctx.config.thumbs.rglob(f"{arc['id']}*"):
            made.unlink()
    with caplog.at_level("WARNING"):
        errors = pages.make_covers(server.ctx, rows, 1)
    assert errors == {}
    assert server.ctx.db.query_one("SELECT COUNT(*) FROM cover_failures")[0] == 0
    assert not [r for r in caplog.records if "could not be made" in r.getMessage()]
    # the ones still there got their covers
    for arc in rows[1:]:
        resp = server.get(f"/api/archives/{arc['id']}/thumbnail", params={"no_fallback": "true"})
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("decoders", [1, 2])
def test_a_busy_memory_budget_is_no_cover_failure(make_server, monkeypatch, decoders):
    """Covers made while the page budget is taken (clients reading big pages) time out as Busy: that is no
    fault of the archives, so nothing is recorded as failed (no day-long back-off); the next job makes them."""
    from lrr_lite.library import pages
    from lrr_lite.media import memory

    server = make_server(scan=False, config={"decode_concurrency": decoders}).start()
    for n in range(3):
        make_comic(server.content / f"Comic {n}.cbz", 2 + n, "cbz", size=(100 + n, 150))
    server.rescan()
    assert server.ctx.jobs.wait_idle(30)
    rows = server.ctx.db.query("SELECT id, path FROM archives ORDER BY id")
    for made in server.ctx.config.thumbs.rglob("*.jpg"):
        made.unlink()
    monkeypatch.setattr(memory, "_budget", memory.budget())  # restored after the test
    budget = memory.set_budget(64 * 1024 * 1024, wait=0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with budget.reserve(budget.total, "a client's big page", RuntimeError):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        assert pages.make_covers(server.ctx, rows, decoders) == {}
    finally:
        release.set()
        holder.join(5)
    assert server.ctx.db.query_one("SELECT COUNT(*) FROM cover_failures")[0] == 0
    assert not list(server.ctx.config.thumbs.rglob("*.jpg"))
    assert pages.make_covers(server.ctx, rows, decoders) == {}  # the budget is free again
    for arc in rows:
        resp = server.get(f"/api/archives/{arc['id']}/thumbnail", params={"no_fallback": "true"})
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
