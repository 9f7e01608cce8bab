"""Stripe itemized reports (balance change from activity / payout reconciliation):
detection, parsing, errors, round trip."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import string
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.errors import InputError
from bokfor.sources import DATETIME, TEXT
from bokfor.sources.stripe_balance import SOURCE as BALANCE_SOURCE
from bokfor.sources.stripe_report import SOURCE

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "stripe"
ACTIVITY = (
    SAMPLES
    / "Itemized_balance_change_from_activity_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
)
RECONCILIATION = (
    SAMPLES / "Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
)
BALANCE_SAMPLE = SAMPLES / "balance_history.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe_report"
BALANCE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe"
RESAVED = FIXTURES / "resaved_bom_semicolon_crlf_comma.csv"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = dt.timezone.utc

PO_JAN07 = "po_1QszKGSx4hKw9PzN013kQShJ"
PO_JAN14 = "po_1QCtSkSx4hKw9PzN0R82W8jo"
PO_JAN21 = "po_1Q6mL2Sx4hKw9PzN0SxwW15e"
PO_JAN28 = "po_1QDwGcSx4hKw9PzN0DkSEyg7"


def read(path: Path) -> list:
    return list(SOURCE.read(path, STOCKHOLM))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the shipped samples -------------------------------------------------------------------


def test_activity_sample_rows_keys_and_categories() -> None:
    rows = read(ACTIVITY)
    assert len(rows) == 40
    assert all(r.source == "stripe_report" for r in rows)
    assert rows[0].key == "stripe:txn_3QbjI9Sx4hKw9PzN1GWkiUNQ"
    assert rows[-1].key == "stripe:txn_3Qv7G1Sx4hKw9PzN1kwsphvv"
    assert len({r.key for r in rows}) == 40
    assert [r.origin.line for r in rows] == list(range(2, 42))
    assert rows[0].origin.file == str(ACTIVITY)
    assert Counter(r.fields["category"] for r in rows) == {
        "charge": 29, "refund": 4, "fee": 3, "dispute": 1, "dispute_reversal": 1,
        "payout_reversal": 1, "other_adjustment": 1,
    }  # fmt: skip
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        assert row.amounts["gross"] - row.amounts["fee"] == row.amounts["net"]
        for i, name in enumerate(("gross", "fee", "net")):
            totals[row.fields["category"]][i] += row.amounts[name]
    assert dict(totals) == {
        "charge": [1876632, 42293, 1834339],
        "refund": [-121009, 0, -121009],
        "fee": [-3080, 0, -3080],
        "dispute": [-89500, 22000, -111500],
        "dispute_reversal": [149000, 0, 149000],
        "payout_reversal": [341260, 0, 341260],
        "other_adjustment": [1420, 0, 1420],
    }
    # Activity is in the report's period (Stockholm time), created order, newest last.
    created = [r.fields["created"] for r in rows]
    assert created == sorted(created)
    assert all(dt.date(2026, 1, 1) <= r.date <= dt.date(2026, 1, 31) for r in rows)


def test_activity_sample_amounts_and_fields() -> None:
    by_id = {r.fields["id"]: r for r in read(ACTIVITY)}
    usd = by_id["txn_3Qz2jnSx4hKw9PzN0Ld9NIYb"]  # 59.00 USD settled in SEK
    assert usd.amounts == {"gross": 56817, "fee": 3163, "net": 53654}
    assert usd.fields == {
        "id": "txn_3Qz2jnSx4hKw9PzN0Ld9NIYb",
        "category": "charge",
        "currency": "sek",
        "created": utc("2026-01-08 20:03:44"),
        "available_on": utc("2026-01-11 00:00:00"),
        "description": "Order 997 - Emily Carter",
        "source_id": "ch_3Qz2jnSx4hKw9PzN1WgvKxLu",
        "customer_facing_amount": "59.00",
        "customer_facing_currency": "usd",
        "payout_id": PO_JAN14,
        "payout_date": None,  # no automatic_payout_effective_at_utc column in this report
        "charge_id": None,
        "payment_intent_id": None,
        "invoice_id": None,
        "customer_email": None,
        "card_country": "US",
        "dispute_reason": None,
        "metadata.vat_country": "US",
    }
    # Its full refund two weeks later is converted at that day's rate: not the same SEK.
    refund = by_id["txn_3Qz2jnSx4hKw9PzN0LQshUzO"]
    assert refund.amounts == {"gross": -56109, "fee": 0, "net": -56109}
    assert refund.fields["customer_facing_amount"] == "-59.00"
    assert refund.fields["source_id"] == "re_3Qz2jnSx4hKw9PzN1QC2Vk7B"
    partial = by_id["txn_3Q2XMhSx4hKw9PzN0zU41I36"]
    assert partial.fields["category"] == "refund"
    assert partial.amounts == {"gross": -10000, "fee": 0, "net": -10000}
    dispute = by_id["txn_1QXTscSx4hKw9PzN19GBeUDu"]
    assert dispute.amounts == {"gross": -89500, "fee": 22000, "net": -111500}
    assert dispute.fields["description"] == "Chargeback withdrawal for ch_3QuAnCSx4hKw9PzN08ZnByeJ"
    eur = by_id["txn_3QGjbFSx4hKw9PzN0kwFcZ7e"]
    assert eur.amounts == {"gross": 38599, "fee": 1531, "net": 37068}
    assert (eur.fields["customer_facing_amount"], eur.fields["customer_facing_currency"]) == (
        "34.90", "eur",
    )  # fmt: skip
    usage = by_id["txn_1Q7JO1Sx4hKw9PzN0Tv79yaX"]
    assert usage.fields["category"] == "fee"
    assert usage.fields["source_id"] is None and usage.fields["card_country"] is None
    assert usage.fields["description"] == "Billing - Usage Fee (2026-01-04)"
    returned = by_id["txn_1QgnE0Sx4hKw9PzN1A3QyDQu"]  # a failed December payout came back
    assert returned.fields["category"] == "payout_reversal"
    assert returned.amounts == {"gross": 341260, "fee": 0, "net": 341260}
    assert returned.fields["source_id"] == "po_1Qn996Sx4hKw9PzN0Pjd30Rn"
    assert returned.fields["payout_id"] == PO_JAN07
    names = next(r for r in by_id.values() if r.fields["id"] == "txn_3QFSttSx4hKw9PzN0Hfcw8wv")
    assert names.fields["description"] == "Order 998 - Lindström, Karin"
    # Not yet paid out at the end of January: no automatic_payout_id.
    unpaid = [r for r in by_id.values() if r.fields["payout_id"] is None]
    assert len(unpaid) == 8
    assert min(r.fields["available_on"] for r in unpaid) == utc("2026-01-28 16:20:11")


def test_sample_dates_are_swedish() -> None:
    rows = {r.fields["id"]: r for r in read(ACTIVITY)}
    late = rows["txn_3QXrnGSx4hKw9PzN0EYTmcto"]  # 2026-01-17 23:30 UTC = 00:30 on the 18th
    assert late.fields["created"] == utc("2026-01-17 23:30:00")
    assert late.date == dt.date(2026, 1, 18)
    new_year = rows["txn_3QbjI9Sx4hKw9PzN1GWkiUNQ"]  # 2025-12-31 23:20 UTC = New Year's Day
    assert new_year.fields["created"] == utc("2025-12-31 23:20:14")
    assert new_year.date == dt.date(2026, 1, 1)
    evening = rows["txn_3Qv7G1Sx4hKw9PzN1kwsphvv"]  # 20:40 UTC = 21:40: still 31 January
    assert evening.date == dt.date(2026, 1, 31)
    # A zone is an argument, not a constant: in UTC the late sale stays on the 17th.
    in_utc = {r.fields["id"]: r for r in SOURCE.read(ACTIVITY, UTC)}
    assert in_utc["txn_3QXrnGSx4hKw9PzN0EYTmcto"].date == dt.date(2026, 1, 17)
    assert in_utc["txn_3QbjI9Sx4hKw9PzN1GWkiUNQ"].date == dt.date(2025, 12, 31)


def test_reconciliation_sample_payouts() -> None:
    rows = read(RECONCILIATION)
    assert len(rows) == 35
    assert all(r.fields["payout_id"] is not None for r in rows)
    payouts: dict[str, int] = defaultdict(int)
    dates: dict[str, set] = defaultdict(set)
    for row in rows:
        assert row.amounts["gross"] - row.amounts["fee"] == row.amounts["net"]
        payouts[row.fields["payout_id"]] += row.amounts["net"]
        dates[row.fields["payout_id"]].add(row.fields["payout_date"])
        # Nothing is paid out before it is available.
        assert row.fields["available_on"] <= row.fields["payout_date"]
    assert payouts == {PO_JAN07: 804646, PO_JAN14: 439262, PO_JAN21: 316804, PO_JAN28: 266147}
    assert dates == {
        PO_JAN07: {utc("2026-01-07 00:00:00")},
        PO_JAN14: {utc("2026-01-14 00:00:00")},
        PO_JAN21: {utc("2026-01-21 00:00:00")},
        PO_JAN28: {utc("2026-01-28 00:00:00")},
    }
    assert Counter(r.fields["payout_id"] for r in rows) == {
        PO_JAN07: 11, PO_JAN14: 8, PO_JAN21: 7, PO_JAN28: 9,
    }  # fmt: skip
    # The first payout also carries sales from late December (before the report's period).
    december = [r for r in rows if r.date < dt.date(2026, 1, 1)]
    assert [r.fields["id"] for r in december] == [
        "txn_3QI3fsSx4hKw9PzN0TBbTs4V",
        "txn_3Q8u3sSx4hKw9PzN1LbnGOR0",
        "txn_3Q28BxSx4hKw9PzN0JeHR9e1",
    ]
    assert {r.fields["payout_id"] for r in december} == {PO_JAN07}
    refund = next(r for r in rows if r.fields["id"] == "txn_3QCGq0Sx4hKw9PzN0dhmKJxx")
    assert refund.fields["charge_id"] == "ch_3QCGq0Sx4hKw9PzN0gfKlUDn"
    assert refund.fields["customer_email"] == "emma.sjogren@example.com"
    assert refund.fields["metadata.order_id"] == "992"
    assert refund.fields["card_country"] is None  # no such column in this report


def test_both_reports_give_a_transaction_the_same_row() -> None:
    activity = {r.key: r for r in read(ACTIVITY)}
    reconciliation = {r.key: r for r in read(RECONCILIATION)}
    shared = set(activity) & set(reconciliation)
    assert len(shared) == 32  # 35 paid out − 3 from December
    for key in shared:
        a, b = activity[key], reconciliation[key]
        assert (a.date, a.amounts) == (b.date, b.amounts)
        assert a.fields["payout_id"] == b.fields["payout_id"]
        assert a.fields["category"] == b.fields["category"]


def test_key_matches_the_dashboard_balance_export(tmp_path: Path) -> None:
    """The same transaction from the balance export and from a report is one ledger row."""
    txn = "txn_3QXrnGSx4hKw9PzN0EYTmcto"
    balance = tmp_path / "balance_history.csv"
    balance.write_text(
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n"
        f"{txn},charge,ch_3QXrnGSx4hKw9PzN09kci4Fp,199.00,4.79,194.21,sek,2026-01-17 23:30\n",
        "utf-8",
    )
    (from_balance,) = BALANCE_SOURCE.read(balance, STOCKHOLM)
    (from_report,) = (r for r in read(ACTIVITY) if r.fields["id"] == txn)
    assert from_report.key == from_balance.key == "stripe:" + txn
    assert (from_report.date, from_report.amounts) == (from_balance.date, from_balance.amounts)


def test_schema() -> None:
    assert SOURCE.name == "stripe_report"
    assert SOURCE.title == (
        "Stripe itemized report (balance change from activity / payout reconciliation)"
    )
    schema = SOURCE.schema
    assert schema.amounts == {"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}}
    assert schema.group_keys == {"per_payout": "payout_id"}
    assert schema.unmapped_fields == ("category", "currency")
    assert schema.currency_field == "currency"
    assert schema.open_prefixes == ("metadata.",)
    assert schema.order_field == "created"
    assert schema.content_fields == ("category", "currency")
    assert schema.snippet == (
        ("clearing", "debit", "net"), ("fees", "debit", "fee"), ("<konto>", "credit", "gross"),
    )  # fmt: skip
    for name in ("created", "available_on", "payout_date"):
        assert schema.kind(name) == DATETIME
    assert schema.kind("category") == TEXT and schema.kind("customer_email") == TEXT
    assert schema.has_field("metadata.vat_country") and not schema.has_field("vat_country")
    # Every field a row carries is declared (or open), so mappings can be checked up front.
    for path in (ACTIVITY, RECONCILIATION, RESAVED):
        for row in read(path):
            assert all(schema.has_field(name) for name in row.fields)
            assert set(schema.fields) <= set(row.fields)


# --- other layouts -------------------------------------------------------------------------


def test_resaved_bom_semicolon_crlf_decimal_comma() -> None:
    raw = RESAVED.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfautomatic_payout_id;") and b"\r\n" in raw
    rows = read(RESAVED)  # the trailing row of empty cells is not a row
    assert [r.origin.line for r in rows] == [2, 3, 4, 5, 6, 7]
    sale, eur, refund, other_refund, dispute, usage = rows
    assert sale.amounts == {"gross": 24900, "fee": 554, "net": 24346}
    assert eur.amounts == {"gross": 164794, "fee": 5948, "net": 158846}
    assert dispute.amounts == {"gross": -44900, "fee": 22000, "net": -66900}
    assert usage.amounts == {"gross": -860, "fee": 0, "net": -860}
    assert sum(r.amounts["net"] for r in rows) == 65532  # what the payout brought to the bank
    # created_utc wins over the local twin; times without seconds (spreadsheet) are accepted.
    assert sale.fields["created"] == utc("2026-01-31 23:45")
    assert sale.date == dt.date(2026, 2, 1)
    assert sale.fields["description"] == "Order 2100; Lund, Ebba"
    assert sale.fields["currency"] == "sek"
    assert eur.fields["customer_facing_currency"] == "eur"
    assert eur.fields["customer_facing_amount"] == "149.00"  # written "149,00"
    assert sale.fields["payout_date"] == utc("2026-02-04 00:00")
    assert {r.fields["payout_id"] for r in rows} == {"po_1RcH5uTm8VdP4sLx0Wd3Rt6Y"}
    assert sale.fields["invoice_id"] == "in_1RZx7zTm8VdP4sLxQw2E"
    assert sale.fields["payment_intent_id"] == "pi_3RZx8qTm8VdP4sLx1Cn6Xa3T"
    assert dispute.fields["dispute_reason"] == "fraudulent"
    assert sale.fields["dispute_reason"] is None
    assert "is_link" not in sale.fields  # TRUE/FALSE columns are not read at all
    # payment_metadata[k], refund_metadata[k] -> metadata.k, the first non-empty one.
    assert refund.fields["metadata.order_id"] == "2100"  # payment's, not the refund's 2100-R1
    assert other_refund.fields["metadata.order_id"] == "2098"  # only the refund has it
    assert refund.fields["metadata.reason"] == "requested_by_customer"
    assert usage.fields["metadata.order_id"] is None and usage.fields["customer_email"] is None


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [ACTIVITY, RECONCILIATION, RESAVED, FIXTURES / "bad_net.csv", FIXTURES / "local_only.csv"],
    ids=lambda p: p.name,
)
def test_detect_true(path: Path) -> None:
    assert SOURCE.detect(path) is True
    assert BALANCE_SOURCE.detect(path) is False  # and never both


@pytest.mark.parametrize(
    "path",
    [
        BALANCE_SAMPLE,
        BALANCE_FIXTURES / "resaved_bom_semicolon_crlf.csv",
        BALANCE_FIXTURES / "payments_export.csv",
        BALANCE_FIXTURES / "not_stripe.csv",
        FIXTURES / "payouts_itemized.csv",
        FIXTURES / "balance_summary.csv",
        FIXTURES / "missing_column.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_false_for_other_csv(path: Path) -> None:
    assert SOURCE.detect(path) is False


def test_detect_false_for_empty_binary_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert SOURCE.detect(empty) is False
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    assert SOURCE.detect(binary) is False
    assert SOURCE.detect(tmp_path / "missing.csv") is False
    assert SOURCE.detect(tmp_path) is False  # a directory
    header_only = tmp_path / "h.csv"
    header_only.write_text(
        "balance_transaction_id,created_utc,currency,gross,fee,net\n", "utf-8"
    )  # no reporting_category
    assert SOURCE.detect(header_only) is False


def test_detect_ignores_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "x.txt"
    shutil.copy(ACTIVITY, renamed)
    assert SOURCE.detect(renamed) is True
    fake = tmp_path / ACTIVITY.name
    shutil.copy(BALANCE_SAMPLE, fake)
    assert SOURCE.detect(fake) is False


# --- errors: exact text, file, line and column ----------------------------------------------

AMOUNT_HINT = (
    "Stripe reports write amounts like -1234.50 (or -1234,50 when downloaded with the decimal"
    " separator ','), no thousands separator; re-download the report from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
DATE_HINT = (
    "Stripe reports write times as YYYY-MM-DD HH:MM:SS in UTC in the _utc columns;"
    " re-download the report from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
REDOWNLOAD = "re-download the itemized report from the Stripe Dashboard (Reports)."


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value


def test_error_missing_columns() -> None:
    path = FIXTURES / "missing_column.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:1: a Stripe itemized report without its `fee` and `net` columns: export again"
        " with fee and net selected Fix: choose the columns when downloading the itemized"
        " report from the Stripe Dashboard (Reports → Balance summary or Payout reconciliation"
        " → Download → Itemized → Columns); bokfor needs the columns balance_transaction_id,"
        " created_utc, currency, gross, fee, net, reporting_category."
    )
    assert (err.file, err.line, err.column) == (str(path), 1, None)


def test_error_only_local_times() -> None:
    path = FIXTURES / "local_only.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:1: the report has local times only: 'created' but no 'created_utc'"
        " Fix: 'created' is in the timezone chosen when the report was run, which the file"
        " does not state (bokfor never takes it from the file name); run the report again"
        " with the created_utc column added (Columns → created_utc) and download it again."
    )
    assert (err.file, err.line, err.column) == (str(path), 1, None)


def test_error_only_local_times_even_with_a_zone_in_the_name(tmp_path: Path) -> None:
    named = tmp_path / RECONCILIATION.name.replace("2026-01-01_to_2026-02-01", "2026-02")
    shutil.copy(FIXTURES / "local_only.csv", named)
    assert error_of(named).message == (
        "the report has local times only: 'created' but no 'created_utc'"
    )


def test_error_bad_amount() -> None:
    path = FIXTURES / "bad_amount.csv"
    err = error_of(path)
    assert str(err) == f"{path}:3: column 'gross': not an amount: '1,290.00' Fix: {AMOUNT_HINT}"
    assert (err.file, err.line, err.column) == (str(path), 3, "gross")


def test_error_bad_date() -> None:
    path = FIXTURES / "bad_date.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:4: column 'created_utc': not a Stripe date and time: '3/2/2026 05:31'"
        f" Fix: {DATE_HINT}"
    )
    assert (err.file, err.line, err.column) == (str(path), 4, "created_utc")


def test_error_gross_minus_fee_is_not_net() -> None:
    path = FIXTURES / "bad_net.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'net': gross − fee ≠ net (1290.00 − 21.15 ≠ 1268.58)"
        f" Fix: the row was edited or damaged; {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 3, "net")


def test_error_mixed_decimal_marks() -> None:
    path = FIXTURES / "mixed_marks.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:4: column 'gross': mixed decimal marks: '-8,60' has ',', the file's first"
        " amount with a mark (line 2) has '.' Fix: a report uses one decimal separator for"
        " all its amounts, so the file was edited or pieced together from two downloads;"
        f" {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 4, "gross")


def test_error_mixed_decimal_marks_comma_first(tmp_path: Path) -> None:
    lines = RESAVED.read_text("utf-8-sig").splitlines()
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[2].replace("59,48", "59.48")]), "utf-8")
    err = error_of(path)
    assert (err.line, err.column) == (3, "fee")
    assert err.message == (
        "mixed decimal marks: '59.48' has '.', the file's first amount with a mark (line 2) has ','"
    )


def test_error_ragged_row() -> None:
    path = FIXTURES / "ragged.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: the row has 10 fields but the header has 9 Fix: a value containing the"
        f" delimiter lost its quotes, or the row was cut; {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 3, None)


def test_error_empty_balance_transaction_id() -> None:
    path = FIXTURES / "empty_id.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'balance_transaction_id': empty balance_transaction_id"
        f" Fix: every row of an itemized report has a txn_ id; {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 3, "balance_transaction_id")


def test_error_bad_available_on_and_payout_date(tmp_path: Path) -> None:
    lines = RECONCILIATION.read_text("utf-8").splitlines()
    path = tmp_path / "bad_available.csv"
    bad = lines[1].replace('"2026-01-01 00:00:00"', '"2026-01-01"')
    path.write_text("\n".join([lines[0], bad]))
    err = error_of(path)
    assert (err.line, err.column) == (2, "available_on_utc")
    assert err.message == "not a Stripe date and time: '2026-01-01'"
    path.write_text("\n".join([lines[0], lines[1].replace("2026-01-07 00:00:00", "7/1/2026")]))
    err = error_of(path)
    assert (err.line, err.column) == (2, "automatic_payout_effective_at_utc")
    assert err.message == "not a Stripe date and time: '7/1/2026'"


def test_error_empty_and_non_utf8(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert error_of(empty).message == "the file is empty"
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(ACTIVITY.read_text(encoding="utf-8").encode("cp1252"))
    err = error_of(cp1252)
    assert err.message == "not UTF-8 text"
    assert err.hint is not None and "UTF-8" in err.hint


def test_read_is_lazy_and_streams() -> None:
    # Errors surface only when the bad row is reached: earlier rows were already yielded.
    rows = SOURCE.read(FIXTURES / "bad_date.csv", STOCKHOLM)
    assert next(rows).fields["id"] == "txn_3RaQ1kTm8VdP4sLx1Hq2Wc7N"
    assert next(rows).fields["id"] == "txn_3RaS7pTm8VdP4sLx0Bv5Jd2K"
    with pytest.raises(InputError):
        next(rows)


def test_unknown_category_is_not_the_sources_business(tmp_path: Path) -> None:
    lines = (FIXTURES / "bad_net.csv").read_text("utf-8").splitlines()
    path = tmp_path / "new_category.csv"
    path.write_text("\n".join([lines[0], lines[1].replace('"charge"', '"climate_order_purchase"')]))
    (row,) = read(path)
    assert row.fields["category"] == "climate_order_purchase"


# --- round trip: whatever csv.writer writes, read() gives back ------------------------------

CATEGORIES = ["charge", "refund", "refund_failure", "partial_capture_reversal", "dispute",
              "dispute_reversal", "fee", "tax", "payout_reversal", "topup", "other_adjustment",
              "charge_failure", "network_cost"]  # fmt: skip
OPTIONAL = ["available_on_utc", "description", "source_id", "customer_facing_amount",
            "customer_facing_currency", "automatic_payout_id",
            "automatic_payout_effective_at_utc", "charge_id", "payment_intent_id", "invoice_id",
            "customer_email", "card_country", "dispute_reason", "payment_metadata[note]",
            "refund_metadata[note]", "created", "is_link", "customer_name"]  # fmt: skip
REQUIRED = ["balance_transaction_id", "created_utc", "currency", "gross", "fee", "net",
            "reporting_category"]  # fmt: skip
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    list(",;\"'\nåäöÅÄÖ€ ")
)
ID_CHARS = string.ascii_letters + string.digits


def stripe_amount(ore: int, mark: str) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}{mark}{abs(ore) % 100:02d}"


def stripe_time(moment: dt.datetime | None, seconds: bool) -> str:
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def aware(moment: dt.datetime | None, seconds: bool) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(second=moment.second if seconds else 0, microsecond=0, tzinfo=UTC)


moments = st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2030, 12, 31))
maybe_id = st.sampled_from(["", "ch_3QabcDEF", "pi_3Qxyz", "in_1Qinv", "po_1Qpay", "re_3Qref"])
records = st.fixed_dictionaries(
    {
        "id": st.text(ID_CHARS, min_size=1, max_size=28).map(lambda s: "txn_" + s),
        "category": st.sampled_from(CATEGORIES),
        "gross": st.integers(-(10**10), 10**10),
        "fee": st.integers(-(10**6), 10**7),
        "currency": st.sampled_from(["sek", "SEK", "eur", "Usd"]),
        "created": moments,
        "available": st.none() | moments,
        "payout_date": st.none() | moments,
        "description": st.text(TEXT_CHARS, max_size=40),
        "cfa": st.none() | st.integers(-(10**8), 10**8),
        "cfc": st.sampled_from(["", "eur", "NOK"]),
        "ids": st.tuples(maybe_id, maybe_id, maybe_id, maybe_id, maybe_id),
        "email": st.sampled_from(["", "anna@example.com"]),
        "country": st.sampled_from(["", "SE", "de"]),
        "reason": st.sampled_from(["", "fraudulent", "product_not_received"]),
        "payment_note": st.text(TEXT_CHARS, max_size=12),
        "refund_note": st.text(TEXT_CHARS, max_size=12),
        "local": st.sampled_from(["", "2026-01-01 01:00:00", "garbage"]),
        "is_link": st.sampled_from(["TRUE", "FALSE", "true", ""]),
    }
)
layouts = st.sets(st.sampled_from(OPTIONAL)).flatmap(
    lambda chosen: st.permutations(REQUIRED + sorted(chosen))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(records, min_size=1, max_size=10, unique_by=lambda r: r["id"]),
    header=layouts,
    delimiter=st.sampled_from([",", ";"]),
    mark=st.sampled_from([".", ","]),
    quoting=st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL]),
    seconds=st.booleans(),
    bom=st.booleans(),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_round_trip(
    rows: list[dict],
    header: list[str],
    delimiter: str,
    mark: str,
    quoting: int,
    seconds: bool,
    bom: bool,
    newline: str,
) -> None:
    def cells(r: dict) -> dict[str, str]:
        charge, intent, invoice, source, payout = r["ids"]
        return {
            "balance_transaction_id": r["id"],
            "created_utc": stripe_time(r["created"], seconds),
            "currency": r["currency"],
            "gross": stripe_amount(r["gross"], mark),
            "fee": stripe_amount(r["fee"], mark),
            "net": stripe_amount(r["gross"] - r["fee"], mark),
            "reporting_category": r["category"],
            "available_on_utc": stripe_time(r["available"], seconds),
            "description": r["description"],
            "source_id": source,
            "customer_facing_amount": "" if r["cfa"] is None else stripe_amount(r["cfa"], mark),
            "customer_facing_currency": r["cfc"],
            "automatic_payout_id": payout,
            "automatic_payout_effective_at_utc": stripe_time(r["payout_date"], seconds),
            "charge_id": charge,
            "payment_intent_id": intent,
            "invoice_id": invoice,
            "customer_email": r["email"],
            "card_country": r["country"],
            "dispute_reason": r["reason"],
            "payment_metadata[note]": r["payment_note"],
            "refund_metadata[note]": r["refund_note"],
            "created": r["local"],
            "is_link": r["is_link"],
            "customer_name": r["description"][:5],
        }

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.csv"
        with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator=newline, quoting=quoting)
            writer.writerow(header)
            written = [cells(r) for r in rows]
            for c in written:
                writer.writerow([c[name] for name in header])
        assert SOURCE.detect(path)
        assert not BALANCE_SOURCE.detect(path)
        got = read(path)

    assert len(got) == len(rows)
    line = 2
    present = set(header)
    for r, c, row in zip(rows, written, got, strict=True):

        def column(name: str, c: dict[str, str] = c) -> str | None:
            return (c[name] or None) if name in present else None

        created = aware(r["created"], seconds)
        assert created is not None
        assert row.key == "stripe:" + r["id"]
        assert row.source == "stripe_report"
        assert row.amounts == {"gross": r["gross"], "fee": r["fee"], "net": r["gross"] - r["fee"]}
        assert row.date == created.astimezone(STOCKHOLM).date()
        assert row.origin.line == line
        line += 1 + sum(c[name].count("\n") for name in header)

        expected = {
            "id": r["id"],
            "category": r["category"],
            "currency": r["currency"].lower(),
            "created": created,
            "available_on": (
                aware(r["available"], seconds) if "available_on_utc" in present else None
            ),
            "description": column("description"),
            "source_id": column("source_id"),
            "customer_facing_amount": (
                stripe_amount(r["cfa"], ".")
                if "customer_facing_amount" in present and r["cfa"] is not None
                else None
            ),
            "customer_facing_currency": (column("customer_facing_currency") or "").lower() or None,
            "payout_id": column("automatic_payout_id"),
            "payout_date": (
                aware(r["payout_date"], seconds)
                if "automatic_payout_effective_at_utc" in present
                else None
            ),
            "charge_id": column("charge_id"),
            "payment_intent_id": column("payment_intent_id"),
            "invoice_id": column("invoice_id"),
            "customer_email": column("customer_email"),
            "card_country": column("card_country"),
            "dispute_reason": column("dispute_reason"),
        }
        notes = [name for name in header if name.endswith("_metadata[note]")]
        if notes:
            expected["metadata.note"] = next((c[n] for n in notes if c[n]), None)
        assert row.fields == expected
