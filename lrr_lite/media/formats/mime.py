"""Content type of a page from its first bytes: archives lie about extensions more often than images do."""

from __future__ import annotations

_BY_EXT = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jfif": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "webp": "image/webp", "bmp": "image/bmp", "avif": "image/avif", "heif": "image/heif", "heic": "image/heic",
    "jxl": "image/jxl", "svg": "image/svg+xml", "tif": "image/tiff", "tiff": "image/tiff",
    "txt": "text/plain", "json": "application/json", "xml": "application/xml", "pdf": "application/pdf",
    "html": "text/html", "htm": "text/html", "css": "text/css", "js": "text/javascript",
}  # fmt: skip
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


def _sniff_isobmff(data: bytes) -> str | None:
    if data[4:8] != b"ftyp":
        return None
    box_len = int.from_bytes(data[0:4], "big")
    major = data[8:12]
    # Compatible brands follow the 4-byte minor version; they tell AVIF apart from other HEIF files.
    compatible = {data[i : i + 4] for i in range(16, min(box_len, len(data), 64), 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and brands & _AVIF_BRANDS):
        return "image/avif"
    if major in _HEIC_BRANDS:
        return "image/heic"
    if brands & _HEIF_BRANDS:
        return "image/heif"
    return None


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM") and len(data) >= 14:
        return "image/bmp"
    if data.startswith(b"\xff\x0a") or data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "image/jxl"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    iso = _sniff_isobmff(data)
    if iso:
        return iso
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return None


def sniff_mime(data: bytes, name: str = "") -> str:
    sniffed = _sniff(data)
    if sniffed:
        return sniffed
    base = name.rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[1].lower() if "." in base else ""
    return _BY_EXT.get(ext, "application/octet-stream")


# Content types a browser may be handed inline as a page: raster formats only, recognised by magic bytes.
# SVG, HTML, PDF and text never qualify (SVG and HTML can carry script), and neither does TIFF, which no page
# name (names.is_page_name) allows and most browsers do not display.
_PAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/jxl", "image/avif", "image/heif",
     "image/heic"}
)  # fmt: skip
# A BMP's "BM" is two ASCII letters; the DIB header size that follows the 14-byte file header tells a real
# bitmap from a text file starting "BM" (sizes of the BITMAPCOREHEADER .. BITMAPV5HEADER variants).
_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def sniff_image(head: bytes) -> str | None:
    """The image content type of a page from its first bytes (32 are enough), or None if it is not an image
    a browser can show: JPEG, PNG, GIF, WebP, BMP, JPEG XL, AVIF, HEIF/HEIC. Never trusts a name."""
    mime = _sniff(head)
    if mime not in _PAGE_TYPES:
        return None
    if mime == "image/bmp" and (len(head) < 18 or int.from_bytes(head[14:18], "little") not in _BMP_DIB_SIZES):
        return None
    return mime
