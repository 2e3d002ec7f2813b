"""Benchmark lrr_lite.thumbs: cover thumbnail time and peak memory on a 140 MP page.

Usage: .venv/bin/python scripts/bench_thumbs.py [--runs 15]
       .venv/bin/python scripts/bench_thumbs.py --covers 2000 [--runs 3]
Targets: cover_thumb_1400x2000_ms median <= 15, peak_rss_10000x14000_mb absolute <= 150;
with --covers N: covers_per_s median >= 300 (the cover job over N freshly imported CBZ of 3 pages of 200x300,
as `lrr-lite scan` runs it after an import; each run with a fresh data folder, files in the OS page cache).
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
from lrr_lite import config  # noqa: E402
from lrr_lite.context import Context  # noqa: E402
from lrr_lite.library import tasks  # noqa: E402
from lrr_lite.library.intake import scan  # noqa: E402
from lrr_lite.media import memory  # noqa: E402
from lrr_lite.media.thumbs import make_thumbnail  # noqa: E402

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


COVERS_TARGET_PER_S = 300


def covers_rate(count: int, runs: int) -> None:
    """The cover job (tasks.regenerate_covers) over `count` imported CBZ, each run on a fresh data folder."""
    import logging
    import zipfile

    logging.basicConfig(level=logging.WARNING)
    memory.limit_arenas()
    pages = [encode(page((200, 300), noise=20 + n, blur=0.5), "JPEG", quality=85) for n in range(8)]
    rates: list[float] = []
    cpu_ms: list[float] = []  # CPU time (all threads) per cover: steadier than the rate on a shared machine
    with tempfile.TemporaryDirectory(prefix="bench_covers_") as tmp:
        content = Path(tmp) / "content"
        for i in range(count):
            folder = content / f"{i // 1000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for n in range(3):
                    zf.writestr(f"{n + 1:03d}.jpg", pages[(i + n) % len(pages)])
                zf.writestr("info.txt", f"cover bench archive {i}\n")
            (folder / f"{i:06d}.cbz").write_bytes(buf.getvalue())
        for path in content.rglob("*.cbz"):
            path.read_bytes()  # warm the OS page cache: the figure is the job's own cost
        for run in range(runs):
            cfg = config.load(None, {"content": str(content), "data": str(Path(tmp) / f"data{run}"),
                                     "scan_on_start": False})
            ctx = Context.open(cfg)
            try:
                report = scan.scan(ctx.ingest, content)
                if report.added != count:
                    raise SystemExit(f"imported {report.added}/{count}")
                start, cpu = time.perf_counter(), time.process_time()
                result = tasks.regenerate_covers(ctx, force=False)
                seconds = time.perf_counter() - start
                cpu_ms.append((time.process_time() - cpu) * 1000 / count)
                made = sum(1 for _ in cfg.thumbs.glob("*/*.jpg"))
                if result["errors"] or made != count:
                    raise SystemExit(f"covers made {made}/{count}, errors {list(result['errors'].items())[:3]}")
            finally:
                ctx.close()
            rates.append(count / seconds)
    print(f"covers_{count}_per_s median={statistics.median(rates):.0f} runs=[{', '.join(f'{r:.0f}' for r in rates)}] "
          f"(target >= {COVERS_TARGET_PER_S}); cpu_ms_per_cover median={statistics.median(cpu_ms):.2f} "
          f"(2 cores reach {COVERS_TARGET_PER_S}/s at <= {2000 / COVERS_TARGET_PER_S:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--make-huge", type=Path, help=argparse.SUPPRESS)  # internal: child process mode
    parser.add_argument("--covers", type=int, metavar="N", help="time the cover job over N archives instead")
    args = parser.parse_args()
    if args.covers:
        covers_rate(args.covers, args.runs)
        return
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
