"""Make the README's screenshots (docs/screenshots/library.png and archive.png) from a generated library.

    .venv/bin/python docs/screenshots/make_screenshots.py

Builds a throwaway library of 30 archives whose covers are drawn here (coloured shapes and a title, like a
real shelf), serves it on 127.0.0.1 as `lrr-lite serve` would, opens the library page and one archive page in
headless Chromium at 1280x1000 (tests/webdriver.py: Debian's chromium and chromium-driver), and writes each
screenshot quantized to a palette so that it stays under 150 KB. Nothing outside a temporary folder and the two
PNG files is written.
"""

from __future__ import annotations

import base64
import io
import random
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests
import waitress
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from webdriver import Browser  # noqa: E402

from lrr_lite import config  # noqa: E402
from lrr_lite.context import Context  # noqa: E402
from lrr_lite.http.app import create_app  # noqa: E402

OUT = Path(__file__).resolve().parent
LIMIT = 150 * 1024
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SERIES = [("Harbour Lights", "artist:mira kono", "series:harbour lights", "Fishing-town drama in four seasons."),
          ("Clockwork Garden", "artist:tomas ferro", "series:clockwork garden",
           "A gardener repairs the automatons of an abandoned estate."),
          ("Night Train to Osaka", "artist:yuki amane", "series:night train", ""),
          ("The Salt Road", "artist:lena marsh", "series:salt road", "Caravans, storms and one stubborn mule."),
          ("Paper Moons", "artist:mira kono", "series:paper moons", ""),
          ("Orbital Bakery", "artist:sam ode", "series:orbital bakery", "Bread, but in low orbit.")]
GENRES = ["genre:slice of life", "genre:adventure", "genre:comedy", "genre:mystery", "genre:sci-fi",
          "genre:fantasy"]
PALETTES = [((32, 58, 94), (240, 180, 90)), ((120, 30, 45), (250, 220, 200)), ((20, 90, 80), (240, 240, 200)),
            ((70, 40, 110), (250, 200, 120)), ((200, 120, 40), (30, 30, 50)), ((30, 30, 30), (120, 200, 230))]


def cover(title: str, volume: int, seed: int, size: tuple[int, int] = (600, 850)) -> bytes:
    """A cover: a background, a few shapes, the title and volume number."""
    rng = random.Random(seed)
    back, fore = PALETTES[seed % len(PALETTES)]
    img = Image.new("RGB", size, back)
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(5):
        r = rng.randint(60, 260)
        x, y = rng.randint(0, w), rng.randint(150, h)
        shade = tuple(min(255, max(0, c + rng.randint(-40, 40))) for c in fore)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    draw.rectangle((0, 0, w, 250), fill=back)
    big, small = ImageFont.truetype(FONT, 54), ImageFont.truetype(FONT, 34)
    words, lines = title.split(), [""]
    for word in words:
        if draw.textlength((lines[-1] + " " + word).strip(), font=big) > w - 60:
            lines.append(word)
        else:
            lines[-1] = (lines[-1] + " " + word).strip()
    for n, line in enumerate(lines[:2]):
        draw.text((30, 100 + 62 * n), line, font=big, fill=fore)  # below the grid's NEW badge
    draw.rounded_rectangle((w - 130, h - 110, w - 30, h - 30), 16, fill=fore)
    draw.text((w - 80, h - 70), str(volume), font=small, fill=back, anchor="mm")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def build(content: Path) -> list[tuple[str, str, str]]:
    """The archives as CBZ files; returns (file stem, tags, summary) for each."""
    made = []
    seed = 0
    for title, artist, series, summary in SERIES:
        for volume in range(1, 6):
            seed += 1
            stem = f"{title} v{volume:02d}"
            with zipfile.ZipFile(content / f"{stem}.cbz", "w") as zf:
                zf.writestr("000.jpg", cover(title, volume, seed))
                for page in range(1, 4):
                    zf.writestr(f"{page:03d}.jpg", cover(f"{title} page {page}", volume, seed * 7 + page))
            rng = random.Random(seed)
            tags = ", ".join([artist, series, "language:english", *rng.sample(GENRES, 2), f"volume:{volume}"])
            made.append((stem, tags, summary))
    return made


