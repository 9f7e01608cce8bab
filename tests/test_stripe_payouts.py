"""Stripe payout lists (Dashboard `payouts.csv`, Reports itemized payouts): detection,
parsing, sign handling, errors, round trip."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import string
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.errors import InputError
from bokfor.sources import AMOUNT, DATE, DATETIME, TEXT
from bokfor.sources.stripe_balance import SOURCE as BALANCE_SOURCE
from bokfor.sources.stripe_payments import SOURCE as PAYMENTS_SOURCE
from bokfor.sources.stripe_payouts import SOURCE
from bokfor.sources.stripe_report import SOURCE as REPORT_SOURCE

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "stripe"
DASHBOARD = SAMPLES / "payouts.csv"
ITEMIZED = SAMPLES / "Itemized_payouts_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
SUMMARY = SAMPLES / "Balance_Summary_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
RECONCILIATION = (
    SAMPLES / "Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
)
ACTIVITY = (
    SAMPLES
    / "Itemized_balance_change_from_activity_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe_payouts"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = dt.timezone.utc

PO_FAILED = "po_1Qn996Sx4hKw9PzN0Pjd30Rn"
PO_JAN07 = "po_1QszKGSx4hKw9PzN013kQShJ"
PO_JAN14 = "po_1QCtSkSx4hKw9PzN0R82W8jo"
PO_JAN21 = "po_1Q6mL2Sx4hKw9PzN0SxwW15e"
PO_JAN28 = "po_1QDwGcSx4hKw9PzN0DkSEyg7"
PO_INSTANT = "po_1Qr7VnSx4hKw9PzN0bT5cXe2"


def read(path: Path, tz: dt.tzinfo = STOCKHOLM) -> list:
    return list(SOURCE.read(path, tz))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the shipped samples -------------------------------------------------------------------


def test_dashboard_sample_rows() -> None:
    rows = read(DASHBOARD)
    assert [r.key for r in rows] == [
        "stripe-payout:" + p
        for p in (PO_INSTANT, PO_JAN28, PO_JAN21, PO_JAN14, PO_JAN07, PO_FAILED)
    ]
    assert all(r.source == "stripe_payouts" for r in rows)
    assert [r.origin.line for r in rows] == [2, 3, 4, 5, 6, 7]
    assert [r.amounts["amount"] for r in rows] == [150000, 266147, 316804, 439262, 804646,
                                                   341260]  # fmt: skip
    # The Dashboard export has no fee column, not even for the instant payout.
    assert all(r.amounts["fee"] == 0 and r.amounts["total"] == r.amounts["amount"] for r in rows)
    assert [r.date for r in rows] == [
        dt.date(2026, 1, 30), dt.date(2026, 1, 28), dt.date(2026, 1, 21),
        dt.date(2026, 1, 14), dt.date(2026, 1, 7), dt.date(2026, 1, 2),
    ]  # fmt: skip
    assert [r.fields["status"] for r in rows] == ["paid"] * 5 + ["failed"]
    assert [r.fields["method"] for r in rows] == ["instant"] + ["standard"] * 5
    assert [r.fields["type"] for r in rows] == ["card"] + ["bank_account"] * 5
    assert sum(r.amounts["amount"] for r in rows if r.fields["status"] == "paid") == 1976859


def test_dashboard_sample_fields_of_the_instant_and_the_failed_payout() -> None:
    rows = {r.fields["id"]: r for r in read(DASHBOARD)}
    assert rows[PO_INSTANT].fields == {
        "id": PO_INSTANT,
        "status": "paid",
        "method": "instant",
        "type": "card",
        "category": "payout",
        "currency": "sek",
        "created": utc("2026-01-30 14:12"),
        "arrival_date": dt.date(2026, 1, 30),
        "reversed_at": None,
        "description": "STRIPE PAYOUT",
        "destination": "card_1QmT4bSx4hKw9PzNk3Vr8Xs1",
        "failure_code": None,
        "failure_message": None,
        "failure_balance_transaction": None,
        "balance_transaction": "txn_1Qr7VnSx4hKw9PzN1Hc2Wd8K",
        "trace_id": None,
    }
    failed = rows[PO_FAILED]
    assert failed.fields["status"] == "failed"
    assert failed.fields["failure_code"] == "account_closed"
    assert failed.fields["failure_message"] == "The bank account has been closed."
    # The reversal is the payout_reversal row of the activity report sample.
    assert failed.fields["failure_balance_transaction"] == "txn_1QgnE0Sx4hKw9PzN1A3QyDQu"
    assert failed.fields["created"] == utc("2025-12-31 03:12")  # left the balance in December
    assert failed.date == dt.date(2026, 1, 2)  # the arrival date it was expected on
    assert failed.amounts == {"amount": 341260, "fee": 0, "total": 341260}


def test_itemized_sample_rows_and_the_instant_fee() -> None:
    rows = read(ITEMIZED)
    assert [r.key for r in rows] == [
        "stripe-payout:" + p for p in (PO_JAN07, PO_JAN14, PO_JAN21, PO_JAN28, PO_INSTANT)
    ]
    assert [r.origin.line for r in rows] == [2, 3, 4, 5, 6]
    assert [dict(r.amounts) for r in rows] == [
        {"amount": 804646, "fee": 0, "total": 804646},
        {"amount": 439262, "fee": 0, "total": 439262},
        {"amount": 316804, "fee": 0, "total": 316804},
        {"amount": 266147, "fee": 0, "total": 266147},
        {"amount": 150000, "fee": 1500, "total": 151500},
    ]
    assert [r.date for r in rows] == [
        dt.date(2026, 1, 7), dt.date(2026, 1, 14), dt.date(2026, 1, 21), dt.date(2026, 1, 28),
        dt.date(2026, 1, 30),
    ]  # fmt: skip
    instant = rows[-1]
    assert instant.fields["created"] == utc("2026-01-30 14:12:37")
    assert instant.fields["arrival_date"] == dt.date(2026, 1, 30)
    assert instant.fields["method"] is None  # the report has no method column
    assert instant.fields["type"] == "card"
    assert instant.fields["category"] == "payout"
    assert instant.fields["balance_transaction"] == "txn_1Qr7VnSx4hKw9PzN1Hc2Wd8K"
    assert instant.fields["destination"] == "card_1QmT4bSx4hKw9PzNk3Vr8Xs1"


def test_both_samples_describe_the_same_payouts() -> None:
    dashboard = {r.key: r for r in read(DASHBOARD) if r.fields["status"] == "paid"}
    itemized = {r.key: r for r in read(ITEMIZED)}
    assert dashboard.keys() == itemized.keys()
    for key, row in itemized.items():
        assert dashboard[key].amounts["amount"] == row.amounts["amount"]
        assert dashboard[key].date == row.date
        assert dashboard[key].fields["balance_transaction"] == row.fields["balance_transaction"]


def test_samples_agree_with_the_reconciliation_report_and_the_summary() -> None:
    from bokfor.sources.stripe_summary import read_summary

    settled: dict[str, int] = {}
    for row in REPORT_SOURCE.read(RECONCILIATION, STOCKHOLM):
        payout = str(row.fields["payout_id"])
        settled[payout] = settled.get(payout, 0) + row.amounts["net"]
    itemized = {r.fields["id"]: r for r in read(ITEMIZED)}
    for payout, net in settled.items():
        assert itemized[payout].amounts["amount"] == net
    summary = read_summary(SUMMARY)
    assert summary.payouts == -sum(r.amounts["total"] for r in itemized.values())
    assert summary.payouts_fee == -sum(r.amounts["fee"] for r in itemized.values())
    activity = REPORT_SOURCE.read(ACTIVITY, STOCKHOLM)
    assert summary.activity == sum(r.amounts["net"] for r in activity)


# --- the Reports file: signs, reversals, local times ---------------------------------------


def test_failed_payout_and_its_reversal() -> None:
    rows = read(FIXTURES / "report_failed.csv")
    po = "po_1RZq3nTm8VdP4sLx0Ue8Vc2K"
    assert [r.key for r in rows] == [
        f"stripe-payout:{po}", f"stripe-payout:{po}:reversal",
        "stripe-payout:po_1RaZ7pTm8VdP4sLx0Nc4Tb6U",
    ]  # fmt: skip
    payout, reversal, in_transit = rows
    assert payout.amounts == {"amount": 95000, "fee": 0, "total": 95000}
    assert reversal.amounts == {"amount": -95000, "fee": 0, "total": -95000}
    assert (payout.fields["status"], reversal.fields["status"]) == ("failed", "failed")
    assert (payout.fields["category"], reversal.fields["category"]) == ("payout", "payout_reversal")
    # An arrival date written with a midnight time is that calendar date.
    assert payout.date == dt.date(2026, 1, 29)
    # The reversal is dated when it happened, in the company's zone.
    assert reversal.date == dt.date(2026, 1, 30)
    assert reversal.fields["reversed_at"] == utc("2026-01-30 09:41:12")
    assert reversal.fields["balance_transaction"] == "txn_1RZs9wTm8VdP4sLx0Cc5Dd6E"
    assert in_transit.fields["status"] == "in_transit"
    assert in_transit.fields["trace_id"] == "NDEASESS-20260131-007"


def test_positive_payout_signs_give_the_same_rows() -> None:
    """Whether a report writes a payout's gross negative (as its balance transaction) or
    positive (as a list of payouts), the bank gets the smaller magnitude and the fee is the
    difference."""
    rows = read(FIXTURES / "report_positive.csv")
    assert [dict(r.amounts) for r in rows] == [
        {"amount": 220410, "fee": 0, "total": 220410},
        {"amount": 80000, "fee": 800, "total": 80800},
        {"amount": -95000, "fee": 0, "total": -95000},
    ]
    assert rows[2].key == "stripe-payout:po_1RZq3nTm8VdP4sLx0Ue8Vc2K:reversal"
    # The same payouts in the balance-transaction signs of report_failed.csv.
    negative = {r.key: dict(r.amounts) for r in read(FIXTURES / "report_failed.csv")}
    assert negative[rows[0].key] == rows[0].amounts
    assert negative[rows[2].key] == rows[2].amounts


def test_shared_fixture_of_the_report_tests_is_a_payouts_report() -> None:
    rows = read(ROOT / "tests" / "fixtures" / "stripe_report" / "payouts_itemized.csv")
    assert [(r.key, r.date, dict(r.amounts)) for r in rows] == [
        ("stripe-payout:po_1RbC2xTm8VdP4sLx0Kq7Ha1M", dt.date(2026, 2, 4),
         {"amount": 160181, "fee": 0, "total": 160181}),
    ]  # fmt: skip


def test_default_columns_have_local_times_only_and_are_dated_by_arrival() -> None:
    rows = read(FIXTURES / "report_local_only.csv")
    assert [(r.date, r.amounts["amount"]) for r in rows] == [
        (dt.date(2026, 1, 31), 220410), (dt.date(2026, 2, 2), 160181),
    ]  # fmt: skip
    assert all(r.fields["created"] is None for r in rows)  # the local time's zone is unknown


def test_without_arrival_date_the_effective_time_is_dated_in_the_company_zone(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "report_failed.csv").read_text("utf-8")
    path = tmp_path / "no_arrival.csv"
    path.write_text(text.replace('"payout_expected_arrival_date"', '"other"'), "utf-8")
    rows = read(path)
    assert rows[0].date == dt.date(2026, 1, 29)
    path.write_text(
        text.replace('"payout_expected_arrival_date"', '"other"').replace(
            "2026-01-31 00:00:00", "2026-01-31 23:30:00"
        ),
        "utf-8",
    )
    assert read(path)[2].date == dt.date(2026, 2, 1)  # 00:30 in Stockholm
    assert read(path, UTC)[2].date == dt.date(2026, 1, 31)


# --- spreadsheet re-saves: BOM, ';', CRLF, decimal comma -----------------------------------


def test_dashboard_resaved_with_bom_semicolon_crlf_and_decimal_comma() -> None:
    rows = read(FIXTURES / "resaved_bom_semicolon_crlf.csv")
    assert [r.key for r in rows] == [
        "stripe-payout:po_1RcH5uTm8VdP4sLx0Wd3Rt6Y", "stripe-payout:po_1RbC2xTm8VdP4sLx0Kq7Ha1M",
        "stripe-payout:po_1RaZ7pTm8VdP4sLx0Nc4Tb6U", "stripe-payout:po_1RZq3nTm8VdP4sLx0Ue8Vc2K",
    ]  # fmt: skip
    assert [r.amounts["amount"] for r in rows] == [158846, 160181, 220410, 95000]
    assert [r.origin.line for r in rows] == [2, 3, 4, 5]
    assert rows[0].fields["description"] == "STRIPE PAYOUT; FEB"
    assert rows[0].fields["trace_id"] == "NDEASESS-20260204-118"
    assert rows[0].date == dt.date(2026, 2, 4)
    assert rows[3].fields["failure_code"] == "account_closed"


def test_report_with_bom_semicolon_crlf_and_decimal_comma() -> None:
    rows = read(FIXTURES / "report_resaved_bom_semicolon_crlf_comma.csv")
    expected = read(FIXTURES / "report_failed.csv")
    assert [(r.key, r.date, dict(r.amounts), dict(r.fields)) for r in rows] == [
        (r.key, r.date, dict(r.amounts), dict(r.fields)) for r in expected
    ]


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        DASHBOARD,
        ITEMIZED,
        FIXTURES / "resaved_bom_semicolon_crlf.csv",
        FIXTURES / "report_failed.csv",
        FIXTURES / "report_local_only.csv",
        FIXTURES / "report_resaved_bom_semicolon_crlf_comma.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_true_and_no_other_source_claims_it(path: Path) -> None:
    assert SOURCE.detect(path) is True
    assert BALANCE_SOURCE.detect(path) is False
    assert REPORT_SOURCE.detect(path) is False
    assert PAYMENTS_SOURCE.detect(path) is False


@pytest.mark.parametrize(
    "path",
    [
        SAMPLES / "balance_history.csv",
        SAMPLES / "unified_payments.csv",
        ACTIVITY,
        RECONCILIATION,
        SUMMARY,
        ROOT / "tests" / "fixtures" / "stripe" / "resaved_bom_semicolon_crlf.csv",
        FIXTURES / "not_stripe.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_false_for_other_files(path: Path) -> None:
    assert SOURCE.detect(path) is False


def test_detect_false_for_empty_binary_missing_and_ignores_the_name(tmp_path: Path) -> None:
    empty = tmp_path / "payouts.csv"
    empty.write_bytes(b"")
    assert SOURCE.detect(empty) is False
    binary = tmp_path / "payouts (1).csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    assert SOURCE.detect(binary) is False
    assert SOURCE.detect(tmp_path / "missing.csv") is False
    assert SOURCE.detect(tmp_path) is False
    renamed = tmp_path / "x.txt"
    shutil.copy(DASHBOARD, renamed)
    assert SOURCE.detect(renamed) is True
    fake = tmp_path / "Itemized_payouts_SEK_2026-01-01_to_2026-02-01_UTC.csv"
    shutil.copy(SAMPLES / "balance_history.csv", fake)
    assert SOURCE.detect(fake) is False


def test_header_without_a_time_column_is_not_a_report(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("payout_id,currency,gross,fee,net,payout_status\n", "utf-8")
    assert SOURCE.detect(path) is False


# --- schema --------------------------------------------------------------------------------


def test_schema() -> None:
    schema = SOURCE.schema
    assert SOURCE.name == "stripe_payouts"
    assert SOURCE.title == "Stripe payouts (Dashboard payouts.csv or Reports itemized payouts)"
    assert schema.amounts == {"amount": {"amount": 1}, "fee": {"fee": 1},
                              "total": {"amount": 1, "fee": 1}}  # fmt: skip
    assert schema.kind("created") == DATETIME
    assert schema.kind("arrival_date") == DATE
    assert schema.kind("status") == TEXT
    assert schema.kind("fee") == AMOUNT
    assert schema.unmapped_fields == ("status", "currency")
    assert schema.content_fields == ("status", "currency")
    assert (schema.currency_field, schema.order_field) == ("currency", "created")
    assert schema.snippet == (("bank", "debit", "amount"), ("clearing", "credit", "amount"))
    # Every row carries exactly the schema's fields.
    for path in (DASHBOARD, ITEMIZED, FIXTURES / "report_failed.csv"):
        for row in read(path):
            assert set(row.fields) == set(schema.fields)
            assert set(row.amounts) == set(schema.amounts)


# --- errors: exact text, file, line and column ----------------------------------------------

DASHBOARD_REDOWNLOAD = (
    "re-download the export from the Stripe Dashboard (Balance → Payouts → Export)."
)
REPORT_REDOWNLOAD = (
    "re-download the itemized payouts report from the Stripe Dashboard (Reports → Balance →"
    " Payouts → Download → Itemized)."
)


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value


def test_error_missing_columns() -> None:
    path = FIXTURES / "missing_column.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:1: a Stripe payouts export without its `Created (UTC)` and `Currency` columns:"
        " export again with Created (UTC) and Currency selected Fix: export the payout list"
        " from the Stripe Dashboard (Balance → Payouts → Export); bokfor needs the columns id,"
        " Amount, Created (UTC), Currency, Arrival Date (UTC), Status."
    )
    assert (err.line, err.column) == (1, None)
    path = FIXTURES / "report_missing_column.csv"
    assert str(error_of(path)) == (
        f"{path}:1: a Stripe itemized payouts report without its `currency` and"
        " `reporting_category` columns: export again with currency and reporting_category"
        " selected Fix: download the itemized payouts report from the Stripe Dashboard"
        " (Reports → Balance → Payouts → Download → Itemized); bokfor needs the columns"
        " payout_id, effective_at_utc, currency, gross, net, reporting_category, payout_status."
    )


@pytest.mark.parametrize(
    ("sample", "left_out", "message"),
    [
        (
            DASHBOARD,
            "Arrival Date (UTC)",
            "a Stripe payouts export without its `Arrival Date (UTC)` column: export again with "
            "Arrival Date (UTC) selected Fix: export the payout list from the Stripe Dashboard "
            "(Balance → Payouts → Export); bokfor needs the columns id, Amount, Created (UTC), "
            "Currency, Arrival Date (UTC), Status.",
        ),
        (
            ITEMIZED,
            "payout_status",
            "a Stripe itemized payouts report without its `payout_status` column: export again with "
            "payout_status selected Fix: download the itemized payouts report from the Stripe "
            "Dashboard (Reports → Balance → Payouts → Download → Itemized); bokfor needs the columns "
            "payout_id, effective_at_utc, currency, gross, net, reporting_category, payout_status.",
        ),
    ],
)
def test_a_payout_list_without_a_column_detection_needs_is_named_by_detection(
    tmp_path: Path, sample: Path, left_out: str, message: str
) -> None:
    """Without the column that makes it recognised, a payout list is still told what it is
    and what to select (never "not a file bokfor can read", nor another export's name)."""
    from bokfor.sources import detect_source

    rows = list(csv.reader(sample.read_text(encoding="utf-8").splitlines()))
    drop = rows[0].index(left_out)
    path = tmp_path / "payouts.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([c for i, c in enumerate(row) if i != drop] for row in rows)
    with pytest.raises(InputError) as caught:
        detect_source(path)
    assert str(caught.value) == f"{path}:1: {message}"


def test_error_bad_amount() -> None:
    path = FIXTURES / "bad_amount.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'Amount': not an amount: '1 601.81' Fix: Stripe writes amounts like"
        " 1234.50 (decimal point, no thousands separator); re-download the export from the"
        " Stripe Dashboard rather than re-saving it in a spreadsheet."
    )
    assert (err.file, err.line, err.column) == (str(path), 3, "Amount")


