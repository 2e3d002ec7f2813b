"""Offline half of scripts/build_pyz.sh: copy the installed distributions lrr-lite runs on into a site-packages.

    python scripts/pyz_site_from_env.py SITE

SITE already holds lrr-lite itself (pip installed it there from the source tree); its metadata names the
runtime requirements. This walks their closure in the running interpreter's environment and copies each
distribution's files (from its RECORD) into SITE. Why copy rather than `pip install`: pip has no way to
re-install a distribution that is installed but whose wheel is not at hand, and the build must work with no
network (the test runs it). Only the runtime closure is copied, so test tools (pytest, shiv …) stay out.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # packaging is not always installed on its own; pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]


def _own_requirements(site: Path) -> list[str]:
    dists = [d for d in metadata.distributions(path=[str(site)]) if d.metadata["Name"] == "lrr-lite"]
    if not dists:
        sys.exit(f"pyz_site_from_env: no lrr-lite in {site}")
    return dists[0].requires or []


def _closure(roots: list[str]) -> list[metadata.Distribution]:
    """The installed distributions the roots need, each once; extras are not followed (lrr-lite asks for none)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra's, or another platform's, requirement
        key = req.name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"pyz_site_from_env: {req.name} is not installed in {sys.prefix}; pip install it first")
        if not req.specifier.contains(dist.version, prereleases=True):
            sys.exit(f"pyz_site_from_env: {req} is wanted, {sys.prefix} has {dist.version}")
        seen[key] = dist
        todo.extend(Requirement(r) for r in dist.requires or [])
    return list(seen.values())


def _copy(dist: metadata.Distribution, site: Path) -> int:
    files = dist.files
    if files is None:
        sys.exit(f"pyz_site_from_env: {dist.metadata['Name']} has no RECORD; cannot tell its files")
    n = 0
    for rel in files:
        # '../../bin/x' entries are console scripts outside site-packages; caches are rebuilt on the target.
        if rel.parts[0] == ".." or "__pycache__" in rel.parts:
            continue
        src = Path(str(dist.locate_file(rel)))
        if not src.is_file():  # a half-removed install would make a pyz that fails at run time
            sys.exit(f"pyz_site_from_env: {dist.metadata['Name']} lists {rel}, which is missing")
        dst = site / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        n += 1
    return n


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    site = Path(sys.argv[1])
    for dist in _closure(_own_requirements(site)):
        n = _copy(dist, site)
        print(f"  {dist.metadata['Name']} {dist.version}: {n} files")


if __name__ == "__main__":
    main()
