"""SIE reader: the variations real programs write, and every refusal with its line."""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_rtrans_copy_is_skipped_only_right_after_its_rtrans() -> None:
    data = _small(
        "#VER A 1 20260110 x\n{\n#TRANS 1930 {} 2.00\n"
        "#RTRANS 3001 {} -1.00\n#TRANS 3001 {} -1.00\n#TRANS 3001 {} -1.00\n}\n"
    )
    lines = parse(data, "r.si").document.vouchers[0].lines
    assert [line.amount for line in lines] == [200, -100, -100]


def test_rtrans_copy_with_other_date_and_no_sign_is_still_the_copy() -> None:
    # BL Administration and Fortnox repeat an #RTRANS as a #TRANS with the voucher date
    # and without the sign: the copy is recognised by account, objects and amount.
    result = read(fixture("rtrans_copy.si"))
    assert result.removed_lines == 1
    assert result.document.vouchers[0].lines == (
        Line("1910", 50000, date=D(2026, 1, 10)),
        Line("3001", -40000, date=D(2026, 1, 10)),
        Line("2611", -10000, ((1, "456"),), date=D(2026, 1, 20)),  # the #RTRANS
        Line("1930", 0, date=D(2026, 1, 20)),  # "0" and its copy "0.00"
    )


def test_rtrans_followed_by_a_different_trans_keeps_both() -> None:
    data = _small(
        '#VER A 1 20260110 x\n{\n#RTRANS 1930 {} 2.00\n#TRANS 1930 {1 "7"} 2.00\n'
        "#TRANS 3001 {} -4.00\n}\n"
    )
    lines = parse(data, "r.si").document.vouchers[0].lines
    assert [(line.account, line.dims) for line in lines] == [
        ("1930", ()),
        ("1930", ((1, "7"),)),
        ("3001", ()),
    ]


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
            "file is Latin-1 (ISO-8859-1 or -15, the same for its letters), not CP437 as SIE "
            "requires; read as Latin-1",
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


def test_iso_8859_15_is_told_by_its_euro_sign() -> None:
    """BL Administration writes ISO-8859-15 under #FORMAT PC8 (issue 20): with a '€' (A4)
    the file is read as ISO-8859-15, never as Latin-1's '¤'."""
    data = (
        fixture("encoding_latin1.si")
        .read_bytes()
        .replace("Dagskassa Östra".encode("latin-1"), "Dagskassa Östra 5 €".encode("iso-8859-15"))
    )
    result = parse(data, "euro.si")
    assert result.encoding == "iso-8859-15"
    assert [n.message for n in result.notices] == [
        "file is ISO-8859-15 (byte A4 is €), not CP437 as SIE requires; read as ISO-8859-15"
    ]
    assert result.document.vouchers[0].text == "Dagskassa Östra 5 €"


def test_a_checksum_mismatch_names_the_encoding_it_was_computed_in() -> None:
    """A UTF-8 file under #FORMAT PC8 whose #KSUMMA does not match: the message says the
    contents were read as UTF-8 (sie4sdk's example states a placeholder, 123456789)."""
    text = fixture("encoding_utf8.si").read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    data = (first + "\n#KSUMMA\n" + rest + "#KSUMMA 123456789\n").encode("utf-8")
    with pytest.raises(SieError) as info:
        parse(data, "k.si")
    assert (
        "#KSUMMA checksum mismatch: the file states 123456789, its contents (read as "
        "UTF-8) give " in str(info.value)
    )


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
            "no #SIETYP line (a SIE file without one is type 1, year-end balances only): "
            "only SIE type 4 is supported",
        ),
        (
            "sietyp1.se",
            5,
            "a SIE type 1 file (year-end balances, no vouchers): only SIE type 4 is supported",
        ),
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
        ('#TRANS 1930 {} 1.00 "" "" 2,5', "#TRANS: quantity '2,5' is not a number"),
        ("#TRANS 1930 1.00", "#TRANS: expected an object list {...} after the account"),
        ("#TRANS 1930 {1} 1.00", "#TRANS: object list {1} is not pairs of dimension and object"),
        ('#TRANS 1930 {1 "A" 1.00', "object list has no closing '}'"),
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
    assert (err.value.message, err.value.hint) == ("no such file", "give the path of a SIE file.")


def test_every_fixture_reads_or_fails_with_sie_error() -> None:
    names = sorted(p.name for p in FIXTURES.iterdir())
    assert len(names) >= 15
    for path in sorted(FIXTURES.iterdir()):
        try:
            read(path)
        except SieError as err:
            assert err.file == str(path) and err.line is not None and err.line >= 1


# --- variations seen in real files (fixtures written for bokfor, reproducing each one) ------


