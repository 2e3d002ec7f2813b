"""`ns:` and `ns:c*` terms are answered from tag_heads (schema 12), kept by triggers on archive_tags: the
answers must follow every tag edit (a head another tag still gives stays, the last one goes, a tag's last
archive removing the tag itself), archive deletion, and the migration that fills the table for an existing
library."""

from __future__ import annotations

import sqlite3

import pytest
from archive_factory import make_archive, make_image

TAGS = {
    "a0": "female:glasses, female:maid, artist:kou",
    "a1": "female:glasses, artist:aoi",
    "a2": "male:teacher, artist:kanna",
    "a3": "female:nurse, female::odd, language:english",
    "a4": "",
    "a5": "female:ponytail, male:glasses",
}


@pytest.fixture()
def srv(tmp_path):
    from conftest import LiveServer

    server = LiveServer(tmp_path)
    image = make_image(20, 20)
    for name in TAGS:
        make_archive(server.content / f"{name}.cbz", {"01.jpg": image, "id.txt": name.encode()}, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for name, tags in TAGS.items():
        reply = server.put(f"/api/archives/{ids[name]}/metadata", params={"title": name, "tags": tags}, auth=True)
        assert reply.status_code == 200, reply.text
    server.ids = ids
    yield server
    server.stop()


def _titles(srv, filter_: str) -> list[str]:
    body = srv.get("/api/search", params={"filter": filter_, "start": -1}).json()
    titles = [row["title"] for row in body["data"]]
    assert body["recordsFiltered"] == len(titles)
    return titles


def _heads_as_rebuilt(srv) -> tuple[list, list]:
    """tag_heads as kept by the triggers, and as recomputed from archive_tags (with its counts)."""
    db = srv.ctx.db
    kept = [tuple(r) for r in db.query("SELECT h.head, x.num FROM tag_heads x JOIN head_names h "
                                       "ON h.head_id = x.head_id ORDER BY 1, 2")]
    rebuilt = [tuple(r) for r in db.query(
        "SELECT substr(t.tag, 1, instr(t.tag, ':')) AS h, x.num FROM archive_tags x JOIN tag_names t "
        "ON t.tag_id = x.tag_id WHERE instr(t.tag, ':') > 0 UNION SELECT substr(t.tag, 1, instr(t.tag, ':') + 1), "
        "x.num FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id WHERE instr(t.tag, ':') > 0 "
        "AND length(t.tag) > instr(t.tag, ':') ORDER BY 1, 2")]
    counts = dict(tuple(r) for r in db.query("SELECT head, n FROM head_names"))
    by_head: dict[str, int] = {}
    for head, _num in rebuilt:
        by_head[head] = by_head.get(head, 0) + 1
    assert counts == by_head
    return kept, rebuilt


def _edit(srv, name: str, tags: str) -> None:
    reply = srv.put(f"/api/archives/{srv.ids[name]}/metadata", params={"tags": tags}, auth=True)
    assert reply.status_code == 200, reply.text


def test_answers_follow_tag_edits_and_deletions(srv):
    assert _titles(srv, "female:") == ["a0", "a1", "a3", "a5"]
    assert _titles(srv, "female:g*") == ["a0", "a1"]
    assert _titles(srv, "female::*") == ["a3"]  # a value that starts with ':'
    assert _titles(srv, "-female:") == ["a2", "a4"]
    assert _titles(srv, "male:g*, female:") == ["a5"]
    kept, rebuilt = _heads_as_rebuilt(srv)
    assert kept == rebuilt

    _edit(srv, "a0", "female:maid, artist:kou")        # another female: tag keeps 'female:'; 'female:g' goes
    _edit(srv, "a1", "artist:aoi")                     # the last female: tag: both heads go
    _edit(srv, "a2", "male:teacher, female:giant")     # a new tag, a new head
    _edit(srv, "a5", "male:glasses")                   # female:ponytail's last archive: the tag row goes too
    assert _titles(srv, "female:") == ["a0", "a2", "a3"]
    assert _titles(srv, "female:g*") == ["a2"]
    assert _titles(srv, "female:p*") == []
    assert _titles(srv, "-female:") == ["a1", "a4", "a5"]
    assert _titles(srv, "artist:k*") == ["a0"]
    kept, rebuilt = _heads_as_rebuilt(srv)
    assert kept == rebuilt

    assert srv.delete(f"/api/archives/{srv.ids['a3']}", auth=True).status_code == 200
    assert _titles(srv, "female:") == ["a0", "a2"]
    assert _titles(srv, "female::*") == []
    kept, rebuilt = _heads_as_rebuilt(srv)
    assert kept == rebuilt


def test_migration_fills_the_index_of_an_existing_library(srv):
    before = {f: _titles(srv, f) for f in ("female:", "female:g*", "-female:", "artist:k*, -female:")}
    kept, _ = _heads_as_rebuilt(srv)
    path = srv.ctx.db.path
    srv.stop()
    # back to schema 11: no tag_heads, its triggers gone with it
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER tag_heads_add")
        conn.execute("DROP TRIGGER tag_heads_remove")
        conn.execute("DROP TABLE tag_heads")
        conn.execute("DROP TABLE head_names")
        conn.execute("PRAGMA user_version=11")
    srv.start()
    assert {f: _titles(srv, f) for f in before} == before
    again, rebuilt = _heads_as_rebuilt(srv)
    assert again == rebuilt == kept
