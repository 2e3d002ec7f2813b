"""How much an archive may make us produce: the caps that keep decompression bombs from reaching memory.

Every cap is checked against bytes actually produced by the decompressor, never only against a header: a zip
header can claim 100 bytes for a member that inflates to a gigabyte.
"""

from __future__ import annotations

# A page is an image a person reads: a 10000x14000 JPEG scan is ~13-40 MB, a 600 DPI A3 PNG ~50 MB. A member
# larger than this is not a page but a bomb or a mistake, and two of them would already fill a Pi's budget.
MAX_PAGE_BYTES = 64 * 1024 * 1024

# A stream archive (7z, rar, tar...) is refused once its members add up to more than this many times the
# archive's size: images hardly compress (JPEG ~1:1, PNG in xz rarely 1:3), zeros compress ~1:7000. The floor
# keeps small archives of uncompressed BMPs or text readable.
MAX_EXPANSION_RATIO = 200
MIN_EXPANSION_BYTES = 512 * 1024 * 1024

# Decompressed bytes handed out at a time: large enough for few Python-level calls, small enough to be noise.
CHUNK_BYTES = 256 * 1024


def expansion_limit(archive_size: int) -> int:
    """Bytes an archive of archive_size bytes may decompress to, in total, before it counts as a bomb."""
    return max(MIN_EXPANSION_BYTES, MAX_EXPANSION_RATIO * max(0, archive_size))