def test_rar_without_dates_is_left_out_with_a_notice() -> None:
    result = read(fixture("rar_without_dates.si"))
    doc = result.document
    assert doc.fiscal_years == []
    assert [(n.message, n.line) for n in result.notices] == [
        ("#RAR 0 gives no dates; that fiscal year is left out", 7)
    ]
    assert [(v.series, v.number, v.balance) for v in doc.vouchers] == [("", 0, 0)]


def test_rar_with_one_date_is_refused() -> None:
    with pytest.raises(SieError) as err:
        parse(_small("#RAR 0 20260101\n"), "r.si")
    assert (err.value.line, err.value.message) == (7, "#RAR has no end date")


def test_dashed_dates_are_read_with_one_notice() -> None:
    result = read(fixture("dashed_dates.si"))
    doc = result.document
    assert doc.generated == D(2026, 1, 5)
    assert doc.fiscal_years == [FiscalYear(D(2026, 1, 1), D(2026, 12, 31), 0)]
    assert doc.vouchers == [
        Voucher(
            series="A",
            number=1,
            date=D(2026, 1, 10),
            text="Dagskassa",
            reg_date=D(2026, 1, 11),
            lines=(Line("1910", 10000, date=D(2026, 1, 9)), Line("3001", -10000)),
        )
    ]
    assert [(n.message, n.line) for n in result.notices] == [
        (
            "dates are written YYYY-MM-DD (2026-01-05), not YYYYMMDD as SIE requires; "
            "read as dates",
            4,
        )
    ]


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2026-1-10", "#VER: voucher date '2026-1-10' is not a valid date"),
        ("260110", "#VER: voucher date '260110' is not a valid date"),  # century unknown
        ("2026-02-30", "#VER: voucher date '2026-02-30' is not a valid date"),
        ('""', "#VER: voucher date is empty"),
    ],
)
def test_other_date_forms_are_refused(date: str, message: str) -> None:
    with pytest.raises(SieError) as err:
        parse(_small(f"#VER A 1 {date} x\n{{\n}}\n"), "d.si")
    assert (err.value.line, err.value.message) == (7, message)


def test_a_quote_inside_a_word_does_not_end_the_field() -> None:
    doc = read(fixture("bare_quotes.se")).document
    assert doc.accounts == {
        "1480": 'F"rskott till leverant"rer',
        "2440": 'Leverant"rsskulder',
        "2153": 'Ack "veravskr, inventarier',
        "1930": "Bank",
    }
    assert doc.vouchers == [
        Voucher(
            series="A",
            number=1,
            date=D(2026, 1, 10),
            text='Betalning f"r hyra',
            reg_date=D(2026, 1, 11),
            lines=(
                Line("1480", 10000, ((1, 'N"rr'),), 'F"rskott'),
                Line("1930", -10000),
            ),
        )
    ]


def test_unquoted_company_name_is_read_whole() -> None:
    doc = read(fixture("unquoted_company.si")).document
    assert doc.company.name == "Kafé Östra AB"
    assert doc.company.orgnr == "556677-8899"


def test_amount_and_quantity_forms() -> None:
    lines = read(fixture("amount_forms.si")).document.vouchers[0].lines
    assert [(line.amount, line.quantity) for line in lines] == [
        (100000, None),  # 1000
        (-4720, None),  # -47.2
        (50, None),  # .50
        (-50, Decimal("0.5")),  # -.5, quantity .5
        (1250, Decimal("1.000000")),  # 12.500000
        (-96530, Decimal("-2")),
    ]


@pytest.mark.parametrize("amount", ["-", ".", "-.", "1.2.3", "1.001", "0.0000001", "1e3"])
def test_malformed_amounts_are_refused(amount: str) -> None:
    with pytest.raises(SieError) as err:
        parse(_small(f"#VER A 1 20260110 x\n{{\n#TRANS 1930 {{}} {amount}\n}}\n"), "a.si")
    assert (err.value.line, err.value.message) == (
        9,
        f"#TRANS: amount {amount!r} is not a SIE amount",
    )


def test_dos_end_of_file_mark_is_ignored() -> None:
    data = fixture("dos_eof.si").read_bytes()
    assert data.endswith(b"}\r\n\x1a")
    doc = parse(data, "dos.si").document
    assert [(v.number, v.balance) for v in doc.vouchers] == [(1, 0)]


@pytest.mark.parametrize(
    "ending",
    [b"}", b"}\x1a", b"}\r\n\x1a\x1a", b"}\r\n\r\n  \r\n", b"}\x1a\r\n"],
)
def test_end_of_file_variants(ending: bytes) -> None:
    data = fixture("dos_eof.si").read_bytes().rstrip(b"\r\n\x1a").rstrip(b"}") + ending
    doc = parse(data, "eof.si").document
    assert [(v.number, len(v.lines)) for v in doc.vouchers] == [(1, 2)]


