"""SIE reader: the variations real programs write, and every refusal with its line."""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from bokfor.domain import FiscalYear, Line, Voucher
from bokfor.errors import SieError
from bokfor.sie.model import Balance
from bokfor.sie.reader import parse, read

FIXTURES = Path(__file__).parent / "fixtures" / "sie"
D = dt.date


def fixture(name: str) -> Path:
    return FIXTURES / name


def error_of(name: str) -> SieError:
    with pytest.raises(SieError) as err:
        read(fixture(name))
    assert err.value.file == str(fixture(name))
    return err.value


# --- the variations ------------------------------------------------------------------------


def test_variants_header_and_chart() -> None:
    result = read(fixture("variants_4i.si"))
    doc = result.document
    assert result.encoding == "cp437"
    assert result.checksum == "absent"
    assert result.notices == []
    assert doc.sie_type == "4I"
    assert doc.flag == 1
    assert doc.program == ("Kassa 2000", "3.1")
    assert doc.generated == D(2026, 1, 5)
    assert doc.company.name == "Kafé Östra AB"
    assert doc.company.orgnr == "556677-8899"  # quoted, no hyphen, trailing spaces
    assert doc.company.currency == "SEK"
    assert doc.kptyp == "BAS2024"
    assert doc.fiscal_years == [FiscalYear(D(2026, 1, 1), D(2026, 12, 31), 0)]
    assert doc.accounts == {
        "1910": "Kassa",
        "1930": "Företagskonto",
        "3001": "Försäljning 25%",
        "2611": "Utgående moms 25%",
        "6570": "Bankkostnader",
    }
    assert doc.dimensions == {1: "Kostnadsställe", 2: "Kostnadsbärare", 6: "Projekt"}
    assert doc.objects == {
        (1, "456"): "Butik Nord",
        (1, "Nord"): "Norr",
        (6, "0001"): "Projekt ett",
    }
    assert doc.balances == []


def test_variants_vouchers() -> None:
    result = read(fixture("variants_4i.si"))
    assert result.document.vouchers == [
        Voucher(
            series="A",
            number=1,
            date=D(2026, 1, 10),
            text='Kaffe "to go"',
            reg_date=D(2026, 1, 11),
            lines=(
                Line("1910", 125000),  # tabs, integer amount
                Line("3001", -100000, ((1, "456"), (6, "0001")), "Latte", Decimal("2")),
                Line("2611", -25000, (), "Moms", date=D(2026, 1, 9)),  # { }, transdat
            ),
        ),
        Voucher(
            series="B",
            number=None,
            date=D(2026, 1, 12),
            text="",
            lines=(
                Line("1930", 9950, ((1, "456"),)),  # {"1" "456"}, 1-decimal amount
                Line("6570", -9950, ((1, "Nord"), (6, "0001"))),  # {1 Nord 6 0001}
            ),
        ),
        Voucher(
            series="A",
            number=2,
            date=D(2026, 1, 15),
            text="Rättelse",
            lines=(Line("1930", 50000), Line("1910", -50000, text="Tillagd")),
        ),
    ]
    assert result.removed_lines == 1  # the #BTRANS


def test_rtrans_copy_is_skipped_only_when_identical() -> None:
    data = _small(
        "#VER A 1 20260110 x\n{\n#TRANS 1930 {} 2.00\n"
        "#RTRANS 3001 {} -1.00\n#TRANS 3001 {} -1.00\n#TRANS 3001 {} -1.00\n}\n"
    )
    lines = parse(data, "r.si").document.vouchers[0].lines
    assert [line.amount for line in lines] == [200, -100, -100]


