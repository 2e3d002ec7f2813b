"""Configuration precedence and checks, the CLI, and the log file."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from lrr_lite import __main__ as entry
from lrr_lite import config

ROOT = Path(__file__).resolve().parents[1]


def test_precedence_ini_env_cli(tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text("[server]\nport = 4000\nhost = 0.0.0.0\ndata = /tmp/from-ini\njob_workers = 3\n")
    cfg = config.load(ini, environ={})
    assert (cfg.port, cfg.host, str(cfg.data), cfg.job_workers) == (4000, "0.0.0.0", "/tmp/from-ini", 3)
    assert cfg.thumbs == Path("/tmp/from-ini/thumb") and cfg.temp == Path("/tmp/from-ini/temp")
    env = {"LRR_PORT": "5000", "LRR_DATA_DIRECTORY": "/tmp/from-env", "LRR_THUMB_DIRECTORY": "/tmp/th"}
    cfg = config.load(ini, environ=env)
    assert (cfg.port, str(cfg.data), str(cfg.thumbs)) == (5000, "/tmp/from-env", "/tmp/th")
    cfg = config.load(ini, {"port": 6000}, environ=env)
    assert cfg.port == 6000 and cfg.host == "0.0.0.0"


def test_lrr_network_and_bad_values(tmp_path):
    cfg = config.load(None, environ={"LRR_NETWORK": "http://*:3333"})
    assert (cfg.host, cfg.port) == ("0.0.0.0", 3333)
    with pytest.raises(config.ConfigError, match="LRR_PORT: 'many' is not a whole number"):
        config.load(None, environ={"LRR_PORT": "many"})
    ini = tmp_path / "c.ini"
    ini.write_text("[server]\nprot = 1\n")
    with pytest.raises(config.ConfigError, match="unknown key"):
        config.load(ini, environ={})
    # every source is checked the same way, and names itself
    for source, kwargs in (("--port", {"cli": {"port": 0}}), ("LRR_PORT", {"environ": {"LRR_PORT": "65536"}})):
        with pytest.raises(config.ConfigError, match=source):
            config.load(None, **{"environ": {}, **kwargs})
    cfg = config.load(None, {"log_level": "debug", "watch": "POLL"}, environ={"LRR_SCAN_ON_START": "off"})
    assert (cfg.log_level, cfg.watch, cfg.scan_on_start) == ("DEBUG", "poll", False)


def test_only_the_default_content_folder_is_made_unasked():
    assert config.load(None, {}, environ={}).create_content  # ./content, the README's first command
    assert config.load(None, {"content": "content"}, environ={}).create_content
    assert not config.load(None, {"content": "contnet"}, environ={}).create_content
    assert config.load(None, {"content": "contnet", "create_content": True}, environ={}).create_content


def test_example_config_documents_every_key():
    text = (ROOT / "config.example.ini").read_text()
    for opt in config.SCHEMA:
        assert f"{opt.name} =" in text, opt.name
    config.load(ROOT / "config.example.ini", environ={})


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrr_lite", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin"})


def test_cli_show_config_set_and_scan(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from archive_factory import make_comic

    make_comic(tmp_path / "content" / "Book.cbz", 2, "cbz")
    out = run_cli("show-config", "--content", "content", "--port", "3100", cwd=tmp_path)
    assert out.returncode == 0 and "port = 3100" in out.stdout and str(tmp_path / "content") in out.stdout
    out = run_cli("scan", "--content", "content", "--data", "data", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"scanned {tmp_path / 'content'}: 1 seen, 1 added, 0 updated")
    assert list((tmp_path / "data" / "thumb").rglob("*.jpg"))
    out = run_cli("set", "nofunmode", "1", "--data", "data", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("nofunmode = 1")
    out = run_cli("set", "nosuchkey", "1", "--data", "data", cwd=tmp_path)
    assert out.returncode == 2


def test_log_file_rotates(tmp_path, monkeypatch):
    """A busy library logs a line per imported file: the file under the log folder is capped and rotated."""
    monkeypatch.setattr(entry, "LOG_FILE_BYTES", 2000)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        entry.setup_logging(config.load(None, {"data": str(tmp_path / "data")}, environ={}), to_file=True)
        for n in range(200):
            logging.getLogger("lrr_lite.test").info("imported file number %d of a long scan", n)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved
    files = sorted(p.name for p in (tmp_path / "data" / "log").iterdir())
    assert files == ["lrr_lite.log", "lrr_lite.log.1", "lrr_lite.log.2", "lrr_lite.log.3"]
    assert all(p.stat().st_size <= 2000 for p in (tmp_path / "data" / "log").iterdir())
    assert "number 199" in (tmp_path / "data" / "log" / "lrr_lite.log").read_text()
