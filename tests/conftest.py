"""A real lrr_lite on 127.0.0.1 (waitress in a thread) over a temp content folder."""

from __future__ import annotations

import base64
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import waitress

sys.path.insert(0, str(Path(__file__).parent))

from lrr_lite import config
from lrr_lite.context import Context
from lrr_lite.http.app import create_app

API_KEY = "test-key"


class LiveServer:
    def __init__(self, root: Path, api_key: str | None = API_KEY, scan: bool = True,
                 config: dict | None = None) -> None:
        self.content = root / "content"
        self.data = root / "data"
        self.content.mkdir(parents=True, exist_ok=True)
        self.api_key = api_key
        self.scan_on_start = scan
        self.extra_config = config or {}
        self.ctx: Context | None = None
        self.server = None
        self.thread: threading.Thread | None = None
        self.session = requests.Session()

    def start(self) -> LiveServer:
        cfg = config.load(None, {"content": str(self.content), "data": str(self.data), "api_key": self.api_key,
                                 "scan_on_start": self.scan_on_start, "job_workers": 2, **self.extra_config},
                          environ={})
        self.ctx = Context.open(cfg)
        self.ctx.start()
        if self.scan_on_start:
            self.ctx.jobs.enqueue("scan_library", [], priority=10)
            self.ctx.jobs.wait_idle(60)
        app = create_app(self.ctx)
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            server = self.server

            def close_all() -> None:
                # run inside waitress's loop thread: closing its sockets from here is race-free,
                # and the loop ends once its socket map is empty
                for channel in list(server._map.values()):
                    channel.close()

            try:
                server.trigger.pull_trigger(close_all)
            except OSError:  # the loop already closed its trigger: it is ending anyway
                pass
            self.thread.join(5)
            server.task_dispatcher.shutdown()
            self.server = None
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + base64.b64encode(self.api_key.encode()).decode()}

    def request(self, method: str, path: str, *, auth: bool = False, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if auth:
            headers.update(self.auth())
        return self.session.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def rescan(self) -> dict:
        job = self.ctx.jobs.enqueue("scan_library", [])
        assert self.ctx.jobs.wait_idle(60)
        return self.ctx.jobs.get(job)["result"]

    def wait_job(self, job_id: int, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.get(f"/api/minion/{job_id}").json()
            if body["state"] in ("finished", "failed"):
                return body
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still running")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Hostile tests run last, their files built meanwhile on a second core (tests/hostile/hostile_fixture.py)."""
    hostile = [item for item in items if "hostile" in Path(str(item.fspath)).parent.name]
    if not hostile or len(hostile) == len(items):
        return
    items[:] = [item for item in items if item not in hostile] + hostile
    import hostile_fixture  # importable once a hostile test module was collected (its folder is on sys.path)

    hostile_fixture.start_building()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    fixture = sys.modules.get("hostile_fixture")
    if fixture is not None:
        fixture.remove_built()


@pytest.fixture
def make_server(tmp_path):
    servers: list[LiveServer] = []

    def factory(**kw) -> LiveServer:
        server = LiveServer(tmp_path / f"srv{len(servers)}", **kw)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
