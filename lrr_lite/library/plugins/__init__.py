"""Metadata plugins (SEMANTICS §16): the offline ones of LANraragi, under its namespaces and parameters.

A plugin is a descriptor (descriptors.py, LANraragi's texts) plus a function
`fn(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput` that reads the archive and returns the
raw tags/title/summary it found. It raises PluginError for a client-visible failure (file missing, malformed
XML/JSON…). runner.py turns that output into LANraragi's result (tag rules, new_tags, title) and applies it.

`params` maps each parameter to its value: by its `name` when the descriptor names it, else by its
position ("0", "1", …) — LANraragi passes unnamed parameters positionally. Values come from the
`plugin_params:<namespace>` setting (a JSON array in descriptor order), falling back to `default_value`
(or false/"" when the descriptor has none).

Network-only plugins (E-H, nHentai, Chaika.moe search, FAKKU, Hitomi, Pixiv, MEMS) are not shipped.
"""

from __future__ import annotations

from lrr_lite.library.plugins.base import (
           PLUGIN_TYPES,
           ArchiveInfo,
           Plugin,
           PluginError,
           PluginFn,
           PluginOutput,
           decode_text,
           load_json,
           prefixed,
           split_list,
)
from lrr_lite.library.plugins.registry import get_plugin, plugin_infos, registry

__all__ = ["PLUGIN_TYPES", "ArchiveInfo", "Plugin", "PluginError", "PluginFn", "PluginOutput", "decode_text",
           "get_plugin", "load_json", "plugin_infos", "prefixed", "registry", "split_list"]
