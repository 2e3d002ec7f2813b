"""OPDS 2.0 (JSON) catalog and one Readium Web Publication Manifest per archive, under /api/opds2.

Why /api/opds2: it sits beside LANraragi's /api/opds (OPDS 1.2) under /api, so the ApiPlugin gives it the
same No-Fun mode, `?key=` and CORS rules, an unknown path there gets the API's JSON 404, and a reverse
proxy that already forwards /api needs no new rule. LANraragi has no /api/opds2, so no client of it is
surprised by the name. Each catalog links the other with rel="alternate".

Documents (OPDS 2.0 draft, Readium webpub-manifest; tests/data/opds2 holds their JSON Schemas):
- GET /api/opds2: the root navigation feed (all archives, new archives, categories), search template.
- GET /api/opds2/categories: navigation feed, one entry per category.
- GET /api/opds2/publications?query=&category=&new=1&page=N: one page of publications, the same search,
  order and page size (`pagesize`, LANraragi's archives_per_page) as /api/opds (library/catalog.py), with
  first/previous/next/last links, category and "new" facets, and the search template
  ``/api/opds2/publications{?query}`` (RFC 6570; `query` is /api/search's filter grammar).
- GET /api/opds2/archives/{id}/manifest.json: the archive as a Divina publication (images read in order);
  `readingOrder` has one entry per page in LANraragi's order. Its hrefs are the PSE page URLs of
  /api/opds (0-based `page`, `base=0`): the same bytes as /api/archives/{id}/page, and reading a page moves
  the archive's progress exactly as an OPDS 1 PSE read does. Each entry's type comes from the page's name;
  no width/height are given, as they would cost decoding each page's header (not cheap in a zip).

Every href carries `?key=` when the request had one, as the OPDS 1 feeds do (clients that keep a feed URL
with its key then reach every linked document). Feeds are `application/opds+json`, manifests
`application/webpub+json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bottle

from lrr_lite.errors import NotFound
from lrr_lite.http import feeds
from lrr_lite.http.api.common import check_archive_id, dumps, param
from lrr_lite.library import catalog, pages, records
from lrr_lite.library.tags import split_tags
from lrr_lite.media import formats

ROOT = feeds.OPDS2_ROOT
FEED_TYPE = feeds.OPDS2_TYPE
MANIFEST_TYPE = "application/webpub+json"
DIVINA = "https://readium.org/webpub-manifest/profiles/divina"
ACQUISITION_REL = "http://opds-spec.org/acquisition"
PUBLICATIONS = ROOT + "/publications"
CATEGORIES = ROOT + "/categories"

# LANraragi's `language:` tags are English names; the schemas want BCP 47 tags. Names not listed here are
# left out rather than guessed.
LANGUAGES = {
    "english": "en", "japanese": "ja", "chinese": "zh", "korean": "ko", "french": "fr", "german": "de",
    "spanish": "es", "italian": "it", "portuguese": "pt", "russian": "ru", "polish": "pl", "dutch": "nl",
    "thai": "th", "vietnamese": "vi", "indonesian": "id", "turkish": "tr", "arabic": "ar", "czech": "cs",
    "hungarian": "hu", "swedish": "sv", "finnish": "fi", "ukrainian": "uk", "greek": "el", "hebrew": "he",
    "tagalog": "tl", "norwegian": "no", "danish": "da", "romanian": "ro", "catalan": "ca", "latin": "la",
}  # fmt: skip


def manifest_path(archive_id: str) -> str:
    return f"{ROOT}/archives/{archive_id}/manifest.json"


_link = feeds.link_fields  # OPDS 2 link objects carry the same fields as OPDS 1's <link>


def search_template(links: feeds.Links, category: str | None = None) -> dict[str, Any]:
    """The `search` link: an RFC 6570 template whose one variable is `query` (OPDS 2.0 §3)."""
    base = links.url(PUBLICATIONS, [("category", category)])
    href = base + ("{&query}" if "?" in base else "{?query}")
    return _link(href, FEED_TYPE, "search", "Search", templated=True)


def _values(tags: Sequence[str], namespace: str) -> list[str]:
    prefix = namespace + ":"
    return [t[len(prefix):].strip() for t in tags if t.lower().startswith(prefix) and t[len(prefix):].strip()]


def _metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a reader shows of an archive: title, identifier, dates, artists, groups, language, tags, pages."""
    tags = split_tags(row["tags"])
    meta: dict[str, Any] = {"@type": "http://schema.org/Book", "title": row["title"] or row["filename"],
                            "identifier": f"urn:lrr:{row['id']}", "conformsTo": DIVINA}
    added = feeds.first_value(tags, "date_added")
    if added:
        meta["modified"] = meta["published"] = feeds.timestamp(added)
    for key, namespace in (("author", "artist"), ("publisher", "group")):
        names = _values(tags, namespace)
        if names:
            meta[key] = names
    language = LANGUAGES.get(feeds.first_value(tags, "language").lower())
    if language:
        meta["language"] = language
    subjects = [t for t in tags if not t.lower().startswith("date_added:")]
    if subjects:
        meta["subject"] = subjects
    if int(row["pagecount"] or 0) > 0:
        meta["numberOfPages"] = int(row["pagecount"])
    return meta