def test_4e_with_balances() -> None:
    result = read(fixture("export_4e.se"))
    doc = result.document
    assert doc.sie_type == "4E"
    assert doc.company.name == "Övningsbolaget AB"
    assert doc.company.orgnr == "556334-3689"
    assert doc.fiscal_years == [
        FiscalYear(D(2025, 1, 1), D(2025, 12, 31), 0),
        FiscalYear(D(2024, 1, 1), D(2024, 12, 31), -1),
    ]
    assert doc.balances == [
        Balance("IB", 0, "1930", 1000000),
        Balance("UB", 0, "1930", 1250050),
        Balance("IB", -1, "1930", 800000),
        Balance("UB", -1, "1930", 1000000),
        Balance("RES", 0, "3001", -250050),
    ]
    assert [v.number for v in doc.vouchers] == [1]


@pytest.mark.parametrize(
    ("name", "encoding", "notice"),
    [
        ("encoding_cp437.si", "cp437", None),
        ("encoding_utf8.si", "utf-8", "file is UTF-8, not CP437 as SIE requires; read as UTF-8"),
        (
            "encoding_latin1.si",
            "latin-1",
            "file is Latin-1 (ISO-8859-1), not CP437 as SIE requires; read as Latin-1",
        ),
    ],
)
def test_encodings(name: str, encoding: str, notice: str | None) -> None:
    result = read(fixture(name))
    assert result.encoding == encoding
    assert [n.message for n in result.notices] == ([notice] if notice else [])
    doc = result.document
    assert doc.company.name == "Åkes Café & Bär AB"
    assert doc.accounts == {"1930": "Företagskonto", "3001": "Försäljning"}
    assert doc.vouchers[0].text == "Dagskassa Östra"
    assert doc.vouchers[0].lines[1].text == "Kaffe Är Gött"


def test_cp437_box_drawing_with_swedish_letters_stays_cp437() -> None:
    # '─' is byte C4 in CP437, which is 'Ä' in Latin-1: five of them outnumber the one 'ö'
    # (94), but 94 is a control code in Latin-1, so the file cannot be Latin-1.
    data = _small('#PROSA "─────"\n#KONTO 1930 "Företagskonto"\n')
    assert data.count(b"\xc4") == 5 and data.count(b"\x94") == 1
    result = parse(data, "box.si")
    assert result.encoding == "cp437"
    assert result.document.accounts == {"1930": "Företagskonto"}


def test_utf8_bom_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + fixture("encoding_utf8.si").read_bytes()
    result = parse(data, "bom.si")
    assert result.encoding == "utf-8"
    assert result.document.company.name == "Åkes Café & Bär AB"


def test_lf_and_crlf_read_the_same() -> None:
    crlf = fixture("encoding_cp437.si").read_bytes()
    assert b"\r\n" in crlf
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse(crlf, "a").document == parse(lf, "b").document


# --- checksum ------------------------------------------------------------------------------


def test_correct_checksum() -> None:
    assert read(fixture("ksumma_ok.si")).checksum == "ok"


def test_ksumma_fixture_value_is_the_crc_of_its_contents() -> None:
    """Cross-check of the fixture's stated value, computed by hand-concatenation."""
    contents = (
        '#FORMATPC8#SIETYP4#PROGRAMKassa "Pro"2.0#GEN20260105#FNAMNKafé Östra AB'
        "#KONTO1930Företagskonto#KONTO3001Försäljning#VERA120260110Dagskassa  1"
        "#TRANS1930100.00#TRANS300114566P 1-100.00Kaffe"
    )
    last = fixture("ksumma_ok.si").read_bytes().decode("cp437").split("\r\n")[-2]
    assert last == f"#KSUMMA {zlib.crc32(contents.encode('cp437'))}"


def test_wrong_checksum() -> None:
    err = error_of("ksumma_wrong.si")
    assert err.line == 15
    assert err.message == (
        "#KSUMMA checksum mismatch: the file states 1161771988, its contents give "
        "127147973; the file was changed or damaged after it was written"
    )


def test_opening_checksum_without_closing_is_truncated() -> None:
    err = error_of("ksumma_truncated.si")
    assert err.line == 2
    assert err.message == (
        "the file opens a checksum (#KSUMMA) but has no closing #KSUMMA line; "
        "it is truncated (ends at line 14)"
    )


