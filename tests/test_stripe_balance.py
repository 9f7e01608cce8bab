"""Stripe balance export (`balance_history.csv`): detection, parsing, errors, round trip."""

from __future__ import annotations

import csv
import io
import datetime as dt
import importlib.util
import shutil
import string
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bokfor.errors import InputError
from bokfor.sources import DATETIME, TEXT, detect_source
from bokfor.sources.stripe_balance import SOURCE

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "stripe" / "balance_history.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = dt.timezone.utc

CURRENT_HEADER = [
    "id", "Type", "Source", "Amount", "Fee", "Destination Platform Fee",
    "Destination Platform Fee Currency", "Net", "Currency", "Created (UTC)",
    "Available On (UTC)", "Description", "Customer Facing Amount", "Customer Facing Currency",
    "Transfer", "Transfer Date (UTC)", "Transfer Group",
]  # fmt: skip


def read(path: Path) -> list:
    return list(SOURCE.read(path, STOCKHOLM))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the shipped sample ------------------------------------------------------------------


def test_sample_rows_keys_and_amounts() -> None:
    rows = read(SAMPLE)
    assert len(rows) == 36
    assert rows[0].key == "stripe:txn_3QVQp8Rb7qLmX2vT1Mv8WyML"
    assert rows[-1].key == "stripe:txn_3QbpTjRb7qLmX2vT1qfO7TPD"
    assert len({r.key for r in rows}) == 36
    assert all(r.source == "stripe_balance" for r in rows)
    assert [r.origin.line for r in rows] == list(range(2, 38))
    assert rows[0].origin.file == str(SAMPLE)
    assert Counter(r.fields["type"] for r in rows) == {
        "charge": 24, "payment": 2, "refund": 3, "stripe_fee": 2, "adjustment": 1, "payout": 4,
    }  # fmt: skip

    by_id = {r.fields["id"]: r for r in rows}
    sale = by_id["txn_3QNhRCRb7qLmX2vT1d2efzmD"]  # 1 250.00 at 1.5 % + 1.80
    assert sale.amounts == {"gross": 125000, "fee": 2055, "net": 122945}
    partial_refund = by_id["txn_3QNhRCRb7qLmX2vT12yNk80F"]
    assert partial_refund.amounts == {"gross": -10000, "fee": 0, "net": -10000}
    assert partial_refund.fields["source_id"] == sale.fields["source_id"]
    dispute = by_id["txn_1QBzgPRb7qLmX2vT0q2WfspV"]
    assert dispute.fields["type"] == "adjustment"
    assert dispute.amounts == {"gross": -89500, "fee": 22000, "net": -111500}
    assert dispute.fields["description"] == "Chargeback withdrawal for ch_3Q4fF6Rb7qLmX2vT0QVg66wV"
    usage = by_id["txn_1Q81MvRb7qLmX2vT0pXsQo3T"]
    assert usage.fields["source_id"] is None
    assert usage.fields["description"] == "Billing - Usage Fee (2026-01-10)"
    assert usage.amounts == {"gross": -1240, "fee": 0, "net": -1240}


def test_sample_fields() -> None:
    rows = read(SAMPLE)
    german = next(r for r in rows if r.fields["id"] == "txn_3QXjo9Rb7qLmX2vT07fGahsL")
    assert german.fields == {
        "id": "txn_3QXjo9Rb7qLmX2vT07fGahsL",
        "type": "charge",
        "source_id": "ch_3QXjo9Rb7qLmX2vT1xZGjHaV",
        "currency": "sek",
        "created": utc("2026-01-05 09:18"),
        "available_on": utc("2026-01-08 00:00"),
        "description": "Order 1006 - Jonas Weber",
        "customer_facing_amount": "29.90",
        "customer_facing_currency": "eur",
        "payout_id": "po_1Q5L20Rb7qLmX2vT0om70CNI",
        "payout_date": utc("2026-01-14 03:09"),
        "transfer_group": None,
        "metadata.order_id": "1006",
        "metadata.vat_country": "DE",
    }
    comma = next(r for r in rows if r.fields["metadata.order_id"] == "1012")
    assert comma.fields["description"] == "Order 1012 - Lindström, Karin"
    # Not yet paid out: the sales available after the last payout (2026-01-28 03:11).
    assert [r.fields["id"] for r in rows if r.fields["payout_id"] is None] == [
        "txn_3QVQp8Rb7qLmX2vT1Mv8WyML",
        "txn_3QZBksRb7qLmX2vT0FocDVrU",
        "txn_3QVsbWRb7qLmX2vT1o9v8WIu",
        "txn_3Qf7c9Rb7qLmX2vT1OlsdDtP",
    ]


