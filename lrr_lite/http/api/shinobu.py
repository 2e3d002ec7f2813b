"""/api/shinobu: the file watcher's status and controls (SEMANTICS §14).

The watcher is a thread of this process, so every "pid" is the server's own process id and is_alive says
whether that thread runs. The instance lives on the context as `ctx.watcher`.
"""

from __future__ import annotations

import bottle

from lrr_lite.http.api.common import envelope, json_reply
from lrr_lite.library.intake.watcher import Watcher, configured_mode


def get_watcher(ctx) -> Watcher:
    watcher = getattr(ctx, "watcher", None)
    if watcher is None:
        watcher = Watcher(ctx)
        ctx.watcher = watcher
    return watcher


def start_if_enabled(ctx) -> bool:
    """`lrr-lite serve` calls this once the app is built: watch unless the `watch` option is "off".
    Not done at mount, so in-process test servers (tests/conftest.py) only watch when a test asks."""
    if configured_mode(ctx) == "off":
        return False
    get_watcher(ctx).start()
    return True


def mount(app: bottle.Bottle, ctx) -> None:
    watcher = get_watcher(ctx)

    @app.get("/api/shinobu", secure=True, operation="shinobu_status")
    def status() -> str:
        # `restarts` and `last_error` go beyond LANraragi: how often the watch loop was started again after
        # an error, and the last error it met (None when all went well).
        return json_reply({"operation": "shinobu_status", "success": 1, "is_alive": int(watcher.is_alive()),
                           "pid": watcher.pid, "restarts": watcher.restarts, "last_error": watcher.last_error})

    @app.post("/api/shinobu/stop", secure=True, operation="shinobu_stop")
    def stop() -> str:
        watcher.stop()
        return envelope("shinobu_stop")

    @app.post("/api/shinobu/restart", secure=True, operation="shinobu_restart")
    def restart() -> str:
        return json_reply({"operation": "shinobu_restart", "success": 1, "new_pid": watcher.restart()})

    @app.post("/api/shinobu/rescan", secure=True, operation="shinobu_rescan")
    def rescan() -> str:
        # Forget what the file map vouches for (IDs are recomputed; the path -> ID links stay, so changed
        # content is still re-keyed), retry unreadable files, and walk everything in the watcher's thread.
        with ctx.db.write() as conn:
            conn.execute("UPDATE files SET mtime_ns=-1")
            conn.execute("DELETE FROM bad_files")
        return envelope("shinobu_rescan", new_pid=watcher.rescan())
