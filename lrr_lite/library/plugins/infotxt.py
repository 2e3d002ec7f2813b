"""Plain-text info files of E-H downloaders.

- ehd-info (EHDL info.txt 1.0): the E-Hentai-Downloader userscript's info.txt. Line 1 = title, line 2 =
  Japanese title (when it is not the URL), then the gallery URL -> source:. `Category:` -> category:,
  `Uploader:` -> uploader:, `Posted: YYYY-MM-DD HH:MM` -> timestamp: (UTC epoch), the `Tags:` block of
  `> ns: a, b` lines -> ns:a, ns:b ("misc" gives bare tags). An `Uploader Comment:`/`Description:` block
  (up to the next blank line) is the description. Parameters (named): japanese_title, save_summary
  (description -> summary), replace_title (the title is only returned when on).
- hentaiathome (HentaiAtHome 0.2): H@H's galleryinfo.txt: `Title:` -> title, `Tags:` (comma-separated,
  `ns:tag` kept), `Upload Time:` -> timestamp: (UTC epoch), `Uploaded By:` -> uploader:,
  the text after `Uploader's Comments:` -> summary.
"""

from __future__ import annotations

import calendar
import re
import time

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, decode_text, split_list

_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_TAG_LINE = re.compile(r"^>\s*([^:]+):\s*(.*)$")


def _epoch(text: str) -> int | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text.strip(), fmt))
        except ValueError:
            continue
    return None


def parse_ehdl(text: str, *, japanese_title: bool = False) -> PluginOutput:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    head = [line.strip() for line in lines[:4]]
    url_index = next((i for i, line in enumerate(head) if _URL.match(line)), None)
    if url_index is None or url_index == 0:
        raise PluginError("Not an EHDL info.txt (no gallery URL in its first lines)")
    out = PluginOutput(title=head[0] or None)
    if japanese_title and url_index == 2 and head[1]:
        out.title = head[1]
    tags: list[str] = []
    extra: list[str] = []
    description: list[str] = []
    in_tags = in_description = False
    for line in lines[url_index + 1:]:
        stripped = line.strip()
        if in_description:
            if not stripped:
                in_description = False
            else:
                description.append(stripped)
            continue
        if stripped == "Tags:":
            in_tags = True
            continue
        if in_tags:
            m = _TAG_LINE.match(stripped)
            if m:
                ns = m.group(1).strip()
                tags += [t if ns.lower() == "misc" else f"{ns}:{t}" for t in split_list(m.group(2))]
                continue
            in_tags = False
        key, sep, value = stripped.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key in ("uploader comment", "uploader's comment", "description"):
            in_description = True
            if value:
                description.append(value)
        elif key == "category" and value:
            extra.append(f"category:{value}")
        elif key == "uploader" and value:
            extra.append(f"uploader:{value}")
        elif key == "posted" and (stamp := _epoch(value)) is not None:
            extra.append(f"timestamp:{stamp}")
    out.tags = tags + extra + [f"source:{head[url_index]}"]
    out.summary = "\n".join(description) or None
    return out


def ehd_info(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("info.txt")
    if found is None:
        raise PluginError("No info.txt file found in archive")
    out = parse_ehdl(decode_text(found[1]), japanese_title=bool(params.get("japanese_title")))
    if not params.get("save_summary"):
        out.summary = None
    if not params.get("replace_title"):
        out.title = None
    return out


def parse_galleryinfo(text: str) -> PluginOutput:
    out = PluginOutput()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found = False
    for i, line in enumerate(lines):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "title":
            out.title, found = value or None, True
        elif key == "tags":
            out.tags = split_list(value) + out.tags
            found = True
        elif key == "upload time" and (stamp := _epoch(value)) is not None:
            out.tags.append(f"timestamp:{stamp}")
        elif key == "uploaded by" and value:
            out.tags.append(f"uploader:{value}")
        elif key == "uploader's comments":
            out.summary = "\n".join(x.strip() for x in lines[i + 1:]).strip() or None
            break
    if not found:
        raise PluginError("Not a galleryinfo.txt (no Title or Tags line)")
    return out


def hentaiathome(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("galleryinfo.txt")
    if found is None:
        raise PluginError("No galleryinfo.txt file found in archive")
    return parse_galleryinfo(decode_text(found[1]))


PLUGINS = {"ehd-info": ehd_info, "hentaiathome": hentaiathome}
