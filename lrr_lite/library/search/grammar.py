"""The search filter grammar of SEMANTICS §5.2, ported from LANraragi's `compute_search_filter`.

`parse_filter` turns a filter string into terms. A term's text keeps `*` (any run) and `?` (one
character) as its only wildcards; every other character is literal. `glob_pattern` turns that text into an
SQLite GLOB pattern (also valid for `fnmatch.fnmatchcase`), so no Redis-style backslash escaping is needed.

Pure functions, linear time, and they never raise on any `str` input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A character no stored text contains and that SQLite can still bind: stands in for NUL (which would end
# an SQLite pattern early) and for lone surrogates (which cannot be encoded as UTF-8), so such a term
# matches nothing instead of something broader or an encoding error.
UNMATCHABLE = "\uffff"
_UNBINDABLE = re.compile("[\x00\ud800-\udfff]")

# Perl's \s (what LANraragi's trim strips): Python's \s minus the four separators \x1c-\x1f.
_TRIM = re.compile(r"^[^\S\x1c-\x1f]+|[^\S\x1c-\x1f]+$")
_WILDCARDS = str.maketrans({"_": "?", "%": "*"})
_NUMERIC = re.compile(r"(pages|read):(>=|<=|>|<)?([0-9]+)")
_SQLITE_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Term:
    text: str  # lowercased, trimmed; `*` and `?` are wildcards, everything else literal
    exact: bool  # quoted, or a trailing `$`
    negated: bool  # a leading `-`


def parse_filter(filter: str | None) -> list[Term]:
    """Split a search filter into terms exactly as LANraragi does (§5.2); empty terms are dropped."""
    if not filter:
        return []
    s = str(filter)
    n = len(s)
    i = 0
    terms: list[Term] = []

    while i < n:
        c = s[i]
        i += 1
        # Skip spaces (only ' ', as the reference); a trailing run of spaces leaves c == ' '.
        while c == " " and i < n:
            c = s[i]
            i += 1
        negated = False
        if c == "-":
            negated = True
            c = s[i] if i < n else ""
            i = min(i + 1, n)
        delimiter = ","
        if c == '"':
            delimiter = '"'
            c = s[i] if i < n else ""
            i = min(i + 1, n)

        # The term runs from c up to the delimiter (consumed) or the end of the string.
        if c == "" or c == delimiter:
            tag = ""
        else:
            j = s.find(delimiter, i)
            if j < 0:
                tag, i = c + s[i:], n
            else:
                tag, i = c + s[i:j], j + 1

        if delimiter == '"':
            exact = True
            if i < n and s[i] == "$":  # `"…"$` is accepted and means nothing more
                i += 1
        elif tag.endswith("$"):  # checked before trimming: `x$ ` keeps its `$` and is not exact
            exact = True
            tag = tag[:-1]
        else:
            exact = False

        tag = _TRIM.sub("", tag)
        if tag:
            text = _UNBINDABLE.sub(UNMATCHABLE, tag.translate(_WILDCARDS).lower())
            terms.append(Term(text, exact, negated))
    return terms


def glob_pattern(text: str, prefix: str = "", suffix: str = "") -> str:
    """An SQLite GLOB pattern matching `text` with `*`/`?` as wildcards and every other character literal.

    `prefix`/`suffix` are raw glob fragments put around it (suffix="*" = starts with; both "*" = contains).
    The only character special to GLOB outside a bracket class besides the wildcards is `[`, written `[[]`
    (`]` and `^` are literal outside a class). The result means the same to `fnmatch.fnmatchcase`.
    """
    body = _UNBINDABLE.sub(UNMATCHABLE, text).replace("[", "[[]")
    return prefix + body + suffix


def literal_prefix(text: str) -> str:
    """The literal start of a term text (or of a `glob_pattern` result) before any wildcard or bracket.

    Every string the pattern matches starts with it, so `col >= p AND col < p_next` can narrow an index
    scan before the GLOB itself runs. Stops at `[` too, so a pattern's `[[]` is never taken literally.
    Never ends in U+D7FF or U+10FFFF (they are dropped: a shorter prefix is still a valid bound), so
    `chr(ord(p[-1]) + 1)` is always a real, bindable character.
    """
    end = len(text)
    for ch in "*?[\x00":
        k = text.find(ch, 0, end)
        if k >= 0:
            end = k
    return text[:end].rstrip("\ud7ff\U0010ffff")


def numeric_filter(text: str) -> tuple[str, str, int] | None:
    """`pages:`/`read:` + optional `>`, `<`, `>=`, `<=` + digits (the whole term) -> (column, op, number).

    Column is "pages" or "read", op one of "=", ">", "<", ">=", "<=". Numbers beyond SQLite's integer range
    are clamped to 2**63-1 (no page count comes near it), so a huge term never raises.
    """
    m = _NUMERIC.fullmatch(text)
    if m is None:
        return None
    digits = m.group(3).lstrip("0") or "0"
    number = _SQLITE_MAX_INT if len(digits) > 19 else min(int(digits), _SQLITE_MAX_INT)
    return m.group(1), m.group(2) or "=", number
