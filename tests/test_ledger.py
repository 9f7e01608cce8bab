"""Exactly-once exports: the ledger, re-runs, corrections, crashes, locks and the plan."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from filelock import FileLock

from bokfor import faults
from bokfor.domain import Company, FiscalYear, Line, Origin, Row, Voucher
from bokfor.sie.model import Balance, SieDocument
from bokfor.sie.reader import read
from bokfor.sie.writer import render
from bokfor.sources import OccurrenceKeys, Schema, TEXT

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
EPOCH = "1767225600"


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture
def per_row(tmp_path) -> Path:
    """The shipped mapping with one voucher per row titled by its txn id, so a written file
    tells exactly which rows it holds."""
    text = (REPO / "mappings" / "stripe.yaml").read_text(encoding="utf-8")
    text = text.replace("grouping: per_day", "grouping: per_row").replace(
        "voucher_text: Stripe {date}", 'voucher_text: "{id}"'
    )
    path = tmp_path / "stripe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)


def ids_in(sie: Path) -> list[str]:
    return [v.text for v in read(sie).document.vouchers if v.text.startswith("txn_")]


def convert(args: list[str], capsys) -> tuple[int, str, str]:
    return run_cli(["convert", *args], capsys)


def ledger_keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM rows ORDER BY key")]


def test_rerun_books_nothing_and_says_so(tmp_path, per_row, capsys):
    ledger, out = tmp_path / "l.sqlite", tmp_path / "jan.si"
    code, stdout, _ = convert(
        [str(SAMPLE), "-m", str(per_row), "-o", str(out), "--ledger", str(ledger)], capsys
    )
    assert code == 0 and f"Wrote 36 verifikationer to {out} (export 1 in {ledger})" in stdout
    first = out.read_bytes()
    code, stdout, _ = convert(
        [
            str(SAMPLE),
            "-m",
            str(per_row),
            "-o",
            str(tmp_path / "again.si"),
            "--ledger",
            str(ledger),
        ],
        capsys,
    )
    assert code == 3
    assert (
        "Plan: 0 verifikationer to add (+), 36 already exported (=); 0 rows changed (~), "
        "0 rows unmapped (!)"
    ) in stdout
    assert "Nothing new: every row was exported before; nothing written." in stdout
    assert not (tmp_path / "again.si").exists() and out.read_bytes() == first
    assert len(ledger_keys(ledger)) == 36


def test_default_ledger_sits_beside_the_mapping(tmp_path, per_row, capsys):
    code, stdout, _ = convert(
        [str(SAMPLE), "-m", str(per_row), "-o", str(tmp_path / "o.si")], capsys
    )
    assert code == 0
    assert (tmp_path / "stripe.ledger.sqlite").exists()


def test_file_with_appended_rows_books_only_those(tmp_path, per_row, capsys):
    lines = sample_lines()
    early = tmp_path / "early.csv"
    early.write_text(lines[0] + "".join(lines[17:]), encoding="utf-8")  # the 20 oldest rows
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [str(early), "-m", str(per_row), "-o", str(tmp_path / "1.si"), "--ledger", str(ledger)],
            capsys,
        )[0]
        == 0
    )
    code, stdout, _ = convert(
        [str(SAMPLE), "-m", str(per_row), "-o", str(tmp_path / "2.si"), "--ledger", str(ledger)],
        capsys,
    )
    assert code == 0
    newest = {line.split(",", 1)[0] for line in lines[1:17]}
    assert set(ids_in(tmp_path / "2.si")) == newest and len(newest) == 16
    assert set(ids_in(tmp_path / "1.si")).isdisjoint(newest)
    assert "Plan: 16 verifikationer to add (+), 20 already exported (=)" in stdout


def test_late_row_of_an_exported_day_gets_its_own_voucher(tmp_path, capsys):
    """per_day: a day already exported is never re-exported; a row arriving later for that
    day is booked alone, in a new voucher of the same date."""
    lines = sample_lines()
    late = next(i for i, line in enumerate(lines) if ",2026-01-15 " in line and ",charge," in line)
    without = tmp_path / "without.csv"
    without.write_text("".join(lines[:late] + lines[late + 1 :]), encoding="utf-8")
    ledger, mapping = tmp_path / "l.sqlite", REPO / "mappings" / "stripe.yaml"
    assert (
        convert(
            [
                str(without),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "1.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "2.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    [voucher] = read(tmp_path / "2.si").document.vouchers
    assert voucher.date == dt.date(2026, 1, 15) and voucher.text == "Stripe 2026-01-15"
    gross = lines[late].split(",")[3]
    assert -sum(l.amount for l in voucher.lines if l.account in ("3001", "2611", "3105")) == int(
        gross.replace(".", "")
    )


class _FakeBank:
    """A bank-like source whose rows have no id: keys come from OccurrenceKeys."""

    name = section = "stripe_balance"  # reuse the shipped mapping's section
    title = "fake"
    schema = Schema(
        fields={"type": TEXT, "currency": TEXT},
        amounts={"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}},
        unmapped_fields=("type",),
        currency_field="currency",
        content_fields=("type",),
    )

    def detect(self, path):
        return True

    def read(self, path, tz):
        keys = OccurrenceKeys("fake")
        for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
            day, amount = line.split(";")
            yield Row(
                "stripe_balance",
                keys.key(day, amount),
                dt.date.fromisoformat(day),
                {"gross": int(amount), "fee": 0, "net": int(amount)},
                {"type": "charge", "currency": "sek"},
                Origin(str(path), n),
            )


def test_two_identical_rows_without_id_are_both_booked(tmp_path, per_row, capsys, monkeypatch):
    monkeypatch.setattr("bokfor.sources.all_sources", lambda *_: [_FakeBank()])
    text = tmp_path / "mapping.yaml"
    text.write_text(
        per_row.read_text(encoding="utf-8").replace('voucher_text: "{id}"', ""), encoding="utf-8"
    )
    bank = tmp_path / "bank.csv"
    bank.write_text("2026-01-05;12500\n2026-01-05;12500\n", encoding="utf-8")
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [str(bank), "-m", str(text), "-o", str(tmp_path / "1.si"), "--ledger", str(ledger)],
            capsys,
        )[0]
        == 0
    )
    assert len(read(tmp_path / "1.si").document.vouchers) == 2
    bank.write_text("2026-01-05;12500\n2026-01-05;12500\n2026-01-05;12500\n", encoding="utf-8")
    code, stdout, _ = convert(
        [str(bank), "-m", str(text), "-o", str(tmp_path / "2.si"), "--ledger", str(ledger)], capsys
    )
    assert code == 0 and len(read(tmp_path / "2.si").document.vouchers) == 1
    assert [k.rsplit("#", 1)[1] for k in ledger_keys(ledger)] == ["1", "2", "3"]


def test_plan_and_the_run_after_it_agree(tmp_path, capsys):
    lines = sample_lines()
    early = tmp_path / "early.csv"
    early.write_text(lines[0] + "".join(lines[10:]), encoding="utf-8")
    ledger, mapping = tmp_path / "l.sqlite", REPO / "mappings" / "stripe.yaml"
    assert (
        convert(
            [str(early), "-m", str(mapping), "-o", str(tmp_path / "1.si"), "--ledger", str(ledger)],
            capsys,
        )[0]
        == 0
    )
    code, stdout, _ = run_cli(
        ["plan", str(SAMPLE), "-m", str(mapping), "--ledger", str(ledger), "--json"], capsys
    )
    assert code == 0
    planned = json.loads(stdout)["to_write"]
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "2.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    written = read(tmp_path / "2.si").document.vouchers
    assert [
        (p["date"], p["text"], [(l["account"], l["amount"]) for l in p["lines"]]) for p in planned
    ] == [
        (v.date.isoformat(), v.text, [(l.account, f"{l.amount / 100:.2f}") for l in v.lines])
        for v in written
    ]


def test_changed_row_stops_the_run_then_correct_books_reversal_and_new(tmp_path, per_row, capsys):
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / "1.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    changed = tmp_path / "changed.csv"
    old = "1290.00,21.15,,,1268.85"
    assert old in SAMPLE.read_text(encoding="utf-8")
    changed.write_text(
        SAMPLE.read_text(encoding="utf-8").replace(old, "1390.00,21.15,,,1368.85"), encoding="utf-8"
    )
    code, _, err = convert(
        [str(changed), "-m", str(per_row), "-o", str(tmp_path / "2.si"), "--ledger", str(ledger)],
        capsys,
    )
    assert code == 2 and not (tmp_path / "2.si").exists()
    assert err.startswith(
        "bokfor: error: 1 row changed since it was exported; nothing was "
        "written Fix: if the source is right, run again with --correct"
    )
    assert (
        f"  ~ stripe:txn_3QZBksRb7qLmX2vT0FocDVrU at {changed}:3: fee 21.15 -> 21.15" not in err
    )  # only what differs is listed
    assert (
        f"  ~ stripe:txn_3QZBksRb7qLmX2vT0FocDVrU at {changed}:3: gross 1290.00 -> 1390.00,"
        " net 1268.85 -> 1368.85 (exported "
    ) in err
    code, stdout, _ = convert(
        [
            str(changed),
            "-m",
            str(per_row),
            "-o",
            str(tmp_path / "2.si"),
            "--ledger",
            str(ledger),
            "--correct",
        ],
        capsys,
    )
    assert code == 0
    reversal, new = read(tmp_path / "2.si").document.vouchers
    assert reversal.text == "Rättelse stripe:txn_3QZBksRb7qLmX2vT0FocDVrU"
    assert sorted((l.account, l.amount) for l in reversal.lines) == [
        ("1580", -126885),
        ("2611", 25800),
        ("3001", 103200),
        ("6570", -2115),
    ]
    assert new.text == "txn_3QZBksRb7qLmX2vT0FocDVrU"
    assert sorted((l.account, l.amount) for l in new.lines) == [
        ("1580", 136885),
        ("2611", -27800),
        ("3001", -111200),
        ("6570", 2115),
    ]
    assert (
        convert(
            [
                str(changed),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / "3.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 3
    )


def test_forget_makes_an_export_new_again(tmp_path, per_row, capsys):
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / "1.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    code, stdout, _ = run_cli(["ledger", "list", "--ledger", str(ledger)], capsys)
    assert code == 0 and "   1  " in stdout and "done" in stdout and "36 rows" in stdout
    code, stdout, _ = run_cli(
        ["ledger", "show", "stripe:txn_1QBzgPRb7qLmX2vT0q2WfspV", "--ledger", str(ledger)], capsys
    )
    assert code == 0 and "gross=-895.00" in stdout and "1515" in stdout
    code, stdout, _ = run_cli(["ledger", "forget", "1", "--ledger", str(ledger)], capsys)
    assert "Add --yes to do it." in stdout and len(ledger_keys(ledger)) == 36
    code, stdout, _ = run_cli(["ledger", "forget", "1", "--yes", "--ledger", str(ledger)], capsys)
    assert code == 0 and ledger_keys(ledger) == []
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / "2.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    assert len(ids_in(tmp_path / "2.si")) == 36


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bokfor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **env},
        timeout=120,
    )


@pytest.mark.parametrize("point", faults.POINTS)
def test_sigkill_at_each_step_then_rerun_exports_each_row_once(tmp_path, per_row, point, capsys):
    """Only the killed run is a process of its own; the re-runs go through the CLI here."""
    ledger, out = tmp_path / "l.sqlite", tmp_path / "out.si"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "-o", str(out), "--ledger", str(ledger)]
    killed = _run(args, BOKFOR_FAULT=point)
    assert killed.returncode == -9, killed.stderr
    code, _, err = run_cli(args, capsys)
    assert code in (0, 3), err
    # The file holds every row once; the ledger records each row once, in one finished export.
    assert sorted(ids_in(out)) == sorted(line.split(",", 1)[0] for line in sample_lines()[1:])
    assert len(ledger_keys(ledger)) == 36
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT state, rows FROM exports").fetchall() == [("done", 36)]
    assert not list(tmp_path.glob(".out.si.*"))  # no temp file left behind
    assert run_cli(args, capsys)[0] == 3


@pytest.mark.parametrize("then", ["moved", "changed"])
def test_a_file_put_in_place_then_taken_away_before_the_export_was_marked_done_is_not_booked_again(
    tmp_path, per_row, capsys, then
):
    """Killed after the rename, before the export is marked done; before the next run an
    import job takes the file (or it is saved again). Before: the export was dropped as
    never written and every row booked a second time. The temp file is written before the
    export is recorded: gone, it was renamed."""
    ledger, out = tmp_path / "l.sqlite", tmp_path / "out.si"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger)]
    killed = _run([*args, "-o", str(out)], BOKFOR_FAULT="after-rename")
    assert killed.returncode == -9, killed.stderr
    if then == "moved":
        out.rename(tmp_path / "imported.si")
    else:
        out.write_bytes(out.read_bytes().replace(b"\r\n", b"\n"))
    code, _, err = run_cli([*args, "-o", str(tmp_path / "again.si")], capsys)
    assert code == 3, err  # nothing new
    assert f"an interrupted run had written {out}, which is no longer there as written" in err
    assert not (tmp_path / "again.si").exists()
    assert len(ledger_keys(ledger)) == 36
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT state FROM exports").fetchall() == [("done",)]


def test_a_run_killed_before_the_rename_leaves_its_rows_new_and_no_temp_file(
    tmp_path, per_row, capsys
):
    ledger, out = tmp_path / "l.sqlite", tmp_path / "out.si"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger), "-o", str(out)]
    for point in ("after-ledger-pending", "before-rename"):
        killed = _run(args, BOKFOR_FAULT=point)
        assert killed.returncode == -9, killed.stderr
        assert len(list(tmp_path.glob(".out.si.*.tmp"))) == 1
        code, _, err = run_cli(["plan", *args[1:-2]], capsys)
        assert code == 0 and "never finished writing" in err, err
        assert not list(tmp_path.glob(".out.si.*.tmp")) and not out.exists()
    assert run_cli(args, capsys)[0] == 0
    assert sorted(ids_in(out)) == sorted(line.split(",", 1)[0] for line in sample_lines()[1:])


def test_a_rename_that_fails_leaves_the_rows_new_for_the_next_run(
    tmp_path, per_row, capsys, monkeypatch
):
    """The export is recorded pending, then its file cannot be put in place: the run fails
    and forgets that export itself (the next run's recovery could not tell its temp file
    gone from a file moved away); the next run books every row. Killed before it forgets,
    the temp file it leaves says "never put in place"."""
    from bokfor import fileio

    ledger, out = tmp_path / "l.sqlite", tmp_path / "out.si"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger), "-o", str(out)]

    def refuse(src, dst):
        raise OSError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(fileio, "_link_in_place", refuse)
        code, _, err = run_cli(args, capsys)
    assert code != 0 and "writing failed: Permission denied" in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.si.*.tmp"))
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM exports").fetchone() == (0,)
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert sorted(ids_in(out)) == sorted(line.split(",", 1)[0] for line in sample_lines()[1:])
    assert not list(tmp_path.glob(".out.si.*.tmp"))


def test_a_damaged_ledger_fails_verify_and_stops_a_run_with_one_message(tmp_path, per_row, capsys):
    """A damaged page of the rows' key index hid every exported row from the plan: convert
    booked them all again and `ledger verify` said all was well. Verify runs SQLite's
    integrity check; a page SQLite cannot read stops a run with one message."""
    ledger = tmp_path / "l.sqlite"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger)]
    assert run_cli([*args, "-o", str(tmp_path / "1.si")], capsys)[0] == 0
    with sqlite3.connect(ledger) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_rows_1'"
        ).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(ledger.read_bytes())
    at = (index - 1) * size
    data[at : at + size] = bytes(data[at : at + size]).replace(b"txn_", b"txm_")
    ledger.write_bytes(bytes(data))
    code, _, err = run_cli(["ledger", "verify", "--ledger", str(ledger)], capsys)
    assert code == 2 and "the ledger is damaged: SQLite's integrity check fails" in err, err
    assert "missing from index sqlite_autoindex_rows_1" in err
    data[at : at + size] = bytes((i * 37 + 11) % 256 for i in range(size))
    ledger.write_bytes(bytes(data))
    code, _, err = run_cli([*args, "-o", str(tmp_path / "2.si")], capsys)
    assert code == 2 and "internal error" not in err, err
    assert "an SQLite file of the run cannot be read: database disk image is malformed" in err
    assert not (tmp_path / "2.si").exists()


def test_an_edited_ledger_cannot_make_a_run_delete_files_outside_its_batch(
    tmp_path, per_row, capsys
):
    """A pending Fortnox batch's record names the files the batch wrote; a run that settles
    it removes them. A foreign or edited ledger may name any path there: only names a batch
    gives, in the batch's directory, are removed — even by a plan (a dry run)."""
    ledger, batch = tmp_path / "l.sqlite", tmp_path / "batch"
    args = ["convert", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger)]
    killed = _run(
        [*args, "--format", "fortnox", "-o", str(batch)], BOKFOR_FAULT="after-ledger-pending"
    )
    assert killed.returncode == -9, killed.stderr
    victims = tmp_path / "victims"
    victims.mkdir()
    for name in ("thesis.docx", "abs.txt", "00001-abcdef.json"):
        (victims / name).write_text("precious", encoding="utf-8")
    (batch / "00007-0123456789ab.json").parent.mkdir(exist_ok=True)
    (batch / "00007-0123456789ab.json").write_text("{}", encoding="utf-8")  # the batch's own
    (batch / "notes.txt").write_text("mine", encoding="utf-8")
    names = [
        "vouchers.si",
        "00007-0123456789ab.json",
        "../victims/thesis.docx",
        str(victims / "abs.txt"),
        "../victims/00001-abcdef.json",
        "notes.txt",
    ]
    with sqlite3.connect(ledger) as conn:
        conn.execute("UPDATE exports SET files = ?", (json.dumps(names),))
    code, _, err = run_cli(
        ["plan", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger)], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in victims.iterdir()) == [
        "00001-abcdef.json",
        "abs.txt",
        "thesis.docx",
    ]
    assert sorted(p.name for p in batch.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("version", [1, 3, 5])
def test_another_program_s_database_with_a_user_version_is_refused_unchanged(
    tmp_path, per_row, capsys, version
):
    """Most programs leave SQLite's application id 0, as bokfor's oldest ledgers have it,
    and many set a user_version: such a file is not migrated (switched to WAL, changed) nor
    read, but named for what it is."""
    ledger = tmp_path / "l.sqlite"
    with sqlite3.connect(ledger) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('mine')")
        conn.execute(f"PRAGMA user_version = {version}")
    before = ledger.read_bytes()
    common = [str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger)]
    for args in (["plan", *common], ["convert", *common, "-o", str(tmp_path / "o.si")]):
        code, _, err = run_cli(args, capsys)
        assert code == 2, err
        assert "is an SQLite database of another program, not a bokfor ledger" in err
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.sqlite", "stripe.yaml"]


