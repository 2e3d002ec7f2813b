"""OPDS 1.2 catalog documents (SEMANTICS §15) built as lxml trees: acquisition feed, standalone entry,
OpenSearch description, plus the PSE page-number rules. Plain functions, no HTTP framework.

Every text node and attribute goes through lxml, which escapes it; characters XML 1.0 cannot carry
(C0 controls, lone surrogates) are dropped first, so any title or tag string makes a well-formed document.

URL templates (the only hrefs not built with urlencode):
- PSE stream: ``/api/opds/<id>/pse?page={pageNumber}&base=0&width={maxWidth}`` with the literal braces.
  ``base=0`` marks the 0-based numbering the PSE spec prescribes (page=0 is the first page, count-1 the
  last). Without ``base`` the route keeps LANraragi's numbering for old clients and hand-made URLs
  (SEMANTICS §15 Do line): 0 and 1 are the first page, N the N-th, N > count the last.
  ``width`` (PSE's ``{maxWidth}``) asks for a server-side downscale to at most that many pixels wide.
- Search: ``/api/opds?filter={searchTerms}`` (Atom template, rel="search"), and the same template inside
  the OpenSearch description at ``/api/opds/opensearch.xml``. ``filter`` is /api/search's parameter and
  grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from lxml import etree

from lrr_lite.library.catalog import Category, Window
from lrr_lite.library.tags import split_tags

__all__ = ["Category", "FeedPage", "Links", "entry_document", "feed_document", "opensearch_description"]

ATOM = "http://www.w3.org/2005/Atom"
DCTERMS = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
PSE = "http://vaemendis.net/opds-pse/ns"
THR = "http://purl.org/syndication/thread/1.0"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"

FEED_NSMAP = {None: ATOM, "dcterms": DCTERMS, "opds": OPDS, "pse": PSE, "thr": THR, "opensearch": OPENSEARCH}
ENTRY_NSMAP = {None: ATOM, "dcterms": DCTERMS, "opds": OPDS, "pse": PSE, "thr": THR}

ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ENTRY_TYPE = "application/atom+xml;type=entry;profile=opds-catalog"
OPENSEARCH_TYPE = "application/opensearchdescription+xml"
FEED_MIME = "application/xml"  # what LANraragi sends; KOReader, Librera, Panels accept it like Atom's type
# The OPDS 2.0 catalog (http/opds2.py): each catalog names the other as rel="alternate" with its type.
OPDS2_ROOT = "/api/opds2"
OPDS2_TYPE = "application/opds+json"

FIXED_UPDATED = "2010-01-10T10:03:10Z"
NO_DATE = "1970-01-01T00:00:00Z"
FACET = "http://opds-spec.org/facet"
FACET_GROUP = "Categories"
PROJECT_URI = "http://github.org/Difegue/LANraragi"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The acquisition link's type comes from the container detected in the file's first bytes
# (media.formats.archive_kind), so a 7z named .cbz or a zip named .cbr is announced as what it is.
# LANraragi guesses from the extension (rar/cbr application/x-cbr, else application/x-cbz; SEMANTICS §15):
# readers that pick a handler by this type then fail on a 7z or a tar announced as CBZ.
KIND_TYPES = {"zip": "application/vnd.comicbook+zip", "rar": "application/vnd.comicbook-rar",
              "7z": "application/x-7z-compressed", "tar": "application/x-tar", "pdf": "application/pdf",
              "epub": "application/epub+zip"}
# Only when the bytes tell nothing (unreadable file, unknown magic): the extension's kind.
_EXTENSION_KINDS = {"zip": "zip", "cbz": "zip", "rar": "rar", "cbr": "rar", "7z": "7z", "cb7": "7z",
                    "tar": "tar", "cbt": "tar", "gz": "tar", "tar.gz": "tar", "lzma": "tar", "xz": "tar",
                    "zst": "tar", "tar.zst": "tar", "pdf": "pdf", "epub": "epub"}
_CBW_TYPE = "application/xml"


def clean(text: Any) -> str:
    """Text XML 1.0 can carry: characters it forbids are dropped."""
    return _NOT_XML.sub("", "" if text is None else str(text))


@dataclass(frozen=True)
class Links:
    """Builds the URLs a document links to: the URL prefix (SEMANTICS §20) first, `key` last when given."""

    prefix: str = ""
    key: str | None = None

    @cached_property
    def _key_query(self) -> str:
        # encoded once per document: a feed page builds hundreds of links, most with no other parameter
        return urlencode([("key", self.key)], quote_via=quote, safe="") if self.key else ""

    def _query(self, params: Sequence[tuple[str, Any]]) -> str:
        pairs = [(k, str(v)) for k, v in params if v is not None and v != ""]
        query = urlencode(pairs, quote_via=quote, safe="") if pairs else ""
        if not self._key_query:
            return query
        return query + "&" + self._key_query if query else self._key_query

    def url(self, path: str, params: Sequence[tuple[str, Any]] = ()) -> str:
        query = self._query(params)
        return self.prefix + path + ("?" + query if query else "")

    def template(self, path: str, literal_query: str, params: Sequence[tuple[str, Any]] = ()) -> str:
        """A URL whose query starts with `literal_query` (placeholders like {pageNumber} kept verbatim)."""
        query = self._query(params)
        return self.prefix + path + "?" + literal_query + ("&" + query if query else "")

    def stream(self, archive_id: str) -> str:
        return self.template(f"/api/opds/{archive_id}/pse", "page={pageNumber}&base=0&width={maxWidth}")

    def search_template(self, category: str | None = None) -> str:
        return self.template("/api/opds", "filter={searchTerms}", [("category", category)])


@dataclass
class FeedPage:
    """One page of the acquisition feed: the search it shows and its results."""

    site_title: str
    motd: str
    version: str
    rows: list[Mapping[str, Any]]
    total: int  # results of the search (all pages)
    start: int = 0
    per_page: int = 100
    category: str | None = None
    filter: str = ""
    categories: list[Category] = field(default_factory=list)
    kinds: Mapping[str, str | None] = field(default_factory=dict)  # archive ID -> detected container kind


# -- small helpers --------------------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: Any = None, **attrib: Any) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: clean(v) for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = clean(text)
    return el


def _a(name: str) -> str:
    return f"{{{ATOM}}}{name}"


def link_fields(href: str, type_: str | None = None, rel: Any = None, title: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """A link's fields in the order feeds write them (rel, href, type, title, then the rest), unset ones left
    out: the attributes of an OPDS 1 <link>, the members of an OPDS 2 link object."""
    fields: dict[str, Any] = {}
    if rel is not None:
        fields["rel"] = rel
    fields["href"] = href
    if type_ is not None:
        fields["type"] = type_
    if title is not None:
        fields["title"] = title
    fields.update(extra)
    return fields


def _link(parent: etree._Element, rel: str | None, href: str, type_: str | None = None,
          title: str | None = None, **extra: Any) -> etree._Element:
    return _sub(parent, _a("link"), **link_fields(href, type_, rel, title, **extra))


def timestamp(epoch: Any) -> str:
    """Epoch seconds as Atom's UTC date-time; anything unusable is the epoch itself."""
    try:
        value = int(str(epoch).strip())
        when = datetime.fromtimestamp(value, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return NO_DATE
    if not 1 <= when.year <= 9999:
        return NO_DATE
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_value(tags: Iterable[str], namespace: str) -> str:
    """Value of the first `namespace:` tag, cut at a further ':' (as LANraragi's template does)."""
    prefix = namespace + ":"
    for tag in tags:
        if tag.lower().startswith(prefix):
            return tag[len(prefix):].split(":", 1)[0].strip()
    return ""


def acquisition_type(kind: str | None, extension: str = "") -> str:
    """The MIME type of an archive's download: from its detected kind, else from its extension."""
    ext = (extension or "").lower()
    if kind is None and ext == "cbw":
        return _CBW_TYPE
    kind = kind or _EXTENSION_KINDS.get(ext)
    return KIND_TYPES.get(kind or "", "application/octet-stream")


def serialize(root: etree._Element) -> bytes:
    # the declaration with double quotes, as LANraragi writes it (lxml's own uses single quotes)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


# -- entries --------------------------------------------------------------------------------------------------


def _fill_entry(entry: etree._Element, row: Mapping[str, Any], links: Links, *, alternate: bool,
                kind: str | None) -> None:
    archive_id = row["id"]
    tags = split_tags(row["tags"])
    date = timestamp(first_value(tags, "date_added") or None)
    _sub(entry, _a("title"), row["title"] or row["filename"])
    _sub(entry, _a("id"), f"urn:lrr:{archive_id}")
    _sub(entry, _a("updated"), date)
    _sub(entry, _a("published"), date)
    author = _sub(entry, _a("author"))
    _sub(author, _a("name"), first_value(tags, "artist"))
    _sub(entry, _a("rights"), "")
    _sub(entry, f"{{{DCTERMS}}}language", first_value(tags, "language"))
    _sub(entry, f"{{{DCTERMS}}}publisher", first_value(tags, "group"))
    _sub(entry, f"{{{DCTERMS}}}issued", first_value(tags, "event"))
    _sub(entry, _a("category"), term="New Archive" if row["isnew"] else "Archive")
    _sub(entry, _a("summary"), row["tags"] or "")
    if alternate:
        _link(entry, "alternate", links.url(f"/api/opds/{archive_id}"), ENTRY_TYPE)
    thumb = links.url(f"/api/archives/{archive_id}/thumbnail")
    _link(entry, "http://opds-spec.org/image", thumb, "image/jpeg")
    _link(entry, "http://opds-spec.org/image/thumbnail", thumb, "image/jpeg")
    _link(entry, "http://opds-spec.org/acquisition", links.url(f"/api/archives/{archive_id}/download"),
          acquisition_type(kind, row["extension"]), "Download/Read")
    stream: dict[str, Any] = {f"{{{PSE}}}count": int(row["pagecount"] or 0)}
    if int(row["progress"] or 0):
        stream[f"{{{PSE}}}lastRead"] = int(row["progress"])
    if int(row["lastreadtime"] or 0):
        stream[f"{{{PSE}}}lastReadDate"] = timestamp(row["lastreadtime"])
    _link(entry, "http://vaemendis.net/opds-pse/stream", links.stream(archive_id), "image/jpeg", **stream)
    _link(entry, "alternate", links.url("/reader", [("id", archive_id)]), "text/html", "Open in LANraragi")


def entry_document(row: Mapping[str, Any], links: Links, kind: str | None = None) -> bytes:
    """GET /api/opds/{id} (and the 0.7-era /api/opds?id=): a standalone OPDS entry. `kind`: the archive's
    detected container kind (media.formats.archive_kind), which sets the acquisition link's type."""
    entry = etree.Element(_a("entry"), nsmap=ENTRY_NSMAP)
    _link(entry, "start", links.url("/api/opds"), NAVIGATION)
    _link(entry, "self", links.url(f"/api/opds/{row['id']}"), ENTRY_TYPE)
    _fill_entry(entry, row, links, alternate=False, kind=kind)
    return serialize(entry)


# -- the feed -------------------------------------------------------------------------------------------------


def _page_params(page: FeedPage, start: int) -> list[tuple[str, Any]]:
    return [("category", page.category), ("filter", page.filter or None), ("start", start or None)]


def feed_document(page: FeedPage, links: Links) -> bytes:
    """GET /api/opds: one page of the acquisition feed with facets, pagination and search links."""
    n = max(1, page.per_page)
    start = max(0, page.start)
    feed = etree.Element(_a("feed"), nsmap=FEED_NSMAP)
    _sub(feed, _a("id"), "urn:lrr:0")
    _link(feed, "self", links.url("/api/opds", _page_params(page, start)), ACQUISITION)
    _link(feed, "start", links.url("/api/opds"), ACQUISITION)
    _link(feed, "alternate", links.url(OPDS2_ROOT), OPDS2_TYPE, "OPDS 2.0 catalog")
    window = Window(start, n, page.total)
    _link(feed, "first", links.url("/api/opds", _page_params(page, 0)), ACQUISITION)
    if window.previous is not None:
        _link(feed, "previous", links.url("/api/opds", _page_params(page, window.previous)), ACQUISITION)
    if window.next is not None:
        _link(feed, "next", links.url("/api/opds", _page_params(page, window.next)), ACQUISITION)
    _link(feed, "last", links.url("/api/opds", _page_params(page, window.last)), ACQUISITION)
    _link(feed, "search", links.url("/api/opds/opensearch.xml"), OPENSEARCH_TYPE, "Search")
    _link(feed, "search", links.search_template(page.category), "application/atom+xml", "Search")
    _sub(feed, _a("title"), page.site_title)
    _sub(feed, _a("updated"), FIXED_UPDATED)
    _sub(feed, _a("subtitle"), page.motd)
    _sub(feed, _a("icon"), links.prefix + "/favicon.ico")
    author = _sub(feed, _a("author"))
    _sub(author, _a("name"), page.version)
    _sub(author, _a("uri"), PROJECT_URI)
    _sub(feed, f"{{{OPENSEARCH}}}totalResults", page.total)
    _sub(feed, f"{{{OPENSEARCH}}}itemsPerPage", n)
    _sub(feed, f"{{{OPENSEARCH}}}startIndex", start + 1)
    if page.filter:
        _sub(feed, f"{{{OPENSEARCH}}}Query", role="request", searchTerms=page.filter)
    active = {f"{{{OPDS}}}activeFacet": "true"}
    group = {f"{{{OPDS}}}facetGroup": FACET_GROUP}
    facet_filter = [("filter", page.filter or None)]
    selected = page.category if any(c.id == page.category for c in page.categories) else None
    _link(feed, FACET, links.url("/api/opds", facet_filter), None, "All Archives",
          **group, **(active if selected is None else {}))
    for cat in sorted(page.categories, key=lambda c: c.name.lower()):
        extra: dict[str, Any] = dict(group)
        if cat.id == selected:
            extra.update(active)
        if cat.count:
            extra[f"{{{THR}}}count"] = cat.count
        _link(feed, FACET, links.url("/api/opds", [("category", cat.id), *facet_filter]), None, cat.name, **extra)
    for row in sorted(page.rows, key=lambda r: (r["title"] or r["filename"]).lower()):
        _fill_entry(_sub(feed, _a("entry")), row, links, alternate=True, kind=page.kinds.get(row["id"]))
    return serialize(feed)


def opensearch_description(site_title: str, template: str) -> bytes:
    """The OpenSearch 1.1 description KOReader fetches: one Atom Url whose template has {searchTerms}."""
    ns = OPENSEARCH
    root = etree.Element(f"{{{ns}}}OpenSearchDescription", nsmap={None: ns})
    _sub(root, f"{{{ns}}}ShortName", clean(site_title)[:16] or "LANraragi")
    _sub(root, f"{{{ns}}}Description", f"Search the archives of {clean(site_title)}")
    _sub(root, f"{{{ns}}}InputEncoding", "UTF-8")
    _sub(root, f"{{{ns}}}OutputEncoding", "UTF-8")
    _sub(root, f"{{{ns}}}Url", type=ACQUISITION, template=template)
    _sub(root, f"{{{ns}}}Url", type="application/atom+xml", template=template)
    return serialize(root)


# -- PSE page numbers -----------------------------------------------------------------------------------------


def _int(raw: str | None) -> int | None:
    try:
        return int((raw or "").strip())
    except ValueError:
        return None


def resolve_page(raw: str | None, count: int, *, zero_based: bool) -> int:
    """The 1-based page a PSE request means. Unusable values (a placeholder a client left in) → first page.

    zero_based (the feed's template, PSE spec): 0 → first, count-1 → last, beyond → last.
    LANraragi's numbering (no `base=0`): 0 and 1 → first, N → N-th, N > count → last (§15 Do line).
    """
    number = _int(raw)
    if number is None or count <= 0:
        return 1
    page = number + 1 if zero_based else number
    return min(max(page, 1), count)


def positive_int(raw: str | None) -> int | None:
    """A positive integer parameter, or None when absent, junk, zero or negative."""
    number = _int(raw)
    return number if number is not None and number > 0 else None


def parse_width(raw: str | None) -> int | None:
    """{maxWidth} as given, or None when absent, left as a placeholder, or not a positive integer."""
    return positive_int(raw)
