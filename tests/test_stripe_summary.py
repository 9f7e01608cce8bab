"""Stripe balance summary (`balance.summary.1`): control totals, their arithmetic, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from bokfor.errors import InputError
from bokfor.sources.stripe_balance import SOURCE as BALANCE_SOURCE
from bokfor.sources.stripe_payments import SOURCE as PAYMENTS_SOURCE
from bokfor.sources.stripe_payouts import SOURCE as PAYOUTS_SOURCE
from bokfor.sources.stripe_report import SOURCE as REPORT_SOURCE
from bokfor.sources.stripe_summary import BalanceSummary, detect, read_summary

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "stripe"
SAMPLE = SAMPLES / "Balance_Summary_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe_summary"
REDOWNLOAD = (
    "re-download the balance summary from the Stripe Dashboard (Reports → Balance → Balance"
    " summary → Download)."
)


def test_sample() -> None:
    summary = read_summary(SAMPLE)
    assert summary == BalanceSummary(
        currency="sek", starting=202525, activity=2090430, payouts=-1978359, ending=314596,
        file=str(SAMPLE),
    )  # fmt: skip
    assert summary.starting + summary.activity + summary.payouts == summary.ending
    assert (summary.start, summary.end) == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert (summary.activity_gross, summary.activity_fee) == (2154723, -64293)
    assert (summary.payouts_gross, summary.payouts_fee) == (-1976859, -1500)


def test_frozen() -> None:
    summary = read_summary(SAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.ending = 0  # type: ignore[misc]


def test_four_lines_only() -> None:
    path = FIXTURES / "four_lines.csv"
    summary = read_summary(path)
    assert (
        summary.currency,
        summary.starting,
        summary.activity,
        summary.payouts,
        summary.ending,
        summary.file,
    ) == ("sek", 125040, 834015, -790233, 168822, str(path))
    assert summary.activity_gross is None and summary.payouts_fee is None


def test_decimal_comma_semicolon_bom_crlf_and_detail_lines() -> None:
    summary = read_summary(FIXTURES / "resaved_bom_semicolon_crlf_comma.csv")
    assert summary == BalanceSummary(
        "sek",
        125040,
        834015,
        -790233,
        168822,
        str(FIXTURES / "resaved_bom_semicolon_crlf_comma.csv"),
    )
    assert (summary.activity_gross, summary.activity_fee) == (852190, -18175)
    assert (summary.payouts_gross, summary.payouts_fee) == (-789000, -1233)
    assert summary.end == dt.date(2026, 1, 31)


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        SAMPLE,
        FIXTURES / "four_lines.csv",
        FIXTURES / "resaved_bom_semicolon_crlf_comma.csv",
        ROOT / "tests" / "fixtures" / "stripe_report" / "balance_summary.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_true_and_no_booking_source_claims_it(path: Path) -> None:
    assert detect(path) is True
    for source in (BALANCE_SOURCE, REPORT_SOURCE, PAYMENTS_SOURCE, PAYOUTS_SOURCE):
        assert source.detect(path) is False, source.name


@pytest.mark.parametrize(
    "path",
    [
        SAMPLES / "balance_history.csv",
        SAMPLES / "payouts.csv",
        SAMPLES / "unified_payments.csv",
        SAMPLES / "Itemized_payouts_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv",
        FIXTURES / "missing_column.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_false(path: Path) -> None:
    assert detect(path) is False


def test_detect_false_for_empty_missing_and_ignores_the_name(tmp_path: Path) -> None:
    empty = tmp_path / "Balance_Summary_SEK.csv"
    empty.write_bytes(b"")
    assert detect(empty) is False
    assert detect(tmp_path / "missing.csv") is False
    fake = tmp_path / "Balance_Summary_SEK_2026-01-01_to_2026-02-01_UTC.csv"
    shutil.copy(SAMPLES / "payouts.csv", fake)
    assert detect(fake) is False
    renamed = tmp_path / "x.txt"
    shutil.copy(SAMPLE, renamed)
    assert detect(renamed) is True


# --- errors --------------------------------------------------------------------------------


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read_summary(path)
    return info.value


def test_error_does_not_add_up() -> None:
    path = FIXTURES / "does_not_add_up.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:5: column 'net_amount': the balance summary does not add up: starting_balance"
        " 1250.40 + activity 8340.15 + payouts -7902.33 = 1688.22, but ending_balance is"
        " 1688.32 Fix: payouts are negative in a balance summary; a line was edited, or lines"
        f" of two downloads were mixed; {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 5, "net_amount")


def test_error_positive_payouts_do_not_add_up(tmp_path: Path) -> None:
    path = tmp_path / "positive.csv"
    path.write_text(
        (FIXTURES / "four_lines.csv").read_text("utf-8").replace('"-7902.33"', '"7902.33"')
    )
    assert "does not add up" in error_of(path).message


def test_error_gross_and_fee_lines_do_not_add_up() -> None:
    path = FIXTURES / "fee_does_not_add_up.csv"
    assert str(error_of(path)) == (
        f"{path}:6: column 'net_amount': the balance summary does not add up: activity_gross"
        " 8521.90 + activity_fee -181.57 = 8340.33, but activity is 8340.15 Fix: a line was"
        f" edited, or lines of two downloads were mixed; {REDOWNLOAD}"
    )


def test_error_missing_line() -> None:
    path = FIXTURES / "missing_line.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}: not a complete balance summary: no 'ending_balance' line Fix: a balance"
        f" summary has the lines starting_balance, activity, payouts, ending_balance; {REDOWNLOAD}"
    )
    assert err.line is None


def test_error_duplicate_line() -> None:
    path = FIXTURES / "duplicate_line.csv"
    assert str(error_of(path)) == (
        f"{path}:5: column 'category': the line 'payouts' appears twice (also at line 4) Fix:"
        f" a balance summary covers one period and one currency; {REDOWNLOAD}"
    )


def test_error_two_currencies() -> None:
    path = FIXTURES / "two_currencies.csv"
    assert str(error_of(path)) == (
        f"{path}:4: column 'currency': a second currency: 'eur', line 2 has 'sek' Fix: Stripe"
        " writes one balance summary per currency; download one for each currency and read"
        " them separately."
    )


def test_error_missing_column() -> None:
    path = FIXTURES / "missing_column.csv"
    assert str(error_of(path)) == (
        f"{path}:1: a Stripe balance summary without its `description` column: export again"
        " with description selected Fix: download the balance summary from the Stripe"
        " Dashboard (Reports → Balance → Balance summary → Download); bokfor needs the columns"
        " category, description, net_amount, currency."
    )


def test_error_bad_amount() -> None:
    path = FIXTURES / "bad_amount.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'net_amount': not an amount: '8 340.15' Fix: Stripe reports write"
        " amounts like -1234.50 (or -1234,50 when downloaded with the decimal separator ','),"
        " no thousands separator; re-download the report from the Stripe Dashboard rather than"
        " re-saving it in a spreadsheet."
    )


def test_error_mixed_marks_ragged_empty(tmp_path: Path) -> None:
    text = (FIXTURES / "four_lines.csv").read_text("utf-8")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(text.replace('"8340.15"', '"8340,15"'), "utf-8")
    err = error_of(mixed)
    assert (err.line, err.column) == (3, "net_amount")
    assert err.message.startswith("mixed decimal marks: '8340,15' has ','")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(text.replace('"Activity"', "Activity,net"), "utf-8")
    err = error_of(ragged)
    assert (err.line, err.message) == (3, "the row has 5 fields but the header has 4")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert error_of(empty).message == "the file is empty"
    assert error_of(tmp_path / "missing.csv").message == "no such file"
