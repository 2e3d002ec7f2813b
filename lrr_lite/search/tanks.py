"""Tankoubons in search results: they are few, so they are matched and sorted in Python and merged with
the archives' page when grouping is on (SEMANTICS §3, §5)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from ..db import Database
from ..tags import index_keys, split_tags
from .grammar import Term, glob_pattern, numeric_filter
from .natural import natural_key
from .query import Query, Result, Where
from .terms import tag_glob

DATE_NAMESPACES = ("date_added", "timestamp")


@dataclass
class Tank:
    id: str
    name: str
    own_tags: str
    members: list[str]
    member_keys: set[str]
    lastreadtime: int
    isnew: bool
    dates: dict[str, int]


def _tanks(db: Database) -> list[Tank]:
    """Tankoubons with at least one present member, with what matching and sorting need."""
    out = []
    for t in db.query("SELECT id, name, tags FROM tankoubons ORDER BY id"):
        rows = db.query(
            "SELECT a.id, a.tags, a.lastreadtime, a.isnew FROM tank_archives ta JOIN archives a ON a.id = ta.archive_id "
            "WHERE ta.tank_id = ? AND a.path != '' ORDER BY ta.position", (t["id"],))
        if not rows:
            continue
        keys: set[str] = set()
        dates: dict[str, int] = {}
        for r in rows:
            keys |= index_keys(r["tags"])
            for tag in split_tags(r["tags"]):
                ns, _, value = tag.partition(":")
                if ns.strip().lower() in DATE_NAMESPACES and value.strip().isdigit():
                    dates[ns.strip().lower()] = max(dates.get(ns.strip().lower(), 0), int(value.strip()))
        out.append(Tank(t["id"], t["name"], t["tags"], [r["id"] for r in rows], keys,
                         max(r["lastreadtime"] for r in rows), any(r["isnew"] for r in rows), dates))
    return out


def _tank_hits(tank: Tank, term: Term) -> bool:
    if numeric_filter(term.text):
        pass  # tanks never match numeric parts; their tags and name still may
    keys = index_keys(tank.own_tags) | tank.member_keys
    if term.exact and term.text in keys:
        return True
    pattern = tag_glob(term)
    if any(fnmatch.fnmatchcase(k, pattern) for k in keys):
        return True
    name = tank.name.strip().lower()
    if term.exact:
        return fnmatch.fnmatchcase(name, glob_pattern(term.text))
    anywhere = glob_pattern(term.text, "*", "*")
    return fnmatch.fnmatchcase(name, anywhere) or fnmatch.fnmatchcase(tank.id.lower(), anywhere)


def matching_tanks(db: Database, q: Query, terms: list[Term], members: list[str] | None) -> list[Tank]:
    if q.untaggedonly:
        return []
    tanks = _tanks(db)
    if members is not None:
        allowed = set(members)
        tanks = [t for t in tanks if t.id in allowed]
    if q.newonly:
        tanks = [t for t in tanks if t.isnew]
    if q.sort == "lastread":
        tanks = [t for t in tanks if t.lastreadtime > 0]
    return [t for t in tanks if all(_tank_hits(t, term) != term.negated for term in terms)]


def _tank_sort_value(tank: Tank, sort: str) -> str | int | None:
    if sort == "title":
        return natural_key(tank.name.strip().lower())
    if sort == "lastread":
        return tank.lastreadtime
    own = [tag for tag in split_tags(tank.own_tags) if tag.lower().startswith(sort + ":")]
    if own:
        return natural_key(own[-1].split(":", 1)[1].strip().lower())
    if sort in DATE_NAMESPACES and sort in tank.dates:
        return natural_key(str(tank.dates[sort]))
    return None


# -- sorting and paging -------------------------------------------------------------------------------------


def merged_page(db: Database, q: Query, where: Where | None, tanks: list[Tank], offset: int, limit: int,
            total: int) -> Result:
    """Archives and tankoubons sorted together in Python (only when tanks are part of the result)."""
    keyed: list[tuple[Any, str, str]] = []
    unkeyed: list[tuple[str, str]] = []
    if where is not None:
        join = "" if q.sort in ("title", "lastread") else "LEFT JOIN ns_values v ON v.ns = ? AND v.num = a.num"
        value = {"title": "a.sort_key", "lastread": "a.lastreadtime"}.get(q.sort, "v.value_key")
        rows = db.query(f"SELECT a.id, a.sort_key, {value} FROM archives a {join} WHERE {where.sql()}",
                        ([q.sort] if join else []) + where.params)
        for r in rows:
            (keyed if r[2] is not None else unkeyed).append((r[2], r[1], r[0]) if r[2] is not None else (r[1], r[0]))
    for t in tanks:
        v = _tank_sort_value(t, q.sort)
        title_key = natural_key(t.name.strip().lower())
        if v is None:
            unkeyed.append((title_key, t.id))
        else:
            keyed.append((v, title_key, t.id))
    if q.sort == "lastread":
        keyed.sort(key=lambda k: (k[0], k[1], k[2]), reverse=not q.descending)
    else:
        keyed.sort(key=lambda k: (k[0], k[1], k[2]), reverse=q.descending)
    unkeyed.sort()
    ordered = [k[2] for k in keyed] + [u[1] for u in unkeyed]
    page = ordered[offset:] if limit < 0 else ordered[offset:offset + limit]
    return Result(page, len(ordered), total)
