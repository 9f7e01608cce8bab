"""Named crash points for the fault-injection tests.

`BOKFOR_FAULT=<point>` makes the process kill itself with SIGKILL when it reaches that
point, so tests can prove that a crash at every step between writing a file and recording it
leaves each row exported exactly once. `<point>:N` kills it the N-th time it gets there (a
push passes its points once per voucher). Unset (always, outside tests), `point` does
nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "before-ledger",
    "after-ledger-pending",
    "before-rename",
    "after-rename",
    "after-ledger-done",
)

# A push to Fortnox, per voucher: before its pending record, after it (before the POST),
# between the POST and the ledger update, after the posted record.
PUSH_POINTS = ("push-before-pending", "push-after-pending", "push-after-post", "push-after-posted")

_seen: dict[str, int] = {}


def point(name: str) -> None:
    assert name in POINTS or name in PUSH_POINTS, name
    wanted = os.environ.get("BOKFOR_FAULT")
    if not wanted:
        return
    target, _, nth = wanted.partition(":")
    if target != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= (int(nth) if nth.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)
