"""A URL prefix (SEMANTICS §20, `base_url_path`): behind a reverse proxy at /lrr, every URL the server
hands out starts with /lrr, and requests are answered with or without the prefix (proxies differ on
whether they strip it)."""

from __future__ import annotations

import re

import pytest
from archive_factory import make_comic
from lxml import etree
from test_opds import NS, grammar, validate  # noqa: F401 - grammar is a fixture

from lrr_lite import config


@pytest.fixture
def proxied(make_server):
    srv = make_server(config={"base_url_path": "/lrr/"})
    make_comic(srv.content / "Behind a Proxy.cbz", 3, "cbz")
    return srv.start()


def _arcid(srv) -> str:
    return srv.get("/lrr/api/archives").json()[0]["arcid"]


def test_prefix_is_normalised_and_checked():
    def prefix(raw):
        return config.load(None, {"base_url_path": raw}, environ={}).base_url_path

    assert prefix("/lrr/") == "/lrr" and prefix("lrr") == "/lrr" and prefix("/a/b") == "/a/b"
    assert prefix("") == "" and prefix("/") == ""
    assert config.load(None, {}, environ={"LRR_BASE_URL_PATH": "/x"}).base_url_path == "/x"
    for bad in ("/a/../b", "/a//b", "/a?b", "/a#b"):
        with pytest.raises(SystemExit):
            prefix(bad)


def test_api_answers_with_and_without_the_prefix(proxied):
    assert proxied.get("/lrr/api/info").json()["total_archives"] == 1
    assert proxied.get("/api/info").json()["total_archives"] == 1
    # only a whole path segment is a prefix
    reply = proxied.get("/lrrx/api/info")
    assert reply.status_code == 404


def test_page_urls_carry_the_prefix_and_work(proxied):
    pages = proxied.get(f"/lrr/api/archives/{_arcid(proxied)}/files").json()["pages"]
    assert len(pages) == 3 and all(p.startswith("/lrr/api/archives/") for p in pages)
    reply = proxied.get(pages[0])
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/jpeg"


def test_opds_links_carry_the_prefix(proxied, grammar):  # noqa: F811 - the fixture
    arcid = _arcid(proxied)
    for path in ("/lrr/api/opds", f"/lrr/api/opds/{arcid}"):
        doc = validate(grammar, proxied.get(path).content)
        hrefs = [link.get("href") for link in doc.iter(f"{{{NS['a']}}}link")]
        assert hrefs and all(h.startswith("/lrr/") for h in hrefs), hrefs
    pse = next(link.get("href") for link in etree.fromstring(proxied.get(f"/lrr/api/opds/{arcid}").content)
               .iter(f"{{{NS['a']}}}link") if link.get("rel") == "http://vaemendis.net/opds-pse/stream")
    reply = proxied.get(pse.replace("{pageNumber}", "1").replace("{maxWidth}", "600"))
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("image/")


def test_web_pages_link_under_the_prefix(proxied):
    arcid = _arcid(proxied)
    for path in ("/lrr/", f"/lrr/reader?id={arcid}", "/lrr/settings"):
        html = proxied.get(path).text
        urls = re.findall(r'\s(?:href|src|action)="([^"]*)"', html)
        assert urls and all(u.startswith("/lrr/") or u.startswith("?") for u in urls), (path, urls)
        assert 'data-base="/lrr"' in html
        for url in urls:
            if "thumbnail" in url or "/static/" in url:
                assert proxied.get(url.replace("&amp;", "&")).status_code == 200, url


def test_login_redirects_stay_under_the_prefix(proxied):
    proxied.ctx.settings.set("enablepass", True)
    proxied.ctx.settings.set("nofunmode", True)
    reply = proxied.get("/lrr/settings", allow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["Location"].endswith("/lrr/login?next=%2Flrr%2Fsettings")
    reply = proxied.get("/lrr/logout", allow_redirects=False)
    assert reply.status_code == 303 and reply.headers["Location"].endswith("/lrr/")
