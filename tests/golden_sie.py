"""Golden SIE files: the output of a run compared byte for byte with a file in tests/golden/.

Regenerate only after reading the diff: `BOKFOR_REGEN=1 pytest tests/...`."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from bokfor import __version__

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(out: Path, golden: Path) -> None:
    """`out` equals `golden` to the byte, but for bokfor's version in #PROGRAM; a difference
    is shown as a unified diff of the two texts."""
    data = out.read_bytes().replace(
        f"#PROGRAM bokfor {__version__}".encode(), b"#PROGRAM bokfor VERSION"
    )
    if os.environ.get("BOKFOR_REGEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    want = golden.read_bytes()
    if data != want:
        diff = difflib.unified_diff(
            want.decode("cp437").splitlines(),
            data.decode("cp437").splitlines(),
            fromfile=str(golden),
            tofile=str(out),
            lineterm="",
        )
        raise AssertionError(f"{out} differs from {golden}:\n" + "\n".join(list(diff)[:80]))
