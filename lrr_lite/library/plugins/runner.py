"""Running metadata plugins on archives (LANraragi's Model/Plugins.pm: exec_metadata_plugin, use_plugin,
exec_enabled_plugins_on_file).

Settings kept in the `settings` table under our own keys (Settings.DEFAULTS does not know them):

- `plugin_enabled:<namespace>` = "1"/"0": run this plugin on every new archive (`auto_run`).
- `plugin_params:<namespace>` = JSON array of parameter values in descriptor order.
- `tagrules` = tag rule text (tagrules.py); absent = LANraragi's default rules.
- `replacetitles` = "1"/"0": whether a plugin's title is returned/applied (absent = 1, LANraragi's default).
The `tagruleson` switch is the regular setting of settings.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lrr_lite.library import records
from lrr_lite.library.plugins import tagrules
from lrr_lite.library.plugins.base import ArchiveInfo, Plugin, PluginError
from lrr_lite.library.plugins.registry import get_plugin, registry
from lrr_lite.library.tags import normalize_tags

log = logging.getLogger(__name__)

ENABLED_PREFIX = "plugin_enabled:"
PARAMS_PREFIX = "plugin_params:"
REPLACE_TITLES = "replacetitles"
NOT_FOUND = "Plugin not found on system."
NO_ID = "Tried to call a metadata plugin without providing an id."


def read_setting(db, key: str) -> str | None:
    row = db.query_one("SELECT value FROM settings WHERE key=?", (key,))
    return None if row is None else str(row["value"])


def write_setting(db, key: str, value: str) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                     "value=excluded.value", (key, value))


def is_enabled(db, namespace: str) -> bool:
    return read_setting(db, ENABLED_PREFIX + namespace) == "1"


def set_enabled(db, namespace: str, enabled: bool) -> None:
    write_setting(db, ENABLED_PREFIX + namespace, "1" if enabled else "0")


def stored_params(db, namespace: str) -> list[Any] | None:
    raw = read_setting(db, PARAMS_PREFIX + namespace)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def set_params(db, namespace: str, values: list[Any]) -> None:
    write_setting(db, PARAMS_PREFIX + namespace, json.dumps(values, ensure_ascii=False))


def replace_titles(db) -> bool:
    return read_setting(db, REPLACE_TITLES) not in ("0", "false", "")


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "").strip()


def exec_metadata(ctx, plugin: Plugin, archive_id: str, arg: str) -> dict[str, Any]:
    """LANraragi's exec_metadata_plugin: {"new_tags": " t1, t2", "title"?, "summary"?}; PluginError on failure."""
    row = records.get_row(ctx.db, archive_id)
    if row is None or not row["path"]:
        raise PluginError(records.NO_SUCH_ID)
    info = ArchiveInfo(ctx=ctx, archive_id=archive_id, path=Path(row["path"]), filename=row["filename"],
                       title=row["title"] or row["filename"], tags=row["tags"] or "")
    params = plugin.param_values(stored_params(ctx.db, plugin.namespace))
    try:
        output = plugin.fn(info, params, arg or "")
    except PluginError:
        raise
    except Exception as exc:  # a plugin bug is this run's error, never the server's
        log.warning("plugin %s failed on %s", plugin.namespace, archive_id, exc_info=True)
        raise PluginError(f"{plugin.namespace} failed: {exc.__class__.__name__}: {exc}") from None
    tags = [t.replace("\r", "").replace("\n", "").strip() for t in ",".join(output.tags).split(",")]
    tags = [t for t in tags if t]
    if tags and ctx.settings.get("tagruleson"):
        tags = tagrules.apply_rules(tags, tagrules.parse_rules(tagrules.rules_text(ctx.db)))
    existing = (row["tags"] or "").upper()
    new_tags = "".join(f" {t}," for t in tags if t.upper() not in existing)[:-1]
    data: dict[str, Any] = {"new_tags": new_tags}
    if output.title and _one_line(output.title) and replace_titles(ctx.db):
        data["title"] = _one_line(output.title)
    if output.summary and output.summary.strip():
        data["summary"] = output.summary.strip()
    return data


