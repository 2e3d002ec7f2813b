"""Minion-compatible background jobs: rows in SQLite run by a small thread pool.

The pool has lanes: the general one (thumbnails, scans, …) and any a task is registered on (URL
downloads have their own), each with its own workers, so jobs that wait on the outside world never
hold the workers everything else needs. Lanes change nothing a client sees through the Minion API.

A job is inserted as `inactive`, picked by a worker (`active`), and ends `finished` with its result
or `failed` with `{"error": …}`. Jobs found `active` at start-up were cut off by a crash or a stop:
they are marked failed (never "active" forever); `inactive` ones are queued again.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lrr_lite.storage.db import Database

log = logging.getLogger(__name__)

Handler = Callable[["JobContext", list[Any]], Any]


class JobContext:
    """What a running job may touch: its id, and its notes (visible through /api/minion/{id})."""

    def __init__(self, queue: JobQueue, job_id: int) -> None:
        self.queue = queue
        self.id = job_id
        self._notes: dict[str, Any] = {}

    def note(self, **values: Any) -> None:
        self._notes.update(values)
        with self.queue.db.write() as conn:
            conn.execute("UPDATE jobs SET notes=? WHERE id=?", (json.dumps(self._notes), self.id))


GENERAL = "general"
DEFAULT_LANE_WORKERS = 1


class _Lane:
    """A queue with its own workers. Tasks registered on a lane run only there, so a slow kind of job
    (URL downloads waiting on remote servers) cannot hold the general workers that thumbnails and
    scans need; the general workers never take a lane's jobs either."""

    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self.workers = max(1, workers)
        self.heap: list[tuple[int, int, int]] = []


class JobQueue:
    def __init__(self, db: Database, workers: int = 2) -> None:
        self.db = db
        self.handlers: dict[str, Handler] = {}
        self._counter = itertools.count()
        self._worker_ids = itertools.count(1)  # the jobs.worker column: unique across lanes
        self._cond = threading.Condition()  # an RLock inside: add_lane may run under register's hold
        self._lanes: dict[str, _Lane] = {GENERAL: _Lane(GENERAL, workers)}
        self._task_lane: dict[str, str] = {}
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = False
        self._running = 0

    def add_lane(self, name: str, workers: int = DEFAULT_LANE_WORKERS) -> None:
        """A lane with `workers` threads of its own (started at once if the queue already runs)."""
        with self._cond:
            if name in self._lanes:
                raise ValueError(f"lane {name!r} exists")
            lane = self._lanes[name] = _Lane(name, workers)
            if self._started and not self._stopping:
                self._start_workers(lane)

    def register(self, task: str, handler: Handler, *, lane: str | None = None) -> None:
        """`lane`: run this task only on that lane's workers (made with one worker if new)."""
        self.handlers[task] = handler
        with self._cond:
            if lane is None or lane == GENERAL:
                self._task_lane.pop(task, None)
                return
            if lane not in self._lanes:
                self.add_lane(lane)
            self._task_lane[task] = lane

    def start(self) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state='failed', finished=?, result=? WHERE state='active'",
                (now, json.dumps({"error": "Interrupted: the server stopped while this job ran."})),
            )
            pending = conn.execute("SELECT id, task, priority FROM jobs WHERE state='inactive' ORDER BY id").fetchall()
        with self._cond:
            for row in pending:
                self._push(row["id"], row["task"], row["priority"])
            self._started = True
            for lane in self._lanes.values():
                self._start_workers(lane)

    def _start_workers(self, lane: _Lane) -> None:
        for n in range(lane.workers):
            worker = next(self._worker_ids)
            name = f"job-worker-{worker}" if lane.name == GENERAL else f"job-{lane.name}-{n + 1}"
            t = threading.Thread(target=self._work, args=(lane, worker), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def _push(self, job_id: int, task: str, priority: int) -> None:
        # heapq is a min-heap: higher priority first, then oldest first.
        lane = self._lanes[self._task_lane.get(task, GENERAL)]
        heapq.heappush(lane.heap, (-priority, next(self._counter), job_id))
        self._cond.notify_all()  # one condition serves all workers and wait_idle() callers

    def enqueue(self, task: str, args: list[Any] | None = None, *, priority: int = 0,
                notes: dict[str, Any] | None = None) -> int:
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO jobs(task, args, state, notes, priority, created) VALUES (?, ?, 'inactive', ?, ?, ?)",
                (task, json.dumps(args or []), json.dumps(notes or {}), int(priority), time.time()),
            )
            job_id = int(cur.lastrowid or 0)  # always set after an INSERT
        with self._cond:
            self._push(job_id, task, int(priority))
        return job_id

    def find_pending(self, task: str, args: list[Any]) -> int | None:
        """An inactive or active job with the same task and args, so callers can reuse it."""
        row = self.db.query_one(
            "SELECT id FROM jobs WHERE task=? AND args=? AND state IN ('inactive','active') ORDER BY id DESC",
            (task, json.dumps(args)),
        )
        return int(row["id"]) if row else None

    def get(self, job_id: int) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM jobs WHERE id=?", (job_id,))
        if row is None:
            return None
        job = dict(row)
        job["args"] = json.loads(job["args"])
        job["notes"] = json.loads(job["notes"] or "{}")
        job["result"] = json.loads(job["result"]) if job["result"] is not None else None
        return job

    def recent(self, limit: int = 30) -> list[dict[str, Any]]:
        """The running and queued jobs, then the latest others, newest first (read-only; the admin page's list).
        Running ones come first whatever their age, so a long scan never drops off the list."""
        rows = self.db.query(
            "SELECT * FROM (SELECT * FROM jobs WHERE state IN ('active','inactive') ORDER BY id DESC LIMIT ?) "
            "UNION ALL SELECT * FROM (SELECT * FROM jobs WHERE state NOT IN ('active','inactive') "
            "ORDER BY id DESC LIMIT ?)", (limit, limit))
        jobs = []
        for row in rows:
            job = dict(row)
            job["args"] = json.loads(job["args"])
            job["notes"] = json.loads(job["notes"] or "{}")
            job["result"] = json.loads(job["result"]) if job["result"] is not None else None
            jobs.append(job)
        return jobs

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no job is queued or running, in any lane (tests and the CLI scan use this)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running or any(lane.heap for lane in self._lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _work(self, lane: _Lane, worker: int) -> None:
        while True:
            with self._cond:
                while not lane.heap and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                _, _, job_id = heapq.heappop(lane.heap)
                self._running += 1
            try:
                self._run(job_id, worker)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _run(self, job_id: int, worker: int) -> None:
        with self.db.write() as conn:
            row = conn.execute("SELECT task, args, state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or row["state"] != "inactive":
                return
            conn.execute("UPDATE jobs SET state='active', started=?, worker=? WHERE id=?",
                         (time.time(), worker, job_id))
        handler = self.handlers.get(row["task"])
        ctx = JobContext(self, job_id)
        try:
            if handler is None:
                raise RuntimeError(f"No handler for task {row['task']}")
            result = handler(ctx, json.loads(row["args"]))
            state = "finished"
        except Exception as exc:  # a job's failure is data for the client, not a crash of the pool
            log.warning("job %d (%s) failed: %s", job_id, row["task"], exc, exc_info=log.isEnabledFor(10))
            result = {"error": str(exc) or exc.__class__.__name__}
            state = "failed"
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET state=?, result=?, finished=? WHERE id=?",
                         (state, json.dumps(result), time.time(), job_id))
