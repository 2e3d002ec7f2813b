"""The hostile set (hostile_files.py), generated once per test session in a temp folder.

Not a conftest.py: tests/conftest.py is imported as the module `conftest` by other tests, and a second
conftest.py here would take that name from them.
"""

from __future__ import annotations

from pathlib import Path

import hostile_files
import pytest

_built: dict[str, dict[str, Path]] = {}


@pytest.fixture(scope="session")
def hostile_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Imported by each test module, so pytest sees one fixture per module: build the files only once.
    if "set" not in _built:
        _built["set"] = hostile_files.build(tmp_path_factory.mktemp("hostile"), scale="test")
    return _built["set"]
