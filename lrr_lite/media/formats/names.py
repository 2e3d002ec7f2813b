"""Archive and page names: which files are archives, which members are pages, and page order (SEMANTICS §2)."""

from __future__ import annotations

import re

ARCHIVE_EXTENSIONS: tuple[str, ...] = (
    "zip", "rar", "7z", "tar", "tar.gz", "lzma", "xz", "cbz", "cbr", "cb7", "cbt", "cbw", "pdf", "epub",
    "tar.zst", "zst",
)  # fmt: skip

# The empty alternative reproduces LANraragi's is_image quirk: a name ending in a bare "." counts as a page.
_PAGE_RE = re.compile(
    r".+\.(?:png|jpg|gif|bmp|jpeg|jfif|webp|avif|heif|heic|jxl|)", re.IGNORECASE | re.DOTALL
)
_DIGITS_RE = re.compile(r"[0-9]+")
# Same regexes as LANraragi's get_filelist, so odd names partition exactly as the reference does.
_COVER_RE = re.compile(r"^(?!.*(?:back|end|rear|recover|discover)).*cover", re.IGNORECASE | re.DOTALL)
_CREDIT_RE = re.compile(
    r"^end_card_save_file|notes\.[^.]*$|note\.[^.]*$|^artist_info|credit|^999", re.IGNORECASE | re.DOTALL
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_APPLE_MAGICS = (b"\x00\x05\x16\x00", b"\x00\x05\x16\x07")  # AppleSingle, AppleDouble


def is_archive_name(filename: str) -> bool:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return any(len(base) > len(ext) + 1 and base.endswith("." + ext) for ext in ARCHIVE_EXTENSIONS)


def json_extension(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def is_page_name(name: str) -> bool:
    return _PAGE_RE.fullmatch(name) is not None


def sort_key(name: str) -> str:
    # Perl's sprintf "%04d" pads short runs and strips extra leading zeros; longer runs print unchanged.
    return _DIGITS_RE.sub(lambda m: f"{int(m.group()):04d}", name).translate(_ASCII_LOWER)


def is_cover(name: str) -> bool:
    return _COVER_RE.search(name) is not None


def is_credit(name: str) -> bool:
    return _CREDIT_RE.search(name) is not None


def order_pages(names: list[str]) -> list[str]:
    ordered = sorted(names, key=sort_key)
    covers = [n for n in ordered if is_cover(n)]
    # The reference lists a cover that also looks like credits twice; we keep it once, as a cover.
    credits = [n for n in ordered if is_credit(n) and not is_cover(n)]
    rest = [n for n in ordered if not is_cover(n) and not is_credit(n)]
    return covers + rest + credits


def is_apple_fork_candidate(name: str) -> bool:
    return name.startswith("__MACOSX/") or "/__MACOSX/" in name or name.rsplit("/", 1)[-1].startswith("._")


def has_apple_magic(head: bytes) -> bool:
    return head[:4] in _APPLE_MAGICS
