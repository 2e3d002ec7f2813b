"""A tiny W3C WebDriver client for chromedriver over `requests`: just what the e2e tests use.

Needs Debian's `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = os.environ.get("LRR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LRR_CHROMEDRIVER", "/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def missing() -> str | None:
    """Why a browser test cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found: install Debian's {package} package"
    return None


def module_browser(width: int, height: int) -> Iterator[Browser]:
    """The body of an e2e module's `browser` fixture: skipped where Chromium is missing, quit at the end."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    driver = Browser(width, height)
    yield driver
    driver.quit()


class WebDriverError(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keep_shots(folder: Path, env: str) -> None:
    """Copy the screenshots a test left in `folder` to the directory named by the environment variable `env`,
    when it is set (to look at them after the run)."""
    keep = os.environ.get(env)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in Path(folder).glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


class Element:
    def __init__(self, driver: Browser, ref: str) -> None:
        self.driver = driver
        self.ref = ref

    def _cmd(self, method: str, path: str, body: dict | None = None) -> Any:
        return self.driver.cmd(method, f"/element/{self.ref}{path}", body)

    def click(self) -> None:
        self._cmd("POST", "/click", {})

    def send_keys(self, text: str) -> None:
        self._cmd("POST", "/value", {"text": text})

    def clear(self) -> None:
        self._cmd("POST", "/clear", {})

    @property
    def text(self) -> str:
        return self._cmd("GET", "/text")

    def attribute(self, name: str) -> str | None:
        return self._cmd("GET", f"/attribute/{name}")

    def prop(self, name: str) -> Any:
        return self._cmd("GET", f"/property/{name}")


class Browser:
    """One chromedriver process and one headless Chromium session."""

    def __init__(self, width: int = 1000, height: int = 800) -> None:
        self.port = _free_port()
        self.root = tempfile.mkdtemp(prefix="lrr-chromium-")
        self.profile = os.path.join(self.root, "profile")  # a fresh --user-data-dir every time
        self.log = open(os.path.join(self.root, "chromedriver.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.trust_env = False  # never a proxy: everything here is loopback
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.http.get(self.base + "/status", timeout=2).json()["value"]["ready"]:
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.quit()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": FLAGS + [f"--user-data-dir={self.profile}",
                                                    f"--window-size={width},{height}"]},
        }}}
        try:
            reply = self.http.post(self.base + "/session", json=caps, timeout=60).json()["value"]
        except Exception:
            self.quit()
            raise
        if "sessionId" not in reply:
            self.quit()
            raise WebDriverError(f"no session: {reply}")
        self.session = reply["sessionId"]

    def cmd(self, method: str, path: str, body: dict | None = None) -> Any:
        url = f"{self.base}/session/{self.session}{path}"
        resp = self.http.request(method, url, json=body if method == "POST" else None, timeout=60)
        value = resp.json().get("value")
        if resp.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    # -- navigation and script ----------------------------------------------------------------------------
    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return self.cmd("GET", "/url")

    @property
    def title(self) -> str:
        return self.cmd("GET", "/title")

    def script(self, source: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": source, "args": list(args)})

    # -- elements ---------------------------------------------------------------------------------------------
    def find(self, css: str) -> Element:
        value = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, value[ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        values = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, v[ELEMENT]) for v in values]

    def keys(self, *keys: str) -> None:
        """Key presses to whatever has focus (W3C actions); use the KEY_* constants for special keys."""
        actions = []
        for key in keys:
            actions += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kbd", "actions": actions}]})
        self.cmd("DELETE", "/actions")

    def wait(self, predicate, timeout: float = 10, message: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except WebDriverError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {message} (last: {last!r})")

    def viewport(self, width: int, height: int) -> None:
        """Size the window so that the page itself (the viewport, not the window, which headless Chromium
        gives some chrome) is width x height."""
        self.cmd("POST", "/window/rect", {"width": width, "height": height})
        inner = self.script("return [window.innerWidth, window.innerHeight]")
        self.cmd("POST", "/window/rect", {"width": 2 * width - inner[0], "height": 2 * height - inner[1]})
        self.wait(lambda: self.script("return [window.innerWidth, window.innerHeight]") == [width, height],
                  message=f"viewport {width}x{height}")

    def screenshot(self, path: Path) -> tuple[int, int]:
        data = base64.b64decode(self.cmd("GET", "/screenshot"))
        Path(path).write_bytes(data)
        return png_size(data)

    def quit(self) -> None:
        try:
            if getattr(self, "session", None):
                self.http.delete(f"{self.base}/session/{self.session}", timeout=20)
        except requests.RequestException:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


KEY_LEFT = "\ue012"
KEY_RIGHT = "\ue014"
KEY_ENTER = "\ue007"
