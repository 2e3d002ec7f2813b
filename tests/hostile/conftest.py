"""The hostile set (hostile_files.py), generated once per test session in a temp folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import hostile_files  # noqa: E402


@pytest.fixture(scope="session")
def hostile_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile_files.build(tmp_path_factory.mktemp("hostile"), scale="test")
