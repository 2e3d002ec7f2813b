"""Tag strings as LANraragi stores and indexes them (SEMANTICS §4)."""

from __future__ import annotations

# A tag is "basic" if it contains one of these anywhere, case-sensitively; only basic tags = untagged.
BASIC_MARKERS = ("artist:", "parody:", "series:", "language:", "event:", "group:", "date_added:",
                 "timestamp:", "source:")


def split_tags(raw: str | None) -> list[str]:
    """Trimmed, non-empty tags of a raw string (old data may use ', ' separators)."""
    if not raw:
        return []
    return [t for t in (part.strip() for part in raw.split(",")) if t]


def normalize_tags(raw: str | None) -> str:
    """How a normal write stores tags: trimmed, line breaks removed, exact duplicates dropped, ','-joined."""
    seen: set[str] = set()
    out: list[str] = []
    for part in (raw or "").split(","):
        tag = part.replace("\r", "").replace("\n", "").strip()
        if tag and tag not in seen:
            seen.add(tag)
            out.append(tag)
    return ",".join(out)


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
