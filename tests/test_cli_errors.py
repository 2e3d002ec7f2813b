"""Every start-up and CLI failure a user can cause: one line `lrr-lite: …` naming the path or value and what to
do, a non-zero exit code, and never a traceback. Each case is a real `python -m lrr_lite` process over real
folders; they run a few at a time (each start-up costs ~0.5 s).

Permissions: as root the processes run without CAP_DAC_OVERRIDE (setpriv), so a folder root cannot write is
one that lrr-lite cannot write either, as for any other user."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from archive_factory import make_comic

ENV = {"PATH": "/usr/bin:/bin"}


def _as_plain_user() -> list[str]:
    """A prefix that makes a root process obey file permissions; none for another user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
        plain_user: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
    prefix = _as_plain_user() if plain_user else []
    return subprocess.run([*prefix, sys.executable, "-m", "lrr_lite", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**ENV, **(env or {})}, input=stdin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def error_line(out: subprocess.CompletedProcess) -> str:
    """The one `lrr-lite: ` line of a failed command (log lines of the start-up may come before it)."""
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("lrr-lite: ")]
    assert len(lines) == 1, out.stderr
    return lines[0]


def start_server(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`lrr-lite serve` on a free port, once it answers; (process, base URL)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lrr_lite", "serve", "--port", str(port), *args], cwd=cwd,
                            env={**ENV, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            requests.get(url + "/api/info", timeout=2)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not answer within 30 s")


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


# -- the failure table ---------------------------------------------------------------------------------------

@dataclass
class Case:
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]                      # fragments of the error line
    setup: Callable[[Path], None] = lambda root: None
    env: dict[str, str] = field(default_factory=dict)
    plain_user: bool = False
    after: Callable[[Path], None] = lambda root: None  # what must (not) have happened on disk


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


def _content(root: Path) -> None:
    make_comic(root / "content" / "Book.cbz", 1, "cbz")


def _mode(name: str, mode: int) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / name).mkdir()
        (root / name).chmod(mode)
    return setup


def _corrupt_db(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "database.sqlite").write_bytes(b"this is not SQLite at all\n" * 200)


def _not_created(name: str) -> Callable[[Path], None]:
    def check(root: Path) -> None:
        assert not (root / name).exists()
    return check


BUSY = "busy-port"  # replaced by the port the case's socket holds

