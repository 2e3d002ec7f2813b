"""Page-turn latency of the web reader in headless Chromium: keypress -> the new page painted.

Usage: .venv/bin/python scripts/bench_reader.py [--pages 300] [--turns 50] [--pace 0.4] [--mode single] [--wifi]

A --pages cbz of 1200x1700 JPEG pages (about a phone photo's weight each) is served by `lrr-lite serve` in a
subprocess; Chromium (Debian's chromium + chromium-driver, through tests/webdriver.py) opens the reader at a
1280x1000 window and presses the right arrow --turns times, --pace seconds apart (a reader looks at a page
before turning it; the reader preloads the next two pages meanwhile). Each latency is measured in the page:
from the keydown event's time to the first moment after the frame that shows the new page (a task posted from
requestAnimationFrame runs once that frame has been produced). Printed: every turn's figure with --verbose,
then median, 90th percentile and maximum; then the same for 20 jumps with the slider to pages 40, 45, 50 ...
which nothing preloaded: those include fetching and decoding. On loopback a
page arrives in a few ms, so --wifi slows Chromium's network to a Wi-Fi link's, where preloading matters.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
from _harness import LRR_LITE, ServerProcess, require_installed  # noqa: E402  (path set up above)
from webdriver import KEY_RIGHT, Browser, missing  # noqa: E402

# In the page: the time of each keydown, and when the view it asked for was on screen (painted).
PROBE = """
window.__turns = [];
document.addEventListener('keydown', function (e) { window.__t0 = performance.now(); }, true);
new MutationObserver(function () {
  var t0 = window.__t0;
  if (t0 === undefined) return;
  window.__t0 = undefined;
  requestAnimationFrame(function () {
    var ch = new MessageChannel();
    ch.port1.onmessage = function () { window.__turns.push(performance.now() - t0); };
    ch.port2.postMessage(0);
  });
}).observe(document.body, {attributes: true, attributeFilter: ['data-shown']});
"""


def make_cbz(path: Path, pages: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(1, pages + 1):
            img = Image.new("RGB", (1200, 1700), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
            draw = ImageDraw.Draw(img)
            for y in range(0, 1700, 40):  # some detail, so a page weighs like a page
                draw.line((0, y, 1200, (y * 7 + i * 13) % 1700), fill=((y * 3) % 256, 255 - i % 256, 90), width=3)
            draw.text((60, 60), f"page {i}", fill=(0, 0, 0))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=85)
            zf.writestr(f"{i:04d}.jpg", buf.getvalue())


def run(browser: Browser, url: str, turns: int, pace: float, mode: str, jumps: bool = False) -> list[float]:
    browser.get(url)
    browser.wait(lambda: browser.script("return document.body.dataset.shown") == "1", 60, "page 1 shown")
    if mode != "single":
        browser.script("var m=document.getElementById('mode'); m.value=arguments[0];"
                       "m.dispatchEvent(new Event('change'))", mode)
        browser.wait(lambda: browser.script("return document.body.dataset.shown"), 30, "first view")
    browser.script(PROBE)
    time.sleep(max(pace, 0.5))  # the first preloads
    for k in range(turns):
        if jumps:  # the slider, to a page never fetched: timed from the change, as a keypress would be
            browser.script("window.__t0 = performance.now(); var s = document.getElementById('seek');"
                           "s.value = String(arguments[0]); s.dispatchEvent(new Event('change'))", 40 + 5 * k)
        else:
            browser.keys(KEY_RIGHT)
        browser.wait(lambda k=k: browser.script("return window.__turns.length") > k, 30, f"turn {k + 1} painted")
        if pace:
            time.sleep(pace)
    return browser.script("return window.__turns")


def report(name: str, values: list[float], verbose: bool) -> None:
    if verbose:
        print(name, " ".join(f"{v:.1f}" for v in values))
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(f"{name}: median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms, max {max(values):.1f} ms "
          f"({len(values)} turns)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--pace", type=float, default=0.4, help="seconds between turns (0: as fast as possible)")
    parser.add_argument("--mode", default="single", choices=("single", "double"))
    parser.add_argument("--wifi", action="store_true",
                        help="emulate a Wi-Fi link in Chromium (20 ms latency, 40 Mbit/s), as a phone reading a Pi")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    require_installed()
    reason = missing()
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp_name:
        tmp = Path(tmp_name)
        content, data = tmp / "content", tmp / "data"
        content.mkdir()
        started = time.perf_counter()
        make_cbz(content / "Long.cbz", args.pages)
        print(f"{args.pages}-page cbz: {(content / 'Long.cbz').stat().st_size / 1e6:.1f} MB, "
              f"made in {time.perf_counter() - started:.1f} s")
        subprocess.run([str(LRR_LITE), "scan", "--content", str(content), "--data", str(data)], check=True,
                       capture_output=True)
        server = ServerProcess(content, data, tmp / "server.log")
        base = f"http://127.0.0.1:{server.port}"
        browser = None
        try:
            server.wait_until(lambda: requests.get(base + "/api/info", timeout=5).ok, 60)
            arcid = requests.get(base + "/api/archives", timeout=30).json()[0]["arcid"]
            browser = Browser(1280, 1000)
            if args.wifi:  # through chromedriver's DevTools passthrough
                browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Network.enable", "params": {}})
                browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Network.emulateNetworkConditions", "params": {
                    "offline": False, "latency": 20, "downloadThroughput": 40e6 / 8, "uploadThroughput": 40e6 / 8}})
            url = f"{base}/reader?id={arcid}&page=1"
            report(f"{args.mode}, pace {args.pace}s", run(browser, url, args.turns, args.pace, args.mode),
                   args.verbose)
            # for contrast, views that were not preloaded: jumps with the slider to pages never fetched
            report(f"{args.mode}, slider jumps (not preloaded)",
                   run(browser, url, 20, args.pace, args.mode, jumps=True), args.verbose)
        finally:
            if browser is not None:
                browser.quit()
            server.stop()


if __name__ == "__main__":
    main()
