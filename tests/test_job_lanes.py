"""JobQueue lanes: a lane's tasks run only on its own workers, never on (or behind) the general ones."""

from __future__ import annotations

import threading

import pytest

from lrr_lite.library.jobs import JobQueue
from lrr_lite.storage.db import Database


@pytest.fixture
def queue(tmp_path):
    db = Database(tmp_path / "jobs.sqlite")
    jobs = JobQueue(db, workers=2)
    yield jobs
    jobs.stop()
    db.close()


def test_lane_runs_apart_from_general_workers(queue):
    release = threading.Event()
    running: list[int] = []

    def slow(job, args):
        running.append(job.id)
        assert release.wait(10)
        return {"slow": args[0]}

    queue.register("slow", slow, lane="download")
    queue.register("fast", lambda job, args: args[0] * 2)
    queue.start()
    slow_ids = [queue.enqueue("slow", [n]) for n in range(3)]
    fast_ids = [queue.enqueue("fast", [n]) for n in range(4)]

    # the general workers finish every fast job while the lane's one worker is held
    assert not queue.wait_idle(0.5)  # ...and wait_idle still counts the held lane
    assert [queue.get(j)["result"] for j in fast_ids] == [0, 2, 4, 6]
    assert [queue.get(j)["state"] for j in slow_ids] == ["active", "inactive", "inactive"]
    assert running == slow_ids[:1]

    release.set()
    assert queue.wait_idle(10)
    slow_jobs = [queue.get(j) for j in slow_ids]
    assert [j["result"] for j in slow_jobs] == [{"slow": 0}, {"slow": 1}, {"slow": 2}]
    assert [j["state"] for j in slow_jobs] == ["finished"] * 3
    # one lane worker, numbered after the two general ones; the general ones never ran a slow job
    assert {j["worker"] for j in slow_jobs} == {3}
    assert {queue.get(j)["worker"] for j in fast_ids} <= {1, 2}


def test_lane_added_after_start_and_queued_jobs_kept_across_restart(tmp_path):
    db = Database(tmp_path / "jobs.sqlite")
    first = JobQueue(db, workers=1)
    first.register("late", lambda job, args: "ran")
    job = first.enqueue("late", [])  # queued while nothing runs
    second = JobQueue(db, workers=1)
    second.register("late", lambda job, args: "ran on its lane", lane="late-lane")
    try:
        second.start()
        assert second.wait_idle(5)
        assert second.get(job)["result"] == "ran on its lane"
        second.register("later", lambda job, args: "later lane", lane="another")  # after start: workers start now
        later = second.enqueue("later", [])
        assert second.wait_idle(5) and second.get(later)["result"] == "later lane"
    finally:
        second.stop()
        db.close()