def save_small(png: bytes, path: Path) -> int:
    """The screenshot as a palette PNG under LIMIT (fewer colours until it fits)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 192, 128, 96, 64, 48, 32):
        out = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, "PNG", optimize=True)
        if out.tell() <= LIMIT:
            path.write_bytes(out.getvalue())
            return out.tell()
    raise SystemExit(f"{path.name}: still over {LIMIT} bytes at 32 colours")


def viewport(browser: Browser, w: int, h: int) -> None:
    browser.cmd("POST", "/window/rect", {"width": w, "height": h})
    inner = browser.script("return [window.innerWidth, window.innerHeight]")
    browser.cmd("POST", "/window/rect", {"width": 2 * w - inner[0], "height": 2 * h - inner[1]})


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lrr-shots-") as tmp:
        content, data = Path(tmp) / "content", Path(tmp) / "data"
        content.mkdir()
        made = build(content)
        cfg = config.load(None, {"content": str(content), "data": str(data), "api_key": "shots",
                                 "scan_on_start": True, "job_workers": 2}, environ={})
        ctx = Context.open(cfg)
        ctx.start()
        ctx.settings.set("enablepass", 0)  # every page open: the screenshots show the editing controls
        ctx.settings.set("pagesize", 30)
        ctx.jobs.enqueue("scan_library", [], priority=10)
        ctx.jobs.wait_idle(120)
        server = waitress.create_server(create_app(ctx), host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{server.effective_port}"
        http = requests.Session()
        http.trust_env = False
        ids = {a["filename"]: a["arcid"] for a in http.get(url + "/api/archives").json()}
        for stem, tags, summary in made:
            ctx.archives.update_metadata(ids[stem], stem.replace(" v0", " Vol. "), tags, summary)
        for aid in ids.values():  # the covers made before the browser looks
            deadline = time.monotonic() + 60
            while http.get(f"{url}/api/archives/{aid}/thumbnail", params={"no_fallback": "true"}).status_code != 200:
                if time.monotonic() > deadline:
                    raise SystemExit("covers were not made")
                time.sleep(0.2)
        key = {"Authorization": "Bearer " + base64.b64encode(b"shots").decode()}
        http.put(f"{url}/api/archives/{ids['Harbour Lights v02']}/progress/2", headers=key)
        for stem in ids:  # a library in use: only the last series is new
            if not stem.startswith("Orbital"):
                http.delete(f"{url}/api/archives/{ids[stem]}/isnew", headers=key)
        for cat in http.get(url + "/api/categories").json():  # the default's emoji has no glyph in headless fonts
            http.delete(f"{url}/api/categories/{cat['id']}", headers=key)
        reading = http.put(url + "/api/categories", headers=key, params={"name": "Reading", "pinned": "1"}).json()
        http.put(url + "/api/categories", headers=key, params={"name": "Mira Kono", "search": "artist:mira kono"})
        for stem in ("Harbour Lights v02", "Salt Road v01", "Paper Moons v03"):
            stem = stem if stem in ids else "The " + stem
            http.put(f"{url}/api/categories/{reading['category_id']}/{ids[stem]}", headers=key)
        tank = http.put(url + "/api/tankoubons", headers=key, params={"name": "Harbour Lights"}).json()
        for volume in range(1, 6):
            http.put(f"{url}/api/tankoubons/{tank['tankoubon_id']}/{ids[f'Harbour Lights v{volume:02d}']}", headers=key)
        browser = Browser(1280, 1000)
        try:
            viewport(browser, 1280, 1000)
            for name, path in (("library", "/"), ("archive", f"/archive?id={ids['Harbour Lights v02']}")):
                browser.get(url + path)
                browser.wait(lambda: browser.script(
                    "return Array.from(document.images).every(function (i) { return i.complete; })"), timeout=30,
                    message="images loaded")
                size = save_small(base64.b64decode(browser.cmd("GET", "/screenshot")), OUT / f"{name}.png")
                print(f"{OUT / name}.png: {size} bytes")
        finally:
            browser.quit()
            server.close()
            ctx.close()


if __name__ == "__main__":
    main()
