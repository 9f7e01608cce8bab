"""Every parser under mutated real inputs and random bytes: rows or one domain error, never
another exception and never a hang (bench/fuzz.py; run it with more --inputs for a longer
search)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "bench" / "fuzz.py"
_spec = importlib.util.spec_from_file_location("bokfor_fuzz", FUZZ)
fuzz = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["bokfor_fuzz"] = fuzz  # dataclasses look their module up
_spec.loader.exec_module(fuzz)  # type: ignore[union-attr]
PARSERS = fuzz.parsers()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_no_parser_crashes_on_mutated_input(name, tmp_path):
    parse, seeds = PARSERS[name]
    result = fuzz.fuzz(name, parse, seeds, 60, random.Random(f"test:{name}"), tmp_path, None)
    assert result.inputs == 60
    assert result.crashes == []
    assert result.hangs == []
