"""Whether this process may use Polars, the row engine (issue 22).

Polars runs a pool of threads. A process forked while they run inherits their locks but not
the threads, and its first Polars call may wait forever. `bokfor run` forks a child per
client: forked from a process that runs no other thread (the command line), the child may
use Polars; forked from one that does (a test, a program embedding bokfor), it takes the
stages that need no Polars, which give the same books byte for byte (tests/test_classify.py,
tests/test_sie_columns.py).
"""

from __future__ import annotations

import os

POLARS = True  # set by nightly's child (`allow_polars`)


def single_threaded() -> bool:
    """Whether this process runs one thread only (Linux: /proc/self/task); elsewhere, or
    when that cannot be read, False."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def allow_polars(allowed: bool) -> None:
    global POLARS
    POLARS = allowed
