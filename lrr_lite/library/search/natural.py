"""Natural-order sort keys: plain code-point comparison of keys = LANraragi's title order (SEMANTICS §5.4).

LANraragi sorts with Perl's Sort::Naturally (`nsort`/`ncmp`). For strings a, b it compares
x = lc(a) and y = lc(b) with only the *first* run of non-word characters deleted (`s/\\W+//`):

1. a digit-initial x precedes a non-digit-initial one (an empty x counts as non-digit-initial);
2. then x and y are walked together as units: each non-digit character is a unit compared by code point,
   each maximal digit run is one unit compared by numeric value; a character unit sorts before a number
   unit at the same point; when one side runs out first (its remainder is shorter), it sorts first;
3. if all units tie, the original strings a and b compare as plain text.

`natural_key` encodes that as one string, so the order can live in an SQLite TEXT column with an index
(BINARY collation compares UTF-8 bytes, which is code-point order):

    key = class + units + END + escaped(a)

- class: "\\x02" if x starts with a digit, else "\\x03" (rule 1);
- a character unit is the character itself, except the few characters that serve as markers, which are
  escaped into two-character sequences that keep their relative order (`_escape`);
- a number unit is NUM (U+10FFFF, above every character encoding: rule 2's "text before digits") + the
  digit count written as a length-of-length character and its decimal digits + the digits without leading
  zeros — so numbers compare by value at any size, without int();
- END ("\\x01", below everything) ends the units, so a side that runs out sorts first;
- the escaped original text is the last tiebreak (rule 3).

The encoding is prefix-free, so comparing keys compares unit by unit. Keys never contain NUL or lone
surrogates (both are escaped), so any key can be stored in SQLite.

Choices where Perl's behaviour is an accident rather than a rule: digits are Unicode decimal digits
(`\\d`, as Perl's on decoded text), and a non-ASCII digit run compares by its numeric value (Perl would
numify "１２" as 0); word characters follow Perl's \\w (letters, marks, decimal and letter numbers,
connector punctuation, ZWNJ/ZWJ) rather than Python's; lowercasing is Python's `str.lower`.
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