def test_a_second_run_waits_for_the_lock_then_gives_up_clearly(tmp_path, per_row):
    ledger = tmp_path / "l.sqlite"
    with FileLock(str(ledger) + ".lock"):
        proc = _run(
            [
                "convert",
                str(SAMPLE),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / "o.si"),
                "--ledger",
                str(ledger),
                "--wait",
                "0.5",
            ]
        )
    assert proc.returncode == 4
    assert proc.stderr == (
        f"bokfor: error: {ledger}: another bokfor run is using the ledger "
        "(waited 0.5 s) Fix: let it finish and run again; --wait SECONDS "
        "waits longer.\n"
    )
    assert not (tmp_path / "o.si").exists()


@pytest.mark.parametrize(
    "wait, why",
    [
        ("-5", "Input should be greater than or equal to 0"),
        ("nan", "Input should be less than or equal to 86400"),
        ("inf", "Input should be less than or equal to 86400"),
    ],
)
def test_a_wait_that_would_never_end_is_refused(tmp_path, capsys, per_row, wait, why):
    """filelock waits forever for a negative timeout (under cron a held ledger hung the
    job) and raises ValueError for NaN (an internal error). --wait is 0 to 86400 seconds."""
    from .test_errors import run_cli

    code, _, err = run_cli(
        ["convert", str(SAMPLE), "-m", str(per_row), "-o", str(tmp_path / "o.si"),
         "--ledger", str(tmp_path / "l.sqlite"), "--wait", wait],
        capsys,
    )  # fmt: skip
    assert code == 2 and f"Invalid value for '--wait': {why}" in err
    assert not (tmp_path / "o.si").exists()