def test_cr_only_line_ends() -> None:
    crlf = fixture("dos_eof.si").read_bytes().rstrip(b"\x1a")
    cr = crlf.replace(b"\r\n", b"\r")
    assert b"\n" not in cr
    assert parse(cr, "cr.si").document == parse(crlf, "crlf.si").document
    with pytest.raises(SieError) as err:  # line numbers count CR line ends too
        parse(cr.replace(b"-100.00", b"-99.00"), "cr.si")
    assert err.value.line == 7


def test_empty_voucher_is_read_with_a_notice() -> None:
    result = read(fixture("empty_voucher.si"))
    assert [(v.number, v.lines) for v in result.document.vouchers] == [
        (1, ()),
        (2, (Line("1910", 1000), Line("3001", -1000))),
    ]
    assert [(n.message, n.line) for n in result.notices] == [
        ("verifikation A 1 of 2026-01-10 has no rows", 7)
    ]


def test_empty_company_name_gives_a_notice() -> None:
    result = parse(_small("").replace(b'#FNAMN "Test AB"', b'#FNAMN ""'), "e.si")
    assert result.document.company.name == ""
    assert [n.message for n in result.notices] == ["the company name (#FNAMN) is empty"]


def test_4e_with_records_bokfor_does_not_use() -> None:
    """#PSALDO/#PBUDGET (with and without object list), #OIB/#OUB, #UNDERDIM, #SRU, #KTYP,
    #ENHET, #ADRESS, #TAXAR, #OMFATTN, #BKOD, #FTYP, #PROSA: skipped or read, never refused."""
    result = read(fixture("export_4e_full.se"))
    doc = result.document
    assert result.notices == []
    assert doc.sie_type == "4E"
    assert doc.program == ("Bokslut Pro", "2026.1")
    assert doc.generated == D(2026, 2, 1)
    assert doc.company.orgnr == "556677-8899"
    assert doc.kptyp == "BAS2024"
    assert doc.dimensions == {1: "Kostnadsställe", 21: "Avdelning", 6: "Projekt"}
    assert doc.objects == {(1, "100"): "Butik", (21, "A1"): "Kassa 1"}
    assert doc.accounts == {"1930": "Företagskonto", "3001": "Försäljning 25%"}
    assert doc.balances == [
        Balance("IB", 0, "1930", 100000),
        Balance("UB", 0, "1930", 125050),
        Balance("RES", 0, "3001", -25050),
    ]
    assert doc.vouchers == [
        Voucher(
            series="A",
            number=1,
            date=D(2025, 1, 10),
            text="Dagskassa",
            reg_date=D(2025, 1, 11),
            lines=(
                Line(
                    "1930", 25050, ((1, "100"), (21, "A1")), "Kassa 1", Decimal(3), D(2025, 1, 10)
                ),
                Line("3001", -25050, ((1, "100"),), quantity=Decimal(-3)),
            ),
        )
    ]


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        (
            "sietyp2.se",
            5,
            "a SIE type 2 file (period balances, no vouchers): only SIE type 4 is supported",
        ),
        # the type is checked first: not "truncated" for the missing closing #KSUMMA
        (
            "sietyp3_ksumma.se",
            6,
            "a SIE type 3 file (balances per object, no vouchers): only SIE type 4 is supported",
        ),
        (
            "html_404.si",
            1,
            "the file is an HTML or XML document, not a SIE 4 file (SIE 5 files are XML; "
            "a saved web page is HTML)",
        ),
    ],
)
def test_not_type_4(name: str, line: int, message: str) -> None:
    err = error_of(name)
    assert (err.line, err.message) == (line, message)


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", 1, "the file holds no SIE records (lines starting with '#'): it is not a SIE file"),
        (
            b"\r\n \r\n",
            1,
            "the file holds no SIE records (lines starting with '#'): it is not a SIE file",
        ),
        (
            b'\xef\xbb\xbf<?xml version="1.0"?>\n<Sie/>',
            1,
            "the file is an HTML or XML "
            "document, not a SIE 4 file (SIE 5 files are XML; a saved web page is HTML)",
        ),
        (b"#SIETYP 5\n", 1, "SIE type '5': only SIE type 4 is supported"),
        (  # a page with a style sheet has lines starting with '#'
            b"<html>\n<style>\n#VER { color: red }\n</style>\n</html>\n",
            1,
            "the file is an HTML or XML document, not a SIE 4 file (SIE 5 files are XML; "
            "a saved web page is HTML)",
        ),
    ],
)
def test_not_sie_at_all(data: bytes, line: int, message: str) -> None:
    with pytest.raises(SieError) as err:
        parse(data, "x.se")
    assert (err.value.line, err.value.message) == (line, message)


