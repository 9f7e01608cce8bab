"""The plan's row records on disk (bokfor.spool) and the run's names kept as hashes
(plan._Seen): what a run holds no longer grows with its input, and nothing changes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from array import array
from pathlib import Path

import pytest

from bokfor import plan as plan_module
from bokfor.errors import EXIT_FAILURE, InputError, OutputError
from bokfor.ledger import Ledger, RowRecord
from bokfor.mapping import load_mapping
from bokfor.plan import _Seen, make_plan
from bokfor.spool import RecordSpool

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"


@pytest.fixture(autouse=True)
def own_tmpdir(tmp_path, monkeypatch):
    """Spools go to a temporary directory of the test's own."""
    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    return spools


def test_a_voucher_s_records_come_back_in_order_with_their_aliases():
    spool = RecordSpool()
    a = RowRecord("stripe:txn_1", "stripe_balance", "c1", "f.csv:2", "", ("stripe-charge:ch_1",))
    b = RowRecord("stripe:txn_2", "stripe_balance", "c2", "f.csv:3", "[]", ())
    c = RowRecord("stripe:txn_3", "stripe_balance", "c3", "f.csv:4", "", ("x:1", "x:2"))
    for tag, record in ((7, a), (8, b), (7, c)):
        spool.add(tag, record)
    assert spool.records(7) == [a, c]
    assert spool.records(8) == [b]
    assert spool.records(9) == []
    assert spool.count == 3
    spool.close()
    assert not spool.path.exists()


def test_a_plan_s_spool_is_removed_when_it_is_closed(own_tmpdir):
    plan = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(own_tmpdir / "none.sqlite"))
    assert plan.spool.path.exists() and plan.spool.count == 36
    assert sum(len(plan.records_of(i)) for i in range(len(plan.to_write))) == 36
    assert [r.key for r in plan.records_of(0)] == list(plan.to_write[0].source_keys)
    plan.close()
    assert list(own_tmpdir.glob("bokfor-plan-*")) == []


def test_a_failed_plan_leaves_no_spool(own_tmpdir, tmp_path):
    duplicate = tmp_path / "twice.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    duplicate.write_text("".join(lines + lines[1:2]), encoding="utf-8")
    with pytest.raises(InputError, match="duplicate row"):
        make_plan([duplicate], load_mapping(MAPPING), Ledger.open(tmp_path / "none.sqlite"))
    assert list(own_tmpdir.glob("bokfor-plan-*")) == []


def test_spools_of_killed_runs_are_swept_and_live_ones_kept(own_tmpdir):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = own_tmpdir / f"bokfor-plan-{dead}-abc123"
    live = own_tmpdir / f"bokfor-plan-{os.getppid()}-def456"
    other = own_tmpdir / "bokfor-plan-notapid-x"
    for path in (stale, live, other):
        path.mkdir()
        (path / "records.sqlite").write_bytes(b"")
    spool = RecordSpool()
    if os.name == "posix":
        assert not stale.exists()
    assert live.exists() and other.exists() and spool.path.exists()
    spool.close()


def test_a_full_temporary_disk_is_one_message_not_a_traceback():
    spool = RecordSpool()
    spool._conn.execute("PRAGMA max_page_count = 3")  # SQLite's own "disk is full"
    record = RowRecord("k", "s", "c" * 2000, "f:1", "", ())
    with pytest.raises(OutputError) as caught:
        for _ in range(200):
            spool.add(1, record)
        spool.flush()
    err = caught.value
    assert err.exit_code == EXIT_FAILURE
    assert err.message.startswith("the plan's temporary file cannot be written (database or disk "
                               "is full)")
    assert "TMPDIR" in err.hint and "nothing was written or recorded" in err.hint
    spool.close()


def test_names_seen_twice_are_found_in_small_and_large_runs():
    for size in (10, 2**16 + 10):
        seen = _Seen()
        seen.hashes = array("q", range(size))
        assert not seen.repeated()
        seen.hashes.append(size // 2)
        assert seen.repeated()


def test_a_collision_of_hashes_is_checked_exactly_and_the_run_goes_on(monkeypatch, tmp_path):
    """Every name hashed alike: the run reads its inputs again, finds no name twice, and
    makes the plan it would have made."""
    mapping = load_mapping(MAPPING)
    expected = make_plan([SAMPLE], mapping, Ledger.open(tmp_path / "a.sqlite"))
    monkeypatch.setattr(plan_module, "hash", lambda name: 0, raising=False)
    collided = make_plan([SAMPLE], mapping, Ledger.open(tmp_path / "b.sqlite"))
    assert collided.to_write == expected.to_write
    assert [collided.records_of(i) for i in range(len(collided.to_write))] == [
        expected.records_of(i) for i in range(len(expected.to_write))]


def test_the_ledger_copies_the_spool_in_one_statement(tmp_path, capsys):
    """An export records exactly what the spool holds: every row once, under its voucher."""
    from .test_errors import run_cli

    ledger = tmp_path / "l.sqlite"
    code, _, err = run_cli(["convert", str(SAMPLE), "-m", str(MAPPING), "-o",
                            str(tmp_path / "out.si"), "--ledger", str(ledger)], capsys)
    assert code == 0, err
    with sqlite3.connect(ledger) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT key) FROM rows").fetchone()
        per_voucher = conn.execute(
            "SELECT v.seq, count(*) FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "GROUP BY v.seq ORDER BY v.seq").fetchall()
        exported = conn.execute("SELECT vouchers, rows FROM exports").fetchone()
    plan = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(tmp_path / "none.sqlite"))
    assert rows == (36, 36)
    assert exported == (len(plan.to_write), 36)
    assert per_voucher == [(i, len(v.source_keys)) for i, v in enumerate(plan.to_write)]
