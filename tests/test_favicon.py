"""/favicon.ico is a real ICO (readers and the OPDS <icon> fetch it); the pages keep linking the SVG."""

from __future__ import annotations

import io

from PIL import Image


def close(got: tuple, want: tuple, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=True))


def test_favicon_is_an_ico(make_server):
    srv = make_server().start()
    resp = srv.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "image/x-icon"
    assert resp.content[:4] == b"\x00\x00\x01\x00"  # ICONDIR, type 1 = icon
    with Image.open(io.BytesIO(resp.content)) as im:
        assert im.format == "ICO"
        assert {(16, 16), (32, 32), (48, 48)} <= set(im.info["sizes"])
        im.size = (16, 16)
        im.load()
        # the SVG's drawing: the blue square, the white "L"
        rgba = im.convert("RGBA")
        assert close(rgba.getpixel((2, 8)), (0x2B, 0x6C, 0xB0, 255))
        assert close(rgba.getpixel((5, 8)), (255, 255, 255, 255))
    again = srv.get("/favicon.ico", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    head = srv.request("HEAD", "/favicon.ico")
    assert head.status_code == 200 and head.headers["Content-Type"] == "image/x-icon"
    # browsers are pointed at the SVG, which is still served as SVG
    html = srv.get("/").text
    assert 'type="image/svg+xml"' in html
    svg = srv.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