# --- parse raises nothing but SieError ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "#VER A \u00b2 20260110 x\n{\n}\n",  # '²' is a digit to str.isdigit, not to int()
        "#VER A \u0663 20260110 x\n{\n}\n",  # Arabic-Indic three
        "#RAR \u00b2 20260101 20261231\n",
        "#VER A 1 20260110 x\n{\n#TRANS 1930 {\u00b2 x} 1.00\n}\n",
    ],
)
def test_unicode_digits_are_refused_as_sie_errors(body: str) -> None:
    with pytest.raises(SieError):
        parse(_small(body, "utf-8"), "u.si")


def test_closing_checksum_with_unicode_digit_is_a_mismatch() -> None:
    data = fixture("ksumma_ok.si").read_bytes()
    data = data[: data.rindex(b"#KSUMMA ")] + "#KSUMMA \u00b2\r\n".encode("utf-8")
    with pytest.raises(SieError) as err:
        parse(data, "k.si")
    assert err.value.message.startswith("#KSUMMA checksum mismatch")


_SEEDS = sorted(p.read_bytes() for p in FIXTURES.iterdir() if p.suffix.lower() in (".si", ".se"))
_PIECES = [
    b"#VER ",
    b"#TRANS ",
    b"#RTRANS ",
    b"#BTRANS ",
    b"#KSUMMA",
    b"#RAR 0 ",
    b"#SIETYP 4",
    b"{",
    b"}",
    b'"',
    b'\\"',
    b"\r\n",
    b"\r",
    b"\n",
    b"\x1a",
    b"\t",
    b" ",
    b"-",
    b".",
    b"2026-01-10",
    b"20261231",
    b"\xc2\xb2",
    b"\xef\xbb\xbf",
    b"\xe5",
    b"\x86",
    b"\xff",
    b"<",
    b'{1 "2"}',
    b"99999999999999999999",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_parse_random_bytes_raises_only_sie_error(data: bytes) -> None:
    try:
        parse(data, "random.si")
    except SieError as err:
        assert err.file == "random.si" and err.line is not None and err.line >= 1


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SEEDS),
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "insert", "replace"]),
            st.floats(0, 1),
            st.one_of(st.sampled_from(_PIECES), st.binary(min_size=1, max_size=4)),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_parse_mutated_fixtures_raises_only_sie_error(
    seed: bytes, edits: list[tuple[str, float, bytes]]
) -> None:
    data = bytearray(seed)
    for op, where, piece in edits:
        i = int(where * len(data))
        if op == "delete":
            del data[i : i + len(piece) * 3]
        elif op == "insert":
            data[i:i] = piece
        else:
            data[i : i + len(piece)] = piece
    try:
        parse(bytes(data), "mutated.si")
    except SieError as err:
        assert err.file == "mutated.si" and err.line is not None and err.line >= 1


def _small(body: str, encoding: str = "cp437") -> bytes:
    head = (
        '#FLAGGA 0\n#PROGRAM "Kassa" 1\n#FORMAT PC8\n#GEN 20260105\n#SIETYP 4\n#FNAMN "Test AB"\n'
    )
    return (head + body).encode(encoding)


def test_cp437_that_happens_to_be_valid_utf8_is_read_as_cp437(tmp_path):
    """'╤₧' in CP437 is the bytes D1 9E, which UTF-8 reads as 'ў': a file without a BOM is
    UTF-8 only when that gives the letters a Nordic accounting file has."""
    from bokfor.sie.reader import parse

    data = (
        '#FLAGGA 0\r\n#FORMAT PC8\r\n#SIETYP 4\r\n#FNAMN "╤₧ Bolaget"\r\n'
        "#RAR 0 20260101 20261231\r\n"
    ).encode("cp437")
    data.decode("utf-8")  # the trap: valid UTF-8
    result = parse(data, "x.si")
    assert (result.encoding, result.document.company.name) == ("cp437", "╤₧ Bolaget")
    utf8 = '#FLAGGA 0\r\n#SIETYP 4\r\n#FNAMN "Åkeri AB"\r\n'.encode("utf-8")
    assert parse(utf8, "y.si").encoding == "utf-8"


def test_a_file_larger_than_any_books_is_refused_before_it_is_read(tmp_path):
    """`--books` or `sie check` given a 1 GiB file of NUL bytes read it whole (2 GB of
    memory, 13 s) before finding it was no SIE file: the size is checked first."""
    from bokfor.sie.reader import MAX_SIE_BYTES, read

    path = tmp_path / "books.si"
    with open(path, "wb") as fh:
        fh.truncate(MAX_SIE_BYTES + 1)  # sparse: no disk
    with pytest.raises(SieError, match="the file is larger than 256 MiB, the most bokfor reads"):
        read(path)