def test_two_concurrent_runs_never_both_write(tmp_path, per_row):
    ledger = tmp_path / "l.sqlite"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bokfor",
                "convert",
                str(SAMPLE),
                "-m",
                str(per_row),
                "-o",
                str(tmp_path / f"{n}.si"),
                "--ledger",
                str(ledger),
                "--quiet",
            ],
            env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in (1, 2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert sorted(code for code, _ in results) == [0, 3], results
    written = [p for p in (tmp_path / "1.si", tmp_path / "2.si") if p.exists()]
    assert len(written) == 1 and len(ids_in(written[0])) == 36
    assert len(ledger_keys(ledger)) == 36


def test_books_flags_hand_booked_vouchers_and_missing_accounts(tmp_path, capsys):
    mapping = REPO / "mappings" / "stripe.yaml"
    ledger = tmp_path / "l.sqlite"
    code, stdout, _ = run_cli(
        ["plan", str(SAMPLE), "-m", str(mapping), "--ledger", str(ledger), "--json"], capsys
    )
    day = json.loads(stdout)["to_write"][0]  # Stripe 2026-01-01
    hand = Voucher(
        "A",
        dt.date.fromisoformat(day["date"]),
        "Stripe kortintäkter",
        tuple(Line(l["account"], int(l["amount"].replace(".", ""))) for l in day["lines"]),
        number=45,
    )
    accounts = {a: "Konto" for a in ("1580", "1930", "2611", "3001", "6570", "1515")}
    books = tmp_path / "books.se"
    data, _ = render(
        SieDocument(
            Company("Exempelbutiken AB"),
            sie_type="4E",
            generated=dt.date(2026, 2, 1),
            fiscal_years=[FiscalYear(dt.date(2026, 1, 1), dt.date(2026, 12, 31))],
            accounts=accounts,
            vouchers=[hand],
            balances=[Balance("UB", 0, "1515", 0), Balance("UB", 0, "1930", 1000000)],
        )
    )
    books.write_bytes(data)
    code, stdout, err = run_cli(
        [
            "plan",
            str(SAMPLE),
            "-m",
            str(mapping),
            "--ledger",
            str(ledger),
            "--books",
            str(books),
            "--json",
        ],
        capsys,
    )
    result = json.loads(stdout)
    assert result["missing_accounts"] == ["3105"]
    assert [e["possibly_booked"] for e in result["entries"] if "possibly_booked" in e] == ["A 45"]
    assert code == 2 and err.startswith(
        "bokfor: error: accounts: account 3105 not in the books' chart of accounts (--books)"
    )
    code, _, _ = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(mapping),
            "--ledger",
            str(ledger),
            "--books",
            str(books),
            "-o",
            str(tmp_path / "o.si"),
            "--allow-new-accounts",
        ],
        capsys,
    )
    assert code == 0


