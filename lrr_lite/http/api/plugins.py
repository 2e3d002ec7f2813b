"""/api/plugins (SEMANTICS §16): list, use, queue — plus our per-plugin auto-run switch and parameters.

Additions of lrr_lite (LANraragi configures these in its web UI):

- `PUT /api/plugins/<namespace>/enabled?value=1|0` 🔑: run the plugin automatically on new archives
  (LANraragi's per-plugin "enable"); stored as setting `plugin_enabled:<namespace>`.
- `PUT /api/plugins/<namespace>/parameters?values=<JSON array>` 🔑: the plugin's parameter values in
  descriptor order (bools as 1/0 or true/false); stored as setting `plugin_params:<namespace>`.
Both answer with the usual envelope; an unknown namespace is a 400 "Plugin not found on system.".
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from lrr_lite.http.api.common import (
    ApiError,
    SpecViolation,
    check_archive_id,
    envelope,
    int_param,
    json_reply,
    param,
)
from lrr_lite.library.jobs import JobContext
from lrr_lite.library.plugins import PLUGIN_TYPES, get_plugin, plugin_infos, runner


def _archive_id() -> str | None:
    value = param("id")
    return check_archive_id(value) if value else None


def mount(app: bottle.Bottle, ctx) -> None:
    def run_plugin(job: JobContext, args: list[Any]) -> dict[str, Any]:
        padded = [str(a) if a is not None else "" for a in list(args) + ["", "", ""]]
        return runner.run_plugin_job(ctx, padded[0], padded[1], padded[2])

    ctx.jobs.register("run_plugin", run_plugin)

    @app.get("/api/plugins/<plugin_type>", secure=True, operation="list_plugins")
    def list_plugins(plugin_type: str) -> str:
        if plugin_type not in (*PLUGIN_TYPES, "all"):
            raise SpecViolation("Not in enum list: download, login, metadata, script, all.", "/type")
        return json_reply(plugin_infos(plugin_type))

    @app.post("/api/plugins/use", secure=True, operation="use_plugin")
    def use() -> str:
        archive_id = _archive_id()
        result = runner.use_plugin(ctx, param("plugin"), archive_id, param("arg"))
        return json_reply({"operation": "use_plugin", **result})

    @app.post("/api/plugins/queue", secure=True, operation="queue_plugin_exec")
    def queue() -> str:
        archive_id = _archive_id()
        priority = int_param("priority", 0) or 0
        job = ctx.jobs.enqueue("run_plugin", [param("plugin") or "", archive_id or "", param("arg") or ""],
                               priority=priority)
        return json_reply({"operation": "queue_plugin_exec", "success": 1, "job": job})

    @app.put("/api/plugins/<namespace>/enabled", secure=True, operation="set_plugin_enabled")
    def set_enabled(namespace: str) -> str:
        op = "set_plugin_enabled"
        if get_plugin(namespace) is None:
            raise ApiError(op, runner.NOT_FOUND)
        value = (param("value") or "").strip().lower()
        if value not in ("1", "0", "true", "false"):
            raise ApiError(op, "value must be 1 or 0.")
        enabled = value in ("1", "true")
        runner.set_enabled(ctx.db, namespace, enabled)
        state = "enabled" if enabled else "disabled"
        return envelope(op, f"Auto-run of {namespace} {state}.", namespace=namespace, enabled=int(enabled))

    @app.put("/api/plugins/<namespace>/parameters", secure=True, operation="set_plugin_parameters")
    def set_parameters(namespace: str) -> str:
        op = "set_plugin_parameters"
        plugin = get_plugin(namespace)
        if plugin is None:
            raise ApiError(op, runner.NOT_FOUND)
        try:
            values = json.loads(param("values") or "")
        except ValueError:
            values = None
        if not isinstance(values, list) or any(isinstance(v, dict | list) for v in values):
            raise ApiError(op, "values must be a JSON array of plain values.")
        runner.set_params(ctx.db, namespace, values)
        stored = plugin.param_values(values)
        return envelope(op, f"Saved parameters of {namespace}.", namespace=namespace,
                        parameters=[stored[str(i)] for i in range(len(plugin.descriptor["parameters"]))])
