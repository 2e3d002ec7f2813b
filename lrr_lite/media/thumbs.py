"""Thumbnails (SEMANTICS §9) and reader resizing (§10) with Pillow, kept small enough for a 1 GB Pi.

Memory is the constraint that shapes this module: a 10000x14000 page decoded in full is 420 MB of RGB, so
JPEGs are decoded at reduced DCT scale (Image.draft), every image's header size is checked against a pixel
cap before any pixel is decoded, a process-wide semaphore bounds how many decodes run at once, and each
decode holds what it will allocate (estimated from the header) in the process memory budget
(memory.budget()) for as long as it runs. Only the first frame of an animation is ever decoded.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

from lrr_lite.errors import Busy, ImageError
from lrr_lite.media import memory

MAX_PIXELS = 200_000_000
# Only JPEG decodes at reduced scale; every other format is decoded whole (4 bytes a pixel with alpha), so
# two concurrent 50 MP PNGs already take ~400 MB. Past this they get the placeholder instead of an OOM kill.
MAX_FULL_DECODE_PIXELS = 50_000_000

# Pillow's bomb check is process-global and errors from 2 * 89.5 MP, i.e. below MAX_PIXELS, and warns from
# 89.5 MP (a 140 MP scan would warn on every call). Lift it so our per-call cap decides; Pillow's check
# stays as a backstop at twice the cap.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Formats a comic page plausibly uses. An allowlist keeps hostile archive members away from rarely exercised
# decoders (and from EPS, which Pillow renders by running Ghostscript).
_ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")

# EXIF orientation -> transpose that makes the image upright (as in ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Bytes per pixel of Pillow's image buffers: every multi-band mode is stored 4 bytes a pixel ("RGB" too).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_NATIVE_MODES = ("L", "LA", "RGB", "RGBA")  # resized as they are; every other mode is converted first

_slots = threading.BoundedSemaphore(2)


def set_decode_concurrency(n: int) -> None:
    """Bound concurrent decodes to n. Meant for startup: holders of the old bound finish under it."""
    global _slots
    if n < 1:
        raise ValueError("decode concurrency must be >= 1")
    _slots = threading.BoundedSemaphore(n)


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process-wide decode slots (blocks while all are taken)."""
    sem = _slots  # bound once, so we release the semaphore we acquired even if it is replaced meanwhile
    with sem:
        yield


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """ImageMagick's `-resize WxH` geometry (enlarges too): scale by the tighter side, round half up."""
    w, h = size
    scale = min(box[0] / w, box[1] / h)
    return max(1, math.floor(scale * w + 0.5)), max(1, math.floor(scale * h + 0.5))


def _to_width(size: tuple[int, int], width: int) -> tuple[int, int]:
    """Scale to `width` px wide, never enlarging (ImageMagick `-resize W>`)."""
    w, h = size
    if w <= width:
        return size
    return width, max(1, math.floor(width / w * h + 0.5))


@cache
def _formats() -> tuple[str, ...]:
    Image.init()
    # Image.open raises KeyError for a format this Pillow build lacks (e.g. AVIF), so drop those.
    return tuple(f for f in _ALLOWED_FORMATS if f in Image.OPEN)


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block should cost the rotation, not the thumbnail
        return 1
    return value if isinstance(value, int) else 1


