# ruff: noqa: F811  (hostile_set is a fixture imported from hostile_fixture, then named as a parameter)
"""The hostile set behind a real server over 127.0.0.1: every answer is 2xx or a 4xx with a JSON reason."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from hostile_fixture import hostile_set  # noqa: F401  (the fixture)

SKIP = {"many.cbt"}  # its 10,000-file cache fill is covered in test_hostile_formats; here it only costs time
NAMES = {"names.cbz", "names.cbt"}  # pages named with CR/LF: see test_pages_named_with_control_characters


def test_pages_and_thumbnails_of_hostile_archives(hostile_set: dict[str, Path], make_server) -> None:
    server = make_server(scan=False)
    for name, path in hostile_set.items():
        if name not in SKIP | NAMES:
            os.link(path, server.content / name)
    server.scan_on_start = True
    server.start()
    archives = server.get("/api/archives").json()
    listed = {a["filename"] for a in archives}
    # Readable ones are in the library; bombs and non-archives were refused by the scan.
    assert {"lying", "zeros250", "traversal", "links", "pixels", "markup", "nearcap"} <= listed
    assert not listed & {"bomb", "png_renamed", "html_renamed", "svg_renamed"}
    for archive in archives:
        arcid = archive["arcid"]
        files = server.get(f"/api/archives/{arcid}/files")
        assert files.status_code == 200, (archive["filename"], files.text)
        for url in files.json()["pages"][:4]:
            page = server.get(url.replace(server.url, "")) if url.startswith("http") else server.get(url)
            assert page.status_code < 500, (archive["filename"], url, page.text[:200])
            if page.status_code >= 400:
                assert page.json()["error"], page.text
        thumb = server.get(f"/api/archives/{arcid}/thumbnail", params={"no_fallback": "true"})
        assert thumb.status_code in (200, 202), (archive["filename"], thumb.status_code)
    assert server.get("/api/info").status_code == 200


def test_eight_parallel_requests_for_a_lying_page(hostile_set: dict[str, Path], make_server) -> None:
    server = make_server(scan=False)
    os.link(hostile_set["lying.cbz"], server.content / "lying.cbz")
    server.scan_on_start = True
    server.start()
    arcid = server.get("/api/archives").json()[0]["arcid"]
    url = f"{server.url}/api/archives/{arcid}/page"

    def fetch(_: int) -> requests.Response:
        return requests.get(url, params={"path": "001.jpg"}, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, range(8)))
    assert {a.status_code for a in answers} == {400}
    assert all("declares" in a.json()["error"] for a in answers)
    assert server.get("/api/info").status_code == 200


def test_pages_named_with_control_characters(hostile_set: dict[str, Path], make_server) -> None:
    server = make_server(scan=False)
    for name in NAMES:
        os.link(hostile_set[name], server.content / name)
    server.scan_on_start = True
    server.start()
    for archive in server.get("/api/archives").json():
        for url in server.get(f"/api/archives/{archive['arcid']}/files").json()["pages"]:
            page = server.get(url)
            assert page.status_code < 500, (archive["filename"], url, page.text[:300])


def test_uploading_each_hostile_file(hostile_set: dict[str, Path], make_server, tmp_path: Path) -> None:
    """Every hostile file, uploaded: 200, or a 4xx with a reason; never a 5xx; the server answers after each;
    nothing is written outside the content and data folders; a refused upload leaves no file behind."""
    server = make_server(scan=False).start()
    outside_before = set(tmp_path.parent.rglob("*"))
    refused = []
    for name, path in sorted(hostile_set.items()):
        with open(path, "rb") as fh:
            resp = server.put("/api/archives/upload", auth=True,
                              files={"file": (name, fh, "application/octet-stream")})
        assert resp.status_code < 500, (name, resp.status_code, resp.text[:300])
        body = resp.json()
        if resp.status_code == 200:
            assert body["success"] == 1 and server.get(f"/api/archives/{body['id']}/metadata").status_code == 200
            download = server.get(f"/api/archives/{body['id']}/download")
            assert download.status_code == 200 and download.content == path.read_bytes(), name
        else:
            assert body["success"] == 0 and body["error"], (name, body)
            refused.append(name)
            assert not (server.content / name).exists(), name
        assert server.get("/api/info").status_code == 200
    assert {"bomb.cb7", "bomb.tar.gz", "png_renamed.cbz", "html_renamed.cbz"} <= set(refused)
    assert server.ctx.jobs.wait_idle(120)  # the covers the uploads queued
    made = {p for p in set(tmp_path.parent.rglob("*")) - outside_before
            if not (p.is_relative_to(server.content) or p.is_relative_to(server.data))}
    assert made == set(), sorted(made)[:5]