def test_sample_dates_are_swedish() -> None:
    rows = {r.fields["id"]: r for r in read(SAMPLE)}
    late = rows["txn_3Q1RfWRb7qLmX2vT0arSnFRj"]  # 2026-01-03 23:30 UTC = 00:30 on the 4th
    assert late.fields["created"] == utc("2026-01-03 23:30")
    assert late.date == dt.date(2026, 1, 4)
    month_end = rows["txn_3QVQp8Rb7qLmX2vT1Mv8WyML"]  # 2026-01-31 23:10 UTC = 1 February
    assert month_end.fields["created"] == utc("2026-01-31 23:10")
    assert month_end.date == dt.date(2026, 2, 1)
    morning = rows["txn_3QbpTjRb7qLmX2vT1qfO7TPD"]
    assert morning.date == dt.date(2026, 1, 1)
    # A zone is an argument, not a constant: in UTC the late sale stays on the 3rd.
    in_utc = {r.fields["id"]: r for r in SOURCE.read(SAMPLE, UTC)}
    assert in_utc["txn_3Q1RfWRb7qLmX2vT0arSnFRj"].date == dt.date(2026, 1, 3)


def test_sample_payouts_equal_what_they_swept() -> None:
    rows = read(SAMPLE)
    swept: dict[str, int] = defaultdict(int)
    payouts: dict[str, int] = {}
    for row in rows:
        assert row.amounts["gross"] - row.amounts["fee"] == row.amounts["net"]
        if row.fields["type"] == "payout":
            assert row.fields["payout_id"] == row.fields["source_id"]
            payouts[row.fields["payout_id"]] = row.amounts["gross"]
        elif row.fields["payout_id"] is not None:
            swept[row.fields["payout_id"]] += row.amounts["net"]
    assert len(payouts) == 4
    assert set(swept) == set(payouts)
    for payout_id, amount in payouts.items():
        assert amount == -swept[payout_id], payout_id
    assert payouts["po_1QkB4ERb7qLmX2vT0pM42NQp"] == -288830


def test_sample_is_newest_first() -> None:
    created = [r.fields["created"] for r in read(SAMPLE)]
    assert created == sorted(created, reverse=True)


