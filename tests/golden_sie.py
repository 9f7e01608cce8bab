"""Golden SIE files: the output of a run compared byte for byte with a file in tests/golden/.

Regenerate only after reading the diff: `BOKFOR_REGEN=1 pytest tests/...`."""

from __future__ import annotations

import os
from pathlib import Path

from bokfor import __version__

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(out: Path, golden: Path) -> None:
    """`out` equals `golden` to the byte, but for bokfor's version in #PROGRAM."""
    data = out.read_bytes().replace(f"#PROGRAM bokfor {__version__}".encode(),
                                    b"#PROGRAM bokfor VERSION")
    if os.environ.get("BOKFOR_REGEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    assert data == golden.read_bytes()
