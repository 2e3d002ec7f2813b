"""Acceptance: schemathesis against LANraragi's spec (tags archives, misc, minion): no 5xx, no response that
violates the schema. Runs scripts/schemathesis_check.py's quick mode in-process; the full run is
`.venv/bin/python scripts/schemathesis_check.py` (50 examples per operation and mode).

The seed is fixed so CI is reproducible; set LRR_SCHEMATHESIS_SEED to explore others.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("schemathesis")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "schemathesis_check.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("schemathesis_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_archives_misc_minion_conform_to_spec():
    check = _load_script()
    seed = int(os.environ.get("LRR_SCHEMATHESIS_SEED", "20240601"))
    report = check.run(max_examples=check.QUICK_MAX_EXAMPLES, seed=seed, log=False)
    print(report.summary())
    assert report.skipped is None
    assert len(report.operations) >= 25, report.summary()
    assert report.real_id_cases > 0, "no case reached an existing archive or job"
    assert not report.failures, report.summary()


def test_other_tags_conform_to_spec():
    """The collections, search, database, shinobu and plugins operations: no 5xx, no schema violation."""
    check = _load_script()
    seed = int(os.environ.get("LRR_SCHEMATHESIS_SEED", "20240601"))
    tags = ["search", "database", "categories", "tankoubons", "stamps", "shinobu", "plugins"]
    report = check.run(max_examples=check.QUICK_MAX_EXAMPLES, seed=seed, log=False, tags=tags)
    print(report.summary())
    assert report.skipped is None
    assert len(report.operations) >= 40, report.summary()
    assert not report.failures, report.summary()
