"""Tag copying plugins.

- copytags (Tag Copier 2.1): returns the tags of parameter 0 (comma-separated), for batch tagging.
- copy-archive-tags (Copy Archive Tags 1.2): the one-shot argument is an archive ID or any URL containing
  one (…/reader?id=<40 hex>, /api/archives/<id>…); the tags of that archive in this library are copied,
  without its `date_added:` tags unless the named parameter copy_date_added is on. lrr_lite looks the
  archive up in its own database (no HTTP), so only archives of this library can be copied from.
"""

from __future__ import annotations

import re

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, split_list

_ID = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{40})(?![0-9a-fA-F])")


def copytags(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    return PluginOutput(tags=split_list(params.get("0")))


def copy_archive_tags(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    if not (oneshot or "").strip():
        raise PluginError("No archive URL or ID given: enter one as the plugin argument.")
    m = _ID.search(oneshot)
    if m is None:
        raise PluginError(f"No archive ID found in '{oneshot.strip()}'.")
    source_id = m.group(1).lower()
    row = info.ctx.db.query_one("SELECT tags FROM archives WHERE id=? AND path != ''", (source_id,))
    if row is None:
        raise PluginError(f"Archive {source_id} not found.")
    tags = split_list(row["tags"])
    if not params.get("copy_date_added"):
        tags = [t for t in tags if not t.lower().startswith("date_added:")]
    return PluginOutput(tags=tags)


PLUGINS = {"copytags": copytags, "copy-archive-tags": copy_archive_tags}
