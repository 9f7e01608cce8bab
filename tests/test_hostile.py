"""Hostile conditions: a full disk, an output directory that cannot be written, and inputs
built to hurt (NUL bytes, a gigantic line, mixed line ends). Each ends in one message and a
non-zero exit, nothing written, nothing recorded as exported."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"


def convert(tmp_path: Path, capsys, source: Path = SAMPLE) -> tuple[int, str]:
    code, _, err = run_cli(
        [
            "convert",
            str(source),
            "-m",
            str(MAPPING),
            "-o",
            str(tmp_path / "out" / "x.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--quiet",
        ],
        capsys,
    )
    return code, err


def still_new(tmp_path: Path, capsys) -> str:
    code, stdout, _ = run_cli(
        ["plan", str(SAMPLE), "-m", str(MAPPING), "--ledger", str(tmp_path / "l.sqlite")], capsys
    )
    return next(line for line in stdout.splitlines() if line.startswith("Plan:"))


def test_a_full_disk_writes_nothing_and_records_nothing(tmp_path, capsys, monkeypatch):
    fsync = os.fsync

    def full(fd: int) -> None:  # the output's disk is full (the ledger's is not)
        if "/out/" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr("bokfor.fileio.os.fsync", full)
    code, err = convert(tmp_path, capsys)
    monkeypatch.undo()
    assert code == 1
    assert err == (
        f"bokfor: error: {tmp_path / 'out' / 'x.si'}: writing failed: No space left on device"
        " Fix: check that the folder exists, that this user may write in it and that the disk has room.\n"
    )
    assert list((tmp_path / "out").iterdir()) == []  # no half file, no temp file
    assert still_new(tmp_path, capsys).startswith(
        "Plan: 29 verifikationer to add (+), 0 already exported"
    )


def refuse_mkstemp(monkeypatch, refused: Callable[[dict], bool]) -> None:
    """Temp files whose mkstemp arguments `refused` picks cannot be made (as root a chmod
    does not stop a write, so the refusal is simulated where it happens)."""
    mkstemp = tempfile.mkstemp

    def made(*args, **kwargs):
        if refused(kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr("tempfile.mkstemp", made)


def test_an_unwritable_directory_records_nothing(tmp_path, capsys, monkeypatch):
    # The output's directory refuses; the ledger's is writable.
    refuse_mkstemp(monkeypatch, lambda kw: str(kw.get("dir", "")).endswith("/out"))
    code, err = convert(tmp_path, capsys)
    monkeypatch.undo()
    assert code == 1
    assert err == (
        f"bokfor: error: {tmp_path / 'out' / 'x.si'}: cannot write here: Permission denied"
        " Fix: check that the folder exists, that this user may write in it and that the disk has room.\n"
    )
    assert still_new(tmp_path, capsys).startswith(
        "Plan: 29 verifikationer to add (+), 0 already exported"
    )


@pytest.mark.parametrize(
    "name, mutate",
    [
        ("nul", lambda text: text.replace("charge", "ch\x00arge", 1)),
        ("gigantic line", lambda text: text.replace("STRIPE PAYOUT", "X" * 5_000_000, 1)),
    ],
)
def test_hostile_bytes_give_one_message(tmp_path, capsys, name, mutate):
    bad = tmp_path / "export.csv"
    bad.write_bytes(mutate(SAMPLE.read_text(encoding="utf-8")).encode("utf-8"))
    code, err = convert(tmp_path, capsys, bad)
    assert code == 2, err
    # One error (a kind of row no rule matches lists the rule to paste below it).
    assert err.startswith(f"bokfor: error: {bad}") and err.count("bokfor: error") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_mixed_line_ends_read_like_the_original(tmp_path, capsys, monkeypatch):
    """Lone CRs (an old Mac editor) among LFs: the same rows, the same SIE file."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    mixed = tmp_path / "export.csv"
    mixed.write_bytes(SAMPLE.read_bytes().replace(b"\n", b"\r", 3))
    assert convert(tmp_path, capsys, mixed)[0] == 0
    clean = tmp_path / "clean"
    clean.mkdir()
    assert convert(clean, capsys)[0] == 0
    assert (tmp_path / "out" / "x.si").read_bytes() == (clean / "out" / "x.si").read_bytes()