def test_registered_and_schema() -> None:
    assert SOURCE.name == "stripe_balance"
    assert SOURCE.title == "Stripe balance export (balance_history.csv)"
    assert detect_source(SAMPLE) is SOURCE
    schema = SOURCE.schema
    assert schema.amounts == {"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}}
    assert schema.group_keys == {"per_payout": "payout_id"}
    assert schema.unmapped_fields == ("type", "currency")
    assert schema.currency_field == "currency"
    assert schema.kind("created") == DATETIME and schema.kind("payout_date") == DATETIME
    assert schema.kind("description") == TEXT
    assert schema.has_field("metadata.vat_country") and not schema.has_field("vat_country")
    # Every field a row carries is declared (or open), so mappings can be checked up front.
    for row in read(SAMPLE):
        assert all(schema.has_field(name) for name in row.fields)


# --- other layouts -----------------------------------------------------------------------


def test_legacy_layout() -> None:
    rows = read(FIXTURES / "legacy.csv")
    # The legacy payout is a `transfer` described STRIPE TRANSFER: booked as the payout it is.
    assert [r.fields["type"] for r in rows] == ["payout", "refund", "charge", "charge", "charge"]
    transfer, refund = rows[0], rows[1]
    assert transfer.aliases == ("stripe-payout:tr_18Cq2kLp4RzWm8Xa1Nb6QwYu",)
    # A legacy payout (tr_) with an empty Transfer column belongs to its own payout group.
    assert transfer.fields["payout_id"] == "tr_18Cq2kLp4RzWm8Xa1Nb6QwYu"
    assert transfer.fields["transfer_group"] is None  # no such column in this era
    assert refund.amounts == {"gross": -19500, "fee": -453, "net": -19047}  # fee given back
    assert sum(r.amounts["net"] for r in rows[1:]) == -transfer.amounts["gross"]
    assert rows[4].date == dt.date(2016, 4, 6)  # 23:40 UTC in April (CEST) = next day
    assert "metadata.order_id" not in rows[0].fields


def test_a_legacy_payout_goes_to_the_bank_and_a_connect_transfer_stays_one(tmp_path) -> None:
    """Only the STRIPE TRANSFER rows of a legacy export are payouts; a Connect transfer to
    another Stripe account keeps its type (and the mapping's Connect rule)."""
    from bokfor.mapping import load_mapping
    from bokfor.booking import book

    connect = tmp_path / "connect.csv"
    text = (FIXTURES / "legacy.csv").read_text(encoding="utf-8")
    connect.write_text(
        text.replace(",STRIPE TRANSFER,", ",Transfer to acct_1Partner,"), encoding="utf-8"
    )
    assert read(connect)[0].fields["type"] == "transfer"
    mapping = load_mapping(ROOT / "mappings" / "stripe.yaml")
    rows = read(FIXTURES / "legacy.csv")
    booking = book(rows[:1], mapping.for_source("stripe_balance"), mapping, SOURCE.schema)
    assert {(line.account, line.amount) for v in booking.vouchers for line in v.lines} == {
        ("1580", -142856),
        ("1930", 142856),
    }


def test_metadata_columns_quotes_and_multiline_fields() -> None:
    rows = read(FIXTURES / "metadata.csv")
    assert [r.origin.line for r in rows] == [2, 3, 5]  # the second record spans two lines
    first, second, third = rows
    assert first.fields["description"] == 'Order 2204 - "Presentkort", 2 st'
    assert first.fields["transfer_group"] == "grp_2204"
    assert first.fields["created"] == utc("2026-03-02 08:14:37")  # with seconds
    assert first.fields["metadata.Kundnummer"] == "K-1187"
    assert second.fields["description"] == "Order 2203 - Åsa Öhman\nLeverans: Storgatan 1"
    assert second.fields["metadata.vat_country"] is None
    assert second.fields["metadata.Kundnummer"] is None
    assert second.date == dt.date(2026, 3, 1)  # 22:47 UTC = 23:47 in Stockholm (CET)
    assert third.fields["customer_facing_currency"] == "eur"
    assert third.fields["customer_facing_amount"] == "29.90"
    assert third.amounts == {"gross": 33578, "fee": 684, "net": 32894}


def test_resaved_bom_semicolon_crlf() -> None:
    path = FIXTURES / "resaved_bom_semicolon_crlf.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfid;Type;")
    rows = read(path)  # the trailing row of empty cells is not a row
    assert [r.fields["id"] for r in rows] == [
        "txn_1QpZ4dTc5KvJ2nYp0Lm2Vb8W",
        "txn_3QoX2bTc5KvJ2nYp1Rf5Gk9A",
        "txn_3QnV7cTc5KvJ2nYp0Qa1Xy6D",
        "txn_1QnS0fTc5KvJ2nYp1Ub7Ec4H",
    ]
    assert rows[0].amounts["gross"] == -62908
    assert rows[0].amounts["gross"] == -sum(r.amounts["net"] for r in rows[1:])
    assert rows[2].fields["description"] == "Order 2100; Lund, Ebba"
    assert rows[2].date == dt.date(2026, 2, 1)
    assert rows[3].fields["description"] == "Billing - Usage Fee (2026-01-30)"
    assert [r.origin.line for r in rows] == [2, 3, 4, 5]


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        SAMPLE,
        FIXTURES / "legacy.csv",
        FIXTURES / "metadata.csv",
        FIXTURES / "resaved_bom_semicolon_crlf.csv",
    ],
    ids=lambda p: p.name,
)
def test_detect_true(path: Path) -> None:
    assert SOURCE.detect(path) is True


@pytest.mark.parametrize(
    "path",
    [FIXTURES / "not_stripe.csv", FIXTURES / "payments_export.csv"],
    ids=lambda p: p.name,
)
def test_detect_false_for_other_csv(path: Path) -> None:
    assert SOURCE.detect(path) is False


def test_detect_false_for_empty_binary_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "balance_history.csv"
    empty.write_bytes(b"")
    assert SOURCE.detect(empty) is False
    binary = tmp_path / "balance_history (1).csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    assert SOURCE.detect(binary) is False
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("Bokföringsdatum;Belopp\n".encode("latin-1"))
    assert SOURCE.detect(latin1) is False
    assert SOURCE.detect(tmp_path / "missing.csv") is False
    assert SOURCE.detect(tmp_path) is False  # a directory


def test_detect_ignores_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "x.txt"
    shutil.copy(SAMPLE, renamed)
    assert SOURCE.detect(renamed) is True
    fake = tmp_path / "balance_history.csv"
    shutil.copy(FIXTURES / "not_stripe.csv", fake)
    assert SOURCE.detect(fake) is False


def test_detect_looks_at_the_header_only(tmp_path: Path) -> None:
    # A valid header followed by binary garbage is detected (read() will then complain).
    path = tmp_path / "big.csv"
    path.write_bytes(SAMPLE.read_bytes() + b"\xff\x00" * 100_000)
    assert SOURCE.detect(path) is True


