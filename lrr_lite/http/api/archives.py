"""/api/archives: list, metadata, pages, thumbnails, upload, progress, flags, table of contents."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import bottle

from lrr_lite.errors import ArchiveError, ChecksumMismatch, ImageError, Invalid, NotFound
from lrr_lite.http.api.common import (
    ApiError,
    bool_param,
    check_archive_id,
    envelope,
    int_param,
    json_reply,
    param,
    path_int,
)
from lrr_lite.http.api.files import (
    LONG_CACHE,
    content_disposition,
    not_modified,
    page_etag,
    send_bytes,
    send_file,
    send_placeholder,
    send_ranged,
    send_thumbnail,
)
from lrr_lite.library import covers, pages, records
from lrr_lite.library.intake import upload
from lrr_lite.library.intake.ingest import Supplied
from lrr_lite.media import thumbs
from lrr_lite.media.formats import folder

# Pages up to this size are read whole before the reply starts, so a corrupt one (its CRC is known only at its
# end) is still answered 400; larger ones are streamed and never held whole (8 of them cost what 1 does).
READ_WHOLE_BELOW = 8 * 1024 * 1024
NO_PAGECOUNT = "Archive doesn't have a total page count recorded yet."


def page_url(base: str, archive_id: str, name: str) -> str:
    """SEMANTICS §10: UTF-8 percent-encoded outside A-Za-z0-9-._~, with '/' kept."""
    return f"{base}/api/archives/{archive_id}/page?path={quote(name, safe='/')}"


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db

    @app.get("/api/archives", operation="get_archives")
    def list_archives():
        bottle.response.content_type = "application/json;charset=UTF-8"
        return records.all_json_chunks(db)

    @app.get("/api/archives/untagged", operation="get_untagged")
    def untagged() -> str:
        return json_reply(records.untagged_ids(db))

    @app.put("/api/archives/upload", secure=True, operation="upload", plain_errors=True,
             errors=((ChecksumMismatch, 417), (ArchiveError, 422)))
    def upload_archive() -> str:
        try:
            field = bottle.request.files.get("file")
        except ValueError:  # Bottle's multipart parser refuses malformed part headers
            raise ApiError("upload", "Malformed multipart body.", 400, envelope=False) from None
        if field is None:
            raise ApiError("upload", "No file attached", 400, envelope=False)
        supplied = Supplied(title=param("title"), tags=param("tags"), summary=param("summary"),
                            category_id=param("category_id"))
        try:
            new_id = upload.receive(ctx, field.file, field.raw_filename or field.filename or "upload",
                                    checksum=param("file_checksum"), supplied=supplied)
        except OSError as exc:
            raise ApiError("upload", f"The file couldn't be moved to your content folder: {exc}", 500,
                           envelope=False) from None
        return json_reply({"operation": "upload", "success": 1, "id": new_id})

    @app.get("/api/archives/<archive_id>", operation="metadata")
    @app.get("/api/archives/<archive_id>/metadata", operation="metadata")
    def metadata(archive_id: str) -> str:
        return json_reply(records.get_json(db, check_archive_id(archive_id)))

    @app.put("/api/archives/<archive_id>/metadata", secure=True, operation="update_metadata")
    def update_metadata(archive_id: str) -> str:
        check_archive_id(archive_id)
        title = ctx.archives.update_metadata(archive_id, param("title"), param("tags"), param("summary"))
        # `status` is what scripts written to the 0.7-era documentation read; newer clients ignore it
        return envelope("update_metadata", f'Updated metadata for "{title}"!', status=1)

    @app.delete("/api/archives/<archive_id>", secure=True, operation="delete_archive")
    def delete(archive_id: str) -> str:
        check_archive_id(archive_id)
        deleted = ctx.archives.delete(archive_id)
        if deleted is None:
            return json_reply({"operation": "delete_archive", "id": archive_id, "filename": "0", "success": 0})
        return json_reply({"operation": "delete_archive", "id": archive_id, "filename": deleted, "success": 1})

    @app.get("/api/archives/<archive_id>/thumbnail", operation="serve_thumbnail")
    def get_thumbnail(archive_id: str):
        check_archive_id(archive_id)
        page = int_param("page", 0) or 0
        if page < 0:
            raise ApiError("serve_thumbnail", "Invalid page number.")
        path = pages.thumb_path(ctx.config.thumbs, archive_id, page)
        if path.is_file():
            return send_thumbnail(path)
        row = records.get_row(db, archive_id)
        failed = covers.failure(db, archive_id) if page == 0 and row is not None else None
        if failed is not None:  # the cover failed lately: the placeholder, no new job until its retry time
            reason = "".join(c if " " <= c <= "~" else " " for c in failed)[:200]  # one header line, ASCII
            bottle.response.set_header("X-Thumbnail-Error", reason)
            return send_placeholder()
        no_fallback = bool_param("no_fallback")
        # An unknown ID with no_fallback is answered as LANraragi does (SEMANTICS §17): 202 and the job it queued
        # (which fails). Without no_fallback it gets the placeholder and queues nothing.
        if (row is None and no_fallback) or (
                row is not None and row["path"] and (page == 0 or page <= row["pagecount"] or not row["pagecount"])):
            args = [str(ctx.config.thumbs), archive_id, page]
            job = ctx.jobs.find_pending("thumbnail_task", args) or ctx.jobs.enqueue("thumbnail_task", args)
            if no_fallback:
                return json_reply({"operation": "serve_thumbnail", "success": 1, "job": job}, 202)
        return send_placeholder()

    @app.put("/api/archives/<archive_id>/thumbnail", secure=True, operation="update_thumbnail")
    def put_thumbnail(archive_id: str) -> str:
        check_archive_id(archive_id)
        page = int_param("page", 1)
        dest = ctx.archives.set_cover(archive_id, page if page is not None else 1)
        return json_reply({"operation": "update_thumbnail", "new_thumbnail": str(dest), "success": 1})

    @app.get("/api/archives/<archive_id>/categories", operation="find_arc_categories")
    def categories(archive_id: str) -> str:
        check_archive_id(archive_id, allow_tank=True)
        return json_reply({"categories": records.categories_of(db, archive_id),
                           "operation": "find_arc_categories", "success": 1})

    @app.get("/api/archives/<archive_id>/tankoubons", operation="find_arc_tankoubons")
    def tankoubons(archive_id: str) -> str:
        check_archive_id(archive_id)
        return json_reply({"operation": "find_arc_tankoubons", "success": 1,
                           "tankoubons": records.tankoubons_of(db, archive_id)})

    @app.put("/api/archives/<archive_id>/toc", secure=True, operation="update_toc")
    def add_toc(archive_id: str) -> str:
        check_archive_id(archive_id)
        page, title = int_param("page"), param("title")
        if page is None or not title:
            raise ApiError("update_toc", "Missing page and/or title.")
        ctx.archives.add_toc(archive_id, page, title)
        return envelope("update_toc", f"Added ToC entry for page {page}.")

    @app.delete("/api/archives/<archive_id>/toc", secure=True, operation="remove_toc")
    def remove_toc(archive_id: str) -> str:
        check_archive_id(archive_id)
        page = int_param("page")
        if page is None:
            raise ApiError("remove_toc", "Please specify a page to remove")
        ctx.archives.remove_toc(archive_id, page)
        return envelope("remove_toc", f"Removed ToC entry for page {page}.")

    @app.route("/api/archives/<archive_id>/download", method=["GET", "HEAD"], operation="download_archive",
               errors=((NotFound, 404),))
    def download(archive_id: str):
        check_archive_id(archive_id)
        row = records.get_row(db, archive_id)
        path = Path(row["path"]) if row is not None and row["path"] else None
        if path is not None and path.is_dir():
            return _send_folder(path)
        if path is None or not path.is_file():
            raise NotFound(records.NO_SUCH_ID)
        return send_file(path, "application/octet-stream", path.name)

    def _send_folder(path: Path) -> object:
        """A folder of images as `<name>.cbz`: a stored ZIP made on the fly (formats/folder.py), its length
        known up front, any single range served; the same folder gives the same bytes on every request."""
        try:
            made = folder.FolderZip(path)
        except ArchiveError as exc:
            raise NotFound(records.NO_SUCH_ID) from exc
        layout = ",".join(f"{m.name.hex()}:{m.size}:{m.mtime_ns}" for m in made.members)
        etag = '"' + hashlib.sha1(f"{made.size}/{layout}".encode()).hexdigest()[:20] + '"'
        return send_ranged(made.size, "application/zip", path.name + ".cbz", etag,
                           lambda start, length: made.read(start, start + length))

    @app.get("/api/archives/<archive_id>/files", operation="get_file_list")
    @app.post("/api/archives/<archive_id>/extract", operation="get_file_list")
    def files(archive_id: str) -> str:
        check_archive_id(archive_id)
        _, page_list = pages.pages_of(ctx, archive_id)
        base = ctx.config.base_url_path
        body: dict = {"pages": [page_url(base, archive_id, name) for name in page_list]}
        if bool_param("force"):
            args = [archive_id]
            body["job"] = ctx.jobs.find_pending("extract_archive", args) or ctx.jobs.enqueue("extract_archive", args)
        return json_reply(body)

    @app.post("/api/archives/<archive_id>/files/thumbnails", operation="generate_page_thumbnails")
    def page_thumbnails(archive_id: str) -> str:
        check_archive_id(archive_id)
        _, page_list = pages.pages_of(ctx, archive_id)
        force = param("force") in ("true", "1")
        if not force and all(pages.page_thumb_path(ctx.config.thumbs, archive_id, n).exists()
                             for n in range(1, len(page_list) + 1)):
            return json_reply({"operation": "generate_page_thumbnails", "success": 1,
                               "message": "No job queued, all thumbnails already exist."})
        args = [archive_id, 1 if force else 0]
        job = ctx.jobs.find_pending("page_thumbnails", args) or ctx.jobs.enqueue("page_thumbnails", args)
        return json_reply({"operation": "generate_page_thumbnails", "success": 1, "job": job}, 202)

    @app.route("/api/archives/<archive_id>/page", method=["GET", "HEAD"], operation="serve_page",
               errors=((NotFound, 404),))  # an unknown ID as a missing member (SEMANTICS §17)
    def page(archive_id: str):
        check_archive_id(archive_id)
        name = param("path")
        if not name:
            raise ApiError("serve_page", "No page path specified.")
        resize = bool(ctx.settings.get("enableresize"))
        etag = page_etag(ctx, archive_id, name)
        row = records.require_row(db, archive_id)  # an unknown ID is an error, even when cached
        if not_modified(etag):
            bottle.response.status = 304
            return b""
        # The page is streamed (never held whole: eight requests for a large page cost what one does) and
        # served only as what its bytes are: an image inline, anything else (HTML, SVG, a script) as a
        # download that the browser never renders on our origin.
        stream = pages.open_member(ctx, archive_id, name, row)
        try:
            mime = stream.sniff_image()
            filename = name.rsplit("/", 1)[-1]
            kind = "inline" if mime else "attachment"
            if stream.size <= READ_WHOLE_BELOW or (mime is not None and resize):
                data = stream.read_all()  # bounded by formats.MAX_PAGE_BYTES
                stream.close()
                if mime is not None and resize and len(data) > int(ctx.settings.get("sizethreshold")) * 1024:
                    try:
                        data = thumbs.resize_for_reader(data, quality=int(ctx.settings.get("readerquality")))
                        mime = "image/jpeg"
                    except ImageError:
                        pass  # serve the original rather than nothing
                return send_bytes(data, mime or "application/octet-stream", etag=etag, cache=LONG_CACHE,
                                  disposition=content_disposition(kind, filename))
            response = bottle.response
            response.content_type = mime or "application/octet-stream"
            response.set_header("Cache-Control", LONG_CACHE)
            response.set_header("ETag", etag)
            response.set_header("Content-Length", str(stream.size))
            response.set_header("Content-Disposition", content_disposition(kind, filename))
            if bottle.request.method == "HEAD":
                stream.close()
                return b""
            if stream.file is not None:  # on disk (the page cache): sent from there, never copied through memory
                stream.file.seek(0)
                return stream.file  # Bottle hands it to waitress's wsgi.file_wrapper, which closes it
            return stream  # waitress sends it chunk by chunk and closes it when the reply is done
        except BaseException:
            stream.close()
            raise

    @app.put("/api/archives/<archive_id>/progress/<page_no>", progress=True, operation="update_progress")
    def progress(archive_id: str, page_no: str) -> str:
        check_archive_id(archive_id)
        page_value = path_int(page_no, "page")
        if ctx.settings.get("localprogress") and not ctx.settings.get("authprogress"):
            raise ApiError("update_progress", "Server-side Progress Tracking is disabled on this instance.")
        force = bool(param("force")) and param("force") not in ("0", "false")
        try:
            when = ctx.archives.update_progress(archive_id, page_value, force=force)
        except NotFound:
            if force:
                raise
            # LANraragi finds no page count for an ID it doesn't know, and says so (SEMANTICS §17)
            raise Invalid(NO_PAGECOUNT) from None
        return json_reply({"id": archive_id, "lastreadtime": when, "operation": "update_progress",
                           "page": page_value, "success": 1})

    @app.put("/api/archives/<archive_id>/isnew", secure=True, operation="add_new")
    def set_new(archive_id: str) -> str:
        check_archive_id(archive_id)
        row = ctx.archives.set_isnew(archive_id, True)
        return envelope("add_new", f'Archive "{row["title"] or row["filename"]}" is new again.')

    @app.delete("/api/archives/<archive_id>/isnew", operation="clear_new")
    def clear_new(archive_id: str) -> str:
        check_archive_id(archive_id)
        ctx.archives.set_isnew(archive_id, False)
        return json_reply({"id": archive_id, "operation": "clear_new", "success": 1})
