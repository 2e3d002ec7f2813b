"""LANraragi's test library (SEMANTICS §22.1), loaded into a running server through its public API.

IDs are SHA-1s of the files we generate, so they differ from the reference's; everything is looked
up by the short names below. Archives are made with distinct page counts and image sizes.
"""

from __future__ import annotations

import time
from pathlib import Path

from archive_factory import make_archive, make_image

FATE_CHARACTERS = ["ereshkigal", "waver velvet"] + [f"servant {n}" for n in range(1, 34)]

# short name: (pages, progress, new, title, tags, summary)
MOCK: dict[str, tuple[int, int, bool, str, str, str]] = {
    "ebf": (2, 10, False, "Saturn Backup Cartridge - Japanese Manual",
            "character:segata sanshiro, male:very cool", ""),
    "ebg": (200, 34, False, "Saturn Backup Cartridge - American Manual",
            "character:segata, female:very cool too", ""),
    "e4c422": (10, 0, True, "Rohan Kishibe goes to Gucci",
               "parody: jojo's bizarre adventure, date_added:1700000000", ""),
    "4857": (34, 34, False, "Ghost in the Shell 1.5 - Human-Error Processor vol01ch01",
             "artist:shirow masamune, date_added:1620000000", ""),
    "2810": (34, 34, False, "Fate GO MEMO 2",
             "parody:fate grand order,  " + ",  ".join(f"character:{c}" for c in FATE_CHARACTERS)
             + ",  group:wadamemo,  artist:wada rco,  artbook,  full color", ""),
    "22fd": (1, 0, False, "Fate GO MEMO",
             "parody:fate grand order,  group:wadamemo,  artist:wada rco,  artbook,  full color, male:very cool too",
             ""),
    "9522fa": (128, 0, False, "Find the Computer Room",
               "year of shadow, character:vector the crocodile, date_added:1650000000", ""),
    "955555": (22, 0, True, "All about Egypt",
               "medjed, character:doubles guy, character:king of GETs, check this 5, date_added:1600000000",
               "CURSE OF RA"),
    "be447b": (34, 0, False, "4f7f5f92300189726765",
               "series:Neon Genesis Evangelion, artist:Yoshiyuki Sadamoto, chapter:1, character:Shinji Ikari, "
               "character:Misato Katsuragi, science fiction", ""),
    "apple": (10, 0, False, "Apple Archive", "fruit:apple", ""),
    "banana": (10, 0, False, "Banana Archive", "fruit:banana", ""),
    "cherry": (10, 0, False, "Cherry Archive", "fruit:cherry", ""),
    "dragon": (10, 0, False, "Dragon Fruit Archive", "fruit:dragon", ""),
}
TITLE = {short: spec[3] for short, spec in MOCK.items()}


def _upload(server, folder: Path, short: str, n: int, index: int) -> str:
    page = make_image(8 + index, 8)  # a distinct size per archive keeps the IDs distinct
    path = make_archive(folder / f"{short}.cbz", {f"{p:03d}.jpg": page for p in range(1, n + 1)}, "cbz")
    with open(path, "rb") as fh:
        resp = server.put("/api/archives/upload", auth=True, files={"file": (path.name, fh)})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def load_mock(server, folder: Path, *, read_first: str | None = None, collections: bool = True) -> dict[str, str]:
    """Upload the 13 archives, set their metadata, progress and new flags, then the categories and
    tankoubons of §22.1. Returns short name -> real ID, plus tank/category names -> their IDs.

    Reading order gives the lastreadtimes their relative order: `read_first` (if any) oldest, then
    ebf, 4857 and 2810, then ebg most recent (each group at least a second apart)."""
    ids: dict[str, str] = {}
    for index, (short, (pages, _, _, title, tags, summary)) in enumerate(MOCK.items()):
        ids[short] = _upload(server, folder, short, pages, index)
        resp = server.put(f"/api/archives/{ids[short]}/metadata", auth=True,
                          data={"title": title, "tags": tags, "summary": summary})
        assert resp.status_code == 200, resp.text
    for short, (_, _, new, _, _, _) in MOCK.items():
        if not new:
            assert server.delete(f"/api/archives/{ids[short]}/isnew").status_code == 200
    groups = ([[read_first]] if read_first else []) + [["ebf", "4857", "2810"], ["ebg"]]
    for i, group in enumerate(groups):
        if i:
            time.sleep(1.05)
        for short in group:
            progress = MOCK[short][1] or 1
            resp = server.put(f"/api/archives/{ids[short]}/progress/{progress}", params={"force": "1"})
            assert resp.status_code == 200, resp.text

    def tank(name: str, summary: str, tags: str, members: list[str]) -> str:
        resp = server.put("/api/tankoubons", auth=True, params={"name": name})
        assert resp.status_code == 200, resp.text
        tank_id = resp.json()["tankoubon_id"]
        body = {"archives": [ids[m] for m in members], "metadata": {"summary": summary, "tags": tags}}
        resp = server.put(f"/api/tankoubons/{tank_id}", auth=True, json=body)
        assert resp.status_code == 200, resp.text
        return tank_id

    if not collections:
        return ids
    ids["Hello"] = tank("Hello", "A test tankoubon", "series:hello world", ["955555", "9522fa"])
    ids["World"] = tank("World", "", "date_added:1000000000", ["9522fa"])

    resp = server.put("/api/categories", auth=True, params={"name": "Segata Sanshiro", "pinned": "1"})
    ids["Segata Sanshiro"] = resp.json()["category_id"]
    for short in ("ebf", "ebg"):
        assert server.put(f"/api/categories/{ids['Segata Sanshiro']}/{ids[short]}", auth=True).status_code == 200
    resp = server.put("/api/categories", auth=True, params={"name": "AMERICA ONRY", "search": "American"})
    ids["AMERICA ONRY"] = resp.json()["category_id"]
    return ids
