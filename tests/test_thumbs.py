"""Thumbnails and reader resizing on real images made with Pillow (no mocks)."""

from __future__ import annotations

import io
import resource
import threading
import time
import warnings
from pathlib import Path

import pytest
from archive_factory import png_with_ihdr
from PIL import Image

from lrr_lite.errors import ImageError
from lrr_lite.media import thumbs
from lrr_lite.media.thumbs import (
    decode_slot,
    make_thumbnail,
    placeholder_png,
    resize_for_reader,
    set_decode_concurrency,
    write_atomic,
)


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def jpeg_of(size: tuple[int, int], color: object = (40, 120, 200)) -> bytes:
    return encode(Image.new("RGB", size, color), "JPEG", quality=90)


def open_out(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    assert im.mode == "RGB"
    return im


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.fixture(autouse=True)
def _default_concurrency():
    yield
    set_decode_concurrency(2)


@pytest.fixture(scope="module")
def huge_jpeg() -> bytes:
    """A 10000x14000 JPEG: left third black so orientation and scaling stay checkable."""
    im = Image.new("RGB", (10000, 14000), (230, 230, 230))
    im.paste((0, 0, 0), (0, 0, 3000, 14000))
    data = encode(im, "JPEG", quality=50)
    del im
    return data


# --- sizes: ImageMagick `-resize 500x1000` geometry, enlarging small images ------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1400, 2000), (500, 714)),  # portrait page: width limits
        ((2000, 1000), (500, 250)),  # landscape spread
        ((500, 3000), (167, 1000)),  # very tall strip: height limits
        ((100, 150), (500, 750)),  # small image enlarged
        ((40, 200), (200, 1000)),  # small and tall, enlarged until the height touches
        ((500, 1000), (500, 1000)),  # already exactly the box
    ],
)
def test_thumbnail_fits_box_like_lanraragi(size: tuple[int, int], expected: tuple[int, int]) -> None:
    out = open_out(make_thumbnail(jpeg_of(size)))
    assert out.size == expected
    assert out.width == 500 or out.height == 1000


def test_thumbnail_custom_box_and_quality() -> None:
    src = jpeg_of((800, 600))
    out = open_out(make_thumbnail(src, box=(200, 200), quality=30))
    assert out.size == (200, 150)


def test_png_alpha_composited_on_white() -> None:
    im = Image.new("RGBA", (200, 400), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (0, 0, 100, 400))  # opaque red left half, transparent right half
    out = open_out(make_thumbnail(encode(im, "PNG")))
    assert out.size == (500, 1000)
    assert close(out.getpixel((100, 500)), (255, 0, 0))
    assert close(out.getpixel((400, 500)), (255, 255, 255))


def test_la_and_palette_png_with_transparency() -> None:
    la = Image.new("LA", (100, 100), (0, 0))
    assert close(open_out(make_thumbnail(encode(la, "PNG"))).getpixel((250, 250)), (255, 255, 255))
    p = Image.new("P", (100, 100), 1)
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    p.paste(0, (0, 0, 50, 100))
    out = open_out(make_thumbnail(encode(p, "PNG", transparency=1)))
    assert close(out.getpixel((100, 250)), (0, 0, 0))
    assert close(out.getpixel((400, 250)), (255, 255, 255))  # green index is the transparent one


