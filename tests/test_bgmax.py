"""BgMax (Bankgiro Inbetalningar): sample rows, reference codes, detection, every refusal with
its exact message, key stability, and that no input gives anything but rows or InputError."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Row
from bokfor.errors import InputError
from bokfor.sources import bank
from bokfor.sources.bgmax import SOURCE, bankgiro

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bank" / "bgmax_ocr.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bgmax"
UTC = dt.timezone.utc

_spec = importlib.util.spec_from_file_location("bgmax_build", FIXTURES / "build.py")
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

HINT = "download the BgMax file again from the bank and give bokfor that file unopened."
EDITED = "the file is incomplete or was edited; " + HINT
LATIN1 = (
    "Bankgirot writes BgMax as ISO-8859-1 (Latin-1) text and an editor re-saved this one; " + HINT
)


def read(path: Path) -> list[Row | Notice]:
    return list(SOURCE.read(path, UTC))


def rows(path: Path) -> list[Row]:
    return [r for r in read(path) if isinstance(r, Row)]


def write(path: Path, records: list[str]) -> Path:
    path.write_bytes(build.text_of(records))
    return path


# --- the sample ------------------------------------------------------------------------------


def test_sample_is_latin1_fixed_records() -> None:
    data = SAMPLE.read_bytes()
    assert b"\xc5keri Nystr\xf6m & S\xf6ner AB" in data  # "Åkeri Nyström & Söner AB"
    lines = data.split(b"\n")
    assert lines[-1] == b""
    assert {len(line) for line in lines[:-1]} == {80}


def test_sample_rows() -> None:
    got = rows(SAMPLE)
    deposit1 = "bgmax:54026380:2026-01-23:00031"
    deposit2 = "bgmax:54026380:2026-01-26:00032"
    got_rows = [(r.key, r.date, r.amounts["amount"], r.origin.line, r.fields["entry"]) for r in got]
    assert got_rows == [
        ("bgmax:54026380:2026-01-23:512300001871", dt.date(2026, 1, 23), 1250000, 3, deposit1),
        ("bgmax:54026380:2026-01-23:512300002904", dt.date(2026, 1, 23), 437500, 8, deposit1),
        ("bgmax:54026380:2026-01-23:512300002905", dt.date(2026, 1, 23), -125000, 10, deposit1),
        ("bgmax:54026380:2026-01-26:512600000412", dt.date(2026, 1, 26), 800000, 14, deposit2),
        ("bgmax:54026380:2026-01-26:512600000977", dt.date(2026, 1, 26), 235000, 19, deposit2),
        ("bgmax:54026380:2026-01-26:512600001530", dt.date(2026, 1, 26), 99000, 25, deposit2),
    ]  # fmt: skip
    assert all(r.source == "bank" and r.origin.file == str(SAMPLE) for r in got)
    common = {
        "format": "bgmax",
        "account": "5402-6380",
        "currency": "SEK",
        "value_date": None,
        "end_to_end_id": None,
        "reversal": None,
    }
    assert [dict(r.fields) for r in got] == [
        {
            **common,
            "text": None,
            "reference": "202600490",
            "counterparty": "Café Öresund AB",
            "counterparty_account": "540-2961",
            "bank_reference": "512300001871",
            "transaction_code": "bgmax:1:bank",
            "entry": deposit1,
        },
        {
            **common,
            "text": None,
            "reference": "202600995",
            "counterparty": "Åkeri Nyström & Söner AB",
            "counterparty_account": "5612-3458",
            "bank_reference": "512300002904",
            "transaction_code": "bgmax:2:supplier-payments",
            "entry": deposit1,
        },
        # The deduction (TK21): a credit note the payer subtracted from the deposit.
        {
            **common,
            "text": None,
            "reference": "202601191",
            "counterparty": "Åkeri Nyström & Söner AB",
            "counterparty_account": "5612-3458",
            "bank_reference": "512300002905",
            "transaction_code": "bgmax:2:supplier-payments",
            "entry": deposit1,
        },
        # Several references (code 3): the TK22/TK23 references, the first as the reference.
        {
            **common,
            "text": "202601290 202601597 202601795",
            "reference": "202601290",
            "counterparty": "Byggmästare Lindén i Umeå AB",
            "counterparty_account": "4711-0812",
            "bank_reference": "512600000412",
            "transaction_code": "bgmax:1:bank",
            "entry": deposit2,
        },
        # A paper form without reference: information text, name; the address is left out.
        {
            **common,
            "text": "Hyra januari förråd 3B Avser avtal 2025-114",
            "reference": None,
            "counterparty": "Märta Öberg",
            "counterparty_account": None,
            "bank_reference": "512600000977",
            "transaction_code": "bgmax:3:paper-form",
            "entry": deposit2,
        },
        {
            **common,
            "text": None,
            "reference": "202602090",
            "counterparty": None,
            "counterparty_account": "8327-1601",
            "bank_reference": "512600001530",
            "transaction_code": "bgmax:1:bank",
            "entry": deposit2,
        },
    ]
    assert all(bank.is_ocr(str(r.fields["reference"])) for r in got if r.fields["reference"])


def test_sample_has_no_notices_and_deposits_add_up_to_their_tk15() -> None:
    out = read(SAMPLE)
    assert all(isinstance(r, Row) for r in out)
    totals: dict[object, int] = {}
    for r in out:
        totals[r.fields["entry"]] = totals.get(r.fields["entry"], 0) + r.amounts["amount"]
    assert totals == {
        "bgmax:54026380:2026-01-23:00031": 1562500,
        "bgmax:54026380:2026-01-26:00032": 1134000,
    }


def test_rows_carry_exactly_the_bank_schema() -> None:
    assert (SOURCE.name, SOURCE.section, SOURCE.schema) == ("bgmax", bank.SECTION, bank.SCHEMA)
    assert SOURCE.title == "BgMax bankgiro payments file (Bankgiro Inbetalningar)"
    for r in rows(SAMPLE) + rows(FIXTURES / "reference_codes.txt"):
        assert set(r.fields) == set(bank.SCHEMA.fields)
        assert set(r.amounts) == set(bank.SCHEMA.amounts)


@pytest.mark.parametrize("name", ["right_trimmed.txt", "crlf.txt"])
def test_right_trimmed_and_crlf_files_read_like_the_sample(name: str) -> None:
    path = FIXTURES / name
    raw = path.read_bytes()
    assert (b"\r\n" in raw) == (name == "crlf.txt")
    assert (b" \n" in raw) is False  # the trimmed file has no trailing spaces, CRLF has \r
    assert SOURCE.detect(path)
    want = [(r.key, r.date, dict(r.amounts), dict(r.fields), r.origin.line) for r in rows(SAMPLE)]
    assert [
        (r.key, r.date, dict(r.amounts), dict(r.fields), r.origin.line) for r in rows(path)
    ] == want


def test_reference_codes() -> None:
    path = FIXTURES / "reference_codes.txt"
    out = read(path)
    notices = [n for n in out if isinstance(n, Notice)]
    assert notices == [
        Notice(
            "the payment's reference '2026034' failed Bankgirot's check (reference code "
            "5): it is kept in the text, not as a reference",
            file=str(path),
            line=8,
        ),
        Notice(
            "reference '123456789' is marked as a checked OCR number (reference code 2) "
            "but its check digit does not match; it is kept as the reference",
            file=str(path),
            line=9,
        ),
    ]
    # Each notice comes right before the row it is about.
    assert [type(r).__name__ for r in out][4:8] == ["Notice", "Row", "Notice", "Row"]
    base = "bgmax:54026380:2026-01-30:0000000000"
    got = [
        (
            r.key,
            r.amounts["amount"],
            r.fields["reference"],
            r.fields["text"],
            r.fields["transaction_code"],
            r.fields["counterparty_account"],
        )
        for r in out
        if isinstance(r, Row)
    ]
    assert got == [
        (base + "70", 10000, None, None, "bgmax:1:bank", "540-2961"),  # code 0: none
        # Code 0 followed by an extra reference: that reference.
        (base + "71", 20000, "202603197", "202603197", "bgmax:1:bank", "540-2961"),
        # Code 4 (registered from a paper form): text, and the reference when it is an OCR.
        (base + "72", 30000, "202603296", "202603296", "bgmax:3:paper-form", None),
        (base + "73", 40000, None, "FAKTURA 2026033", "bgmax:3:paper-form", None),
        (base + "74", 50000, None, "2026034", "bgmax:1:bank", "540-2961"),  # code 5
        (base + "75", 60000, "123456789", None, "bgmax:4:autogiro", "5612-3458"),
        # Code 3 without TK22/23 records: the payer's text; no reference.
        (base + "76", 70000, None, "2026035 2026036", "bgmax:2:supplier-payments", "5612-3458"),
        # The same BGC serial number again on the same day: a second occurrence.
        (base + "76#2", 80000, "202603791", None, "bgmax:2:supplier-payments", "5612-3458"),
        (base + "77", -5000, None, "KREDIT 2026038", "bgmax:2:supplier-payments", "5612-3458"),
    ]


def test_bankgiro_numbers_are_written_as_people_write_them() -> None:
    assert bankgiro("0054026380") == "5402-6380"
    assert bankgiro("0003783511") == "378-3511"
    assert bankgiro("0000000000") == ""
    assert bankgiro("0000012345") == "12345"
    assert bank.account_id(bankgiro("0054026380")) == bank.account_id("5402-6380")


# --- detection -------------------------------------------------------------------------------

BGMAX_FILES = sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("path", [SAMPLE, *BGMAX_FILES], ids=lambda p: p.name)
def test_detect_true_for_bgmax_files_even_broken_ones(path: Path) -> None:
    assert SOURCE.detect(path) is True


OTHERS = sorted(
    [
        *(ROOT / "samples" / "stripe").glob("*"),
        *(p for p in (ROOT / "samples" / "bank").glob("*") if p != SAMPLE),
    ]
)


@pytest.mark.parametrize("path", OTHERS, ids=lambda p: p.name)
def test_detect_false_for_other_samples(path: Path) -> None:
    assert SOURCE.detect(path) is False


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
        b":20:SEB2601020001\r\n:25:SE4550000000058398257466\r\n",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">',
        b"NY000010555555551000008200000000000000000000000000000000000000000000000000000000\n",
        b"01BGMAXIMUM           0120260126183502123456P\n",
        b"01AUTOGIRO              20260126183502123456\n",
        b" 01BGMAX               0120260126183502123456P\n",
        b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n01BGMAX\n",
    ],
    ids=["empty", "binary", "mt940", "camt", "nets", "bgmaximum", "autogiro", "indented", "csv"],
)
def test_detect_false_for_other_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bgmax.txt"
    path.write_bytes(content)
    assert SOURCE.detect(path) is False


def test_detect_ignores_the_name_and_never_raises(tmp_path: Path) -> None:
    renamed = tmp_path / "payouts.csv"
    shutil.copy(SAMPLE, renamed)
    assert SOURCE.detect(renamed) is True
    assert SOURCE.detect(tmp_path / "missing.txt") is False
    assert SOURCE.detect(tmp_path) is False


# --- refusals: exact text, line and column -----------------------------------------------------


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value


ERRORS = {
    "test_mode.txt": (
        1,
        "45",
        "this is a BgMax test file (test mark 'T' in the start record): its payments "
        "never happened and must not be booked Fix: book the production file (test mark 'P') "
        "the bank delivers.",
    ),
    "tab.txt": (
        3,
        "13",
        "the fixed-width record is broken: a tab character at column 13; nothing is "
        "booked from this file Fix: BgMax records are 80 characters padded with spaces, and a "
        "tab would shift every field after it; " + HINT,
    ),
    "long_record.txt": (
        4,
        "81",
        "record is 82 characters long; BgMax records are 80 Fix: two records may have "
        "been joined, or text added; " + HINT,
    ),
    "unknown_record.txt": (
        4,
        "1-2",
        "unknown record type '24' Fix: BgMax has the record types 01, 05, 20, 21, 22, "
        "23, 25, 26, 27, 28, 29, 15 and 70; " + HINT,
    ),
    "control_char.txt": (
        5,
        "41",
        "record holds a control character (U+000C) at column 41 Fix: " + HINT,
    ),
    "empty_line.txt": (6, None, "empty line where a BgMax record should be Fix: " + HINT),
    "bom.txt": (
        1,
        None,
        "the file starts with a UTF-8 byte-order mark: it is not the BgMax "
        "file Bankgirot wrote Fix: " + LATIN1,
    ),
    "utf8.txt": (
        4,
        None,
        "the text is UTF-8, not ISO-8859-1 ('Café'): the file was converted "
        "before it got here Fix: " + LATIN1,
    ),
    "mac_roman.txt": (
        4,
        None,
        "the text was decoded as Mac Roman and saved as UTF-8 ('CafÈ' "
        "where 'Café' should be): the file was converted before it got here "
        "Fix: " + LATIN1,
    ),
    "bad_version.txt": (
        1,
        "23-24",
        "BgMax version '02' is not one bokfor reads (only 01) Fix: " + HINT,
    ),
    "deposit_sum.txt": (
        5,
        "51-68",
        "the deposit amount 13\u00a0750,00 is not the sum of its payments: "
        "Σ TK20 − Σ TK21 = 12\u00a0500,00 − 1\u00a0250,00 = 11\u00a0250,00 Fix: " + EDITED,
    ),
    "deposit_count.txt": (
        4,
        "72-79",
        "the deposit record counts 2 payments but the deposit "
        "has 1 (TK20 and TK21 records) Fix: " + EDITED,
    ),
    "end_counts.txt": (
        5,
        "3-10",
        "the end record counts 2 payment records (TK20) but the file has 1 Fix: " + EDITED,
    ),
    "truncated.txt": (
        None,
        None,
        "the file ends after line 6 without the end record (TK70): it is cut short Fix: " + HINT,
    ),
    "bad_amount.txt": (
        3,
        "38-55",
        "the amount '0000000000012500,0' is not a number (digits, zero-padded) Fix: " + HINT,
    ),
    "bad_date.txt": (
        4,
        "38-45",
        "the payment date '20260231' is not a date (YYYYMMDD) Fix: " + HINT,
    ),
    "bad_reference_code.txt": (
        3,
        "56",
        "unknown reference code '7' (Bankgirot's codes are 0–5) Fix: " + HINT,
    ),
    "currency_mismatch.txt": (
        4,
        "69-71",
        "the deposit's currency EUR differs from SEK in its opening record (line 2) Fix: " + HINT,
    ),
    "outside_deposit.txt": (
        2,
        "1-2",
        "payment record (TK20) outside a deposit: no opening record (TK05) before it Fix: " + HINT,
    ),
    "orphan_name.txt": (
        3,
        "1-2",
        "name record (TK26) without a payment record (TK20/TK21) "
        "before it in the deposit Fix: " + HINT,
    ),
    "after_end.txt": (
        6,
        None,
        "record after the end record (TK70) on line 5 Fix: the end "
        "record must be the last, and two files may have been joined; " + HINT,
    ),
    "unclosed_deposit.txt": (
        6,
        "1-2",
        "the end record (TK70) comes before the deposit opened "
        "on line 5 has its deposit record (TK15) Fix: " + HINT,
    ),
    "nested_deposit.txt": (
        3,
        "1-2",
        "a new deposit (TK05) starts before the deposit opened "
        "on line 2 has its deposit record (TK15) Fix: " + HINT,
    ),
    "closing_without_opening.txt": (
        5,
        "1-2",
        "deposit record (TK15) without an opening record (TK05) before it Fix: " + HINT,
    ),
    "second_start.txt": (
        5,
        "1-2",
        "a second start record (TK01): two BgMax files were "
        "joined into one Fix: give bokfor each BgMax file on its own.",
    ),
    "no_payee.txt": (
        2,
        "3-12",
        "the opening record (TK05) has no payee bankgiro number Fix: " + HINT,
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_messages(name: str) -> None:
    path = FIXTURES / name
    line, column, message = ERRORS[name]
    err = error_of(path)
    where = f"{path}:{line}" if line else str(path)
    if column:
        where += f": column {column!r}"
    assert str(err) == f"{where}: {message}"
    assert (err.file, err.line, err.column) == (str(path), line, column)


def test_every_error_fixture_is_tested() -> None:
    valid = {"reference_codes.txt", "right_trimmed.txt", "crlf.txt"}
    assert {p.name for p in BGMAX_FILES} == set(ERRORS) | valid


def test_errors_of_files_that_are_no_bgmax_text(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"")
    assert str(error_of(path)) == f"{path}: the file is empty Fix: " + HINT
    path.write_bytes(b"\x1a\r\n")
    assert str(error_of(path)) == f"{path}: the file is empty Fix: " + HINT
    path.write_bytes(SAMPLE.read_bytes().replace(b"Hamngatan", b"Hamn\x00atan"))
    assert str(error_of(path)) == (
        f"{path}:5: the file holds a NUL byte: it is not a BgMax text file Fix: " + HINT
    )
    stripe = ROOT / "samples" / "stripe" / "payouts.csv"
    assert str(error_of(stripe)) == (
        f"{stripe}:1: column '1-22': not a BgMax file: the first record is not the start record "
        "(01BGMAX) Fix: " + HINT
    )
    assert str(error_of(tmp_path / "missing.txt")) == f"{tmp_path / 'missing.txt'}: no such file"
    assert str(error_of(tmp_path)) == f"{tmp_path}: not a file but a directory"


def test_start_record_test_mark_must_be_p_or_t(tmp_path: Path) -> None:
    path = write(tmp_path / "x.txt", [build.start("X"), *build.ONE, build.end(1, 0, 0, 1)])
    assert str(error_of(path)) == (
        f"{path}:1: column '45': the start record's test mark is "
        "'X', neither P (production) nor T (test) Fix: " + HINT
    )


def test_a_payment_record_cut_short_is_refused_not_padded_into_a_payment(tmp_path: Path) -> None:
    cut = build.ONE[1][:50]  # right-trimming never cuts digits: this record lost its tail
    path = write(
        tmp_path / "x.txt", [build.start(), build.ONE[0], cut, build.ONE[2], build.end(1, 0, 0, 1)]
    )
    assert str(error_of(path)) == (
        f"{path}:3: column '38-55': the amount "
        "'0000000000012     ' is not a number (digits, zero-padded) "
        "Fix: " + HINT
    )


# --- keys ------------------------------------------------------------------------------------


def test_keys_are_stable_and_unique() -> None:
    first = [r.key for r in rows(SAMPLE)]
    assert first == [r.key for r in rows(SAMPLE)]
    assert len(set(first)) == len(first)


def test_a_later_file_with_one_more_payment_keeps_the_old_keys(tmp_path: Path) -> None:
    records = list(build.SAMPLE_RECORDS)
    extra = build.payment("20", build.CAFE, build.ocr("2026021"), 50000, "2", "1", "512600001531")
    records.insert(len(records) - 2, extra)
    records[-2] = build.deposit("20260126", 32, 1134000 + 50000, 4)
    records[-1] = build.end(6, 1, 3, 2)
    old = [r.key for r in rows(SAMPLE)]
    new = [r.key for r in rows(write(tmp_path / "later.txt", records))]
    assert new == old + ["bgmax:54026380:2026-01-26:512600001531"]


# --- properties ------------------------------------------------------------------------------

SAMPLE_BYTES = SAMPLE.read_bytes()


def rows_or_input_error(data: bytes) -> list[Row | Notice]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.txt"
        path.write_bytes(data)
        SOURCE.detect(path)
        try:
            return read(path)
        except InputError:
            return []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), magic=st.booleans())
def test_arbitrary_bytes_give_rows_or_input_error(data: bytes, magic: bool) -> None:
    rows_or_input_error(
        (b"01BGMAX               0120260126183502123456P\n" if magic else b"") + data
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(SAMPLE_BYTES) - 1),
            st.sampled_from(["replace", "delete", "insert"]),
            st.binary(min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_sample_gives_rows_or_input_error(edits: list) -> None:
    data = bytearray(SAMPLE_BYTES)
    for position, op, chunk in edits:
        position %= max(len(data), 1)
        if op == "replace":
            data[position : position + len(chunk)] = chunk
        elif op == "delete":
            del data[position : position + len(chunk)]
        else:
            data[position:position] = chunk
    for r in rows_or_input_error(bytes(data)):
        assert isinstance(r, (Row, Notice))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deposits=st.lists(
        st.lists(st.tuples(st.booleans(), st.integers(0, 10**9)), min_size=1, max_size=5),
        min_size=1,
        max_size=3,
    )
)
def test_generated_files_read_back_exactly(deposits: list) -> None:
    records = [build.start()]
    serial, want, counts = 0, [], [0, 0, 0, 0]
    for day, payments in enumerate(deposits, 1):
        records.append(build.opening())
        total = 0
        for deduction, amount in payments:
            serial += 1
            tk = "21" if deduction else "20"
            records.append(
                build.payment(
                    tk,
                    build.CAFE,
                    build.ocr(str(serial)),
                    amount,
                    "2",
                    "1",
                    str(serial),
                    deduction="0" if deduction else "",
                )
            )
            total += -amount if deduction else amount
            want.append((dt.date(2026, 1, day), -amount if deduction else amount))
            counts[1 if deduction else 0] += 1
        if total < 0:  # a deposit is never negative: Bankgirot would not pay it out
            return
        records.append(build.deposit(f"202601{day:02d}", day, total, len(payments)))
        counts[3] += 1
    records.append(build.end(*counts))
    with tempfile.TemporaryDirectory() as tmp:
        got = rows(write(Path(tmp) / "g.txt", records))
    assert [(r.date, r.amounts["amount"]) for r in got] == want
    assert len({r.key for r in got}) == len(got)
