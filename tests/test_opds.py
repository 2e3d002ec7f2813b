"""OPDS (SEMANTICS §15): every feed validates against the OPDS RelaxNG grammar, PSE readers get every page,
OpenSearch answers like /api/search, progress through PSE, keys and No-Fun mode."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from archive_factory import make_archive, make_comic, page_images
from lxml import etree
from PIL import Image
from spec_data import OPDS_GRAMMAR

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR_DIR = OPDS_GRAMMAR

NS = {"a": "http://www.w3.org/2005/Atom", "opds": "http://opds-spec.org/2010/catalog",
      "pse": "http://vaemendis.net/opds-pse/ns", "thr": "http://purl.org/syndication/thread/1.0",
      "os": "http://a9.com/-/spec/opensearch/1.1/", "dcterms": "http://purl.org/dc/terms/"}
ACQ = "application/atom+xml;profile=opds-catalog;kind=acquisition"
STREAM = "http://vaemendis.net/opds-pse/stream"
NASTY = "Tom & Jerry <b>\"quoted\"</b> l'été — 日本語 🎌"


@pytest.fixture(scope="module")
def grammar():
    return etree.RelaxNG(etree.parse(str(GRAMMAR_DIR / "opds_v1.1.rng")))


def validate(grammar, body: bytes) -> etree._Element:
    """Parse a served document and check it against the grammar, URI-template placeholders substituted
    as the grammar's README says (braces are not legal in a URI)."""
    text = body.decode("utf-8")
    for placeholder, value in (("{pageNumber}", "0"), ("{maxWidth}", "1200"), ("{searchTerms}", "x")):
        text = text.replace(placeholder, value)
    doc = etree.fromstring(text.encode("utf-8"))
    assert grammar.validate(doc), str(grammar.error_log)
    return etree.fromstring(body)


def links(el, rel: str) -> list[etree._Element]:
    return el.findall(f"a:link[@rel='{rel}']", NS)


def href(el, rel: str) -> str:
    (link,) = links(el, rel)
    return link.get("href")


def entry_ids(feed) -> list[str]:
    return [e.findtext("a:id", namespaces=NS).removeprefix("urn:lrr:") for e in feed.findall("a:entry", NS)]


def stream_link(entry) -> etree._Element:
    (link,) = links(entry, STREAM)
    return link


def zip_pages(path: Path) -> list[bytes]:
    with zipfile.ZipFile(path) as zf:
        return [zf.read(n) for n in sorted(zf.namelist())]


@pytest.fixture
def library(make_server, tmp_path):
    """Six archives (a big-paged one, a PDF, a nasty title), page size 2, a static and a dynamic category."""
    server = make_server()
    files = {
        "alpha": make_comic(server.content / "alpha.cbz", 3, "cbz"),
        "bravo": make_comic(server.content / "bravo.cbz", 5, "cbz", size=(900, 1200)),
        "charlie": make_comic(server.content / "charlie.cbz", 1, "cbz", size=(130, 170)),
        "delta": make_comic(server.content / "delta.cbz", 4, "cbz", size=(140, 180)),
        "echo": make_comic(server.content / "echo.pdf", 2, "pdf"),
        "nasty": make_archive(server.content / "nasty.cbr", {f"{i:02d}.png": img for i, img in
                                                             enumerate(page_images(2, (150, 100), "PNG"))}, "zip"),
    }
    server.start()
    ids = {}
    for row in server.ctx.db.query("SELECT id, filename FROM archives"):
        ids[row["filename"]] = row["id"]
    meta = {
        "alpha": ("Alpha Book", "artist:ann:extra, language:english, group:grp, event:comiket 99, date_added:1700000000"),
        "bravo": ("bravo book", "artist:bob, date_added:1600000000, fruit:banana"),
        "charlie": ("Charlie", "fruit:cherry"),
        "delta": ("Delta Book", "fruit:banana, language:japanese"),
        "echo": ("Echo PDF", "fruit:none"),
        "nasty": (NASTY + "\x01", "artist:<&>\"', fruit:banana"),
    }
    for short, (title, tags) in meta.items():
        r = server.put(f"/api/archives/{ids[short]}/metadata", auth=True, data={"title": title, "tags": tags})
        assert r.status_code == 200, r.text
    server.ctx.settings.set("pagesize", 2)
    with server.ctx.db.write() as conn:
        conn.execute("DELETE FROM categories")
        conn.execute("INSERT INTO categories(id, name, search, pinned) VALUES "
                     "('SET_1', 'Zed static', '', 0), ('SET_2', 'bananas', 'fruit:banana', 0), "
                     "('SET_3', 'empty', '', 0)")
        conn.executemany("INSERT INTO category_archives(category_id, archive_id, position) VALUES ('SET_1', ?, ?)",
                         [(ids["alpha"], 0), (ids["delta"], 1), (ids["charlie"], 2)])
    server.ids = ids
    server.files = files
    return server