def test_animated_gif_first_frame() -> None:
    red = Image.new("RGB", (120, 160), (255, 0, 0))
    blue = Image.new("RGB", (120, 160), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = open_out(make_thumbnail(data))
    assert out.size == (500, 667)
    assert close(out.getpixel((250, 333)), (255, 0, 0))


def test_animated_webp_first_frame() -> None:
    green = Image.new("RGB", (300, 200), (0, 200, 0))
    blue = Image.new("RGB", (300, 200), (0, 0, 255))
    data = encode(green, "WEBP", save_all=True, append_images=[blue], duration=100, lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = open_out(make_thumbnail(data))
    assert out.size == (500, 333)
    assert close(out.getpixel((250, 166)), (0, 200, 0))


def test_cmyk_jpeg() -> None:
    data = encode(Image.new("CMYK", (300, 400), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = open_out(make_thumbnail(data))
    assert out.size == (500, 667)
    assert close(out.getpixel((250, 333)), (255, 0, 0), tol=20)


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    data = encode(Image.new("I;16", (64, 64), 32768), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = open_out(make_thumbnail(data))
    assert close(out.getpixel((250, 250)), (128, 128, 128), tol=3)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB"])
def test_plain_modes(mode: str) -> None:
    out = open_out(make_thumbnail(encode(Image.new(mode, (50, 100)), "PNG")))
    assert out.size == (500, 1000)


def test_exif_orientation_applied() -> None:
    # Stored landscape 200x100 (left red, right blue) with orientation 6: shown rotated 90° clockwise, so
    # upright it is 100x200 portrait with red on top.
    im = Image.new("RGB", (200, 100), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = open_out(make_thumbnail(encode(im, "JPEG", quality=95, exif=exif)))
    assert out.size == (500, 1000)
    assert close(out.getpixel((250, 200)), (255, 0, 0), tol=20)
    assert close(out.getpixel((250, 800)), (0, 0, 255), tol=20)


# --- big images and bombs ---------------------------------------------------------------------------------


def test_huge_jpeg_thumbnails_without_bomb_warning(huge_jpeg: bytes) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = open_out(make_thumbnail(huge_jpeg))
    assert out.size == (500, 700)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert close(out.getpixel((50, 350)), (0, 0, 0))  # the black third survives at 150 px
    assert close(out.getpixel((400, 350)), (230, 230, 230))


def test_huge_jpeg_for_reader(huge_jpeg: bytes) -> None:
    assert open_out(resize_for_reader(huge_jpeg)).size == (1064, 1490)


def test_huge_jpeg_refused_under_lower_cap(huge_jpeg: bytes) -> None:
    with pytest.raises(ImageError, match="too large"):
        make_thumbnail(huge_jpeg, max_pixels=100_000_000)


@pytest.mark.parametrize(("w", "h"), [(100_000, 100_000), (15_000, 15_000)])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own, above 200 MP
def test_bomb_header_refused_before_decoding(w: int, h: int) -> None:
    data = png_with_ihdr(w, h)
    assert len(data) < 200
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ImageError, match="too large"):
        make_thumbnail(data)
    with pytest.raises(ImageError, match="too large"):
        resize_for_reader(data)
    # Decoding even the smaller one would take 675 MB and seconds; refusing from the header takes neither.
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_real_image_over_custom_cap_refused() -> None:
    with pytest.raises(ImageError):
        make_thumbnail(jpeg_of((2000, 2000)), max_pixels=1_000_000)
    assert open_out(make_thumbnail(jpeg_of((1000, 1000)), max_pixels=1_000_000)).size == (500, 500)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\0" * 100, b"\x89PNG\r\n\x1a\n" + b"\xff" * 40],
)
def test_garbage_raises_image_error(data: bytes) -> None:
    with pytest.raises(ImageError):
        make_thumbnail(data)
    with pytest.raises(ImageError):
        resize_for_reader(data)


def test_truncated_images_raise_image_error() -> None:
    noisy = Image.effect_noise((400, 600), 80).convert("RGB")
    jpeg = encode(noisy, "JPEG", quality=90)
    png = encode(noisy, "PNG")
    for data in (jpeg[: len(jpeg) // 2], png[: len(png) // 2]):
        with pytest.raises(ImageError):
            make_thumbnail(data)


def test_unlisted_format_refused() -> None:
    # EPS would make Pillow run Ghostscript; it is not a comic page format.
    with pytest.raises(ImageError):
        make_thumbnail(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")


# --- reader resizing ----------------------------------------------------------------------------------------


def test_resize_for_reader_downscales_to_width() -> None:
    out = open_out(resize_for_reader(jpeg_of((3000, 4000))))
    assert out.size == (1064, 1419)
    assert open_out(resize_for_reader(jpeg_of((3000, 4000)), width=500)).size == (500, 667)


@pytest.mark.parametrize("size", [(800, 600), (1064, 3000), (10, 10)])
def test_resize_for_reader_never_enlarges(size: tuple[int, int]) -> None:
    assert open_out(resize_for_reader(encode(Image.new("RGBA", size), "PNG"))).size == size


def test_resize_for_reader_uses_upright_width() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    data = encode(Image.new("RGB", (4000, 2000)), "JPEG", exif=exif)  # upright: 2000 wide, 4000 tall
    assert open_out(resize_for_reader(data)).size == (1064, 2128)


# --- decode slots -------------------------------------------------------------------------------------------


def test_thumbnail_waits_for_a_decode_slot() -> None:
    set_decode_concurrency(1)
    data = jpeg_of((300, 300))
    result: list[bytes] = []
    with decode_slot():  # the only slot is ours: the worker's decode cannot start
        worker = threading.Thread(target=lambda: result.append(make_thumbnail(data)))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not result
    worker.join(10)
    assert not worker.is_alive() and len(result) == 1


def test_slot_bound_holds_under_contention() -> None:
    set_decode_concurrency(2)
    active = 0
    peak = 0
    lock = threading.Lock()
    data = jpeg_of((600, 900))

    def work() -> None:
        nonlocal active, peak
        for _ in range(5):
            with decode_slot():
                with lock:
                    active += 1
                    peak = max(peak, active)
                time.sleep(0.005)
                with lock:
                    active -= 1
            make_thumbnail(data)  # real decodes compete for the same slots meanwhile

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == 2


def test_slot_released_after_error() -> None:
    set_decode_concurrency(1)
    with pytest.raises(ImageError):
        make_thumbnail(b"garbage")
    assert thumbs._slots.acquire(timeout=1)
    thumbs._slots.release()


def test_set_decode_concurrency_rejects_zero() -> None:
    with pytest.raises(ValueError):
        set_decode_concurrency(0)


# --- placeholder and atomic writes --------------------------------------------------------------------------


def test_placeholder_png() -> None:
    data = placeholder_png()
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.size == (200, 280)
    assert placeholder_png() is data  # built once


def test_write_atomic(tmp_path: Path) -> None:
    dest = tmp_path / "ab" / "abcdef" / "1.jpg"
    write_atomic(dest, b"first")
    assert dest.read_bytes() == b"first"
    write_atomic(dest, b"second")
    assert dest.read_bytes() == b"second"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["1.jpg"]  # no temp files left behind
    assert dest.stat().st_mode & 0o777 == 0o644


def test_huge_non_jpeg_is_refused_before_decoding() -> None:
    # A PNG cannot be decoded at reduced scale: past the whole-decode cap it is refused, not decoded.
    buf = io.BytesIO()
    Image.new("L", (8000, 7000), 128).save(buf, "PNG")
    with pytest.raises(ImageError, match="too large"):
        thumbs.make_thumbnail(buf.getvalue())


def test_long_strip_png_fits_the_default_memory_budget() -> None:
    # A webtoon strip, 800x30000 RGB (24 MP, 96 MB decoded in Pillow): a real page the decode budget must admit.
    buf = io.BytesIO()
    Image.new("RGB", (800, 30000), (20, 40, 60)).save(buf, "PNG")
    out = Image.open(io.BytesIO(make_thumbnail(buf.getvalue())))
    assert out.size == (27, 1000)


def test_progressive_jpeg_is_refused_when_its_coefficients_exceed_the_budget() -> None:
    # Progressive JPEGs keep every DCT coefficient in memory whatever the draft scale: ~2 bytes/pixel/component.
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "JPEG", progressive=True)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc2")
    data[sof + 5 : sof + 9] = (12000).to_bytes(2, "big") * 2
    with pytest.raises(ImageError, match="memory budget"):
        make_thumbnail(bytes(data))
