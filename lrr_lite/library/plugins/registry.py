"""The shipped metadata plugins by namespace, in LANraragi's descriptor order."""

from __future__ import annotations

from typing import Any

from lrr_lite.library.plugins import (
    chaika,
    comicinfo,
    dateadded,
    infojson,
    infotxt,
    kskyaml,
    regexparse,
    tagcopy,
)
from lrr_lite.library.plugins.base import PLUGIN_TYPES, Plugin, PluginFn
from lrr_lite.library.plugins.descriptors import DESCRIPTORS

_REGISTRY: dict[str, Plugin] | None = None


def registry() -> dict[str, Plugin]:
    global _REGISTRY
    if _REGISTRY is None:
        functions: dict[str, PluginFn] = {}
        for module in (comicinfo, infojson, infotxt, chaika, kskyaml, regexparse, dateadded, tagcopy):
            functions.update(module.PLUGINS)
        _REGISTRY = {d["namespace"]: Plugin(d, functions[d["namespace"]]) for d in DESCRIPTORS}
    return _REGISTRY


def get_plugin(namespace: str | None) -> Plugin | None:
    return registry().get(namespace or "")


def plugin_infos(plugin_type: str) -> list[dict[str, Any]]:
    """Descriptors for GET /api/plugins/{type}; only metadata plugins exist here."""
    if plugin_type not in PLUGIN_TYPES and plugin_type != "all":
        return []
    return [p.info() for p in registry().values() if plugin_type in ("all", p.type)]