def test_error_negative_dashboard_amount() -> None:
    path = FIXTURES / "negative_amount.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'Amount': negative payout amount: '-1601.81' Fix: Stripe writes every"
        " payout in this export as a positive amount (the money sent to the bank), so the file"
        f" was edited; {DASHBOARD_REDOWNLOAD}"
    )


def test_error_bad_date_and_bad_arrival_date() -> None:
    path = FIXTURES / "bad_date.csv"
    assert str(error_of(path)) == (
        f"{path}:4: column 'Created (UTC)': not a Stripe date and time: '1/29/2026 3:12'"
        " Fix: Stripe writes times as YYYY-MM-DD HH:MM in UTC; re-download the export from"
        " the Stripe Dashboard rather than re-saving it in a spreadsheet."
    )
    path = FIXTURES / "bad_arrival.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:2: column 'Arrival Date (UTC)': not a Stripe arrival date: '2026-02-04 08:30'"
        " Fix: Stripe writes the day a payout reaches the bank as YYYY-MM-DD 00:00 (a calendar"
        " date); re-download the file from the Stripe Dashboard rather than re-saving it in a"
        " spreadsheet."
    )
    assert (err.line, err.column) == (2, "Arrival Date (UTC)")
    path = FIXTURES / "report_bad_date.csv"
    assert str(error_of(path)) == (
        f"{path}:4: column 'effective_at_utc': not a Stripe date and time:"
        " '2026-01-31T00:00:00Z' Fix: Stripe reports write times as YYYY-MM-DD HH:MM:SS in UTC"
        " in the _utc columns; re-download the report from the Stripe Dashboard rather than"
        " re-saving it in a spreadsheet."
    )


