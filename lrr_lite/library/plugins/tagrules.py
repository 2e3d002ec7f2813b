"""Tag rules (SEMANTICS §4, LANraragi's Utils/TagRules.pm): applied to plugin output only.

One rule per line, matched case-insensitively:

    -tag            remove the tag            (a bare `tag` line does the same)
    -ns:*           drop every tag of namespace ns
    ~ns             strip namespace ns, keeping the value
    a:* -> b:*      rename namespace a to b
    a -> b          replace tag a by b
    a => b          hash replace: applied after all other rules; a later rule for the same a wins

Parsing trims around `->`/`=>` but keeps inner spaces, lowercases the match side (the replacement keeps its
case) and accepts CRLF. Rules are stored in the `tagrules` setting as text, one per line (LANraragi's own
`;`-joined form is accepted when the text has no line break); with no stored value the defaults apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_RULES = "\n".join(f"-{t}" for t in (
    "already uploaded", "forbidden content", "incomplete", "ongoing", "complete", "various", "digital",
    "translated", "russian", "chinese", "portuguese", "french", "spanish", "italian", "vietnamese", "german",
    "indonesian"))

SETTING_KEY = "tagrules"


@dataclass(frozen=True)
class Rule:
    kind: str  # remove | remove_ns | strip_ns | replace_ns | replace | hash_replace
    match: str  # lowercased
    value: str = ""


_REMOVE_NS = re.compile(r"^-(.*):\*$")
_STRIP_NS = re.compile(r"^~(.*)$")
_REPLACE_NS = re.compile(r"^(.*?):\*\s*->\s*(.*?):\*$")
_REPLACE = re.compile(r"^(.*?)\s*->\s*(.*)$")
_HASH = re.compile(r"^(.*?)\s*=>\s*(.*)$")
_REMOVE = re.compile(r"^-(.*)$")


def parse_rule(line: str) -> Rule | None:
    text = line.strip()
    if not text:
        return None
    if m := _REMOVE_NS.match(text):
        return Rule("remove_ns", m.group(1).strip().lower())
    if m := _STRIP_NS.match(text):
        return Rule("strip_ns", m.group(1).strip().lower())
    if m := _REPLACE_NS.match(text):
        return Rule("replace_ns", m.group(1).strip().lower(), m.group(2).strip())
    if m := _REPLACE.match(text):
        return Rule("replace", m.group(1).strip().lower(), m.group(2).strip())
    if m := _HASH.match(text):
        return Rule("hash_replace", m.group(1).strip().lower(), m.group(2).strip())
    if m := _REMOVE.match(text):
        return Rule("remove", m.group(1).strip().lower())
    return Rule("remove", text.lower())


def parse_rules(text: str | None) -> list[Rule]:
    text = text or ""
    lines = re.split(r"\r?\n|\r", text) if ("\n" in text or "\r" in text) else text.split(";")
    return [r for r in (parse_rule(line) for line in lines) if r is not None]


def _split_ns(tag: str) -> tuple[str, str] | None:
    ns, sep, value = tag.partition(":")
    return (ns.strip(), value.strip()) if sep else None


def _apply_one(rule: Rule, tag: str) -> str | None:
    low = tag.lower()
    if rule.kind == "remove":
        return None if low == rule.match else tag
    if rule.kind == "replace":
        return rule.value if low == rule.match else tag
    parts = _split_ns(tag)
    if parts is None or parts[0].lower() != rule.match:
        return tag
    if rule.kind == "remove_ns":
        return None
    if rule.kind == "strip_ns":
        return parts[1]
    if rule.kind == "replace_ns":
        return f"{rule.value}:{parts[1]}"
    return tag


def apply_rules(tags: list[str], rules: list[Rule]) -> list[str]:
    """Each rule over every tag in order, then hash replacements; order kept, exact duplicates dropped."""
    hashes: dict[str, str] = {}
    current = [t.strip() for t in tags if t.strip()]
    for rule in rules:
        if rule.kind == "hash_replace":
            hashes[rule.match] = rule.value  # a later duplicate wins
            continue
        current = [t for t in (_apply_one(rule, tag) for tag in current) if t]
    if hashes:
        current = [hashes.get(t.lower(), t) for t in current]
    seen: set[str] = set()
    out = []
    for tag in current:
        if tag and tag not in seen:
            seen.add(tag)
            out.append(tag)
    return out


def rules_text(db) -> str:
    """The stored rule text, or the defaults when none was ever stored."""
    row = db.query_one("SELECT value FROM settings WHERE key=?", (SETTING_KEY,))
    return DEFAULT_RULES if row is None else str(row["value"])


def store_rules(db, text: str) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                     "value=excluded.value", (SETTING_KEY, text))
