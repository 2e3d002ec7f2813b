"""Whole archive JSON objects, wherever a client receives them (SEMANTICS §3), against what the test made.

Every endpoint that carries archive objects (grouped and ungrouped /api/search, /api/search/random,
/api/archives and its legacy alias, /metadata, a tankoubon's full_data) must give, key for key, the object
the test can state on its own: the ID it hashes from the file, the page count it put in the archive, the
tags/title/summary it set (tags normalised as §4 says), the reading progress and table of contents it
stored. A tank row is checked the same way against §3's tank rules. OPDS carries the same facts as XML.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from archive_factory import make_archive, make_image
from lxml import etree

NS = {"a": "http://www.w3.org/2005/Atom", "pse": "http://vaemendis.net/opds-pse/ns"}

# file name -> (format, pages, title, tags as sent, summary); tags as sent have spaces and a duplicate, which
# §4's normal write trims and drops.
ARCHIVES = {
    "Alpha.cbz": ("cbz", 3, "Alpha «one» & co", " artist:aoi , female:glasses,language:english, female:glasses",
                  "First line"),
    "Beta.zip": ("zip", 5, "Beta", "artist:kanna,series:beta saga, full color", ""),
    "Gamma.7z": ("7z", 2, "Gamma", "artist:kanna,date_added:1700000000,series:beta saga", "g"),
    "Delta.cbz": ("cbz", 4, "Delta", "", "untagged one"),
}


def _normalised(tags: str) -> str:
    """§4: split on ',', trim, drop exact duplicates (first kept), join with ',' and no spaces."""
    out: list[str] = []
    for tag in (t.strip() for t in tags.split(",")):
        if tag and tag not in out:
            out.append(tag)
    return ",".join(out)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("archive_json"))
    for n, (name, (fmt, pages, _title, _tags, _summary)) in enumerate(ARCHIVES.items()):
        members = {f"{p:03d}.jpg": make_image(40, 50, color=(n * 40, p * 30, 90), text=f"{n}.{p}")
                   for p in range(1, pages + 1)}
        make_archive(srv.content / name, members, fmt)
    srv.start()
    expected: dict[str, dict] = {}
    for name, (fmt, pages, title, tags, summary) in ARCHIVES.items():
        data = (srv.content / name).read_bytes()
        arcid = hashlib.sha1(data[:512000]).hexdigest()
        resp = srv.put(f"/api/archives/{arcid}/metadata", auth=True,
                       data={"title": title, "tags": tags, "summary": summary})
        assert resp.status_code == 200, resp.text
        expected[arcid] = {"arcid": arcid, "extension": fmt, "filename": Path(name).stem, "isnew": "true",
                           "lastreadtime": 0, "pagecount": pages, "progress": 0, "size": len(data),
                           "summary": summary, "tags": _normalised(tags), "title": title, "toc": []}
    by_name = {e["filename"]: e for e in expected.values()}

    alpha, beta, gamma = by_name["Alpha"], by_name["Beta"], by_name["Gamma"]
    resp = srv.put(f"/api/archives/{alpha['arcid']}/progress/2")
    assert resp.status_code == 200, resp.text
    alpha.update(progress=2, lastreadtime=resp.json()["lastreadtime"])
    assert srv.delete(f"/api/archives/{alpha['arcid']}/isnew").status_code == 200
    alpha["isnew"] = "false"
    for page, chapter in ((3, "Part «3»"), (1, "Start")):
        resp = srv.put(f"/api/archives/{alpha['arcid']}/toc", auth=True, params={"page": page, "title": chapter})
        assert resp.status_code == 200, resp.text
    alpha["toc"] = [{"page": 1, "name": "Start"}, {"page": 3, "name": "Part «3»"}]  # §3: sorted by page
    resp = srv.put(f"/api/archives/{gamma['arcid']}/progress/1")
    assert resp.status_code == 200, resp.text
    gamma.update(progress=1, lastreadtime=resp.json()["lastreadtime"])
    assert srv.delete(f"/api/archives/{beta['arcid']}/isnew").status_code == 200
    beta["isnew"] = "false"

    resp = srv.put("/api/tankoubons", auth=True, params={"name": "Beta Saga"})
    assert resp.status_code == 200, resp.text
    tank_id = resp.json()["tankoubon_id"]
    resp = srv.put(f"/api/tankoubons/{tank_id}", auth=True, json={
        "archives": [beta["arcid"], gamma["arcid"]],
        "metadata": {"summary": "ignored in rows", "tags": "series:beta saga, tank tag"}})
    assert resp.status_code == 200, resp.text
    # §3 tank row / §8 unified tags: own tags, then members' tags not yet seen (case-insensitively), member
    # date tags collapsed to their maximum; sums and maxima over the members.
    tank = {"arcid": tank_id, "archive_count": 2, "extension": ".tank", "filename": "",
            "isnew": "true" if "true" in (beta["isnew"], gamma["isnew"]) else "false",
            "lastreadtime": max(beta["lastreadtime"], gamma["lastreadtime"]),
            "pagecount": beta["pagecount"] + gamma["pagecount"], "progress": 0,
            "size": beta["size"] + gamma["size"], "summary": "Tankoubon containing: Beta,Gamma",
            "tags": "series:beta saga,tank tag,artist:kanna,full color,date_added:1700000000", "title": "Beta Saga"}
    yield srv, expected, by_name, tank
    srv.stop()


def _rows(srv, path: str, **params) -> list[dict]:
    resp = srv.get(path, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body["data"] if isinstance(body, dict) else body


def test_metadata_is_the_object_the_test_made(library):
    srv, expected, _, _ = library
    for arcid, want in expected.items():
        assert srv.get(f"/api/archives/{arcid}/metadata").json() == want
        assert srv.get(f"/api/archives/{arcid}").json() == want  # the deprecated twin


@pytest.mark.parametrize("params", [
    {"groupby_tanks": "false"},
    {"groupby_tanks": "false", "start": "-1", "sortby": "lastread"},
    {"groupby_tanks": "false", "filter": "artist:kanna"},
    {"groupby_tanks": "false", "order": "desc", "sortby": "date_added"},
    {"groupby_tanks": "false", "untaggedonly": "true"},
    {"groupby_tanks": "false", "newonly": "true"},
], ids=["ungrouped", "lastread", "filtered", "namespace-sort", "untagged", "newonly"])
def test_ungrouped_search_rows_are_whole_archive_objects(library, params):
    srv, expected, _, _ = library
    rows = _rows(srv, "/api/search", **params)
    assert rows, params
    for row in rows:
        assert row == expected[row["arcid"]], params
        assert row == srv.get(f"/api/archives/{row['arcid']}/metadata").json()


def test_grouped_search_rows_are_archives_and_the_tank(library):
    srv, expected, by_name, tank = library
    rows = _rows(srv, "/api/search")  # grouped is the default
    assert {r["arcid"] for r in rows} == {by_name["Alpha"]["arcid"], by_name["Delta"]["arcid"], tank["arcid"]}
    for row in rows:
        assert row == (tank if row["arcid"] == tank["arcid"] else expected[row["arcid"]])
    # a filter reaching the tank through a member's tag, and one reaching only a loose archive
    assert _rows(srv, "/api/search", filter="full color") == [tank]
    assert _rows(srv, "/api/search", filter="female:glasses") == [by_name["Alpha"]]


def test_random_rows_are_whole_objects(library):
    srv, expected, _, tank = library
    ungrouped = _rows(srv, "/api/search/random", count=10, groupby_tanks="false")
    assert sorted(r["arcid"] for r in ungrouped) == sorted(expected)
    for row in ungrouped:
        assert row == expected[row["arcid"]]
    for row in _rows(srv, "/api/search/random", count=10):
        assert row == (tank if row["arcid"] == tank["arcid"] else expected[row["arcid"]])


@pytest.mark.parametrize("path", ["/api/archives", "/api/archivelist"])
def test_full_list_is_every_whole_object(library, path):
    srv, expected, _, _ = library
    rows = _rows(srv, path)
    assert sorted(rows, key=lambda r: r["arcid"]) == [expected[a] for a in sorted(expected)]


def test_tank_full_data_is_whole_objects(library):
    srv, _, by_name, tank = library
    body = srv.get(f"/api/tankoubons/{tank['arcid']}/full").json()
    assert body["result"]["full_data"] == [by_name["Beta"], by_name["Gamma"]]
    body = srv.get(f"/api/tankoubons/{tank['arcid']}", params={"include_full_data": "true"}).json()
    assert body["result"]["full_data"] == [by_name["Beta"], by_name["Gamma"]]


def test_opds_entries_carry_the_same_facts(library):
    """§15: summary = the raw tags, pse:count = the page count, lastRead = the progress, category by isnew."""
    srv, expected, _, _ = library
    resp = srv.get("/api/opds")
    assert resp.status_code == 200
    feed = etree.fromstring(resp.content)
    entries = feed.findall("a:entry", NS)
    assert sorted(e.findtext("a:id", namespaces=NS).removeprefix("urn:lrr:") for e in entries) == sorted(expected)
    for entry in entries:
        want = expected[entry.findtext("a:id", namespaces=NS).removeprefix("urn:lrr:")]
        assert entry.findtext("a:title", namespaces=NS) == want["title"]
        assert (entry.findtext("a:summary", namespaces=NS) or "") == want["tags"]
        (stream,) = entry.findall("a:link[@rel='http://vaemendis.net/opds-pse/stream']", NS)
        assert stream.get(f"{{{NS['pse']}}}count") == str(want["pagecount"])
        assert stream.get(f"{{{NS['pse']}}}lastRead") == (str(want["progress"]) if want["progress"] else None)
        assert entry.find("a:category", NS).get("term") == ("New Archive" if want["isnew"] == "true" else "Archive")
        standalone = etree.fromstring(srv.get(f"/api/opds/{want['arcid']}").content)
        assert (standalone.findtext("a:summary", namespaces=NS) or "") == want["tags"]
