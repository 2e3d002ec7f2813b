"""A write that raises leaves nothing behind: on a real SQLite file, and through a real API write.

`Database.write()` promises all or nothing (a block that raises is rolled back, never committed), nested
blocks join the outer transaction, and a failed write leaves the connection usable. Checked with a second,
independent connection to the file, so what is asserted is what is on disk, not one connection's view.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from archive_factory import make_comic

from lrr_lite.storage.db import Database


class Boom(Exception):
    pass


class Interrupt(BaseException):  # what a KeyboardInterrupt or a thread's SystemExit looks like to the block
    pass


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "guard.db")
    with database.write() as conn:
        conn.execute("CREATE TABLE guard(name TEXT PRIMARY KEY)")
    yield database
    database.close()


def on_disk(db: Database) -> list[str]:
    """The rows as another process would see them."""
    with sqlite3.connect(db.path) as other:
        return [r[0] for r in other.execute("SELECT name FROM guard ORDER BY name")]


def test_a_block_that_raises_is_rolled_back(db):
    with pytest.raises(Boom):
        with db.write() as conn:
            conn.execute("INSERT INTO guard VALUES ('lost')")
            raise Boom
    assert on_disk(db) == []
    assert db.query("SELECT name FROM guard") == []  # the writer's own connection agrees
    assert not db.conn.in_transaction


def test_a_base_exception_rolls_back_too(db):
    with pytest.raises(Interrupt):
        with db.write() as conn:
            conn.execute("INSERT INTO guard VALUES ('lost')")
            raise Interrupt
    assert on_disk(db) == []


def test_nested_blocks_are_rolled_back_with_the_outer_one(db):
    with pytest.raises(Boom):
        with db.write() as outer:
            outer.execute("INSERT INTO guard VALUES ('outer')")
            with db.write() as inner:
                inner.execute("INSERT INTO guard VALUES ('inner')")
                raise Boom
    assert on_disk(db) == []
    with pytest.raises(Boom):  # the inner block completed, the outer one failed afterwards
        with db.write() as outer:
            with db.write() as inner:
                inner.execute("INSERT INTO guard VALUES ('inner')")
            outer.execute("INSERT INTO guard VALUES ('outer')")
            raise Boom
    assert on_disk(db) == []


def test_writes_after_a_failure_commit_normally(db):
    with pytest.raises(Boom):
        with db.write() as conn:
            conn.execute("INSERT INTO guard VALUES ('lost')")
            raise Boom
    with db.write() as conn:
        conn.execute("INSERT INTO guard VALUES ('kept')")
        with db.write() as inner:
            inner.execute("INSERT INTO guard VALUES ('kept too')")
    assert on_disk(db) == ["kept", "kept too"]
    # a failed statement (constraint) inside a block: the whole block goes, earlier commits stay
    with pytest.raises(sqlite3.IntegrityError):
        with db.write() as conn:
            conn.execute("INSERT INTO guard VALUES ('new')")
            conn.execute("INSERT INTO guard VALUES ('kept')")
    assert on_disk(db) == ["kept", "kept too"]
    db.close()
    reopened = Database(db.path)
    try:
        assert [r["name"] for r in reopened.query("SELECT name FROM guard ORDER BY name")] == ["kept", "kept too"]
    finally:
        reopened.close()


def test_an_api_write_failing_midway_leaves_nothing(make_server):
    """PUT /metadata writes title, tags, then summary in one transaction. A trigger in the real database makes
    the summary write fail: the client gets an error and neither the title nor the tags were stored."""
    srv = make_server()
    make_comic(srv.content / "Alpha.cbz", 2, "cbz")
    srv.start()
    (arc,) = srv.get("/api/archives").json()
    arcid = arc["arcid"]
    with sqlite3.connect(srv.ctx.db.path) as conn:
        conn.execute("CREATE TRIGGER guard_fail BEFORE UPDATE OF summary ON archives WHEN NEW.summary = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    resp = srv.put(f"/api/archives/{arcid}/metadata", auth=True,
                   data={"title": "Half written", "tags": "artist:half", "summary": "boom"})
    assert resp.status_code >= 400 and resp.json()["success"] == 0
    assert srv.get(f"/api/archives/{arcid}/metadata").json() == arc
    assert srv.get("/api/search", params={"filter": "artist:half"}).json()["recordsFiltered"] == 0
    assert all(s["text"] != "half" for s in srv.get("/api/database/stats").json())
    # the server's writer is not left inside the failed transaction: the next write goes through
    resp = srv.put(f"/api/archives/{arcid}/metadata", auth=True,
                   data={"title": "Whole", "tags": "artist:whole", "summary": "fine"})
    assert resp.status_code == 200, resp.text
    meta = srv.get(f"/api/archives/{arcid}/metadata").json()
    assert (meta["title"], meta["tags"], meta["summary"]) == ("Whole", "artist:whole", "fine")
    assert [r["arcid"] for r in srv.get("/api/search", params={"filter": "artist:whole"}).json()["data"]] == [arcid]


def test_a_failed_nested_block_undoes_only_its_own_writes(db):
    """A nested write block is a savepoint: an outer block that catches the inner one's failure goes on and
    commits its own writes, never the half of the inner block done before it failed."""
    with db.write() as outer:
        outer.execute("INSERT INTO guard VALUES ('outer')")
        with pytest.raises(Boom):
            with db.write() as inner:
                inner.execute("INSERT INTO guard VALUES ('half')")
                raise Boom
        with db.write() as inner:  # and a nested block after it works as usual, two levels deep too
            inner.execute("INSERT INTO guard VALUES ('second')")
            with pytest.raises(Boom):
                with db.write() as deeper:
                    deeper.execute("INSERT INTO guard VALUES ('deep half')")
                    raise Boom
    assert on_disk(db) == ["outer", "second"]


def test_reads_inside_a_write_see_its_writes_and_other_threads_see_them_once_committed(db):
    """Every write goes through one writer connection; inside the block, this thread's `db.query` reads
    through it (so it sees what the block wrote), while another thread sees the last commit only."""
    seen_elsewhere: list[list[str]] = []

    def other_thread() -> None:
        seen_elsewhere.append([r[0] for r in db.query("SELECT name FROM guard")])

    with db.write() as conn:
        conn.execute("INSERT INTO guard VALUES ('pending')")
        assert [r[0] for r in db.query("SELECT name FROM guard")] == ["pending"]
        reader = threading.Thread(target=other_thread)
        reader.start()
        reader.join()
    assert seen_elsewhere == [[]]
    other_thread()
    assert seen_elsewhere[-1] == ["pending"] and on_disk(db) == ["pending"]


def test_writers_on_many_threads_take_turns(db):
    def writer(n: int) -> None:
        for k in range(50):
            with db.write() as conn:
                conn.execute("INSERT INTO guard VALUES (?)", (f"{n}-{k}",))
                with db.write() as inner:  # a nested block on the same thread joins the transaction
                    inner.execute("INSERT INTO guard VALUES (?)", (f"{n}-{k}-inner",))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(on_disk(db)) == 4 * 50 * 2