def _refused(err: str, source: Path, limit: str) -> str:
    return (
        f"bokfor: error: {source}: the file is 0 MiB, more than the {limit} MiB one run "
        "reads Fix: export a shorter period (a month or a quarter) and convert each "
        "file; the ledger keeps the runs from booking anything twice.\n"
    )


def test_an_input_too_large_for_one_run_is_refused_up_front(tmp_path, capsys, monkeypatch):
    """A 2 GB export booked a voucher a row would exhaust memory half-way (~2 KiB a row):
    refused before any row is read, with the way out. The limits are lowered here instead of
    writing gigabytes (7.6 KB is "0 MiB")."""
    monkeypatch.setattr("bokfor.plan.MAX_INPUT_BYTES", 1024)
    monkeypatch.setattr("bokfor.plan.MAX_GROUPED_INPUT_BYTES", 2048)
    code, err = convert(tmp_path, capsys)  # booked a voucher a day: over either limit
    assert (code, err) == (2, _refused(err, SAMPLE, "0"))
    monkeypatch.setattr("bokfor.plan.MAX_GROUPED_INPUT_BYTES", 1 << 40)
    per_row = tmp_path / "per_row.yaml"
    per_row.write_text(
        MAPPING.read_text(encoding="utf-8").replace("grouping: per_day", "grouping: per_row"),
        encoding="utf-8",
    )
    assert "grouping: per_row" in per_row.read_text(encoding="utf-8")
    code, _, err = run_cli(["plan", str(SAMPLE), "-m", str(per_row)], capsys)
    assert (code, err) == (2, _refused(err, SAMPLE, "0"))
    code, _, err = run_cli(["plan", str(SAMPLE), "-m", str(MAPPING), "--correct"], capsys)
    assert (code, err) == (2, _refused(err, SAMPLE, "0"))  # --correct plans by rows


def test_a_file_booked_a_voucher_a_day_by_columns_may_be_larger(tmp_path, capsys, monkeypatch):
    """Rows booked by columns into a voucher a day hold ~30-60 B a row (their keys wait on
    disk): such a file may pass MAX_INPUT_BYTES, and converts as any other."""
    expected = tmp_path / "expected"
    expected.mkdir()
    assert convert(expected, capsys)[0] == 0
    monkeypatch.setattr("bokfor.plan.FRAMES_FROM", 0)  # the sample is read into frames
    monkeypatch.setattr("bokfor.plan.MAX_INPUT_BYTES", 1024)
    assert convert(tmp_path, capsys) == (0, "")
    assert (tmp_path / "out" / "x.si").read_bytes() == (expected / "out" / "x.si").read_bytes()


def test_a_large_file_that_frames_cannot_read_is_refused_before_it_is_read_by_rows(
    tmp_path, capsys, monkeypatch
):
    """A blank line among the rows: the plan by columns stops (NotFramed) and the plan by
    rows, which holds ~2 KiB a row, refuses the file as too large for it."""
    blank = tmp_path / "balance_history.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    blank.write_text("".join(lines[:5] + ["\n"] + lines[5:]), encoding="utf-8")
    monkeypatch.setattr("bokfor.plan.FRAMES_FROM", 0)
    monkeypatch.setattr("bokfor.plan.MAX_INPUT_BYTES", 1024)
    code, err = convert(tmp_path, capsys, blank)
    assert (code, err) == (2, _refused(err, blank, "0"))


def _ledger_connections(monkeypatch, wrap) -> None:
    """Every ledger connection of the run goes through `wrap` (after the schema exists)."""
    import bokfor.ledger

    real = bokfor.ledger._connect
    monkeypatch.setattr(bokfor.ledger, "_connect", lambda *a, **k: wrap(real(*a, **k)))


