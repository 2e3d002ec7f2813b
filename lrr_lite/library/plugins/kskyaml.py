"""kskyamlmeta (Koushoku/Koharu.yaml 0.004.1): koushoku.yaml / info.yaml embedded in the archive.

No YAML library is a dependency, so the simple flat YAML these downloaders write is read by hand
(`parse_flat_yaml`): top-level `Key: value` scalars (plain, 'single' or "double" quoted), `Key:` followed
by `- item` lists or by one level of `sub: value` pairs (their values are taken as a list), comments and
blank lines. Anything else (anchors, flow collections, multi-line scalars) is rejected with an error
rather than guessed at.

Mapping: Title -> title, Artist -> artist:, Circle -> group:, Parody -> series:, Magazine -> magazine:,
Tags -> bare tags, URL (scalar or mapping of sites) -> source:, Description -> summary. Parameter 0 adds
`language:english`; parameter 1 adds `released:<Released>` when present.
"""

from __future__ import annotations

import re

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, decode_text, split_list

_KEY = re.compile(r"^([A-Za-z_][\w .-]*?)\s*:(?:\s+(.*))?$")
_ITEM = re.compile(r"^\s+-\s+(.*)$|^-\s+(.*)$")


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.startswith(("&", "*", "[", "{", "|", ">", "!")):
        raise PluginError(f"Unsupported YAML construct: {text[:20]}")
    return re.sub(r"\s+#.*$", "", text)


def parse_flat_yaml(text: str) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {}
    current: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip() or raw.lstrip().startswith("#") or raw.strip() == "---":
            continue
        if not raw[0].isspace() and not raw.startswith("- "):
            m = _KEY.match(raw.rstrip())
            if m is None:
                raise PluginError(f"Couldn't parse YAML line: {raw[:40]}")
            key, value = m.group(1).strip(), m.group(2)
            if value is not None and value.strip() and not value.strip().startswith("#"):
                data[key] = _scalar(value)
                current = None
            else:
                data[key] = []
                current = key
            continue
        if current is None:
            raise PluginError(f"Couldn't parse YAML line: {raw[:40]}")
        item = _ITEM.match(raw.rstrip())
        listed = data[current]
        assert isinstance(listed, list)
        if item:
            listed.append(_scalar(item.group(1) or item.group(2) or ""))
            continue
        m = _KEY.match(raw.strip())
        if m and m.group(2):
            listed.append(_scalar(m.group(2)))
            continue
        raise PluginError(f"Couldn't parse YAML line: {raw[:40]}")
    return data


def ksk(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("koushoku.yaml", "info.yaml")
    if found is None:
        raise PluginError("No koushoku.yaml or info.yaml file found in archive")
    data = parse_flat_yaml(decode_text(found[1]))
    if not data:
        raise PluginError("The YAML file is empty")
    out = PluginOutput()
    for key, ns in (("Artist", "artist"), ("Circle", "group"), ("Parody", "series"),
                    ("Magazine", "magazine"), ("Tags", ""), ("URL", "source")):
        for item in split_list(data.get(key)) if key != "URL" else _as_list(data.get(key)):
            out.tags.append(f"{ns}:{item}" if ns else item)
    if params.get("0"):
        out.tags.append("language:english")
    released = data.get("Released")
    if params.get("1") and isinstance(released, str) and released:
        out.tags.append(f"released:{released}")
    title = data.get("Title")
    out.title = title.strip() if isinstance(title, str) and title.strip() else None
    description = data.get("Description")
    out.summary = description if isinstance(description, str) and description else None
    return out


def _as_list(value: str | list[str] | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in (value if isinstance(value, list) else [value]) if v.strip()]


PLUGINS = {"kskyamlmeta": ksk}
