"""Natural order across digit-count boundaries (99/100, 999/1000, 9999/10000), where a key that pads
numbers to the wrong width, or compares them as text, swaps neighbours.

Pages (SEMANTICS §2): key = full member path with each digit run printed with at least 4 digits, then
plain code-point order; then covers first and credits (paths starting with `999`, …) last. Runs longer than
4 digits print unchanged, so the reference puts `10000` between `1000` and `1001`: that is LANraragi's
order and clients see it. Titles (§5.4): Sort::Naturally, numbers by value at any length, a digit-initial
title before a letter-initial one. The expected orders below are worked out from those rules by hand.
"""

from __future__ import annotations

import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from archive_factory import make_archive, make_image

# archive name -> (members in the order they are stored, page order per §2)
PAGE_CASES = {
    "Boundary": (
        ["ch/1000.jpg", "ch/99.jpg", "ch/9999.jpg", "ch/999.jpg", "ch/100.jpg", "ch/1001.jpg", "ch/998.jpg"],
        # keys ch/0099 < ch/0100 < ch/0998 < ch/0999 < ch/1000 < ch/1001 < ch/9999
        ["ch/99.jpg", "ch/100.jpg", "ch/998.jpg", "ch/999.jpg", "ch/1000.jpg", "ch/1001.jpg", "ch/9999.jpg"],
    ),
    "Bare": (
        ["1001.jpg", "999.jpg", "1000.jpg", "998.jpg", "p1000.jpg", "p999.jpg"],
        # 0998 < 1000 < 1001 < p0999 < p1000; a path starting with "999" is a credit page: last
        ["998.jpg", "1000.jpg", "1001.jpg", "p999.jpg", "p1000.jpg", "999.jpg"],
    ),
    "Long": (
        ["v/9999.jpg", "v/10000.jpg", "v/1001.jpg", "v/1000.jpg", "v/0999.jpg"],
        # 0999 < 1000 < 10000 ('.' < '0' after "1000", '0' < '1' against "1001") < 1001 < 9999
        ["v/0999.jpg", "v/1000.jpg", "v/10000.jpg", "v/1001.jpg", "v/9999.jpg"],
    ),
}

# titles in §5.4 order: digit-initial first, then numbers by value
TITLES = ["99 Nights", "100 Nights", "999 Nights", "1000 Nights", "Vol 9", "Vol 99", "Vol 100", "Vol 998",
          "Vol 999", "Vol 1000", "Vol 1001", "Vol 9999", "Vol 10000", "Vol 100000"]


def _member_bytes(archive: str, name: str) -> bytes:
    seed = zlib.crc32(f"{archive}/{name}".encode())
    return make_image(24, 32, color=(seed % 256, seed // 256 % 256, seed // 65536 % 256), text=name[-8:])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("natural"))
    for archive, (members, _) in PAGE_CASES.items():
        make_archive(srv.content / f"{archive}.cbz", [(m, _member_bytes(archive, m)) for m in members], "cbz")
    for n in range(len(TITLES)):
        make_archive(srv.content / "titles" / f"t{n:02d}.zip",
                     {"1.jpg": _member_bytes("titles", str(n)), "n.txt": str(n).encode()}, "zip")
    srv.start()
    ids = {a["filename"]: a["arcid"] for a in srv.get("/api/archives").json()}
    # shuffled so that neither the upload order nor the file names give the title order away
    for n in (7, 2, 12, 0, 9, 4, 13, 1, 11, 5, 3, 10, 8, 6):
        arcid = ids[f"t{n:02d}"]
        number = TITLES[n].split()[-1] if TITLES[n].startswith("Vol") else TITLES[n].split()[0]
        resp = srv.put(f"/api/archives/{arcid}/metadata", auth=True,
                       data={"title": TITLES[n], "tags": f"volume:{number}, shelf:numbers"})
        assert resp.status_code == 200, resp.text
    yield srv, ids
    srv.stop()


@pytest.mark.parametrize("archive", list(PAGE_CASES))
def test_page_list_order_across_digit_boundaries(server, archive):
    srv, ids = server
    arcid = ids[archive]
    expected = PAGE_CASES[archive][1]
    urls = srv.get(f"/api/archives/{arcid}/files").json()["pages"]
    assert [parse_qs(urlsplit(u).query)["path"][0] for u in urls] == expected
    assert srv.get(f"/api/archives/{arcid}/metadata").json()["pagecount"] == len(expected)
    for url, name in zip(urls, expected, strict=True):  # each listed URL serves that member's bytes
        resp = srv.get(url)
        assert resp.status_code == 200 and resp.content == _member_bytes(archive, name), name


@pytest.mark.parametrize("archive", list(PAGE_CASES))
def test_page_numbers_follow_the_order(server, archive):
    """A page asked for by its number (OPDS PSE, 1-based) is the N-th page of §2's order."""
    srv, ids = server
    for number, name in enumerate(PAGE_CASES[archive][1], start=1):
        resp = srv.get(f"/api/opds/{ids[archive]}/pse", params={"page": number})
        assert resp.status_code == 200 and resp.content == _member_bytes(archive, name), (number, name)


def test_titles_sort_naturally_across_digit_boundaries(server):
    srv, _ = server
    params = {"filter": "shelf:numbers", "start": -1, "groupby_tanks": "false"}
    asc = [r["title"] for r in srv.get("/api/search", params=params).json()["data"]]
    assert asc == TITLES
    desc = [r["title"] for r in srv.get("/api/search", params={**params, "order": "desc"}).json()["data"]]
    assert desc == TITLES[::-1]


def test_namespace_values_sort_naturally_across_digit_boundaries(server):
    srv, _ = server
    params = {"filter": "shelf:numbers", "start": -1, "groupby_tanks": "false", "sortby": "volume"}
    values = [int(r["tags"].split(",")[0].removeprefix("volume:")) for r in
              srv.get("/api/search", params=params).json()["data"]]
    assert values == sorted(values) and len(values) == len(TITLES)
