"""Tankoubon replies as the third-party clients read them (issue 12 items 1 and 2), over HTTP on a real waitress.

- lanraragi-api (PyPI 0.9.81.2, installed by the test extras): its own client calls and pydantic models.
- aio-lanraragi (PyPI 0.1.23.post2, Python >= 3.12 only): its models mirrored in tests/client_models/.
- the Mihon extension: the `result` wrapper of `?include_full_data=0&page=-1` and `full_data` in member order.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from archive_factory import make_comic
from lanraragi_api import LANraragiAPI
from lanraragi_api.entity.tankoubon import TankoubonDetailResponse, TankoubonMetadata

MODELS = Path(__file__).parent / "client_models"
TANK_KEYS = {"archives", "id", "name", "progress", "summary", "tags"}
NAMES = ["Apple", "Banana", "Cherry", "Dragon", "Egg", "Fig", "Grape"]


def aio(model: str, instance: dict) -> None:
    """Validate with the mirrored aio-lanraragi model `model` (raises jsonschema.ValidationError)."""
    schema = json.loads((MODELS / "aio_lanraragi_tankoubon.json").read_text())
    jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{model}"}).validate(instance)


@pytest.fixture
def lib(make_server):
    server = make_server()
    for n, name in enumerate(NAMES, start=1):  # distinct page counts: distinct IDs
        make_comic(server.content / f"{name}.cbz", n, "cbz")
    server.start()
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    assert len(ids) == len(NAMES)
    return server, ids


def client(server) -> LANraragiAPI:
    return LANraragiAPI(server.url, key=server.api_key, timeout=30)


def get_tank(server, tank_id: str, **params) -> dict:
    resp = server.get(f"/api/tankoubons/{tank_id}", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


def assert_flat(body: dict, tank_id: str, name: str, archives: list[str]) -> None:
    """The 0.9.8 shape (YAML getTankoubon, SEMANTICS §8): the tank's fields at the top level, every member."""
    assert body["id"] == tank_id and body["name"] == name and body["archives"] == archives
    assert isinstance(body["summary"], str) and isinstance(body["tags"], str)
    assert type(body["progress"]) is int
    assert all(isinstance(a, str) for a in body["archives"])


def test_get_tankoubon_is_flat_for_the_python_clients_and_keeps_the_wrapper_for_mihon(lib):
    server, ids = lib
    api = client(server)
    created = api.tankoubons.create_tankoubon("Shapes")
    assert created.success == 1
    tank_id = created["tankoubon_id"]
    order = [ids[n] for n in ("Fig", "Apple", "Egg", "Banana", "Dragon")]
    assert order != sorted(order)
    assert api.tankoubons.update_tankoubon(tank_id, archives=order, summary="A summary", tags="a:b, c").success == 1
    server.ctx.settings.set("pagesize", 2)

    body = get_tank(server, tank_id)
    assert set(body) == TANK_KEYS | {"result", "total", "filtered"}
    assert_flat(body, tank_id, "Shapes", order)  # every member, whatever the page size
    assert body["summary"] == "A summary" and body["tags"] == "a:b,c" and body["progress"] == 0
    aio("GetTankoubonResponse", body)
    # the wrapper beside it is the old paged shape: first page, no full_data unless asked
    assert body["result"] == {"archives": order[:2], "id": tank_id, "name": "Shapes", "progress": 0,
                              "summary": "A summary", "tags": "a:b,c"}
    assert body["total"] == 5 and body["filtered"] == 2

    # lanraragi-api's own call (TankoubonMetadata over the whole body)
    got = api.tankoubons.get_tankoubon(tank_id)
    assert isinstance(got, TankoubonMetadata)
    assert (got.tankid, got.name, got.archives, got.summary, got.tags, got.progress) == (
        tank_id, "Shapes", order, "A summary", "a:b,c", 0)

    # The mirror schema is strict enough to catch the shape sent before: the wrapper alone.
    with pytest.raises(jsonschema.ValidationError):
        aio("GetTankoubonResponse", {k: body[k] for k in ("result", "total", "filtered")})

    # Mihon's request: include_full_data=0&page=-1, read through `result`
    mihon = get_tank(server, tank_id, include_full_data="0", page="-1")
    assert set(mihon["result"]) == TANK_KEYS
    assert mihon["result"]["archives"] == order and mihon["result"]["id"] == tank_id
    assert mihon["result"]["name"] == "Shapes" and type(mihon["result"]["progress"]) is int
    assert mihon["total"] == 5 and mihon["filtered"] == 5
    assert_flat(mihon, tank_id, "Shapes", order)

    # aio-lanraragi re-reads the tank after create, update and remove-archive: each time the flat shape
    made = api.tankoubons.create_tankoubon("Second")["tankoubon_id"]
    aio("GetTankoubonResponse", fresh := get_tank(server, made))
    assert_flat(fresh, made, "Second", [])
    assert api.tankoubons.add_archive_to_tankoubon(made, ids["Cherry"]).success == 1
    assert api.tankoubons.update_tankoubon(made, name="Renamed").success == 1
    aio("GetTankoubonResponse", renamed := get_tank(server, made))
    assert_flat(renamed, made, "Renamed", [ids["Cherry"]])
    assert api.tankoubons.remove_archive_from_tankoubon(tank_id, order[1]).success == 1
    after = get_tank(server, tank_id)
    aio("GetTankoubonResponse", after)
    assert_flat(after, tank_id, "Shapes", order[:1] + order[2:])
    assert server.put(f"/api/tankoubons/{tank_id}/progress/3").status_code == 200
    assert get_tank(server, tank_id)["progress"] == 3 == api.tankoubons.get_tankoubon(tank_id).progress

    # an unknown tank is still the error envelope
    resp = server.get("/api/tankoubons/TANK_0000000001")
    assert resp.status_code == 400
    assert resp.json() == {"operation": "get_tankoubon", "error": "The given tankoubon does not exist.",
                           "success": 0, "successMessage": ""}


