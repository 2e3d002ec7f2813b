"""The systemd unit, the INI it reads and README's service steps fit together, and the unit is hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lrr_lite import config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "lrr-lite.service"
INI = ROOT / "systemd" / "config.ini"
EXEC = "/opt/lrr-lite/.venv/bin/lrr-lite"
CONFIG_PATH = "/etc/lrr-lite/config.ini"

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def directives(section: str) -> list[tuple[str, str]]:
    """(key, value) pairs of one unit section, in order; systemd allows a key more than once."""
    pairs, current = [], None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section:
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def values(key: str) -> list[str]:
    return [v for k, v in directives("Service") if k == key]


def runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable that exists here: verify refuses a missing one."""
    exe = Path(sys.executable).parent / "lrr-lite"
    if not exe.exists():  # the package is importable but its entry point lives elsewhere
        exe = tmp_path / "lrr-lite"
        exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m lrr_lite "$@"\n')
        exe.chmod(0o755)
    target = tmp_path / "lrr-lite.service"
    target.write_text(UNIT.read_text().replace(EXEC, str(exe)))
    return target


@needs_analyze
def test_unit_verifies(tmp_path):
    target = runnable_copy(tmp_path)
    out = subprocess.run(["systemd-analyze", "verify", str(target)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on an unknown or misspelt key and only warns; any line naming the unit is a problem
    complaints = [line for line in (out.stdout + out.stderr).splitlines() if target.name in line]
    assert out.returncode == 0 and not complaints, out.stdout + out.stderr


@needs_analyze
def test_exposure_at_most_2(tmp_path):
    target = runnable_copy(tmp_path)
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(target)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out.stdout)
    assert match, out.stdout + out.stderr
    assert float(match.group(1)) <= 2.0, out.stdout


def test_unit_takes_every_setting_from_the_ini():
    # An environment variable would win over the INI and silently ignore what the admin wrote there.
    assert not values("Environment") and not values("EnvironmentFile")
    (start,) = values("ExecStart")
    assert start == f"{EXEC} serve --config {CONFIG_PATH}"
    assert values("User") == ["lrr"] and values("ProtectSystem") == ["strict"]


def test_shipped_ini_names_the_folders_the_unit_makes_writable():
    cfg = config.load(INI, environ={})
    writable = [Path(p.lstrip("-")) for v in values("ReadWritePaths") for p in v.split()]
    writable += [Path("/var/lib") / name for v in values("StateDirectory") for name in v.split()]
    # uploads, downloads and deletes write to the content folder; the server writes the rest under data
    for folder in (cfg.content, cfg.data, cfg.thumbs, cfg.temp, cfg.logs):
        assert any(folder == w or w in folder.parents for w in writable), (folder, writable)
    assert (cfg.content, cfg.data) == (Path("/srv/lrr-content"), Path("/var/lib/lrr-lite"))
    assert cfg.host == "0.0.0.0" and cfg.port == 3000


def test_readme_steps_create_what_the_unit_needs():
    readme = ROOT.joinpath("README.md").read_text()
    section = readme.split("## Run as a service", 1)[1].split("\n## ", 1)[0]
    steps = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    assert re.search(r"useradd .*\blrr$", steps, re.M), steps
    for folder in (p for v in values("ReadWritePaths") for p in v.split()):
        assert re.search(rf"install -d .*-o lrr .*{re.escape(folder)}\b", steps), folder
    assert re.search(rf"install .*systemd/config\.ini {re.escape(CONFIG_PATH)}", steps), steps
    assert "systemd/lrr-lite.service /etc/systemd/system/" in steps
    # in order: nothing is started before the user, program, folder, config and unit are in place
    order = [steps.index(s) for s in ("useradd", "bootstrap.sh", "/srv/lrr-content", CONFIG_PATH,
                                      "/etc/systemd/system/", "enable --now")]
    assert order == sorted(order), steps