def test_a_full_disk_under_the_ledger_records_nothing(tmp_path, capsys, monkeypatch):
    """SQLite's own 'database or disk is full' (SQLITE_FULL, made real by capping the file at
    the pages it has) while the export is recorded: one message, no file, nothing recorded."""

    def capped(conn):
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    _ledger_connections(monkeypatch, capped)
    code, err = convert(tmp_path, capsys)
    monkeypatch.undo()
    ledger = tmp_path / "l.sqlite"
    assert code == 1
    assert err == (
        f"bokfor: error: {ledger}: the ledger could not be written: database or "
        "disk is full Fix: free space on the disk that holds the ledger (or give "
        "--ledger another path), then run again: nothing was written or recorded "
        "as exported.\n"
    )
    assert not (tmp_path / "out" / "x.si").exists()
    assert still_new(tmp_path, capsys).startswith(
        "Plan: 29 verifikationer to add (+), 0 already exported"
    )
    assert convert(tmp_path, capsys) == (0, "")
    assert still_new(tmp_path, capsys).startswith(
        "Plan: 0 verifikationer to add (+), 29 already exported"
    )


class _FullWhenDone:
    """A connection whose disk fills up just as the export is marked done."""

    def __init__(self, conn) -> None:
        self._conn = conn

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        self._conn.__enter__()
        return self

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)

    def execute(self, sql, *args):
        if sql.startswith("UPDATE exports SET state = 'done'"):
            import sqlite3

            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)


def test_a_full_disk_after_the_file_is_written_is_settled_next_run(tmp_path, capsys, monkeypatch):
    _ledger_connections(monkeypatch, _FullWhenDone)
    code, err = convert(tmp_path, capsys)
    monkeypatch.undo()
    ledger, out = tmp_path / "l.sqlite", tmp_path / "out" / "x.si"
    assert code == 1
    assert err == (
        f"bokfor: error: {ledger}: the ledger could not be written: database or "
        "disk is full Fix: free space on the disk that holds the ledger (or give "
        "--ledger another path); the file was written and its export stays "
        "pending: the next run records it (nothing is booked twice).\n"
    )
    written = out.read_bytes()
    code, stdout, _ = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(MAPPING),
            "-o",
            str(tmp_path / "out" / "y.si"),
            "--ledger",
            str(ledger),
        ],
        capsys,
    )
    assert code == 3 and not (tmp_path / "out" / "y.si").exists()  # settled: nothing new
    assert out.read_bytes() == written
    assert still_new(tmp_path, capsys).startswith(
        "Plan: 0 verifikationer to add (+), 29 already exported"
    )


def test_a_ledger_that_cannot_be_created_is_one_message(tmp_path, capsys, monkeypatch):
    """The ledger's directory refuses the new file: one message, nothing written."""
    refuse_mkstemp(monkeypatch, lambda kw: str(kw.get("prefix", "")).startswith(".l.sqlite."))
    code, err = convert(tmp_path, capsys)
    monkeypatch.undo()
    assert (code, err) == (
        1,
        f"bokfor: error: {tmp_path / 'l.sqlite'}: the ledger could not be "
        "created: Permission denied Fix: check that the directory is "
        "writable and has room, or give --ledger another path.\n",
    )
    assert not (tmp_path / "out").exists() and not (tmp_path / "l.sqlite").exists()


def _bokfor(*args: object, **env: str) -> subprocess.CompletedProcess[str]:
    """bokfor as a child process (with `env` added to the environment): one that waits
    forever fails this test (TimeoutExpired), never the whole suite."""
    return subprocess.run(
        [sys.executable, "-m", "bokfor", *map(str, args)],
        capture_output=True,
        text=True,
        encoding=env.get("PYTHONIOENCODING", "utf-8"),
        timeout=60,
        cwd=REPO,
        env={**os.environ, **env},
    )


