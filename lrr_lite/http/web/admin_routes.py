"""Routes of the maintenance page (/admin), its job list for admin.js (/admin/jobs.json), its POSTs (maintenance
jobs, backup, restore in two steps, plugin settings) and the statistics page (/statistics).

The POSTs are guarded as /settings is (actions.Actions: login + CSRF token) and call what the API calls:
ctx.jobs.enqueue with the Minion task names, library.housekeeping, library.backup, the plugin runner's settings.
A restore is checked first: the upload is parked in the temp folder under a random token and the page says
what it would change (counts in the backup against the library); only the confirming POST queues the job.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import bottle

from lrr_lite.errors import Invalid, NotFound
from lrr_lite.http.web import admin_pages
from lrr_lite.http.web.actions import Actions, form, reply_json, wants_json
from lrr_lite.library import backup, housekeeping
from lrr_lite.library.plugins import get_plugin, plugin_infos, runner

log = logging.getLogger(__name__)

LOG_LINES = 200
LOG_READ = 256 * 1024  # the tail is read from the file's last bytes, never the whole (5 MB) file
RESTORE_PREFIX = "restore-web-"  # under temp/, matched by housekeeping's leftover patterns (restore-*.json)
RESTORE_TTL = 3600  # an unconfirmed upload is removed after an hour
_TOKEN = re.compile(r"[0-9a-f]{32}")
NOTICES = {"rescan": "Rescan queued: see its job below.", "thumbs_missing": "Thumbnail job queued.",
           "thumbs_all": "Thumbnail job queued.", "clear_new": "Every new flag was cleared.",
           "restore": "Restore queued: see its job below.", "plugin": "Plugin settings saved."}


def mount(app: bottle.Bottle, ctx, static: dict[str, str], *, page: Callable, authed: Callable[[], bool],
          require_login: Callable[[], None], nofun_gate: Callable[[], None], local: Callable[[str], str]) -> None:
    """Add the maintenance and statistics routes to the web UI (called by web.mount)."""
    skip = ["lrr_api"]
    act = Actions(ctx, static, authed=authed, require_login=require_login, local=local)

    def plugins() -> list[dict]:
        out = []
        for info in plugin_infos("metadata"):
            plugin = get_plugin(info["namespace"])
            if plugin is None:
                continue
            values = plugin.param_values(runner.stored_params(ctx.db, info["namespace"]))
            out.append({**info, "enabled": runner.is_enabled(ctx.db, info["namespace"]), "values": values})
        return out

    def log_tail() -> str:
        where = ctx.config.logs / "lrr_lite.log"
        if os.environ.get("JOURNAL_STREAM"):
            return admin_pages.log_html(None, str(where), journal=True)
        try:
            with open(where, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - LOG_READ))
                data = fh.read()
        except OSError:
            return admin_pages.log_html(None, str(where), journal=False)
        lines = data.decode("utf-8", "replace").splitlines()
        if size > LOG_READ and lines:
            lines = lines[1:]  # the first one is cut
        return admin_pages.log_html(lines[-LOG_LINES:], str(where), journal=False)

    def show(notice: str = "", restore: admin_pages.Restore | None = None) -> str:
        return admin_pages.admin_page(ctx, static, ctx.jobs.recent(), plugins(), log_tail(), act.csrf(),
                                      notice=notice, restore=restore, authed=True)

    @app.get("/admin", skip=skip)
    @page
    def admin_view() -> str:
        require_login()
        query = bottle.request.query
        done = query.get("done") or ""
        text = NOTICES.get(done, "")
        if done == "clean":
            text = f"Database cleaned: {query.get('n') or 0} records whose file is gone were removed."
        notice = f'<p class="ok" id="notice" role="status">{admin_pages.esc(text)}</p>' if text else ""
        return show(notice)

    @app.get("/admin/jobs.json", skip=skip)
    def admin_jobs() -> bytes:
        """The job list admin.js polls (a web route: same login as the page, no API key)."""
        bottle.response.set_header("Cache-Control", "no-store")
        bottle.response.set_header("X-Content-Type-Options", "nosniff")
        if not authed():
            return reply_json({"error": "Log in to see the jobs."}, 401)
        return reply_json({"jobs": [admin_pages.job_json(j) for j in ctx.jobs.recent()]})

    @app.post("/admin/run", skip=skip)
    @page
    @act.post("/admin")
    def admin_run() -> bytes | str:
        action = form("action")
        job = None
        extra = ""
        if action == "rescan":
            job = ctx.jobs.enqueue("scan_library", [], priority=10)
        elif action in ("thumbs_missing", "thumbs_all"):
            job = ctx.jobs.enqueue("regen_all_thumbnails",
                                   [str(ctx.config.thumbs), 1 if action == "thumbs_all" else 0])
        elif action == "clean":
            counts = housekeeping.clean_database(ctx.db, ctx.settings, ctx.config.data / "backups")
            extra = f"&n={counts['deleted']}"
        elif action == "clear_new":
            housekeeping.clear_new_all(ctx.db, ctx.settings)
        else:
            raise Invalid(f"Unknown action: {action}")
        log.info("maintenance from the web page: %s", action)
        return act.done(f"/admin?done={action}{extra}", job=job)

    @app.post("/admin/backup", skip=skip)
    @page
    @act.post("/admin#backup")
    def admin_backup() -> bytes | str:
        body = json.dumps(backup.make_backup(ctx.db), ensure_ascii=False).encode("utf-8")
        name = time.strftime("lrr-lite-backup-%Y%m%d-%H%M%S.json", time.gmtime())
        bottle.response.content_type = "application/json; charset=utf-8"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}"')
        return body

    def parked(token: str) -> Path:
        if not _TOKEN.fullmatch(token):
            raise NotFound("This restore is no longer waiting: upload the backup again.")
        path = ctx.config.temp / f"{RESTORE_PREFIX}{token}.json"
        if not path.is_file():
            raise NotFound("This restore is no longer waiting (done, or older than an hour): upload the backup "
                           "again.")
        return path

    def sweep() -> None:
        now = time.time()
        for old in ctx.config.temp.glob(f"{RESTORE_PREFIX}*.json"):
            try:
                if now - old.stat().st_mtime > RESTORE_TTL:
                    old.unlink()
            except OSError:
                continue

    @app.post("/admin/restore/check", skip=skip)
    @page
    @act.post("/admin#backup")
    def admin_restore_check() -> bytes | str:
        try:
            upload = bottle.request.files.get("file")
        except ValueError:
            upload = None
        if upload is None:
            raise Invalid("Choose a backup file first.")
        raw = upload.file.read()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Invalid("This file is not JSON: not a backup.") from None
        if not isinstance(data, dict) or not isinstance(data.get("archives", []), list):
            raise Invalid("Not a LANraragi backup: expected an object with an 'archives' list.")
        summary = _compare(ctx, data)
        sweep()
        ctx.config.temp.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        (ctx.config.temp / f"{RESTORE_PREFIX}{token}.json").write_bytes(raw)
        restore = admin_pages.Restore(token=token, name=upload.raw_filename or "the backup", **summary)
        if wants_json():
            return reply_json({"ok": 1, "token": token, **summary})
        return show(restore=restore)

    @app.post("/admin/restore", skip=skip)
    @page
    @act.post("/admin#backup")
    def admin_restore() -> bytes | str:
        path = parked(form("token"))
        job = ctx.jobs.enqueue("restore_backup", [str(path)])  # the job removes the file when done
        log.info("restore of a backup queued from the web page (job %d)", job)
        return act.done("/admin?done=restore#jobsbox", job=job)

    @app.post("/admin/plugin", skip=skip)
    @page
    @act.post("/admin#plugins")
    def admin_plugin() -> bytes | str:
        namespace = form("namespace")
        plugin = get_plugin(namespace)
        if plugin is None:
            raise Invalid(runner.NOT_FOUND)
        values: list = []
        for i, spec in enumerate(plugin.descriptor.get("parameters", [])):
            raw = form(f"p{i}")
            if spec.get("type") == "bool":
                values.append(1 if raw in ("1", "on") else 0)
            elif spec.get("type") == "int":
                try:
                    values.append(int(raw.strip() or 0))
                except ValueError:
                    raise Invalid(f"{spec.get('desc') or 'A parameter'}: enter a whole number.") from None
            else:
                values.append(raw)
        runner.set_enabled(ctx.db, namespace, form("enabled") in ("1", "on"))
        runner.set_params(ctx.db, namespace, values)
        log.info("plugin %s configured from the web page", namespace)
        return act.done("/admin?done=plugin#plugins")

    @app.get("/statistics", skip=skip)
    @page
    def statistics() -> str:
        nofun_gate()
        db = ctx.db
        row = db.query_one("SELECT COUNT(*), COALESCE(SUM(isnew), 0), COALESCE(SUM(pagecount), 0) FROM archives "
                           "WHERE path != ''")
        tags, distinct, namespaces = _top_tags(ctx)
        counts = [("archives", f"{row[0]:,}"), ("new", f"{row[1]:,}"), ("pages", f"{row[2]:,}"),
                  ("distinct tags", f"{distinct:,}"),
                  ("categories", f"{db.query_one('SELECT COUNT(*) FROM categories')[0]:,}"),
                  ("tankoubons", f"{db.query_one('SELECT COUNT(*) FROM tankoubons')[0]:,}")]
        return admin_pages.stats_page(ctx, static, counts, tags, namespaces, authed=authed())


TOP_NAMESPACES, TOP_PER_NAMESPACE, CLOUD = 12, 12, 80


def _top_tags(ctx) -> tuple[list[dict], int, list[tuple[str, int]]]:
    """(the tags the statistics page shows, how many distinct tags there are, [(namespace, its tag count)] of the
    namespaces shown), from the data of /api/database/stats (excluded namespaces left out). When only archives
    carry tags (the usual case) SQLite picks the few shown: a 100k library has ~100k distinct tags, too many to
    make a dict each per page view."""
    db = ctx.db
    if db.query_one("SELECT 1 FROM tankoubons WHERE tags != '' LIMIT 1") is not None:
        tags = housekeeping.tag_stats(db, ctx.settings, 1, True)
        totals: dict[str, list[int]] = {}
        for t in tags:
            entry = totals.setdefault(t["namespace"], [0, 0])
            entry[0] += t["weight"]
            entry[1] += 1
        shown = sorted(totals, key=lambda ns: -totals[ns][0])[:TOP_NAMESPACES]
        return tags, len(tags), [(ns, totals[ns][1]) for ns in shown]
    hidden = sorted({ns.lower() for ns in ctx.settings.excluded_namespaces})
    where = "n > 0 AND tag != ''" + (f" AND ns NOT IN ({','.join('?' * len(hidden))})" if hidden else "")
    distinct = db.query_one(f"SELECT COUNT(*) FROM tag_names WHERE {where}", hidden)[0]
    namespaces = [(r[0], r[1]) for r in db.query(
        f"SELECT ns, COUNT(*) FROM tag_names WHERE {where} GROUP BY ns ORDER BY SUM(n) DESC LIMIT ?",
        [*hidden, TOP_NAMESPACES])]
    rows = list(db.query(f"SELECT ns, text, n FROM tag_names WHERE {where} ORDER BY n DESC, tag LIMIT ?",
                         [*hidden, CLOUD]))
    if namespaces:
        marks = ",".join("?" * len(namespaces))
        rows += db.query(
            "SELECT ns, text, n FROM (SELECT ns, text, n, ROW_NUMBER() OVER (PARTITION BY ns ORDER BY n DESC, tag) "
            f"AS r FROM tag_names WHERE {where} AND ns IN ({marks})) WHERE r <= ?",
            [*hidden, *(ns for ns, _ in namespaces), TOP_PER_NAMESPACE])
    picked = {(r["ns"], r["text"]): {"namespace": r["ns"], "text": r["text"], "weight": r["n"]} for r in rows}
    return list(picked.values()), distinct, namespaces


def _compare(ctx, data: dict) -> dict[str, int]:
    """What a restore of `data` would change here (backup.restore_backup's rules)."""
    db = ctx.db
    here = {r[0] for r in db.query("SELECT id FROM archives")}
    arcs = [a for a in data.get("archives", []) if isinstance(a, dict)]
    cats = [c for c in data.get("categories", []) or [] if isinstance(c, dict)
            and str(c.get("catid", "")).startswith("SET_")]
    tanks = [t for t in data.get("tankoubons", []) or [] if isinstance(t, dict)
             and str(t.get("tankid", "")).startswith("TANK_")]
    cats_here = {r[0] for r in db.query("SELECT id FROM categories")}
    tanks_here = {r[0] for r in db.query("SELECT id FROM tankoubons")}
    return {"archives": len(arcs), "matching": sum(1 for a in arcs if a.get("arcid") in here),
            "archives_here": len(here), "categories": len(cats), "categories_here": len(cats_here),
            "categories_replaced": sum(1 for c in cats if c["catid"] in cats_here), "tanks": len(tanks),
            "tanks_here": len(tanks_here), "tanks_replaced": sum(1 for t in tanks if t["tankid"] in tanks_here)}
