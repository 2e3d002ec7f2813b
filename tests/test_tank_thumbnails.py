"""Tankoubon thumbnails: default cover from the first member, global pages, placeholder and 202 job."""

from __future__ import annotations

import io

from archive_factory import make_archive, make_image
from PIL import Image


def test_tank_thumbnail_lifecycle(make_server):
    server = make_server()
    make_archive(server.content / "Vol 1.cbz", {f"{i}.jpg": make_image(100, 150, color=(250, 0, 0)) for i in (1, 2)},
                 "cbz")
    make_archive(server.content / "Vol 2.cbz", {f"{i}.jpg": make_image(100, 150, color=(0, 0, 250)) for i in (1, 2, 3)},
                 "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    tank = server.put("/api/tankoubons", auth=True, params={"name": "Series"}).json()["tankoubon_id"]
    resp = server.get(f"/api/tankoubons/{tank}/thumbnail")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"  # no member: placeholder
    server.put(f"/api/tankoubons/{tank}", auth=True, json={"archives": [ids["Vol 1"], ids["Vol 2"]]})
    queued = server.get(f"/api/tankoubons/{tank}/thumbnail", params={"no_fallback": "true"})
    if queued.status_code == 202:
        assert server.wait_job(queued.json()["job"])["state"] == "finished"
    cover = server.get(f"/api/tankoubons/{tank}/thumbnail")
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"

    def redness(content: bytes) -> int:
        return Image.open(io.BytesIO(content)).convert("RGB").getpixel((10, 10))[0]

    assert redness(cover.content) > 200  # first page of Vol 1
    resp = server.put(f"/api/tankoubons/{tank}/thumbnail", auth=True, params={"page": 4})  # = Vol 2, page 2
    assert resp.status_code == 200 and resp.json()["operation"] == "update_tankoubon_thumbnail"
    assert redness(server.get(f"/api/tankoubons/{tank}/thumbnail").content) < 50
    resp = server.put(f"/api/tankoubons/{tank}/thumbnail", auth=True, params={"page": 6})
    assert resp.status_code == 400 and resp.json()["error"] == "Page 6 is out of range for this tankoubon."
    assert server.put(f"/api/tankoubons/{tank}/thumbnail", params={"page": 1}).status_code == 401
    # removing the first member re-makes the default cover from the new first member
    server.delete(f"/api/tankoubons/{tank}/{ids['Vol 1']}", auth=True)
    assert server.ctx.jobs.wait_idle(30)
    assert redness(server.get(f"/api/tankoubons/{tank}/thumbnail").content) < 50
