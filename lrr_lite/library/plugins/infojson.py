"""info.json families of downloaders (SEMANTICS §16).

Each plugin looks for its file inside the archive (case-sensitive "basename ends with" test, as LANraragi),
and eze / gallery-dl also for a sidecar `<archive name>.json` next to the archive. A JSON file of another
downloader's shape is refused with an error rather than read as garbage.

- ezeplugin (eze 2.4): {"gallery_info": {title, title_original, tags: {ns: [..]}, category,
  source: {site, gid, token}}, "gallery_info_full": {uploader, date_uploaded (ms)}}. Tags `ns:tag` (namespaces
  sorted, "misc"/"" give bare tags), `category:`, `source:<site>.org/g/<gid>/<token>`; parameter 0 = use
  title_original, parameter 1 = add `uploader:` and `timestamp:` (seconds).
- gallerydlplugin (GalleryDL 1.0): gallery-dl's --write-metadata file. `title` (or `title_en`), `tags`
  (list of strings kept as-is — e-hentai writes `ns:tag` — or {ns: [..]}), `artist`/`artists` -> artist:,
  `group`/`groups` -> group:, `parody`/`parodies` -> series:, `characters` -> character:, `language`/`lang` ->
  language: (unless tags already carry one), `eh_category`/`type` -> category:, `gallery_url`/`url` -> source:,
  `description` -> summary.
- Hdoujinplugin (HDoujin 0.7): info.json {"manga_info": {title, tags ({ns: [..]} or list), artist, author ->
  artist:, circle -> group:, parody/series -> series:, characters -> character:, language -> language:,
  url -> source:, description -> summary}} or the info.txt `Key: value` form of the same fields (`Tags:`
  comma-separated, `ns:tag` kept).
- koromoplugin (koromo 2.2): Info.json {Title, Tags: [..], Artists/Artist -> artist:, Groups -> group:,
  Series/Parody -> series:, Characters -> character:, Language -> language:, Types -> category:, URL -> source:}.
- hentagplugin (Hentag 0.3): info.json {title, parodies -> series:, circles -> group:, artists -> artist:,
  characters -> character:, maleTags -> male:, femaleTags -> female:, otherTags -> bare, language ->
  language:, category -> category:, locations -> source:, description -> summary}.
"""

from __future__ import annotations

from typing import Any

from lrr_lite.library.plugins.base import (
    ArchiveInfo,
    PluginError,
    PluginOutput,
    decode_text,
    load_json,
    prefixed,
    split_list,
)


def _json_object(info: ArchiveInfo, names: tuple[str, ...], sidecar: bool, what: str) -> dict[str, Any]:
    found = info.embedded(*names)
    data = found[1] if found else (info.sidecar(".json") if sidecar else None)
    if data is None:
        where = " or next to it" if sidecar else ""
        raise PluginError(f"No {names[0]} file found in archive{where}")
    obj = load_json(data, names[0])
    if not isinstance(obj, dict):
        raise PluginError(f"{names[0]} is not a JSON object")
    return obj


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _ns_dict(tags: Any, bare: tuple[str, ...] = ("", "misc")) -> list[str]:
    """{ns: [values]} -> ns:value (namespaces in sorted order), or a plain list kept as-is."""
    if isinstance(tags, dict):
        out = []
        for ns in sorted(tags):
            out += prefixed("" if ns.strip().lower() in bare else ns.strip(), tags[ns])
        return out
    return split_list(tags)


