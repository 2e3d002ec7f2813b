"""RAR archives libarchive refuses, read through unar (media/formats/unarreader.py), on real files: the RAR
test archives of the rarfile sdist (tests/data/rarfile) and solid-flagged CBRs of real JPEG pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import archive_factory as af  # noqa: E402
from spec_data import RARFILE  # noqa: E402

from lrr_lite.errors import ArchiveError
from lrr_lite.media import formats
from lrr_lite.media.formats import PageCache, unarreader

pytestmark = pytest.mark.skipif(unarreader.tools() is None, reason="unar/lsar not installed (apt install unar)")

SAMPLES = sorted(RARFILE.glob("*.rar"))


@pytest.fixture
def cache(tmp_path: Path) -> PageCache:
    return PageCache(tmp_path / "cache", 200 * 1024 * 1024)


def _lsar_regular(path: Path) -> list[tuple[str, int]] | None:
    """(name, size) of the regular members as lsar lists them, independently of unarreader; None if lsar
    can't read the file."""
    proc = subprocess.run(["lsar", "-l", str(path)], capture_output=True)
    if proc.returncode != 0:
        return None
    out = []
    for line in proc.stdout.decode().splitlines():
        m = re.match(r"^\s*\d+\. ([-DRLE@]{5})\s+(\d+)\s.*?\d\d:\d\d  (.*)$", line)
        if m and not set(m[1]) & set("DLRE"):
            out.append((m[3], int(m[2])))
    return out


def _unar_files(path: Path, dest: Path) -> dict[str, bytes]:
    """Every file unar extracts into a folder: the reference the split spool must match byte for byte."""
    subprocess.run(["unar", "-q", "-D", "-o", str(dest), str(path)], check=True, capture_output=True)
    return {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file() and not p.is_symlink()}


def test_the_samples_are_all_here() -> None:
    # rar3-solid and unicode are the named solid RAR 4 files; 51 .rar files in all in rarfile 4.5
    assert len(SAMPLES) == 51
    assert (RARFILE / "rar3-solid.rar").exists() and (RARFILE / "unicode.rar").exists()


@pytest.mark.parametrize("name", ["rar3-solid.rar", "unicode.rar", "rar3-owner.rar", "rar3-comment-plain.rar"])
def test_solid_rar4_lists_and_reads_every_member(name: str, cache: PageCache, tmp_path: Path) -> None:
    path = RARFILE / name
    assert formats.detect_format(path) == "unar"
    expected = _unar_files(path, tmp_path / "ref")
    members = formats.list_members(path)
    assert members == [n for n, _ in _lsar_regular(path)]
    assert sorted(members) == sorted(expected)
    for member in members:
        assert formats.read_member(path, member, cache=cache, key=name) == expected[member]


def test_solid_rar3_second_member_is_what_libarchive_never_reached(cache: PageCache) -> None:
    # libarchive reads the first member of a solid archive: the reference for the second, whose bytes are
    # the same text (the file's own CRCs in tests/data/rarfile say both are 0xC5B7E6A2)
    path = RARFILE / "rar3-solid.rar"
    with formats.streamreader.libarchive.file_reader(str(path)) as arc:
        first_by_libarchive = b"".join(next(iter(arc)).get_blocks())
    first = formats.read_member(path, "stest1.txt", cache=cache, key="s")
    second = formats.read_member(path, "stest2.txt", cache=cache, key="s")
    assert first == first_by_libarchive and len(second) == 2048
    assert zlib.crc32(first) == zlib.crc32(second) == 0xC5B7E6A2


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_is_read_whole_or_refused_with_a_reason(path: Path, cache: PageCache) -> None:
    """The issue's rule: each file unar can read is imported with all its members in order, or skipped with
    a reason; never a partial listing, never an exception other than ArchiveError."""
    listed = _lsar_regular(path)
    try:
        members = formats.list_members(path)
        data = {m: formats.read_member(path, m, cache=cache, key=path.name) for m in members}
    except ArchiveError as exc:
        assert str(exc).strip(), "a refusal names its reason"
        return
    if listed is not None and formats.detect_format(path) == "unar":
        assert members == list(dict.fromkeys(n for n, _ in listed))
        sizes = dict(listed)
        assert all(len(data[m]) == sizes[m] for m in members)
    assert all(isinstance(v, bytes) for v in data.values())


def test_later_volumes_are_refused_and_the_first_reads_the_set(cache: PageCache) -> None:
    for later in ("rar3-vols.part2.rar", "rar3-vols.part3.rar", "rar5-vols.part2.rar", "rar5-vols.part3.rar"):
        with pytest.raises(ArchiveError, match="later part of a multi-volume"):
            formats.list_pages(RARFILE / later)
    for first in ("rar3-vols.part1.rar", "rar5-vols.part1.rar"):
        path = RARFILE / first
        assert formats.list_members(path) == ["vols/bigfile.txt", "vols/smallfile.txt"]
        assert len(formats.read_member(path, "vols/bigfile.txt", cache=cache, key=first)) == 205000


@pytest.mark.parametrize("name", ["rar3-comment-psw.rar", "rar3-comment-hpsw.rar", "rar202-comment-psw.rar"])
def test_password_protected_rar_is_refused_as_such(name: str) -> None:
    with pytest.raises(ArchiveError, match="password-protected"):
        formats.list_pages(RARFILE / name)