CASES: dict[str, Case] = {
    "port_in_use": Case(("serve", "--port", BUSY), 1,
                        ("cannot listen on 127.0.0.1:", "address already in use", "--port"), setup=_content),
    "port_out_of_range": Case(("serve", "--port", "99999"), 2, ("--port", "'99999'", "1 to 65535")),
    "port_zero": Case(("serve", "--port", "0"), 2, ("--port", "'0'", "1 to 65535")),
    "port_env": Case(("serve",), 2, ("LRR_PORT", "'99999'"), env={"LRR_PORT": "99999"}),
    "port_ini": Case(("serve", "--config", "c.ini"), 2, ("port in ", "c.ini", "'70000'"),
                     setup=_write("c.ini", "[server]\nport = 70000\n")),
    "network_without_port": Case(("serve",), 2, ("LRR_NETWORK", "http://*:3000"), env={"LRR_NETWORK": "http://*"}),
    "log_level_flag": Case(("serve", "--log-level", "chatty"), 2, ("--log-level", "'chatty'", "DEBUG, INFO")),
    "log_level_env": Case(("scan",), 2, ("LRR_LOG_LEVEL", "'chatty'"), env={"LRR_LOG_LEVEL": "chatty"}),
    "watch_flag": Case(("serve", "--watch", "sometimes"), 2, ("--watch", "'sometimes'", "auto, inotify, poll, off")),
    "watch_ini": Case(("serve", "--config", "c.ini"), 2, ("watch in ", "'sometimes'"),
                      setup=_write("c.ini", "[server]\nwatch = sometimes\n")),
    "threads_zero": Case(("serve", "--threads", "0"), 2, ("--threads", "'0'", "1 to")),
    "job_workers_env": Case(("serve",), 2, ("LRR_JOB_WORKERS", "'-1'"), env={"LRR_JOB_WORKERS": "-1"}),
    "decode_concurrency": Case(("serve", "--decode-concurrency", "lots"), 2, ("--decode-concurrency", "'lots'")),
    "poll_interval_zero": Case(("serve", "--poll-interval", "0"), 2, ("--poll-interval", "'0'")),
    "bool_word": Case(("serve",), 2, ("LRR_SCAN_ON_START", "'sometimes'", "true or false"),
                      env={"LRR_SCAN_ON_START": "sometimes"}),
    "ini_without_section": Case(("serve", "--config", "c.ini"), 2, ("c.ini", "line 1", "[server]"),
                                setup=_write("c.ini", "port = 3000\n")),
    "ini_unknown_key": Case(("serve", "--config", "c.ini"), 2, ("c.ini", "unknown key 'prot'"),
                            setup=_write("c.ini", "[server]\nprot = 3000\n")),
    "ini_unknown_section": Case(("serve", "--config", "c.ini"), 2, ("c.ini", "[sever]"),
                                setup=_write("c.ini", "[sever]\nport = 3000\n")),
    "ini_missing": Case(("serve", "--config", "nope.ini"), 2, ("nope.ini", "does not exist")),
    "ini_unreadable": Case(("serve", "--config", "c.ini"), 2, ("cannot read config file", "c.ini",
                                                                "permission denied"),
                           setup=lambda root: (_write("c.ini", "[server]\n")(root), (root / "c.ini").chmod(0)),
                           plain_user=True),
    "content_missing": Case(("serve", "--content", "contnet"), 1,
                            ("content folder", "contnet", "does not exist", "--create-content"),
                            after=_not_created("contnet")),
    "content_is_file": Case(("serve", "--content", "c.cbz"), 1, ("content folder", "c.cbz", "is a file"),
                            setup=_write("c.cbz", "x")),
    "content_unreadable": Case(("serve", "--content", "locked"), 1,
                               ("cannot read content folder", "locked", "permission denied"),
                               setup=_mode("locked", 0o000), plain_user=True),
    "scan_content_missing": Case(("scan", "--content", "contnet"), 1, ("contnet", "does not exist"),
                                 after=_not_created("contnet")),
    "scan_content_unreadable": Case(("scan", "--content", "locked"), 1, ("cannot read content folder", "locked"),
                                    setup=_mode("locked", 0o000), plain_user=True),
    "data_is_file": Case(("serve", "--data", "f"), 1, ("data folder", "/f is a file", "--data"),
                         setup=_write("f", "x")),
    "data_under_file": Case(("serve", "--data", "f/data"), 1, ("data folder", "f/data", "/f is a file"),
                            setup=_write("f", "x")),
    "data_unwritable": Case(("serve", "--data", "ro"), 1, ("data folder", "/ro", "not writable"),
                            setup=_mode("ro", 0o555), plain_user=True),
    "data_parent_unwritable": Case(("scan", "--data", "ro/data"), 1, ("cannot create data folder", "ro/data",
                                                                      "permission denied"),
                                   setup=lambda root: (_content(root), _mode("ro", 0o555)(root)), plain_user=True),
    "database_corrupt": Case(("serve",), 1, ("cannot open the database", "database.sqlite", "backup"),
                             setup=lambda root: (_content(root), _corrupt_db(root))),
    "set_on_corrupt_database": Case(("set", "nofunmode", "1"), 1, ("cannot open the database",),
                                    setup=_corrupt_db),
    "unknown_flag": Case(("serve", "--prot", "3000"), 2, ("unrecognized arguments: --prot",)),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    root = tmp_path_factory.mktemp("cli-errors")
    root.chmod(0o755)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    busy_port = str(busy.getsockname()[1])

    def one(name: str) -> tuple[subprocess.CompletedProcess, Path]:
        case = CASES[name]
        where = root / name
        where.mkdir()
        case.setup(where)
        args = [busy_port if a == BUSY else a for a in case.args]
        return cli(*args, cwd=where, env=case.env, plain_user=case.plain_user), where

    try:
        with ThreadPoolExecutor(4) as pool:
            results = dict(zip(CASES, pool.map(one, CASES), strict=True))
    finally:
        busy.close()
    yield results
    for name in ("locked", "ro"):  # let pytest remove them
        for path in root.glob(f"*/{name}"):
            path.chmod(0o755)


@pytest.mark.parametrize("name", sorted(CASES))
def test_failure_is_one_line_and_an_exit_code(outcomes, name):
    case = CASES[name]
    out, where = outcomes[name]
    line = error_line(out)
    assert out.returncode == case.code, (out.returncode, out.stderr)
    for fragment in case.says:
        assert fragment in line, (fragment, line)
    case.after(where)


def test_port_in_use_fails_before_the_scan(outcomes):
    out, where = outcomes["port_in_use"]
    assert "listening on" not in out.stderr and "scan:" not in out.stderr, out.stderr
    with sqlite3.connect(where / "data" / "database.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM archives").fetchone()[0] == 0  # the book was not imported


def test_usage_errors_print_no_usage_block(outcomes):
    # argparse's own style is a usage block plus the error; ours is the one line, pointing at --help
    out, _ = outcomes["log_level_flag"]
    assert out.stderr.strip() == error_line(out) and "--help" in out.stderr


# -- what works ----------------------------------------------------------------------------------------------

def test_readme_command_in_a_fresh_folder_serves_and_logs_to_a_rotating_file(tmp_path):
    """`lrr-lite serve --content ./content --data ./data` where ./content does not exist yet: the default
    folder is made (a mistyped one is refused, above). It logs the port it really listens on; Ctrl-C ends it
    quietly with 130."""
    proc, url = start_server("--content", "./content", "--data", "./data", cwd=tmp_path)
    try:
        assert requests.get(url + "/api/info", timeout=10).status_code == 200
        assert (tmp_path / "content").is_dir()
    finally:
        code, err = stop_server(proc, signal.SIGINT)
    assert code == 130 and "Traceback" not in err, err
    assert f"listening on {url}/" in err
    log_file = tmp_path / "data" / "log" / "lrr_lite.log"
    text = log_file.read_text()
    assert f"listening on {url}/" in text
    assert text[:4].isdigit() and text[4] == "-"  # a timestamp: a plain file has no journal to add one


def test_create_content_makes_a_missing_folder(tmp_path):
    proc, url = start_server("--content", "lib/new", "--create-content", "--data", "d", "--watch", "off",
                             cwd=tmp_path)
    try:
        assert (tmp_path / "lib" / "new").is_dir()
    finally:
        code, err = stop_server(proc)
    assert code == 0 and "Traceback" not in err


def test_under_systemd_logs_go_to_the_journal_only(tmp_path):
    proc, url = start_server("--data", "data", "--watch", "off", cwd=tmp_path, env={"JOURNAL_STREAM": "8:1234"})
    code, err = stop_server(proc)
    assert code == 0, err
    line = next(line for line in err.splitlines() if "listening on" in line)
    assert line.startswith("INFO lrr_lite: ")  # no timestamp: the journal adds its own
    assert not (tmp_path / "data" / "log").exists()


def test_scan_prints_lines_not_a_dict(tmp_path):
    make_comic(tmp_path / "content" / "Good.cbz", 2, "cbz")
    (tmp_path / "content" / "Broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    out = cli("scan", "--content", "content", "--data", "data", cwd=tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"scanned {tmp_path / 'content'}: 2 seen, 1 added, 0 updated, 0 unchanged, "
                               "1 failed"), lines
    assert len(lines) == 2 and lines[1].startswith(f"failed: {tmp_path / 'content' / 'Broken.zip'}: "), lines
    assert "{" not in out.stdout
    again = cli("scan", "--content", "content", "--data", "data", cwd=tmp_path)
    assert "2 seen, 0 added, 0 updated, 1 unchanged, 1 failed" in again.stdout  # the reason is still listed
    assert again.stdout.splitlines()[1] == lines[1]
