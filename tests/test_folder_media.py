"""Folders of images as archives, the media layer (media/formats/folder.py): pages, ID, page reads and the
stored ZIP made on the fly, on real files; the ZIP is checked by zipfile and by libarchive (bsdtar's
library), both from the file and as a forward-only stream."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import zipfile
from pathlib import Path

import libarchive
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import archive_factory as af  # noqa: E402

from lrr_lite.errors import ArchiveError
from lrr_lite.media.formats import folder
from lrr_lite.media.formats.limits import MAX_PAGE_BYTES
from lrr_lite.media.formats.names import order_pages


def _book(path: Path, n: int = 6, **extra: bytes) -> dict[str, bytes]:
    path.mkdir(parents=True)
    pages = {f"{i:03d}.jpg": af.make_image(40 + i, 60, text=f"p{i}") for i in range(1, n + 1)}
    pages["cover.png"] = af.make_image(30, 40, fmt="PNG", text="cover")
    for name, data in {**pages, **extra}.items():
        (path / name).write_bytes(data)
    return pages


def test_pages_in_lanraragi_order_without_dot_files_or_links(tmp_path: Path) -> None:
    book = tmp_path / "Book"
    pages = _book(book, 12, **{"ComicInfo.xml": b"<ComicInfo/>", ".hidden.jpg": b"x", "._001.jpg": b"\0\5\26\7"})
    (book / "link.jpg").symlink_to(book / "001.jpg")
    (book / "sub").mkdir()
    assert folder.list_pages(book) == order_pages(list(pages))
    assert folder.list_pages(book)[0] == "cover.png"  # a cover first, as in an archive


def test_what_counts_as_a_folder_archive(tmp_path: Path) -> None:
    series = tmp_path / "Series"
    _book(series / "Vol 1")
    _book(series / "Vol 2")
    assert folder.is_folder_archive(series / "Vol 1") and folder.is_folder_archive(series / "Vol 2")
    assert not folder.is_folder_archive(series)  # a folder of chapter folders is a series
    (series / "poster.jpg").write_bytes(af.make_image(10, 10))
    assert not folder.is_folder_archive(series)  # its own images don't make it a book either
    empty = tmp_path / "Empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "readme.txt").write_text("x")
    assert not folder.is_folder_archive(empty)
    with pytest.raises(ArchiveError, match="no page images"):
        folder.list_pages(empty)


def test_id_follows_the_images_not_the_name(tmp_path: Path) -> None:
    pages = _book(tmp_path / "A")
    first = folder.folder_id(tmp_path / "A")
    ordered = order_pages(list(pages))
    expected = hashlib.sha1(b"lrr_lite folder\0" + b"".join(pages[n] for n in ordered)[:512_000]).hexdigest()
    assert first == expected and len(first) == 40
    (tmp_path / "A").rename(tmp_path / "Renamed")
    assert folder.folder_id(tmp_path / "Renamed") == first
    (tmp_path / "Renamed" / "001.jpg").write_bytes(af.make_image(99, 99, text="changed"))
    assert folder.folder_id(tmp_path / "Renamed") != first


def test_id_reads_at_most_512000_bytes(tmp_path: Path) -> None:
    book = tmp_path / "Big"
    book.mkdir()
    (book / "1.jpg").write_bytes(os.urandom(400_000))
    (book / "2.jpg").write_bytes(os.urandom(400_000))
    before = folder.folder_id(book)
    with open(book / "2.jpg", "r+b") as fh:  # past the first 512,000 bytes of the pages: same ID
        fh.seek(300_000)
        fh.write(b"changed")
    assert folder.folder_id(book) == before


def test_page_reads_are_bounded_and_confined(tmp_path: Path) -> None:
    pages = _book(tmp_path / "B")
    for name, data in pages.items():
        assert folder.read_page(tmp_path / "B", name) == data
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    (tmp_path / "B" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    for bad in ("../secret.jpg", "link.jpg", "missing.jpg", "", "..", "ComicInfo.xml"):
        with pytest.raises(KeyError):
            folder.read_page(tmp_path / "B", bad)
    huge = tmp_path / "B" / "huge.jpg"
    with open(huge, "wb") as fh:
        fh.truncate(MAX_PAGE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ArchiveError, match="page too large"):
        folder.open_page(tmp_path / "B", "huge.jpg")


@pytest.mark.parametrize("zip64", [False, True])
def test_zip_is_byte_stable_and_opens_everywhere(tmp_path: Path, zip64: bool) -> None:
    pages = _book(tmp_path / "Z", 9, **{"ünïcode 10.webp": af.make_image(20, 20, fmt="WEBP")})
    pages["ünïcode 10.webp"] = (tmp_path / "Z" / "ünïcode 10.webp").read_bytes()
    archive = folder.FolderZip(tmp_path / "Z", zip64=zip64)
    data = b"".join(archive.read())
    assert len(data) == archive.size
    assert b"".join(folder.FolderZip(tmp_path / "Z", zip64=zip64).read()) == data  # a second request
    order = folder.list_pages(tmp_path / "Z")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == order
        assert all(zf.read(n) == pages[n] for n in order)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    path = tmp_path / "z.zip"
    path.write_bytes(data)
    with libarchive.file_reader(str(path)) as arc:  # seeking reader: the central directory
        assert [(e.pathname, b"".join(e.get_blocks())) for e in arc] == [(n, pages[n]) for n in order]
    with libarchive.stream_reader(io.BytesIO(data)) as arc:  # forward-only: local headers + descriptors
        assert [(e.pathname, b"".join(e.get_blocks())) for e in arc] == [(n, pages[n]) for n in order]


def test_any_range_is_the_same_bytes(tmp_path: Path) -> None:
    _book(tmp_path / "R", 5)
    whole = b"".join(folder.FolderZip(tmp_path / "R").read())
    rng = random.Random(7)
    cuts = [(0, 1), (0, 30), (29, 31), (len(whole) - 22, len(whole)), (len(whole) - 1, len(whole) + 50)]
    cuts += [tuple(sorted(rng.sample(range(len(whole) + 1), 2))) for _ in range(60)]
    for start, end in cuts:
        fresh = folder.FolderZip(tmp_path / "R")  # no state from an earlier read
        assert b"".join(fresh.read(start, end)) == whole[start:end], (start, end)


def test_a_page_changed_mid_download_fails_instead_of_lying(tmp_path: Path) -> None:
    _book(tmp_path / "C", 3)
    archive = folder.FolderZip(tmp_path / "C")
    (tmp_path / "C" / "002.jpg").write_bytes(b"shorter")
    with pytest.raises(ArchiveError, match="changed during the download"):
        b"".join(archive.read())


def test_formats_reads_a_folder_like_any_archive(tmp_path: Path) -> None:
    from lrr_lite.media import formats

    pages = _book(tmp_path / "F", 4)
    cache = formats.PageCache(tmp_path / "cache", 10 * 1024 * 1024)
    assert formats.detect_format(tmp_path / "F") == "folder"
    listed = formats.list_pages(tmp_path / "F")
    assert listed == order_pages(list(pages)) == formats.list_members(tmp_path / "F")
    for name in listed:
        assert formats.read_member(tmp_path / "F", name, cache=cache, key="f") == pages[name]
        with formats.open_member(tmp_path / "F", name, cache=cache, key="f") as stream:
            assert stream.size == len(pages[name]) and b"".join(stream) == pages[name]
    with pytest.raises(KeyError):
        formats.read_member(tmp_path / "F", "../x.jpg", cache=cache, key="f")


def test_archive_files_and_hidden_folders_are_no_books(tmp_path: Path) -> None:
    mixed = tmp_path / "Mixed"
    _book(mixed)
    assert folder.is_folder_archive(mixed)
    (mixed / "extras").mkdir()
    (mixed / "extras" / "bonus.cbz").write_bytes(b"PK\5\6" + bytes(18))
    assert not folder.is_folder_archive(mixed)  # its archive file stays an archive of its own
    nas = tmp_path / "Book"
    _book(nas)
    _book(nas / "@eaDir" / "001.jpg")  # a NAS's thumbnails of the pages: not a sub-book
    assert folder.is_folder_archive(nas)
    # (a folder inside a hidden one is refused by the scan, which knows the content folder: scan.py)
    _book(tmp_path / ".thumbnails")
    assert not folder.is_folder_archive(tmp_path / ".thumbnails")


def test_members_stat_and_delete(tmp_path: Path) -> None:
    book = tmp_path / "Book"
    pages = _book(book, 3, **{"ComicInfo.xml": b"<ComicInfo/>"})
    assert folder.list_members(book) == order_pages(list(pages)) + ["ComicInfo.xml"]
    assert folder.read_page(book, "ComicInfo.xml") == b"<ComicInfo/>"
    st = folder.folder_stat(book)
    assert st.st_size == sum(len(d) for d in pages.values())  # ComicInfo.xml is not counted
    newest = max([(book / n).stat().st_mtime_ns for n in pages] + [book.stat().st_mtime_ns])
    assert st.st_mtime_ns == newest and abs(st.st_mtime - newest / 1e9) < 1e-3
    os.utime(book / "001.jpg", ns=(newest + 5_000_000_000, newest + 5_000_000_000))
    assert folder.folder_stat(book).st_mtime_ns == newest + 5_000_000_000  # a replaced page moves it
    (book / "notes.txt").write_text("mine")
    removed = folder.delete_pages(book)
    assert sorted(removed) == sorted([*pages, "ComicInfo.xml"])
    assert os.listdir(book) == ["notes.txt"]  # not ours: it stays, and so does the folder
    (book / "notes.txt").unlink()
    _book(tmp_path / "Only")
    folder.delete_pages(tmp_path / "Only")
    assert not (tmp_path / "Only").exists()


def test_zip_open_is_a_seekable_file_of_the_same_bytes(tmp_path: Path) -> None:
    _book(tmp_path / "S", 5)
    made = folder.FolderZip(tmp_path / "S")
    whole = b"".join(made.read())
    with made.open() as fh:
        assert fh.read() == whole
        for offset in (0, 17, 1024, len(whole) // 2, len(whole) - 5):
            fh.seek(offset)
            assert fh.read(1024) == whole[offset:offset + 1024]
        fh.seek(len(whole) + 10)
        assert fh.read(10) == b""