def test_a_fifo_at_the_ledger_path_is_refused_without_waiting(tmp_path):
    """A named pipe where the ledger should be: opening it for reading would wait for a
    writer, forever under cron. Every command refuses it at once, writing nothing."""
    ledger = tmp_path / "ledger.sqlite"
    os.mkfifo(ledger)
    refused = (
        f"bokfor: error: {ledger}: the ledger path is a named pipe (FIFO), not a bokfor "
        "ledger Fix: bokfor keeps its export ledger in this file and never overwrites "
        "something else: move the file away (or name the real ledger with --ledger PATH) "
        "and run again.\n"
    )
    out = tmp_path / "x.si"
    for args in (
        ("plan", SAMPLE, "-m", MAPPING, "--ledger", ledger),
        ("convert", SAMPLE, "-m", MAPPING, "-o", out, "--ledger", ledger, "--quiet"),
        ("ledger", "list", "--ledger", ledger),
    ):
        done = _bokfor(*args)
        assert (done.returncode, done.stderr) == (2, refused), args
    assert not out.exists()


def test_a_written_file_replaced_by_a_fifo_is_a_caution_not_a_hang(tmp_path):
    """Every run checks the files it wrote lately; `ledger verify` hashes them all. A named
    pipe put where the SIE file was is reported as not what bokfor wrote, at once."""
    out, ledger = tmp_path / "x.si", tmp_path / "l.sqlite"
    done = _bokfor("convert", SAMPLE, "-m", MAPPING, "-o", out, "--ledger", ledger, "--quiet")
    assert done.returncode == 0, done.stderr
    out.unlink()
    os.mkfifo(out)
    changed = (
        f"{ledger}: export 1's file {out} (29 verifikationer 2026-01-01 .. 2026-02-01) was "
        "changed after bokfor wrote it: import only what bokfor wrote (`bokfor ledger "
        "verify` checks every file); once it is imported, `bokfor ledger imported 1`"
    )
    done = _bokfor("plan", SAMPLE, "-m", MAPPING, "--ledger", ledger)
    assert done.returncode == 3 and done.stderr == f"bokfor: warning: {changed}\n"
    done = _bokfor("ledger", "verify", "--ledger", ledger)
    assert done.returncode == 2 and done.stderr.endswith(f"  {changed}\n")


