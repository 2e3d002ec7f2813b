"""What a search is asked (Query), what it answers (Result), and the WHERE clauses it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Query:
    filter: str = ""
    category: str | None = None
    start: int = 0
    sortby: str = "title"
    order: str = "asc"
    newonly: bool = False
    untaggedonly: bool = False
    hidecompleted: bool = False
    groupby_tanks: bool = True

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def sort(self) -> str:
        return (self.sortby or "title").strip().lower() or "title"


@dataclass
class Result:
    ids: list[str]
    filtered: int
    total: int


# Clauses other code recognises by their text: the present archives, the read ones, a collected hit set.
VISIBLE = "a.path != ''"
# read to the end (§5.3's hidecompleted): in the words of the partial index archives_completed (schema 16)
COMPLETED = "a.pagecount > 0 AND a.progress * 1.0 / a.pagecount > 0.85"
READ = "a.lastreadtime > 0"
NEW = "a.isnew = 1"
IN_HITS = "a.num IN temp.search_hits"


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    # (inside, subquery, params) of clauses that test `a.num` against a set (category, tank members), kept
    # apart too: a collected hit set applies them with one DELETE instead of testing every hit's row
    memberships: list[tuple[bool, str, list[Any]]] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_membership(self, inside: bool, subquery: str, *params: Any) -> None:
        self.add(f"a.num {'IN' if inside else 'NOT IN'} ({subquery})", *params)
        self.memberships.append((inside, subquery, list(params)))

    def row_conditions(self) -> Where:
        """The clauses other than visibility and memberships, with their params (each `?` in a clause is one
        of its params, in order: these clauses hold no literal question mark)."""
        kept = Where()
        sets = {f"a.num {'IN' if inside else 'NOT IN'} ({sub})" for inside, sub, _ in self.memberships}
        params = iter(self.params)
        for clause in self.clauses:
            own = [next(params) for _ in range(clause.count("?"))]
            if clause != VISIBLE and clause not in sets:
                kept.add(clause, *own)
        return kept

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"
