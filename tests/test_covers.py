"""Covers that cannot be made: recorded with their reason and retried with back-off, not on every batch."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile

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
