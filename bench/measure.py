"""What every benchmark here measures: one child process's wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def run(cmd: list[str], ok: tuple[int, ...] = (0,), stdout: str | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one child process. Its standard output goes to
    the file `stdout` when given (a peer that writes its result there), else nowhere; its
    standard error to a temporary file (a pipe could fill up and stall a chatty child)."""
    with tempfile.TemporaryFile() as err, open(stdout or os.devnull, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            err.seek(0)
            tail = err.read()[-4000:].decode(errors="replace")
            sys.exit(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return wall, usage.ru_maxrss // 1024


def table(title: str, rows: int, results: dict[str, tuple[float, int]], base: str) -> None:
    """Print the cases with rows/s, peak MiB and the ratio to the `base` case."""
    floor = results[base][0]
    print(title)
    print(f"{'case':46} {'wall s':>8} {'rows/s':>10} {'peak MiB':>9} {'vs floor':>9}")
    for name, (wall, peak) in results.items():
        print(f"{name:46} {wall:8.2f} {rows / wall:10.0f} {peak:9d} {wall / floor:8.1f}x")