def test_full_is_the_wrapper_both_clients_read(lib):
    server, ids = lib
    api = client(server)
    tank_id = api.tankoubons.create_tankoubon("Full")["tankoubon_id"]
    order = [ids[n] for n in ("Grape", "Cherry", "Apple")]
    api.tankoubons.update_tankoubon(tank_id, archives=order)
    body = server.get(f"/api/tankoubons/{tank_id}/full").json()
    assert set(body) == {"result", "total", "filtered"}
    assert set(body["result"]) == TANK_KEYS | {"full_data"}
    aio("GetTankoubonFullResponse", body)
    full = api.tankoubons.get_tankoubon_full(tank_id)
    assert isinstance(full, TankoubonDetailResponse)
    assert full.total == 3 and full.filtered == 3 and full.result.archives == order
    assert [a.arcid for a in full.result.full_data or []] == order
    assert [a.title for a in full.result.full_data or []] == ["Grape", "Cherry", "Apple"]


def member_ids(body: dict) -> list[str]:
    return [a["arcid"] for a in body["result"]["full_data"]]


def test_full_data_follows_the_member_order(lib):
    """Mihon builds a tank's chapter list from full_data: it must follow `archives`, page by page, whatever
    the order of IDs, titles, file names or insertion."""
    server, ids = lib
    tank_id = server.put("/api/tankoubons", auth=True, params={"name": "Ordered"}).json()["tankoubon_id"]
    for name in ("Apple", "Banana", "Cherry", "Dragon", "Egg", "Fig", "Grape"):  # insertion order = title order
        assert server.put(f"/api/tankoubons/{tank_id}/{ids[name]}", auth=True).status_code == 200
    by_id = sorted(ids.values())
    reorder = [ids[n] for n in ("Egg", "Grape", "Apple", "Fig", "Cherry", "Banana", "Dragon")]
    assert reorder not in (by_id, by_id[::-1], [ids[n] for n in NAMES])
    assert server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"archives": reorder}).status_code == 200
    assert server.delete(f"/api/tankoubons/{tank_id}/{ids['Fig']}", auth=True).status_code == 200
    assert server.put(f"/api/tankoubons/{tank_id}/{ids['Fig']}", auth=True).status_code == 200  # back, at the end
    members = [ids[n] for n in ("Egg", "Grape", "Apple", "Cherry", "Banana", "Dragon", "Fig")]

    full = server.get(f"/api/tankoubons/{tank_id}/full").json()
    assert full["result"]["archives"] == members and member_ids(full) == members
    assert [a["title"] for a in full["result"]["full_data"]] == ["Egg", "Grape", "Apple", "Cherry", "Banana",
                                                                  "Dragon", "Fig"]
    for params in ({"include_full_data": "1", "page": "-1"}, {"include_full_data": "true", "page": "-1"}):
        body = get_tank(server, tank_id, **params)
        assert body["result"]["archives"] == members and member_ids(body) == members
        assert body["archives"] == members

    server.ctx.settings.set("pagesize", 3)
    for page, expected in ((0, members[:3]), (1, members[3:6]), (2, members[6:])):
        paged = server.get(f"/api/tankoubons/{tank_id}/full", params={"page": page}).json()
        assert paged["result"]["archives"] == expected and member_ids(paged) == expected
        body = get_tank(server, tank_id, include_full_data="1", page=page)
        assert body["result"]["archives"] == expected and member_ids(body) == expected
        assert body["archives"] == members
