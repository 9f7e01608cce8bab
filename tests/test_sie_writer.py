"""SIE writer: byte-exact output, every refusal with its message, every notice."""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from bokfor.domain import Company, FiscalYear, Line, Voucher, make_dims
from bokfor.errors import SieError
from bokfor.sie import cp437
from bokfor.sie.ksumma import Record, Text, checksum
from bokfor.sie.model import Balance, SieDocument
from bokfor.sie.writer import render

FIXTURES = Path(__file__).parent / "fixtures" / "sie"
D = dt.date


def golden_doc() -> SieDocument:
    """The document behind fixtures/sie/writer_golden.si (written by hand from the spec)."""
    return SieDocument(
        company=Company("Kaffe & Co AB", orgnr="5566778899"),
        program=("bokfor", "0.1.0"),
        generated=D(2026, 2, 1),
        kptyp="EUBAS97",
        fiscal_years=[
            FiscalYear(D(2025, 1, 1), D(2025, 12, 31), -1),
            FiscalYear(D(2026, 1, 1), D(2026, 12, 31), 0),
        ],
        accounts={
            "6570": "Bankkostnader",
            "1930": "Företagskonto",
            "3001": 'Försäljning "fika" 25 %',
            "2611": "Utgående moms 25 %",
            "1910": "Kassa",  # unused: must not be written
        },
        dimensions={1: "Butik"},
        objects={(1, "CAFE1"): "Café Söder", (1, "UNUSED"): "x"},
        vouchers=[
            Voucher(
                series="A",
                date=D(2026, 1, 15),
                text='Stripe "payout" \u2013 C:\\temp',
                lines=(
                    Line("1930", 147062),
                    Line("3001", -117650, make_dims({6: "P12", 1: "CAFE1"}), "Kaffe\tlatte  x2"),
                    Line("2611", -29412, quantity=Decimal("2"), date=D(2026, 1, 14)),
                ),
                source_keys=("stripe:txn_1",),
            ),
            Voucher(
                series="B",
                number=7,
                date=D(2026, 3, 31),
                text="Årsavgift bank",
                reg_date=D(2026, 4, 2),
                lines=(
                    Line("6570", 1234567890123, make_dims({20: "X 1"})),
                    Line("1930", -1234567890123, date=D(2026, 3, 31)),
                ),
            ),
            Voucher(
                series="B",
                number=8,
                date=D(2026, 12, 31),
                text="",
                lines=(Line("1930", -5), Line("6570", 5)),
            ),
        ],
    )


def simple_doc(*vouchers: Voucher, **changes: object) -> SieDocument:
    doc = SieDocument(
        company=Company("Testbolaget AB"),
        generated=D(2026, 2, 1),
        accounts={"1930": "Företagskonto", "3001": "Försäljning"},
        vouchers=list(vouchers),
    )
    for name, value in changes.items():
        setattr(doc, name, value)
    return doc


_SALE_DAY = D(2026, 1, 15)


def sale(
    text: str = "Försäljning", day: dt.date = _SALE_DAY, amount: int = 10000, **kw: object
) -> Voucher:
    return Voucher("A", day, text, (Line("1930", amount), Line("3001", -amount)), **kw)


def lines_of(data: bytes) -> list[str]:
    assert data.endswith(b"\r\n")
    text = data.decode("cp437")
    assert "\n" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


# --- golden --------------------------------------------------------------------------------


def test_golden_file_byte_for_byte() -> None:
    data, notices = render(golden_doc(), checksum=True)
    expected = (FIXTURES / "writer_golden.si").read_bytes()
    assert lines_of(data) == lines_of(expected)  # readable diff first
    assert data == expected
    assert [n.message for n in notices] == [
        "character '\u2013' (U+2013) is not in code page 437 (the SIE character set); "
        "written as '-' (first in voucher 2026-01-15 'Stripe \"payout\" \u2013 C:\\\\temp' "
        "(from stripe:txn_1))"
    ]