def test_solid_flagged_cbr_of_jpegs_reads_every_page(tmp_path: Path, cache: PageCache) -> None:
    pages = {f"{i:03d}.jpg": af.make_image(60, 80, text=f"p{i}") for i in range(1, 13)}
    path = af.make_solid_flagged_rar(tmp_path / "solid.cbr", pages)
    with pytest.raises(Exception, match="solid"):  # what libarchive alone does with it
        formats.streamreader.list_pages(path)
    assert formats.list_pages(path) == sorted(pages)
    for name, data in pages.items():
        assert formats.read_member(path, name, cache=cache, key="solid") == data
        with formats.open_member(path, name, cache=cache, key="solid2") as stream:
            assert b"".join(stream) == data


def test_expansion_limit_refuses_before_decompressing(tmp_path: Path) -> None:
    path = af.make_solid_flagged_rar(tmp_path / "big.cbr", {f"{i}.jpg": b"\0" * 4096 for i in range(8)})
    with pytest.raises(ArchiveError, match="decompression bomb"):
        unarreader.walk(path, lambda *_: None, max_total=4096 * 4)


def test_missing_unar_is_a_clear_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = af.make_solid_flagged_rar(tmp_path / "nounar.cbr", {"1.jpg": af.make_image(20, 20),
                                                               "2.jpg": af.make_image(20, 30)})
    bare = tmp_path / "bin"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))  # a system without The Unarchiver
    with pytest.raises(ArchiveError, match="install the 'unar' package"):
        formats.list_pages(path)


def test_odd_names_cannot_reach_options(tmp_path: Path, cache: PageCache) -> None:
    pages = {"1.jpg": af.make_image(20, 20), "2.jpg": af.make_image(20, 30)}
    path = af.make_solid_flagged_rar(tmp_path / "-o x; rm -rf.cbr", pages)
    assert formats.list_pages(path) == ["1.jpg", "2.jpg"]
    assert formats.read_member(path, "2.jpg", cache=cache, key="odd") == pages["2.jpg"]


def test_server_serves_a_solid_cbr_and_refuses_later_volumes(make_server, tmp_path: Path) -> None:
    pages = {f"{i:02d}.jpg": af.make_image(120, 160, text=f"page {i}") for i in range(1, 6)}
    server = make_server(scan=False)
    af.make_solid_flagged_rar(server.content / "Solid Book.cbr", pages)
    shutil.copy(RARFILE / "rar3-vols.part2.rar", server.content / "set.part2.rar")
    server.start()
    result = server.rescan()
    assert result["failed"] == 1
    [(failed_path, reason)] = result["errors"].items()
    assert failed_path.endswith("set.part2.rar") and "later part of a multi-volume" in reason
    archives = server.get("/api/archives").json()
    assert [a["title"] for a in archives] == ["Solid Book"]
    arcid = archives[0]["arcid"]
    assert archives[0]["pagecount"] == 5
    files = server.get(f"/api/archives/{arcid}/files").json()["pages"]
    assert len(files) == 5
    for url, name in zip(files, sorted(pages), strict=True):
        reply = server.get(url.replace(server.url, "") if url.startswith("http") else url)
        assert reply.status_code == 200 and reply.content == pages[name]
    thumb = server.get(f"/api/archives/{arcid}/thumbnail", params={"no_fallback": "true"})
    assert thumb.status_code in (200, 202)


def test_truncated_solid_rar_is_refused_when_listed(tmp_path: Path) -> None:
    """lsar lists a cut archive's headers happily; its test pass finds the damage, so the archive is skipped
    with a reason instead of imported with pages no read could ever serve."""
    pages = {f"{i}.jpg": af.make_image(80, 100, text=str(i)) for i in range(1, 7)}
    src = af.make_solid_flagged_rar(tmp_path / "whole.cbr", pages)
    cut = af.truncated_copy(src, tmp_path / "cut.cbr", 0.5)
    with pytest.raises(ArchiveError, match="damaged archive: .*failed"):
        formats.list_pages(cut)
    assert formats.list_pages(src) == sorted(pages)


def test_lsar_lists_a_file_version_once(tmp_path: Path, cache: PageCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first look at a file (check, page list, member list, first read) runs `lsar -l` once; a new
    version of the file (another mtime) is listed again. Counted by a real lsar wrapper on PATH."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "lsar-calls"
    bin_dir.mkdir()
    wrapper = bin_dir / "lsar"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{calls}"\nexec {shutil.which("lsar")} "$@"\n')
    wrapper.chmod(0o755)
    (bin_dir / "unar").symlink_to(shutil.which("unar"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert unarreader.tools() == (str(wrapper), str(bin_dir / "unar"))

    def listings() -> int:
        return calls.read_text().split().count("-l") if calls.exists() else 0

    pages = {f"{i:03d}.jpg": af.make_image(60, 80, text=f"p{i}") for i in range(1, 6)}
    path = af.make_solid_flagged_rar(tmp_path / "once.cbr", pages)
    assert formats.list_pages(path) == sorted(pages)  # what ingest does: check (lsar -t too), then list
    assert formats.list_members(path) == sorted(pages)
    assert formats.read_member(path, "001.jpg", cache=cache, key="once") == pages["001.jpg"]
    assert listings() == 1
    assert calls.read_text().split().count("-t") == 1  # the damage test still runs, once
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a new version of the file
    assert formats.list_pages(path) == sorted(pages)
    assert listings() == 2
