"""lrr_lite.formats on real archives written by archive_factory (no mocks of zipfile, libarchive or pdfium)."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

import archive_factory as af  # noqa: E402

from lrr_lite.errors import ArchiveError
from lrr_lite.media import formats
from lrr_lite.media.formats import (
    ARCHIVE_EXTENSIONS,
    PageCache,
    is_archive_name,
    is_page_name,
    json_extension,
    list_members,
    list_pages,
    order_pages,
    read_member,
    sniff_mime,
)
from lrr_lite.media.formats import pdf as pdfmod
from lrr_lite.media.formats.names import is_apple_fork_candidate

STREAM_FORMATS = [f for f in af.ALL_FORMATS if f not in af.ZIP_FORMATS]


@pytest.fixture
def cache(tmp_path: Path) -> PageCache:
    c = PageCache(tmp_path / "cache", 200 * 1024 * 1024)
    yield c
    c.wait_idle(10)


def read(path: Path, name: str, cache: PageCache, key: str = "k") -> bytes:
    return read_member(path, name, cache=cache, key=key)


# -- names -------------------------------------------------------------------------------------------------


def test_archive_extensions_are_exactly_the_reference_list() -> None:
    assert set(ARCHIVE_EXTENSIONS) == set(
        "zip rar 7z tar tar.gz lzma xz cbz cbr cb7 cbt cbw pdf epub tar.zst zst".split()
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.zip", True), ("A.CBZ", True), ("x.tar.gz", True), ("x.tar.zst", True), ("x.zst", True),
        ("x.cb7", True), ("x.cbt", True), ("x.cbw", True), ("x.epub", True), ("x.Pdf", True), ("x.lzma", True),
        ("x.xz", True), ("x.rar", True), ("dir/y.7z", True),
        (".zip", False), ("dir/.cbz", False), ("x.tgz", False), ("x.tar.bz2", False), ("x.cba", False),
        ("zip", False), ("x.zipx", False), ("x.jpg", False),
    ],
)  # fmt: skip
def test_is_archive_name(name: str, expected: bool) -> None:
    assert is_archive_name(name) is expected


@pytest.mark.parametrize(
    ("name", "ext"), [("x.tar.gz", "gz"), ("A.CBZ", "cbz"), ("a.b.Zip", "zip"), ("noext", "")]
)
def test_json_extension(name: str, ext: str) -> None:
    assert json_extension(name) == ext


@pytest.mark.parametrize(
    "name",
    ["a.png", "a.jpg", "a.gif", "a.bmp", "a.jpeg", "a.jfif", "a.webp", "a.avif", "a.heif", "a.heic", "a.jxl",
     "A.JPG", "dir/sub/x.WebP", "quirk.", "dir/.jpg"],
)  # fmt: skip
def test_page_names(name: str) -> None:
    assert is_page_name(name)


@pytest.mark.parametrize("name", ["a.txt", "a.tiff", "a.svg", ".jpg", "jpg", "a.jpg.txt", "a.pdf", ""])
def test_non_page_names(name: str) -> None:
    assert not is_page_name(name)


def test_order_vector_22_5() -> None:
    assert order_pages(["page10.jpg", "page9.jpg", "Page1.jpg", "cover.jpg"]) == [
        "cover.jpg", "Page1.jpg", "page9.jpg", "page10.jpg",
    ]  # fmt: skip


def test_order_digit_runs_pad_to_four_digits() -> None:
    # 00012 -> 0012 sorts after 11 -> 0011; 123456 stays six digits and so sorts before 99999 by code point.
    assert order_pages(["00012.jpg", "11.jpg", "2.jpg"]) == ["2.jpg", "11.jpg", "00012.jpg"]
    assert order_pages(["99999.jpg", "123456.jpg"]) == ["123456.jpg", "99999.jpg"]
    # 7 and 007 share a key: the sort is stable, input order decides.
    assert order_pages(["007.jpg", "7.jpg"]) == ["007.jpg", "7.jpg"]
    assert order_pages(["7.jpg", "007.jpg"]) == ["7.jpg", "007.jpg"]


def test_order_is_ascii_case_insensitive_and_code_point() -> None:
    # Keys are lowercased, so "_" (0x5F) sorts before every letter, as in Perl lc + cmp.
    assert order_pages(["B.jpg", "a.jpg", "_.jpg", "Z/1.jpg"]) == ["_.jpg", "a.jpg", "B.jpg", "Z/1.jpg"]
    # Non-ASCII letters are not lowercased: "É" (U+00C9) sorts before "é" (U+00E9) and after ASCII.
    assert order_pages(["é.jpg", "É.jpg", "z.jpg"]) == ["z.jpg", "É.jpg", "é.jpg"]


def test_order_cover_rest_credits_partition() -> None:
    names = [
        "002.jpg", "credits.jpg", "Cover.JPG", "legend/cover.jpg", "backcover.jpg", "discover.png",
        "999.jpg", "notes.png", "note.jpg", "artist_info.png", "end_card_save_file.jpg", "001.jpg",
        "front_cover_credit.jpg", "footnotes.jpg", "notes.d/x.jpg", "sub/999.jpg",
    ]  # fmt: skip
    assert order_pages(names) == [
        # covers (a cover that also looks like credits is listed once, as a cover)
        "Cover.JPG", "front_cover_credit.jpg",
        # the rest, in key order
        "001.jpg", "002.jpg", "backcover.jpg", "discover.png", "legend/cover.jpg", "notes.d/x.jpg", "sub/999.jpg",
        # credits, in key order
        "999.jpg", "artist_info.png", "credits.jpg", "end_card_save_file.jpg", "footnotes.jpg", "note.jpg",
        "notes.png",
    ]  # fmt: skip


def test_order_returns_each_name_once() -> None:
    names = [f"{i}.jpg" for i in range(50)] + ["cover_credits.jpg", "credits.jpg"]
    result = order_pages(names)
    assert sorted(result) == sorted(names)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("__MACOSX/test.png", True), ("folder/._image.png", True), ("a/__MACOSX/b.png", True),
     ("folder/image.png", False), ("folder/sub/cover.jpg", False), ("folder._cover.jpg", False),
     ("x__MACOSX/a.png", False)],
)  # fmt: skip
def test_apple_fork_candidates_22_5(name: str, expected: bool) -> None:
    assert is_apple_fork_candidate(name) is expected


# -- every format ------------------------------------------------------------------------------------------


def _rich_members() -> list[tuple[str, bytes]]:
    img = af.page_images(6)
    return [
        ("Vol 1/", b""),
        ("Vol 1/page10.jpg", img[0]),
        ("Vol 1/page9.jpg", img[1]),
        ("Vol 1/Page1.png", af.make_image(40, 60, "PNG", text="png")),
        ("cover.jpg", img[2]),
        ("credits.jpg", img[3]),
        ("info.txt", b"not a page"),
        ("__MACOSX/Vol 1/._page9.jpg", af.APPLE_DOUBLE),
        ("Vol 1/._page10.jpg", af.APPLE_SINGLE),
        ("Vol 1/._hidden.jpg", img[4]),  # a dot-underscore name without Apple magic is an ordinary page
        ("ページ/01.jpg", img[5]),
    ]


RICH_PAGES = [
    "cover.jpg", "Vol 1/._hidden.jpg", "Vol 1/Page1.png", "Vol 1/page9.jpg", "Vol 1/page10.jpg", "ページ/01.jpg",
    "credits.jpg",
]  # fmt: skip


@pytest.mark.parametrize("fmt", af.ALL_FORMATS)
def test_list_pages_and_read_every_member(tmp_path: Path, cache: PageCache, fmt: str) -> None:
    members = _rich_members()
    path = af.make_archive(tmp_path / f"book.{fmt}", members, fmt)
    assert list_pages(path) == RICH_PAGES
    files = {name: data for name, data in members if not name.endswith("/")}
    listed = list_members(path)
    assert set(listed) - {"mimetype", "META-INF/container.xml"} == set(files)
    for name, data in files.items():
        assert read(path, name, cache) == data, name
    assert sniff_mime(read(path, "cover.jpg", cache)) == "image/jpeg"


@pytest.mark.parametrize("fmt", af.ALL_FORMATS)
def test_archive_with_no_pages_is_not_an_error(tmp_path: Path, fmt: str) -> None:
    path = af.make_archive(tmp_path / f"empty.{fmt}", {"readme.txt": b"hello"}, fmt)
    assert list_pages(path) == []
    assert "readme.txt" in list_members(path)


def test_tar_holding_only_cover_22_5(tmp_path: Path) -> None:
    path = af.make_archive(tmp_path / "c.tar", {"cover.jpg": af.make_image(10, 10)}, "tar")
    assert list_pages(path) == ["cover.jpg"]


def test_missing_archive_22_5(tmp_path: Path, cache: PageCache) -> None:
    with pytest.raises(ArchiveError, match="Couldn't open archive"):
        list_pages(tmp_path / "nope.cbz")
    with pytest.raises(ArchiveError, match="Couldn't open archive"):
        read(tmp_path / "nope.cbz", "1.jpg", cache)


@pytest.mark.parametrize(("real", "named"), [("7z", "cbz"), ("rar", "cbz"), ("zip", "cbr"), ("tar", "zip"),
                                             ("tar.gz", "cb7"), ("zip", "rar")])  # fmt: skip
def test_format_detected_from_content_not_extension(
    tmp_path: Path, cache: PageCache, real: str, named: str
) -> None:
    src = af.make_comic(tmp_path / f"real.{real}", 3, real)
    path = tmp_path / f"liar.{named}"
    src.rename(path)
    assert list_pages(path) == ["001.jpg", "002.jpg", "003.jpg"]
    assert read(path, "003.jpg", cache)[:3] == b"\xff\xd8\xff"


def test_zip_backslash_names_and_deflate(tmp_path: Path, cache: PageCache) -> None:
    img = af.make_image(30, 30)
    path = af.make_archive(
        tmp_path / "win.cbz", {"sub\\002.jpg": img, "sub\\001.jpg": img}, "cbz", zip_compression=8
    )
    assert list_pages(path) == ["sub/001.jpg", "sub/002.jpg"]
    assert read(path, "sub/001.jpg", cache) == img
    with pytest.raises(KeyError):
        read(path, "sub\\001.jpg", cache)


def test_epub_is_a_plain_zip_in_sort_order(tmp_path: Path) -> None:
    img = af.make_image(20, 20)
    path = af.make_archive(tmp_path / "b.epub", [("OEBPS/img/b.jpg", img), ("OEBPS/img/a.jpg", img)], "epub")
    assert list_pages(path) == ["OEBPS/img/a.jpg", "OEBPS/img/b.jpg"]


def test_rar_with_real_tool_when_available(tmp_path: Path, cache: PageCache) -> None:
    try:
        path = af.make_archive(tmp_path / "t.cbr", {"1.jpg": af.make_image(20, 20)}, "cbr", rar_tool=True)
    except af.RarUnavailable:
        pytest.skip("rar tool not installed; RAR covered by the built-in store-only writer")
    assert list_pages(path) == ["1.jpg"]


def test_list_is_refreshed_when_the_file_changes(tmp_path: Path) -> None:
    path = af.make_comic(tmp_path / "c.cbz", 2, "cbz")
    assert len(list_pages(path)) == 2
    af.make_comic(path, 5, "cbz")
    assert len(list_pages(path)) == 5


# -- bad files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext", ["cbz", "zip", "7z", "rar", "cbr", "tar.gz", "tar", "xz", "epub", "cb7", "pdf"]
)
def test_garbage_and_empty_files_raise(tmp_path: Path, cache: PageCache, ext: str) -> None:
    for path in (af.garbage_file(tmp_path / f"junk.{ext}"), af.empty_file(tmp_path / f"empty.{ext}")):
        with pytest.raises(ArchiveError):
            list_pages(path)
        with pytest.raises(ArchiveError):
            list_members(path)
        with pytest.raises(ArchiveError):
            read(path, "1.jpg", cache)


@pytest.mark.parametrize("fmt", ["cbz", "7z", "rar", "tar", "tar.gz", "tar.zst", "tar.xz", "lzma"])
def test_truncated_archives_raise(tmp_path: Path, fmt: str) -> None:
    src = af.make_comic(tmp_path / f"full.{fmt}", 6, fmt, size=(200, 300))
    path = af.truncated_copy(src, tmp_path / f"cut.{fmt}", 0.5)
    with pytest.raises(ArchiveError):
        list_pages(path)


def test_zip_cut_at_central_directory_raises(tmp_path: Path) -> None:
    src = af.make_comic(tmp_path / "full.cbz", 3, "cbz")
    path = af.zip_without_central_directory(src, tmp_path / "nocd.cbz")
    with pytest.raises(ArchiveError):
        list_pages(path)


def test_truncated_stream_serves_pages_before_the_damage(tmp_path: Path, cache: PageCache) -> None:
    src = af.make_comic(tmp_path / "full.tar", 6, "tar", size=(200, 300))
    path = af.truncated_copy(src, tmp_path / "cut.cbt", 0.6)
    # The member list itself is unreadable, so even intact pages are refused: nothing half-valid is served.
    with pytest.raises(ArchiveError):
        read(path, "001.jpg", cache)


def test_encrypted_zip_raises(tmp_path: Path, cache: PageCache) -> None:
    path = af.make_encrypted_zip(tmp_path / "locked.cbz", {"1.jpg": af.make_image(20, 20)})
    with pytest.raises(ArchiveError, match="password"):
        list_pages(path)
    with pytest.raises(ArchiveError, match="password"):
        read(path, "1.jpg", cache)


def test_password_flagged_rar_raises(tmp_path: Path, cache: PageCache) -> None:
    path = af.make_password_flagged_rar(tmp_path / "locked.cbr", {"1.jpg": af.make_image(20, 20)})
    with pytest.raises(ArchiveError, match="password"):
        list_pages(path)
    with pytest.raises(ArchiveError):
        read(path, "1.jpg", cache)


# -- hostile names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["cbz", "cb7", "cbr", "tar.gz", "pdf"])
@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "001.jpg\x00", "nope.jpg", "./001.jpg", "0.jpg", "01.jpg", ""]
)
def test_names_not_in_the_archive_raise_keyerror(
    tmp_path: Path, cache: PageCache, fmt: str, name: str
) -> None:
    path = af.make_comic(tmp_path / f"c.{fmt}", 2, fmt)
    with pytest.raises(KeyError):
        read(path, name, cache)
    cache.wait_idle(10)
    on_disk = [p.name for p in af.files_in(cache.root)]
    assert all(len(n) == 40 and all(c in "0123456789abcdef" for c in n) for n in on_disk)


# -- the page cache ----------------------------------------------------------------------------------------


def test_stream_fill_caches_every_member_under_hashed_names(tmp_path: Path, cache: PageCache) -> None:
    path = af.make_comic(tmp_path / "c.cb7", 10, "cb7")
    assert read(path, "001.jpg", cache, "arc1")[:3] == b"\xff\xd8\xff"
    cache.wait_idle(10)
    files = list(af.files_in(cache.root))
    assert len(files) == 10
    assert cache.size() == sum(f.stat().st_size for f in files)
    assert not [f for f in files if f.name.endswith(".tmp") or f.name.endswith(".jpg")]
    # Every later page comes from the cache: no second walk.
    for i in range(2, 11):
        read(path, f"{i:03d}.jpg", cache, "arc1")
    assert cache.walks_started == 1


@pytest.mark.parametrize("fmt", ["cb7", "cbr", "tar.zst"])
def test_concurrent_requests_share_one_walk(tmp_path: Path, cache: PageCache, fmt: str) -> None:
    members = {f"{i:03d}.jpg": data for i, data in enumerate(af.page_images(30, (300, 400)), start=1)}
    path = af.make_archive(tmp_path / f"c.{fmt}", members, fmt)
    list_members(path)  # warm the member list so the threads race on the fill, not on listing
    results: dict[str, bytes] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            results[name] = read(path, name, cache, "same")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    names = ["030.jpg", "001.jpg", "015.jpg"] * 4
    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert all(results[n] == members[n] for n in set(names))
    assert cache.walks_started == 1


def test_lru_evicts_whole_archives(tmp_path: Path) -> None:
    pages = af.page_images(5, (200, 300))
    per_archive = sum(len(p) for p in pages)
    cache = PageCache(tmp_path / "cache", int(per_archive * 1.5))
    a = af.make_archive(tmp_path / "a.cb7", {f"{i}.jpg": p for i, p in enumerate(pages)}, "cb7")
    b = af.make_archive(tmp_path / "b.cb7", {f"{i}.jpg": p for i, p in enumerate(pages)}, "cb7")
    assert read(a, "0.jpg", cache, "a") == pages[0]
    cache.wait_idle(10)
    assert cache.size() == per_archive
    assert read(b, "4.jpg", cache, "b") == pages[4]
    cache.wait_idle(10)
    assert cache.size() == per_archive  # a went, b is whole
    assert len([d for d in cache.root.iterdir() if d.is_dir()]) == 1
    assert read(a, "3.jpg", cache, "a") == pages[3]  # refilled on demand
    cache.wait_idle(10)
    assert cache.size() <= cache.max_bytes
    assert cache.walks_started == 3


def test_archive_bigger_than_the_cache_still_serves_pages(tmp_path: Path) -> None:
    pages = af.page_images(8, (200, 300))
    cache = PageCache(tmp_path / "cache", max(len(p) for p in pages) * 2)
    path = af.make_archive(tmp_path / "big.cbt", {f"{i}.jpg": p for i, p in enumerate(pages)}, "cbt")
    for i in (7, 0, 5):
        assert read(path, f"{i}.jpg", cache) == pages[i]
        cache.wait_idle(10)
        assert cache.size() <= cache.max_bytes + max(len(p) for p in pages)


def test_clear_and_reload(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "cache", 10**8)
    path = af.make_comic(tmp_path / "c.cb7", 4, "cb7")
    read(path, "001.jpg", cache)
    cache.wait_idle(10)
    size = cache.size()
    assert size > 0
    # A new instance adopts the files left on disk but not a half-written .tmp.
    stray = next(d for d in cache.root.iterdir() if d.is_dir()) / ".abc.1.tmp"
    stray.write_bytes(b"half")
    again = PageCache(tmp_path / "cache", 10**8)
    assert again.size() == size
    assert not stray.exists()
    assert again.clear() == 0
    assert again.size() == 0
    assert list(af.files_in(again.root)) == []
    assert read(path, "004.jpg", again)[:3] == b"\xff\xd8\xff"


def test_zip_reads_do_not_use_the_cache(tmp_path: Path, cache: PageCache) -> None:
    path = af.make_comic(tmp_path / "c.cbz", 3, "cbz")
    read(path, "002.jpg", cache)
    assert cache.size() == 0
    assert cache.walks_started == 0


def test_first_page_does_not_wait_for_the_whole_fill(tmp_path: Path, cache: PageCache) -> None:
    # Drive the cache with a walker that stalls after the first member: the request must still return.
    release = threading.Event()

    def walker(sink) -> None:
        sink("001.jpg", 3, iter([b"one"]))
        assert release.wait(10)
        sink("002.jpg", 3, iter([b"two"]))

    assert cache.fetch("k", "001.jpg", walker) == b"one"
    release.set()
    assert cache.fetch("k", "002.jpg", walker) == b"two"
    assert cache.walks_started == 1


def test_walk_failure_midway_keeps_what_was_written(tmp_path: Path, cache: PageCache) -> None:
    def walker(sink) -> None:
        sink("001.jpg", 3, iter([b"one"]))
        raise ArchiveError("Truncated RAR file data")

    with pytest.raises(ArchiveError, match="Truncated"):
        cache.fetch("k", "002.jpg", walker)
    assert cache.fetch("k", "001.jpg", walker) == b"one"
    with pytest.raises(KeyError):
        cache.fetch("k2", "zzz.jpg", lambda sink: sink("a.jpg", 1, iter([b"a"])))


def test_cbw_is_refused_as_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "web.cbw"
    path.write_text("<WebComic><Images><Image Url='http://x/1.jpg'/></Images></WebComic>")
    with pytest.raises(ArchiveError):
        list_pages(path)


# -- PDF ---------------------------------------------------------------------------------------------------


def test_pdf_pages_render_at_200_dpi(tmp_path: Path, cache: PageCache) -> None:
    path = af.make_pdf(tmp_path / "doc.pdf", 3, size=(144, 216))  # 2 x 3 inches at 72 dpi
    assert list_pages(path) == ["1.jpg", "2.jpg", "3.jpg"]
    assert list_members(path) == ["1.jpg", "2.jpg", "3.jpg"]
    data = read(path, "2.jpg", cache, "pdf")
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert img.size == (400, 600)
    assert cache.size() == len(data)  # rendered once, then cached
    assert read(path, "2.jpg", cache, "pdf") == data
    with pytest.raises(KeyError):
        read(path, "4.jpg", cache, "pdf")


def test_pdf_hostile_page_size_is_capped(tmp_path: Path, cache: PageCache) -> None:
    path = tmp_path / "huge.pdf"
    # 200 px at 1 dpi = a 200-inch square page: 40000 x 40000 px at 200 DPI if uncapped.
    Image.new("RGB", (200, 200), (10, 20, 30)).save(path, "PDF", resolution=1.0)
    img = Image.open(io.BytesIO(read(path, "1.jpg", cache)))
    assert img.width * img.height <= pdfmod.MAX_PIXELS


def test_pdf_detected_by_content_and_corrupt_pdf_raises(tmp_path: Path, cache: PageCache) -> None:
    real = af.make_pdf(tmp_path / "a.pdf", 2)
    renamed = tmp_path / "a.cbz"
    real.rename(renamed)
    assert list_pages(renamed) == ["1.jpg", "2.jpg"]
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    with pytest.raises(ArchiveError):
        list_pages(bad)


# -- mime --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp"),
     ("BMP", "image/bmp"), ("TIFF", "image/tiff")],
)  # fmt: skip
def test_sniff_real_images(fmt: str, mime: str) -> None:
    assert sniff_mime(af.make_image(8, 8, fmt), "wrong.txt") == mime


def test_sniff_avif_when_pillow_can_write_it() -> None:
    try:
        data = af.make_image(8, 8, "AVIF")
    except (KeyError, OSError, ValueError):
        pytest.skip("Pillow built without AVIF")
    assert sniff_mime(data) == "image/avif"


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "", "image/avif"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "", "image/heif"),
        (b"\xff\x0a\x00\x00", "", "image/jxl"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00", "", "image/jxl"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "", "image/svg+xml"),
        (b"hello", "notes.TXT", "text/plain"),
        (b"", "x.jfif", "image/jpeg"),
        (b"\x01\x02\x03", "x.bin", "application/octet-stream"),
        (b"\x01\x02\x03", "", "application/octet-stream"),
    ],
)
def test_sniff_bytes_then_extension(data: bytes, name: str, mime: str) -> None:
    assert sniff_mime(data, name) == mime


def test_public_names() -> None:
    for name in ("list_pages", "list_members", "read_member", "order_pages", "PageCache", "sniff_mime"):
        assert hasattr(formats, name)


@pytest.mark.parametrize(
    ("data", "mime"),
    [(af.make_image(8, 8, "JPEG"), "image/jpeg"), (af.make_image(8, 8, "PNG"), "image/png"),
     (af.make_image(8, 8, "GIF"), "image/gif"), (af.make_image(8, 8, "WEBP"), "image/webp"),
     (af.make_image(8, 8, "BMP"), "image/bmp"), (b"\xff\x0a\xfa\x7f", "image/jxl"),
     (b"\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00", "image/jxl"),
     (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
     (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
     (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "image/heif"),
     (b"<!doctype html><script>alert(1)</script>", None), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
     (b'<?xml version="1.0"?><svg/>', None), (b"%PDF-1.7\n", None), (af.make_image(8, 8, "TIFF"), None),
     (b"BM but a text file that starts with BM", None), (b"", None), (b"\x00" * 64, None),
     (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42", None)],
)  # fmt: skip
def test_sniff_image_trusts_magic_bytes_only(data: bytes, mime: str | None) -> None:
    assert formats.sniff_image(data[:32]) == mime