def test_golden_checksum_is_crc32_of_the_hand_concatenated_contents() -> None:
    """Cross-check of the fixture's #KSUMMA value, independent of ksumma.py."""
    concatenated = (
        "#FORMATPC8#SIETYP4#PROGRAMbokfor0.1.0#GEN20260201#FNAMNKaffe & Co AB"
        "#ORGNR556677-8899#KPTYPEUBAS97#RAR02026010120261231#RAR-12025010120251231"
        "#KONTO1930Företagskonto#KONTO2611Utgående moms 25 %"
        '#KONTO3001Försäljning "fika" 25 %#KONTO6570Bankkostnader'
        "#DIM1Butik#DIM6Projekt#DIM20Dimension 20"
        "#OBJEKT1CAFE1Café Söder#OBJEKT6P12P12#OBJEKT20X 1X 1"
        '#VERA20260115Stripe "payout" - C:\\temp#TRANS19301470.62'
        "#TRANS30011CAFE16P12-1176.50Kaffe latte x2#TRANS2611-294.12202601142"
        "#VERB720260331Årsavgift bank20260402"
        "#TRANS657020X 112345678901.23#TRANS1930-12345678901.23"
        "#VERB820261231#TRANS1930-0.05#TRANS65700.05"
    )
    expected = zlib.crc32(concatenated.encode("cp437"))
    assert lines_of((FIXTURES / "writer_golden.si").read_bytes())[-1] == f"#KSUMMA {expected}"


def test_without_checksum_there_is_no_ksumma_line() -> None:
    data, _ = render(golden_doc())
    lines = lines_of(data)
    assert not [line for line in lines if line.startswith("#KSUMMA")]
    assert lines[:3] == ["#FLAGGA 0", "#FORMAT PC8", "#SIETYP 4"]


def test_checksum_function_counts_contents_only() -> None:
    records = [
        Record("#KONTO", ("1930", Text('Bank "A"'))),
        Record("{"),
        Record("#TRANS", ("1930", ("1", "X 1"), "1.00")),
        Record("}"),
    ]
    assert checksum(records) == zlib.crc32('#KONTO1930Bank "A"#TRANS19301X 11.00'.encode())
    assert checksum([Record("#GEN", ("20260101",))]) >= 0  # unsigned


# --- header details ------------------------------------------------------------------------


def test_currency_other_than_sek_writes_valuta() -> None:
    doc = simple_doc(sale(), company=Company("Test AB", currency="EUR"))
    assert "#VALUTA EUR" in lines_of(render(doc)[0])
    assert not [x for x in lines_of(render(simple_doc(sale()))[0]) if x.startswith("#VALUTA")]


def test_values_fortnox_rejects_quoted_are_bare() -> None:
    doc = simple_doc(sale(), company=Company("Test AB", orgnr="556677-8899"))
    lines = lines_of(render(doc)[0])
    assert lines[:6] == [
        "#FLAGGA 0",
        "#FORMAT PC8",
        "#SIETYP 4",
        "#PROGRAM bokfor 0.0.0",
        "#GEN 20260201",
        '#FNAMN "Test AB"',
    ]
    assert lines[6] == "#ORGNR 556677-8899"


def test_empty_series_and_number_are_quoted_empty() -> None:
    v = Voucher("", D(2026, 1, 2), "x", (Line("1930", 1), Line("3001", -1)))
    assert '#VER "" "" 20260102 "x"' in lines_of(render(simple_doc(v))[0])


def test_series_with_space_is_quoted() -> None:
    v = Voucher("LEV 1", D(2026, 1, 2), "x", (Line("1930", 1), Line("3001", -1)), number=3)
    assert '#VER "LEV 1" 3 20260102 "x"' in lines_of(render(simple_doc(v))[0])


def test_balances_are_written_in_4e() -> None:
    doc = simple_doc(sale(), sie_type="4E", balances=[Balance("IB", 0, "1930", -150)])
    lines = lines_of(render(doc)[0])
    assert lines.index("#IB 0 1930 -1.50") < lines.index('#VER A "" 20260115 "Försäljning"')


# --- refusals ------------------------------------------------------------------------------


def test_unbalanced_voucher_is_refused() -> None:
    v = Voucher(
        "A",
        D(2026, 1, 15),
        "Payout",
        (Line("1930", 10000), Line("3001", -9900)),
        source_keys=("stripe:po_1", "stripe:txn_2"),
        rule="payouts",
    )
    with pytest.raises(SieError) as err:
        render(simple_doc(v))
    assert err.value.message == (
        "voucher 2026-01-15 'Payout' (from stripe:po_1, stripe:txn_2) does not balance: "
        "debit 100.00, credit 99.00, difference 1.00; it was not written"
    )
    assert err.value.hint == (
        "fix rule 'payouts' in the mapping so that debit equals credit for every voucher."
    )


