"""Duplicate finding for Minion's `find_duplicates` job: archives whose covers look alike.

A 64-bit difference hash (dHash) of each cover thumbnail; two archives are duplicates when their
hashes differ in at most `threshold` bits. Covers are small JPEGs already on disk, so hashing is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from lrr_lite.library import pages
from lrr_lite.storage.db import Database


def dhash(path: Path) -> int:
    with Image.open(path) as im:
        im.draft("L", (36, 32))  # JPEG decodes at reduced scale
        small = im.convert("L").resize((9, 8), Image.Resampling.BOX)
    px = small.tobytes()  # 9x8 grey bytes, row by row
    bits = 0
    for y in range(8):
        for x in range(8):
            bits = (bits << 1) | (px[y * 9 + x] > px[y * 9 + x + 1])
    return bits


def find_duplicates(db: Database, thumbs: Path, threshold: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> list[list[str]]:
    """Groups of archive IDs with alike covers (archives without a cover are left out)."""
    rows = db.query("SELECT id FROM archives WHERE path != '' ORDER BY id")
    hashes: list[tuple[int, str]] = []
    for n, row in enumerate(rows, start=1):
        cover = pages.cover_path(thumbs, row[0])
        if cover.is_file():
            try:
                hashes.append((dhash(cover), row[0]))
            except OSError:
                pass
        if progress and n % 500 == 0:
            progress(n, len(rows))
    parent = {archive_id: archive_id for _, archive_id in hashes}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    if threshold <= 0:  # exact matches: a dictionary, not a comparison of every pair
        first: dict[int, str] = {}
        for h, archive_id in hashes:
            if h in first:
                parent[root(archive_id)] = root(first[h])
            else:
                first[h] = archive_id
    else:
        for i, (h1, a1) in enumerate(hashes):
            for h2, a2 in hashes[i + 1:]:
                if (h1 ^ h2).bit_count() <= threshold:
                    parent[root(a2)] = root(a1)
    groups: dict[str, list[str]] = {}
    for _, archive_id in hashes:
        groups.setdefault(root(archive_id), []).append(archive_id)
    return [sorted(g) for g in groups.values() if len(g) > 1]
