"""The systemd unit, the INI it reads and README's service steps fit together, and the unit is hardened."""

from __future__ import annotations

import base64
import ctypes.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from archive_factory import make_comic, make_pdf, make_solid_flagged_rar, page_images

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


# Installs, in this process, the seccomp filters systemd builds from the unit's SystemCallFilter= and
# MemoryDenyWriteExecute= (systemd 252's rules), then execs the command line that follows. Exit 77: the
# kernel or a container refuses seccomp.
SANDBOX = r"""
import ctypes, errno, json, mmap, os, sys
allowed, mdwe = json.loads(os.environ.pop("SECCOMP_TEST_FILTER"))
lib = ctypes.CDLL("libseccomp.so.2")
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]
lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                       ctypes.POINTER(Cmp)]
ALLOW, EPERM, MASKED_EQ = 0x7FFF0000, 0x00050000 | errno.EPERM, 7
if ctypes.CDLL(None).prctl(38, 1, 0, 0, 0):  # PR_SET_NO_NEW_PRIVS, as NoNewPrivileges= (implied by the filter)
    sys.exit(77)
def rule(ctx, action, name, *cmps):
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr >= 0:
        arr = (Cmp * len(cmps))(*[Cmp(*c) for c in cmps]) if cmps else None
        assert lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr) == 0, name
if mdwe:  # no mapping both writable and executable, none made executable later
    ctx = lib.seccomp_init(ALLOW)
    WX, SHM_EXEC = mmap.PROT_WRITE | mmap.PROT_EXEC, 0o100000
    rule(ctx, EPERM, "mmap", (2, MASKED_EQ, WX, WX))
    for name in ("mprotect", "pkey_mprotect"):
        rule(ctx, EPERM, name, (2, MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC))
    rule(ctx, EPERM, "shmat", (2, MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if lib.seccomp_load(ctx):
        sys.exit(77)
ctx = lib.seccomp_init(EPERM)  # SystemCallErrorNumber=EPERM
for name in allowed:
    rule(ctx, ALLOW, name)
if lib.seccomp_load(ctx):
    sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])
"""


def syscall_filter() -> tuple[list[str], bool]:
    """The system calls the unit allows, expanded with systemd-analyze's own group lists."""
    groups: dict[str, list[str]] = {}
    current = ""
    listing = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, timeout=60)
    for line in listing.stdout.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif line.strip() and not line.lstrip().startswith("#") and current:
            groups[current].append(line.strip())

    def expand(item: str) -> set[str]:
        return set().union(*(expand(i) for i in groups[item])) if item.startswith("@") else {item}

    filters = values("SystemCallFilter")
    assert filters and not filters[0].startswith("~"), "the test models an allow list"
    allowed: set[str] = set()
    for value in filters:
        items = set().union(*(expand(i) for i in value.lstrip("~").split()))
        allowed = allowed - items if value.startswith("~") else allowed | items
    return sorted(allowed | expand("@default")), values("MemoryDenyWriteExecute") == ["true"]


def sandboxed(cmd: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    env = dict(os.environ if env is None else env, SECCOMP_TEST_FILTER=json.dumps(syscall_filter()))
    return subprocess.Popen([sys.executable, "-c", SANDBOX, *cmd], env=env, **kw)


@needs_analyze
def test_server_works_under_the_units_system_call_filter(tmp_path):
    """No systemd runs here (nor in CI containers) to start the unit, but its system call filter and
    MemoryDenyWriteExecute= are plain seccomp: the real server under them reads every kind of archive,
    renders a PDF, makes thumbnails, takes an upload and sees a new file, with no call refused."""
    if ctypes.util.find_library("seccomp") is None:
        pytest.skip("libseccomp not installed")
    allowed, mdwe = syscall_filter()
    probe = sandboxed([sys.executable, "-c", (
        "import mmap, os\n"
        "try: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC); print('W+X mapped')\n"
        "except PermissionError: print('W+X refused')\n"
        "try: os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0)); print('setpriority ran')\n"
        "except PermissionError: print('setpriority refused')\n")], stdout=subprocess.PIPE, text=True)
    out, _ = probe.communicate(timeout=60)
    if probe.returncode == 77:
        pytest.skip("seccomp filters cannot be loaded here")
    # the filters are really in force, as the unit has them
    assert out.split() == ["W+X", "refused" if mdwe else "mapped",
                           "setpriority", "ran" if "setpriority" in allowed else "refused"], out

    content, data = tmp_path / "content", tmp_path / "data"
    content.mkdir()
    for fmt in ("cbz", "cbr", "7z"):
        make_comic(content / f"Book {fmt}.{fmt}", 2, fmt)
    make_pdf(content / "Doc.pdf", 2)
    if shutil.which("unar"):  # a solid RAR 4: read through the unar subprocess, under the same filter
        make_solid_flagged_rar(content / "Solid.cbr", {f"{i}.jpg": img for i, img in enumerate(page_images(2), 1)})
    expected = len(list(content.iterdir()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ini = tmp_path / "config.ini"
    ini.write_text(f"[server]\ncontent = {content}\ndata = {data}\nhost = 127.0.0.1\nport = {port}\n"
                   "api_key = k\njob_workers = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRR_")}
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        server = sandboxed([sys.executable, "-m", "lrr_lite", "serve", "--config", str(ini)], env,
                           stdout=fh, stderr=subprocess.STDOUT)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer " + base64.b64encode(b"k").decode()}

    def until(fetch, seconds=60.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                result = fetch()
                if result:
                    return result
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(log.read_text())

    try:
        listed = until(lambda: (lambda a: a if len(a) == expected else None)(
            requests.get(base + "/api/archives").json()))
        for arc in listed:  # zip, RAR and 7z through libarchive, PDF through pdfium; then Pillow's thumbnails
            pages = requests.get(f"{base}/api/archives/{arc['arcid']}/files").json()["pages"]
            page = requests.get(base + pages[0])
            assert page.status_code == 200 and page.headers["Content-Type"] == "image/jpeg", arc["title"]
            until(lambda a=arc: requests.get(f"{base}/api/archives/{a['arcid']}/thumbnail",
                                             params={"no_fallback": "true"}).status_code == 200)
        upload = make_comic(tmp_path / "Uploaded.cbz", 3, "cbz", size=(100, 140))
        with open(upload, "rb") as fh:
            resp = requests.put(base + "/api/archives/upload", headers=auth, files={"file": (upload.name, fh)})
        assert resp.json()["success"] == 1 and (content / "Uploaded.cbz").exists()
        shutil.copy(make_comic(tmp_path / "Later.cbz", 4, "cbz", size=(90, 130)), content)
        until(lambda: len(requests.get(base + "/api/archives").json()) == expected + 2)  # the watcher saw it
    finally:
        server.terminate()
        server.wait(30)
    assert server.returncode == 0 and "Operation not permitted" not in log.read_text(), log.read_text()
