"""/api/search, /api/search/ids, /api/search/random, DELETE /api/search/cache."""

from __future__ import annotations

import bottle

from lrr_lite.http.api.common import envelope, int_param, json_reply, param
from lrr_lite.library import records
from lrr_lite.library.search.engine import Query, random_ids, search


def query_from_request() -> Query:
    grouped = param("groupby_tanks")
    return Query(
        filter=param("filter", "") or "",
        category=param("category") or None,
        start=int_param("start", 0) or 0,
        sortby=param("sortby", "title") or "title",
        order=param("order", "asc") or "asc",
        newonly=param("newonly") == "true",
        untaggedonly=param("untaggedonly") == "true",
        hidecompleted=param("hidecompleted") == "true",
        # on by default; when given, only the literal "true" keeps it on (SEMANTICS §5.1)
        groupby_tanks=grouped is None or grouped == "true",
    )


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db

    def page_size() -> int:
        return max(1, int(ctx.settings.get("pagesize")))

    @app.get("/api/search", operation="search")
    def search_archives() -> str:
        result = search(db, query_from_request(), page_size())
        # `draw` is what old Tachiyomi builds need (LANraragi <= 0.9.6x sent it).
        return json_reply({"data": records.json_for_ids(db, result.ids), "draw": 0,
                           "recordsFiltered": result.filtered, "recordsTotal": result.total})

    @app.get("/api/search/ids", operation="search")
    def search_ids() -> str:
        result = search(db, query_from_request(), page_size())
        return json_reply({"data": result.ids, "recordsFiltered": result.filtered,
                           "recordsTotal": result.total})

    @app.get("/api/search/random", operation="random_archives")
    def search_random() -> str:
        count = int_param("count", 5)
        picked = random_ids(db, query_from_request(), 5 if count is None else count)
        data = records.json_for_ids(db, picked)
        # no recordsFiltered: Mihon pages randomly forever when it is absent (SEMANTICS §5.1)
        return json_reply({"data": data, "recordsTotal": len(data)})

    @app.delete("/api/search/cache", secure=True, operation="clear_cache")
    def clear_cache() -> str:
        ctx.settings.touch_cache()
        return envelope("clear_cache")
