"""Grouped search results (tankoubons among archives, SEMANTICS §3, §5) paged at every offset: each page is
the matching slice of the whole ordered list, archives keep the order they have ungrouped, and tanks sit
where their sort value puts them — for every sort, in both directions, with and without a filter."""

from __future__ import annotations

import random
import time

import pytest
from archive_factory import make_archive, make_image

N_ARCHIVES = 60
PAGE = 7


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from conftest import LiveServer

    rng = random.Random(11)
    srv = LiveServer(tmp_path_factory.mktemp("tankpages"))
    image = make_image(40, 40)
    for i in range(N_ARCHIVES):
        make_archive(srv.content / f"a{i:02d}.cbz", {"01.jpg": image, "id": str(i).encode()}, "cbz")
    srv.start()
    ids = {a["filename"]: a["arcid"] for a in srv.get("/api/archives").json()}
    for i in range(N_ARCHIVES):
        tags = [f"artist:{rng.choice(['ann', 'bea', 'cid'])}", f"date_added:{1_600_000_000 + rng.randrange(8) * 3600}"]
        if i % 9 == 0:
            tags = []  # no namespace to sort by: these come after the keyed ones
        title = f"{rng.choice(['Moon', 'Star', 'Sun', 'Sky'])} volume {i:02d}"
        assert srv.put(f"/api/archives/{ids[f'a{i:02d}']}/metadata", auth=True,
                       params={"title": title, "tags": ", ".join(tags)}).status_code == 200
    # read in three rounds a second apart: lastread has distinct times to order by, and ties within a round
    for batch in range(3):
        if batch:
            time.sleep(1.05)
        for i in range(batch * 4, N_ARCHIVES, 12):
            assert srv.put(f"/api/archives/{ids[f'a{i:02d}']}/progress/1", auth=True).status_code == 200
    members = {"Star Saga": [3, 4, 5], "Moon Trilogy": [10, 11, 12], "Ann's Box": [20, 24]}
    tanks = {}
    for name, nums in members.items():
        tank_id = srv.put("/api/tankoubons", auth=True, params={"name": name}).json()["tankoubon_id"]
        for n in nums:
            assert srv.put(f"/api/tankoubons/{tank_id}/{ids[f'a{n:02d}']}", auth=True).status_code == 200
        tanks[tank_id] = [ids[f"a{n:02d}"] for n in nums]
    srv.put(f"/api/tankoubons/{next(iter(tanks))}", auth=True,
            json={"metadata": {"tags": "artist:zed, date_added:1500000000"}})
    srv.ctx.settings.set("pagesize", PAGE)
    yield srv, tanks
    srv.stop()


def _ask(srv, **params) -> tuple[list[str], int]:
    reply = srv.get("/api/search", params=params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return [row["arcid"] for row in body["data"]], body["recordsFiltered"]


@pytest.mark.parametrize("filter_", ["", "artist:ann", "moon", "-star", "artist:", "-artist:", "artist:b*", "-artist:a*"])
@pytest.mark.parametrize("sort", [{"sortby": "title"}, {"sortby": "title", "order": "desc"},
                                  {"sortby": "artist"}, {"sortby": "date_added", "order": "desc"},
                                  {"sortby": "lastread"}, {"sortby": "lastread", "order": "desc"}])
def test_grouped_pages_are_slices_of_the_whole_list(library, filter_, sort):
    srv, tanks = library
    whole, filtered = _ask(srv, filter=filter_, start=-1, **sort)
    assert filtered == len(whole) and len(set(whole)) == len(whole)
    for start in range(0, filtered + PAGE, PAGE):
        page, count = _ask(srv, filter=filter_, start=start, **sort)
        assert count == filtered
        assert page == whole[start:start + PAGE], (start, sort)
    # archives in the order they have ungrouped; tank members replaced by their tanks
    members = {m for ms in tanks.values() for m in ms}
    ungrouped, _ = _ask(srv, filter=filter_, start=-1, groupby_tanks="false", **sort)
    assert [i for i in whole if not i.startswith("TANK_")] == [i for i in ungrouped if i not in members]