def test_voucher_without_rows_is_refused() -> None:
    with pytest.raises(SieError) as err:
        render(simple_doc(Voucher("A", D(2026, 1, 15), "Tom", ())))
    assert err.value.message == "voucher 2026-01-15 'Tom' has no rows"


def test_account_without_name_is_refused() -> None:
    v = Voucher("A", D(2026, 1, 15), "x", (Line("1930", 5), Line("6570", -5)))
    with pytest.raises(SieError) as err:
        render(simple_doc(v))
    assert err.value.message == ("account 6570 is used but has no name, and SIE needs one (#KONTO)")
    assert err.value.key == "accounts"
    assert err.value.hint == 'add it under `accounts:` in the mapping, e.g. 6570: "<name>".'


def test_non_numeric_account_is_refused() -> None:
    v = Voucher("A", D(2026, 1, 15), "x", (Line("19A0", 5), Line("3001", -5)))
    doc = simple_doc(v)
    doc.accounts["19A0"] = "Bank"
    with pytest.raises(SieError) as err:
        render(doc)
    assert err.value.message == (
        "account '19A0' is not a number; SIE account numbers are digits only"
    )


def test_bad_orgnr_is_refused() -> None:
    doc = simple_doc(sale(), company=Company("Test AB", orgnr="556677-8898"))
    with pytest.raises(SieError) as err:
        render(doc)
    assert err.value.message == (
        "organisation number '556677-8898' is not valid (format or check digit)"
    )
    assert err.value.key == "company.orgnr"


def test_missing_generation_date_is_refused() -> None:
    with pytest.raises(SieError) as err:
        render(simple_doc(sale(), generated=None))
    assert err.value.message == "the SIE file needs a generation date (#GEN) and none was given"


def test_character_without_cp437_form_is_refused() -> None:
    with pytest.raises(SieError) as err:
        render(simple_doc(sale("Kaffe \u2615 to go")))
    assert err.value.message == (
        "voucher 2026-01-15 'Kaffe \u2615 to go': character '\u2615' (U+2615) in text "
        "'Kaffe \u2615 to go' cannot be written in SIE (code page 437) and has no replacement"
    )
    assert err.value.hint == "change the text in the mapping or in the source."


def test_character_in_account_name_is_refused_naming_the_account() -> None:
    doc = simple_doc(sale())
    doc.accounts["3001"] = "Försäljning \U0001f600"
    with pytest.raises(SieError) as err:
        render(doc)
    assert err.value.message.startswith("account 3001: character '\U0001f600' (U+1F600)")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("P\u20ac1", "character '\u20ac' (U+20AC)"),  # ids are never transliterated
        ("P\t1", "character '\t' (U+0009)"),
        ("P1\\", "it ends with a backslash"),
    ],
)
def test_object_ids_are_written_verbatim_or_refused(obj: str, message: str) -> None:
    v = Voucher("A", D(2026, 1, 15), "x", (Line("1930", 1, make_dims({6: obj})), Line("3001", -1)))
    with pytest.raises(SieError) as err:
        render(simple_doc(v))
    assert err.value.message == (
        f"object 6 {obj!r}: object id {obj!r} cannot be written in SIE: {message}"
    )


def test_voucher_outside_fiscal_year_is_refused() -> None:
    doc = simple_doc(
        sale(day=D(2027, 1, 3)), fiscal_years=[FiscalYear(D(2026, 1, 1), D(2026, 12, 31))]
    )
    with pytest.raises(SieError) as err:
        render(doc)
    assert err.value.message == (
        "voucher 2027-01-03 'Försäljning' is dated outside the fiscal year (2026-01-01..2026-12-31)"
    )
    assert err.value.hint == (
        "split the input with --from/--to so each file covers one fiscal year, "
        "or fix company.fiscal_year_start in the mapping."
    )


