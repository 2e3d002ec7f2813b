"""`lrr-lite set`: keys and values checked against the one settings schema, the password stored as the web form
stores it (and never echoed), and a running server that picks a change up within seconds."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from test_cli_errors import cli, error_line, start_server, stop_server

from lrr_lite.errors import Invalid
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import SCHEMA, SETTABLE, Settings


def stored(data, key: str) -> str | None:
    with sqlite3.connect(data / "database.sqlite") as db:
        row = db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


BAD = {  # arguments -> fragments of the one error line
    ("nofunmode", "maybe"): ("nofunmode", "'maybe'", "1 or 0"),
    ("pagesize", "abc"): ("pagesize", "'abc'", "from 1 to 1000"),
    ("pagesize", "0"): ("pagesize", "'0'", "from 1 to 1000"),
    ("readerquality", "101"): ("readerquality", "from 1 to 100"),
    ("htmltitle", "x" * 101): ("htmltitle", "at most 100 characters"),
    ("password", ""): ("password", "non-empty"),
    ("nosuchkey", "1"): ("'nosuchkey' is not a setting", "pagesize", "lrr-lite set --help"),
    ("total_pages_read", "5"): ("'total_pages_read' is kept by the server",),
}


def test_bad_values_are_refused_with_the_allowed_ones(tmp_path):
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda args: cli("set", *args, "--data", "data", cwd=tmp_path), BAD))
    for (args, says), out in zip(BAD.items(), outs, strict=True):
        line = error_line(out)
        assert out.returncode == 2, (args, out.stderr)
        for fragment in says:
            assert fragment in line, (args, line)
    # refused before anything was opened: no data folder, no database
    assert not (tmp_path / "data").exists()


def test_good_values_are_stored_and_said(tmp_path):
    for value, shown in (("yes", 1), ("off", 0), ("TRUE", 1), ("0", 0)):
        out = cli("set", "enablecors", value, "--data", "data", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"enablecors = {shown} (a running server picks this up within 2 s)")
        assert stored(tmp_path / "data", "enablecors") == str(shown)
    out = cli("set", "pagesize", "25", "--data", "data", cwd=tmp_path)
    assert out.stdout.startswith("pagesize = 25") and stored(tmp_path / "data", "pagesize") == "25"
    out = cli("set", "apikey", "sekrit-key", "--data", "data", cwd=tmp_path)
    assert out.returncode == 0 and "sekrit-key" not in out.stdout + out.stderr
    assert stored(tmp_path / "data", "apikey") == "sekrit-key"


def test_help_lists_every_settable_key_with_its_values(tmp_path):
    out = cli("set", "--help", cwd=tmp_path)
    assert out.returncode == 0
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("  ") and
            len(line.split()) > 2}
    for spec in SETTABLE:
        assert spec.key in rows, spec.key
        assert spec.help in rows[spec.key]
    assert "0|1" in rows["nofunmode"] and "1..1000" in rows["pagesize"]
    assert "total_pages_read" not in out.stdout and "cache_last_cleared" not in out.stdout


def test_settings_set_checks_like_the_cli(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    try:
        settings = Settings(db)
        for key, value in (("pagesize", 0), ("pagesize", "abc"), ("nofunmode", "maybe"), ("nosuch", 1)):
            with pytest.raises(Invalid):
                settings.set(key, value)
        settings.set("nofunmode", True)
        settings.set("pagesize", " 7 ")
        settings.set("total_pages_read", 12)  # a counter: not for `lrr-lite set`, but the server writes it
        assert (settings.get("nofunmode"), settings.get("pagesize"), settings.get("total_pages_read")) == (1, 7, 12)
        assert not [s for s in SCHEMA if s.settable and s.coerce(s.default) != s.default]  # defaults pass
    finally:
        db.close()


def test_a_running_server_sees_set_and_the_new_password(tmp_path):
    proc, url = start_server("--content", "content", "--data", "data", "--watch", "off", cwd=tmp_path)
    try:
        assert requests.get(url + "/api/archives", timeout=10).status_code == 200
        # the password: from stdin (no shell history), hashed as the web form does, never echoed
        out = cli("set", "password", "-", "--data", "data", cwd=tmp_path, stdin="c0rrect horse\n")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("password changed") and "c0rrect" not in out.stdout + out.stderr
        hashed = stored(tmp_path / "data", "password")
        assert hashed.startswith("scrypt$") and "c0rrect" not in hashed
        out = cli("set", "password", "on the command line", "--data", "data", cwd=tmp_path)
        assert out.returncode == 0 and "command line" not in out.stdout + out.stderr
        deadline = time.monotonic() + 5
        while True:  # the running server logs in with the password set by the other process
            login = requests.post(url + "/login", data={"password": "on the command line", "next": "/"},
                                  allow_redirects=False, timeout=10)
            if login.status_code == 303 or time.monotonic() > deadline:
                break
            time.sleep(0.6)  # a few wrong tries at most: the login throttle allows 5
        assert login.status_code == 303 and "lrr_session" in login.cookies
        wrong = requests.post(url + "/login", data={"password": "c0rrect horse"}, allow_redirects=False, timeout=10)
        assert wrong.status_code == 403

        out = cli("set", "nofunmode", "1", "--data", "data", cwd=tmp_path)
        assert out.returncode == 0 and "picks this up within 2 s" in out.stdout
        changed = time.monotonic()
        while requests.get(url + "/api/archives", timeout=10).status_code != 401:
            assert time.monotonic() - changed < 5, "the server still answers without auth"
            time.sleep(0.1)
    finally:
        code, err = stop_server(proc)
    assert code == 0 and "Traceback" not in err, err
