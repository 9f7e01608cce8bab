"""SWIFT MT940 statements: the SEB sample, signs and reversals, references, keys,
balances, detection and every bad-input error with its exact message."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.sources import bank
from bokfor.sources.mt940 import SOURCE, creditor_reference
from tests.mutations import mutate

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bank" / "mt940_seb.sta"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mt940"
PLAIN = FIXTURES / "plain.sta"
TWO = FIXTURES / "two_statements.sta"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
ACCOUNT = "SE4550000000058398257466"
REDOWNLOAD = "download the statement again from the bank and give bokfor that file unchanged."

HEAD = ":20:STMT1\n:25:SE4550000000058398257466\n:28C:1/1\n:60F:C260101SEK100,00\n"


def read(path: Path) -> list[Row | Notice]:
    return list(SOURCE.read(path, STOCKHOLM))


def rows(path: Path) -> list[Row]:
    return [r for r in read(path) if isinstance(r, Row)]


def write(tmp_path: Path, text: str, name: str = "s.sta", encoding: str = "cp1252") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read(path)
    return str(info.value)


def key(ref: str, day: dt.date) -> str:
    """The key of a row the bank identifies: account, booking date and its reference."""
    return f"bank:{ACCOUNT}:{day.isoformat()}:{ref}"


# --- the SEB sample ---------------------------------------------------------------------


def test_sample_rows() -> None:
    out = read(SAMPLE)
    assert all(isinstance(r, Row) for r in out)  # every daily statement adds up
    got = [(r.key, r.date, r.amounts["amount"], r.origin.line) for r in out]
    assert got == [
        (key("5000260102000114", dt.date(2026, 1, 2)), dt.date(2026, 1, 2), -125000, 6),
        (key("5000260105004471", dt.date(2026, 1, 5)), dt.date(2026, 1, 5), 1250000, 17),
        (key("5000260105004472", dt.date(2026, 1, 5)), dt.date(2026, 1, 5), 375000, 20),
        (key("5000260107002210", dt.date(2026, 1, 7)), dt.date(2026, 1, 7), 804646, 31),
        (key("5000260112000871", dt.date(2026, 1, 12)), dt.date(2026, 1, 12), 431280, 42),
        (key("5000260112003305", dt.date(2026, 1, 12)), dt.date(2026, 1, 12), -2450000, 45),
        (key("5000260112005120", dt.date(2026, 1, 12)), dt.date(2026, 1, 12), 45000, 48),
        (out[7].key, dt.date(2026, 1, 13), -89900, 59),
        (key("5000260114002217", dt.date(2026, 1, 14)), dt.date(2026, 1, 14), 439262, 69),
        (key("5000260120004480", dt.date(2026, 1, 20)), dt.date(2026, 1, 20), 990000, 80),
        (key("5000260120004481", dt.date(2026, 1, 20)), dt.date(2026, 1, 20), 218750, 83),
        (key("5000260123000093", dt.date(2026, 1, 23)), dt.date(2026, 1, 23), -3860000, 94),
    ]
    # The card purchase has no bank reference: an occurrence key of its content.
    assert out[7].key.startswith("bank:SE4550000000058398257466:") and out[7].key.endswith("#1")
    assert out[7].former == ("mt940:0957a63d372fa665ef51566f#1",)  # its key in schema 3
    assert all(r.source == "bank" and r.origin.file == str(SAMPLE) for r in out)
    assert {r.fields["format"] for r in out} == {"mt940"}
    assert {r.fields["account"] for r in out} == {ACCOUNT}
    assert {r.fields["currency"] for r in out} == {"SEK"}


def test_sample_fields() -> None:
    out = rows(SAMPLE)
    assert [r.fields["text"] for r in out] == [
        "PRIS ENL SPEC Avgift företagspaket december",
        "BG 5050-1055 OCR 4000123456788 Kundbolaget i Göteborg AB",
        "BG 5050-1055 OCR 12345674 Åkesson Bygg & Måleri HB",
        "STRIPE PAYMENTS EUROPE LTD STRIPE PAYOUT ST-Q8W2E4R6T8Y0",
        "ZETTLE PAYOUT iZettle AB 2026-01-09",
        "BG 5050-1055 Skatteverket SKATTEKONTO 165566778899",
        "SWISH INBETALNING 46701234567 Maria Öberg",
        "KORTKÖP 260112 CLAS OHLSON 227 STOCKHOLM",
        "STRIPE PAYMENTS EUROPE LTD STRIPE PAYOUT ST-K3L5M7N9P1Q3",
        "BG 5050-1055 RF18 5390 0754 7034 Nordisk Design Oy",
        "BG 5050-1055 OCR 900147117 Café Ängen i Lund AB",
        "LÖN JANUARI 2026 Löneutbetalning 4 mottagare",
    ]
    assert [r.fields["reference"] for r in out] == [
        None, "4000123456788", "12345674", None, None,
        None,  # the tax account's number has no OCR marker: never guessed
        None, None, None, "RF18539007547034", "900147117", None,
    ]  # fmt: skip
    assert [r.fields["transaction_code"] for r in out] == [
        "NCHG", "NTRF", "NTRF", "NTRF", "NTRF", "NTRF", "NTRF", "NMSC", "NTRF", "NTRF",
        "NTRF", "NTRF",
    ]  # fmt: skip
    # Value date differs from the booking date for the weekend Zettle payout and the card.
    assert [r.fields["value_date"] for r in out if r.fields["value_date"] != r.date] == [
        dt.date(2026, 1, 9),
        dt.date(2026, 1, 12),
    ]
    assert out[0].fields["bank_reference"] == "5000260102000114"
    assert out[7].fields["bank_reference"] is None  # NONREF and no // part
    assert all(r.fields["reversal"] is None for r in out)
    assert all(r.fields["counterparty"] is None for r in out)  # SEB's :86: is free text


def test_sample_balances_add_up_to_the_last_closing_balance() -> None:
    text = SAMPLE.read_bytes().decode("cp1252")
    assert ":60F:C251231SEK184512,35" in text
    assert text.rstrip().splitlines()[-3] == ":62F:C260123SEK164802,73"
    assert 18451235 + sum(r.amounts["amount"] for r in rows(SAMPLE)) == 16480273


# --- signs, reversals, dates, references, structured :86: -------------------------------


def test_plain_fixture_rows() -> None:
    out = read(PLAIN)
    assert all(isinstance(r, Row) for r in out)
    got = [
        (r.key, r.date, r.fields["value_date"], r.amounts["amount"], r.fields["reversal"])
        for r in out
    ]
    assert got == [
        # Entry date 0102 after value date 251231: the entry is in the next year.
        (
            key("5000251231000001", dt.date(2026, 1, 2)),
            dt.date(2026, 1, 2),
            dt.date(2025, 12, 31),
            150000,
            None,
        ),
        # RC = reversal of credit, a debit entry: money out.
        (
            key("5000260102000002", dt.date(2026, 1, 2)),
            dt.date(2026, 1, 2),
            dt.date(2026, 1, 2),
            -150000,
            "true",
        ),
        # RD = reversal of debit, a credit entry: money in.
        (
            key("5000260102000003", dt.date(2026, 1, 2)),
            dt.date(2026, 1, 2),
            dt.date(2026, 1, 2),
            20000,
            "true",
        ),
        (out[3].key, dt.date(2026, 1, 2), dt.date(2026, 1, 2), -8900, None),
        (out[4].key, dt.date(2026, 1, 2), dt.date(2026, 1, 2), -8900, None),
        # The bank reference seen a second time keeps the first row's key intact.
        (
            key("5000260102000002#2", dt.date(2026, 1, 2)),
            dt.date(2026, 1, 2),
            dt.date(2026, 1, 2),
            5000,
            None,
        ),
        (out[6].key, dt.date(2026, 1, 2), dt.date(2026, 1, 2), -30000, None),
    ]
    # Two identical card purchases: the same content, occurrences 1 and 2.
    assert out[3].key.removesuffix("#1") == out[4].key.removesuffix("#2")
    assert out[3].key.startswith("bank:SE4550000000058398257466:") and out[3].key.endswith("#1")
    assert out[3].former[0].startswith("mt940:")
    assert [r.fields["reference"] for r in out] == [
        "4000123456788",
        "4000123456788",
        None,
        None,
        None,
        "12345674",
        None,
    ]
    # "referens 4000123456788" is not an OCR/REF marker: the number is not taken.
    assert out[6].fields["text"] == "Betalning faktura 991 referens 4000123456788"
    assert out[6].fields["bank_reference"] == "FAKT-2026-001"  # the customer reference
    structured = out[5].fields
    assert structured["text"] == "GUTSCHRIFT REF 12345674 Faktura 88"
    assert structured["counterparty"] == "Kundbolaget AB"
    assert structured["counterparty_account"] == "12345678901"


def test_several_statements_and_a_balance_gap_notice() -> None:
    out = read(TWO)
    assert [type(r).__name__ for r in out] == ["Row", "Notice", "Row"]
    assert [r.origin.line for r in out if isinstance(r, Row)] == [5, 12]
    notice = out[1]
    assert str(notice) == (
        f"{TWO}:7: statement STMT2601050001 does not add up: opening balance 1\u00a0000,00 + "
        "its rows 100,00 = 1\u00a0100,00, but the closing balance (:62F:) is 1\u00a0200,00; a "
        "row may be missing from the file"
    )


def test_swift_block_wrapping_lf_utf8_and_bom_give_the_same_rows(tmp_path: Path) -> None:
    text = SAMPLE.read_bytes().decode("cp1252")
    expected = [
        (r.key, r.date, r.amounts["amount"], r.fields["text"], r.origin.line) for r in rows(SAMPLE)
    ]
    for variant, encoding in ((text.replace("\r\n", "\n"), "utf-8"), ("\ufeff" + text, "utf-8")):
        path = write(tmp_path, variant, encoding=encoding)
        got = [
            (r.key, r.date, r.amounts["amount"], r.fields["text"], r.origin.line)
            for r in rows(path)
        ]
        assert [g[:4] for g in got] == [e[:4] for e in expected]
        assert [g[4] for g in got] == [e[4] for e in expected]


def test_creditor_reference_rule() -> None:
    assert creditor_reference("OCR 4000123456788") == "4000123456788"
    assert creditor_reference("ocr:4000123456788 x") == "4000123456788"
    assert creditor_reference("REF. 12345674") == "12345674"
    assert creditor_reference("OCR-NR 12345674") == "12345674"
    assert creditor_reference("OCR 4000123456787") == ""  # bad Luhn
    assert creditor_reference("4000123456788") == ""  # no marker: never guessed
    assert creditor_reference("FAKTURA 12345674") == ""
    assert creditor_reference("XOCR 12345674") == ""  # marker inside a word
    assert creditor_reference("OCR 123456740") == ""  # Luhn fails on the full token
    assert creditor_reference("betalning RF18539007547034") == "RF18539007547034"
    assert creditor_reference("RF18 5390 0754 7034 Nordisk Design") == "RF18539007547034"
    assert creditor_reference("RF19 5390 0754 7034") == ""  # bad mod 97


# --- keys --------------------------------------------------------------------------------


def test_keys_are_stable_and_an_added_transaction_keeps_the_old_keys(tmp_path: Path) -> None:
    assert [r.key for r in rows(PLAIN)] == [r.key for r in rows(PLAIN)]
    text = PLAIN.read_text(encoding="cp1252")
    extra = (
        ":61:2601020102D89,00NMSCNONREF\n:86:KORTKÖP 260101 PRESSBYRÅN\n"
        ":61:2601020102C1,00NTRFNONREF//5000260102000009\n:86:RÄNTA\n"
    )
    longer = text.replace(":62F:C260102SEK9772,00", extra + ":62F:C260102SEK9684,00")
    old = [r.key for r in rows(PLAIN)]
    new = [r.key for r in rows(write(tmp_path, longer))]
    assert new[: len(old)] == old
    assert new[len(old)] == old[3].removesuffix("#1") + "#3"  # a third identical purchase
    assert new[len(old) + 1] == key("5000260102000009", dt.date(2026, 1, 2))
    assert len(set(new)) == len(new)


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLE, PLAIN, TWO], ids=lambda p: p.name)
def test_detect_true(path: Path) -> None:
    assert SOURCE.detect(path)


def _others() -> list[Path]:
    paths = sorted((ROOT / "samples" / "stripe").glob("*"))
    paths += [p for p in sorted((ROOT / "samples" / "bank").glob("*")) if p != SAMPLE]
    paths += sorted((Path(__file__).parent / "fixtures" / "nets_ocr").glob("*"))
    return paths


@pytest.mark.parametrize("path", _others(), ids=lambda p: p.name)
def test_detect_false_for_other_formats(path: Path) -> None:
    assert not SOURCE.detect(path)


def test_detect_false_for_empty_binary_missing_and_ignores_the_name(tmp_path: Path) -> None:
    assert not SOURCE.detect(write(tmp_path, "", "empty.sta"))
    (tmp_path / "bin.sta").write_bytes(b"\x00\x01:20:X\n:25:Y\n:61:")
    assert not SOURCE.detect(tmp_path / "bin.sta")
    assert not SOURCE.detect(tmp_path / "missing.sta")
    assert not SOURCE.detect(write(tmp_path, "Bokföringsdatum;Text;Belopp\n", "x.sta"))
    assert not SOURCE.detect(write(tmp_path, ":20:X\n:61:Y\n", "no25.sta"))
    renamed = tmp_path / "statement.csv"
    renamed.write_bytes(PLAIN.read_bytes())
    assert SOURCE.detect(renamed)


def test_source_attributes() -> None:
    assert (SOURCE.name, SOURCE.section, SOURCE.schema) == ("mt940", "bank", bank.SCHEMA)


# --- errors ------------------------------------------------------------------------------


def test_error_missing_account(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ":20:STMT1\n:28C:1/1\n:60F:C260101SEK100,00\n"
        ":61:2601020102C1,00NTRFNONREF\n:62F:C260102SEK101,00\n",
    )
    assert error_of(path) == (
        f"{path}:1: column ':25:': the statement has no account (:25: line) Fix: every MT940 "
        "statement names its account in a :25: line after the :20: line; " + REDOWNLOAD
    )


def test_error_bad_amount(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + ":61:2601020102C1,2,3NTRFNONREF\n:62F:C260102SEK101,00\n")
    assert error_of(path) == (
        f"{path}:5: column ':61:': not an amount in the :61: line '2601020102C1,2,3NTRFNONREF' "
        "Fix: a :61: line holds value date YYMMDD, optional entry date MMDD, mark C, D, RC or "
        "RD, amount with a decimal comma (1234,50) and a type code such as NTRF; " + REDOWNLOAD
    )


def test_error_amount_with_three_decimals(tmp_path: Path) -> None:
    """1,000 is 1,00 exactly; 1,005 holds half an öre: refused, never rounded."""
    ok = write(
        tmp_path, HEAD + ":61:2601020102C1,000NTRFNONREF\n:62F:C260102SEK101,00\n", name="ok.sta"
    )
    assert [r.amounts["amount"] for r in rows(ok)] == [100]
    path = write(tmp_path, HEAD + ":61:2601020102C1,005NTRFNONREF\n:62F:C260102SEK101,00\n")
    assert error_of(path) == (
        f"{path}:5: column ':61:': the amount 1.005 has a third decimal that is not 0: bokfor "
        "books whole cents and does not round what the bank booked Fix: book this entry by "
        "hand, or ask the bank for the statement in two decimals."
    )


def test_error_bad_balance_amount(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEAD.replace("C260101SEK100,00", "C260101SEK1,0,0") + ":62F:C260102SEK101,00\n"
    )
    assert error_of(path) == (
        f"{path}:4: column ':60F:': not an amount in the :60F: line 'C260101SEK1,0,0' Fix: a "
        ":60F: line holds mark C or D, date YYMMDD, currency and amount with a decimal comma "
        "(C260101SEK1234,50); " + REDOWNLOAD
    )


def test_error_bad_date(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + ":61:2613020102C1,00NTRFNONREF\n:62F:C260102SEK101,00\n")
    assert error_of(path) == (
        f"{path}:5: column ':61:': not a date in the :61: line '2613020102C1,00NTRFNONREF' "
        "(month must be in 1..12) Fix: a :61: line holds value date YYMMDD, optional entry date "
        "MMDD, mark C, D, RC or RD, amount with a decimal comma (1234,50) and a type code such "
        "as NTRF; " + REDOWNLOAD
    )


def test_error_bad_entry_date(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + ":61:2601021302C1,00NTRFNONREF\n:62F:C260102SEK101,00\n")
    assert error_of(path).startswith(
        f"{path}:5: column ':61:': not a date in the :61: line '2601021302C1,00NTRFNONREF' "
        "(month must be in 1..12)"
    )


def test_error_unreadable_statement_line_and_no_library_log_output(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + ":61:2601020102X1,00NTRFNONREF\n:62F:C260102SEK101,00\n")
    assert error_of(path).startswith(
        f"{path}:5: column ':61:': cannot read the :61: line '2601020102X1,00NTRFNONREF' Fix: "
    )
    # Outside pytest (which captures logging) the library's ERROR log of its regex would
    # reach Python's last-resort handler on stderr; the module gives it a NullHandler.
    script = (
        "import sys; from pathlib import Path; from bokfor.errors import InputError; "
        "from bokfor.sources.mt940 import SOURCE\n"
        "try: list(SOURCE.read(Path(sys.argv[1]), None))\n"
        "except InputError as exc: print(exc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert done.stderr == ""
    assert done.stdout.startswith(f"{path}:5: column ':61:': cannot read")


def test_error_truncated_file(tmp_path: Path) -> None:
    text = SAMPLE.read_bytes().decode("cp1252")
    cut = text[: text.index(":62F:C260120")]  # cut off inside the statement of 20 January
    path = write(tmp_path, cut)
    assert error_of(path) == (
        f"{path}:85: column ':62F:': the statement ends without a closing balance (:62F: "
        "line): the file is cut off Fix: " + REDOWNLOAD
    )


def test_error_truncated_inside_a_statement_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + ":61:2601020102C1,00")
    assert error_of(path) == (
        f"{path}:5: column ':61:': the :61: line has no transaction type code (such as NTRF) "
        "Fix: a :61: line ends with a type code such as NTRF or NMSC; " + REDOWNLOAD
    )


def test_error_missing_opening_balance(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ":20:STMT1\n:25:SE4550000000058398257466\n"
        ":61:2601020102C1,00NTRFNONREF\n:62F:C260102SEK101,00\n",
    )
    assert error_of(path) == (
        f"{path}:1: column ':60F:': the statement has no opening balance (:60F: line) Fix: "
        + REDOWNLOAD
    )


def test_error_a_statement_tag_before_the_first_statement(tmp_path: Path) -> None:
    """A bank's header line before :20: is skipped (test_bank_framing_is_skipped), but a tag
    of a statement there means the statement lost its :20: line."""
    path = write(
        tmp_path,
        "Kontoutdrag januari\n:25:SE4550000000058398257466\n" + HEAD + ":62F:C260102SEK100,00\n",
    )
    assert error_of(path) == (
        f"{path}:2: column ':25:': a :25: line outside a statement (no :20: line before it) "
        "Fix: an MT940 statement starts with a :20: line; " + REDOWNLOAD
    )


def test_a_file_without_transactions_says_so(tmp_path: Path) -> None:
    """A warning, no error: a day without payments is nothing to fix."""
    path = write(
        tmp_path,
        HEAD
        + ":62F:C260102SEK100,00\n-\n"
        + HEAD.replace("STMT1", "STMT2")
        + ":62F:C260102SEK100,00\n",
    )
    assert [str(n) for n in read(path)] == [
        f"{path}: no transactions in this file: its 2 statements have no :61: line"
    ]


def test_error_mt942_is_refused_by_name() -> None:
    """MT942 lists provisional entries without balances: refused, naming what it is."""
    path = FIXTURES / "mt942.sta"
    assert SOURCE.detect(path)
    assert error_of(path) == (
        f"{path}:1: column ':20:': an MT942 interim transaction report, not an MT940 "
        "statement: its entries are provisional and it has no balances to check them against "
        "Fix: book the day's MT940 statement (or camt.053), which lists the same entries once "
        "they are booked, with the opening and closing balance."
    )


def test_error_no_statement_and_garbled_text(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "")) == (
        f"{tmp_path / 's.sta'}: no MT940 statement in the file (no line starts with :20:) "
        "Fix: " + REDOWNLOAD
    )
    garbled = write(
        tmp_path,
        HEAD + ":61:2601020102C1,00NTRFNONREF\n:86:KORTKÃ¶P\n:62F:C260102SEK101,00\n",
        encoding="utf-8",
    )
    assert error_of(garbled).startswith(f"{garbled}:6: the text is garbled ('Ã¶' where")


# --- what banks put around and inside statements (issue 20) -----------------------------


def test_bank_framing_is_skipped() -> None:
    """A SOH byte, a bank's header lines (BIC, `940`, `0000 01…`, `:940:`) before the first
    and between messages, `-` + ETX ending a message, blank lines between statements, an
    empty statement, amounts without decimals, with one, zero-padded, CRLF, no final newline;
    the account with its currency as the bank writes it."""
    path = FIXTURES / "framing.sta"
    out = read(path)
    assert all(isinstance(r, Row) for r in out)  # each statement adds up
    assert [(r.date, r.amounts["amount"], r.fields["text"], r.origin.line) for r in out] == [
        (dt.date(2026, 1, 5), 25050, "INBETALNING FAKTURA 1001", 9),
        (dt.date(2026, 1, 6), -5000, "AVGIFT", 21),
    ]
    assert {r.fields["account"] for r in out} == {"SE4550000000058398257466 SEK"}
    assert SOURCE.detect(path)


def test_swift_envelopes_and_a_long_customer_reference() -> None:
    """{1:…}{2:O940…}{4: … -}{5:} around each statement; a customer reference of 24
    characters (an IBAN, as ASN Bank writes it) with the name on the next line; :62M:."""
    out = read(FIXTURES / "envelope.sta")
    assert all(isinstance(r, Row) for r in out)
    assert [
        (r.amounts["amount"], r.fields["bank_reference"], r.fields["text"], r.origin.line)
        for r in out
    ] == [
        (
            -1250,
            "SE4550000000058398257466",
            "SE4550000000058398257466 Kafferosteriet i Lund Kaffe januari",
            6,
        ),
        (1250, "5000260109000021", "RETUR KAFFE", 17),
    ]


def test_amounts_with_a_decimal_point() -> None:
    """Rabobank writes `000000000000.00` and `00000000000002.`: read as the amounts they are
    (the library's balance pattern stopped at the point, 8.50 would have been 8)."""
    out = read(FIXTURES / "point_amounts.sta")
    assert all(isinstance(r, Row) for r in out)  # 0.00 + 10.50 - 2.00 = 8.50
    assert [r.amounts["amount"] for r in out] == [1050, -200]
    assert [r.fields["currency"] for r in out] == ["EUR", "EUR"]


def test_structured_86_subfields_and_wrapped_lines() -> None:
    out = read(FIXTURES / "structured_86.sta")
    notice, *rest = out
    assert isinstance(notice, Notice) and str(notice) == (
        f"{FIXTURES / 'structured_86.sta'}:22: the text holds '\ufffd' where letters were lost "
        "before the file got here (by the bank's software or a conversion); read as it is"
    )
    got = [
        (
            r.amounts["amount"],
            r.fields["text"],
            r.fields["counterparty"],
            r.fields["counterparty_account"],
        )
        for r in rest
    ]
    assert got == [
        # Dutch /KEYWORD/ form: the IBAN wraps mid-word onto the next line.
        (
            -125000,
            "SEPA OVERBOEKING Kafferosteriet i Lund AB Faktura 2026-01 kaffe",
            "Kafferosteriet i Lund AB",
            "SE4550000000058398257466",
        ),
        # Triodos > subfields: >21 continues >20 mid-word.
        (
            -800000,
            "HYRA JANUARI KONTORSLOKAL SÖDER",
            "FASTIGHETS AB KVARTERET UGGLAN",
            "0012345678",
        ),
        # German ? subfields (the library's), SVWZ+ wrapping mid-word.
        (
            500000,
            "GUTSCHRIFT Rechnung 2026-017 Beratung Januar",
            "KUNDE GMBH",
            "DE02120300000000202051",
        ),
        # Free text: a line of the full 65 characters runs on into the next.
        (
            -45000,
            "BETALNING TILL LEVERANTÖR AV KONTORSMATERIAL ENLIGT ORDER 4711 "
            "SKRIVBORDSLAMPOR LEVERERAS VECKA 3",
            None,
            None,
        ),
        # No :86:: the bank's :NS: text, with the letter it lost.
        (-3500, "Tranzakci\ufffds avgift Banken AB", None, None),
    ]


def test_a_text_read_differently_keeps_the_key_it_had(tmp_path: Path) -> None:
    """Rows without a reference are keyed by their text: the text as bokfor read it before
    wrapped lines were joined (with a space) stays a former key, so a row exported then is
    not booked again."""
    line = "A" * 60 + " KONT"
    path = write(
        tmp_path,
        HEAD + ":61:2601020102D5,00NMSCNONREF\n:86:" + line + "\nOR\n:62F:C260102SEK95,00\n",
    )
    (row,) = rows(path)
    assert row.fields["text"] == "A" * 60 + " KONTOR"
    old = bank.IdlessKeys().key(ACCOUNT, dt.date(2026, 1, 2), -500, line + " OR")
    assert row.key != old and old in row.former


# --- robustness --------------------------------------------------------------------------

_SAMPLE_TEXT = PLAIN.read_bytes()


def test_a_statement_line_tag_with_a_letter_is_read_as_the_library_reads_it(
    tmp_path: Path,
) -> None:
    """`:61A:` (a damaged `:61:`, found by the mutation test below): the library reads it
    as a statement line; bokfor keeps its line number for it too (it raised ValueError)."""
    raw = PLAIN.read_bytes().replace(b"\n:61:", b"\n:61A:", 1)
    path = tmp_path / "m.sta"
    path.write_bytes(raw)
    out = [r for r in read(path) if isinstance(r, Row)]
    assert [r.origin.line for r in out] == [
        r.origin.line for r in read(PLAIN) if isinstance(r, Row)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_give_rows_or_input_error(tmp_path_factory, data) -> None:
    raw = mutate(data, _SAMPLE_TEXT, b"0123456789,:/CDR?\n ABX\xe5\xf6")
    path = tmp_path_factory.mktemp("m") / "m.sta"
    path.write_bytes(raw)
    try:
        out = read(path)
    except InputError:
        return
    assert all(isinstance(r, (Row, Notice)) for r in out)
    assert SOURCE.detect(path) in (True, False)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_rows_or_input_error(tmp_path_factory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "b.sta"
    path.write_bytes(blob)
    assert SOURCE.detect(path) in (True, False)
    try:
        read(path)
    except InputError:
        pass


def test_an_account_with_a_slash_is_what_the_mapping_takes(tmp_path: Path) -> None:
    """German and Dutch :25: lines name bank code and account (`50880050/0194774600888`,
    `TRIODOSBANK/0390123456`): the key the error asks for is one the mapping accepts."""
    from bokfor.mapping import load_mapping

    text = (
        (ROOT / "mappings" / "bank.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "    bank_accounts:\n",
            '    bank_accounts:\n      "50880050/0194774600888": 1931\n'
            '      "TRIODOSBANK/0390123456": 1930\n',
            1,
        )
    )
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    accounts = load_mapping(path).sources["bank"].bank_accounts
    for written, ledger in (("50880050/0194774600888", "1931"), ("TRIODOSBANK/0390123456", "1930")):
        row = bank.bank_row(
            format="mt940",
            key="k",
            date=dt.date(2026, 1, 2),
            amount=1,
            origin=Origin("s.sta", 5),
            account=written,
        )
        assert accounts.ledger_account(row, str(path)) == ledger
