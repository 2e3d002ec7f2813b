"""Natural-order sort keys: plain code-point comparison of keys = the title order (SEMANTICS §5.4).

LANraragi sorts with Perl's Sort::Naturally (`nsort`/`ncmp`), which compares lowercased code points: `Çava`
and `Éclair` land after `zebra`, and full-width `Ｚｅｔａ` after every Latin title. §5.4 lets a server pick
any case-insensitive natural order (clients only consume it), so lrr_lite keeps Sort::Naturally's number
rules but compares *folded* text in a deliberate script order. For strings a, b:

0. fold each (`fold`): NFKC (full-width `Ａ１` → `a1`, ligatures split), case-folded (`ß` → `ss`), and the
   diacritics of Latin, Greek and Cyrillic letters removed (`Ç` → `c`, `é` → `e`, `ά` → `α`, `ё` → `е`),
   plus the letters Unicode does not decompose (`æ` → `ae`, `ø` → `o`, `ł` → `l`, `đ` → `d`, `þ` → `th` …).
   Marks on other scripts stay: `が` keeps its voicing mark (it is not folded into `か`), hangul syllables
   stay whole. x = fold(a), y = fold(b), each with only the *first* run of non-word characters deleted
   (Perl's `s/\\W+//`);
1. a digit-initial x precedes a non-digit-initial one (an empty x counts as non-digit-initial);
2. then x and y are walked together as units: each maximal digit run is one unit compared by numeric value;
   each other character is a unit compared by its *rank* — punctuation, spaces and symbols (ASCII ones first)
   < the letters a-z < every other letter, mark or number, by code point, which is Unicode's block order:
   Latin letters without an ASCII fold (`ə`), Greek, Cyrillic, …, kana, kanji, hangul. So a CJK title sorts
   after every Latin title because of the rule, not because `{` or `~` happen to lie between; a character
   unit sorts before a number unit at the same point; when one side runs out first, it sorts first;
3. if all units tie, the original strings a and b compare as plain text (code points).

`natural_key` encodes that as one string, so the order can live in an SQLite TEXT column with an index
(BINARY collation compares UTF-8 bytes, which is code-point order):

    key = class + units + END + escaped(a)

- class: "\\x02" if x starts with a digit, else "\\x03" (rule 1);
- a character unit is one code point for ASCII (letters as themselves; the other ASCII characters moved
  below `a` in their own order, into the slots of the capitals, which folded text never holds), else a
  rank prefix + the character: `L` (just above those slots) for a non-letter, `{` (just above `z`) for a
  letter — the characters that serve as markers escaped into two-character sequences that keep their
  relative order (`_escape`);
- a number unit is NUM (U+10FFFF, above every character: rule 2's "text before digits") + the digit count
  written as a length-of-length character and its decimal digits + the digits without leading zeros — so
  numbers compare by value at any size, without int();
- END ("\\x01", below everything) ends the units, so a side that runs out sorts first;
- the escaped original text is the last tiebreak (rule 3).

The encoding is prefix-free, so comparing keys compares unit by unit. Keys never contain NUL or lone
surrogates (both are escaped), so any key can be stored in SQLite.

Keys are stored (archives.sort_key, ns_values.value_key): a change to this order must bump `KEY_VERSION`,
and `library/search/rekey.py` then re-keys an existing database once when it is opened.

Details: digits are Unicode decimal digits (`\\d`), and a non-ASCII digit run compares by its numeric value;
word characters follow Perl's \\w (letters, marks, decimal and letter numbers, connector punctuation,
ZWNJ/ZWJ) rather than Python's.
"""

from __future__ import annotations

import functools
import re
import unicodedata

KEY_VERSION = 2  # 1: Sort::Naturally's plain code-point order; 2: folded text, script ranks

_DIGIT_FIRST = "\x02"
_OTHER_FIRST = "\x03"
_END = "\x01"
_NUM = "\U0010ffff"
_SYMBOL = "L"  # rank prefix of a non-ASCII non-letter: above every remapped ASCII symbol, below "a"
_LETTER = "{"  # rank prefix of a non-ASCII letter, mark or number: above "z"

_UNITS = re.compile(r"\d+|\D+")
# Characters that would collide with the markers above or cannot be stored (NUL, lone surrogates).
_SPECIAL = re.compile("[\x00-\x02\ud7ff-\udfff\U0010fffe\U0010ffff]")
_ASCII_NONWORD = re.compile(r"[^0-9A-Za-z_]+")
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "Pc"})
_JOIN_CONTROLS = frozenset("\u200c\u200d")