def test_diff_shows_what_the_run_adds_to_the_period(tmp_path, per_row, capsys):
    lines = sample_lines()
    early = tmp_path / "early.csv"
    early.write_text(lines[0] + "".join(lines[2:]), encoding="utf-8")  # all but the newest
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [str(early), "-m", str(per_row), "-o", str(tmp_path / "1.si"), "--ledger", str(ledger)],
            capsys,
        )[0]
        == 0
    )
    code, stdout, _ = run_cli(
        ["plan", str(SAMPLE), "-m", str(per_row), "--ledger", str(ledger), "--diff", "--json"],
        capsys,
    )
    diff = stdout[stdout.index("--- exported") :]
    added = [l for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert added[0] == '+#VER S "" 20260201 "txn_3QVQp8Rb7qLmX2vT1Mv8WyML"'
    assert not [l for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]


def test_cron_json_summary_and_quiet(tmp_path, per_row, capsys):
    ledger = tmp_path / "l.sqlite"
    args = [str(SAMPLE), "-m", str(per_row), "-o", str(tmp_path / "o.si"), "--ledger", str(ledger)]
    code, stdout, _ = convert([*args, "--json"], capsys)
    assert code == 0 and json.loads(stdout) == {
        "status": "exported",
        "vouchers": 36,
        "output": str(tmp_path / "o.si"),
        "export": 1,
        "outputs": [{"path": str(tmp_path / "o.si"), "year": "2026", "export": 1, "vouchers": 36}],
        "ledger": str(ledger),
    }
    code, stdout, err = convert([*args, "--quiet"], capsys)
    assert (code, stdout, err) == (3, "", "")
    code, stdout, _ = convert([*args, "--json"], capsys)
    assert code == 3 and json.loads(stdout) == {
        "status": "nothing-new",
        "vouchers": 0,
        "reason": "exported",
    }


def test_sales_exported_from_one_export_are_refused_from_another(tmp_path, capsys):
    """The balance export and the Payments export name one charge differently; the ledger
    knows both names, so a later run cannot book the sale again from the other export."""
    mapping, ledger = REPO / "mappings" / "stripe.yaml", tmp_path / "l.sqlite"
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "1.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    payments = SAMPLE.parent / "unified_payments.csv"
    code, _, err = convert(
        [str(payments), "-m", str(mapping), "-o", str(tmp_path / "2.si"), "--ledger", str(ledger)],
        capsys,
    )
    assert code == 2 and not (tmp_path / "2.si").exists()
    assert err.startswith(
        f"bokfor: error: {payments}:3: ch_3QVQp8Rb7qLmX2vT1VZE8zcn was already exported as "
        "stripe:txn_3QVQp8Rb7qLmX2vT1Mv8WyML (export 1, "
    )


def test_corrected_row_that_now_books_nothing_is_settled(tmp_path, capsys):
    """A payout booked while in transit fails later: --correct reverses it once, and the
    ledger then knows its new status, so the next run neither rebooks nor reverses again."""
    mapping, ledger = REPO / "mappings" / "stripe.yaml", tmp_path / "l.sqlite"
    failed = (SAMPLE.parent / "payouts.csv").read_text(encoding="utf-8")
    assert ",failed,bank_account," in failed
    early = tmp_path / "payouts_early.csv"
    early.write_text(
        failed.replace(",failed,bank_account,", ",in_transit,bank_account,"), encoding="utf-8"
    )
    later = tmp_path / "payouts.csv"
    later.write_text(failed, encoding="utf-8")
    args = ["-m", str(mapping), "--ledger", str(ledger)]
    assert convert([str(early), "-o", str(tmp_path / "1.si"), *args], capsys)[0] == 0
    assert len(read(tmp_path / "1.si").document.vouchers) == 6
    assert convert([str(later), "-o", str(tmp_path / "2.si"), *args], capsys)[0] == 2
    code, stdout, _ = convert(
        [str(later), "-o", str(tmp_path / "2.si"), "--correct", *args], capsys
    )
    assert code == 0
    [reversal] = read(tmp_path / "2.si").document.vouchers
    assert reversal.text == "Rättelse stripe-payout:po_1Qn996Sx4hKw9PzN0Pjd30Rn"
    assert sorted((l.account, l.amount) for l in reversal.lines) == [
        ("1580", 341260),
        ("1930", -341260),
    ]
    assert convert([str(later), "-o", str(tmp_path / "3.si"), *args], capsys)[0] == 3
    assert convert([str(later), "-o", str(tmp_path / "3.si"), "--correct", *args], capsys)[0] == 3


def test_an_export_committed_while_planning_is_not_exported_again(
    tmp_path, per_row, capsys, monkeypatch
):
    """Run B reads the exported rows; run A then exports; B must plan again under the lock
    and find nothing new, never export A's rows a second time."""
    from bokfor.convert import Job
    from bokfor.ledger import Ledger
    from bokfor.mapping import load_mapping

    lines = sample_lines()
    early = tmp_path / "early.csv"
    early.write_text(lines[0] + "".join(lines[30:]), encoding="utf-8")
    ledger = tmp_path / "l.sqlite"
    assert (
        convert(
            [str(early), "-m", str(per_row), "-o", str(tmp_path / "0.si"), "--ledger", str(ledger)],
            capsys,
        )[0]
        == 0
    )  # the ledger exists, B reads it live
    mapping = load_mapping(per_row)
    run_a = Job([SAMPLE], mapping, per_row, ledger, generated=dt.date(2026, 2, 1))
    run_b = Job([SAMPLE], mapping, per_row, ledger, generated=dt.date(2026, 2, 1))
    known, known_frame = Ledger.known, Ledger.known_frame

    def run_a_exports():
        monkeypatch.setattr(Ledger, "known", known)
        monkeypatch.setattr(Ledger, "known_frame", known_frame)
        plan_a, state_a = run_a.plan()
        run_a.write(plan_a, state_a, run_a.check(plan_a)[0], str(tmp_path / "a.si"))

    def known_then_run_a_exports(self, keys):  # B asks row by row, or a frame at a time
        result = known(self, keys)
        run_a_exports()
        return result

    def known_frame_then_run_a_exports(self, keys):
        result = known_frame(self, keys)
        run_a_exports()
        return result

    monkeypatch.setattr(Ledger, "known", known_then_run_a_exports)
    monkeypatch.setattr(Ledger, "known_frame", known_frame_then_run_a_exports)
    plan_b, state_b = run_b.plan()
    assert len(plan_b.to_write) == 29  # planned from the ledger before A's export
    assert run_b.write(plan_b, state_b, run_b.check(plan_b)[0], str(tmp_path / "b.si")) is None
    assert not (tmp_path / "b.si").exists()
    assert len(ids_in(tmp_path / "a.si")) == 29 and len(ledger_keys(ledger)) == 36


def _early_exported(tmp_path: Path, per_row: Path, capsys) -> tuple[Path, list[str]]:
    """A ledger that exported the sample's earliest rows, and the options naming it."""
    lines = sample_lines()
    early = tmp_path / "early.csv"
    early.write_text(lines[0] + "".join(lines[30:]), encoding="utf-8")
    ledger = tmp_path / "l.sqlite"
    args = ["-m", str(per_row), "--ledger", str(ledger)]
    assert convert([str(early), "-o", str(tmp_path / "0.si"), *args], capsys)[0] == 0
    return ledger, args


def test_rows_read_whole_after_another_run_exported_are_those_of_the_snapshot(
    tmp_path, per_row, capsys, monkeypatch
):
    """Run B plans by frames; run A exports before B's first question; B's first batch is
    looked up, its later ones answered from the rows read whole (Ledger.known_frame): all
    from the ledger as B's snapshot saw it, so B plans again under the lock and never
    exports A's rows a second time."""
    from bokfor import ledger as ledger_module
    from bokfor import plan as plan_module
    from bokfor.convert import Job
    from bokfor.mapping import load_mapping
    from bokfor.sources import csvframe

    ledger, _ = _early_exported(tmp_path, per_row, capsys)
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)
    monkeypatch.setattr(csvframe, "_BATCH", 2 << 10)  # a few batches
    monkeypatch.setattr(ledger_module, "_SCAN_SHARE", 1 << 40)
    mapping = load_mapping(per_row)
    run_a = Job([SAMPLE], mapping, per_row, ledger, generated=dt.date(2026, 2, 1))
    run_b = Job([SAMPLE], mapping, per_row, ledger, generated=dt.date(2026, 2, 1))
    table, read = ledger_module._Scan.table, []

    def spy(self, conn, asking):
        found = table(self, conn, asking)
        read.append(found is not None)
        return found

    def run_a_exports_then_look_up(self, conn, asking):
        monkeypatch.setattr(ledger_module._Scan, "table", spy)
        plan_a, state_a = run_a.plan()
        run_a.write(plan_a, state_a, run_a.check(plan_a)[0], str(tmp_path / "a.si"))
        read.clear()  # A's questions
        return None

    monkeypatch.setattr(ledger_module._Scan, "table", run_a_exports_then_look_up)
    plan_b, state_b = run_b.plan()
    assert len(ids_in(tmp_path / "a.si")) == 29
    assert len(read) > 1 and all(read)  # B's later batches: from the rows read whole
    assert len(plan_b.to_write) == 29  # planned from the ledger before A's export
    assert run_b.write(plan_b, state_b, run_b.check(plan_b)[0], str(tmp_path / "b.si")) is None
    assert not (tmp_path / "b.si").exists() and len(ledger_keys(ledger)) == 36