def _thumbnail(links: feeds.Links, archive_id: str) -> str:
    return links.url(f"/api/archives/{archive_id}/thumbnail")


def _download(links: feeds.Links, row: Mapping[str, Any], kind: str | None) -> dict[str, Any]:
    """The acquisition link: the OPDS 1 feed's download URL and type (the container read from the file)."""
    return _link(links.url(f"/api/archives/{row['id']}/download"), feeds.acquisition_type(kind, row["extension"]),
                 ACQUISITION_REL, "Download")


def publication(row: Mapping[str, Any], links: feeds.Links, kind: str | None, first_page: str | None) -> dict:
    """An archive in a feed: an OPDS Publication linking its manifest (self) and its file (acquisition), with
    the thumbnail and, when the first page's name is known, the full-size cover (/api/archives/{id}/page,
    which does not move the reading progress as a PSE read would)."""
    archive_id = row["id"]
    images = [_link(_thumbnail(links, archive_id), "image/jpeg", title="Thumbnail")]
    if first_page:
        images.append(_link(links.url(f"/api/archives/{archive_id}/page", [("path", first_page)]),
                            formats.sniff_mime(b"", first_page), title="Cover"))
    return {"metadata": _metadata(row),
            "links": [_link(links.url(manifest_path(archive_id)), MANIFEST_TYPE, "self"),
                      _download(links, row, kind)],
            "images": images}


def _feed_links(links: feeds.Links, self_href: str, category: str | None) -> list[dict[str, Any]]:
    return [_link(self_href, FEED_TYPE, "self"), _link(links.url(ROOT), FEED_TYPE, "start"),
            search_template(links, category)]


def root_document(site_title: str, links: feeds.Links) -> dict[str, Any]:
    return {
        "metadata": {"title": site_title},
        "links": [*_feed_links(links, links.url(ROOT), None),
                  _link(links.url("/api/opds"), feeds.ACQUISITION, "alternate", "OPDS 1.2 catalog")],
        "navigation": [_link(links.url(PUBLICATIONS), FEED_TYPE, title="All archives"),
                       _link(links.url(PUBLICATIONS, [("new", 1)]), FEED_TYPE, title="New archives"),
                       _link(links.url(CATEGORIES), FEED_TYPE, title="Categories")],
    }


def _count(cat: catalog.Category) -> dict[str, Any]:
    return {"properties": {"numberOfItems": cat.count}} if cat.count is not None else {}


def categories_document(site_title: str, cats: list[catalog.Category], links: feeds.Links) -> dict[str, Any]:
    navigation = [_link(links.url(PUBLICATIONS), FEED_TYPE, title="All archives")]
    for cat in sorted(cats, key=lambda c: c.name.lower()):
        navigation.append(_link(links.url(PUBLICATIONS, [("category", cat.id)]), FEED_TYPE, title=cat.name,
                                **_count(cat)))
    return {"metadata": {"title": f"{site_title}: categories"},
            "links": _feed_links(links, links.url(CATEGORIES), None), "navigation": navigation}


def feed_document(site_title: str, page: catalog.Page, links: feeds.Links, *, query: str, category: str | None,
                  newonly: bool, cats: list[catalog.Category], kinds: Mapping[str, str | None],
                  first_pages: Mapping[str, str]) -> dict[str, Any]:
    """One page of publications with its paging links and facets (each facet keeps the search)."""
    window = page.window
    n = window.per_page
    selected = category if any(c.id == category for c in cats) else None

    def href(number: int | None = None, *, cat: str | None = selected, new: bool = newonly) -> str:
        return links.url(PUBLICATIONS, [("query", query or None), ("category", cat), ("new", 1 if new else None),
                                        ("page", number if number and number > 1 else None)])

    def number(start: int) -> int:
        return start // n + 1

    current = number(window.start)
    feed_links = _feed_links(links, href(current), selected)
    feed_links.append(_link(href(1), FEED_TYPE, "first"))
    if window.previous is not None:
        feed_links.append(_link(href(number(window.previous)), FEED_TYPE, "previous"))
    if window.next is not None:
        feed_links.append(_link(href(number(window.next)), FEED_TYPE, "next"))
    feed_links.append(_link(href(number(window.last)), FEED_TYPE, "last"))
    feed_links.append(_link(links.url("/api/opds", [("category", selected), ("filter", query or None)]),
                            feeds.ACQUISITION, "alternate", "OPDS 1.2 catalog"))
    title = next((c.name for c in cats if c.id == selected), "New archives" if newonly else "All archives")
    if query:
        title = f"{title}: {query}"
    doc: dict[str, Any] = {
        "metadata": {"title": f"{site_title}: {title}", "numberOfItems": window.total, "itemsPerPage": n,
                     "currentPage": current},
        "links": feed_links,
        "facets": [
            {"metadata": {"title": feeds.FACET_GROUP},
             "links": [_link(href(cat=None), FEED_TYPE, "self" if selected is None else None, "All Archives"),
                       *(_link(href(cat=c.id), FEED_TYPE, "self" if c.id == selected else None, c.name,
                               **_count(c)) for c in sorted(cats, key=lambda c: c.name.lower()))]},
            {"metadata": {"title": "Show"},
             "links": [_link(href(new=False), FEED_TYPE, None if newonly else "self", "All"),
                       _link(href(new=True), FEED_TYPE, "self" if newonly else None, "New only")]},
        ],
    }
    if page.rows:
        doc["publications"] = [publication(r, links, kinds.get(r["id"]), first_pages.get(r["id"]))
                               for r in page.rows]
    else:  # an OPDS 2 feed holds publications or navigation, never an empty list: the way back
        doc["navigation"] = [_link(links.url(ROOT), FEED_TYPE, title="Back to the catalog")]
    return doc


