"""Where the tests find what they validate against: copies kept in tests/data/ so a lone clone tests everything.

tests/data/README.md says where each copy comes from.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = DATA / "oracle-samples"          # real LANraragi 0.9.81 replies
OPDS_GRAMMAR = DATA / "opds"               # OPDS 1.1 + Atom RelaxNG
OPDS2_SCHEMAS = DATA / "opds2"             # OPDS 2.0 + Readium JSON Schemas
OPENAPI = DATA / "lanraragi-openapi.yaml"  # LANraragi 0.9.8's API contract
RARFILE = DATA / "rarfile"                 # real RAR archives from the rarfile sdist (ISC)
