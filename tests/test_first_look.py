"""Issue #13, first look: what a new user sees over HTTP on a real server.

The empty library says where archives go; pages name lrr_lite (the API keeps LANraragi's fields); dates are
dates, not `date_added:<epoch>` chips; titles sort Unicode-aware (accents folded, CJK after Latin) and a
database keyed by the old order is re-keyed once when opened. The browser side is in test_web_e2e.py.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys

import pytest
from archive_factory import make_archive, make_image
from test_web import app_with_web, card_titles, login, logout, parse, unescape

from lrr_lite.library.search.natural import KEY_VERSION, natural_key
from lrr_lite.storage.db.frozen import natural_key as perl_key

# the titles, shuffled; and the order the API must give them in
TITLES = ["zebra", "Çava", "apple", "Éclair", "ångström", "東京", "ねこ", "Ｚｅｔａ", "10 things", "2 things", "Ωmega"]
ORDER = ["2 things", "10 things", "ångström", "apple", "Çava", "Éclair", "zebra", "Ｚｅｔａ", "Ωmega", "ねこ", "東京"]
# what LANraragi's Sort::Naturally (code points of the lowercased titles) gives: accents and Ｚ after z
PERL_ORDER = ["2 things", "10 things", "apple", "zebra", "ångström", "Çava", "Éclair", "Ωmega", "ねこ", "東京",
              "Ｚｅｔａ"]
ADDED = 1796396660  # 2026-12-04T15:04:20Z


def titles_sorted(server, **params) -> list[str]:
    query = {"sortby": "title", "start": -1, "groupby_tanks": "false", **params}
    return [a["title"] for a in server.get("/api/search", params=query).json()["data"]]


def fill(server) -> dict[str, str]:
    """One archive per title in TITLES, titled and tagged through the API; returns title -> ID."""
    for n in range(len(TITLES)):
        make_archive(server.content / f"t{n:02d}.cbz", {"1.jpg": make_image(20, 28, text=str(n))}, "cbz")
    server.start()
    ids = {a["filename"]: a["arcid"] for a in server.get("/api/archives").json()}
    for n, title in enumerate(TITLES):
        # the artist value sorts like the title (namespace sort keys are natural keys too)
        resp = server.put(f"/api/archives/{ids[f't{n:02d}']}/metadata", auth=True,
                          data={"title": title, "tags": f"artist:{title}, date_added:{ADDED + n}"})
        assert resp.status_code == 200, resp.text
    return {title: ids[f"t{n:02d}"] for n, title in enumerate(TITLES)}


# -- title order ------------------------------------------------------------------------------------------

def test_titles_sort_unicode_aware(make_server):
    server = make_server()
    fill(server)
    assert titles_sorted(server) == ORDER
    assert titles_sorted(server, order="desc") == ORDER[::-1]
    # a namespace sort compares its values the same way
    assert titles_sorted(server, sortby="artist") == ORDER
    # and the web library lists them in that order
    server.ctx.settings.set("enablepass", 0)
    html = app_page(server, "/")
    assert [unescape(t) for t in card_titles(html)] == ORDER
    # a title the scan takes from a file name is keyed the same way
    make_archive(server.content / "Ärger.cbz", {"1.jpg": make_image(22, 28)}, "cbz")
    server.rescan()
    assert titles_sorted(server) == ORDER[:4] + ["Ärger"] + ORDER[4:]


def app_page(server, path: str) -> str:
    resp = server.get(path)
    assert resp.status_code == 200
    return resp.text


def test_old_keys_are_rekeyed_once_on_open(make_server, caplog):
    """A database whose keys an older lrr_lite wrote (Sort::Naturally's order, no version in `meta`) is
    re-keyed when opened, and only then: the titles and the namespace values come back in the new order."""
    server = make_server()
    ids = fill(server)
    db_path = server.ctx.config.db_path
    server.stop()
    with sqlite3.connect(db_path) as conn:  # what the previous release left behind
        conn.executemany("UPDATE archives SET sort_key = ? WHERE num = ?",
                         [(perl_key(t), n) for n, t in conn.execute("SELECT num, title_lc FROM archives")])
        conn.executemany("UPDATE ns_values SET value_key = ? WHERE num = ? AND ns = 'artist'",
                         [(perl_key(t), n) for n, t in conn.execute("SELECT num, title_lc FROM archives")])
        conn.execute("DELETE FROM meta")
        stale = [t for (t,) in conn.execute("SELECT title FROM archives ORDER BY sort_key")]
    assert stale == PERL_ORDER  # the test starts from the wrong order: it can fail

    caplog.set_level(logging.INFO, logger="lrr_lite.library.search.rekey")
    server.start()
    assert titles_sorted(server) == ORDER
    assert titles_sorted(server, sortby="artist") == ORDER
    done = [r.getMessage() for r in caplog.records if "re-keying titles for the new sort order" in r.getMessage()]
    # the four plain ASCII titles keep their keys: only the other seven archives were written
    assert len(done) == 2 and re.fullmatch(r"re-keying titles for the new sort order: 11 archives, [\d.]+ s "
                                           r"\(7 keys changed\)", done[1]), done
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'sort_key_version'").fetchone() == (str(KEY_VERSION),)
        for title_lc, key in conn.execute("SELECT title_lc, sort_key FROM archives"):
            assert key == natural_key(title_lc)

    # a title edited now gets the new key at once; and the next start re-keys nothing
    assert server.put(f"/api/archives/{ids['zebra']}/metadata", auth=True, data={"title": "Ärger"}).status_code == 200
    assert titles_sorted(server)[2:6] == ["ångström", "apple", "Ärger", "Çava"]
    caplog.clear()
    server.restart()
    assert not [r for r in caplog.records if "re-keying" in r.getMessage()]
    assert titles_sorted(server)[2:6] == ["ångström", "apple", "Ärger", "Çava"]


# -- the empty library ------------------------------------------------------------------------------------

@pytest.fixture
def empty(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    return make_server().start()


def test_empty_library_says_where_archives_go(empty):
    content = str(empty.content.resolve())
    anonymous = app_page(empty, "/")
    text = " ".join(parse(anonymous).text)
    assert "Your library is empty" in text and "Nothing found." not in text
    assert ".cbz" in text and ".pdf" in text and "Sub-folders are fine" in text and "within seconds" in text
    assert "PUT /api/archives/upload" in text
    # a visitor who is not logged in learns that there is a content folder, not where it is on the disks
    assert content not in anonymous and "the server's content folder" in text
    assert 'href="/login"' in anonymous

    assert login(empty, next_url="/").status_code == 303
    logged_in = app_page(empty, "/")
    assert f'<code id="content-path">{content}</code>' in logged_in

    # without password protection every visitor may change the settings: the path is shown to all
    logout(empty)
    empty.ctx.settings.set("enablepass", 0)
    assert content in app_page(empty, "/")

    # an archive arrives in a sub-folder (found by the scan the watcher also runs; this test server starts no
    # watcher): the hint goes, and a search without hits says so
    make_archive(empty.content / "sub" / "First.cbz", {"1.jpg": make_image(20, 28)}, "cbz")
    empty.rescan()
    html = app_page(empty, "/")
    assert card_titles(html) == ["First"] and "Your library is empty" not in html
    miss = app_page(empty, "/?q=nothing-like-this")
    assert "Nothing found." in miss and "Your library is empty" not in miss


@pytest.mark.parametrize("watch, says", [("poll", "within 45 s"), ("off", "The next scan adds them")])
def test_empty_library_says_when_files_appear(make_server, monkeypatch, watch, says):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server(config={"watch": watch, "poll_interval": 45.0}).start()
    text = " ".join(parse(app_page(server, "/")).text)
    assert says in text and "within seconds" not in text


# -- the product's name -----------------------------------------------------------------------------------

def test_pages_say_lrr_lite_and_the_api_keeps_its_fields(empty):
    for path in ("/", "/login", "/reader?id=" + "0" * 40):
        html = empty.get(path).text
        title = re.search(r"<title>(.*?)</title>", html).group(1)
        assert "lrr_lite" in title and "LANraragi" not in html, (path, title)
    assert '<a class="brand" href="/">lrr_lite</a>' in empty.get("/").text
    # the legacy defaults as an earlier release stored them (a settings save wrote every field)
    empty.ctx.settings.set("htmltitle", "LANraragi")
    empty.ctx.settings.set("motd", "Welcome to this Library running LANraragi!")
    html = empty.get("/").text
    assert "LANraragi" not in html and "Welcome to this library running lrr_lite!" in html
    info = empty.get("/api/info").json()
    assert info["name"] == "LANraragi" and info["motd"] == "Welcome to this Library running LANraragi!"
    assert {"archives_per_page", "server_tracks_progress", "version", "version_name"} <= set(info)
    # a title the owner chose is shown as it is
    empty.ctx.settings.set("htmltitle", "Shelf <7>")
    html = empty.get("/login").text
    assert "<title>Login - Shelf &lt;7&gt;</title>" in html


# -- dates ------------------------------------------------------------------------------------------------

def test_cards_show_dates_not_date_chips(make_server, monkeypatch):
    monkeypatch.setattr(sys.modules["conftest"], "create_app", app_with_web)
    server = make_server()
    make_archive(server.content / "Dated.cbz", {"1.jpg": make_image(20, 28)}, "cbz")
    make_archive(server.content / "Odd.cbz", {"1.jpg": make_image(21, 28)}, "cbz")
    server.start()
    server.ctx.settings.set("enablepass", 0)
    ids = {a["title"]: a["arcid"] for a in server.get("/api/archives").json()}
    server.put(f"/api/archives/{ids['Dated']}/metadata", auth=True,
               data={"tags": f"artist:alice, date_added:{ADDED}, timestamp:1589141306, fruit:kiwi"})
    server.put(f"/api/archives/{ids['Odd']}/metadata", auth=True, data={"tags": "date_added:soon, artist:bob"})
    html = server.get("/").text
    dated = re.search(r'<li><a href="/reader\?id=' + ids["Dated"] + r'".*?</li>', html).group(0)
    assert '<time class="date" datetime="2026-12-04T15:04:20Z">added 2026-12-04</time>' in dated
    assert '<time class="date" datetime="2020-05-10T20:08:26Z">posted 2020-05-10</time>' in dated
    assert "date_added:" not in dated and "timestamp:" not in dated and str(ADDED) not in dated
    chips = [unescape(t) for t in re.findall(r'<a href="/\?q=[^"]*">([^<]*)</a>', dated)]
    assert chips == ["artist:alice", "fruit:kiwi"]  # other tags unchanged, in order
    # a value that is no date stays a tag
    odd = re.search(r'<li><a href="/reader\?id=' + ids["Odd"] + r'".*?</li>', html).group(0)
    assert ">date_added:soon</a>" in odd and "<time" not in odd
    # the date is part of the archive, not of the page: the tags field of the API is unchanged
    assert f"date_added:{ADDED}" in server.get(f"/api/archives/{ids['Dated']}").json()["tags"]