def test_a_snapshot_never_answers_from_the_rows_an_earlier_one_read(
    tmp_path, per_row, capsys, monkeypatch
):
    """One Ledger object, two snapshots, an export committed between them: the second
    answers from the ledger as it is then, not from the rows the first read whole."""
    import polars as pl

    from bokfor import ledger as ledger_module
    from bokfor.ledger import Ledger
    from bokfor.sources.stripe_balance import StripeBalanceSource

    ledger, args = _early_exported(tmp_path, per_row, capsys)
    monkeypatch.setattr(ledger_module, "_SCAN_SHARE", 1 << 40)
    keys = pl.Series(sorted(r.key for r in StripeBalanceSource().read(SAMPLE, dt.timezone.utc)))
    opened = Ledger.open(ledger)
    try:
        with opened.snapshot():
            before = opened.known_frame(keys)
        assert convert([str(SAMPLE), "-o", str(tmp_path / "1.si"), *args], capsys)[0] == 0
        with opened.snapshot():
            after = opened.known_frame(keys)
            assert opened._scan is not None and opened._scan.frame is not None
    finally:
        opened.close()
    assert before.height == len(ledger_keys(ledger)) - len(ids_in(tmp_path / "1.si")) > 0
    assert after.height == keys.len() == len(ledger_keys(ledger))