# ASCII in a unit: "[\]^_`" and "{|}~DEL" move to "A".."K" (free: folded text has no capitals), so every
# ASCII symbol sits below "a" in code-point order; "\x00".."\x02" are escaped below "\x03".
_ASCII_UNIT: dict[int, str] = {c: chr(c) for c in range(0x03, 0x80)}
_ASCII_UNIT.update({c: "\x02" + chr(c + 2) for c in range(0x03)})
_ASCII_UNIT.update({c: chr(0x41 + i) for i, c in enumerate([*range(0x5B, 0x61), *range(0x7B, 0x80)])})

# Latin letters that carry a stroke, a bar or are ligatures: Unicode gives them no decomposition.
_LETTER_FOLDS = str.maketrans({
    "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "ı": "i", "ŧ": "t",
    "ŋ": "n", "ĸ": "k", "ƀ": "b", "ƈ": "c", "ƌ": "d", "ƒ": "f", "ǥ": "g", "ɨ": "i", "ƙ": "k", "ƚ": "l",
    "ɲ": "n", "ƥ": "p", "ʠ": "q", "ɍ": "r", "ƫ": "t", "ƭ": "t", "ʉ": "u", "ƴ": "y", "ɏ": "y", "ƶ": "z",
    "ȥ": "z", "ȼ": "c", "ɇ": "e", "ɉ": "j", "ǝ": "e",
})


def _folds_marks(c: str) -> bool:
    """Is c a Latin, Greek or Cyrillic base (or ASCII), whose combining marks `fold` removes?"""
    o = ord(c)
    return (o < 0x250 or 0x370 <= o < 0x530 or 0x1C80 <= o < 0x1C90 or 0x1D00 <= o < 0x2000
            or 0x2C60 <= o < 0x2C80 or 0x2DE0 <= o < 0x2E00 or 0xA640 <= o < 0xA6A0 or 0xA720 <= o < 0xA800
            or 0xAB30 <= o < 0xAB70)


def fold(text: str) -> str:
    """The text as titles compare it: NFKC, case-folded, Latin/Greek/Cyrillic diacritics and strokes removed."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    out: list[str] = []
    strip = False  # the last base character takes no marks (Latin, Greek, Cyrillic)
    for c in decomposed:
        if unicodedata.category(c) == "Mn":
            if not strip:
                out.append(c)
        else:
            strip = _folds_marks(c)
            out.append(c)
    # NFC puts back what stayed decomposed: kana with their voicing marks, hangul syllables
    return unicodedata.normalize("NFC", "".join(out).translate(_LETTER_FOLDS))


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    if c <= 0x02:  # below the markers: "\x02" + a second char keeps 0 < 1 < 2 < "\x03"
        return "\x02" + chr(c + 2)
    if c <= 0xDFFF:  # U+D7FF and the surrogates, between U+D7FE and U+E000
        return "\ud7ff" + chr(c - 0xD7FF + 2)
    return "\U0010fffe" + chr(c - 0x10FFFE + 2)  # U+10FFFE, U+10FFFF: stay below NUM


def _escape(text: str) -> str:
    return _SPECIAL.sub(_escape_char, text)


@functools.lru_cache(maxsize=8192)
def _unit(c: str) -> str:
    """One non-ASCII character of folded text as a unit: its rank prefix, then itself (escaped)."""
    prefix = _LETTER if unicodedata.category(c)[0] in "LMN" else _SYMBOL
    return prefix + _escape(c)


def _units(run: str) -> str:
    if run.isascii():
        return run.translate(_ASCII_UNIT)
    return "".join(_ASCII_UNIT[ord(c)] if c < "\x80" else _unit(c) for c in run)


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
    """A key whose code-point (SQLite BINARY) order is the natural order of the texts (module docstring).

    Callers pass the lowercased text, as LANraragi sorts `<lowercased title>\\0<ID>`; the final tiebreak
    compares the text as given, so case only matters there.
    """
    x = _delete_first_nonword_run(fold(text))
    parts = [_DIGIT_FIRST if x[:1].isdecimal() else _OTHER_FIRST]
    for m in _UNITS.finditer(x):
        run = m.group()
        parts.append(_number(run) if run[0].isdecimal() else _units(run))
    parts.append(_END)
    parts.append(_escape(text))
    return "".join(parts)
