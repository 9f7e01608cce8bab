"""Named crash points for the fault-injection tests.

`BOKFOR_FAULT=<point>` makes the process kill itself with SIGKILL when it reaches that
point, so tests can prove that a crash at every step between writing a file and recording it
leaves each row exported exactly once. Unset (always, outside tests), `point` does nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("before-ledger", "after-ledger-pending", "before-rename", "after-rename",
          "after-ledger-done")


def point(name: str) -> None:
    assert name in POINTS, name
    if os.environ.get("BOKFOR_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