def test_a_transaction_exported_from_the_balance_export_is_not_rebooked_from_a_report(
    tmp_path, capsys
):
    """The balance export and the Reports share keys (stripe:txn_…): one transaction, one
    booking, whichever export it arrives in first."""
    mapping, ledger = REPO / "mappings" / "stripe.yaml", tmp_path / "l.sqlite"
    assert (
        convert(
            [
                str(SAMPLE),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "1.si"),
                "--ledger",
                str(ledger),
            ],
            capsys,
        )[0]
        == 0
    )
    report = (
        Path(__file__).parent / "fixtures" / "crossexport" / "activity_with_exported_charge.csv"
    )
    code, stdout, _ = convert(
        [str(report), "-m", str(mapping), "-o", str(tmp_path / "2.si"), "--ledger", str(ledger)],
        capsys,
    )
    assert code == 3 and not (tmp_path / "2.si").exists()
    assert "1 rows -> 0 new verifikationer (1 already exported)" in stdout


def test_a_row_alone_in_its_voucher_stores_no_second_copy_of_its_lines(tmp_path, per_row, capsys):
    """Schema 3: rows.lines is '' when they are the voucher's (one voucher a row); a per-day
    voucher's rows keep their own. Both read back as the row's lines."""
    from bokfor.ledger import Ledger

    for mapping, name in ((per_row, "row"), (REPO / "mappings" / "stripe.yaml", "day")):
        ledger = tmp_path / f"{name}.sqlite"
        assert (
            convert(
                [
                    str(SAMPLE),
                    "-m",
                    str(mapping),
                    "-o",
                    str(tmp_path / f"{name}.si"),
                    "--ledger",
                    str(ledger),
                ],
                capsys,
            )[0]
            == 0
        )
        with sqlite3.connect(ledger) as conn:
            empty = conn.execute("SELECT count(*) FROM rows WHERE lines = ''").fetchone()[0]
        assert empty == (36 if name == "row" else 0)
        row = Ledger.open(ledger).row("stripe:txn_3QZBksRb7qLmX2vT0FocDVrU")
        assert row is not None
        assert sorted((l.account, l.amount) for l in row.lines) == [
            ("1580", 126885),
            ("2611", -25800),
            ("3001", -103200),
            ("6570", 2115),
        ]