def all_pages(server, path: str = "/api/opds", **params) -> list[etree._Element]:
    """Follow rel=next from the given feed page to the end."""
    feeds = []
    url = server.url + path + ("?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items()) if params else "")
    while url:
        r = server.session.get(url, timeout=30)
        assert r.status_code == 200, r.text
        feed = etree.fromstring(r.content)
        feeds.append(feed)
        nxt = links(feed, "next")
        url = urljoin(url, nxt[0].get("href")) if nxt else None
        assert len(feeds) < 50
    return feeds


# -- validation of every kind of document --------------------------------------------------------------------


def test_every_feed_validates(library, grammar):
    s = library
    ids = s.ids
    urls = ["/api/opds", "/api/opds?start=2", "/api/opds?start=4", "/api/opds?start=400",
            "/api/opds?category=SET_1", "/api/opds?category=SET_1&start=2", "/api/opds?category=SET_2",
            "/api/opds?category=SET_3", "/api/opds?filter=" + quote("fruit:banana"),
            "/api/opds?filter=" + quote('"Tom & Jerry"'), "/api/opds?filter=nothingmatches",
            "/api/opds?key=" + quote(s.api_key), f"/api/opds/{ids['nasty']}", f"/api/opds/{ids['alpha']}",
            f"/api/opds/{ids['echo']}?key={quote(s.api_key)}"]
    for url in urls:
        r = s.get(url)
        assert r.status_code == 200, (url, r.text)
        assert r.headers["Content-Type"] == "application/xml", url
        assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        validate(grammar, r.content)
    s.ctx.settings.set("htmltitle", "Mine & <yours> \"'")
    s.ctx.settings.set("motd", "héllo 🎌 & <b>")
    validate(grammar, s.get("/api/opds").content)


def test_empty_library_validates(make_server, grammar):
    server = make_server().start()
    r = server.get("/api/opds")
    assert r.status_code == 200
    feed = validate(grammar, r.content)
    assert feed.findall("a:entry", NS) == []
    assert feed.findtext("os:totalResults", namespaces=NS) == "0"
    assert links(feed, "next") == [] and links(feed, "previous") == []


# -- the feed ------------------------------------------------------------------------------------------------


def test_feed_skeleton_and_entries(library):
    s, ids = library, library.ids
    feed = etree.fromstring(s.get("/api/opds").content)
    assert feed.findtext("a:id", namespaces=NS) == "urn:lrr:0"
    assert feed.findtext("a:title", namespaces=NS) == "lrr_lite"  # the default title (htmltitle)
    assert feed.findtext("a:updated", namespaces=NS) == "2010-01-10T10:03:10Z"
    assert feed.findtext("a:icon", namespaces=NS) == "/favicon.ico"
    assert feed.findtext("a:author/a:name", namespaces=NS) == s.get("/api/info").json()["version"]
    assert href(feed, "start") == "/api/opds"
    for rel in ("self", "start", "first", "last", "next"):
        assert links(feed, rel)[0].get("type") == ACQ
    assert feed.findtext("os:totalResults", namespaces=NS) == "6"
    assert feed.findtext("os:itemsPerPage", namespaces=NS) == "2"
    assert feed.findtext("os:startIndex", namespaces=NS) == "1"
    # natural title order, archives_per_page entries
    assert entry_ids(feed) == [ids["alpha"], ids["bravo"]]

    e = feed.find("a:entry", NS)
    assert e.findtext("a:title", namespaces=NS) == "Alpha Book"
    assert e.findtext("a:updated", namespaces=NS) == "2023-11-14T22:13:20Z"
    assert e.findtext("a:published", namespaces=NS) == "2023-11-14T22:13:20Z"
    assert e.findtext("a:author/a:name", namespaces=NS) == "ann"
    assert e.findtext("dcterms:language", namespaces=NS) == "english"
    assert e.findtext("dcterms:publisher", namespaces=NS) == "grp"
    assert e.findtext("dcterms:issued", namespaces=NS) == "comiket 99"
    assert e.find("a:category", NS).get("term") == "New Archive"
    assert e.findtext("a:summary", namespaces=NS).startswith("artist:ann:extra,language:english")
    a = ids["alpha"]
    alt = [link for link in links(e, "alternate") if link.get("type") != "text/html"][0]
    assert alt.get("href") == f"/api/opds/{a}"
    assert href(e, "http://opds-spec.org/image") == f"/api/archives/{a}/thumbnail"
    assert href(e, "http://opds-spec.org/image/thumbnail") == f"/api/archives/{a}/thumbnail"
    acq = links(e, "http://opds-spec.org/acquisition")[0]
    assert acq.get("href") == f"/api/archives/{a}/download" and acq.get("type") == "application/vnd.comicbook+zip"
    stream = stream_link(e)
    assert stream.get("type") == "image/jpeg"
    assert stream.get(f"{{{NS['pse']}}}count") == "3"
    assert stream.get(f"{{{NS['pse']}}}lastRead") is None
    # literally, never percent-encoded, on the wire too
    assert "{pageNumber}" in stream.get("href") and "{maxWidth}" in stream.get("href")
    assert b"%7BpageNumber%7D" not in s.get("/api/opds").content

    # per-format MIME types, the nasty title escaped and round-tripped, no date -> epoch
    rows = {i: e for f in all_pages(s) for i, e in zip(entry_ids(f), f.findall("a:entry", NS), strict=True)}
    assert links(rows[ids["echo"]], "http://opds-spec.org/acquisition")[0].get("type") == "application/pdf"
    # a zip named .cbr is announced as what it is (tests/test_opds_types.py covers every kind)
    assert links(rows[ids["nasty"]], "http://opds-spec.org/acquisition")[0].get("type") == \
        "application/vnd.comicbook+zip"
    nasty = rows[ids["nasty"]]
    assert nasty.findtext("a:title", namespaces=NS) == NASTY  # the control character dropped
    assert nasty.findtext("a:author/a:name", namespaces=NS) == "<&>\"'"
    assert rows[ids["charlie"]].findtext("a:updated", namespaces=NS) == "1970-01-01T00:00:00Z"
    assert len(rows) == 6


def test_pagination_links_keep_category_filter_and_key(library):
    s = library
    key = s.api_key
    feed = etree.fromstring(s.get(f"/api/opds?category=SET_1&start=0&key={key}").content)
    assert feed.findtext("os:totalResults", namespaces=NS) == "3"
    for rel in ("self", "first", "next", "last"):
        q = parse_qs(urlsplit(href(feed, rel)).query)
        assert q["category"] == ["SET_1"] and q["key"] == [key], rel
    assert parse_qs(urlsplit(href(feed, "next")).query)["start"] == ["2"]
    assert parse_qs(urlsplit(href(feed, "last")).query)["start"] == ["2"]
    assert links(feed, "previous") == []
    page2 = etree.fromstring(s.session.get(urljoin(s.url, href(feed, "next")), timeout=30).content)
    assert links(page2, "next") == []
    prev = parse_qs(urlsplit(href(page2, "previous")).query)
    assert prev["category"] == ["SET_1"] and prev["key"] == [key] and "start" not in prev
    # every link of every entry carries the key
    for link in page2.iter(f"{{{NS['a']}}}link"):
        assert "key=" + key in link.get("href"), link.get("href")
    # walking the pages gives every member once
    got = [i for f in all_pages(s, category="SET_1") for i in entry_ids(f)]
    assert sorted(got) == sorted([s.ids["alpha"], s.ids["delta"], s.ids["charlie"]])
    flt = etree.fromstring(s.get("/api/opds?filter=fruit:banana").content)
    assert parse_qs(urlsplit(href(flt, "next")).query)["filter"] == ["fruit:banana"]


def test_category_facets(library):
    s = library
    feed = etree.fromstring(s.get("/api/opds").content)
    facets = links(feed, "http://opds-spec.org/facet")
    assert [f.get("title") for f in facets] == ["All Archives", "bananas", "empty", "Zed static"]
    assert all(f.get(f"{{{NS['opds']}}}facetGroup") == "Categories" for f in facets)
    active = [f.get("title") for f in facets if f.get(f"{{{NS['opds']}}}activeFacet") == "true"]
    assert active == ["All Archives"]
    counts = {f.get("title"): f.get(f"{{{NS['thr']}}}count") for f in facets}
    assert counts == {"All Archives": None, "bananas": None, "empty": None, "Zed static": "3"}
    assert facets[3].get("href") == "/api/opds?category=SET_1"

    feed = etree.fromstring(s.get("/api/opds?category=SET_2").content)
    facets = links(feed, "http://opds-spec.org/facet")
    assert [f.get("title") for f in facets if f.get(f"{{{NS['opds']}}}activeFacet")] == ["bananas"]
    got = [i for f in all_pages(s, category="SET_2") for i in entry_ids(f)]
    assert sorted(got) == sorted([s.ids["bravo"], s.ids["delta"], s.ids["nasty"]])


def test_standalone_entry(library, grammar):
    s, a = library, library.ids["alpha"]
    r = s.get(f"/api/opds/{a}?key={s.api_key}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/xml"
    entry = validate(grammar, r.content)
    assert entry.tag == f"{{{NS['a']}}}entry"
    assert href(entry, "self") == f"/api/opds/{a}?key={s.api_key}"
    assert href(entry, "start") == f"/api/opds?key={s.api_key}"
    assert "kind=navigation" in links(entry, "start")[0].get("type")
    assert entry.findtext("a:id", namespaces=NS) == f"urn:lrr:{a}"
    assert stream_link(entry).get(f"{{{NS['pse']}}}count") == "3"
    assert s.get("/api/opds/" + "0" * 40).status_code == 404
    assert s.get("/api/opds/short").status_code == 400


# -- PSE -----------------------------------------------------------------------------------------------------


def test_pse_reader_walks_every_page(library):
    """As KOReader does: the stream template, {pageNumber} = 0 .. count-1, {maxWidth} = the screen."""
    s = library
    seen = 0
    for feed in all_pages(s):
        for entry in feed.findall("a:entry", NS):
            arc_id = entry_ids_one(entry)
            link = stream_link(entry)
            count = int(link.get(f"{{{NS['pse']}}}count"))
            template = link.get("href")
            assert template.count("{pageNumber}") == 1
            got = []
            for n in range(count):
                url = urljoin(s.url, template.replace("{pageNumber}", str(n)).replace("{maxWidth}", "2000"))
                r = s.session.get(url, timeout=30)
                assert r.status_code == 200, r.text
                assert r.headers["Content-Type"].startswith("image/")
                got.append(r.content)
            expected = [s.get(p).content for p in
                        (u for u in s.get(f"/api/archives/{arc_id}/files").json()["pages"])]
            assert got == expected, arc_id
            assert len(set(got)) == count  # distinct pages, the last one included
            seen += 1
    assert seen == 6


def entry_ids_one(entry) -> str:
    return entry.findtext("a:id", namespaces=NS).removeprefix("urn:lrr:")


def test_pse_max_width_downscales(library):
    s, b = library, library.ids["bravo"]
    r = s.get(f"/api/opds/{b}/pse?page=4&base=0&width=300")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.width <= 300 and im.size == (300, 400)
    cached = list((s.ctx.config.temp / "pse").iterdir())
    assert len(cached) == 1
    again = s.get(f"/api/opds/{b}/pse?page=4&base=0&width=300")
    assert again.content == r.content
    # small pages are never enlarged; a placeholder a client left unfilled means no resize
    small = s.get(f"/api/opds/{b}/pse?page=4&base=0&width=5000").content
    assert small == zip_pages(s.files["bravo"])[4]
    assert s.get(f"/api/opds/{b}/pse?page=0&base=0&width={{maxWidth}}").content == zip_pages(s.files["bravo"])[0]
    # ETag revalidation
    etag = r.headers["ETag"]
    assert s.get(f"/api/opds/{b}/pse?page=4&base=0&width=300", headers={"If-None-Match": etag}).status_code == 304


def test_pse_page_numbering(library):
    s, d = library, library.ids["delta"]
    pages = zip_pages(s.files["delta"])  # 4 pages

    def get(query: str) -> bytes:
        r = s.get(f"/api/opds/{d}/pse?{query}")
        assert r.status_code == 200, r.text
        return r.content

    # the feed's template: 0-based, as the PSE spec says
    assert [get(f"page={n}&base=0") for n in range(4)] == pages
    assert get("page=9&base=0") == pages[3]
    # LANraragi's numbering (no base): 0 and 1 -> first, N -> N-th, beyond -> last
    assert get("page=0") == pages[0] and get("page=1") == pages[0]
    assert [get(f"page={n}") for n in (2, 3, 4)] == pages[1:]
    assert get("page=99") == pages[3]
    assert get("") == pages[0]
    assert get("page=%7BpageNumber%7D") == pages[0]  # an old client requesting the template itself


def test_pse_updates_progress(library):
    s, d = library, library.ids["delta"]

    def progress() -> int:
        return s.get(f"/api/archives/{d}/metadata").json()["progress"]

    read_before = s.get("/api/info").json()["total_pages_read"]
    s.get(f"/api/opds/{d}/pse?page=0&base=0")
    assert progress() == 1
    s.get(f"/api/opds/{d}/pse?page=1")  # same page 1 in LANraragi numbering: not counted twice
    s.get(f"/api/opds/{d}/pse?page=2&base=0")
    assert progress() == 3
    assert s.get("/api/info").json()["total_pages_read"] == read_before + 2
    entry = etree.fromstring(s.get(f"/api/opds/{d}").content)
    link = stream_link(entry)
    assert link.get(f"{{{NS['pse']}}}lastRead") == "3"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", link.get(f"{{{NS['pse']}}}lastReadDate"))

    s.ctx.settings.set("localprogress", 1)  # client-side tracking: PSE reads leave progress alone
    s.get(f"/api/opds/{d}/pse?page=3&base=0")
    assert progress() == 3
    s.ctx.settings.set("localprogress", 0)
    s.ctx.settings.set("authprogress", 1)  # authenticated progress: only keyed reads count
    s.get(f"/api/opds/{d}/pse?page=3&base=0")
    assert progress() == 3
    s.get(f"/api/opds/{d}/pse?page=3&base=0&key={s.api_key}")
    assert progress() == 4


# -- search --------------------------------------------------------------------------------------------------


def api_search_ids(s, terms: str, category: str | None = None) -> list[str]:
    params = {"filter": terms, "start": "-1", "groupby_tanks": "false"}
    if category:
        params["category"] = category
    return [a["arcid"] for a in s.get("/api/search", params=params).json()["data"]]


@pytest.mark.parametrize("terms", ["fruit:banana", "book", '"Tom & Jerry"', "日本語", "-fruit:banana", "zzz"])
def test_opensearch_like_koreader(library, grammar, terms):
    """KOReader: the feed's rel=search OpenSearch description, its Url template, {searchTerms} filled."""
    s = library
    feed = etree.fromstring(s.get(f"/api/opds?key={s.api_key}").content)
    (desc_link,) = [x for x in links(feed, "search") if x.get("type") == "application/opensearchdescription+xml"]
    r = s.session.get(urljoin(s.url + "/api/opds", desc_link.get("href")), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/opensearchdescription+xml"
    desc = etree.fromstring(r.content)
    urls = desc.findall("os:Url", NS)
    template = next(u.get("template") for u in urls if "application/atom+xml" in u.get("type"))
    assert "{searchTerms}" in template and f"key={s.api_key}" in template
    got = []
    url = template.replace("{searchTerms}", quote(terms, safe=""))
    while url:
        page = s.session.get(url, timeout=30)
        assert page.status_code == 200
        f = validate(grammar, page.content)
        got += entry_ids(f)
        nxt = links(f, "next")
        url = urljoin(url, nxt[0].get("href")) if nxt else None
    assert sorted(got) == sorted(api_search_ids(s, terms))


@pytest.mark.parametrize("terms", ["fruit:banana", "book", "charlie"])
def test_atom_search_template_like_librera(library, terms):
    """Librera: the rel=search Atom link's href template, filled and resolved against the feed URL."""
    s = library
    base = s.url + "/api/opds?category=SET_1"
    feed = etree.fromstring(s.session.get(base, timeout=30).content)
    (tpl,) = [x for x in links(feed, "search") if x.get("type") == "application/atom+xml"]
    url = urljoin(base, tpl.get("href").replace("{searchTerms}", quote(terms, safe="")))
    f = etree.fromstring(s.session.get(url, timeout=30).content)
    assert int(f.findtext("os:totalResults", namespaces=NS)) == len(api_search_ids(s, terms, "SET_1"))
    got = [i for p in all_pages(s, filter=terms, category="SET_1") for i in entry_ids(p)]
    assert sorted(got) == sorted(api_search_ids(s, terms, "SET_1"))
    # without a category the same template searches everything
    got = [i for p in all_pages(s, filter=terms) for i in entry_ids(p)]
    assert sorted(got) == sorted(api_search_ids(s, terms))


# -- auth ----------------------------------------------------------------------------------------------------


def test_no_fun_mode_needs_the_key(library):
    s, a = library, library.ids["alpha"]
    s.ctx.settings.set("nofunmode", 1)
    for path in ("/api/opds", f"/api/opds/{a}", f"/api/opds/{a}/pse?page=0&base=0", "/api/opds/opensearch.xml"):
        assert s.get(path).status_code == 401, path
        joiner = "&" if "?" in path else "?"
        assert s.get(f"{path}{joiner}key={s.api_key}").status_code == 200, path
    feed = etree.fromstring(s.get(f"/api/opds?key={s.api_key}").content)
    template = stream_link(feed.find("a:entry", NS)).get("href")
    url = urljoin(s.url, template.replace("{pageNumber}", "0").replace("{maxWidth}", "600"))
    assert s.session.get(url, timeout=30).status_code == 200


def test_lenient_parameters(library):
    s = library
    for query in ("start=abc", "start=-5", "start="):
        feed = etree.fromstring(s.get(f"/api/opds?{query}").content)
        assert entry_ids(feed) == [s.ids["alpha"], s.ids["bravo"]], query
    r = s.request("HEAD", f"/api/opds/{s.ids['delta']}/pse?page=2&base=0")
    assert r.status_code == 200 and r.content == b""
    assert s.get(f"/api/archives/{s.ids['delta']}/metadata").json()["progress"] == 0  # HEAD is no read