def test_error_ragged_row() -> None:
    path = FIXTURES / "ragged.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: the row has 23 fields but the header has 22 Fix: a value containing the"
        f" delimiter lost its quotes, or the row was cut; {DASHBOARD_REDOWNLOAD}"
    )
    assert (err.line, err.column) == (3, None)


def test_error_empty_id() -> None:
    path = FIXTURES / "empty_id.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:4: column 'id': empty id Fix: every payout has a po_ id; {DASHBOARD_REDOWNLOAD}"
    )
    path = FIXTURES / "report_empty_id.csv"
    assert str(error_of(path)) == (
        f"{path}:2: column 'payout_id': empty payout_id Fix: every row of an itemized payouts"
        f" report has a po_ id; {REPORT_REDOWNLOAD}"
    )


def test_error_test_mode_payout() -> None:
    path = FIXTURES / "test_mode.csv"
    assert str(error_of(path)) == (
        f"{path}:2: column 'Livemode': a test-mode payout (po_1RcH5uTm8VdP4sLx0Wd3Rt6Y,"
        " Livemode false) Fix: test-mode payouts moved no money and must not be booked; export"
        " the payout list with the Dashboard in live mode."
    )


def test_error_report_gross_fee_net_signs_and_category() -> None:
    path = FIXTURES / "report_bad_net.csv"
    assert str(error_of(path)) == (
        f"{path}:3: column 'net': gross − fee ≠ net (800.00 − -8.00 ≠ 807.00) Fix: the row was"
        f" edited or damaged; {REPORT_REDOWNLOAD}"
    )
    path = FIXTURES / "report_mixed_signs.csv"
    assert str(error_of(path)) == (
        f"{path}:4: column 'gross': mixed signs: a payout row with gross 2204.10, but line 2"
        " has a payout row with gross -950.00 Fix: a report writes all its payouts with one"
        " sign, so the file was edited or pieced together from two downloads;"
        f" {REPORT_REDOWNLOAD}"
    )
    path = FIXTURES / "report_unknown_category.csv"
    assert str(error_of(path)) == (
        f"{path}:3: column 'reporting_category': unexpected reporting_category 'topup' in a"
        " payouts report Fix: a payouts report holds 'payout' and 'payout_reversal' rows only;"
        " other balance changes belong in the balance change from activity report;"
        f" {REPORT_REDOWNLOAD}"
    )
    path = FIXTURES / "report_mixed_marks.csv"
    err = error_of(path)
    assert (err.line, err.column) == (3, "gross")
    assert err.message == (
        "mixed decimal marks: '950.00' has '.', the file's first amount with a mark (line 2)"
        " has ','"
    )


