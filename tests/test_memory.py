"""Idle memory: the trimmer gives SQLite's caches back after work, and the opt-in memory report of the real server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from archive_factory import make_comic

from lrr_lite.media import memory
from lrr_lite.storage.db import Database, sqlite_memory


def test_release_memory_gives_back_what_the_page_caches_held(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    try:
        with db.write() as tx:
            tx.execute("CREATE TABLE t (x TEXT)")
            tx.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(4000)])  # ~2 MB of pages
        db.query("SELECT count(*) FROM t WHERE x LIKE '%y%'")  # reads every page into this connection's cache
        before = sqlite_memory()
        if not before:  # a statically linked SQLite: its counters are not reachable
            return
        db.release_memory()
        after = sqlite_memory()
        assert before["memory_used_mb"] - after["memory_used_mb"] >= 0.5, (before, after)
        assert db.query_one("SELECT count(*) FROM t")[0] == 4000  # the connection still works
    finally:
        db.close()


def test_trimmer_trims_once_after_work_when_quiet_and_never_while_busy():
    released = []
    trimmer = memory.IdleTrimmer(lambda: released.append(1), busy=0.05, quiet=0.02)
    assert not trimmer.check(since_trim=0.01, last_interval=0.0)  # no work since the last trim
    assert not trimmer.check(since_trim=2.0, last_interval=0.5)  # work still going on
    assert trimmer.check(since_trim=2.0, last_interval=0.0)  # work done, now quiet
    assert released == [1] and trimmer.trims == 1


def test_a_failing_release_does_not_stop_the_trim():
    def fail() -> None:
        raise RuntimeError("boom")

    trimmer = memory.IdleTrimmer(fail)
    assert trimmer.check(since_trim=1.0, last_interval=0.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigusr1_writes_the_memory_report_when_asked_for(tmp_path):
    content, data, report = tmp_path / "content", tmp_path / "data", tmp_path / "memory.json"
    make_comic(content / "Book.cbz", 2, "cbz", size=(60, 80))
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LRR_")}, "LRR_MEMORY_REPORT": str(report)}
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "serve", "--content", str(content), "--data",
                             str(data), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/archives", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGUSR1)
        while not report.exists():
            assert time.monotonic() < deadline + 10, "no report written"
            time.sleep(0.05)
        found = json.loads(report.read_text())
        assert found["gc_objects"] > 1000
        assert found["sqlite"]["connections"] >= 1
        assert "memory-trim" in found["threads"]
        assert proc.poll() is None  # the signal did not end the server
        assert requests.get(f"http://127.0.0.1:{port}/api/archives", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_without_the_setting_the_server_does_not_catch_sigusr1(tmp_path):
    """The report is opt-in: a server started without LRR_MEMORY_REPORT leaves SIGUSR1 alone."""
    port = _free_port()
    (tmp_path / "content").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRR_")}
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "serve", "--content", str(tmp_path / "content"),
                             "--data", str(tmp_path / "data"), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/info", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        caught = next(int(line.split()[1], 16) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                      if line.startswith("SigCgt:"))
        assert not caught >> (signal.SIGUSR1 - 1) & 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
