"""The maintenance page (/admin) and the statistics page (/statistics) over HTTP, no browser: every POST needs the
login and this session's CSRF token; the buttons queue the jobs the API queues and the job list shows their
progress; a backup downloads; a restore is checked first (the page names what changes), written only once
confirmed; plugin settings are stored where /api/plugins stores them; the log tail is escaped."""

from __future__ import annotations

import json
import re
import sys
import time
from html import unescape

import pytest
import requests
from archive_factory import make_archive, make_image
from test_web import app_with_web, login, page_weight

JSON = {"Accept": "application/json"}
PAGE_LIMIT = 150 * 1024
POSTS = ("/admin/run", "/admin/backup", "/admin/restore/check", "/admin/restore", "/admin/plugin")


@pytest.fixture
def site(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    for name in ("Apple", "Banana"):
        make_archive(server.content / f"{name}.cbz", {"001.jpg": make_image(40, 60, text=name)}, "cbz")
    server.start()
    server.ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for name, aid in server.ids.items():
        assert server.put(f"/api/archives/{aid}/metadata", auth=True,
                          data={"title": name, "tags": f"fruit:{name.lower()}, colour:red"}).ok
    return server


def csrf_of(html: str) -> str:
    return unescape(re.search(r'name="csrf" value="([^"]+)"', html).group(1))


def wait_jobs(site, task: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [j for j in site.get("/admin/jobs.json").json()["jobs"] if j["task"] == task]
        if jobs and jobs[0]["state"] in ("finished", "failed"):
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError(f"no finished {task} job")


def test_every_post_needs_the_login_and_this_sessions_token(site):
    for path in POSTS:
        resp = site.post(path, data={"action": "clear_new"}, allow_redirects=False)
        assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"], path
        resp = site.post(path, data={"action": "clear_new"}, headers=JSON)
        assert resp.status_code == 401 and "Log in" in resp.json()["error"], path
    assert site.get("/admin", allow_redirects=False).status_code == 303
    assert site.get("/admin/jobs.json").status_code == 401
    login(site)
    other = requests.Session()
    other.post(site.url + "/login", data={"password": "kamimamita"})
    other_token = csrf_of(other.get(site.url + "/admin").text)
    for path in POSTS:
        for csrf in ("", "0" * 64, other_token):
            resp = site.post(path, data={"action": "clear_new", "csrf": csrf}, headers=JSON)
            assert resp.status_code == 403 and "expired" in resp.json()["error"], (path, csrf)
        assert site.post(path, data={"action": "clear_new", "csrf": ""}).status_code == 403
    assert any(a["isnew"] == "true" for a in site.get("/api/archives").json())  # nothing was cleared


def test_buttons_queue_jobs_and_the_list_shows_them(site):
    login(site)
    csrf = csrf_of(site.get("/admin").text)
    make_archive(site.content / "Cherry.cbz", {"001.jpg": make_image(40, 60, text="C")}, "cbz")
    resp = site.post("/admin/run", data={"csrf": csrf, "action": "rescan"}, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin?done=rescan")
    job = wait_jobs(site, "scan_library")
    assert job["state"] == "finished" and job["value"] == job["max"] and "1 added" in job["text"]
    assert len(site.get("/api/archives").json()) == 3
    html = site.get("/admin?done=rescan").text
    assert "Rescan queued" in html and re.search(r'<tr data-id="\d+" class="finished"><td>\d+</td><td>Rescan', html)

    resp = site.post("/admin/run", data={"csrf": csrf, "action": "thumbs_all"}, headers=JSON)
    assert resp.status_code == 200 and resp.json()["job"] > 0
    assert site.wait_job(resp.json()["job"])["state"] == "finished"
    assert site.ctx.jobs.get(resp.json()["job"])["task"] == "regen_all_thumbnails"

    assert site.post("/admin/run", data={"csrf": csrf, "action": "clear_new"}, headers=JSON).json()["ok"] == 1
    assert all(a["isnew"] == "false" for a in site.get("/api/archives").json())
    (site.content / "Banana.cbz").unlink()
    resp = site.post("/admin/run", data={"csrf": csrf, "action": "clean"}, allow_redirects=False)
    assert resp.headers["Location"].endswith("/admin?done=clean&n=1")
    assert "1 records whose file is gone" in site.get("/admin?done=clean&n=1").text
    assert site.ids["Banana"] not in {a["arcid"] for a in site.get("/api/archives").json()}
    resp = site.post("/admin/run", data={"csrf": csrf, "action": "format_disk"}, headers=JSON)
    assert resp.status_code == 400 and "Unknown action" in resp.json()["error"]


def test_backup_download_and_a_checked_restore(site):
    login(site)
    csrf = csrf_of(site.get("/admin").text)
    resp = site.post("/admin/backup", data={"csrf": csrf})
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    data = resp.json()
    assert {a["arcid"] for a in data["archives"]} == set(site.ids.values())
    # edit the backup: new titles, a new category and a tankoubon
    for arc in data["archives"]:
        arc["title"] = "Restored " + arc["title"]
    data["archives"].append({"arcid": "f" * 40, "title": "Not here", "tags": ""})
    data["categories"].append({"catid": "SET_1234567890", "name": "From backup", "search": "", "archives":
                               [site.ids["Apple"]]})
    data["tankoubons"] = [{"tankid": "TANK_1234567890", "name": "Backup saga", "summary": "", "tags": "",
                           "archives": [site.ids["Banana"], site.ids["Apple"]]}]
    raw = json.dumps(data).encode()
    resp = site.post("/admin/restore/check", data={"csrf": csrf}, files={"file": ("mine.json", raw, "application/json")})
    assert resp.status_code == 200
    html = resp.text
    text = re.sub(r"<[^>]+>", "", unescape(html))
    assert "Restore mine.json?" in text
    assert "the backup has 3 archives; 2 of them are in this library (of 2 here)" in text
    assert "the backup has 2 (here now: 1); 1 with the same ID are replaced, 1 added" in text  # + Favorites
    assert "Tankoubons: the backup has 1 (here now: 0); 0 with the same ID are replaced, 1 added" in text
    assert site.get(f"/api/archives/{site.ids['Apple']}/metadata").json()["title"] == "Apple"  # not yet
    token = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    resp = site.post("/admin/restore", data={"csrf": csrf, "token": token}, allow_redirects=False)
    assert resp.status_code == 303 and "done=restore" in resp.headers["Location"]
    job = wait_jobs(site, "restore_backup")
    assert job["state"] == "finished" and "2 archives, 2 categories, 1 tankoubons" in job["text"]
    assert site.get(f"/api/archives/{site.ids['Apple']}/metadata").json()["title"] == "Restored Apple"
    assert site.get("/api/categories/SET_1234567890").json()["archives"] == [site.ids["Apple"]]
    assert site.get("/api/tankoubons/TANK_1234567890").json()["archives"] == [site.ids["Banana"], site.ids["Apple"]]
    # the token is spent; junk is refused with the reason
    resp = site.post("/admin/restore", data={"csrf": csrf, "token": token}, headers=JSON)
    assert resp.status_code == 404 and "no longer waiting" in resp.json()["error"]
    resp = site.post("/admin/restore/check", data={"csrf": csrf}, files={"file": ("x.json", b"{nope", "text/plain")},
                     headers=JSON)
    assert resp.status_code == 400 and "not JSON" in resp.json()["error"]
    resp = site.post("/admin/restore/check", data={"csrf": csrf}, files={"file": ("x.json", b"[1]", "text/plain")})
    assert resp.status_code == 400 and "Not a LANraragi backup" in resp.text


def test_plugin_settings_are_the_apis(site):
    login(site)
    csrf = csrf_of(site.get("/admin").text)
    resp = site.post("/admin/plugin", data={"csrf": csrf, "namespace": "copytags", "enabled": "1",
                                            "p0": "colour:blue"}, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin?done=plugin#plugins")
    html = site.get("/admin").text
    assert re.search(r'id="pe_copytags" checked', html) and 'value="colour:blue"' in html
    # the auto-run now tags a new archive, as /api/plugins/copytags/enabled would have made it
    make_archive(site.content / "Cherry.cbz", {"001.jpg": make_image(40, 60, text="C")}, "cbz")
    site.rescan()
    cherry = next(a for a in site.get("/api/archives").json() if a["filename"] == "Cherry")
    assert "colour:blue" in cherry["tags"]
    resp = site.post("/admin/plugin", data={"csrf": csrf, "namespace": "nope"}, headers=JSON)
    assert resp.status_code == 400 and resp.json()["error"] == "Plugin not found on system."


def test_log_tail_statistics_and_weight(site, monkeypatch):
    login(site)
    logs = site.ctx.config.logs
    assert 'id="logtail"' in site.get("/admin").text and "No log file" in site.get("/admin").text
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "lrr_lite.log").write_text("".join(f"line {n} <script>x</script>\n" for n in range(500)))
    html = site.get("/admin").text
    tail = re.search(r'<pre class="log" id="logtail">(.*?)</pre>', html, re.S).group(1)
    assert tail.count("\n") == 199 and tail.startswith("line 300 &lt;script&gt;") and "<script>x" not in html
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    assert "journalctl -u lrr-lite" in site.get("/admin").text
    monkeypatch.delenv("JOURNAL_STREAM")

    html = site.get("/statistics").text
    text = re.sub(r"<[^>]+>", " ", html)
    assert re.search(r"2\s+archives", text) and 'id="cloud"' in html
    assert 'href="/?q=colour:red$"' in html and re.search(r"colour</span> <small>1 tag<", html)
    for path in ("/admin", "/statistics"):
        total, parts = page_weight(site, path)
        print(f"{path} weight: {total} bytes {parts}")
        assert total <= PAGE_LIMIT