def test_error_opposite_signs_of_gross_and_net(tmp_path: Path) -> None:
    text = (FIXTURES / "report_positive.csv").read_text("utf-8")
    path = tmp_path / "opposite.csv"
    path.write_text(text.replace('"800.00","-8.00","808.00"', '"8.00","816.00","-808.00"'), "utf-8")
    err = error_of(path)
    assert (err.line, err.column) == (3, "net")
    assert err.message == "gross and net have opposite signs (8.00, -808.00)"


def test_error_report_with_local_times_only_and_no_arrival_date() -> None:
    path = FIXTURES / "report_local_no_arrival.csv"
    assert str(error_of(path)) == (
        f"{path}:1: the report has local times only: 'effective_at' but neither"
        " 'effective_at_utc' nor 'payout_expected_arrival_date' Fix: 'effective_at' is in the"
        " timezone chosen when the report was run, which the file does not state (bokfor never"
        " takes it from the file name); run the report again with the effective_at_utc or"
        " payout_expected_arrival_date column added and download it again."
    )


def test_error_not_a_payouts_file_empty_and_non_utf8(tmp_path: Path) -> None:
    err = error_of(FIXTURES / "not_stripe.csv")
    assert err.message == "not a Stripe payouts export: none of its columns is in the header"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert error_of(empty).message == "the file is empty"
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(
        DASHBOARD.read_text("utf-8").replace("SWEDBANK AB", "SKÅNES BANK").encode("cp1252")
    )
    assert error_of(cp1252).message == "not UTF-8 text"


