"""The hostile set (hostile_files.py), generated once per test session in a temp folder.

Not a conftest.py: tests/conftest.py is imported as the module `conftest` by other tests, and a second
conftest.py here would take that name from them.

Writing the set takes ~40 s on a slow 2-core machine (its 4 GB 7-Zip bomb is compressed by libarchive).
tests/conftest.py starts `start_building` when the session collects a hostile test and runs the hostile
tests last: the compression (C code, called through ctypes, which lets go of the GIL) then runs on the
second core while the rest of the suite runs on the first.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import hostile_files
import pytest

_built: dict[str, dict[str, Path]] = {}
_building: dict[str, threading.Thread] = {}
_folder: list[Path] = []
_errors: list[BaseException] = []


def start_building() -> None:
    """Build the set on a background thread (once); `hostile_set` waits for it."""
    if "thread" in _building:
        return
    folder = Path(tempfile.mkdtemp(prefix="lrr-hostile-"))

    def build() -> None:
        try:
            _built["set"] = hostile_files.build(folder, scale="test")
        except BaseException as exc:  # raised again by the fixture, in the test that needs the set
            _errors.append(exc)

    _building["thread"] = threading.Thread(target=build, name="hostile-set", daemon=True)
    _folder.append(folder)
    _building["thread"].start()


def remove_built() -> None:
    if "thread" in _building:
        _building["thread"].join()
        shutil.rmtree(_folder[0], ignore_errors=True)


@pytest.fixture(scope="session")
def hostile_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Imported by each test module, so pytest sees one fixture per module: build the files only once.
    if "thread" in _building:
        _building["thread"].join()
        if _errors:
            raise RuntimeError("building the hostile set failed") from _errors[0]
    if "set" not in _built:
        _built["set"] = hostile_files.build(tmp_path_factory.mktemp("hostile"), scale="test")
    return _built["set"]