V4 = REPO / "tests" / "fixtures" / "ledger_v4"  # made by bokfor at 9ecff3b (schema 4): make.sh


def _v4_plans() -> list[tuple[str, list[str]]]:
    """The `plan NAME MAPPING ARGS…` lines of make.sh, as (name, bokfor plan arguments)."""
    names = {
        "$REPO": "../../..",
        "$STRIPE": "../../../mappings/stripe.yaml",
        "$BANK": "../ledger_v3/bank.yaml",
        "$POS": "../../../mappings/pos.yaml",
    }
    plans = []
    for line in (V4 / "make.sh").read_text(encoding="utf-8").splitlines():
        if line.startswith("plan "):
            for name, value in names.items():
                line = line.replace(name, value)
            _, name, mapping, *args = line.split()
            plans.append((name, [*args, "-m", mapping, "--show", "all"]))
    return plans


@pytest.mark.parametrize("name,args", _v4_plans(), ids=[n for n, _ in _v4_plans()])
def test_a_ledger_of_schema_4_plans_as_the_release_that_made_it(
    name, args, tmp_path, monkeypatch, capsys
):
    """A ledger of schema 4 (a Stripe export, a correction, id-less bank rows, a POS day, a
    forgotten export) is migrated and plans exactly as that release planned: every row the
    same +, =, ~ or refusal, every line of the output the same."""
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes((V4 / "ledger.sqlite").read_bytes())
    monkeypatch.chdir(V4)
    code, out, err = run_cli(["plan", *args, "--ledger", str(ledger)], capsys)
    assert (out, f"{err}exit {code}\n") == (
        (V4 / "plans" / f"{name}.out").read_text(encoding="utf-8"),
        (V4 / "plans" / f"{name}.err").read_text(encoding="utf-8"),
    )
    with sqlite3.connect(ledger) as conn:
        from bokfor.ledger import MIGRATIONS

        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.text(max_size=3)), max_size=4))
def test_stored_dimensions_read_back_as_make_dims_makes_them(dims):
    """`lines_from_json` keeps canonical dimensions as they stand (the fast way) and makes
    any other form canonical: the same as `make_dims` either way."""
    from bokfor.domain import Line, make_dims
    from bokfor.ledger import lines_from_json, lines_to_json

    raw = json.dumps([["1930", 100, [list(d) for d in dims], "t"]])
    assert lines_from_json(raw)[0].dims == make_dims(dict(dims))
    line = Line("1930", 100, make_dims(dict(dims)), "t")
    assert lines_from_json(lines_to_json((line,))) == (line,)
