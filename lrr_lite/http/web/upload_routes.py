"""The upload page: GET /upload, POST /upload (the plain form), POST /upload/file (one file, from upload.js),
POST /upload/url (URL downloads), GET /upload/job (a download's outcome).

Why web routes and not the API's PUT /api/archives/upload with a session: the API authenticates by key or
cookie and knows no CSRF token, and its multipart body is parsed by Bottle (spooled to a temp file, then copied
again by upload.receive). These routes call the same service, upload.receive, behind the login and the
session's CSRF token like every other web write. upload.js sends each file as the raw request body
(`POST /upload/file?name=…`, the token in the X-CSRF-Token header), which upload.receive streams straight
from the socket's body (waitress has already spooled a large one to disk) into the temp folder, 1 MiB at a
time: a file is never held in memory. The no-JS form (multipart, several files) goes through Bottle's parser,
which keeps large parts on disk too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import bottle

from lrr_lite.errors import DomainError, Invalid
from lrr_lite.http.web import pages, webforms
from lrr_lite.http.web.actions import Actions
from lrr_lite.http.web.pages import esc
from lrr_lite.library import collections, records
from lrr_lite.library.intake import upload
from lrr_lite.library.intake.ingest import Supplied
from lrr_lite.media.formats import ARCHIVE_EXTENSIONS

log = logging.getLogger(__name__)

MAX_URLS = 100  # one submission of the URL form
DOWNLOAD_TASK = "download_url"


class BodyReader:
    """The request body as a stream that ends after Content-Length bytes (or at EOF without one)."""

    def __init__(self, stream: BinaryIO, length: int | None) -> None:
        self.stream = stream
        self.left = length

    def read(self, size: int = -1) -> bytes:
        if self.left is not None:
            if self.left <= 0:
                return b""
            size = self.left if size < 0 else min(size, self.left)
        chunk = self.stream.read(size)
        if self.left is not None:
            self.left -= len(chunk)
        return chunk


def _categories(ctx: Any) -> str:
    return "".join(f'<option value="{esc(c["id"])}">{esc(c["name"])}</option>'
                   for c in collections.list_categories(ctx.db) if not c.get("search"))


def upload_page(ctx: Any, static: dict[str, str], csrf: str, results: list[dict[str, Any]] | None = None) -> str:
    accept = ",".join("." + ext for ext in sorted(ARCHIVE_EXTENSIONS))
    cats = f'<option value="">(none)</option>{_categories(ctx)}'
    shown = ""
    if results is not None:  # the answer to the plain form: one line per file
        shown = "".join(f'<li class="{"ok" if r["ok"] else "bad"}"><b>{esc(r["name"])}</b> '
                        f'<span class="note">{esc(r["message"])}</span></li>' for r in results)
    body = (
        '<main class="narrow upload"><h1>Upload</h1>'
        f'<form method="post" action="/upload" enctype="multipart/form-data" id="upform">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<div class="drop" id="drop"><p>Drop archive files here, or</p>'
        f'<input type="file" name="file" id="u_files" multiple accept="{esc(accept)}"></div>'
        '<label class="row">Title (empty: from each file’s name) <input type="text" name="title" id="u_title">'
        '</label><label class="row">Tags for every file <input type="text" name="tags" id="u_tags" '
        'autocomplete="off" placeholder="artist:name, language:english"></label>'
        f'<label class="row">Category <select name="category_id" id="u_cat">{cats}</select></label>'
        '<button type="submit" id="u_send">Upload</button></form>'
        f'<ul class="files" id="u_list">{shown}</ul>'
        '<h2>Download from URLs</h2>'
        '<form method="post" action="/upload/url" id="urlform">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<label class="row">One URL per line <textarea name="urls" id="u_urls" rows="3"></textarea></label>'
        f'<label class="row">Category <select name="category_id" id="u_urlcat">{cats}</select></label>'
        '<button type="submit" id="u_fetch">Download</button></form>'
        '<ul class="files" id="u_jobs"></ul></main>')
    return pages.layout(ctx, static, "Upload", body, authed=True, scripts=("upload.js",), styles=("upload.css",))


def _receive(ctx: Any, stream: BinaryIO, name: str, supplied: Supplied) -> dict[str, Any]:
    """One file through upload.receive: {ok, name, id, title, message} or {ok: 0, name, message, status}."""
    try:
        new_id = upload.receive(ctx, stream, name, checksum=None, supplied=supplied)
    except DomainError as exc:
        return {"ok": 0, "name": name, "message": exc.message, "status": webforms.status_of(exc),
                "id": exc.data.get("id")}
    except OSError as exc:
        return {"ok": 0, "name": name, "message": f"The file couldn't be moved to your content folder: {exc}",
                "status": 500}
    row = records.get_row(ctx.db, new_id)
    title = (row["title"] or row["filename"]) if row is not None else name
    log.info("%s uploaded from the web page as %s", name, new_id)
    return {"ok": 1, "name": name, "id": new_id, "title": title, "message": f"Added as “{title}”."}


def mount(app: bottle.Bottle, ctx: Any, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          require_login: Callable[[], None], local: Callable[[str], str]) -> None:
    """Add the upload routes to the web UI (called by web.mount, which owns the helpers passed here)."""
    skip = ["lrr_api"]
    act = Actions(ctx, static, authed=authed, require_login=require_login, local=local)

    def supplied(get: Callable[[str], str]) -> Supplied:
        return Supplied(title=get("title").strip() or None, tags=get("tags").strip() or None,
                        category_id=get("category_id").strip() or None)

    @app.get("/upload", skip=skip)
    @page
    def upload_form() -> str:
        require_login()
        return upload_page(ctx, static, webforms.csrf_for_page(ctx))

    @app.post("/upload", skip=skip)
    @page
    @act.post("/upload")
    def upload_plain() -> bytes | str:
        """The no-JS form: every file of the multipart body, then the page with one line per file."""
        try:
            files = bottle.request.files.getall("file")
        except ValueError:
            files = []
        files = [f for f in files if f.raw_filename or f.filename]
        if not files:
            bottle.response.status = 400
            results = [{"ok": 0, "name": "(no file)", "message": "Choose at least one file."}]
        else:
            meta = supplied(webforms.form)
            results = [_receive(ctx, f.file, f.raw_filename or f.filename, meta) for f in files]
        return upload_page(ctx, static, webforms.csrf_for_page(ctx), results)

    @app.post("/upload/file", skip=skip)
    @page
    @act.post("/upload", token=lambda: bottle.request.get_header("X-CSRF-Token") or "")
    def upload_file() -> bytes | str:
        """One file as the raw body (upload.js); the form fields in the query, the token in a header. The
        body is never parsed as a form (Bottle would read it into memory to do so)."""
        query = bottle.request.query

        def get(name: str) -> str:
            try:
                return query.getunicode(name) or ""
            except (UnicodeError, ValueError):
                return ""

        name = get("name").strip()
        if not name:
            return webforms.json_answer({"error": "The file has no name."}, 400)
        length = bottle.request.content_length
        # upload.receive only calls read(size): BodyReader is enough of a BinaryIO for it
        stream = cast(BinaryIO, BodyReader(bottle.request.environ["wsgi.input"], length if length >= 0 else None))
        result = _receive(ctx, stream, name, supplied(get))
        if not result["ok"]:
            return webforms.json_answer({"error": result["message"], "id": result.get("id")}, result["status"])
        return webforms.json_answer({"ok": 1, "id": result["id"], "title": result["title"],
                                     "message": result["message"]})

    @app.post("/upload/url", skip=skip)
    @page
    @act.post("/upload")
    def upload_url() -> bytes | str:
        """Queue one download_url job per URL (the job the API's POST /api/download_url queues)."""
        urls = [u.strip() for u in webforms.form("urls").splitlines() if u.strip()]
        try:
            if not urls:
                raise Invalid("Enter at least one URL.")
            if len(urls) > MAX_URLS:
                raise Invalid(f"At most {MAX_URLS} URLs at a time.")
            bad = [u for u in urls if not u.lower().startswith(("http://", "https://"))]
            if bad:
                raise Invalid(f"Not an http(s) URL: {bad[0]}")
        except DomainError as exc:
            if webforms.wants_json():
                return webforms.json_answer({"error": exc.message}, 400)
            bottle.response.status = 400
            return upload_page(ctx, static, webforms.csrf_for_page(ctx),
                               [{"ok": 0, "name": "URLs", "message": exc.message}])
        category = webforms.form("category_id").strip() or None
        jobs = [{"url": u, "job": ctx.jobs.enqueue(DOWNLOAD_TASK, [u, category])} for u in urls]
        if webforms.wants_json():
            return webforms.json_answer({"ok": 1, "jobs": jobs})
        return upload_page(ctx, static, webforms.csrf_for_page(ctx),
                           [{"ok": 1, "name": j["url"], "message": f"Queued as job {j['job']}."} for j in jobs])

    @app.get("/upload/job", skip=skip)
    @page
    def upload_job() -> bytes:
        """A URL download's state and, once ended, its outcome in words."""
        if not authed():
            return webforms.json_answer({"error": webforms.LOGIN}, 401)
        raw = bottle.request.query.get("job") or ""
        job = ctx.jobs.get(int(raw)) if raw.isdigit() and len(raw) < 12 else None
        if job is None or job["task"] != DOWNLOAD_TASK:
            return webforms.json_answer({"error": "No download job with this number."}, 404)
        result = job["result"] if isinstance(job["result"], dict) else {}
        answer = {"state": job["state"], "ok": 1 if result.get("success") else 0, "id": result.get("id"),
                  "message": result.get("message") or result.get("error") or ""}
        return webforms.json_answer(answer)
