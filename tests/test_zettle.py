"""Zettle receipts report and account statement: the real public files read in place
(skipped without shared/), the authored Swedish samples, and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.dayclose import RateTotal, check, z_gaps
from bokfor.errors import InputError
from bokfor.posbook import PosAccounts, book_dayclose
from bokfor.sources import zettle

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "pos"
RECEIPTS_SV = SAMPLES / "zettle_receipts_sv.csv"
STATEMENT_SV = SAMPLES / "zettle_statement_sv.csv"
PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "pos-public"
REAL_RECEIPTS = PUBLIC / "Zettle-Receipts-Report-20210101-20210910.xlsx"
REAL_STATEMENT = PUBLIC / "Zettle-Account-Statement-Report-20230901-20250903.xlsx"
REAL_MOBILEPAY = PUBLIC / "MobilePay_Sales_overview_csv_MyShop_25-08-2021_14-09-2021.csv"


def real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip("shared/pos-public is not beside the repo")
    return path


# --- real Danish files ----------------------------------------------------------------------


def test_real_receipts_report_one_close_per_day() -> None:
    closes = zettle.read_receipts(real(REAL_RECEIPTS))
    assert [dc.key for dc in closes] == [
        "pos:zettle:zettle:2021-08-13",
        "pos:zettle:zettle:2021-08-18",
        "pos:zettle:zettle:2021-08-19",
    ]
    last = closes[-1]
    assert dict(last.sales_by_rate) == {"25": RateTotal(193200, 48300, 241500)}
    assert dict(last.payments) == {
        "Chip": 166500,
        "Contactless": 10000,
        "MobilePay": 50000,
        "Kontant": 15000,
    }
    assert last.origin.line == 20 and last.receipts == 4
    assert last.statistics["Zettle / fees"] == {"gross": "4854"}
    assert last.statistics["items / 1 Hax"] == {"count": "750"}
    assert all(check(dc) == [] for dc in closes)
    assert z_gaps(closes) == []  # no Z numbers: days are not a series


def test_real_receipts_after_midnight_with_a_day_start() -> None:
    closes = zettle.read_receipts(real(REAL_RECEIPTS), register="BAR", day_starts_at=dt.time(4))
    assert [(dc.register, dc.business_day) for dc in closes] == [
        ("BAR", dt.date(2021, 8, 12)),
        ("BAR", dt.date(2021, 8, 18)),
        ("BAR", dt.date(2021, 8, 19)),
    ]


def test_real_detection() -> None:
    assert zettle.detect_receipts(real(REAL_RECEIPTS))
    assert not zettle.detect_statement(REAL_RECEIPTS)
    assert zettle.detect_statement(real(REAL_STATEMENT))
    assert not zettle.detect_receipts(REAL_STATEMENT)
    assert not zettle.detect_receipts(real(REAL_MOBILEPAY))
    assert not zettle.detect_statement(REAL_MOBILEPAY)


def test_real_statement_balance_and_payouts() -> None:
    rows, notices = zettle.read_statement(real(REAL_STATEMENT))
    assert len(rows) == 4059 and notices == []
    kinds = {r.kind for r in rows}
    assert kinds == {"card_payment", "fee", "fee_bonus", "payout"}
    assert rows[0].type == "Udbetaling til bankkonto" and rows[0].amount == -404927
    assert len({r.key for r in rows}) == len(rows)
    groups = zettle.payouts(rows)
    assert len(groups) == 16
    for p in groups:
        assert (
            p.opening + p.card_payments + p.fees + p.fee_bonuses + p.refunds + p.other == p.amount
        )
    assert (groups[-1].date, groups[-1].amount) == (dt.date(2025, 8, 1), 404927)


# --- authored Swedish samples ---------------------------------------------------------------


def test_swedish_csv_receipts() -> None:
    first, second = zettle.read_receipts(RECEIPTS_SV, day_starts_at=dt.time(4))
    assert first.business_day == dt.date(2026, 12, 1)
    assert dict(first.sales_by_rate) == {
        "25": RateTotal(8000, 2000, 10000),
        "12": RateTotal(25000, 3000, 28000),
        "6": RateTotal(10000, 600, 10600),
    }
    assert dict(first.payments) == {
        "Kontaktlös": 11200,
        "Swish": 5600,
        "Kontant": 10000,
        "Chip": 13200,
        "Presentkort": 10600,
    }
    assert first.tips == 2000
    assert first.statistics["Zettle / refunds"] == {"count": "1", "gross": "-5600"}
    assert [n.message for n in check(first)][0] == (
        "zettle 2026-12-01: 1 receipt(s) with VAT at several rates; their sales per rate are "
        "derived from their VAT (exact to a few öre): compare with Zettle's VAT report"
    )
    # The receipt at 00:30 on the 3rd belongs to the 2nd's business day.
    assert second.business_day == dt.date(2026, 12, 2)
    assert dict(second.payments) == {"Kontaktlös": 37500}


def test_swedish_receipts_book() -> None:
    first = zettle.read_receipts(RECEIPTS_SV)[0]
    accounts = PosAccounts.from_dict(
        {
            "payment_methods": {
                "Kontaktlös": "1580",
                "Chip": "1580",
                "Swish": "1930",
                "Kontant": "1910",
                "Presentkort": "gift_card",
            },
            "vat_rates": {
                "25": {"sales": "3001", "vat": "2611"},
                "12": {"sales": "3002", "vat": "2621"},
                "6": {"sales": "3003", "vat": "2631"},
            },
            "tips": "2829",
            "series": "Z",
            "text": "Zettle {date}",
        }
    )
    voucher = book_dayclose(first, accounts)
    assert voucher.text == "Zettle 2026-12-01" and voucher.balance == 0
    assert voucher.source_keys == ("pos:zettle:zettle:2026-12-01",)
    assert ("2421", 10600) in [(l.account, l.amount) for l in voucher.lines]


def test_swedish_statement() -> None:
    rows, notices = zettle.read_statement(STATEMENT_SV)
    assert notices == []
    assert [r.kind for r in rows[:3]] == ["card_payment", "payout", "fee"]
    (payout,) = zettle.payouts(rows)  # the card payment after the payout is not paid out yet
    assert (payout.date, payout.amount, payout.card_payments, payout.fees) == (
        dt.date(2026, 12, 4),
        60878,
        61900,
        -1022,
    )
    assert [r.reference for r in payout.rows if r.kind == "card_payment"] == [
        "101",
        "104",
        "107",
        "108",
    ]


# --- bad input ------------------------------------------------------------------------------


def test_statement_balance_break_is_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_text(
        STATEMENT_SV.read_text(encoding="utf-8").replace(
            "Avgift;-4,13;485,84", "Avgift;-4,31;485,84"
        ),
        encoding="utf-8",
    )
    _, notices = zettle.read_statement(path)
    assert [(n.line, n.message) for n in notices] == [
        (6, "running balance breaks: 489,97 + -4,31 ≠ 485,84 (a row is missing or was changed)")
    ]


def test_not_a_receipts_report() -> None:
    with pytest.raises(InputError) as err:
        zettle.read_receipts(STATEMENT_SV)
    assert err.value.message == (
        "no Zettle receipts header (date, total and payment method columns) in the first 60 rows"
    )


def test_bad_amount_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        RECEIPTS_SV.read_text(encoding="utf-8").replace(
            ";56,00;0,00;56,00;Swish", ";5x,00;0,00;56,00;Swish"
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        zettle.read_receipts(path)
    assert err.value.message == "not an amount: '5x,00' is not a number"
    assert (err.value.line, err.value.column) == (11, "Totalt")


def test_rows_after_the_footer_are_refused(tmp_path: Path) -> None:
    lines = RECEIPTS_SV.read_text(encoding="utf-8").splitlines()
    moved = lines[:12] + [""] + lines[12:]
    path = tmp_path / "r.csv"
    path.write_text("\n".join(moved) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        zettle.read_receipts(path)
    assert err.value.message == "a receipt row after the end of the table (line 13)"
    assert err.value.line == 14


def test_missing_payment_method(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        RECEIPTS_SV.read_text(encoding="utf-8").replace(";Swish;Köp;", ";;Köp;"), encoding="utf-8"
    )
    with pytest.raises(InputError) as err:
        zettle.read_receipts(path)
    assert (err.value.message, err.value.line, err.value.column) == (
        "no payment method",
        11,
        "Betalningsmetod",
    )


def test_damaged_workbook(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError) as err:
        zettle.read_receipts(path)
    assert err.value.message == "not a readable xlsx workbook (File is not a zip file)"


def test_float_cells_are_exact() -> None:
    assert zettle._ore(0.28, "f", 1, "c") == 28
    assert zettle._ore(4049.27, "f", 1, "c") == 404927
    assert zettle._ore(10, "f", 1, "c") == 1000
    with pytest.raises(InputError):
        zettle._ore(0.285, "f", 1, "c")


def test_mixed_rate_split() -> None:
    assert zettle._split_mixed(15600, {"25": 2000, "12": 600}) == {"25": 10000, "12": 5600}
    # A VAT-free part beyond the rounding slack becomes 0 % sales.
    assert zettle._split_mixed(20600, {"25": 2000, "12": 600}) == {
        "25": 10000,
        "12": 5600,
        "0": 5000,
    }
    # Rounding noise goes to the largest part.
    assert zettle._split_mixed(15602, {"25": 2000, "12": 600}) == {"25": 10002, "12": 5600}
