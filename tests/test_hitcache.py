"""The hit cache's own rules (library/search/hitcache.py): its bounds, and reading the search log (schema 18).
Whether kept hits answer what a fresh search answers is tested through the server in test_search_plans.py."""

from __future__ import annotations

from array import array

import pytest

from lrr_lite.library.search import hitcache
from lrr_lite.storage.db import Database
from lrr_lite.storage.db.schema import SEARCH_LOG_KEEP


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db.sqlite")
    yield database
    database.close()


def _hits(seq: int, *nums: int) -> hitcache.Hits:
    return hitcache.Hits(seq, array("I", nums))


def _never(nums: list[int]) -> list[int]:
    raise AssertionError(f"nothing changed, yet {nums} were tested")


def test_least_recently_used_goes_first(db, monkeypatch):
    monkeypatch.setattr(hitcache, "MAX_ENTRIES", 3)
    cache = hitcache.HitCache()
    for k in "abc":
        cache.put(k, _hits(0, 1, 2))
    assert cache.get(db, "a", _never) is not None  # "a" used: "b" is now the oldest
    cache.put("d", _hits(0, 3))
    assert len(cache) == 3 and cache.get(db, "b", _never) is None
    assert [k for k in "acd" if cache.get(db, k, _never) is not None] == ["a", "c", "d"]


def test_bytes_are_bounded(db, monkeypatch):
    monkeypatch.setattr(hitcache, "MAX_BYTES", 64)  # 16 keys of 4 bytes
    cache = hitcache.HitCache()
    cache.put("big", _hits(0, *range(9)))  # 36 bytes: more than half the budget, never kept
    assert cache.get(db, "big", _never) is None
    for k in range(5):
        cache.put(k, _hits(0, *range(4)))  # 16 bytes each: the fifth pushes out the first
    assert cache.get(db, 0, _never) is None and all(cache.get(db, k, _never) for k in range(1, 5))


def test_an_older_set_does_not_replace_a_newer_one(db):
    cache = hitcache.HitCache()
    cache.put("k", _hits(5, 1))
    cache.put("k", _hits(3, 2))
    assert list(cache._entries["k"].nums) == [1]


def test_changes_are_read_from_the_log_and_trimmed(db):
    cache = hitcache.HitCache()
    with db.write() as conn:
        conn.executemany("INSERT INTO search_text(num, text) VALUES (?, ?)", [(n, f"t{n}") for n in (1, 2, 3)])
    seq = hitcache.log_position(db)
    assert seq >= 3
    cache.put("k", _hits(seq, 1, 3))
    with db.write() as conn:
        conn.execute("UPDATE search_text SET text = 'x' WHERE num = 2")
        conn.execute("DELETE FROM search_text WHERE num = 3")
    tested: list[list[int]] = []

    def test(nums: list[int]) -> list[int]:
        tested.append(nums)
        return [2]  # now archive 2 is a hit, 3 no longer is

    found = cache.get(db, "k", test)
    assert tested == [[2, 3]] and found is not None and list(found.nums) == [1, 2]
    assert cache.get(db, "k", _never) is found  # current now: nothing to test
    with db.write() as conn:  # more changes than the log keeps: the entry cannot be patched
        conn.executemany("UPDATE search_text SET text = ? WHERE num = 1", [(f"v{i}",) for i in range(SEARCH_LOG_KEEP + 2)])
    assert db.row("SELECT COUNT(*) FROM search_log")[0] <= SEARCH_LOG_KEEP
    assert cache.get(db, "k", _never) is None and len(cache) == 0


def test_bunched_searches_are_a_bounded_hint(db, monkeypatch):
    monkeypatch.setattr(hitcache, "MAX_BUNCHED", 2)
    cache = hitcache.HitCache()
    for search in ("a", "b", "a", "c"):  # "a" noted again: "b" is the oldest when "c" comes
        cache.note_bunched(search)
    assert [s for s in "abc" if cache.bunched(s)] == ["a", "c"]
    cache.clear()
    assert not cache.bunched("a")


def test_outdated_sets_are_dropped_when_the_server_goes_idle(db, monkeypatch):
    """drop_outdated (the idle trimmer's) lets go of the sets too many changes away to be patched, and keeps
    those `get` could still bring up to date."""
    monkeypatch.setattr(hitcache, "MAX_CHANGED", 3)
    cache = hitcache.HitCache()
    with db.write() as conn:
        conn.executemany("INSERT INTO search_text(num, text) VALUES (?, ?)", [(n, f"t{n}") for n in range(1, 9)])
    early = hitcache.log_position(db)
    cache.put("early", _hits(early, 1, 2))
    with db.write() as conn:  # 4 archives change: more than MAX_CHANGED since "early"
        conn.executemany("UPDATE search_text SET text = 'x' WHERE num = ?", [(n,) for n in (1, 2, 3, 4)])
    late = hitcache.log_position(db)
    cache.put("late", _hits(late, 5))
    with db.write() as conn:  # 2 more: "late" can still be patched
        conn.executemany("UPDATE search_text SET text = 'y' WHERE num = ?", [(n,) for n in (5, 6)])
    cache.put("current", _hits(hitcache.log_position(db), 7))
    assert cache.drop_outdated(db) == 1
    assert cache.keys() == {"late", "current"}
    assert cache._bytes == 8  # what the two kept sets hold, 4 bytes a hit
    found = cache.get(db, "late", lambda nums: [n for n in nums if n == 6])
    assert found is not None and list(found.nums) == [6]
