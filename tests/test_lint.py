"""The code checks CI runs with the tests: ruff (style, imports, likely bugs) and mypy (types)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = _run("ruff", "check", "lrr_lite", "tests", "scripts")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_no_type_error():
    done = _run("mypy")  # the packages and settings are in pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr
