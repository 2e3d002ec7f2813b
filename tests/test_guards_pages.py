"""Served pages carry the Content-Type of the bytes actually sent (SEMANTICS §10), resized or not.

With resizing on (`enableresize`), a page over `sizethreshold` KB is re-encoded as JPEG, at most 1064 px wide:
its Content-Type must then say JPEG, whatever the member's extension or original format. Every page is
checked by its magic number against the header, through the page route, its HEAD, and the OPDS PSE route.
"""

from __future__ import annotations

import io
import random

import pytest
from archive_factory import make_archive
from PIL import Image

THRESHOLD_KB = 16


def _noise(size: tuple[int, int], fmt: str, seed: int) -> bytes:
    """Random pixels: they do not compress, so the encoded size is predictable (and large)."""
    w, h = size
    img = Image.frombytes("RGB", size, random.Random(seed).randbytes(w * h * 3))
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def sniffed_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "unknown"


# member -> original bytes; sizes chosen around THRESHOLD_KB
MEMBERS = {
    "01.png": _noise((1400, 60), "PNG", 1),     # wide and heavy: scaled to 1064 px and re-encoded
    "02.png": _noise((300, 200), "PNG", 2),     # heavy but narrow: re-encoded as JPEG, not enlarged
    "03.png": _noise((40, 40), "PNG", 3),       # light: served as is
    "04.gif": _noise((1200, 40), "GIF", 4),
    "05.webp": _noise((1200, 60), "WEBP", 5),
    "06.jpg": _noise((1300, 60), "JPEG", 6),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer

    for name, data in MEMBERS.items():  # the sizes the cases rely on
        heavy = name != "03.png"
        assert (len(data) > THRESHOLD_KB * 1024) == heavy, (name, len(data))
    srv = LiveServer(tmp_path_factory.mktemp("resize"))
    make_archive(srv.content / "Heavy.cbz", MEMBERS, "cbz")
    srv.start()
    (arc,) = srv.get("/api/archives").json()
    yield srv, arc["arcid"]
    srv.stop()


def _served(srv, arcid: str) -> dict[str, list]:
    """name -> [responses of GET page route, HEAD page route, GET PSE] for every page in page order."""
    urls = srv.get(f"/api/archives/{arcid}/files").json()["pages"]
    assert len(urls) == len(MEMBERS)
    out = {}
    for number, (name, url) in enumerate(zip(sorted(MEMBERS), urls, strict=True), start=1):
        assert url.endswith("path=" + name)
        out[name] = [srv.get(url), srv.request("HEAD", url),
                     srv.get(f"/api/opds/{arcid}/pse", params={"page": number})]
    return out


def _check_types(served: dict[str, list]) -> None:
    for name, (get, head, pse) in served.items():
        for resp in (get, pse):
            assert resp.status_code == 200, (name, resp.text[:200])
            assert resp.headers["Content-Type"] == sniffed_type(resp.content), (name, resp.url)
            assert int(resp.headers["Content-Length"]) == len(resp.content), name
        assert head.status_code == 200
        assert head.headers["Content-Type"] == get.headers["Content-Type"], name


def test_pages_unresized_are_the_members_with_their_types(server):
    srv, arcid = server
    srv.ctx.settings.set("enableresize", 0)
    served = _served(srv, arcid)
    _check_types(served)
    for name, (get, _head, pse) in served.items():
        assert get.content == MEMBERS[name] and pse.content == MEMBERS[name], name


@pytest.mark.parametrize("quality", [50, 80])
def test_resized_pages_carry_the_type_of_the_bytes_sent(server, quality):
    srv, arcid = server
    for key, value in (("enableresize", 1), ("sizethreshold", THRESHOLD_KB), ("readerquality", quality)):
        srv.ctx.settings.set(key, value)
    try:
        served = _served(srv, arcid)
    finally:
        srv.ctx.settings.set("enableresize", 0)
    _check_types(served)
    for name, (get, _head, pse) in served.items():
        original = Image.open(io.BytesIO(MEMBERS[name]))
        for resp in (get, pse):
            if len(MEMBERS[name]) <= THRESHOLD_KB * 1024:
                assert resp.content == MEMBERS[name], name
                continue
            assert resp.headers["Content-Type"] == "image/jpeg", name  # re-encoded, whatever it was
            sent = Image.open(io.BytesIO(resp.content))
            assert sent.format == "JPEG"
            assert sent.width == min(original.width, 1064), (name, sent.size)
            assert abs(sent.height - original.height * sent.width / original.width) <= 1, (name, sent.size)


def test_page_etags_change_with_every_setting_that_changes_the_bytes(server):
    """A client revalidating with If-None-Match must get the new bytes after the resize quality or threshold
    changes (it would keep year-cached stale bytes on a 304 otherwise)."""
    srv, arcid = server
    heavy = next(n for n in sorted(MEMBERS) if len(MEMBERS[n]) > THRESHOLD_KB * 1024)
    number = sorted(MEMBERS).index(heavy) + 1
    url = f"/api/archives/{arcid}/page?path={heavy}"
    seen: dict[str, tuple[bytes, bytes]] = {}
    try:
        for label, settings in (("off", {"enableresize": 0}),
                                ("q50", {"enableresize": 1, "sizethreshold": THRESHOLD_KB, "readerquality": 50}),
                                ("q90", {"enableresize": 1, "sizethreshold": THRESHOLD_KB, "readerquality": 90}),
                                ("high threshold", {"enableresize": 1, "sizethreshold": 100000, "readerquality": 90})):
            for key, value in settings.items():
                srv.ctx.settings.set(key, value)
            page, pse = srv.get(url), srv.get(f"/api/opds/{arcid}/pse", params={"page": number})
            for resp in (page, pse):
                again = srv.get(resp.url.replace(srv.url, ""), headers={"If-None-Match": resp.headers["ETag"]})
                assert again.status_code == 304, label  # the same settings: the same tag
            seen[label] = (page.headers["ETag"], pse.headers["ETag"])
    finally:
        srv.ctx.settings.set("enableresize", 0)
    assert len({tags[0] for tags in seen.values()}) == 4, seen
    assert len({tags[1] for tags in seen.values()}) == 4, seen
