"""chaikafileplugin (Chaika.moe api.json 0.3): a chaika.moe archive API answer saved as api.json.

`tags` (underscores become spaces; with parameter 1 bare tags go to `other:`), `title`; with parameter 0
also `download:<download>`, `gallery:<gallery>`, `category:<category>`, `timestamp:<posted>`; parameter 2
adds `source:<value>` when not blank.
"""

from __future__ import annotations

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, load_json, split_list


def parse_chaika(obj: object, extras: bool, other: bool, source: str) -> PluginOutput:
    if not isinstance(obj, dict) or ("tags" not in obj and "title" not in obj):
        raise PluginError("Not a chaika api.json (no tags or title)")
    tags = []
    for tag in split_list(obj.get("tags")):
        tag = tag.replace("_", " ")
        if other and ":" not in tag:
            tag = "other:" + tag
        tags.append(tag)
    if extras:
        for key, ns in (("download", "download"), ("gallery", "gallery"), ("category", "category"),
                        ("posted", "timestamp")):
            value = obj.get(key)
            if value not in (None, "", False) and not isinstance(value, dict | list):
                tags.append(f"{ns}:{value}")
    if source.strip():
        tags.append(f"source:{source.strip()}")
    title = obj.get("title")
    return PluginOutput(tags=tags, title=str(title).strip() if title else None)


def chaikafile(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("api.json")
    if found is None:
        raise PluginError("No api.json file found in archive")
    return parse_chaika(load_json(found[1], "api.json"), bool(params.get("0")), bool(params.get("1")),
                        str(params.get("2") or ""))


PLUGINS = {"chaikafileplugin": chaikafile}