def test_numbers_must_ascend_within_a_series() -> None:
    doc = simple_doc(sale(number=5), sale(number=4))
    with pytest.raises(SieError) as err:
        render(doc)
    assert err.value.message == (
        "voucher numbers must ascend within series 'A': "
        "voucher 2026-01-15 'Försäljning' (A 4) comes after number 5"
    )
    # other series, and unnumbered vouchers in between, are independent
    other = Voucher("B", D(2026, 1, 15), "x", (Line("1930", 1), Line("3001", -1)), number=1)
    render(simple_doc(sale(number=1), sale(), other, sale(number=2)))


# --- text handling -------------------------------------------------------------------------


def test_long_texts_are_cut_with_a_notice() -> None:
    text = "Stripe payout po_1NxYZ for January sales at Café Söder and Kiosk"
    assert len(text) == 64
    v = Voucher(
        "A",
        D(2026, 1, 31),
        text,
        (Line("1930", 5, text="Row text " + "x" * 45), Line("3001", -5)),
    )
    data, notices = render(simple_doc(v))
    lines = lines_of(data)
    assert f'#VER A "" 20260131 "{text[:50]}"' in lines
    assert '#TRANS 1930 {} 0.05 "" "Row text ' + "x" * 41 + '"' in lines
    assert [n.message for n in notices] == [
        "voucher 2026-01-31: text 'Stripe payout po_1Nx...' is 64 characters; cut to 50",
        "voucher 2026-01-31: text 'Row text xxxxxxxxxxx...' is 54 characters; cut to 50",
    ]


def test_no_limit_keeps_long_texts() -> None:
    text = "x" * 80
    data, notices = render(simple_doc(sale(text)), text_limit=None)
    assert f'#VER A "" 20260115 "{text}"' in lines_of(data)
    assert notices == []


def test_transliteration_table_and_notices_once_per_character() -> None:
    v = sale("\u201cK\u00f8benhavn\u201d \u2013 \u20ac5 \u2026 \u0160koda \u0141\u00f3d\u017a")
    data, notices = render(simple_doc(v, accounts={"1930": "Bank \u2013 SEB", "3001": "F"}))
    lines = lines_of(data)
    assert '#KONTO 1930 "Bank - SEB"' in lines
    assert '#VER A "" 20260115 "\\"Köbenhavn\\" - EUR5 ... Skoda Lódz"' in lines
    replaced = [n.message.split(";")[0] for n in notices]
    assert replaced == [
        "character '\u2013' (U+2013) is not in code page 437 (the SIE character set)",
        "character '\u201c' (U+201C) is not in code page 437 (the SIE character set)",
        "character '\u00f8' (U+00F8) is not in code page 437 (the SIE character set)",
        "character '\u201d' (U+201D) is not in code page 437 (the SIE character set)",
        "character '\u20ac' (U+20AC) is not in code page 437 (the SIE character set)",
        "character '\u2026' (U+2026) is not in code page 437 (the SIE character set)",
        "character '\u0160' (U+0160) is not in code page 437 (the SIE character set)",
        "character '\u0141' (U+0141) is not in code page 437 (the SIE character set)",
        "character '\u017a' (U+017A) is not in code page 437 (the SIE character set)",
    ]
    assert notices[-1].message.split("; ")[1].startswith("written as 'z'")  # NFKD fallback


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("a\tb\r\nc", "a b c"),  # control characters become one space
        ("  many   spaces  ", "many spaces"),
        ("x\x7fy", "x y"),
        ("1\u00a0234 kr", "1 234 kr"),  # NBSP -> space
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\dir\\file", "C:\\dir\\file"),  # backslash stays
        ("Straße", "Straße"),  # ß is in CP437
        ("e\u0301", "é"),  # combining accent composed (NFC), é is in CP437
    ],
)
def test_text_cleaning(raw: str, written: str) -> None:
    data, _ = render(simple_doc(sale(raw)))
    assert f'#VER A "" 20260115 "{written}"' in lines_of(data)


def test_trailing_backslash_is_dropped_with_notice() -> None:
    data, notices = render(simple_doc(sale("C:\\")))
    assert '#VER A "" 20260115 "C:"' in lines_of(data)
    assert notices[0].message == (
        "voucher 2026-01-15 'C:\\\\': text 'C:\\\\' ends with a backslash, which SIE would "
        "read as an escaped quote; written as 'C:'"
    )


def test_every_table_entry_encodes() -> None:
    for char, sub in cp437.TRANSLITERATION.items():
        assert not cp437.encodable(char), char
        sub.encode("cp437")
