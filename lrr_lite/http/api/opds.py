"""/api/opds: the OPDS acquisition feed, standalone entries, OpenSearch and PSE page streaming (SEMANTICS §15).

Routes are public like LANraragi's (`security: []`); No-Fun mode and `?key=` are the ApiPlugin's business.
Documents come from lrr_lite.opds; feeds are sent as `application/xml`, LANraragi's type (KOReader, Librera and
Panels take it like `application/atom+xml;profile=opds-catalog`).
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import bottle
from PIL import Image

from lrr_lite import LRR_VERSION
from lrr_lite.errors import ImageError, NotFound
from lrr_lite.http import feeds
from lrr_lite.http.api.common import ApiError, check_archive_id, param
from lrr_lite.http.api.files import content_disposition, not_modified, page_etag, send_bytes
from lrr_lite.http.auth import is_authenticated
from lrr_lite.library import catalog, pages, records
from lrr_lite.media import formats, thumbs

PSE_CACHE_BYTES = 128 * 1024 * 1024
PAGE_CACHE_CONTROL = "private, no-cache"  # revalidated (ETag) on every read, so reads reach progress tracking


class DownscaleCache:
    """Downscaled PSE pages on disk, oldest files evicted past `max_bytes` (the originals stay the source)."""

    def __init__(self, root: Path, max_bytes: int = PSE_CACHE_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._size: int | None = None
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        return self.root / name

    def get(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except OSError:
            return None

    def put(self, name: str, data: bytes) -> None:
        try:
            thumbs.write_atomic(self.path(name), data)
        except OSError:
            return
        with self._lock:
            if self._size is None:
                self._size = sum(f.stat().st_size for f in self._files())
            else:
                self._size += len(data)
            if self._size > self.max_bytes:
                self._evict()

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_file() and not p.name.startswith(".")]
        except OSError:
            return []

    def _evict(self) -> None:
        entries = []
        for p in self._files():
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        entries.sort()
        size = sum(e[1] for e in entries)
        target = self.max_bytes * 3 // 4
        for _, nbytes, p in entries:
            if size <= target:
                break
            try:
                os.unlink(p)
                size -= nbytes
            except OSError:
                pass
        self._size = size


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db
    cache = DownscaleCache(ctx.config.temp / "pse")
    kinds = catalog.KINDS

    def links() -> feeds.Links:
        return feeds.Links(prefix=ctx.config.base_url_path, key=bottle.request.query.getunicode("key") or None)

    def xml_reply(body: bytes, mime: str = feeds.FEED_MIME) -> bytes:
        bottle.response.content_type = mime
        bottle.response.set_header("Content-Length", str(len(body)))
        return body

    def entry_reply(archive_id: str) -> bytes:
        check_archive_id(archive_id)
        rows = catalog.rows(db, [archive_id])
        if not rows:
            raise NotFound(records.NO_SUCH_ID)
        return xml_reply(feeds.entry_document(rows[0], links(), kinds.kind(archive_id, rows[0]["path"])))

    @app.get("/api/opds", operation="serve_opds_catalog", errors=((NotFound, 404),))
    def catalog_feed() -> bytes:
        archive_id = param("id")
        if archive_id:  # the 0.7-era form (SEMANTICS §19): that one archive's entry, as /api/opds/{id}
            return entry_reply(archive_id)
        per_page = max(1, int(ctx.settings.get("pagesize")))
        start = max(0, feeds.positive_int(param("start")) or 0)  # lenient: junk or negative = the first page
        category = param("category") or None
        filter_ = param("filter", "") or ""
        found = catalog.page(db, per_page=per_page, start=start, filter=filter_, category=category)
        page = feeds.FeedPage(
            site_title=str(ctx.settings.get("htmltitle")), motd=str(ctx.settings.get("motd")), version=LRR_VERSION,
            rows=found.rows, total=found.window.total, start=start, per_page=per_page,
            category=category, filter=filter_, categories=catalog.categories(db), kinds=kinds.kinds(found.rows))
        return xml_reply(feeds.feed_document(page, links()))

    @app.get("/api/opds/opensearch.xml", operation="serve_opds_catalog")
    def opensearch() -> bytes:
        parts = bottle.request.urlparts
        lk = links()
        template = f"{parts.scheme}://{parts.netloc}" + lk.search_template()
        return xml_reply(feeds.opensearch_description(str(ctx.settings.get("htmltitle")), template),
                         feeds.OPENSEARCH_TYPE)

    @app.get("/api/opds/<archive_id>", operation="serve_opds_item", errors=((NotFound, 404),))
    def item(archive_id: str) -> bytes:
        return entry_reply(archive_id)

    def track_progress(row, page: int) -> None:
        """Server-side tracking on: the page read becomes the progress (once, however it was numbered)."""
        if ctx.settings.get("localprogress") or int(row["progress"]) == page:
            return
        # A page GET is not a write a session cookie may authorize (a link on another site sends it).
        if ctx.settings.get("authprogress") and not is_authenticated(ctx, bottle.request, writes=True):
            return
        ctx.archives.update_progress(row["id"], page, force=False)

    def page_bytes(archive_id: str, number: int, name: str, width: int | None) -> tuple[bytes, str]:
        quality = int(ctx.settings.get("readerquality"))
        if width is not None:
            cache_name = f"{archive_id}-{number}-w{width}-q{quality}.jpg"
            cached = cache.get(cache_name)
            if cached is not None:
                return cached, "image/jpeg"
        data = pages.read_member(ctx, archive_id, name)
        mime = formats.sniff_image(data[:4096])
        if mime is None:  # not a picture: a download, never rendered on our origin (see the pse route)
            return data, "application/octet-stream"
        if width is not None:
            try:
                with Image.open(io.BytesIO(data)) as im:  # header only: is a downscale needed at all?
                    fits = max(im.size) <= width
            except Exception:  # noqa: BLE001 - undecodable: serve as is
                return data, mime
            if fits:
                return data, mime
            try:
                small = thumbs.resize_for_reader(data, width=width, quality=quality)
            except ImageError:
                return data, mime
            cache.put(cache_name, small)
            return small, "image/jpeg"
        if ctx.settings.get("enableresize") and len(data) > int(ctx.settings.get("sizethreshold")) * 1024:
            try:
                return thumbs.resize_for_reader(data, quality=quality), "image/jpeg"
            except ImageError:
                pass
        return data, mime

    @app.route("/api/opds/<archive_id>/pse", method=["GET", "HEAD"], operation="serve_page")
    def pse(archive_id: str):
        check_archive_id(archive_id)
        row = records.require_row(db, archive_id)
        _, page_list = pages.pages_of(ctx, archive_id)
        if not page_list:
            raise ApiError("serve_page", "This archive has no pages.")
        number = feeds.resolve_page(param("page"), len(page_list), zero_based=param("base") == "0")
        width = feeds.parse_width(param("width"))
        if bottle.request.method == "GET":
            track_progress(row, number)
        etag = page_etag(ctx, archive_id, number, width, ctx.settings.get("readerquality"))
        if not_modified(etag):
            bottle.response.status = 304
            bottle.response.set_header("ETag", etag)
            bottle.response.set_header("Cache-Control", PAGE_CACHE_CONTROL)
            return b""
        name = page_list[number - 1]
        data, mime = page_bytes(archive_id, number, name, width)
        kind = "attachment" if mime == "application/octet-stream" else "inline"
        return send_bytes(data, mime, etag=etag, cache=PAGE_CACHE_CONTROL,
                          disposition=content_disposition(kind, name.rsplit("/", 1)[-1]))
