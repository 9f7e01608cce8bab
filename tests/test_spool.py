"""The plan's row records on disk (bokfor.spool) and the run's names kept as hashes
(plan._Seen): what a run holds no longer grows with its input, and nothing changes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
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
    spool.close()
    assert not spool.path.exists()


def test_a_plan_s_spool_is_removed_when_it_is_closed(own_tmpdir):
    plan = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(own_tmpdir / "none.sqlite"))
    assert plan.spool.path.exists()
    # Each voucher's records in its source_keys order (a push stores them so).
    assert [[r.key for r in plan.records_of(i)] for i in range(len(plan.to_write))] == [
        list(v.source_keys) for v in plan.to_write
    ]
    assert sum(len(v.source_keys) for v in plan.to_write) == 36
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
    """A spool is its run's while the run holds its lock: one whose process was killed is
    removed by the next run; a locked one (another run, even in another PID namespace or on
    another host sharing TMPDIR) and a directory too new to be locked yet are left alone."""
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); "
        "from bokfor.spool import RecordSpool; s = RecordSpool(); "
        "print(s.path.parent, flush=True); time.sleep(int(sys.argv[2]))"
    )
    env = {**os.environ, "TMPDIR": str(own_tmpdir)}
    src = str(REPO / "src")
    alive = subprocess.Popen(
        [sys.executable, "-c", script, src, "60"], env=env, stdout=subprocess.PIPE, text=True
    )
    live = Path(alive.stdout.readline().strip())
    killed = subprocess.Popen(
        [sys.executable, "-c", script, src, "60"], env=env, stdout=subprocess.PIPE, text=True
    )
    stale = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    young = own_tmpdir / "bokfor-plan-young"
    young.mkdir()
    old = time.time() - 3600
    for path in (stale, live):
        os.utime(path, (old, old))
    try:
        assert stale.exists() and live.exists()
        spool = RecordSpool()
        assert not stale.exists()
        assert live.exists() and (live / "records.sqlite").exists() and young.exists()
        spool.close()
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("prefix", ["bokfor-plan-", "bokfor-making-"])
def test_the_sweep_never_follows_a_link_out_of_the_temporary_directory(
    own_tmpdir, tmp_path, prefix
):
    """Another user of a shared /tmp names a link like a spool, pointing at a folder the
    user running bokfor may write (their exports, their ledger's folder): the sweep leaves
    the link and that folder's files alone, with or without a lock file there."""
    for locked in (False, True):
        folder = tmp_path / f"exports-{locked}"
        folder.mkdir()
        (folder / "ledger.sqlite").write_bytes(b"the books")
        (folder / "2026.si").write_bytes(b"#FLAGGA 0")
        if locked:
            (folder / "lock").write_bytes(b"")
        old = time.time() - 3600
        for path in (*folder.iterdir(), folder):
            os.utime(path, (old, old))
        link = own_tmpdir / f"{prefix}evil-{locked}"
        link.symlink_to(folder, target_is_directory=True)
        RecordSpool().close()
        assert link.is_symlink()
        assert (folder / "ledger.sqlite").read_bytes() == b"the books"
        assert (folder / "2026.si").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's directory needs root")
def test_the_sweep_leaves_another_user_s_directory_alone(own_tmpdir):
    """A spool-named directory of another user (a shared /tmp) is never removed, however
    old and unlocked: it is not this user's run's."""
    other = own_tmpdir / "bokfor-plan-other"
    other.mkdir()
    (other / "records.sqlite").write_bytes(b"theirs")
    os.chown(other / "records.sqlite", 65534, 65534)
    os.chown(other, 65534, 65534)
    old = time.time() - 3600
    os.utime(other, (old, old))
    RecordSpool().close()
    assert (other / "records.sqlite").read_bytes() == b"theirs"


def test_a_killed_run_s_spool_is_removed_by_the_next_run_at_once(own_tmpdir):
    """No minute's grace: a spool takes its name only once its lock is held, so a free lock
    is a dead run's, whatever its age (a killed 200k-row run leaves ~50 MB). A directory
    still being made (no lock held yet) is left alone until it is a minute old."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from bokfor.spool import RecordSpool; s = RecordSpool(); "
        "print(s.path.parent, flush=True); sys.stdin.read()"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", script, str(REPO / "src")],
        env={**os.environ, "TMPDIR": str(own_tmpdir)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stale = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    making = own_tmpdir / "bokfor-making-x"
    making.mkdir()
    abandoned = own_tmpdir / "bokfor-making-y"
    abandoned.mkdir()
    old = time.time() - 3600
    os.utime(abandoned, (old, old))
    assert stale.name.startswith("bokfor-plan-") and (stale / "records.sqlite").exists()
    spool = RecordSpool()
    assert not stale.exists() and not abandoned.exists()
    assert making.exists()
    assert spool.path.parent.name.startswith("bokfor-plan-")
    spool.close()
    assert sorted(p.name for p in own_tmpdir.iterdir()) == ["bokfor-making-x"]


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
    assert err.message.startswith(
        "the plan's temporary file cannot be written (database or disk is full)"
    )
    assert err.file == str(spool.path)
    assert "TMPDIR" in err.hint and "nothing was written or recorded" in err.hint
    spool.close()


def test_a_batch_that_fails_on_the_writer_s_thread_is_raised_before_anything_reads():
    """Batches are written on the spool's own thread while the next is made: one that
    fails (a full disk) is raised by the next call that hands over or reads, never lost,
    and what was handed over before it is written in the order given."""
    spool = RecordSpool()
    first = [(1, f"k{i}", "s", "c", f"f:{i}", "", "", "", 0, "") for i in range(3)]
    spool.add_many(iter(first), iter([(1, "a0", "k0")]))
    spool.add(1, RowRecord("k3", "s", "c", "f:3", "", ()))
    spool.add_many(iter([(1, "k4", "s", "c", "f:4", "", "", "", 0, "")]), iter(()))
    assert [r.key for r in spool.records(1)] == ["k0", "k1", "k2", "k3", "k4"]
    assert spool.records(1)[0].aliases == ("a0",)
    spool._conn.execute("PRAGMA max_page_count = 3")  # SQLite's own "disk is full"
    big = ((2, f"big{i}", "s", "c" * 2000, "f:1", "", "", "", 0, "") for i in range(200))
    with pytest.raises(OutputError) as caught:
        spool.add_many(big, iter(()))
        spool.skip(0, 1, "k", "why")
        spool.flush()
    assert caught.value.message.startswith(
        "the plan's temporary file cannot be written (database or disk is full)"
    )
    assert spool.records(2) == []  # rolled back whole
    spool.close()


def test_names_seen_twice_are_found_in_small_and_large_runs():
    for size in (10, 2**16 + 10):
        seen = _Seen()
        seen.hashes = array("q", range(size))
        assert not seen.repeated()
        seen.hashes.append(size // 2)
        assert seen.repeated()


def test_names_seen_twice_across_large_inputs_are_found_and_each_input_keeps_its_names():
    """Each input's names are sorted in place (no copy of a large run's): a name in two
    inputs is still found, and each input still has its own names."""
    first, second = list(range(2**16, 0, -1)), list(range(2**17, 2**16, -1))
    for repeat, expected in ((None, False), (7, True), (2**16 + 3, True)):
        seen = _Seen()
        seen.starts = [0, len(first)]
        seen.hashes = array("q", first + second + ([repeat] if repeat else []))
        assert seen.repeated() is expected
        names = seen.names()
        assert sorted(names[0]) == sorted(first)
        assert sorted(names[1]) == sorted(second + ([repeat] if repeat else []))
        seen.hashes.append(1)  # no view of it is left


def test_a_collision_of_hashes_is_checked_exactly_and_the_run_goes_on(monkeypatch, tmp_path):
    """Every name hashed alike: the run reads its inputs again, finds no name twice, and
    makes the plan it would have made."""
    mapping = load_mapping(MAPPING)
    expected = make_plan([SAMPLE], mapping, Ledger.open(tmp_path / "a.sqlite"))
    monkeypatch.setattr(plan_module, "hash", lambda name: 0, raising=False)
    collided = make_plan([SAMPLE], mapping, Ledger.open(tmp_path / "b.sqlite"))
    assert collided.to_write == expected.to_write
    assert [collided.records_of(i) for i in range(len(collided.to_write))] == [
        expected.records_of(i) for i in range(len(expected.to_write))
    ]


def test_the_ledger_copies_the_spool_in_one_statement(tmp_path, capsys):
    """An export records exactly what the spool holds: every row once, under its voucher."""
    from .test_errors import run_cli

    ledger = tmp_path / "l.sqlite"
    code, _, err = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(MAPPING),
            "-o",
            str(tmp_path / "out.si"),
            "--ledger",
            str(ledger),
        ],
        capsys,
    )
    assert code == 0, err
    with sqlite3.connect(ledger) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT key) FROM rows").fetchone()
        per_voucher = conn.execute(
            "SELECT v.seq, count(*) FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "GROUP BY v.seq ORDER BY v.seq"
        ).fetchall()
        exported = conn.execute("SELECT vouchers, rows FROM exports").fetchone()
    plan = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(tmp_path / "none.sqlite"))
    assert rows == (36, 36)
    assert exported == (len(plan.to_write), 36)
    assert per_voucher == [(i, len(v.source_keys)) for i, v in enumerate(plan.to_write)]


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_a_duplicate_is_named_before_an_error_later_in_the_run(tmp_path):
    """The same row twice in one export, and after it a row that cannot be booked: the
    duplicate is the error shown, as when it was found while reading."""
    header, *rows = _rows(SAMPLE)
    usd = rows[0].replace("txn_3QVQp8", "txn_USDUSD").replace(",sek,", ",usd,")
    second = tmp_path / "again.csv"
    second.write_text(header + rows[-1] + rows[-1] + usd, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        make_plan([second], load_mapping(MAPPING), Ledger.open(tmp_path / "l.sqlite"))
    assert caught.value.message == (
        f"duplicate row stripe:txn_3QbpTjRb7qLmX2vT1qfO7TPD (also at {second}:2): it would "
        "be booked twice"
    )
    assert (caught.value.file, caught.value.line) == (str(second), 3)


def test_a_file_that_changes_between_its_two_readings_is_refused(tmp_path, monkeypatch):
    """A name seen twice makes the run read its inputs again; if the file no longer holds
    what the plan was made from, the plan is not used."""
    header, *rows = _rows(SAMPLE)
    growing = tmp_path / "growing.csv"
    growing.write_text(header + "".join(rows) + rows[-1], encoding="utf-8")  # a row twice
    check = _Seen.check

    def rewritten_first(self, *args, **kwargs):
        growing.write_text(header + "".join(rows), encoding="utf-8")
        return check(self, *args, **kwargs)

    monkeypatch.setattr(_Seen, "check", rewritten_first)
    with pytest.raises(InputError) as caught:
        make_plan([growing], load_mapping(MAPPING), Ledger.open(tmp_path / "l.sqlite"))
    assert caught.value.message == "the file changed while bokfor read it"
    assert caught.value.file == str(growing)
