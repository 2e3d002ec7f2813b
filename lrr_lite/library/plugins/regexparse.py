"""regexplugin (Filename Parsing 1.2): tags and title from the archive's file name (without extension).

The regex (parameter 2, LANraragi's default below) is written in Perl syntax; `(?<name>…)` groups are
accepted as Python's `(?P<name>…)`. Each named group gives tags of the namespace named after it with any
numbered suffix removed (`artist2` -> artist:): `artist` also splits "Circle (A, B)" into group:Circle,
artist:A, artist:B; `artist`, `language` and `tag` values are comma-split; `tag` gives bare tags; `title`
is the title and `tail` the rest of the name. Parameter 0: a trailing `{a, b}` in the tail gives bare tags
a, b. Parameter 1: every other (…), […] or {…} in the tail gives `parsed:<content>` (empty ones skipped).
A regex that does not compile is a plugin error, not a crash.
"""

from __future__ import annotations

import re

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, split_list

DEFAULT_REGEX = (r"(\((?<event>[^([]+)\))?\s*(\[(?<artist>[^]]+)\])?\s*(?<title>[^([]+)\s*"
                 r"(\((?<series>[^([)]+)\))?\s*(\[(?<language>[^]]+)\])?(?<tail>.*)?")

_NAMED = re.compile(r"\(\?<(?=[A-Za-z_])")
_CIRCLE = re.compile(r"^(.*?)\s*\((.*)\)\s*$")
_TRAILING = re.compile(r"\{([^{}]*)\}\s*$")
_BRACKETS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|\{([^{}]*)\}")
_SPLIT = ("artist", "language", "tag")


def compile_perl(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(_NAMED.sub("(?P<", pattern))
    except re.error as exc:
        raise PluginError(f"Invalid regex: {exc}") from None


def parse_filename(name: str, regex: str = DEFAULT_REGEX, *, trailing_tags: bool = True,
                   keep_all: bool = True) -> PluginOutput:
    pattern = compile_perl(regex or DEFAULT_REGEX)
    m = pattern.search(name)
    out = PluginOutput()
    if m is None:
        return out
    tail = ""
    groups = sorted(pattern.groupindex.items(), key=lambda kv: kv[1])
    for group, _ in groups:
        value = (m.group(group) or "").strip()
        base = re.sub(r"\d+$", "", group).lower()
        if base == "title":
            out.title = value or out.title
            continue
        if base == "tail":
            tail = m.group(group) or ""
            continue
        if not value:
            continue
        if base == "artist":
            circle = _CIRCLE.match(value)
            if circle and circle.group(1).strip():
                out.tags.append(f"group:{circle.group(1).strip()}")
                value = circle.group(2)
        items = split_list(value) if base in _SPLIT else [value]
        out.tags += [item if base == "tag" else f"{base}:{item}" for item in items]
    if trailing_tags and (t := _TRAILING.search(tail)):
        out.tags += split_list(t.group(1))
        tail = tail[: t.start()]
    if keep_all:
        for b in _BRACKETS.finditer(tail):
            content = next(g for g in b.groups() if g is not None).strip()
            if content:
                out.tags.append(f"parsed:{content}")
    return out


def regexplugin(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    return parse_filename(info.filename, str(params.get("2") or DEFAULT_REGEX),
                          trailing_tags=bool(params.get("0")), keep_all=bool(params.get("1")))


PLUGINS = {"regexplugin": regexplugin}
