"""Nets OCR giro files: the DNB sample, terminal types, reversals, AvtaleGiro left out,
keys, detection and every bad-input error with its exact message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Row
from bokfor.errors import InputError
from bokfor.sources import bank
from bokfor.sources.nets_ocr import SOURCE
from tests.mutations import mutate

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bank" / "nets_ocr_dnb.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nets_ocr"
TERMINAL = FIXTURES / "terminal_and_avtalegiro.txt"
OSLO = ZoneInfo("Europe/Oslo")
ACCOUNT = "15034271833"
REDOWNLOAD = (
    "download the OCR file again from the bank (or Nets) and give bokfor that file unchanged."
)
ALTERED = "the file is incomplete or was altered; " + REDOWNLOAD


def read(path: Path) -> list[Row | Notice]:
    return list(SOURCE.read(path, OSLO))


def key(assignment: str, number: int) -> str:
    return f"bank:{ACCOUNT}:nets:000314159:{assignment}:{number}"


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="latin-1").splitlines()


def write(tmp_path: Path, lines: list[str], name: str = "ocr.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def replaced(line: str, start: int, text: str) -> str:
    """`line` with `text` written over it from 1-based position `start`."""
    return line[: start - 1] + text + line[start - 1 + len(text) :]


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read(path)
    return str(info.value)


# --- the DNB sample ---------------------------------------------------------------------


def test_sample_rows() -> None:
    out = read(SAMPLE)
    assert all(isinstance(r, Row) for r in out)
    got = [(r.key, r.date, r.amounts["amount"], r.origin.line, r.fields["entry"]) for r in out]
    assert got == [
        (key("0000117", 1), dt.date(2026, 1, 15), 1250000, 3, "0000117"),
        (key("0000117", 2), dt.date(2026, 1, 15), 389000, 5, "0000117"),
        (key("0000117", 3), dt.date(2026, 1, 15), 74900, 7, "0000117"),
        (key("0000118", 1), dt.date(2026, 1, 29), 74900, 11, "0000118"),
        (key("0000118", 2), dt.date(2026, 1, 29), 1875050, 13, "0000118"),
    ]
    assert all(r.source == "bank" and r.origin.file == str(SAMPLE) for r in out)
    assert [r.fields["reference"] for r in out] == [
        "1000452600116",
        "1000462600122",
        "20044001269",
        "20044001269",
        "1000512600197",
    ]
    assert [(r.fields["transaction_code"], r.fields["text"]) for r in out] == [
        ("10", "Giro debited account"),
        ("10", "Giro debited account"),
        ("11", "Standing order"),
        ("15", "AvtaleGiro"),
        ("10", "Giro debited account"),
    ]
    assert [r.fields["counterparty_account"] for r in out] == [
        "12063391202",
        "97104512333",
        "36246014536",
        "36246014536",
        "16020712248",
    ]
    assert [r.fields["bank_reference"] for r in out] == [
        "102334801",
        "102334802",
        "601552830",
        None,
        "102919044",
    ]
    first = out[0].fields
    assert first == {
        "format": "nets_ocr",
        "account": ACCOUNT,
        "currency": "NOK",
        "value_date": None,
        "text": "Giro debited account",
        "reference": "1000452600116",
        "counterparty": None,
        "counterparty_account": "12063391202",
        "bank_reference": "102334801",
        "end_to_end_id": None,
        "transaction_code": "10",
        "entry": "0000117",
        "reversal": None,
    }
    # The two assignments are the two credits on the account: 16 139,00 and 19 499,50 NOK.
    per_entry: dict[str, int] = {}
    for r in out:
        per_entry[r.fields["entry"]] = per_entry.get(r.fields["entry"], 0) + r.amounts["amount"]
    assert per_entry == {"0000117": 1713900, "0000118": 1949950}


def test_terminal_types_reversal_text_and_avtalegiro_left_out() -> None:
    out = read(TERMINAL)
    rows = [r for r in out if isinstance(r, Row)]
    assert [
        (
            r.fields["transaction_code"],
            r.amounts["amount"],
            r.fields["reversal"],
            r.fields["reference"],
            r.fields["text"],
        )
        for r in rows
    ] == [
        ("19", 50000, None, "770016", "Purchase with KID"),
        ("18", -20000, "true", "770016", "Reversing with KID"),  # sign '-' in record 30
        ("21", 15000, None, None, "Purchase with text Kiosk Bryggen Ålesund"),
    ]
    assert [r.origin.line for r in rows] == [3, 5, 7]
    assert all(
        r.fields["counterparty_account"] is None and r.fields["bank_reference"] is None
        for r in rows
    )
    notices = [r for r in out if isinstance(r, Notice)]
    assert [str(n) for n in notices] == [
        f"{TERMINAL}:11: AvtaleGiro assignment 0000120 left out: it holds agreements or "
        "payment claims, not payments received"
    ]


# --- keys --------------------------------------------------------------------------------


def test_keys_are_stable_and_an_added_transaction_keeps_the_old_keys(tmp_path: Path) -> None:
    old = [r.key for r in read(SAMPLE)]
    assert old == [r.key for r in read(SAMPLE)]
    assert len(set(old)) == len(old)
    lines = sample_lines()
    # A third transaction in the second assignment, with the end records updated.
    item1 = replaced(replaced(lines[12], 9, "0000003"), 33, "00000000000010000")
    item2 = replaced(lines[13], 9, "0000003")
    end = replaced(replaced(lines[14], 9, "00000003"), 17, "00000008")
    end = replaced(end, 25, f"{1949950 + 10000:017d}")
    trans = replaced(replaced(lines[15], 9, "00000006"), 17, "00000018")
    trans = replaced(trans, 25, f"{3663850 + 10000:017d}")
    longer = lines[:14] + [item1, item2, end, trans]
    new = [r.key for r in read(write(tmp_path, longer))]
    assert new == old + [key("0000118", 3)]


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLE, TERMINAL], ids=lambda p: p.name)
def test_detect_true(path: Path) -> None:
    assert SOURCE.detect(path)


def _others() -> list[Path]:
    paths = sorted((ROOT / "samples" / "stripe").glob("*"))
    paths += [p for p in sorted((ROOT / "samples" / "bank").glob("*")) if p != SAMPLE]
    paths += sorted((Path(__file__).parent / "fixtures" / "mt940").glob("*"))
    return paths


@pytest.mark.parametrize("path", _others(), ids=lambda p: p.name)
def test_detect_false_for_other_formats(path: Path) -> None:
    assert not SOURCE.detect(path)


def test_detect_false_for_empty_binary_short_and_ignores_the_name(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    assert not SOURCE.detect(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"NY000010\x00" * 10)
    assert not SOURCE.detect(tmp_path / "bin.txt")
    assert not SOURCE.detect(tmp_path / "missing.txt")
    assert not SOURCE.detect(write(tmp_path, [sample_lines()[0][:79]], "short.txt"))
    assert not SOURCE.detect(write(tmp_path, sample_lines()[1:], "no_start.txt"))
    renamed = tmp_path / "statement.sta"
    renamed.write_bytes(SAMPLE.read_bytes())
    assert SOURCE.detect(renamed)
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    assert SOURCE.detect(bom)
    assert [r.key for r in read(bom)] == [r.key for r in read(SAMPLE)]


def test_source_attributes() -> None:
    assert (SOURCE.name, SOURCE.section, SOURCE.schema) == ("nets_ocr", "bank", bank.SCHEMA)


# --- errors ------------------------------------------------------------------------------


def with_line(tmp_path: Path, index: int, line: str) -> Path:
    lines = sample_lines()
    lines[index] = line
    return write(tmp_path, lines)


def test_error_unknown_record_type(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 7, "99"))
    assert error_of(path) == (
        f"{path}:3: column 'record type (positions 7-8)': unknown record type '99' Fix: Nets "
        "OCR records are of type 10 (transmission start), 20 (assignment start), 30 (amount "
        "item 1), 31 (amount item 2), 32 (amount item 3), 49 (specification), 70 (AvtaleGiro "
        "agreement), 88 (assignment end), 89 (transmission end); " + REDOWNLOAD
    )


def test_error_record_type_not_numeric(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 7, "3X"))
    assert error_of(path).startswith(
        f"{path}:3: column 'record type (positions 7-8)': unknown record type '3X' Fix: "
    )


def test_error_record_type_of_unicode_digits(tmp_path: Path) -> None:
    """'²' is a digit to str.isdigit but not to int(): found by the mutation property test."""
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 7, "²0"))
    assert error_of(path).startswith(
        f"{path}:3: column 'record type (positions 7-8)': unknown record type '²0' Fix: "
    )


def test_error_record_that_does_not_match_its_layout(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 33, "0000000000001250A"))
    assert error_of(path) == (
        f"{path}:3: not a valid amount item 1 record (type 30): a field has the wrong length or "
        "a letter where digits belong Fix: " + REDOWNLOAD
    )


def test_error_bad_date(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 16, "320126"))
    assert error_of(path) == (
        f"{path}:3: column 'date (positions 16-21)': not a valid amount item 1 record (type "
        "30): '320126' is not a date (DDMMYY) Fix: " + REDOWNLOAD
    )


def test_error_wrong_number_of_transactions_in_the_assignment_end(tmp_path: Path) -> None:
    path = with_line(tmp_path, 8, replaced(sample_lines()[8], 9, "00000004"))
    assert error_of(path) == (
        f"{path}:9: column 'number of transactions (positions 9-16)': the assignment end "
        "record says 4 transactions, but assignment 0000117 has 3 Fix: " + ALTERED
    )


def test_error_wrong_total_in_the_assignment_end(tmp_path: Path) -> None:
    path = with_line(tmp_path, 8, replaced(sample_lines()[8], 25, f"{1713800:017d}"))
    assert error_of(path) == (
        f"{path}:9: column 'total amount (positions 25-41)': the assignment end record says a "
        "total of 17138.00 NOK, but the transactions of assignment 0000117 add up to 17139.00 "
        "NOK Fix: " + ALTERED
    )


def test_error_wrong_totals_in_the_transmission_end(tmp_path: Path) -> None:
    records = with_line(tmp_path, 15, replaced(sample_lines()[15], 17, "00000017"))
    assert error_of(records) == (
        f"{records}:16: column 'number of records (positions 17-24)': the transmission end "
        "record says 17 records, but the file has 16 Fix: " + ALTERED
    )
    total = with_line(tmp_path, 15, replaced(sample_lines()[15], 25, f"{3663851:017d}"))
    assert error_of(total) == (
        f"{total}:16: column 'total amount (positions 25-41)': the transmission end record says "
        "a total of 36638.51 NOK, but the transactions of the file add up to 36638.50 NOK "
        "Fix: " + ALTERED
    )


def test_error_bad_kid(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 73, "7"))  # 1000452600176
    assert error_of(path) == (
        f"{path}:3: column 'KID (positions 50-74)': the KID 1000452600176 fails both the MOD10 "
        "and the MOD11 check digit Fix: Nets only passes KIDs with a valid check digit, so the "
        "file was altered; " + REDOWNLOAD
    )


def test_error_kid_with_a_space_inside(tmp_path: Path) -> None:
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 66, " "))
    assert error_of(path) == (
        f"{path}:3: column 'KID (positions 50-74)': the KID '1000 52600116' has a space inside "
        "Fix: " + REDOWNLOAD
    )


def test_error_kid_with_a_minus_under_a_nets_type(tmp_path: Path) -> None:
    """Under a transaction type Nets defines, a KID is digits: the character is named."""
    path = with_line(tmp_path, 2, replaced(sample_lines()[2], 62, "-"))
    assert error_of(path) == (
        f"{path}:3: column 'KID (positions 50-74)': the KID '-000452600116' holds '-': a KID "
        "is digits Fix: " + REDOWNLOAD
    )


# --- from the wild (issue 20) -------------------------------------------------------------


def test_a_transaction_type_nets_does_not_define_keeps_its_type_and_kid() -> None:
    """Vipps's OCR file of invoice payments writes transaction type 50 and KIDs of its own
    (one starts with '-', others pass no check digit): read, the KID kept as written."""
    out = read(FIXTURES / "type50.txt")
    assert [
        (
            r.date,
            r.amounts["amount"],
            r.fields["transaction_code"],
            r.fields["reference"],
            r.fields["text"],
            r.key,
            r.origin.line,
        )
        for r in out
    ] == [
        (
            dt.date(2026, 3, 1),
            400,
            "50",
            "-12345678919001",
            "Transaction type 50",
            f"bank:{ACCOUNT}:nets:000008080:2603011:1",
            3,
        ),
        (
            dt.date(2026, 3, 1),
            400,
            "50",
            "119930260000000",
            "Transaction type 50",
            f"bank:{ACCOUNT}:nets:000008080:2603011:2",
            5,
        ),
        (
            dt.date(2026, 3, 1),
            400,
            "50",
            "00981234576842",
            "Transaction type 50",
            f"bank:{ACCOUNT}:nets:000008080:2603011:3",
            7,
        ),
    ]


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("avtalegiro_agreements.txt", "agreements (payers signing up or leaving)"),
        ("avtalegiro_claims.txt", "payment claims (what the payers' banks are to charge)"),
    ],
)
def test_an_avtalegiro_file_says_it_holds_no_payments(name: str, what: str) -> None:
    """Never "every row was exported before": an AvtaleGiro file says what it holds."""
    path = FIXTURES / name
    assert SOURCE.detect(path)
    assert error_of(path) == (
        f"{path}: no payments in this file: it holds AvtaleGiro {what}, not payments received "
        "Fix: the payments come in the OCR giro file the bank delivers after the due date "
        "(transaction type 15, AvtaleGiro); book that file."
    )


def test_an_ocr_file_without_transactions_says_so(tmp_path: Path) -> None:
    lines = sample_lines()
    start, end = lines[1], lines[-2]  # the assignment's start and end records
    empty = [
        lines[0],
        start,
        replaced(replaced(end, 9, "00000000"), 17, "00000002" + "0" * 17),
        replaced(replaced(lines[-1], 9, "00000000"), 17, "00000004" + "0" * 17),
    ]
    assert [str(n) for n in read(write(tmp_path, empty))] == [
        f"{tmp_path / 'ocr.txt'}: no transactions in this file: its OCR giro assignments are "
        "empty (nothing was paid in on the days it covers)"
    ]


def test_error_bad_account(tmp_path: Path) -> None:
    path = with_line(tmp_path, 1, replaced(sample_lines()[1], 25, "15034271834"))
    assert error_of(path) == (
        f"{path}:2: column 'assignment account (positions 25-35)': the assignment account "
        "15034271834 is not a valid Norwegian account number (MOD11 check digit) Fix: " + REDOWNLOAD
    )


def test_error_cut_off_file(tmp_path: Path) -> None:
    path = write(tmp_path, sample_lines()[:-1])
    assert error_of(path) == (
        f"{path}:15: the file ends without a transmission end record (NY000089): it is cut off "
        "Fix: " + REDOWNLOAD
    )
    inside = write(tmp_path, sample_lines()[:6] + sample_lines()[-1:], "inside.txt")
    assert error_of(inside) == (
        f"{inside}:7: assignment 0000117 (line 2) has no assignment end record Fix: " + REDOWNLOAD
    )


def test_error_missing_amount_item_2(tmp_path: Path) -> None:
    lines = sample_lines()
    path = write(tmp_path, lines[:3] + lines[4:])
    assert error_of(path) == (
        f"{path}:4: transaction 1 has no amount item 2 record Fix: " + REDOWNLOAD
    )


def test_error_repeated_transaction_number(tmp_path: Path) -> None:
    lines = sample_lines()
    lines[4] = replaced(lines[4], 9, "0000001")
    lines[5] = replaced(lines[5], 9, "0000001")
    path = write(tmp_path, lines)
    assert error_of(path) == (
        f"{path}:5: column 'transaction number (positions 9-15)': transaction number 1 appears "
        "twice in assignment 0000117 Fix: " + REDOWNLOAD
    )


def test_error_repeated_assignment_number(tmp_path: Path) -> None:
    lines = sample_lines()
    lines[9] = replaced(lines[9], 18, "0000117")
    path = write(tmp_path, lines)
    assert error_of(path) == (
        f"{path}:10: assignment 0000117 appears twice in the file Fix: " + REDOWNLOAD
    )


def test_error_line_length_and_format_code(tmp_path: Path) -> None:
    short = with_line(tmp_path, 3, sample_lines()[3][:79])
    assert error_of(short) == (
        f"{short}:4: the record is 79 characters long; Nets records are exactly 80 Fix: "
        + REDOWNLOAD
    )
    other = with_line(tmp_path, 3, "XY" + sample_lines()[3][2:])
    assert error_of(other) == (
        f"{other}:4: column 'format code (positions 1-2)': not a Nets record: it starts with "
        "'XY', not 'NY' Fix: " + REDOWNLOAD
    )


def test_error_not_starting_with_a_transmission_start(tmp_path: Path) -> None:
    path = write(tmp_path, sample_lines()[1:])
    assert error_of(path) == (
        f"{path}:1: the file does not start with a transmission start record (NY000010) Fix: "
        + REDOWNLOAD
    )
    empty = write(tmp_path, [], "empty.txt")
    assert error_of(empty) == f"{empty}: the file is empty Fix: " + REDOWNLOAD


# --- robustness --------------------------------------------------------------------------

_SAMPLE_BYTES = SAMPLE.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_give_rows_or_input_error(tmp_path_factory, data) -> None:
    raw = mutate(data, _SAMPLE_BYTES, b"0123456789 -NYX\n\xe5")
    path = tmp_path_factory.mktemp("m") / "m.txt"
    path.write_bytes(raw)
    assert SOURCE.detect(path) in (True, False)
    try:
        out = read(path)
    except InputError:
        return
    assert all(isinstance(r, (Row, Notice)) for r in out)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_rows_or_input_error(tmp_path_factory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "b.txt"
    path.write_bytes(blob)
    assert SOURCE.detect(path) in (True, False)
    try:
        read(path)
    except InputError:
        pass
