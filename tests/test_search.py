"""Search over HTTP: every vector of SEMANTICS §5.5 and §22.2 on the §22.1 library, loaded via the API."""

from __future__ import annotations

import pytest
from conftest import LiveServer
from mockdata import MOCK, TITLE, load_mock

UNKEYED_COUNT = 9


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    root = tmp_path_factory.mktemp("mock")
    server = LiveServer(root).start()
    ids = load_mock(server, root / "uploads")
    yield server, ids
    server.stop()


def names(server, ids, **params) -> list[str]:
    """Titles (archives) or tank names of a search, in order."""
    resp = server.get("/api/search", params=params)
    assert resp.status_code == 200, resp.text
    return [item["title"] for item in resp.json()["data"]]


def search(server, **params) -> dict:
    resp = server.get("/api/search", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


T = TITLE
WORKED_EXAMPLES = [
    # (filter, grouped, expected titles in title order)
    ("Ghost in the Shell", True, [T["4857"]]),
    ('"male:very cool"', True, [T["ebf"]]),
    ("male:very cool", True, [T["22fd"], T["ebf"]]),
    ("*male:very cool", True, [T["22fd"], T["ebg"], T["ebf"]]),
    ('"Fate GO MEMO ?"', True, [T["2810"]]),
    ('"Fate GO MEMO _"', True, [T["2810"]]),
    ('"Fate GO MEMO"', True, [T["22fd"]]),
    ("fate go memo", True, [T["22fd"], T["2810"]]),
    ('"Saturn*Cartridge*Japanese Manual"', True, [T["ebf"]]),
    ('"Saturn%American%"', True, [T["ebg"]]),
    ('"Saturn Backup Cartridge - *"$', True, [T["ebg"], T["ebf"]]),
    ("character:segata$", True, [T["ebg"]]),
    ("artist:wada rco, character:ereshkigal", True, [T["2810"]]),
    ("artist:wada rco, -character:ereshkigal", True, [T["22fd"]]),
    ("artist:wada rco, -character:waver velvet", True, [T["22fd"]]),
    ('"artist:wada rco" "-character:waver velvet"', True, []),
    ("artist:shirow masamune, full color, artbook", True, []),
    ("wada, -artbook", True, []),
    ("fruit:$", True, [T["apple"], T["banana"], T["cherry"], T["dragon"]]),
    ("artist", False, [T["be447b"], T["22fd"], T["2810"], T["4857"]]),
    ("pages:>150", True, [T["ebg"]]),
    ("read:<11, read:>9", True, [T["ebf"]]),
    ("-pages:<=10", True, [T["be447b"], T["2810"], T["4857"], "Hello", T["ebg"], "World"]),
    ("medjed", True, ["Hello"]),
    ("vector", True, ["Hello", "World"]),
    ("vector", False, [T["9522fa"]]),
]


@pytest.mark.parametrize(("filter_", "grouped", "expected"), WORKED_EXAMPLES)
def test_worked_examples(mock, filter_, grouped, expected):
    server, ids = mock
    params = {"filter": filter_}
    if not grouped:
        params["groupby_tanks"] = "false"
    body = search(server, **params)
    assert [d["title"] for d in body["data"]] == expected
    assert body["recordsFiltered"] == len(expected)


def test_empty_filter_counts_and_title_order(mock):
    server, ids = mock
    grouped = search(server)
    assert grouped["recordsFiltered"] == 13 and grouped["recordsTotal"] == 13 and grouped["draw"] == 0
    assert [d["title"] for d in grouped["data"]] == [
        T["be447b"], T["apple"], T["banana"], T["cherry"], T["dragon"], T["22fd"], T["2810"], T["4857"], "Hello",
        T["e4c422"], T["ebg"], T["ebf"], "World"]
    ungrouped = search(server, groupby_tanks="false")
    assert ungrouped["recordsFiltered"] == 13 and ungrouped["recordsTotal"] == 13
    titles = [d["title"] for d in ungrouped["data"]]
    assert titles[:2] == [T["be447b"], T["955555"]]
    assert titles[titles.index(T["2810"]) + 1] == T["9522fa"]
    assert "Hello" not in titles and "World" not in titles
    assert [d["title"] for d in search(server, order="desc")["data"]] == [d["title"] for d in grouped["data"]][::-1]


def test_tank_rows_in_grouped_results(mock):
    server, ids = mock
    hello = next(d for d in search(server)["data"] if d["title"] == "Hello")
    assert hello["arcid"] == ids["Hello"] and hello["extension"] == ".tank" and hello["filename"] == ""
    assert hello["pagecount"] == MOCK["955555"][0] + MOCK["9522fa"][0]
    assert hello["archive_count"] == 2  # SEMANTICS §3: tanks only
    assert hello["isnew"] == "true"
    assert hello["summary"] == f"Tankoubon containing: {T['955555']},{T['9522fa']}"
    tags = hello["tags"].split(",")
    assert tags[0] == "series:hello world" and "medjed" in tags and "date_added:1650000000" in tags
    assert "date_added:1600000000" not in tags
    assert "toc" not in hello
    assert all("archive_count" not in d for d in search(server)["data"] if d["extension"] != ".tank")


def test_id_substring_matches_through_the_title_glob(mock):
    server, ids = mock
    found = names(server, ids, filter=ids["22fd"][:14], groupby_tanks="false")
    assert T["22fd"] in found


def test_categories_filter(mock):
    server, ids = mock
    assert names(server, ids, category=ids["Segata Sanshiro"], groupby_tanks="false") == [T["ebg"], T["ebf"]]
    assert names(server, ids, filter='"character:segata"', category=ids["AMERICA ONRY"],
                 groupby_tanks="false") == [T["ebg"]]
    # an unknown category is ignored
    assert search(server, category="SET_0000000000")["recordsFiltered"] == 13


def test_flags(mock):
    server, ids = mock
    assert names(server, ids, newonly="true", groupby_tanks="false") == [T["955555"], T["e4c422"]]
    assert names(server, ids, untaggedonly="true", groupby_tanks="false") == [T["4857"], T["e4c422"]]
    hidden = search(server, hidecompleted="true", groupby_tanks="false", start=-1)
    assert hidden["recordsFiltered"] == 10
    kept = {d["title"] for d in hidden["data"]}
    assert not kept & {T["ebf"], T["4857"], T["2810"]} and {T["ebg"], T["e4c422"], T["22fd"]} <= kept
    assert names(server, ids, hidecompleted="true", filter="artist:wada rco", groupby_tanks="false") == [T["22fd"]]
    grouped = names(server, ids, hidecompleted="true", start=-1)
    assert "Hello" in grouped and "World" in grouped
    assert search(server, hidecompleted="true", newonly="true")["recordsFiltered"] == 2
    assert names(server, ids, hidecompleted="true", sortby="lastread") == [T["ebg"]]


def test_sort_by_lastread(mock):
    server, ids = mock
    found = names(server, ids, sortby="lastread", groupby_tanks="false")
    assert len(found) == 4 and found[0] == T["ebg"]
    assert set(found[1:]) == {T["ebf"], T["4857"], T["2810"]}
    assert names(server, ids, sortby="lastread", order="desc", groupby_tanks="false")[-1] == T["ebg"]


def test_sort_by_namespace(mock):
    server, ids = mock
    asc = names(server, ids, sortby="artist", groupby_tanks="false", start=-1)
    assert len(asc) == 13
    assert asc[0] == T["4857"] and set(asc[1:3]) == {T["2810"], T["22fd"]} and asc[3] == T["be447b"]
    desc = names(server, ids, sortby="artist", order="desc", groupby_tanks="false", start=-1)
    assert desc[0] == T["be447b"] and set(desc[1:3]) == {T["2810"], T["22fd"]} and desc[3] == T["4857"]
    assert set(desc[4:]) == set(asc[4:]) and len(desc[4:]) == UNKEYED_COUNT
    series = names(server, ids, sortby="series", start=-1)
    assert series[:2] == ["Hello", T["be447b"]] and "World" in series[2:]
    assert names(server, ids, sortby="series", order="desc", start=-1)[:2] == [T["be447b"], "Hello"]
    dated = names(server, ids, sortby="date_added")
    assert dated[:4] == ["World", T["4857"], "Hello", T["e4c422"]]
    assert names(server, ids, sortby="date_added", order="desc")[:4] == [T["e4c422"], "Hello", T["4857"], "World"]
    # `male` must not match inside `female:` (SEMANTICS §5.4 Do line)
    male = names(server, ids, sortby="male", groupby_tanks="false", start=-1)
    assert male[0] == T["ebf"] and male[1] == T["22fd"]


def test_paging(mock):
    server, ids = mock
    server.ctx.settings.set("pagesize", 5)
    try:
        first = search(server)
        second = search(server, start=5)
        everything = search(server, start=-1)
        assert len(first["data"]) == 5 and len(second["data"]) == 5 and len(everything["data"]) == 13
        assert [d["arcid"] for d in first["data"] + second["data"]] == [d["arcid"] for d in everything["data"]][:10]
        assert search(server, start=13)["data"] == [] and search(server, start=13)["recordsFiltered"] == 13
    finally:
        server.ctx.settings.set("pagesize", 100)


def test_ids_and_random(mock):
    server, ids = mock
    body = server.get("/api/search/ids", params={"filter": "fruit:"}).json()
    assert body["data"] == [ids["apple"], ids["banana"], ids["cherry"], ids["dragon"]]
    assert body["recordsFiltered"] == 4 and body["recordsTotal"] == 13
    grouped_ids = server.get("/api/search/ids").json()["data"]
    assert ids["Hello"] in grouped_ids and ids["955555"] not in grouped_ids
    rnd = server.get("/api/search/random", params={"filter": "fruit:", "count": 3}).json()
    assert set(rnd) == {"data", "recordsTotal"} and rnd["recordsTotal"] == 3
    assert len({d["arcid"] for d in rnd["data"]}) == 3
    assert {d["arcid"] for d in rnd["data"]} <= {ids[k] for k in ("apple", "banana", "cherry", "dragon")}
    assert server.get("/api/search/random", params={"count": 50}).json()["recordsTotal"] == 13
    assert len(server.get("/api/search/random").json()["data"]) == 5


def test_cache_endpoint_and_stamp(mock):
    server, ids = mock
    before = server.get("/api/info").json()["cache_last_cleared"]
    assert server.delete("/api/search/cache").status_code == 401
    resp = server.delete("/api/search/cache", auth=True)
    assert resp.json() == {"operation": "clear_cache", "error": "", "success": 1, "successMessage": ""}
    assert server.get("/api/info").json()["cache_last_cleared"] >= before


def test_bad_parameters_are_client_errors(mock):
    server, ids = mock
    assert server.get("/api/search", params={"start": "abc"}).status_code == 400
    for params in ({"filter": '"""'}, {"filter": "-"}, {"filter": ",,,"}, {"filter": "[[]]^\\"},
                   {"sortby": "nonexistent"}, {"order": "sideways"}, {"filter": "\x00"}, {"start": "99999999"}):
        resp = server.get("/api/search", params=params)
        assert resp.status_code == 200, (params, resp.text)
        assert set(resp.json()) >= {"data", "recordsFiltered", "recordsTotal"}


@pytest.fixture
def fresh_mock(tmp_path):
    server = LiveServer(tmp_path / "srv").start()
    yield server, tmp_path
    server.stop()


def test_tank_sort_values_follow_member_timestamps(fresh_mock):
    server, tmp_path = fresh_mock
    ids = load_mock(server, tmp_path / "up")
    for short, stamp in (("e4c422", "1700000000"), ("9522fa", "1650000000")):
        tags = MOCK[short][4].replace(f"date_added:{stamp}", f"timestamp:{stamp}")
        assert server.put(f"/api/archives/{ids[short]}/metadata", auth=True, data={"tags": tags}).status_code == 200
    first4 = names(server, ids, sortby="timestamp")[:4]
    assert "Hello" in first4 and T["e4c422"] in first4
    assert first4.index("Hello") < first4.index(T["e4c422"])


def test_lastread_with_tanks(fresh_mock):
    server, tmp_path = fresh_mock
    ids = load_mock(server, tmp_path / "up", read_first="9522fa")
    asc = names(server, ids, sortby="lastread", start=-1)
    assert len(asc) == 6 and asc[0] == T["ebg"] and {"Hello", "World"} <= set(asc) and T["9522fa"] not in asc
    desc = names(server, ids, sortby="lastread", order="desc", start=-1)
    assert desc[-1] == T["ebg"] and desc.index("Hello") < desc.index(T["ebg"])


def test_renamed_tank_is_found_by_its_new_name(fresh_mock):
    server, tmp_path = fresh_mock
    ids = load_mock(server, tmp_path / "up")
    tank_id = server.put("/api/tankoubons", auth=True, params={"name": "Test Tank"}).json()["tankoubon_id"]
    assert server.put(f"/api/tankoubons/{tank_id}/{ids['apple']}", auth=True).status_code == 200
    assert "Test Tank" in names(server, ids, filter="test tank")
    resp = server.put(f"/api/tankoubons/{tank_id}", auth=True, json={"metadata": {"name": "Updated Tank Name"}})
    assert resp.status_code == 200
    assert names(server, ids, filter="updated tank name") == ["Updated Tank Name"]
    assert names(server, ids, filter="test tank") == []