def use_plugin(ctx, namespace: str | None, archive_id: str | None, arg: str | None) -> dict[str, Any]:
    """The body of POST /api/plugins/use without `operation`: {type, success, error, data}; the archive is
    not modified. An unknown plugin gives {success: 0, error} without `type`."""
    plugin = get_plugin(namespace)
    if plugin is None:
        return {"success": 0, "error": NOT_FOUND}
    if not archive_id:
        return {"type": plugin.type, "success": 0, "error": NO_ID, "data": {}}
    try:
        data = exec_metadata(ctx, plugin, archive_id, arg or "")
    except PluginError as exc:
        return {"type": plugin.type, "success": 0, "error": str(exc), "data": {}}
    return {"type": plugin.type, "success": 1, "error": None, "data": data}


def apply_data(ctx, archive_id: str, data: dict[str, Any]) -> None:
    """Store a plugin's result as LANraragi does after an automatic run on a new archive: tags appended (then
    normalised like every tag write), title and summary replaced, under the archive's lock like every other
    write to it. A queued run (run_plugin_job) never calls this."""
    with ctx.locks.hold("archive-write", archive_id), ctx.db.write() as conn:
        row = conn.execute("SELECT tags FROM archives WHERE id=?", (archive_id,)).fetchone()
        if row is None:
            return
        new_tags = data.get("new_tags") or ""
        if new_tags.strip():
            records.write_tags(conn, archive_id, normalize_tags((row["tags"] or "") + "," + new_tags))
        if data.get("title"):
            records.write_title(conn, archive_id, data["title"])
        if data.get("summary"):
            conn.execute("UPDATE archives SET summary=? WHERE id=?", (data["summary"], archive_id))
    ctx.settings.touch_cache()


def run_plugin_job(ctx, namespace: str, archive_id: str, arg: str) -> dict[str, Any]:
    """Minion's run_plugin [ns, id, arg] (POST /api/plugins/queue): the use_plugin result, recorded as the
    job's result only. As in LANraragi the archive is untouched: a client queues a plugin to preview what it
    finds and applies the tags itself (only auto_run, on new archives, writes a plugin's result)."""
    return use_plugin(ctx, namespace, archive_id, arg)


def enabled_plugins(ctx) -> list[Plugin]:
    """Enabled metadata plugins in registry order, regexplugin first (as LANraragi runs them)."""
    # One read of every switch (auto_run runs per new archive: a 2,000-file drop asked 28,000 times): the keys
    # from the prefix up to the prefix with its last character (':') replaced by the next one (';').
    on = {str(r[0])[len(ENABLED_PREFIX):] for r in ctx.db.query(
        "SELECT key FROM settings WHERE key >= ? AND key < ? AND value = '1'", (ENABLED_PREFIX, ENABLED_PREFIX[:-1] + ";"))}
    plugins = [p for ns, p in registry().items() if ns in on]
    return sorted(plugins, key=lambda p: p.namespace != "regexplugin")


def auto_run(ctx, archive_id: str) -> dict[str, Any]:
    """Run every enabled metadata plugin on a newly imported archive, applying each result before the
    next plugin runs. Never raises: returns {"successes", "failures", "title"} (title = the last one set)."""
    successes = failures = 0
    title = None
    for plugin in enabled_plugins(ctx):
        try:
            data = exec_metadata(ctx, plugin, archive_id, "")
            apply_data(ctx, archive_id, data)
        except PluginError as exc:
            failures += 1
            log.info("auto-run of %s on %s: %s", plugin.namespace, archive_id, exc)
            continue
        except Exception:  # the import that called us must not fail because of a plugin
            failures += 1
            log.warning("auto-run of %s on %s failed", plugin.namespace, archive_id, exc_info=True)
            continue
        successes += 1
        title = data.get("title", title)
    return {"successes": successes, "failures": failures, "title": title}
