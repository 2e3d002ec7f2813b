"""The command line as a user (or systemd) sees it: one-shot commands print only their result; `serve`
logs "stopping" on SIGTERM, wherever the signal lands, and exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from archive_factory import make_comic
from test_cli_errors import ENV, cli, free_port, start_server, stop_server


def test_set_and_scan_print_their_result_only(tmp_path):
    (tmp_path / "content").mkdir()
    make_comic(tmp_path / "content" / "Book.cbz", 2, "cbz")
    # a fresh data folder: every migration is applied by `set`, which must not narrate them
    out = cli("set", "pagesize", "7", "--data", "data", "--content", "content", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pagesize = 7") and out.stderr == ""
    out = cli("scan", "--data", "data", "--content", "content", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"scanned {tmp_path / 'content'}: 1 seen, 1 added") and out.stderr == ""
    # a warning still reaches the user: a file the scan cannot read
    (tmp_path / "content" / "Broken.cbz").write_bytes(b"PK\x03\x04 not a zip")
    out = cli("scan", "--data", "data", "--content", "content", cwd=tmp_path)
    assert "failed: " in out.stdout and "Broken.cbz" in out.stdout
    # asked for detail, detail is given
    out = cli("set", "pagesize", "8", "--data", "fresh", "--content", "content", cwd=tmp_path,
              env={"LRR_LOG_LEVEL": "DEBUG"})
    assert "applying migration 1" in out.stderr


def test_serve_still_logs_its_migrations(tmp_path):
    (tmp_path / "content").mkdir()
    proc, _ = start_server("--data", "data", "--content", "content", cwd=tmp_path)
    code, err = stop_server(proc)
    assert code == 0 and "applying migration 1" in err
    assert "applying migration 1" in (tmp_path / "data" / "log" / "lrr_lite.log").read_text()


def test_sigterm_logs_stopping_and_exits_0(tmp_path):
    (tmp_path / "content").mkdir()
    proc, _ = start_server("--data", "data", "--content", "content", cwd=tmp_path)
    code, err = stop_server(proc, signal.SIGTERM)
    assert code == 0, err
    log = (tmp_path / "data" / "log" / "lrr_lite.log").read_text()
    assert "lrr_lite: stopping" in log and log.index("lrr_lite: stopping") > log.index("listening on")


def test_sigterm_during_start_up_logs_stopping_and_exits_0(tmp_path):
    """systemd may stop the service while it is still starting (a long migration): the same clean stop."""
    (tmp_path / "content").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "serve", "--port", str(free_port()), "--data", "data",
                             "--content", "content"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        deadline = time.monotonic() + 30
        while "applying migration" not in seen and time.monotonic() < deadline:  # the database is opening
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, seen + err
    assert "lrr_lite: stopping" in (tmp_path / "data" / "log" / "lrr_lite.log").read_text()
