"""DateAddedPlugin (Add Timestamp Tag 1.0): adds `date_added:<epoch>`.

The one-shot argument chooses the source: yes/true = the file's modification time, no/false = now; blank
follows the server setting (`usedatemodified`, LANraragi's "Use Last modified Time"). Any other text is an
error rather than a silent guess.
"""

from __future__ import annotations

import time

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput


def date_added(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    choice = (oneshot or "").strip().lower()
    if choice in ("yes", "true", "1"):
        use_mtime = True
    elif choice in ("no", "false", "0"):
        use_mtime = False
    elif choice == "":
        use_mtime = bool(info.ctx.settings.get("usedatemodified"))
    else:
        raise PluginError(f"Unrecognised argument '{oneshot}': use yes/true, no/false or leave it blank.")
    if use_mtime:
        try:
            stamp = int(info.path.stat().st_mtime)
        except OSError as exc:
            raise PluginError(f"Couldn't read the file's modification time: {exc}") from None
    else:
        stamp = int(time.time())
    return PluginOutput(tags=[f"date_added:{stamp}"])


PLUGINS = {"DateAddedPlugin": date_added}
