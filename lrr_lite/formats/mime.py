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
