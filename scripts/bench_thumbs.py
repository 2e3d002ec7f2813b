"""Benchmark lrr_lite.thumbs: cover thumbnail time and peak memory on a 140 MP page.

Usage: .venv/bin/python scripts/bench_thumbs.py [--runs 15]
Targets: cover_thumb_1400x2000_ms median <= 15, peak_rss_10000x14000_mb absolute <= 150.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lrr_lite.media import memory
from lrr_lite.media.thumbs import make_thumbnail

# Runs in a fresh interpreter. Linux carries ru_maxrss across fork+exec, so the parent must not have held
# big buffers before spawning it (the huge page is generated in its own child); VmHWM (per address space,
# reset by exec) is printed as a cross-check.
_RSS_CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[2])
from lrr_lite.media import memory
from lrr_lite.media.thumbs import make_thumbnail
memory.limit_arenas()  # the server's malloc settings (lrr-lite serve sets them at start)
def mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
base = mb()
with open(sys.argv[1], "rb") as f:
    data = f.read()
out = make_thumbnail(data)
print(f"{base:.1f} {mb():.1f} {hwm():.1f}")
"""


def page(size: tuple[int, int], noise: float, blur: float) -> Image.Image:
    """Photographic-ish content: gradients plus grain, so JPEG and PNG can't compress it away."""
    w, h = size
    lin = Image.linear_gradient("L").resize(size)
    rad = Image.radial_gradient("L").resize(size)
    grain = Image.effect_noise(size, noise)
    im = Image.merge("RGB", (lin, Image.blend(rad, grain, 0.5), Image.blend(lin, grain, 0.3)))
    return im.filter(ImageFilter.GaussianBlur(blur)) if blur else im


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: plugin imports, allocator
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_huge(path: Path) -> None:
    """A 140 MP scan: content built at 1/8 scale and enlarged (fast), with full-size grain on top so the
    file has a realistic size for a high-resolution page."""
    big = page((1250, 1750), noise=0, blur=0).resize((10000, 14000), Image.Resampling.BILINEAR)
    big = Image.blend(big, Image.merge("RGB", [Image.effect_noise((10000, 14000), 20)] * 3), 0.15)
    big.save(path, "JPEG", quality=85)


def peak_rss(runs: int) -> None:
    root = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.jpg"
        subprocess.run([sys.executable, __file__, "--make-huge", str(path)], check=True)
        size_mb = path.stat().st_size / 2**20
        results = []
        for _ in range(runs):
            res = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD, str(path), root],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append([float(x) for x in res.stdout.split()])
    base, peak, hwm = (statistics.median(col) for col in zip(*results, strict=True))
    print(
        f"peak_rss_10000x14000_mb={peak:.1f} delta={peak - base:.1f} (after import {base:.1f}, "
        f"VmHWM {hwm:.1f}, jpeg {size_mb:.1f} MB, median of {runs} processes, target absolute <= 150)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--make-huge", type=Path, help=argparse.SUPPRESS)  # internal: child process mode
    args = parser.parse_args()
    if args.make_huge:
        make_huge(args.make_huge)
        return

    peak_rss(3)  # first, while this process is still small (see _RSS_CHILD)
    memory.limit_arenas()  # time thumbnails under the server's malloc settings

    cover = page((1400, 2000), noise=25, blur=0.7)
    jpeg = encode(cover, "JPEG", quality=85)
    ms = median_ms(lambda: make_thumbnail(jpeg), args.runs)
    print(f"cover_thumb_1400x2000_ms median={ms:.1f} (jpeg {len(jpeg) // 1024} KB, target <= 15)")

    png = encode(cover, "PNG", compress_level=6)
    ms = median_ms(lambda: make_thumbnail(png), args.runs)
    print(f"png_thumb_1400x2000_ms median={ms:.1f} (png {len(png) // 1024} KB, information)")


if __name__ == "__main__":
    main()