def manifest_document(row: Mapping[str, Any], page_names: list[str], toc: list[dict[str, Any]],
                      links: feeds.Links, kind: str | None) -> dict[str, Any]:
    """The archive as a Readium Web Publication (Divina profile): one readingOrder entry per page, in order."""
    archive_id = row["id"]
    reading = [_link(links.url(f"/api/opds/{archive_id}/pse", [("page", i), ("base", 0)]),
                     formats.sniff_mime(b"", name)) for i, name in enumerate(page_names)]
    doc: dict[str, Any] = {
        "@context": "https://readium.org/webpub-manifest/context.jsonld",
        "metadata": _metadata(row),
        "links": [_link(links.url(manifest_path(archive_id)), MANIFEST_TYPE, "self"),
                  {**_download(links, row, kind), "rel": "alternate"}],
        "readingOrder": reading,
        "resources": [_link(_thumbnail(links, archive_id), "image/jpeg", "cover")],
    }
    chapters = [_link(reading[c["page"] - 1]["href"], reading[c["page"] - 1]["type"], title=str(c["name"]))
                for c in toc if 1 <= int(c["page"]) <= len(reading)]
    if chapters:
        doc["toc"] = chapters
    return doc


def _first_pages(db: Any, ids: list[str]) -> dict[str, str]:
    """Archive ID -> name of its first page, where the page list is stored (SQLite reads it from the JSON)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r[0]: r[1] for r in db.query(
        f"SELECT archive_id, json_extract(pages, '$[0]') FROM archive_pages WHERE archive_id IN ({marks})", ids)
        if isinstance(r[1], str) and r[1]}


def mount(app: bottle.Bottle, ctx: Any) -> None:
    db = ctx.db
    kinds = catalog.KINDS

    def links() -> feeds.Links:
        return feeds.Links(prefix=ctx.config.base_url_path, key=bottle.request.query.getunicode("key") or None)

    def reply(doc: dict[str, Any], mime: str = FEED_TYPE) -> bytes:
        body = dumps(doc).encode("utf-8")
        bottle.response.content_type = mime
        bottle.response.set_header("Content-Length", str(len(body)))
        return body

    def site_title() -> str:
        return str(ctx.settings.get("htmltitle"))

    @app.get(ROOT, operation="serve_opds_catalog")
    def root() -> bytes:
        return reply(root_document(site_title(), links()))

    @app.get(CATEGORIES, operation="serve_opds_catalog")
    def categories() -> bytes:
        return reply(categories_document(site_title(), catalog.categories(db), links()))

    @app.get(PUBLICATIONS, operation="serve_opds_catalog")
    def publications() -> bytes:
        per_page = max(1, int(ctx.settings.get("pagesize")))
        number = feeds.positive_int(param("page")) or 1  # lenient, as /api/opds: junk is the first page
        query = param("query", "") or ""
        category = param("category") or None
        newonly = param("new") in ("1", "true")
        found = catalog.page(db, per_page=per_page, start=(number - 1) * per_page, filter=query,
                             category=category, newonly=newonly)
        ids = [r["id"] for r in found.rows]
        return reply(feed_document(site_title(), found, links(), query=query, category=category, newonly=newonly,
                                   cats=catalog.categories(db), kinds=kinds.kinds(found.rows),
                                   first_pages=_first_pages(db, ids)))

    @app.get(ROOT + "/archives/<archive_id>/manifest.json", operation="serve_opds_item", errors=((NotFound, 404),))
    def manifest(archive_id: str) -> bytes:
        check_archive_id(archive_id)
        _, page_names = pages.pages_of(ctx, archive_id)  # first: it may list the pages and set pagecount
        rows = catalog.rows(db, [archive_id])
        if not rows:
            raise NotFound(records.NO_SUCH_ID)
        row = rows[0]
        return reply(manifest_document(row, page_names, records.toc_of(db, archive_id), links(),
                                       kinds.kind(archive_id, row["path"])), MANIFEST_TYPE)
