"""Page listing and first-page latency on realistic comics (~1400x2000 JPEG pages, 200-400 KB each).

Prints one line per figure, e.g. `cbz_first_page_ms median=1.23 runs=15`. Figures are medians of several runs;
"cold" list figures clear lrr_lite's in-process list memo, the OS page cache stays warm throughout.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import libarchive
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import archive_factory as af  # noqa: E402

from lrr_lite.media import formats
from lrr_lite.media.formats import PageCache, list_pages, order_pages, read_member, zipreader

# 40 distinct encodes, ~12 MB per cycle: more than LZMA's 8 MiB dictionary, so a 7z cannot shrink repeats.
DISTINCT = 40


def page_bytes(n_pages: int) -> list[bytes]:
    base = Image.linear_gradient("L").resize((1400, 2000))
    encodes = []
    for i in range(DISTINCT):
        noise = Image.effect_noise((1400, 2000), 12 + i % 9).filter(ImageFilter.GaussianBlur(1))
        img = Image.merge("RGB", (Image.blend(base, noise, 0.5), noise, base.rotate(180 * (i % 2))))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        encodes.append(buf.getvalue())
    # Bytes after EOI are ignored by decoders; they make every member unique without re-encoding.
    return [encodes[i % DISTINCT] + f"page-{i:04d}".encode() for i in range(n_pages)]


def median_ms(fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def report(name: str, value: float, runs: int, unit: str = "ms") -> None:
    print(
        f"{name}_{unit} median={value:.2f} runs={runs}" if unit else f"{name} median={value:.2f} runs={runs}"
    )


def full_walk(path: Path) -> None:
    """What a whole-archive extraction costs: every member decompressed, nothing kept."""
    with libarchive.file_reader(str(path)) as arc:
        for entry in arc:
            for _block in entry.get_blocks(256 * 1024):
                pass


def bench_stream(label: str, path: Path, first: str, tmp: Path, runs: int) -> None:
    caches: list[PageCache] = []

    def fresh_cache() -> None:
        # The previous run's fill must not compete with this run's first page.
        for c in caches:
            c.wait_idle()
            shutil.rmtree(c.root, ignore_errors=True)
        formats._memo.clear()
        root = tmp / f"cache-{label}-{len(caches)}"
        caches.append(PageCache(root, 2 * 1024**3))

    first_ms = median_ms(lambda: read_member(path, first, cache=caches[-1], key=label), runs, fresh_cache)
    slow_runs = max(3, runs // 2)  # whole-archive passes of a 75 MB 7z take seconds each
    fill_ms = median_ms(
        lambda: (read_member(path, first, cache=caches[-1], key=label), caches[-1].wait_idle()),
        slow_runs,
        fresh_cache,
    )
    walk_ms = median_ms(lambda: full_walk(path), slow_runs)
    cached_ms = median_ms(lambda: read_member(path, first, cache=caches[-1], key=label), runs * 3)
    for c in caches:
        c.wait_idle()
        shutil.rmtree(c.root, ignore_errors=True)
    report(f"{label}_first_page", first_ms, runs)
    report(f"{label}_full_fill", fill_ms, slow_runs)
    report(f"{label}_sequential_walk", walk_ms, slow_runs)
    print(f"{label}_first_page_vs_walk ratio={first_ms / walk_ms:.3f} runs={runs}/{slow_runs}")
    report(f"{label}_cached_page", cached_ms, runs * 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    n, runs = args.pages, args.runs

    with tempfile.TemporaryDirectory(prefix="bench_pages-") as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        pages = page_bytes(n)
        members = {f"{i:04d}.jpg": data for i, data in enumerate(pages, start=1)}
        cbz = af.make_archive(tmp / "book.cbz", members, "cbz")
        cb7 = af.make_archive(tmp / "book.cb7", members, "cb7")
        rar = af.make_archive(tmp / "book.cbr", members, "cbr")
        avg_kb = sum(map(len, pages)) / len(pages) / 1024
        print(f"# {n} pages, {avg_kb:.0f} KB average; cbz {cbz.stat().st_size >> 20} MB, "
              f"cb7 {cb7.stat().st_size >> 20} MB; generated in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        report(
            "cbz_list_order", median_ms(lambda: order_pages(zipreader.list_pages(cbz)), runs * 3), runs * 3
        )
        report(
            "cbz_list_pages_cold", median_ms(lambda: list_pages(cbz), runs * 3, formats._memo.clear), runs * 3
        )
        report("cbz_list_pages_memo", median_ms(lambda: list_pages(cbz), runs * 3), runs * 3)
        cache = PageCache(tmp / "cache-cbz", 1024**3)
        first = list_pages(cbz)[0]
        report("cbz_first_page", median_ms(lambda: read_member(cbz, first, cache=cache, key="cbz"), runs * 3),
               runs * 3)  # fmt: skip
        with zipfile.ZipFile(cbz) as zf:
            assert zf.read(first) == read_member(cbz, first, cache=cache, key="cbz")

        report("cb7_list_pages_cold", median_ms(lambda: list_pages(cb7), runs, formats._memo.clear), runs)
        bench_stream("cb7", cb7, first, tmp, runs)
        if shutil.which("rar"):
            rar_real = af.make_archive(tmp / "real.cbr", members, "cbr", rar_tool=True)
            bench_stream("cbr", rar_real, first, tmp, runs)
        else:
            print(
                "# rar tool not installed: cbr figures are for a store-only RAR 4 (archive_factory's writer)"
            )
            bench_stream("cbr_store", rar, first, tmp, runs)


if __name__ == "__main__":
    main()