def test_records_after_closing_checksum_are_refused() -> None:
    data = fixture("ksumma_ok.si").read_bytes() + b"#KONTO 1910 Kassa\r\n"
    with pytest.raises(SieError) as err:
        parse(data, "k.si")
    assert (err.value.line, err.value.message) == (
        16,
        "#KONTO after the closing #KSUMMA is not covered by the checksum",
    )


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        (
            "unbalanced.si",
            7,
            "verifikation A 14 of 2026-01-10 does not balance: its rows sum to 1.00 kr, not 0",
        ),
        ("bad_date.si", 7, "#VER: voucher date '20251331' is not a valid date"),
        ("comma_decimal.si", 9, "#TRANS: amount '1220,50' has a comma as decimal mark"),
        ("bad_account.si", 9, "#TRANS: account '19X0' is not a number"),
        (
            "no_sietyp.si",
            1,
            "no #SIETYP line: this is not a SIE 4 file (bokfor reads SIE type 4 only)",
        ),
        ("sietyp1.se", 5, "SIE type '1': bokfor reads SIE type 4 (4E/4I) only"),
        ("unclosed_voucher.si", 7, "#VER at line 7 is not closed with '}'"),
    ],
)
def test_refusals(name: str, line: int, message: str) -> None:
    err = error_of(name)
    assert (err.line, err.message) == (line, message)
    assert err.hint


def test_comma_decimal_hint_says_how_to_fix() -> None:
    assert error_of("comma_decimal.si").hint == (
        "SIE amounts use '.' as decimal mark (1220.50); correct the exporting program's "
        "settings or the file."
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("#TRANS 1930 {} +1.00", "#TRANS: amount '+1.00' is not a SIE amount"),
        ("#TRANS 1930 {} 1.005", "#TRANS: amount '1.005' is not a SIE amount"),
        # a thousands space splits the amount; the rest lands in the date field
        ("#TRANS 1930 {} 1 000.00", "#TRANS: transaction date '000.00' is not a valid date"),
        ("#TRANS 1930 {} 1.00 \"\" \"\" 2,5", "#TRANS: quantity '2,5' is not a number"),
        ("#TRANS 1930 1.00", "#TRANS: expected an object list {...} after the account"),
        ("#TRANS 1930 {1} 1.00", "#TRANS: object list {1} is not pairs of dimension and object"),
        ("#TRANS 1930 {1 \"A\" 1.00", "object list has no closing '}'"),
    ],
)
def test_bad_rows(row: str, message: str) -> None:
    data = _small(f"#VER A 1 20260110 x\n{{\n{row}\n}}\n")
    with pytest.raises(SieError) as err:
        parse(data, "rows.si")
    assert (err.value.file, err.value.line, err.value.message) == ("rows.si", 9, message)


def test_trans_outside_voucher_is_refused() -> None:
    with pytest.raises(SieError) as err:
        parse(_small("#TRANS 1930 {} 1.00\n"), "t.si")
    assert (err.value.line, err.value.message) == (7, "#TRANS outside a voucher block")


def test_missing_file() -> None:
    with pytest.raises(SieError) as err:
        read(FIXTURES / "does-not-exist.si")
    assert err.value.message.startswith("cannot read the file")


def test_every_fixture_reads_or_fails_with_sie_error() -> None:
    names = sorted(p.name for p in FIXTURES.iterdir())
    assert len(names) >= 15
    for path in sorted(FIXTURES.iterdir()):
        try:
            read(path)
        except SieError as err:
            assert err.file == str(path) and err.line is not None and err.line >= 1


def _small(body: str) -> bytes:
    head = (
        '#FLAGGA 0\n#PROGRAM "Kassa" 1\n#FORMAT PC8\n#GEN 20260105\n#SIETYP 4\n'
        '#FNAMN "Test AB"\n'
    )
    return (head + body).encode("cp437")
