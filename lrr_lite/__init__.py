"""lrr_lite: a LANraragi-compatible archive server small enough for a Raspberry Pi."""

__version__ = "0.1.0"
# The LANraragi version we speak for: clients switch features on by it (tank/toc paths need >= 0.9.30).
LRR_VERSION = "0.9.81"
LRR_VERSION_NAME = "Atomica"
LRR_VERSION_DESC = "lrr_lite " + __version__
