"""`bokfor convert` on the shipped sample: golden SIE files, compared byte for byte.

Regenerate a golden file only after reading the diff: `BOKFOR_REGEN=1 pytest tests/test_convert.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bokfor.ledger import Ledger
from bokfor.mapping import load_mapping
from bokfor.plan import make_plan
from bokfor.sie.reader import read

from .golden_sie import GOLDEN, assert_golden
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"
EPOCH = "1767225600"  # 2026-01-01: fixes #GEN


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def mapping_with(tmp_path: Path, grouping: str) -> Path:
    text = MAPPING.read_text(encoding="utf-8").replace(
        "grouping: per_day", f"grouping: {grouping}", 1
    )
    if grouping != "per_day":
        text = text.replace(
            "voucher_text: Stripe {date}",
            "voucher_text: Stripe {%s}"
            % ("payout_id" if grouping == "per_payout" else "type} {id"),
            1,
        )
    path = tmp_path / f"{grouping}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("grouping", ["per_day", "per_row", "per_payout"])
def test_golden_sie(grouping, tmp_path, capsys):
    mapping = MAPPING if grouping == "per_day" else mapping_with(tmp_path, grouping)
    out = tmp_path / "out.si"
    code, stdout, stderr = run_cli(
        [
            "convert",
            str(SAMPLE),
            "--mapping",
            str(mapping),
            "--out",
            str(out),
            "--ledger",
            str(tmp_path / "ledger.sqlite"),
        ],
        capsys,
    )
    assert code == 0, stderr
    assert_golden(out, GOLDEN / f"stripe_{grouping}.si")
    assert "Wrote " in stdout and str(out) in stdout


REPORTS = {
    "stripe_report_activity": (
        "Itemized_balance_change_from_activity_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv",
        None,
    ),
    "stripe_report_payouts": (
        "Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv",
        "per_payout",
    ),
    "stripe_payments": ("unified_payments.csv", None),
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden_sie_of_the_other_exports(name, tmp_path, capsys):
    sample, grouping = REPORTS[name]
    mapping = MAPPING
    if grouping:
        text = MAPPING.read_text(encoding="utf-8")
        head, tail = text.split("  stripe_report:", 1)
        tail = tail.replace("grouping: per_day", f"grouping: {grouping}", 1).replace(
            "voucher_text: Stripe {date}", "voucher_text: Stripe {payout_id}", 1
        )
        mapping = tmp_path / "m.yaml"
        mapping.write_text(head + "  stripe_report:" + tail, encoding="utf-8")
    out = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            str(SAMPLE.parent / sample),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l"),
            "--from",
            "2026-01-01",
        ],
        capsys,
    )
    assert code == 0, err
    assert_golden(out, GOLDEN / f"{name}.si")
    assert all(v.balance == 0 for v in read(out).document.vouchers)


def test_sample_books_every_row_and_balances(tmp_path):
    mapping = load_mapping(MAPPING)
    plan = make_plan([SAMPLE], mapping, Ledger.open(tmp_path / "none.sqlite"))
    [summary] = plan.inputs
    assert (summary.rows, summary.outside, summary.zero, summary.pending) == (36, 0, 0, 0)
    keys = [k for v in plan.to_write for k in v.source_keys]
    assert len(keys) == len(set(keys)) == 36
    assert all(v.balance == 0 for v in plan.to_write)
    # 1580 (the Stripe balance) ends at what is still on Stripe: the four unpaid rows' net.
    clearing = sum(l.amount for v in plan.to_write for l in v.lines if l.account == "1580")
    bank = sum(l.amount for v in plan.to_write for l in v.lines if l.account == "1930")
    assert bank == 971769  # the four payouts
    assert clearing == 298325


def test_written_file_reads_back_to_the_same_vouchers(tmp_path, capsys):
    out = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(MAPPING),
            "-o",
            str(out),
            "--checksum",
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    result = read(out)
    assert result.checksum == "ok"
    expected = make_plan([SAMPLE], load_mapping(MAPPING), Ledger.open(tmp_path / "x")).to_write
    assert [(v.series, v.date, v.text, v.lines) for v in result.document.vouchers] == [
        (v.series, v.date, v.text, v.lines) for v in expected
    ]
    code, stdout, _ = run_cli(["sie", "check", str(out)], capsys)
    assert code == 0
    assert "checksum ok" in stdout and stdout.rstrip().endswith("OK")


def test_dry_run_writes_nothing_and_shows_totals(tmp_path, capsys):
    out = tmp_path / "out.si"
    code, stdout, _ = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(MAPPING),
            "-o",
            str(out),
            "--dry-run",
            "--show",
            "all",
            "--ledger",
            str(tmp_path / "l"),
        ],
        capsys,
    )
    assert code == 0
    assert not out.exists()
    assert "Dry run: nothing written." in stdout
    assert "Summa per konto" in stdout
    assert stdout.count("Stripe 2026-01-") == 28
    assert (
        "Plan: 29 verifikationer to add (+), 0 already exported (=); 0 rows changed (~), "
        "0 rows unmapped (!)"
    ) in stdout


def test_period_filter_counts_what_it_leaves_out(tmp_path, capsys):
    out = tmp_path / "jan.si"
    code, stdout, _ = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(MAPPING),
            "-o",
            str(out),
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0
    assert "36 rows -> 28 new verifikationer (1 outside --from/--to)" in stdout
    assert b"20260201" not in out.read_bytes()


def test_two_runs_give_identical_bytes(tmp_path, capsys):
    for name in ("a.si", "b.si"):  # separate ledgers: each run exports everything
        assert (
            run_cli(
                [
                    "convert",
                    str(SAMPLE),
                    "-m",
                    str(MAPPING),
                    "-o",
                    str(tmp_path / name),
                    "--ledger",
                    str(tmp_path / f"{name}.sqlite"),
                ],
                capsys,
            )[0]
            == 0
        )
    assert (tmp_path / "a.si").read_bytes() == (tmp_path / "b.si").read_bytes()


def test_console_entry_point_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("Datum;Text;Belopp\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bokfor",
            "convert",
            str(bad),
            "-m",
            str(MAPPING),
            "-o",
            str(tmp_path / "o.si"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"bokfor: error: {bad}:1: the header looks like ICA Banken")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.si").exists()


def test_output_file_gets_ordinary_permissions(tmp_path, capsys):
    out = tmp_path / "out.si"
    old = os.umask(0o022)
    try:
        assert (
            run_cli(
                [
                    "convert",
                    str(SAMPLE),
                    "-m",
                    str(MAPPING),
                    "-o",
                    str(out),
                    "--ledger",
                    str(tmp_path / "l.sqlite"),
                ],
                capsys,
            )[0]
            == 0
        )
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".out.si.*"))  # no temp file left behind


def test_texts_that_look_like_markup_are_shown_as_written(tmp_path, capsys):
    """Voucher texts, names and paths are data: '[/b]' must neither vanish nor crash."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8")
        .replace("name: Exempelbutiken AB", "name: Foo [/b] AB")
        .replace("voucher_text: Stripe {date}", "voucher_text: Stripe [red]{date}"),
        encoding="utf-8",
    )
    out = tmp_path / "o.si"
    code, stdout, err = run_cli(
        [
            "convert",
            str(SAMPLE),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "[red]2026-01-01" in stdout  # shown as written (the table may wrap it)
    code, stdout, err = run_cli(["sie", "check", str(out)], capsys)
    assert code == 0, err
    assert "Företag: Foo [/b] AB (556677-8899)" in stdout