def _normalize(im: Image.Image) -> Image.Image:
    """Convert to L, LA, RGB or RGBA: modes Pillow resizes with antialiasing (alpha premultiplied)."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        if "transparency" in im.info and mode in ("L", "RGB"):  # PNG tRNS colour key
            return im.convert("LA" if mode == "L" else "RGBA")
        return im
    if mode == "P":
        has_alpha = "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA"
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode in ("PA", "RGBa"):
        return im.convert("RGBA")
    if mode == "La":
        return im.convert("LA")
    if mode.startswith("I;16"):
        # Pillow's I;16 -> L conversion clips at 255 instead of scaling, turning most 16-bit greys white.
        return im.convert("I").point(lambda v: v / 256).convert("L")
    if mode == "I":
        if (im.getextrema()[1] or 0) > 255:  # type: ignore[operator]  # 16-bit data held in 32-bit ints
            im = im.point(lambda v: v / 256)
        return im.convert("L")
    if mode in ("1", "F"):
        return im.convert("L")
    return im.convert("RGB")  # CMYK (Adobe inversion handled by the JPEG plugin), YCbCr, LAB, HSV


def _flatten(im: Image.Image) -> Image.Image:
    """RGB for JPEG, with any alpha composited on white (transparent pages are meant to be read on paper)."""
    if im.mode in ("LA", "RGBA"):
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im.convert("RGBA"), mask=im.getchannel("A"))
        return bg
    return im if im.mode == "RGB" else im.convert("RGB")


def _jpeg_coefficient_bytes(im: Image.Image, size: tuple[int, int]) -> int:
    """What libjpeg holds for a progressive JPEG: every DCT coefficient (2 bytes) of every component at full
    resolution until the last scan, whatever the draft scale. Baseline JPEGs decode a row of blocks at a time."""
    if not im.info.get("progressive"):
        return 0
    layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * len(im.getbands())
    hmax = max(layer[1] for layer in layers) or 1
    vmax = max(layer[2] for layer in layers) or 1
    w, h = size
    return sum(2 * math.ceil(w * layer[1] / hmax) * math.ceil(h * layer[2] / vmax) for layer in layers)


def _decode_bytes(im: Image.Image, full: tuple[int, int], target: tuple[int, int]) -> int:
    """Upper estimate of what decoding `im` (already drafted) and scaling it to `target` allocates."""
    pixels = im.size[0] * im.size[1]
    need = pixels * _MODE_BYTES.get(im.mode, 4)
    if im.mode not in _NATIVE_MODES or "transparency" in im.info:
        need += pixels * 8  # _normalize's full-size conversion (two steps for 16-bit greys)
    need += target[0] * target[1] * 8  # the resized image and its flattened RGB copy
    if im.format == "JPEG":
        need += _jpeg_coefficient_bytes(im, full)
    return need


def _render(
    data: bytes, size_for: Callable[[tuple[int, int]], tuple[int, int]], quality: int, max_pixels: int
) -> bytes:
    """Decode `data`, scale it to size_for(upright size), make it upright RGB and encode it as JPEG."""
    with decode_slot():
        try:
            im = Image.open(io.BytesIO(data), formats=_formats())
            w, h = im.size  # header only so far: nothing big has been allocated
            if w < 1 or h < 1:
                raise ImageError(f"image has no pixels ({w}x{h})")
            if w * h > max_pixels:
                raise ImageError(f"image too large to decode safely ({w}x{h} > {max_pixels} pixels)")
            if im.format != "JPEG" and w * h > min(max_pixels, MAX_FULL_DECODE_PIXELS):
                raise ImageError(f"{im.format} image too large to decode whole safely ({w}x{h} pixels)")
            orientation = _orientation(im)
            swap = orientation in (5, 6, 7, 8)  # these orientations are stored sideways
            tw, th = size_for((h, w) if swap else (w, h))
            target = (th, tw) if swap else (tw, th)
            region: tuple[float, float, float, float] | None = None
            if im.format == "JPEG":
                # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, never below target; the returned box is
                # the exact image area within the (rounded up) reduced frame.
                drafted = im.draft("RGB", target)
                if drafted is not None:
                    region = drafted[1]
            need = len(data) + _decode_bytes(im, (w, h), target)  # the encoded bytes are held throughout
            with memory.budget().reserve(need, f"decoding a {w}x{h} {im.format} image", ImageError):
                return _finish(im, target, region, orientation, quality)
        except (ImageError, Busy):  # Busy: no fault of the image, to be answered as "try again" (503)
            raise
        except Image.DecompressionBombError as e:  # Pillow's global backstop, for callers raising max_pixels
            raise ImageError(f"image too large to decode safely: {e}") from e
        except Exception as e:
            # Pillow plugins raise OSError, SyntaxError, ValueError, struct.error, ... on hostile input.
            raise ImageError(f"cannot decode image: {type(e).__name__}: {e}") from e


def _finish(
    im: Image.Image,
    target: tuple[int, int],
    region: tuple[float, float, float, float] | None,
    orientation: int,
    quality: int,
) -> bytes:
    """Decode (the first frame only: load() never seeks), scale, make upright and encode as JPEG."""
    im.load()
    im = _normalize(im)
    if im.size != target or region is not None:
        shrinking = target[0] < im.size[0]
        # Shrinking uses BOX, which Pillow applies as an area average (OpenCV's INTER_AREA): the
        # classic decimation filter, ~45 dB PSNR against Lanczos here, and 1.5x faster than
        # bilinear, which matters on a Pi. Enlarging needs a smooth interpolator instead: BILINEAR,
        # 35 dB against bicubic on a 200x300 page enlarged 2.5x to a cover (0.5 dB further from the
        # page drawn at full size; a browser shows the cover at half that size anyway) at 2/3 of its
        # time, the bulk of a small page's cover (HAMMING, as fast, shows jagged diagonals).
        resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
        im = im.resize(target, resample, box=region)
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])
    im = _flatten(im)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def make_thumbnail(
    data: bytes, *, box: tuple[int, int] = (500, 1000), quality: int = 80, max_pixels: int = MAX_PIXELS
) -> bytes:
    """JPEG of the image fitted inside `box` keeping aspect, small images enlarged (as LANraragi does)."""
    return _render(data, lambda size: _fit(size, box), quality, max_pixels)


def resize_for_reader(
    data: bytes, *, width: int = 1064, quality: int = 50, max_pixels: int = MAX_PIXELS
) -> bytes:
    """JPEG of the image scaled down to at most `width` px wide (never enlarged); for reader/OPDS resizing."""
    return _render(data, lambda size: _to_width(size, width), quality, max_pixels)


@cache
def placeholder_png() -> bytes:
    """A grey 200x280 "no thumbnail" PNG, served when a thumbnail does not exist (yet)."""
    im = Image.new("L", (200, 280), 200)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, 199, 279), outline=150, width=2)
    draw.text((100, 140), "no thumbnail", fill=90, anchor="mm")
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    return out.getvalue()


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_atomic(dest: Path, data: bytes) -> None:
    """Write via a temp file in dest's directory and os.replace, so readers never see a partial file.

    No fsync: thumbnails are a rebuildable cache and an fsync per file is slow on SD cards. The temp name is
    the writer's own (process and thread), not mkstemp's random one: mkstemp's Python cost a cover 5 %.
    """
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, _TEMP_FLAGS, 0o644)
    except FileNotFoundError:  # the folder is made on first use only: a mkdir per file costs a cover 5 %
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _TEMP_FLAGS, 0o644)
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: a reverse proxy may serve these files
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
