"""The command line as a user sees it: one-shot commands print only their result."""

from __future__ import annotations

from archive_factory import make_comic
from test_cli_errors import cli, start_server, stop_server


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