def eze(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    obj = _json_object(info, ("info.json",), True, "eze")
    gallery = obj.get("gallery_info")
    if not isinstance(gallery, dict):
        raise PluginError("Not an eze info.json (no gallery_info)")
    out = PluginOutput(tags=_ns_dict(gallery.get("tags")))
    if category := _text(gallery.get("category")):
        out.tags.append(f"category:{category}")
    source = gallery["source"] if isinstance(gallery.get("source"), dict) else {}
    site, gid, token = _text(source.get("site")), _text(source.get("gid")), _text(source.get("token"))
    if site and gid and token:
        out.tags.append(f"source:{site}.org/g/{gid}/{token}")
    if params.get("1"):
        full = obj["gallery_info_full"] if isinstance(obj.get("gallery_info_full"), dict) else {}
        if uploader := _text(full.get("uploader")):
            out.tags.append(f"uploader:{uploader}")
        stamp = full.get("date_uploaded")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            out.tags.append(f"timestamp:{int(stamp // 1000)}")
    out.title = _text(gallery.get("title"))
    if params.get("0") and _text(gallery.get("title_original")):
        out.title = _text(gallery.get("title_original"))
    return out


def gallerydl(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    obj = _json_object(info, ("info.json",), True, "gallery-dl")
    if "gallery_info" in obj or "manga_info" in obj:
        raise PluginError("Not a gallery-dl info.json")
    out = PluginOutput(tags=_ns_dict(obj.get("tags"), bare=("", "misc", "general")))
    for keys, ns in ((("artist", "artists"), "artist"), (("group", "groups"), "group"),
                     (("parody", "parodies"), "series"), (("characters", "character"), "character")):
        for key in keys:
            out.tags += prefixed(ns, obj.get(key))
    if not any(t.lower().startswith("language:") for t in out.tags):
        lang = _text(obj.get("language")) or _text(obj.get("lang"))
        if lang:
            out.tags.append(f"language:{lang}")
    category = _text(obj.get("eh_category")) or _text(obj.get("type"))
    if category:
        out.tags.append(f"category:{category}")
    url = _text(obj.get("gallery_url")) or _text(obj.get("url"))
    if url:
        out.tags.append(f"source:{url}")
    out.title = _text(obj.get("title")) or _text(obj.get("title_en"))
    out.summary = _text(obj.get("description"))
    if not out.tags and not out.title:
        raise PluginError("No metadata found in the gallery-dl info.json")
    return out


HDOUJIN_FIELDS = (("artist", "artist"), ("author", "artist"), ("circle", "group"), ("parody", "series"),
                  ("series", "series"), ("characters", "character"), ("language", "language"),
                  ("url", "source"))


def _hdoujin_fields(fields: dict[str, Any]) -> PluginOutput:
    lower = {str(k).strip().lower(): v for k, v in fields.items()}
    out = PluginOutput(tags=_ns_dict(lower.get("tags")))
    for key, ns in HDOUJIN_FIELDS:
        if key == "url":
            if url := _text(lower.get("url")):
                out.tags.append(f"source:{url}")
        else:
            out.tags += prefixed(ns, lower.get(key))
    out.title = _text(lower.get("title"))
    out.summary = _text(lower.get("description"))
    return out


def parse_hdoujin_txt(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip(" \t") and key.strip().lower() not in fields:
            fields[key.strip().lower()] = value.strip()
    return fields


def hdoujin(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("info.json")
    if found is not None:
        obj = load_json(found[1], "info.json")
        manga = obj.get("manga_info") if isinstance(obj, dict) else None
        if not isinstance(manga, dict):
            raise PluginError("Not an HDoujin info.json (no manga_info)")
        return _hdoujin_fields(manga)
    found = info.embedded("info.txt")
    if found is None:
        raise PluginError("No HDoujin info.json or info.txt file found in archive")
    fields = parse_hdoujin_txt(decode_text(found[1]))
    if not fields:
        raise PluginError("Not an HDoujin info.txt (no Key: value lines)")
    return _hdoujin_fields(fields)


def koromo(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    obj = _json_object(info, ("Info.json",), False, "koromo")
    out = PluginOutput(tags=split_list(obj.get("Tags")))
    for key, ns in (("Characters", "character"), ("Series", "series"), ("Parody", "series"),
                    ("Groups", "group"), ("Artists", "artist"), ("Artist", "artist"),
                    ("Language", "language"), ("Types", "category")):
        out.tags += prefixed(ns, obj.get(key))
    if url := _text(obj.get("URL")):
        out.tags.append(f"source:{url}")
    out.title = _text(obj.get("Title"))
    if not out.tags and not out.title:
        raise PluginError("Not a koromo Info.json (no Title or Tags)")
    return out


HENTAG_FIELDS = (("parodies", "series"), ("circles", "group"), ("artists", "artist"),
                 ("characters", "character"), ("maleTags", "male"), ("femaleTags", "female"),
                 ("otherTags", ""), ("language", "language"), ("category", "category"),
                 ("locations", "source"))


def hentag(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    obj = _json_object(info, ("info.json",), False, "Hentag")
    if not any(key in obj for key, _ in HENTAG_FIELDS):
        raise PluginError("Not a Hentag info.json")
    out = PluginOutput()
    for key, ns in HENTAG_FIELDS:
        value = obj.get(key)
        if key in ("language", "category"):
            value = _text(value)
            if value:
                out.tags.append(f"{ns}:{value}")
        else:
            out.tags += prefixed(ns, value)
    out.title = _text(obj.get("title"))
    out.summary = _text(obj.get("description"))
    return out


PLUGINS = {"ezeplugin": eze, "gallerydlplugin": gallerydl, "Hdoujinplugin": hdoujin,
           "koromoplugin": koromo, "hentagplugin": hentag}
