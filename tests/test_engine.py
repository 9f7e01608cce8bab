"""Polars in forked children (bokfor.engine): `bokfor run` forks a child per client, and a
child forked while Polars' threads run must not call Polars (it may wait forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from bokfor import engine, nightly
from bokfor import plan as plan_module
from bokfor.ledger import Ledger
from bokfor.mapping import load_mapping
from bokfor.plan import make_plan

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"


def test_a_fresh_command_line_is_single_threaded() -> None:
    code = "from bokfor import engine, cli; print(engine.single_threaded())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "True\n"


def test_after_polars_ran_a_process_is_not_single_threaded() -> None:
    pl.select(pl.int_range(0, 100_000).sum())  # starts Polars' thread pool
    assert not engine.single_threaded()


def test_a_child_forked_while_polars_runs_plans_without_it(tmp_path: Path, monkeypatch) -> None:
    """The way nightly forks: from this (threaded) process, a child plans the Stripe sample,
    which reads into frames where Polars may run. It ends in seconds with the plan by rows
    (without `engine.allow_polars(False)` it may hang)."""
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)  # even a small file: by frames
    pl.select(pl.int_range(0, 100_000).sum())
    polars = engine.single_threaded()
    assert not polars
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            nightly.engine.allow_polars(polars)
            plan = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(tmp_path / "l.sqlite"))
            code = 0 if len(plan.to_write) == 29 else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")
