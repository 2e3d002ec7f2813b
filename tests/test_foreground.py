"""Background work (the watcher's walk, scans, covers) gives way to the requests being answered."""

from __future__ import annotations

import threading
import time

from archive_factory import make_comic

from lrr_lite.library import foreground as fg
from lrr_lite.library.foreground import Foreground
from lrr_lite.library.intake import scan


def _in_thread(target) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        out["value"] = target()
        out["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_nothing_served_means_no_wait():
    assert Foreground().give_way() is False


def test_background_waits_until_the_request_is_answered():
    gate = Foreground()
    token = gate.begin()  # this thread answers a request
    waiter, out = _in_thread(lambda: gate.give_way(most=30))
    time.sleep(0.3)
    assert waiter.is_alive(), "background work went on while a request was being answered"
    ended = time.monotonic()
    gate.end(token)
    waiter.join(5)
    assert not waiter.is_alive() and out["value"] is True and out["at"] >= ended
    assert gate.busy() == 0


def test_a_request_thread_never_waits_for_other_requests():
    gate = Foreground()
    other, _ = _in_thread(gate.begin)  # a request on another thread, never ended
    other.join()
    token = gate.begin()  # an upload ingesting its own file on this request thread
    started = time.monotonic()
    assert gate.give_way(most=30) is False
    assert time.monotonic() - started < 1
    gate.end(token)


def test_the_wait_is_bounded():
    gate = Foreground()
    other, _ = _in_thread(gate.begin)
    other.join()
    started = time.monotonic()
    assert gate.give_way(most=0.2) is True
    assert 0.15 <= time.monotonic() - started < 5


def test_a_long_transfer_holds_nothing_back(monkeypatch):
    monkeypatch.setattr(fg, "LONGEST", 0.2)
    gate = Foreground()
    other, _ = _in_thread(gate.begin)  # e.g. a client downloading a big archive
    other.join()
    started = time.monotonic()
    gate.give_way(most=30)  # waits only until the request is older than LONGEST
    assert time.monotonic() - started < 5
    assert gate.give_way(most=30) is False


def _held_while_a_request_is_answered(server, monkeypatch, work) -> object:
    """Run `work` on a background thread while a request is answered: it must not finish before the
    request does. Returns what it returned."""
    monkeypatch.setattr(fg, "MOST_WAIT", 30)
    gate = server.ctx.ingest.foreground
    assert gate is server.ctx.foreground
    token = gate.begin()
    worker, out = _in_thread(work)
    time.sleep(0.5)
    assert worker.is_alive(), "background work went on while a request was being answered"
    gate.end(token)
    worker.join(30)
    assert not worker.is_alive()
    return out["value"]


def test_the_scan_walk_waits_for_a_request(make_server, monkeypatch):
    server = make_server(scan=False).start()
    for n in range(3):
        make_comic(server.content / f"Walked {n}.cbz", 2 + n, "cbz")  # different bytes: three archives
    server.rescan()
    report = _held_while_a_request_is_answered(server, monkeypatch,
                                               lambda: scan.scan(server.ctx.ingest, server.content))
    assert report.skipped == 3  # the walk of known files (no ingest) is what waited


def test_reading_new_files_waits_for_a_request(make_server, monkeypatch):
    server = make_server(scan=False).start()
    paths = [make_comic(server.content / f"New {n}.cbz", 2 + n, "cbz") for n in range(2)]
    batch = [(str(p), p.stat()) for p in paths]
    outcomes = _held_while_a_request_is_answered(server, monkeypatch,
                                                 lambda: server.ctx.ingest.files(batch, queue_cover=False))
    assert [o.status for o in outcomes] == ["added", "added"]


def test_every_kind_of_answer_ends_its_request(make_server):
    """A streamed reply (the full list), a file sent by the server, an error and a page all end their
    request once sent: a request that never ended would hold every background loop back for good."""
    server = make_server(scan=False).start()
    make_comic(server.content / "Sent.cbz", 3, "cbz")
    server.rescan()
    listed = server.get("/api/archives", auth=True)
    assert listed.status_code == 200 and len(listed.json()) == 1
    archive_id = listed.json()[0]["arcid"]
    assert server.get(f"/api/archives/{archive_id}/download", auth=True).status_code == 200
    assert server.get("/api/archives/" + "0" * 40 + "/metadata", auth=True).status_code == 400
    assert server.get(f"/api/archives/{archive_id}/page?path=nothing.jpg", auth=True).status_code >= 400
    assert server.get("/api/database/stats", auth=True).status_code == 200
    assert server.get("/", auth=True).status_code in (200, 302, 303)
    with server.session.get(server.url + "/api/archives", headers=server.auth(), stream=True, timeout=30) as cut:
        cut.raw.read(1)  # a client that goes away mid-reply
    deadline = time.monotonic() + 5
    while server.ctx.foreground.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.ctx.foreground.busy() == 0
    assert server.ctx.foreground.give_way(most=30) is False
