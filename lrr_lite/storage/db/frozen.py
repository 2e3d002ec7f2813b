"""Frozen copies, for the migrations, of the functions that derived stored values when those migrations were
written: the natural sort key (search/natural.py) and the tag helpers (tags.py) as of schema 3.

A migration must give the same database whenever it runs, so it may not call today's code: if the sort key
or the tag rules change later, a new migration recomputes the stored values with the new code, and these
copies stay as they are. Do not edit them; add a new copy for a new migration instead.

The sort key changed once since (Unicode folding): migrations do not recompute it; the `meta` table (schema
11) records which key version wrote the stored keys, and `library/search/rekey.py` re-keys with today's code
when it differs, so later key changes need no frozen copy.
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT_FIRST = "\x02"
_OTHER_FIRST = "\x03"
_END = "\x01"
_NUM = "\U0010ffff"

_UNITS = re.compile(r"\d+|\D+")
# Characters that would collide with the markers above or cannot be stored (NUL, lone surrogates).
_SPECIAL = re.compile("[\x00-\x02\ud7ff-\udfff\U0010fffe\U0010ffff]")
_ASCII_NONWORD = re.compile(r"[^0-9A-Za-z_]+")
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "Pc"})
_JOIN_CONTROLS = frozenset("\u200c\u200d")


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    if c <= 0x02:  # below the markers: "\x02" + a second char keeps 0 < 1 < 2 < "\x03"
        return "\x02" + chr(c + 2)
    if c <= 0xDFFF:  # U+D7FF and the surrogates, between U+D7FE and U+E000
        return "\ud7ff" + chr(c - 0xD7FF + 2)
    return "\U0010fffe" + chr(c - 0x10FFFE + 2)  # U+10FFFE, U+10FFFF: stay below NUM


def _escape(text: str) -> str:
    return _SPECIAL.sub(_escape_char, text)


def _is_word(c: str) -> bool:
    if c.isascii():
        return c.isalnum() or c == "_"
    return unicodedata.category(c) in _WORD_CATEGORIES or c in _JOIN_CONTROLS


def _delete_first_nonword_run(x: str) -> str:
    """Perl's `s/\\W+//`: delete only the first run of non-word characters, wherever it is."""
    if x.isascii():
        return _ASCII_NONWORD.sub("", x, count=1)
    n = len(x)
    for start, c in enumerate(x):
        if not _is_word(c):
            end = start + 1
            while end < n and not _is_word(x[end]):
                end += 1
            return x[:start] + x[end:]
    return x


def _number(run: str) -> str:
    if not run.isascii():
        run = "".join(str(unicodedata.decimal(c, 0)) for c in run)
    digits = run.lstrip("0")
    count = str(len(digits))
    return _NUM + chr(0x21 + len(count)) + count + digits


def natural_key(text: str) -> str:
    """A key whose code-point (SQLite BINARY) order is Sort::Naturally's order of the texts.

    Pass the lowercased text for LANraragi parity (it sorts `<lowercased title>\\0<ID>`; the final
    tiebreak compares the text as given, so case only matters there).
    """
    x = _delete_first_nonword_run(text.lower())
    parts = [_DIGIT_FIRST if x[:1].isdecimal() else _OTHER_FIRST]
    for m in _UNITS.finditer(x):
        run = m.group()
        parts.append(_number(run) if run[0].isdecimal() else _escape(run))
    parts.append(_END)
    parts.append(_escape(text))
    return "".join(parts)


# A tag is "basic" if it contains one of these anywhere, case-sensitively; only basic tags = untagged.
BASIC_MARKERS = ("artist:", "parody:", "series:", "language:", "event:", "group:", "date_added:",
                 "timestamp:", "source:")


def split_tags(raw: str | None) -> list[str]:
    """Trimmed, non-empty tags of a raw string (old data may use ', ' separators)."""
    if not raw:
        return []
    return [t for t in (part.strip() for part in raw.split(",")) if t]


def index_keys(raw: str | None) -> set[str]:
    """The lowercased trimmed tags search and stats look up."""
    return {t.lower() for t in split_tags(raw)}


def is_untagged(raw: str | None) -> bool:
    return all(any(marker in tag for marker in BASIC_MARKERS) for tag in split_tags(raw))


def namespace_values(raw: str | None) -> dict[str, str]:
    """Lowercased namespace -> lowercased value of its LAST tag (LANraragi's sortby takes the last one)."""
    out: dict[str, str] = {}
    for tag in split_tags(raw):
        ns, sep, value = tag.partition(":")
        if sep and ns.strip():
            out[ns.strip().lower()] = value.strip().lower()
    return out
