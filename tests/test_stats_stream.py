"""GET /api/database/stats streamed a span of tag IDs at a time (records.tag_stats_chunks): the spans
together are exactly the list the Python path counts."""

from __future__ import annotations

import json

import pytest
from archive_factory import make_comic

from lrr_lite.library import housekeeping, records


@pytest.fixture
def server(make_server):
    srv = make_server()
    for i, name in enumerate(("Alpha", "Beta", "Gamma")):
        make_comic(srv.content / f"{name}.cbz", 2 + i, "cbz")
    srv.start()
    return srv


def ids_by_title(server) -> dict[str, str]:
    return {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}


def test_stats_streamed_in_spans_match_the_whole_list(server, monkeypatch):
    """The reply is sent a span of tag IDs at a time: spans of one or two tags (so some are empty, some
    hold only hidden or light tags) give exactly the list the Python path counts, in every variant."""
    ids = ids_by_title(server)
    server.put(f"/api/archives/{ids['Alpha']}/metadata", auth=True,
               params={"tags": 'artist:bob, "quoted" \\ tag, source:x, ünïcode'})
    server.put(f"/api/archives/{ids['Beta']}/metadata", auth=True, params={"tags": "artist:bob, source:y"})
    server.put(f"/api/archives/{ids['Gamma']}/metadata", auth=True, params={"tags": "artist:ann"})  # drops tags
    settings = server.ctx.settings
    for span in (1, 2, 20_000):
        monkeypatch.setattr(records, "_STATS_SPAN", span)
        for params in ({}, {"minweight": 2}, {"hide_excluded_namespaces": "true"}, {"minweight": 0}):
            reply = server.get("/api/database/stats", params=params)
            assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
            want = housekeeping.tag_stats(server.ctx.db, settings, params.get("minweight", 1),
                                          "hide_excluded_namespaces" in params)
            assert sorted(reply.json(), key=json.dumps) == sorted(want, key=json.dumps), (span, params)
