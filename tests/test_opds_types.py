"""OPDS acquisition types from the archive's bytes, and the 0.7-era `GET /api/opds?id=` single entry.

The acquisition link tells a reader which handler to use: it is the container the file really is (its
magic), not what its extension says: a 7z or a tar is never announced as a CBZ, nor a zip named .cbr as a CBR.
"""

from __future__ import annotations

import pytest
from archive_factory import make_archive, make_comic, page_images
from lxml import etree
from test_opds import GRAMMAR_DIR, NS, links, validate

ACQUISITION = "http://opds-spec.org/acquisition"
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"

# file name, format actually written, type announced
FILES = [
    ("plain.cbz", "cbz", "application/vnd.comicbook+zip"),
    ("zip named.cbr", "zip", "application/vnd.comicbook+zip"),
    ("real.cbr", "rar", "application/vnd.comicbook-rar"),
    ("seven.7z", "7z", "application/x-7z-compressed"),
    ("seven named.cbz", "7z", "application/x-7z-compressed"),
    ("tape.tar", "tar", "application/x-tar"),
    ("tape.cbt", "tar", "application/x-tar"),
    ("tape gz.tar.gz", "tar.gz", "application/x-tar"),
    ("doc.pdf", "pdf", "application/pdf"),
    ("book.epub", "epub", "application/epub+zip"),
]


@pytest.fixture(scope="module")
def grammar():
    return etree.RelaxNG(etree.parse(str(GRAMMAR_DIR / "opds_v1.1.rng")))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("opdstypes"))
    for i, (name, fmt, _) in enumerate(FILES):
        if fmt == "pdf":
            make_comic(srv.content / name, 2, "pdf")
        else:  # distinct pages per file: distinct IDs
            make_archive(srv.content / name, {f"{p:02d}.png": img for p, img in
                                              enumerate(page_images(2, (100 + i, 140), "PNG"))}, fmt)
    srv.start()
    srv.ids = {r["filename"] + "." + r["extension"]: r["id"]
               for r in srv.ctx.db.query("SELECT id, filename, extension FROM archives")}
    assert len(srv.ids) == len(FILES), srv.ids
    srv.ctx.settings.set("pagesize", 100)
    yield srv
    srv.stop()


def _id(library, name: str) -> str:
    (found,) = [i for key, i in library.ids.items() if key == name]
    return found


def acquisition(entry) -> str:
    (link,) = links(entry, ACQUISITION)
    return link.get("type")


def test_feed_announces_what_each_file_is(library, grammar):
    resp = library.get("/api/opds")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/xml"
    feed = validate(grammar, resp.content)
    types = {e.findtext("a:id", namespaces=NS).removeprefix("urn:lrr:"): acquisition(e)
             for e in feed.findall("a:entry", NS)}
    assert types == {_id(library, name): mime for name, _, mime in FILES}


@pytest.mark.parametrize(("name", "mime"), [(n, m) for n, _, m in FILES], ids=[n for n, _, _ in FILES])
def test_standalone_entry_type(library, grammar, name, mime):
    resp = library.get(f"/api/opds/{_id(library, name)}")
    assert resp.status_code == 200
    assert acquisition(validate(grammar, resp.content)) == mime


def test_opds_with_id_is_that_entry(library, grammar):
    """0.7-era documents: `GET /api/opds?id=` shows only that archive's entry."""
    arc = _id(library, "seven.7z")
    resp = library.get("/api/opds", params={"id": arc})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/xml"
    entry = validate(grammar, resp.content)
    assert entry.tag == f"{{{NS['a']}}}entry"
    assert entry.findtext("a:id", namespaces=NS) == f"urn:lrr:{arc}"
    assert entry.findall("a:entry", NS) == []
    assert acquisition(entry) == "application/x-7z-compressed"
    # the same document as the modern path, keyed links included
    assert resp.content == library.get(f"/api/opds/{arc}").content
    keyed = library.get("/api/opds", params={"id": arc, "key": library.api_key}).content
    assert keyed == library.get(f"/api/opds/{arc}", params={"key": library.api_key}).content
    # an empty id is no id: the feed
    feed = etree.fromstring(library.get("/api/opds", params={"id": ""}).content)
    assert feed.tag == f"{{{NS['a']}}}feed" and len(feed.findall("a:entry", NS)) == len(FILES)


def test_opds_with_unknown_id(library):
    resp = library.get("/api/opds", params={"id": UNKNOWN})
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert resp.json() == {"operation": "serve_opds_catalog", "error": "This ID doesn&#39;t exist on the server.",
                           "success": 0, "successMessage": ""}
    # as the modern path answers
    modern = library.get(f"/api/opds/{UNKNOWN}")
    assert modern.status_code == 404 and modern.json()["error"] == resp.json()["error"]
    short = library.get("/api/opds", params={"id": "abc"})
    assert short.status_code == 400 and short.json()["errors"] == [
        {"message": "String is too short: 3/40.", "path": "/id"}]