# --- errors: exact text, file, line and column ----------------------------------------------

AMOUNT_HINT = (
    "Stripe writes amounts like -1234.50 (decimal point, no thousands separator);"
    " re-download the export from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
DATE_HINT = (
    "Stripe writes times as YYYY-MM-DD HH:MM in UTC; re-download the export from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
REDOWNLOAD = "re-download the export from the Stripe Dashboard (Balance → Export)."


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value


def test_error_bad_amount() -> None:
    path = FIXTURES / "bad_amount.csv"
    err = error_of(path)
    assert str(err) == f"{path}:3: column 'Net': not an amount: '391,21' Fix: {AMOUNT_HINT}"
    assert (err.file, err.line, err.column) == (str(path), 3, "Net")


def test_error_bad_date() -> None:
    path = FIXTURES / "bad_date.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:4: column 'Created (UTC)': not a Stripe date and time: '1/30/2026 12:00'"
        f" Fix: {DATE_HINT}"
    )
    assert (err.file, err.line, err.column) == (str(path), 4, "Created (UTC)")


def test_error_gross_minus_fee_is_not_net() -> None:
    path = FIXTURES / "bad_net.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: column 'Net': Amount − Fee ≠ Net (100.00 − 3.25 ≠ 96.00)"
        f" Fix: the row was edited or damaged; {REDOWNLOAD}"
    )
    assert (err.file, err.line, err.column) == (str(path), 3, "Net")


def test_error_missing_columns() -> None:
    path = FIXTURES / "missing_column.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:1: a Stripe balance export without its `Fee` and `Net` columns: export again"
        " with Fee and Net selected Fix: choose the columns under Balance → Export → Columns in"
        " the Stripe Dashboard; bokfor needs the columns id, Type, Source, Amount, Fee, Net,"
        " Currency, Created (UTC)."
    )
    # The columns are named in the message: there is no single column to point at.
    assert (err.file, err.line, err.column) == (str(path), 1, None)


def test_duplicate_id_is_refused_by_the_pipeline_naming_both_lines() -> None:
    """Rows are unique per run across all inputs; `convert` checks it once for every source."""
    from bokfor.ledger import Ledger
    from bokfor.mapping import load_mapping
    from bokfor.plan import make_plan

    path = FIXTURES / "duplicate_id.csv"
    mapping = load_mapping(Path(__file__).parent.parent / "mappings" / "stripe.yaml")
    with pytest.raises(InputError) as exc:
        make_plan([path], mapping, Ledger.open(Path(tempfile.mkdtemp()) / "none.sqlite"))
    assert str(exc.value) == (
        f"{path}:5: duplicate row stripe:txn_3QoX2bTc5KvJ2nYp1Rf5Gk9A (also at {path}:2):"
        " it would be booked twice Fix: a file holds each transaction once: download the"
        " export again (this one was edited or is damaged)."
    )


def test_error_ragged_row() -> None:
    path = FIXTURES / "ragged.csv"
    err = error_of(path)
    assert str(err) == (
        f"{path}:3: the row has 18 fields but the header has 17 Fix: a value containing the"
        f" delimiter lost its quotes, or the row was cut; {REDOWNLOAD}"
    )
    # A whole row is wrong, not one column.
    assert (err.file, err.line, err.column) == (str(path), 3, None)


def test_error_empty_id_and_bad_available_on(tmp_path: Path) -> None:
    good = (FIXTURES / "bad_net.csv").read_text(encoding="utf-8").splitlines()[:2]
    path = tmp_path / "empty_id.csv"
    path.write_text("\n".join([good[0], "," + good[1].split(",", 1)[1]]) + "\n", "utf-8")
    err = error_of(path)
    assert (err.line, err.column, err.message) == (2, "id", "empty id")
    path = tmp_path / "bad_available.csv"
    path.write_text(
        "\n".join([good[0], good[1].replace("2026-02-04 00:00", "2026-02-04")]) + "\n", "utf-8"
    )
    err = error_of(path)
    assert (err.line, err.column) == (2, "Available On (UTC)")
    assert err.message == "not a Stripe date and time: '2026-02-04'"


def test_error_empty_and_non_utf8(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert error_of(empty).message == "the file is empty"
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("cp1252"))
    err = error_of(cp1252)
    assert err.message == "not UTF-8 text"
    assert err.hint is not None and "UTF-8" in err.hint


