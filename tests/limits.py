"""Run bokfor in a child process under a wall-time limit and measure its peak memory.

For the resource-limit tests (a hostile input must end in one message within seconds, never a
run that spins or takes gigabytes): each case runs the real CLI, as cron would, and asserts the
exit code, the message, the wall time and the child's own peak RSS.

The child's own: Linux carries a process's high-water RSS across fork and exec (`ru_maxrss`
of a child is at least its parent's peak when it was started: a pytest process that once
held 400 MiB would see every child "take" 400 MiB). So the child reports the high-water mark
of the memory it maps after exec (`VmHWM` in /proc/self/status) as it exits; `os.wait4`'s
figure is the fallback for a child killed before it could."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).parent.parent
WALL_LIMIT = 10.0  # seconds a hostile input may cost
MEMORY_LIMIT = 300 * 2**20  # bytes of peak RSS

# `python -m bokfor`, plus: at exit, write this process's VmHWM (kB) to $BOKFOR_LIMITS_PEAK.
_BOOT = """
import atexit, os

def _peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["BOKFOR_LIMITS_PEAK"], "w") as out:
        out.write(kb)

atexit.register(_peak)
from bokfor.cli import main
main()
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float
    peak_rss: int  # bytes

    def within_limits(self) -> None:
        assert self.seconds < WALL_LIMIT, f"took {self.seconds:.1f} s"
        assert self.peak_rss < MEMORY_LIMIT, f"peak RSS {self.peak_rss / 2**20:.0f} MiB"


def run_limited(
    args: list[str], *, cwd: Path, timeout: float = 60.0, env: dict[str, str] | None = None
) -> Outcome:
    """`bokfor ARGS` run in `cwd`; killed after `timeout` seconds (the test then fails on
    time). Output is drained by threads so a chatty child never blocks on a full pipe."""
    fd, peak_file = tempfile.mkstemp(prefix="bokfor-limits-")
    os.close(fd)
    full_env = {
        **os.environ,
        "COLUMNS": "200",
        "SOURCE_DATE_EPOCH": "1767225600",
        **(env or {}),
        "BOKFOR_LIMITS_PEAK": peak_file,
    }
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _BOOT, *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    readers = [
        threading.Thread(target=lambda s=stream, k=k: chunks[k].append(s.read()))
        for k, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    status, usage = _wait(proc.pid, start + timeout)
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    try:
        with open(peak_file, encoding="ascii") as f:
            peak_kb = int(f.read() or usage.ru_maxrss)
    finally:
        os.unlink(peak_file)
    return Outcome(
        proc.returncode,
        b"".join(chunks["out"]).decode("utf-8", "replace"),
        b"".join(chunks["err"]).decode("utf-8", "replace"),
        seconds,
        peak_kb * 1024,
    )  # Linux: kilobytes


def _wait(pid: int, deadline: float):  # -> (status, resource.struct_rusage)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return status, usage
        time.sleep(0.02)
