"""What every benchmark here measures: one child process's wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def run(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss // 1024


def table(title: str, rows: int, results: dict[str, tuple[float, int]], base: str) -> None:
    """Print the cases with rows/s, peak MiB and the ratio to the `base` case."""
    floor = results[base][0]
    print(title)
    print(f"{'case':46} {'wall s':>8} {'rows/s':>10} {'peak MiB':>9} {'vs floor':>9}")
    for name, (wall, peak) in results.items():
        print(f"{name:46} {wall:8.2f} {rows / wall:10.0f} {peak:9d} {wall / floor:8.1f}x")