def test_read_is_lazy_and_streams() -> None:
    # Errors surface only when the bad row is reached: earlier rows were already yielded.
    rows = SOURCE.read(FIXTURES / "bad_date.csv", STOCKHOLM)
    assert next(rows).fields["id"] == "txn_3QoX2bTc5KvJ2nYp1Rf5Gk9A"
    assert next(rows).fields["id"] == "txn_3QnV7cTc5KvJ2nYp0Qa1Xy6D"
    with pytest.raises(InputError):
        next(rows)


# --- round trip: whatever csv.writer writes, read() gives back ------------------------------

TYPES = ["charge", "payment", "refund", "payment_refund", "adjustment", "stripe_fee", "payout",
         "payout_failure", "transfer"]  # fmt: skip
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    list(",;\"'\nåäöÅÄÖ€ ")
)
ID_CHARS = string.ascii_letters + string.digits


def stripe_amount(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def stripe_time(moment: dt.datetime, seconds: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


moments = st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2030, 12, 31))
records = st.fixed_dictionaries(
    {
        "id": st.text(ID_CHARS, min_size=1, max_size=28).map(lambda s: "txn_" + s),
        "type": st.sampled_from(TYPES),
        "source": st.sampled_from(["", "ch_3QabcDEF", "py_3Qxyz", "po_1Qpay", "tr_1Qold"]),
        "gross": st.integers(-(10**10), 10**10),
        "fee": st.integers(-(10**6), 10**7),
        "currency": st.sampled_from(["sek", "SEK", "eur", "Usd"]),
        "created": moments,
        "seconds": st.booleans(),
        "available": st.none() | moments,
        "description": st.text(TEXT_CHARS, max_size=40),
        "cfa": st.sampled_from(["", "29.90", "-349.00"]),
        "cfc": st.sampled_from(["", "eur", "NOK"]),
        "transfer": st.sampled_from(["", "po_1QswpT", "tr_1Qlegacy"]),
        "transfer_date": st.none() | moments,
        "group": st.sampled_from(["", "grp_7"]),
        "note": st.text(TEXT_CHARS, max_size=12),
    }
)


_LEGACY = {  # a payout from before 2017 (test_legacy_layout), as Hypothesis found it
    "id": "txn_0", "type": "transfer", "source": "", "gross": 0, "fee": 0, "currency": "sek",
    "created": dt.datetime(2015, 1, 1), "seconds": False, "available": None,
    "description": "STRIPE TRANSFER", "cfa": "", "cfc": "", "transfer": "",
    "transfer_date": None, "group": "", "note": "",
}  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(records, min_size=1, max_size=12, unique_by=lambda r: r["id"]),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
    newline=st.sampled_from(["\r\n", "\n"]),
)
@example(rows=[_LEGACY], delimiter=",", bom=False, newline="\r\n")
@example(
    rows=[{**_LEGACY, "description": " stripe transfer ", "source": "tr_1Qold"}],
    delimiter=";",
    bom=True,
    newline="\n",
)
def test_round_trip(rows: list[dict], delimiter: str, bom: bool, newline: str) -> None:
    def when(moment: dt.datetime | None, seconds: bool) -> str:
        return "" if moment is None else stripe_time(moment, seconds)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator=newline)
            writer.writerow(CURRENT_HEADER + ["note (metadata)"])
            for r in rows:
                writer.writerow([
                    r["id"], r["type"], r["source"], stripe_amount(r["gross"]),
                    stripe_amount(r["fee"]), "", "", stripe_amount(r["gross"] - r["fee"]),
                    r["currency"], when(r["created"], r["seconds"]),
                    when(r["available"], r["seconds"]), r["description"], r["cfa"], r["cfc"],
                    r["transfer"], when(r["transfer_date"], False), r["group"], r["note"],
                ])  # fmt: skip
        assert SOURCE.detect(path)
        got = read(path)
        frame, _ = SOURCE.read_frame(path, STOCKHOLM)  # the same lines, by columns

    assert frame["_line"].to_list() == [row.origin.line for row in got]

    assert len(got) == len(rows)
    line = 2
    for r, row in zip(rows, got, strict=True):
        seconds = r["seconds"]
        created = r["created"].replace(
            second=r["created"].second if seconds else 0, microsecond=0, tzinfo=UTC
        )
        assert row.key == "stripe:" + r["id"]
        assert row.amounts == {"gross": r["gross"], "fee": r["fee"], "net": r["gross"] - r["fee"]}
        assert row.date == created.astimezone(STOCKHOLM).date()
        assert row.origin.line == line
        line += 1 + r["description"].count("\n") + r["note"].count("\n")

        def aware(moment: dt.datetime | None, keep_seconds: bool) -> dt.datetime | None:
            if moment is None:
                return None
            return moment.replace(
                second=moment.second if keep_seconds else 0, microsecond=0, tzinfo=UTC
            )

        payout_id = r["transfer"] or (
            r["source"] or None if r["type"] in ("payout", "transfer") else None
        )
        legacy = r["type"] == "transfer" and r["description"].strip().upper() == "STRIPE TRANSFER"
        assert row.fields == {
            "id": r["id"],
            "type": "payout" if legacy else r["type"],
            "source_id": r["source"] or None,
            "currency": r["currency"].lower(),
            "created": created,
            "available_on": aware(r["available"], seconds),
            "description": r["description"] or None,
            "customer_facing_amount": r["cfa"] or None,
            "customer_facing_currency": r["cfc"].lower() or None,
            "payout_id": payout_id,
            "payout_date": aware(r["transfer_date"], False),
            "transfer_group": r["group"] or None,
            "metadata.note": r["note"] or None,
        }