@pytest.mark.parametrize(
    "encoding, shown", [("latin-1", "Försäljning inom Sverige"), ("ascii", "F?rs?ljning inom")]
)
def test_a_terminal_that_cannot_show_every_character_still_gets_the_preview(
    tmp_path, encoding, shown
):
    """A Latin-1 or ASCII terminal (an old server's sv_SE.ISO-8859-1 locale, a Windows
    console): the preview shows '?' for what it cannot encode, and the run completes (it
    ended in a UnicodeEncodeError half-way through the table, nothing written)."""
    out = tmp_path / "x.si"
    done = _bokfor(
        "convert", SAMPLE, "-m", MAPPING, "-o", out, "--ledger", tmp_path / "l.sqlite",
        PYTHONIOENCODING=encoding,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert shown in done.stdout and "Wrote 29 verifikationer" in done.stdout
    assert out.read_bytes().count(b"#VER") == 29


def test_a_ledger_whose_lock_file_cannot_be_made_is_one_message(tmp_path, capsys):
    """A ledger path whose lock file's name is too long for the file system (or whose
    folder this user may not write): one message naming it, exit 2, nothing written (it was
    an internal error)."""
    ledger = tmp_path / ("x" * 250 + ".sqlite")
    out = tmp_path / "x.si"
    code, _, err = run_cli(
        ["convert", str(SAMPLE), "-m", str(MAPPING), "-o", str(out), "--ledger", str(ledger)],
        capsys,
    )
    assert (code, err) == (
        2,
        f"bokfor: error: {ledger}: the ledger's lock file {ledger.name}.lock cannot be made: "
        "File name too long Fix: name a ledger in a folder this user may write, by a shorter "
        "path if this one is too long (--ledger PATH); nothing was written or recorded.\n",
    )
    assert not out.exists()


# -- inputs that ended in "internal error" (an adversarial review) -----------------------


def _sample_with(tmp_path: Path, old: str, new: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    text = SAMPLE.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize(
    "old, new, expected",
    [
        (  # Python's int() stops at 4,300 digits with a ValueError of its own
            "1290.00",
            "9" * 5000,
            "column 'Amount': not an amount: '" + "9" * 5000,
        ),
        (  # Stockholm's date of it is in year 10000; its fiscal year ends in year 10000
            "2026-01-30 20:40",
            "9999-12-31 23:30",
            "column 'Created (UTC)': not a Stripe date and time: '9999-12-31 23:30'",
        ),
    ],
)
def test_an_absurd_value_in_a_row_is_one_message(
    tmp_path, capsys, monkeypatch, old, new, expected, mode
):
    from bokfor import plan

    monkeypatch.setattr(plan, "FRAMES_FROM", 0 if mode == "columns" else 1 << 62)
    code, err = convert(tmp_path, capsys, _sample_with(tmp_path, old, new))
    assert code == 2, err
    assert err.startswith(f"bokfor: error: {tmp_path / 'in.csv'}:3: {expected}")
    assert not (tmp_path / "out").exists()


def test_a_fiscal_year_in_year_9999_ends_with_the_calendar():
    import datetime as dt

    from bokfor.mapping import load_mapping

    mapping = load_mapping(MAPPING)
    assert mapping.fiscal_year_of(dt.date(9999, 6, 1)) == (dt.date(9999, 1, 1), dt.date.max)


@pytest.mark.parametrize("make", ["loop", "long", "latin1"])
def test_an_input_path_that_cannot_be_named_is_one_message(tmp_path, capsys, make):
    if make == "loop":
        (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
        (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
        path, why = (
            tmp_path / "a.csv",
            "the input cannot be read: Too many levels of symbolic links",
        )
    elif make == "long":
        path, why = tmp_path / ("x" * 300 + ".csv"), "the input cannot be read: File name too long"
    else:  # a Latin-1 name from an old share or a zip: not text the ledger can record
        name = os.fsdecode(b"saldo_m\xe5nad.csv")
        path = tmp_path / name
        path.write_bytes(SAMPLE.read_bytes())
        why = "the file's name is not UTF-8 text, and the export ledger records it"
    code, err = convert(tmp_path, capsys, path)
    assert code == 2, err
    assert why in err and "internal error" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "l.sqlite").exists()


def test_a_run_with_stdout_closed_still_exports(tmp_path):
    """cron with `>&-`: Python starts without sys.stdout, and bokfor's import of its console
    raised a traceback (exit 1, nothing written). What it prints now goes nowhere."""
    import shlex

    out = tmp_path / "x.si"
    args = ["convert", SAMPLE, "-m", MAPPING, "--ledger", tmp_path / "l.sqlite", "-o", out]
    command = shlex.join([sys.executable, "-m", "bokfor", *map(str, args)])
    done = subprocess.run(
        ["sh", "-c", command + " >&-"],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and out.read_bytes().count(b"#VER") == 29


def test_a_reader_that_goes_away_stops_the_run_with_a_message(tmp_path):
    """`bokfor convert … | head -1`: rich's own handler exited 1 with no word. The preview
    comes before anything is written (here longer than a pipe holds): the run stops there,
    and says so."""
    from bench.gen_stripe import generate

    data, mapping = tmp_path / "balance.csv", tmp_path / "per_row.yaml"
    generate(3000, data, 1)
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8").replace("grouping: per_day", "grouping: per_row"),
        encoding="utf-8",
    )
    args = [
        "convert",
        data,
        "-m",
        mapping,
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "x.si",
        "--show",
        "all",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bokfor", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=120) == 1
    assert err.startswith(
        "bokfor: error: the output was closed before bokfor finished printing (a broken pipe): "
        "the run stopped there Fix:"
    ), err
    assert not (tmp_path / "x.si").exists()
