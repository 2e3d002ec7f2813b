"""/api/categories: static and dynamic categories and the bookmark link (SEMANTICS §7)."""

from __future__ import annotations

import bottle

from lrr_lite.errors import NotFound
from lrr_lite.http.api.common import SpecViolation, envelope, json_reply, param
from lrr_lite.library import collections


def check_length(value: str, name: str, low: int, high: int) -> str:
    """The OpenAPI layer's length check on a path parameter: 400 in LANraragi's validator shape."""
    if len(value) < low:
        raise SpecViolation(f"String is too short: {len(value)}/{low}.", f"/{name}")
    if len(value) > high:
        raise SpecViolation(f"String is too long: {len(value)}/{high}.", f"/{name}")
    return value


def category_id(value: str) -> str:
    return check_length(value, "id", 14, 14)


def pinned_param() -> bool:
    """§0: `pinned` is true for anything non-empty other than `false`."""
    value = param("pinned")
    return bool(value) and value != "false"


def mount(app: bottle.Bottle, ctx) -> None:
    db = ctx.db

    @app.get("/api/categories", operation="get_category_list")
    def list_categories() -> str:
        return json_reply(collections.list_categories(db))

    @app.put("/api/categories", secure=True, operation="create_category")
    def create() -> str:
        new_id = ctx.collections.create_category(param("name"), param("search"), pinned_param())
        return json_reply({"category_id": new_id, "operation": "create_category", "success": 1})

    # The bookmark routes come before /api/categories/<id>/<archive>, which would otherwise match them.
    @app.get("/api/categories/bookmark_link", operation="get_bookmark_link")
    def get_bookmark() -> str:
        return json_reply({"category_id": collections.get_bookmark_link(db), "operation": "get_bookmark_link",
                           "success": 1})

    @app.put("/api/categories/bookmark_link/<cat_id>", secure=True, operation="update_bookmark_link",
             plain_errors=True, errors=((NotFound, 404),))
    def set_bookmark(cat_id: str) -> str:
        category_id(cat_id)
        ctx.collections.set_bookmark_link(cat_id)
        return json_reply({"category_id": cat_id, "operation": "update_bookmark_link", "success": 1})

    @app.delete("/api/categories/bookmark_link", secure=True, operation="remove_bookmark_link")
    def remove_bookmark() -> str:
        old = ctx.collections.remove_bookmark_link()
        return json_reply({"category_id": old, "operation": "remove_bookmark_link", "success": 1})

    @app.get("/api/categories/<cat_id>", operation="get_category")
    def get(cat_id: str) -> str:
        return json_reply(collections.get_category(db, category_id(cat_id)))

    @app.put("/api/categories/<cat_id>", secure=True, operation="update_category")
    def update(cat_id: str) -> str:
        category_id(cat_id)
        ctx.collections.update_category(cat_id, param("name"), param("search"), pinned_param())
        return json_reply({"category_id": cat_id, "operation": "update_category", "success": 1})

    @app.delete("/api/categories/<cat_id>", secure=True, operation="delete_category")
    def delete(cat_id: str) -> str:
        category_id(cat_id)
        ctx.collections.delete_category(cat_id)
        return envelope("delete_category")

    @app.put("/api/categories/<cat_id>/<member>", secure=True, operation="add_to_category")
    def add(cat_id: str, member: str) -> str:
        category_id(cat_id)
        check_length(member, "archive", 15, 40)
        message = ctx.collections.add_to_category(cat_id, member)
        return envelope("add_to_category", message)

    @app.delete("/api/categories/<cat_id>/<member>", secure=True, operation="remove_from_category")
    def remove(cat_id: str, member: str) -> str:
        category_id(cat_id)
        check_length(member, "archive", 15, 40)
        message = ctx.collections.remove_from_category(cat_id, member)
        return envelope("remove_from_category", message)