def test_read_is_lazy_and_keeps_every_status() -> None:
    rows = SOURCE.read(FIXTURES / "bad_date.csv", STOCKHOLM)
    assert next(rows).fields["id"] == "po_1RcH5uTm8VdP4sLx0Wd3Rt6Y"
    assert next(rows).fields["id"] == "po_1RbC2xTm8VdP4sLx0Kq7Ha1M"
    with pytest.raises(InputError):
        next(rows)


# --- round trip: whatever csv.writer writes, read() gives back ------------------------------

DASHBOARD_HEADER = [
    "id", "Amount", "Created (UTC)", "Currency", "Livemode", "Arrival Date (UTC)",
    "Source Type", "Destination", "Status", "Type", "Method", "Description",
    "Balance Transaction", "Failure Balance Transaction", "Failure Message", "Failure Code",
    "Statement Descriptor", "Trace ID", "Trace ID Status", "Destination Name",
    "Destination Country", "Destination Last 4",
]  # fmt: skip
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    list(",;\"'\nåäöÅÄÖ€ ")
)
ID_CHARS = string.ascii_letters + string.digits
moments = st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2030, 12, 31))
payouts = st.fixed_dictionaries(
    {
        "id": st.text(ID_CHARS, min_size=1, max_size=24).map(lambda s: "po_" + s),
        "amount": st.integers(0, 10**10),
        "created": moments,
        "arrival": st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2030, 12, 31)),
        "status": st.sampled_from(["paid", "pending", "in_transit", "canceled", "failed"]),
        "method": st.sampled_from(["standard", "instant"]),
        "description": st.text(TEXT_CHARS, max_size=30),
        "failure": st.sampled_from(["", "account_closed", "no_account"]),
    }
)


