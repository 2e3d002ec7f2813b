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


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"
