"""A real `python -m bokfor push` killed with SIGKILL at each point of a voucher's push
(before its pending record, after it, between the POST and the ledger update, after the
posted record), then run again: every voucher is in Fortnox exactly once and every row is
recorded once. Real time against the fake, with bokfor's limiter raised out of the way
($BOKFOR_FORTNOX_RATE_LIMIT: its pace is tested in test_fortnox_ratelimit.py and test_push.py;
at Fortnox's it cost two seconds per run here). Only the killed run is a process of its own:
the runs before and after it read the same files and talk to the same fake from this one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from bokfor import faults
from bokfor.fortnox.batch import key_of
from bokfor.push import ENV_RATE_LIMIT

from .test_errors import run_cli
from .test_push import assert_exactly_once, company, fortnox_env, per_row, stripe_csv


@pytest.fixture
def fake():
    fake = company().start()
    try:
        yield fake
    finally:
        fake.stop()


def _killed(args, env, point):
    """`args` run in a process of its own, killed at `point`."""
    return subprocess.run(
        [sys.executable, "-m", "bokfor", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, ENV_RATE_LIMIT: "100000", **env, "BOKFOR_FAULT": point},
        timeout=120,
    )


@pytest.fixture
def run(monkeypatch, capsys):
    """`run(args, env)`: the CLI in this process, with `env` set; (exit code, stdout, stderr)."""

    def run(args, env):
        for name, value in {ENV_RATE_LIMIT: "100000", **env}.items():
            monkeypatch.setenv(name, value)
        return run_cli([str(a) for a in args], capsys)

    return run


@pytest.mark.parametrize("point", faults.PUSH_POINTS)
def test_sigkill_at_each_push_point_then_rerun_posts_each_voucher_once(fake, tmp_path, point, run):
    env = fortnox_env(fake, tmp_path)
    csv = stripe_csv(tmp_path / "b.csv", 3)
    ledger = tmp_path / "l.sqlite"
    args = ["push", csv, "-m", per_row(tmp_path), "--ledger", ledger, "--quiet"]
    killed = _killed(args, env, f"{point}:2")  # at the second voucher
    assert killed.returncode == -9, killed.stderr
    posted_before = len(fake.vouchers)
    assert posted_before == (1 if point in ("push-before-pending", "push-after-pending") else 2)
    code, _, err = run(args, env)
    assert code == 0, err
    assert_exactly_once(fake, ledger, 3)
    if point == "push-after-post":  # the POST went through; the re-run found it by its key
        assert fake.count("POST", "/3/vouchers") == 3
    assert run(args, env)[0] == 3
    assert_exactly_once(fake, ledger, 3)


def test_sigkill_during_a_push_then_plan_settles_it(fake, tmp_path, run):
    """`plan` (not only `push`) settles what a killed push left pending."""
    env = fortnox_env(fake, tmp_path)
    csv = stripe_csv(tmp_path / "b.csv", 3)
    ledger = tmp_path / "l.sqlite"
    common = [csv, "-m", per_row(tmp_path), "--ledger", ledger]
    killed = _killed(["push", *common], env, "push-after-post:1")
    assert killed.returncode == -9
    code, out, err = run(["plan", *common], env)
    assert code == 0, err
    assert "an interrupted push had booked" in err
    assert "1 already exported (=)" in out and "2 verifikationer to add (+)" in out
    assert run(["push", *common], env)[0] == 0
    assert_exactly_once(fake, ledger, 3)


def test_a_push_after_ledger_forget_killed_and_settled_posts_the_row_again(fake, tmp_path, run):
    """`ledger forget` of a push leaves its voucher in Fortnox (reversed there, say). The
    next push of the same row carries another bokfor key, so when it is killed after its
    pending record, settling does not mistake the forgotten voucher for it: the row is
    posted once more, and the ledger records the new voucher."""
    env = fortnox_env(fake, tmp_path)
    csv = stripe_csv(tmp_path / "b.csv", 1)
    ledger = tmp_path / "l.sqlite"
    args = ["push", csv, "-m", per_row(tmp_path), "--ledger", ledger, "--quiet"]
    code, _, err = run(args, env)
    assert code == 0, err
    code, _, err = run(["ledger", "forget", "1", "--ledger", ledger, "--yes"], env)
    assert code == 0, err
    killed = _killed(args, env, "push-after-pending:1")
    assert killed.returncode == -9, killed.stderr
    assert len(fake.vouchers) == 1
    code, _, err = run(args[:-1], env)  # not --quiet: the settling shows as a warning
    assert code == 0, err
    assert "never booked" in err  # the pending voucher was looked up, not found
    assert [(v["VoucherSeries"], v["VoucherNumber"]) for v in fake.vouchers] == [("S", 1), ("S", 2)]
    forgotten, new = (key_of(v) for v in fake.vouchers)
    assert forgotten != new
    with sqlite3.connect(ledger) as conn:
        assert conn.execute(
            "SELECT state, key, fortnox_series, fortnox_number FROM pushes"
        ).fetchall() == [("posted", new, "S", 2)]
        assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] == 1
    assert run(args, env)[0] == 3