def money(ore: int, mark: str) -> str:
    return f"{ore // 100}{mark}{ore % 100:02d}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(payouts, min_size=1, max_size=8, unique_by=lambda r: r["id"]),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_round_trip(rows: list[dict], delimiter: str, bom: bool, newline: str) -> None:
    mark = "," if delimiter == ";" else "."
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "payouts.csv"
        with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator=newline)
            writer.writerow(DASHBOARD_HEADER)
            for r in rows:
                writer.writerow([
                    r["id"], money(r["amount"], mark), r["created"].strftime("%Y-%m-%d %H:%M"),
                    "SEK", "true", r["arrival"].isoformat() + " 00:00", "card", "ba_1", r["status"],
                    "bank_account", r["method"], r["description"], "txn_1", "", "", r["failure"],
                    "", "", "unsupported", "BANK", "SE", "0001",
                ])  # fmt: skip
        assert SOURCE.detect(path)
        got = read(path)
    assert len(got) == len(rows)
    line = 2
    for r, row in zip(rows, got, strict=True):
        assert row.key == "stripe-payout:" + r["id"]
        assert row.amounts == {"amount": r["amount"], "fee": 0, "total": r["amount"]}
        assert row.date == r["arrival"]
        assert row.origin.line == line
        line += 1 + r["description"].count("\n")
        assert row.fields["created"] == r["created"].replace(second=0, microsecond=0, tzinfo=UTC)
        assert row.fields["status"] == r["status"]
        assert row.fields["method"] == r["method"]
        assert row.fields["currency"] == "sek"
        assert row.fields["description"] == (r["description"] or None)
        assert row.fields["failure_code"] == (r["failure"] or None)