# --- the benchmark generator ---------------------------------------------------------------


def test_generator_is_consistent_and_deterministic(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_stripe", ROOT / "bench" / "gen_stripe.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert gen.main(["--rows", "2000", "--out", str(first), "--seed", "7"]) == 0
    gen.main(["--rows", "2000", "--out", str(second), "--seed", "7"])
    gen.main(["--rows", "2000", "--out", str(other), "--seed", "8"])
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert SOURCE.detect(first)

    rows = read(first)
    assert len(rows) == 2000
    assert {r.fields["type"] for r in rows} <= {
        "charge", "payment", "refund", "stripe_fee", "adjustment", "payout",
    }  # fmt: skip
    created = [r.fields["created"] for r in rows]
    assert created == sorted(created, reverse=True)
    swept: dict[str, int] = defaultdict(int)
    payouts: dict[str, int] = {}
    for row in rows:
        if row.fields["type"] == "payout":
            payouts[row.fields["payout_id"]] = row.amounts["gross"]
        elif row.fields["payout_id"]:
            swept[row.fields["payout_id"]] += row.amounts["net"]
    assert payouts and set(swept) == set(payouts)
    assert all(amount < 0 and amount == -swept[p] for p, amount in payouts.items())


def test_decimal_comma_resave_reads_like_the_original() -> None:
    """Swedish Excel re-saves with ';' and decimal commas; the amounts must come out equal."""
    tz = ZoneInfo("Europe/Stockholm")
    original = list(SOURCE.read(FIXTURES / "resaved_bom_semicolon_crlf.csv", tz))
    comma = list(SOURCE.read(FIXTURES / "resaved_decimal_comma.csv", tz))
    assert [r.amounts for r in comma] == [r.amounts for r in original]
    assert any(
        "," in line
        for line in (FIXTURES / "resaved_decimal_comma.csv")
        .read_text(encoding="utf-8-sig")
        .splitlines()[1:]
    )


# --- read_frame: the same rows as read, or the same error, by columns ----------------------

from bokfor import frames  # noqa: E402
from bokfor.sources import csvframe, limits  # noqa: E402
from bokfor.sources.stripe_balance import COLUMNS  # noqa: E402

CATALOGUE = ROOT / "tests" / "errors"
BALANCE_FILES = sorted(
    {SAMPLE, *FIXTURES.glob("*.csv"), *(p for p in CATALOGUE.glob("*/*.csv") if SOURCE.detect(p))},
    key=str,
)
ZONES = [STOCKHOLM, UTC, dt.timezone(dt.timedelta(hours=-5)), ZoneInfo("Pacific/Chatham")]


def outcome(read_rows) -> object:
    """A frame, or the error's (text, file, line, column)."""
    try:
        return read_rows()
    except InputError as err:
        return (str(err), err.file, err.line, err.column)


def assert_same_as_read(path: Path, tz: dt.tzinfo) -> None:
    by_rows = outcome(lambda: frames.from_rows(SOURCE.read(path, tz), SOURCE.schema))
    by_columns = outcome(lambda: SOURCE.read_frame(path, tz)[0])
    if isinstance(by_rows, tuple) or isinstance(by_columns, tuple):
        assert by_columns == by_rows
    elif by_rows.height:  # with no rows, read gives no metadata columns to compare
        from polars.testing import assert_frame_equal

        assert_frame_equal(by_columns, by_rows)
    else:
        assert by_columns.height == 0


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize("path", BALANCE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_read_frame_equals_read(path: Path, tz: dt.tzinfo) -> None:
    """Every balance file shipped, in the fixtures and in the error catalogue: the same
    frame as the rows of `read`, or the same error (text, file, line, column)."""
    assert_same_as_read(path, tz)


@pytest.mark.parametrize("size", [97, 600])
@pytest.mark.parametrize("path", BALANCE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_read_frame_in_batches_equals_read(path: Path, size: int, monkeypatch) -> None:
    """Read a batch of `size` bytes at a time (cut where a record ends, its lines counted
    on from the batches before): the same frame as the rows of `read`, or the same error."""
    monkeypatch.setattr(csvframe, "_BATCH", size)
    assert_same_as_read(path, STOCKHOLM)


def test_batches_end_where_records_end(tmp_path: Path, monkeypatch) -> None:
    """A quoted line break and a quote in every record: batches of 100 bytes never cut a
    record, and each record keeps its line."""
    lines = (FIXTURES / "metadata.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    body = lines[4].replace("Order 2202 - Jonas Weber", '"Order ""2202""\nrad två"')
    path = tmp_path / "export.csv"
    path.write_text(lines[0] + body * 12, encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 100)
    batches = list(csvframe.read_batches(path, COLUMNS))
    assert len(batches) > 10
    frame = SOURCE.read_frame(path, STOCKHOLM)[0]
    assert frame[frames.LINE].to_list() == list(range(2, 2 + 2 * 12, 2))
    assert set(frame["description"]) == {'Order "2202"\nrad två'}
    assert_same_as_read(path, STOCKHOLM)


@pytest.mark.parametrize(
    "name",
    ["bad_amount.csv", "bad_date.csv", "bad_net.csv", "metadata.csv", "resaved_decimal_comma.csv"],
)
def test_read_frame_reads_these_by_columns(name: str) -> None:
    """These files (errors included) are read by Polars and their errors found by masks,
    not handed to the row reader."""
    assert csvframe.read_cells(FIXTURES / name, COLUMNS) is not None


_FOUND_BY_FUZZING = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description\n"


@pytest.mark.parametrize(
    "rows",
    [
        # A charge described as the legacy payout text of a transfer in the same file was
        # made a payout by columns (the legacy check's values reached rows outside its mask):
        # the sale booked to the bank account, no revenue, no VAT.
        "txn_1,transfer,tr_1,-10.00,0.00,-10.00,sek,2024-01-01 10:00,STRIPE TRANSFER\n"
        "txn_2,charge,ch_2,10.00,0.00,10.00,sek,2024-01-01 10:00,STRIPE TRANSFER\n",
        # A leap second: refused by rows, rolled into the next minute by Polars' strptime.
        "txn_1,charge,ch_1,10.00,1.00,9.00,sek,2024-06-30 23:59:60,Order 1\n",
        "txn_1,charge,ch_1,10.00,1.00,9.00,sek,2024-06-30 23:59:59,Order 1\n"
        "txn_2,charge,ch_2,10.00,1.00,9.00,sek,2024-06-30 23:59:60,Order 2\n",
        # An empty Type: "" by rows, null by columns.
        "txn_1,,ch_1,10.00,1.00,9.00,sek,2024-01-01 10:00,Order 1\n",
    ],
)
def test_read_frame_equals_read_on_what_fuzzing_found(tmp_path: Path, rows: str) -> None:
    path = tmp_path / "balance.csv"
    path.write_text(_FOUND_BY_FUZZING + rows, encoding="utf-8")
    assert_same_as_read(path, STOCKHOLM)


def test_read_frame_lines_of_a_quoted_line_break() -> None:
    """A record spanning two lines: the next record's line is one more than its index."""
    frame, notices = SOURCE.read_frame(FIXTURES / "metadata.csv", STOCKHOLM)
    assert notices == []
    assert frame[frames.LINE].to_list() == [2, 3, 5]
    assert frame["description"][1] == "Order 2203 - Åsa Öhman\nLeverans: Storgatan 1"
    assert frame["gross"].dtype == frames.pl.Int64


def test_read_frame_bad_amount_after_a_quoted_line_break(tmp_path: Path) -> None:
    text = (FIXTURES / "metadata.csv").read_text(encoding="utf-8")
    path = tmp_path / "export.csv"
    path.write_text(text.replace("335.78", "335.7.8"), encoding="utf-8")
    assert csvframe.read_cells(path, COLUMNS) is not None
    with pytest.raises(InputError) as info:
        SOURCE.read_frame(path, STOCKHOLM)
    assert (info.value.line, info.value.column) == (5, "Amount")
    assert info.value.message == "not an amount: '335.7.8'"


_CELLS = st.sampled_from(
    [
        "",
        "x",
        "a,b",
        'say "hi"',
        "two\nlines",
        "cr\r\nlf",
        '"',
        "12.50",
        "1,234.00",
        "12,5",
        "2026-01-05 09:18",
        "2026-1-5 9:18",
        "sek",
        "EUR",
        "  ",
        "STRIPE TRANSFER",
    ]
)
_MESS = st.sampled_from([""] * 24 + ["\n", "\r", "\r\n", ",", ";", '"', 'x"y', '""'])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(records, st.lists(st.tuples(st.integers(0, 17), _CELLS), max_size=1), _MESS),
        min_size=1,
        max_size=6,
    ),
    delimiter=st.sampled_from([",", ";"]),
    newline=st.sampled_from(["\r\n", "\n"]),
    tail=st.sampled_from(["", "", "", "\n", ",,,"]),
    size=st.sampled_from([8 << 20, 8 << 20, 150, 400]),
    raw=st.booleans(),
)
def test_read_frame_equals_read_on_damaged_files(rows, delimiter, newline, tail, size, raw) -> None:
    """Valid rows with cells replaced by other texts and stray bytes between records (blank
    lines, lone CRs, quotes, delimiters), read whole or in batches of `size` bytes:
    read_frame gives what read gives, row or error. `raw`: the cells joined as they are,
    not quoted by a csv module (a quote inside a cell stays a bare quote)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(CURRENT_HEADER + ["note (metadata)"])
    parts = [buffer.getvalue()]
    for r, edits, mess in rows:
        cells = [
            r["id"],
            r["type"],
            r["source"],
            stripe_amount(r["gross"]),
            stripe_amount(r["fee"]),
            "",
            "",
            stripe_amount(r["gross"] - r["fee"]),
            r["currency"],
            stripe_time(r["created"], r["seconds"]),
            "",
            r["description"],
            r["cfa"],
            r["cfc"],
            r["transfer"],
            "",
            r["group"],
            r["note"],
        ]
        for column, text in edits:
            cells[column] = text
        buffer = io.StringIO()
        if raw:
            buffer.write(delimiter.join(cells) + newline)
        else:
            csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerow(cells)
        parts.append(buffer.getvalue() + mess)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(("".join(parts) + tail).encode("utf-8"))
        default, csvframe._BATCH = csvframe._BATCH, size
        try:
            assert_same_as_read(path, STOCKHOLM)
        finally:
            csvframe._BATCH = default


@pytest.mark.parametrize(
    "description, quoted",
    [("x" * (70 << 10), False), ("y" * (3 << 20), False), ("z\n" * (600 << 10), True)],
)
def test_read_frame_caps_as_read(
    tmp_path: Path, monkeypatch, description: str, quoted: bool
) -> None:
    """A cell over MAX_CELL, a line over MAX_LINE (never handed to Polars whole), a quoted
    record of short lines over MAX_LINE in all: the row reader's limit error, same line."""
    lines = (FIXTURES / "metadata.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    row = lines[4].replace(
        "Order 2202 - Jonas Weber", f'"{description}"' if quoted else description
    )
    path = tmp_path / "export.csv"
    path.write_text(lines[0] + lines[1] + row, encoding="utf-8")
    if len(row) > limits.MAX_LINE and not quoted:  # a long line never reaches Polars
        monkeypatch.setattr(csvframe.pl, "read_csv", lambda *a, **k: pytest.fail("read"))
    with pytest.raises(limits.LimitError) as info:
        SOURCE.read_frame(path, STOCKHOLM)
    assert info.value.line == 3
    monkeypatch.undo()
    assert_same_as_read(path, STOCKHOLM)


_TIMES = st.one_of(
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M" if d.second % 2 else "%Y-%m-%d %H:%M:%S")
    ),
    st.text(alphabet="0123456789-: T", min_size=14, max_size=21),
    st.sampled_from(["2026-02-30 10:00", "2026-01-05 24:00", "2026-01-05 10:60:00", ""]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), _TIMES), min_size=1, max_size=30))
def test_utc_column_reads_each_time_as_utc_does(texts) -> None:
    """Stripe times by columns (one strptime, a time without seconds given ':00') are what
    `utc` makes of each text, and the texts it refuses are the ones `utc` refuses."""
    import polars as pl

    from bokfor.sources import stripe_common

    values, refused = stripe_common.utc_column(pl.Series("t", texts, dtype=pl.String))
    for text, value, bad in zip(texts, values.to_list(), refused.to_list(), strict=True):
        if text is None:
            assert value is None and not bad
            continue
        try:
            want = stripe_common.utc(text, "f", 1, "c", "")
        except InputError:
            assert bad and value is None, text
        else:
            assert not bad and value == want, text
