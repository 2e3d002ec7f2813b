"""The one-file install: scripts/build_pyz.sh makes lrr-lite.pyz, and a plain python3 serves a library from it.

Built once per run, offline (--from-venv packs this venv's libraries), into a temp dir. It is run by an
interpreter that has none of lrr_lite's libraries, from a cwd outside the repo with a bare environment, so
whatever it serves came out of the .pyz.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from archive_factory import make_comic, page_images
from PIL import Image

import lrr_lite

REPO = Path(__file__).resolve().parent.parent
PROBE = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in sys.argv[1:]))"
OURS = ("lrr_lite", "PIL", "lxml", "bottle", "waitress", "libarchive", "pypdfium2")


@dataclass
class Built:
    pyz: Path
    python: list[str]  # the interpreter (and flags) a user would run it with
    root: Path  # a scratch dir outside the repo: cwd and HOME of every run
    seconds: float


def bare_env(root: Path, **extra: str) -> dict[str, str]:
    """PATH and HOME only: no PYTHONPATH, no VIRTUAL_ENV, nothing of this test run's."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), **extra}


def plain_python(root: Path) -> list[str]:
    """A python3 of this venv's minor version (the pyz holds cp3X libraries) that has none of ours: what a
    Debian user has. The system one if it fits, else this venv's base interpreter with -S (no site-packages)."""
    want = sys.version_info[:2]
    candidates = [["/usr/bin/python3"], [f"/usr/bin/python{want[0]}.{want[1]}"], [sys._base_executable],
                  [sys._base_executable, "-S"]]
    for cmd in candidates:
        if not Path(cmd[0]).is_file():
            continue
        version = subprocess.run([*cmd, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                                 text=True, cwd=root, env=bare_env(root))
        if version.stdout.split() != [str(n) for n in want]:
            continue
        if subprocess.run([*cmd, "-c", PROBE, *OURS], cwd=root, env=bare_env(root)).returncode == 0:
            return cmd
    raise AssertionError(f"no python{want[0]}.{want[1]} without lrr_lite's libraries to run the pyz with")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("pyz")
    root = tmp / "outside"
    (root / "home").mkdir(parents=True)
    started = time.monotonic()
    # TMPDIR: the script's work dir goes to this test's tmp too, not the shared /tmp.
    result = subprocess.run(["bash", str(REPO / "scripts" / "build_pyz.sh"), "--from-venv", "--out", str(tmp / "dist")],
                            env={**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp)},
                            capture_output=True, text=True, timeout=180)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"\nbuild_pyz --from-venv: {seconds:.1f} s; {result.stdout.strip().splitlines()[-1]}")
    return Built(tmp / "dist" / "lrr-lite.pyz", plain_python(root), root, seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_runner_cannot_see_lrr_lite_or_its_libraries_without_the_pyz(built: Built) -> None:
    for module in OURS:
        probe = subprocess.run([*built.python, "-c", PROBE, module], cwd=built.root, env=bare_env(built.root))
        assert probe.returncode == 0, f"{built.python} finds {module} on its own"


def test_pyz_holds_the_runtime_libraries_and_no_test_tools(built: Built) -> None:
    with zipfile.ZipFile(built.pyz) as zf:
        tops = {name.split("/")[1] for name in zf.namelist() if name.startswith("site-packages/")}
        names = set(zf.namelist())
    for needed in ("lrr_lite", "PIL", "lxml", "bottle.py", "waitress", "libarchive", "pypdfium2"):
        assert needed in tops, needed
    # package data (the web UI's static files) came along
    assert any(n.startswith("site-packages/lrr_lite/http/web/static/") for n in names)
    for unwanted in ("pytest", "_pytest", "hypothesis", "schemathesis", "shiv", "mypy", "ruff", "requests",
                     "pydantic", "setuptools", "pip"):
        assert unwanted not in tops, unwanted
    assert not any("__pycache__" in n for n in names)


def test_help_and_version_unpack_under_home(built: Built) -> None:
    env = bare_env(built.root)
    out = subprocess.run([*built.python, str(built.pyz), "--help"], cwd=built.root, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "serve" in out.stdout and "scan" in out.stdout
    out = subprocess.run([*built.python, str(built.pyz), "--version"], cwd=built.root, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"lrr-lite {lrr_lite.__version__}"
    # the documented default place of the unpacked libraries
    assert list((built.root / "home" / ".shiv").glob("lrr-lite.pyz_*/site-packages/lrr_lite/__main__.py"))


def test_pyz_serves_a_library(built: Built, tmp_path: Path) -> None:
    content, data, unpack = tmp_path / "content", tmp_path / "data", tmp_path / "unpack"
    # one archive per native path: zip (stdlib), 7z (the system's libarchive13), PDF (pdfium, Pillow)
    make_comic(content / "Alpha.cbz", 3, "cbz")
    make_comic(content / "Beta.cb7", 2, "cb7")
    make_comic(content / "Gamma.pdf", 2, "pdf")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    started = time.monotonic()
    with log.open("wb") as log_file:
        # SHIV_ROOT: where a service whose HOME is read-only has it unpack
        proc = subprocess.Popen([*built.python, str(built.pyz), "serve", "--content", str(content), "--data",
                                 str(data), "--port", str(port)], cwd=built.root,
                                env=bare_env(built.root, SHIV_ROOT=str(unpack)), stdout=log_file, stderr=log_file)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no /api/info in 30 s\n" + log.read_text()
            try:
                if requests.get(base + "/api/info", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        print(f"\nfirst start from the pyz (unpack included): {time.monotonic() - started:.1f} s")
        assert list(unpack.glob("lrr-lite.pyz_*/site-packages/lrr_lite/__main__.py"))

        deadline = time.monotonic() + 20
        while len(archives := requests.get(base + "/api/archives", timeout=5).json()) < 3:
            assert time.monotonic() < deadline, f"scan found {archives}\n" + log.read_text()
            time.sleep(0.2)
        by_name = {a["title"]: a["arcid"] for a in archives}
        assert set(by_name) == {"Alpha", "Beta", "Gamma"}, archives

        first = page_images(1)[0]
        for name in ("Alpha", "Beta", "Gamma"):
            files = requests.get(f"{base}/api/archives/{by_name[name]}/files", timeout=10)
            assert files.status_code == 200, files.text
            page = requests.get(base + files.json()["pages"][0], timeout=30)
            assert page.status_code == 200, (name, page.text[:200])
            if name == "Gamma":  # rendered by pdfium: not the same bytes, but the page's 3:4 shape
                width, height = Image.open(io.BytesIO(page.content)).size
                assert abs(width / height - 120 / 160) < 0.02, (width, height)
            else:
                assert page.content == first, name
        feed = requests.get(base + "/api/opds", timeout=10)  # an Atom document lxml wrote
        assert feed.status_code == 200 and "<feed" in feed.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()  # SIGTERM handled: a plain kill would give -15
