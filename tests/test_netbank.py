"""Net-bank CSV/xlsx/HTML exports read through layout profiles: the built-in profiles, each
bank's sample, detection, keys, user profiles, errors with exact messages, robustness."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import shutil
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bokfor.domain import Caution, Notice, Row
from bokfor.errors import InputError
from bokfor.money import AmountError
from bokfor.sources import bank, limits, netbank, tables
from bokfor.sources.netbank import BUILTIN, SOURCE, ProfileError, ProfileModel, profile_from_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "bank" / "netbank"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "netbank"
TZ = ZoneInfo("Europe/Stockholm")
XLSX_HINT = tables._XLSX_HINT
REDOWNLOAD = (
    "download the export from the bank again and give bokfor that file unopened (a "
    "spreadsheet that re-saves it changes dates, numbers and encoding)."
)
ADD_PROFILE = (
    "describe the layout under sources.bank.profiles in the mapping: a name, "
    "header: [its header cells], columns: {date: …, amount: …, text: …}, "
    "decimal_mark: … (the built-in profiles in bokfor/sources/profiles/ are "
    "examples)."
)

SAMPLE_PROFILE = {
    "seb.csv": "seb",
    "swedbank.csv": "swedbank",
    "nordea.csv": "nordea",
    "nordea_business.csv": "nordea_business",
    "nordea_business_2025.csv": "nordea_business_2025",
    "danske.csv": "danske",
    "ica.csv": "ica",
    "lansforsakringar.csv": "lansforsakringar",
    "dnb.csv": "dnb",
    "sparebank1.csv": "sparebank1",
    "handelsbanken.xlsx": "handelsbanken",
    "skandia.xlsx": "skandia",
    "seb.xlsx": "seb_xlsx",
    "handelsbanken_kontotransactionlist.xls": "handelsbanken_xls",
    "nordea_no.csv": "nordea_no",
    "danske_dk.csv": "danske_dk",
    "nordea_old.csv": "nordea_old",
    "nordea_old.xlsx": "nordea_old_xlsx",
    "nordea_fi.csv": "nordea_fi",
    "nordea_en.csv": "nordea_en",
    "nordea_fi_txt.txt": "nordea_fi_txt",
    "nordea_fi_txt_sv.txt": "nordea_fi_txt_sv",
    "banknorwegian.xlsx": "banknorwegian",
    "banknorwegian_card.xlsx": "banknorwegian_card",
    "skandiabanken.csv": "skandiabanken",
    "revolut.csv": "revolut",
    "bec_dk.csv": "bec_dk",
}
# The January 2026 transactions every sample holds, oldest first: (date, öre).
JANUARY = [
    (dt.date(2026, 1, 2), -124900),
    (dt.date(2026, 1, 7), 804646),
    (dt.date(2026, 1, 9), 341250),
    (dt.date(2026, 1, 12), 1250000),
    (dt.date(2026, 1, 12), 625000),
    (dt.date(2026, 1, 12), -1843000),
    (dt.date(2026, 1, 14), 439262),
    (dt.date(2026, 1, 16), -35000),
    (dt.date(2026, 1, 19), -3900),
    (dt.date(2026, 1, 19), -3900),
    (dt.date(2026, 1, 23), -2850000),
    (dt.date(2026, 1, 30), -9500),
]
OLDEST_FIRST = {
    "dnb",
    "nordea_fi_txt",
    "nordea_fi_txt_sv",
    "banknorwegian",
    "banknorwegian_card",
    "revolut",
    "bec_dk",
}
CURRENCY = {
    "dnb": "NOK",
    "sparebank1": "NOK",
    "nordea_no": "NOK",
    "skandiabanken": "NOK",
    "danske_dk": "DKK",
    "bec_dk": "DKK",
    "nordea_fi": "EUR",
    "nordea_fi_txt": "EUR",
    "nordea_fi_txt_sv": "EUR",
    "banknorwegian": "EUR",
    "revolut": "EUR",
}
# Words each sample's texts hold, by the country of its bank (Sweden when not listed).
WORDS = {
    "NO": ("STRIPE", "ZETTLE", "SKAT", "LØN", "VIPPS"),
    "FI": ("STRIPE", "ZETTLE", "VERO", "PALKKA", "MOBILEPAY"),
}
COUNTRY = {
    "nordea_no": "NO",
    "danske_dk": "NO",
    "skandiabanken": "NO",
    "bec_dk": "NO",
    "nordea_fi": "FI",
    "nordea_fi_txt": "FI",
    "nordea_fi_txt_sv": "FI",
    "banknorwegian": "FI",
    "revolut": "FI",
}


def read_all(path: Path, source: netbank.NetbankSource = SOURCE) -> list[Row | Notice]:
    return list(source.read(path, TZ))


def rows_of(path: Path, source: netbank.NetbankSource = SOURCE) -> list[Row]:
    return [r for r in read_all(path, source) if isinstance(r, Row)]


def notices_of(path: Path) -> list[str]:
    return [str(n) for n in read_all(path) if isinstance(n, Notice)]


def cautions_of(path: Path) -> tuple[list[Row], list[str]]:
    """The rows, and the notices, each of which must be a caution (--strict stops on it)."""
    out = read_all(path)
    notices = [n for n in out if isinstance(n, Notice)]
    assert all(isinstance(n, Caution) for n in notices)
    return [r for r in out if isinstance(r, Row)], [str(n) for n in notices]


def error(path: Path, source: netbank.NetbankSource = SOURCE) -> str:
    with pytest.raises(InputError) as exc:
        read_all(path, source)
    return str(exc.value)


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def model(**changes: object) -> ProfileModel:
    base: dict[str, object] = {
        "title": "Sparbanken Test (CSV)",
        "header": ["Datum", "Text", "Belopp", "Saldo"],
        "delimiter": ";",
        "columns": {"date": "Datum", "amount": "Belopp", "text": "Text", "balance": "Saldo"},
        "decimal_mark": ",",
        "thousands": ["space"],
    }
    base.update(changes)
    return ProfileModel.model_validate(base)


# --- the built-in profiles --------------------------------------------------------------


def test_builtin_profiles_load_in_priority_order() -> None:
    assert [p.name for p in BUILTIN] == list(netbank.BUILTIN_ORDER)
    assert len(BUILTIN) == 27


def test_builtin_headers_are_distinct_per_container() -> None:
    """No header a layout accepts (its cells with or without its optional ones) is another
    layout's, so the priority order never decides between two built-ins."""
    for p in BUILTIN:
        if p.width is not None:
            continue
        for keys in (p.header_keys, p.header_keys | p.optional_keys):
            others = [
                q.name
                for q in BUILTIN
                if q is not p
                and q.file == p.file
                and q.width is None
                and q.header_fits(sorted(keys))
            ]
            assert not others, f"{p.name}'s header is also {others}'s"


def test_profile_model_is_strict_and_documented() -> None:
    with pytest.raises(ValidationError):
        model(separator=";")
    with pytest.raises(ValidationError):
        model(file="ods")
    schema = ProfileModel.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "description" in schema["properties"]["header"]


def test_profile_model_takes_every_scalar_as_text() -> None:
    # The mapping loader hands over every scalar as a string.
    profile = profile_from_model("test", model(preamble="2", footer="1"))
    assert (profile.preamble, profile.footer) == (2, 1)


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        (
            {"columns": {"date": "Datum", "amount": "Summa"}},
            "columns.amount",
            "'Summa' is not in the header (Datum, Text, Belopp, Saldo)",
        ),
        (
            {"columns": {"date": "Datum", "text": ["Text", "Info"], "amount": "Belopp"}},
            "columns.text.1",
            "'Info' is not in the header (Datum, Text, Belopp, Saldo)",
        ),
        (
            {"columns": {"date": "Datum", "text": "Text"}},
            "columns.amount",
            "the amount column is missing: give amount (signed) or money_in and money_out",
        ),
        (
            {"columns": {"date": "Datum", "money_in": "Belopp"}},
            "columns.money_out",
            "the amount column is missing: give amount (signed) or money_in and money_out",
        ),
        (
            {"date_format": "%d/%m"},
            "date_format",
            "'%d/%m' is not a date format with year, month and day",
        ),
        (
            {"decimal_mark": ",", "thousands": ["comma"]},
            "thousands",
            "',' cannot be both the decimal mark and a thousands separator",
        ),
        (
            {"header": ["Datum", "datum", "Belopp"]},
            "header",
            "the header names 'Datum', 'datum' more than once",
        ),
        (
            {"pending": {"column": "Status", "values": ["Reserverad"]}},
            "pending.column",
            "'Status' is not in the header",
        ),
        (
            {"account": {"preamble_label": "Konto"}},
            "account",
            "the account is read from the preamble, but preamble is 0",
        ),
        (
            {"preamble": 2, "account": {"preamble_regex": "(\\d+"}},
            "account.preamble_regex",
            "bad regular expression: missing ), unterminated subpattern at position 0",
        ),
        ({"encoding": "klingon"}, "encoding", "unknown encoding 'klingon'"),
        ({"delimiter": "ab"}, "delimiter", "'ab' is not a delimiter"),
        ({"currency": "kronor"}, "currency", "'kronor' is not a currency code"),
        (
            {"width": 4},
            "header",
            "give the header row's cells (header) or, for a file without "
            "one, its number of fields (width)",
        ),
        (
            {"header": None},
            "header",
            "give the header row's cells (header) or, for a file "
            "without one, its number of fields (width)",
        ),
        (
            {"header": None, "width": 3, "columns": {"date": "1", "amount": "4"}},
            "columns.amount",
            "'4' is not a field position (1 to 3)",
        ),
        (
            {"header": None, "width": 3, "columns": {"date": "Datum", "amount": "2"}},
            "columns.date",
            "'Datum' is not a field position (1 to 3)",
        ),
        ({"optional": ["Text"]}, "header", "the header names 'Text' more than once"),
        (
            {"void": {"column": "Text"}},
            "void",
            "give the values or the prefixes that mark such a row",
        ),
        (
            {"ragged": True, "file": "xlsx", "delimiter": None},
            "ragged",
            "ragged is only for file: csv",
        ),
        (
            {"columns": {"date": "Datum", "amount": "Belopp", "fee": "Avgift"}},
            "columns.fee",
            "'Avgift' is not in the header (Datum, Text, Belopp, Saldo)",
        ),
    ],
)
def test_profile_errors_name_the_key(changes: dict, key: str, message: str) -> None:
    with pytest.raises(ProfileError) as exc:
        profile_from_model("test", model(**changes))
    assert exc.value.key == key
    assert exc.value.message == message


def test_profile_name_must_be_an_identifier() -> None:
    with pytest.raises(ProfileError) as exc:
        profile_from_model("Min Bank", model())
    assert str(exc.value) == (
        "name: profile name 'Min Bank' must be lower-case letters, "
        "digits and _ Fix: e.g. sparbanken_syd."
    )


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_PROFILE))
def test_each_sample_is_detected_as_its_profile(name: str) -> None:
    path = SAMPLES / name
    assert SOURCE.detect(path)
    assert SOURCE.layout(path).name == SAMPLE_PROFILE[name]


def test_every_sample_has_a_test() -> None:
    assert {p.name for p in SAMPLES.iterdir()} == set(SAMPLE_PROFILE)
    assert {SAMPLE_PROFILE[n] for n in SAMPLE_PROFILE} == set(netbank.BUILTIN_ORDER)


def test_other_formats_are_not_detected() -> None:
    others = [
        p
        for p in (ROOT / "samples").rglob("*")
        if p.is_file() and SAMPLES not in p.parents and p.suffix != ".py"
    ]
    assert any(p.parent.name == "stripe" for p in others)
    for path in others:
        assert not SOURCE.detect(path), path


def test_detect_never_raises(tmp_path: Path) -> None:
    assert not SOURCE.detect(tmp_path / "missing.csv")
    assert not SOURCE.detect(tmp_path)
    assert not SOURCE.detect(write(tmp_path, "empty.csv", b""))
    assert not SOURCE.detect(write(tmp_path, "nul.csv", b"Datum;Text\x00;Belopp\n"))
    assert not SOURCE.detect(write(tmp_path, "fake.xlsx", b"PK\x03\x04 not a zip"))
    assert not SOURCE.detect(write(tmp_path, "page.html", "<html><table><tr><td>x"))


def test_detection_reads_the_content_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "export.txt"
    shutil.copy(SAMPLES / "ica.csv", renamed)
    assert SOURCE.layout(renamed).name == "ica"


# --- the samples, row by row -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_PROFILE))
def test_every_sample_holds_the_january_transactions(name: str) -> None:
    rows = rows_of(SAMPLES / name)
    profile = SAMPLE_PROFILE[name]
    got = [(r.date, r.amounts["amount"]) for r in rows]
    assert got == (JANUARY if profile in OLDEST_FIRST else JANUARY[::-1])
    assert all(r.source == bank.SECTION and r.fields["format"] == profile for r in rows)
    assert all(r.origin.file == str(SAMPLES / name) for r in rows)
    assert len({r.key for r in rows}) == len(rows) == 12
    assert {r.fields["currency"] for r in rows} == {CURRENCY.get(profile, "SEK")}
    assert sum(r.amounts["amount"] for r in rows) == -1410042
    texts = " ".join(str(r.fields["text"]) for r in rows).upper()
    words = WORDS.get(
        COUNTRY.get(profile, ""),
        (
            "STRIPE",
            "ZETTLE",
            "SKATT",
            "LÖN",
            "SWISH" if profile not in ("seb", "seb_xlsx") else "4670",
        ),
    )
    for word in words:
        assert word in texts, (name, word)
    assert not notices_of(SAMPLES / name) or profile.startswith("nordea") or profile == "revolut"


def test_seb_sample_rows() -> None:
    rows = rows_of(SAMPLES / "seb.csv")
    assert [r.origin.line for r in rows] == list(range(2, 14))
    first = rows[0]
    assert first.key == "bank:seb:d61cc0a3d49710b45e9be338#1"
    assert first.former == ("bank:seb:4c513c66d82845f9e4be199b#1",)  # its key in schema 3
    assert first.date == dt.date(2026, 1, 30)
    assert first.amounts == {"amount": -9500}
    assert first.fields == {
        "format": "seb",
        "account": None,
        "currency": "SEK",
        "value_date": dt.date(2026, 1, 30),
        "text": "AVGIFT FÖRETAGSPAKET",
        "reference": None,
        "counterparty": None,
        "counterparty_account": None,
        "bank_reference": None,
        "end_to_end_id": None,
        "transaction_code": None,
        "entry": None,
        "reversal": None,
    }
    assert [r.fields["text"] for r in rows] == [
        "AVGIFT FÖRETAGSPAKET",
        "LÖN JANUARI",
        "PRESSBYRÅN C/26-01-17",
        "PRESSBYRÅN C/26-01-17",
        "46701234567",
        "STRIPE PAYMENTS EUROPE",
        "SKATTEVERKET",
        "FIKA & BULLAR HB",
        "KUNDEN I NORR AB",
        "ZETTLE PAYOUT",
        "STRIPE PAYMENTS EUROPE",
        "KJELL & COMP/25-12-31",
    ]
    # The two coffees of one day are the same to the bank but for their running balance,
    # which is no part of a key (a profile without Saldo must give the same keys): the older
    # (the file lists newest first) is #1, the other #2. Schema 3 keyed them by the balance.
    assert rows[3].key.endswith("#1") and rows[2].key == rows[3].key[:-1] + "2"
    assert rows[2].former == ("bank:seb:bdb2ab09d646a329f39911b0#1",)
    assert rows[3].former == ("bank:seb:f546d03c40b7181b732c2c98#1",)


def test_seb_xlsx_gives_the_keys_of_the_seb_csv() -> None:
    """One SEB account downloaded as CSV one month and as xlsx the next: the overlap is the
    same rows (profile `bank: seb`), never booked twice."""
    xlsx = rows_of(SAMPLES / "seb.xlsx")
    assert [r.key for r in xlsx] == [r.key for r in rows_of(SAMPLES / "seb.csv")]
    assert xlsx[0].fields["format"] == "seb_xlsx"
    assert xlsx[0].fields["value_date"] == dt.date(2026, 1, 30)


def test_swedbank_sample_account_reference_and_value_date() -> None:
    rows = rows_of(SAMPLES / "swedbank.csv")
    assert [r.origin.line for r in rows] == list(range(3, 15))  # after the * line
    assert {r.fields["account"] for r in rows} == {"8105-9 934 567 890-1"}
    assert all(r.key.startswith("bank:810599345678901:") for r in rows)
    by_text = {r.fields["text"]: r for r in rows}
    payer = by_text["BG 5402-6380 Kunden i Norr AB"]
    assert payer.fields["reference"] == "4000123456788"
    assert payer.amounts["amount"] == 1250000
    assert by_text["BG 5402-6380 Fika & Bullar HB"].fields["reference"] == "75123000459"
    assert by_text["Skatteverket"].fields["reference"] == "165566778891"
    # Referens that is no OCR joins the text, once when it repeats Beskrivning.
    assert "STRIPE PAYMENTS EUROPE LTD / STRIPE" in by_text
    assert "Lön januari" in by_text
    card = rows[-1]
    assert (card.date, card.fields["value_date"]) == (dt.date(2026, 1, 2), dt.date(2026, 1, 2))


def test_nordea_sample_leaves_out_pending_rows_with_one_notice() -> None:
    out = read_all(SAMPLES / "nordea.csv")
    rows = [r for r in out if isinstance(r, Row)]
    assert [r.origin.line for r in rows] == list(range(4, 16))
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{SAMPLES / 'nordea.csv'}:2: 2 pending rows (Reserverat) left out: the "
        "bank has not booked them yet; export again later to book them"
    ]
    swish = rows[4]
    assert swish.fields["text"] == "Anna Svensson / Swish betalning ANNA SVENSSON"
    assert swish.fields["counterparty"] == "Anna Svensson"
    assert swish.fields["counterparty_account"] == "46701234567"  # Mottagare of money out
    payer = rows[8]
    assert payer.amounts["amount"] == 1250000
    assert payer.fields["counterparty_account"] == "8327-9 123 456 789-0"  # Avsändare
    assert rows[0].date == dt.date(2026, 1, 30)


@pytest.mark.parametrize("name", ["nordea_business.csv", "nordea_business_2025.csv"])
def test_nordea_business_samples_carry_ocr_from_meddelande(name: str) -> None:
    rows = rows_of(SAMPLES / name)
    refs = {r.fields["reference"]: r.amounts["amount"] for r in rows if r.fields["reference"]}
    assert refs == {"4000123456788": 1250000, "75123000459": 625000, "165566778891": -1843000}
    payer = next(r for r in rows if r.fields["reference"] == "4000123456788")
    assert payer.fields["text"] == "Kunden i Norr AB / BG KONTOINS"
    assert payer.fields["counterparty_account"] == "5402-6380"
    fee = rows[0]
    assert fee.fields["text"] == "PRIS ENL SPEC"
    stripe = next(r for r in rows if r.amounts["amount"] == 804646)
    assert stripe.fields["text"] == "STRIPE PAYMENTS EUROPE / INSÄTTNING / STRIPE PAYOUT"


def test_nordea_business_2025_trailing_delimiter_and_pending_row() -> None:
    out = read_all(SAMPLES / "nordea_business_2025.csv")
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{SAMPLES / 'nordea_business_2025.csv'}:2: 1 pending row (Reserverat) "
        "left out: the bank has not booked it yet; export again later to book it"
    ]
    # The same transactions as the 2022 layout: same digests under another prefix.
    old = [r.key.split(":", 2)[2] for r in rows_of(SAMPLES / "nordea_business.csv")]
    new = [r.key.split(":", 2)[2] for r in out if isinstance(r, Row)]
    assert new == old


def test_danske_sample_dot_thousands_latin1_crlf() -> None:
    rows = rows_of(SAMPLES / "danske.csv")
    assert rows[1].fields["text"] == "Lön januari"
    assert rows[1].amounts["amount"] == -2850000  # "-28.500,00"
    assert rows[-1].fields["text"] == "Kortköp KJELL & COMPANY"


def test_ica_sample_suffix_space_thousands_no_account() -> None:
    rows = rows_of(SAMPLES / "ica.csv")
    assert rows[1].amounts["amount"] == -2850000  # "-28 500,00 kr"
    assert {r.fields["account"] for r in rows} == {None}
    assert all(r.key.startswith("bank:ica:") for r in rows)
    assert [r.fields["transaction_code"] for r in rows[:3]] == [
        "Avgift",
        "Överföring",
        "Korttransaktion",
    ]


def test_lansforsakringar_sample_account_from_preamble_and_identical_rows() -> None:
    rows = rows_of(SAMPLES / "lansforsakringar.csv")
    assert [r.origin.line for r in rows] == list(range(5, 17))
    assert {r.fields["account"] for r in rows} == {"9025 12 34567"}
    # No running balance: the two coffees are identical, counted oldest first (from the
    # bottom of this newest-first file).
    coffee_new, coffee_old = rows[2], rows[3]
    assert coffee_new.key.rsplit("#", 1)[0] == coffee_old.key.rsplit("#", 1)[0]
    assert (coffee_old.key[-2:], coffee_new.key[-2:]) == ("#1", "#2")
    assert coffee_new.fields["transaction_code"] == "Kortköp"
    assert rows[8].fields["text"] == "BG 5402-6380 4000123456788"  # no reference column


def test_dnb_sample_two_positive_columns_oldest_first() -> None:
    rows = rows_of(SAMPLES / "dnb.csv")
    assert rows[0].amounts["amount"] == -124900  # "Uttak fra konto" 1 249,00
    assert rows[1].amounts["amount"] == 804646  # "Innskudd på konto" 8 046,46
    assert rows[0].fields["value_date"] == dt.date(2026, 1, 2)
    # Oldest first: the earlier coffee (line 10) is #1.
    assert (rows[8].key[-2:], rows[9].key[-2:]) == ("#1", "#2")


def test_sparebank1_sample_inn_ut_and_accounts() -> None:
    rows = rows_of(SAMPLES / "sparebank1.csv")
    assert rows[1].amounts["amount"] == -2850000  # Ut "-28500,00": its absolute value
    assert rows[1].fields["counterparty_account"] == "1206.33.44556"  # Til konto
    payer = rows[8]
    assert payer.amounts["amount"] == 1250000
    assert payer.fields["counterparty_account"] == "1503.22.10045"  # Fra konto
    assert (rows[3].key[-2:], rows[2].key[-2:]) == ("#1", "#2")


def test_a_negative_value_in_the_money_in_column_keeps_its_sign_with_a_caution(
    tmp_path: Path,
) -> None:
    """A returned deposit written as Inn "-100,00" took money out: booked −100,00, never
    +100,00, and said (its sign contradicts its column). Ut counts as out whatever its sign."""
    text = (SAMPLES / "sparebank1.csv").read_text(encoding="utf-8-sig")
    path = write(
        tmp_path,
        "sb1.csv",
        text.replace(
            '"09.01.2026";"ZETTLE UTBETALING";"09.01.2026";"3412,50";',
            '"09.01.2026";"ZETTLE UTBETALING";"09.01.2026";"-100,00";',
        ).replace('"-95,00"', '"95,00"'),
    )
    rows, notices = cautions_of(path)
    amounts = {r.fields["text"]: r.amounts["amount"] for r in rows}
    assert (amounts["ZETTLE UTBETALING"], amounts["Avgift bedriftskonto"]) == (-10000, -9500)
    assert notices == [
        f"{path}:11: 1 row has a negative amount in 'Inn', the money-in column (line 11: "
        "-100,00): booked as money out, as the bank wrote it; check it against the bank's "
        "statement"
    ]


def test_handelsbanken_xlsx_sample_declared_a1_and_account() -> None:
    with zipfile.ZipFile(SAMPLES / "handelsbanken.xlsx") as archive:
        assert b'<dimension ref="A1:A1"/>' in archive.read("xl/worksheets/sheet1.xml")
    rows = rows_of(SAMPLES / "handelsbanken.xlsx")
    assert [r.origin.line for r in rows] == list(range(10, 22))
    assert {r.fields["account"] for r in rows} == {"612 345 678"}
    assert rows[0].key.startswith("bank:612345678:")
    assert rows[5].amounts["amount"] == 439262  # a float cell 4392.62, read exactly


def test_skandia_xlsx_sample_nbsp_text_amounts_and_label() -> None:
    rows = rows_of(SAMPLES / "skandia.xlsx")
    assert [r.origin.line for r in rows] == list(range(6, 18))
    assert {r.fields["account"] for r in rows} == {"9150-123.456-7"}
    assert rows[1].amounts["amount"] == -2850000  # "-28\u00a0500,00"
    assert rows[0].date == dt.date(2026, 1, 30)  # a date cell


def test_handelsbanken_html_xls_sample() -> None:
    rows = rows_of(SAMPLES / "handelsbanken_kontotransactionlist.xls")
    assert {r.fields["account"] for r in rows} == {"612 345 678"}
    assert rows[1].fields["text"] == "LÖN JANUARI"  # ISO-8859-1
    assert rows[1].amounts["amount"] == -2850000  # "-28&nbsp;500,00"
    assert rows[0].origin.line == 12  # the line of the <tr>
    # The same account as the xlsx: the same keys for the same transactions.
    assert [r.key for r in rows] == [r.key for r in rows_of(SAMPLES / "handelsbanken.xlsx")]


# --- keys ----------------------------------------------------------------------------------


def test_keys_are_stable_across_reads() -> None:
    for name in SAMPLE_PROFILE:
        assert [r.key for r in rows_of(SAMPLES / name)] == [r.key for r in rows_of(SAMPLES / name)]


def test_a_later_identical_transaction_gets_a_new_key_and_old_keys_stay(tmp_path: Path) -> None:
    lines = (SAMPLES / "lansforsakringar.csv").read_text(encoding="utf-8").splitlines()
    # A re-download on 1 February: a third identical coffee on top (newest first).
    coffee = lines[6]
    assert "PRESSBYRÅN" in coffee
    redownload = (
        lines[:4]
        + [
            lines[4]
            .replace("2026-01-30", "2026-02-01")
            .replace("Avgift Företagskonto", "Kortavgift"),
            coffee,
        ]
        + lines[4:]
    )
    path = write(tmp_path, "lf.csv", "\n".join(redownload) + "\n")
    old = [r.key for r in rows_of(SAMPLES / "lansforsakringar.csv")]
    new = [r.key for r in rows_of(path)]
    assert new[2:] == old
    assert new[1].endswith("#3") and new[1].rsplit("#", 1)[0] == old[2].rsplit("#", 1)[0]


def test_swedbank_radnummer_is_not_part_of_the_key(tmp_path: Path) -> None:
    data = (SAMPLES / "swedbank.csv").read_bytes().decode("cp1252").splitlines()
    renumbered = data[:2] + [
        str(100 + i) + line[line.index(",") :] for i, line in enumerate(data[2:])
    ]
    path = write(tmp_path, "sw.csv", "\r\n".join(renumbered).encode("cp1252"))
    assert [r.key for r in rows_of(path)] == [r.key for r in rows_of(SAMPLES / "swedbank.csv")]


# --- amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "text", "ore"),
    [
        ("seb", "-1000.000", -100000),
        ("seb", "2814.160", 281416),
        ("seb", "5", 500),
        ("danske", "-2.500,00", -250000),
        ("danske", "1.234", 123400),
        ("danske", "0,5", 50),
        ("ica", "-1 000,00 kr", -100000),
        ("ica", "12\u00a0500,00 kr", 1250000),
        ("skandia", "-1\u202f249,00", -124900),
        ("nordea", "-419,65", -41965),
    ],
)
def test_amounts_in_each_layout(profile: str, text: str, ore: int) -> None:
    assert netbank.parse_money(text, SOURCE.profile(profile)) == ore


@pytest.mark.parametrize(
    ("profile", "text", "message"),
    [
        ("seb", "-1000.001", "'-1000.001' has more than 2 decimals; öre cannot hold it exactly"),
        (
            "seb",
            "1,234.50",
            "'1,234.50' holds ',', which this layout uses neither as decimal "
            "mark ('.') nor as thousands separator",
        ),
        (
            "nordea",
            "1 234,50",
            "'1 234,50' holds a space, which this layout uses neither as "
            "decimal mark (',') nor as thousands separator",
        ),
        (
            "nordea",
            "1.234",
            "'1.234' holds '.', which this layout uses neither as decimal mark "
            "(',') nor as thousands separator",
        ),
        (
            "danske",
            "1,234.5",
            "'1,234.5' is ambiguous: a thousands separator follows the decimal mark ','",
        ),
        ("danske", "12.34,00", "'12.34,00' has misplaced thousands separators"),
        # Quoted as the file has it, not with the thousands separators bokfor normalised.
        ("handelsbanken", "(1 234,50)", "'(1 234,50)' is not a number"),
        (
            "handelsbanken",
            "1 234,505",
            "'1 234,505' has more than 2 decimals; öre cannot hold it exactly",
        ),
        ("ica", "kr", "empty amount"),
    ],
)
def test_amounts_the_layout_makes_wrong_or_ambiguous(profile: str, text: str, message: str) -> None:
    with pytest.raises(netbank.AmountError) as exc:
        netbank.parse_money(text, SOURCE.profile(profile))
    assert str(exc.value) == message


def test_xlsx_numbers_become_exact_ore() -> None:
    assert netbank._decimal_ore(Decimal(repr(4392.62))) == 439262
    assert netbank._decimal_ore(Decimal("-1000.000")) == -100000
    assert netbank._decimal_ore(12) == 1200
    with pytest.raises(netbank.AmountError):
        netbank._decimal_ore(Decimal("0.125"))


# --- errors with exact messages ------------------------------------------------------------


def test_unknown_header_names_what_it_found_and_the_closest_profile() -> None:
    path = FIXTURES / "unknown_bank.csv"
    assert not SOURCE.detect(path)
    assert error(path) == (
        f"{path}:1: the header matches no bank layout: found Datum, Rubrik, Belopp, Saldo, "
        "Kategori; the closest is nordea_old (Nordea Internetbanken privat, old (CSV)): "
        "Datum, Transaktion, Kategori, Belopp, Saldo Fix: if this is another bank's export, "
        f"{ADD_PROFILE}"
    )


def test_missing_column_names_the_layout_and_the_column() -> None:
    path = FIXTURES / "seb_missing_saldo.csv"
    assert error(path) == (
        f"{path}:1: the header looks like SEB kontohändelser (CSV) (seb) but lacks the "
        "column 'Saldo' Fix: export again with all columns (columns removed in a "
        f"spreadsheet cannot be read), or {ADD_PROFILE}"
    )


def test_no_table_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "hej\n")
    assert error(path) == (
        f"{path}:1: the header matches no bank layout: found hej Fix: if "
        f"this is a bank's export, {ADD_PROFILE}"
    )
    empty = write(tmp_path, "empty.csv", b"")
    assert error(empty) == f"{empty}: the file is empty Fix: {REDOWNLOAD}"
    assert error(tmp_path / "gone.csv") == f"{tmp_path / 'gone.csv'}: no such file"


def test_mojibake_is_detected_and_refused() -> None:
    path = FIXTURES / "seb_mojibake.csv"
    assert SOURCE.detect(path)  # recognised, so the user sees why it cannot be read
    assert error(path) == (
        f"{path}:1: the text is garbled ('Ã¶' where a letter such as ö should be): the file "
        "was converted between encodings before it got here Fix: download the export again "
        "from the bank and give bokfor that file unopened."
    )


def test_wrong_encoding_for_a_profile_with_a_codec(tmp_path: Path) -> None:
    user = profile_from_model("strict_utf8", model(encoding="utf-8"))
    path = write(
        tmp_path,
        "x.csv",
        "Datum;Text;Belopp;Saldo\n2026-01-30;Avgift;-95,00;10,00\n".encode("utf-8")
        + b"2026-01-31;Kortk\xf6p;-1,00;9,00\n",
    )
    assert error(path, netbank.NetbankSource([user])) == (
        f"{path}:3: not utf-8 text (byte 0xf6) Fix: {REDOWNLOAD}"
    )


def test_decimal_mark_ambiguity_names_line_and_column() -> None:
    path = FIXTURES / "danske_ambiguous.csv"
    assert error(path) == (
        f"{path}:2: column 'Belopp': not an amount in the danske layout: '-1,234.50' is "
        "ambiguous: a thousands separator follows the decimal mark ',' Fix: Danske Bank "
        f"(CSV) writes amounts like -1.234,50; {REDOWNLOAD}"
    )


def test_more_decimals_than_ore() -> None:
    path = FIXTURES / "seb_three_decimals.csv"
    assert error(path) == (
        f"{path}:2: column 'Belopp': not an amount in the seb layout: '-95.001' has more than "
        f"2 decimals; öre cannot hold it exactly Fix: SEB kontohändelser (CSV) writes amounts "
        f"like -1234.50; {REDOWNLOAD}"
    )


def test_bad_date_names_the_profiles_format() -> None:
    path = FIXTURES / "seb_bad_date.csv"
    assert error(path) == (
        f"{path}:3: column 'Bokföringsdatum': not a date: '30/01/2026'; the seb layout writes "
        f"dates as YYYY-MM-DD Fix: {REDOWNLOAD}"
    )


def test_wrong_number_of_fields() -> None:
    path = FIXTURES / "seb_extra_field.csv"
    assert error(path) == (
        f"{path}:3: the row has 7 fields but the header (line 1) has 6 Fix: a value "
        f"containing the delimiter ';' lost its quotes, or the row was cut; {REDOWNLOAD}"
    )


def test_in_out_row_with_both_or_neither(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dnb.csv",
        "Dato;Forklaring;Rentedato;Uttak fra konto;Innskudd på "
        "konto\n02.01.2026;Gebyr;02.01.2026;95,00;10,00\n",
    )
    assert error(path) == (
        f"{path}:2: column 'Innskudd på konto': the row has both an amount in 'Innskudd på "
        "konto' and in 'Uttak fra konto' Fix: each row moves money one way: exactly one of "
        f"the two is filled; {REDOWNLOAD}"
    )


def test_running_balance_break_is_a_notice(tmp_path: Path) -> None:
    text = (SAMPLES / "seb.csv").read_bytes().decode("utf-8-sig")
    broken = text.replace("LÖN JANUARI;-28500.000", "LÖN JANUARI;-28400.000")
    path = write(tmp_path, "seb.csv", broken)
    assert notices_of(path) == [
        f"{path}:3: running balance does not follow: 38\u00a0308,75 where the row before and "
        "this row's amount give 38\u00a0408,75"
    ]


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    message = error(path)
    assert message.startswith(
        f"{path}: the workbook member 'xl/worksheets/sheet1.xml' is compressed "
    )
    assert message.endswith(":1, far beyond a real spreadsheet (a zip bomb?) Fix: " + XLSX_HINT)
    assert not SOURCE.detect(path)


def test_workbook_too_large_when_inflated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_UNCOMPRESSED", 1024)
    path = SAMPLES / "seb.xlsx"
    size = sum(i.file_size for i in zipfile.ZipFile(path).infolist()) // (1024 * 1024)
    assert error(path) == (
        f"{path}: the workbook inflates to {size} MiB, more than the 0 MiB a bank export can "
        "need (a zip bomb?) Fix: " + XLSX_HINT
    )


def test_too_many_rows(tmp_path: Path) -> None:
    rows = tables.xlsx_rows(SAMPLES / "seb.xlsx", max_rows=5)
    with pytest.raises(InputError) as exc:
        list(rows)
    assert str(exc.value) == (
        f"{SAMPLES / 'seb.xlsx'}:6: the sheet has more than 5 rows "
        "Fix: export a shorter period from the bank."
    )


def test_a_missing_sheet_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        list(tables.xlsx_rows(SAMPLES / "skandia.xlsx", "Blad1"))
    assert str(exc.value) == (
        f"{SAMPLES / 'skandia.xlsx'}: the workbook has no sheet "
        "'Blad1' (it has 'Kontoutdrag') Fix: " + XLSX_HINT
    )


# --- user profiles -----------------------------------------------------------------------


def test_a_user_profile_reads_a_new_bank_with_footer_and_preamble_regex(tmp_path: Path) -> None:
    user = profile_from_model(
        "sparbanken_test",
        model(
            preamble=2,
            footer=1,
            account={"preamble_regex": r"Konto (\d{4}-\d+)"},
            date_format=["%Y-%m-%d", "%d.%m.%Y"],
        ),
    )
    path = write(
        tmp_path,
        "export.csv",
        (
            "Sparbanken Test, Konto 8422-1234567\n\n"
            "Datum;Text;Belopp;Saldo\n"
            "2026-01-30;Avgift;-95,00;38 213,75\n"
            "23.01.2026;Lön januari;-28 500,00;38 308,75\n"
            "Summa;;-28 595,00;\n"
        ),
    )
    source = SOURCE.with_profiles([user])
    assert not SOURCE.detect(path) and source.detect(path)
    rows = rows_of(path, source)
    assert [(r.date, r.amounts["amount"], r.fields["account"], r.origin.line) for r in rows] == [
        (dt.date(2026, 1, 30), -9500, "8422-1234567", 4),
        (dt.date(2026, 1, 23), -2850000, "8422-1234567", 5),
    ]
    assert rows[0].fields["format"] == "sparbanken_test"
    assert rows[0].key.startswith("bank:84221234567:")


def test_a_footer_that_holds_a_transaction_is_refused_not_dropped(tmp_path: Path) -> None:
    """A `footer: 1` profile on a file without its footer would drop the last transaction."""
    user = profile_from_model("sparbanken_test", model(preamble=2, footer=1))
    path = write(
        tmp_path,
        "export.csv",
        (
            "Datum;Text;Belopp;Saldo\n"
            "2026-01-30;Avgift;-95,00;38 213,75\n"
            "2026-01-23;Lön januari;-28 500,00;38 308,75\n"
        ),
    )
    assert error(path, SOURCE.with_profiles([user])) == (
        f"{path}:3: the row has a date (2026-01-23) where the sparbanken_test layout expects "
        "its 1-row footer: it would be dropped Fix: check the profile's `footer:` against the "
        "file (a transaction is never dropped), or export the file again."
    )


def test_a_swish_number_in_the_reference_column_is_no_ocr() -> None:
    """46701234505 passes the Luhn check; as an OCR it would book a Swish payment to an
    invoice. Phone and Swish-företag numbers are never taken for OCR references."""
    assert netbank._reference("46701234505") == ""
    assert netbank._reference("1234567897") == ""  # Swish-företag 123xxxxxxx
    assert netbank._reference("4000123456788") == "4000123456788"


def test_a_user_profile_replaces_a_builtin_of_the_same_name(tmp_path: Path) -> None:
    user = profile_from_model(
        "ica",
        model(
            header=["Datum", "Text", "Typ", "Budgetgrupp", "Belopp", "Saldo"],
            currency="EUR",
            suffix=" kr",
        ),
    )
    source = SOURCE.with_profiles([user])
    assert [p.name for p in source.profiles].count("ica") == 1
    assert {r.fields["currency"] for r in rows_of(SAMPLES / "ica.csv", source)} == {"EUR"}


def test_delimiter_found_by_the_header_when_the_profile_has_none(tmp_path: Path) -> None:
    user = profile_from_model("tabbed", model(delimiter=None))
    path = write(
        tmp_path, "t.tsv", "Datum\tText\tBelopp\tSaldo\n2026-01-30\tSwish, Kalle\t-95,00\t10,00\n"
    )
    rows = rows_of(path, netbank.NetbankSource([user]))
    assert [r.fields["text"] for r in rows] == ["Swish, Kalle"]


def test_excel_serial_dates_and_text_dates_in_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Bokföringsdatum", "Valutadatum", "Verifikationsnummer", "Text", "Belopp", "Saldo"])
    ws.append([46052, "2026-01-30", "1", "AVGIFT", -95, 100.5])  # 46052 = 2026-01-30
    ws.append([None, None, None, None, None, None])
    path = tmp_path / "serial.xlsx"
    wb.save(path)
    rows = rows_of(path)
    assert [(r.date, r.fields["value_date"], r.amounts["amount"]) for r in rows] == [
        (dt.date(2026, 1, 30), dt.date(2026, 1, 30), -9500)
    ]


# --- robustness ----------------------------------------------------------------------------

_SEED_FILES = [
    SAMPLES / n
    for n in (
        "seb.csv",
        "swedbank.csv",
        "nordea.csv",
        "ica.csv",
        "lansforsakringar.csv",
        "sparebank1.csv",
        "handelsbanken_kontotransactionlist.xls",
    )
]
_SEEDS = [p.read_bytes() for p in _SEED_FILES]


def _rows_or_input_error(path: Path) -> None:
    try:
        for item in SOURCE.read(path, TZ):
            assert isinstance(item, (Row, Notice))
    except InputError as exc:
        assert exc.file == str(path)
    SOURCE.detect(path)  # must not raise


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from(range(len(_SEEDS))),
    at=st.integers(0, 10_000),
    junk=st.binary(max_size=12),
    cut=st.booleans(),
)
def test_mutated_samples_give_rows_or_input_error(
    tmp_path: Path, seed: int, at: int, junk: bytes, cut: bool
) -> None:
    data = _SEEDS[seed]
    at %= len(data)
    data = data[:at] + junk + (b"" if cut else data[at + len(junk) :])
    path = tmp_path / "mutated.csv"
    path.write_bytes(data)
    _rows_or_input_error(path)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_rows_or_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.csv"
    path.write_bytes(b"Datum;Text;Typ;Budgetgrupp;Belopp;Saldo\n" + data)
    _rows_or_input_error(path)
    path.write_bytes(data)
    _rows_or_input_error(path)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(at=st.integers(0, 100_000), junk=st.binary(min_size=1, max_size=8))
def test_damaged_xlsx_gives_rows_or_input_error(tmp_path: Path, at: int, junk: bytes) -> None:
    data = (SAMPLES / "skandia.xlsx").read_bytes()
    at %= len(data)
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(data[:at] + junk + data[at + len(junk) :])
    _rows_or_input_error(path)


def test_a_workbook_without_worksheets_is_an_input_error(tmp_path: Path) -> None:
    """A damaged xlsx whose workbook lists no sheet (found by the property test above)."""
    path = tmp_path / "nosheet.xlsx"
    with zipfile.ZipFile(SAMPLES / "skandia.xlsx") as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                start, end = data.index(b"<sheets>"), data.index(b"</sheets>") + 9
                data = data[:start] + b"<sheets/>" + data[end:]
            zout.writestr(info, data)
    with pytest.raises(InputError) as info:
        read_all(path)
    assert str(info.value) == (
        f"{path}: the workbook has no worksheet Fix: download the "
        "export again (from the bank, Zettle…) and give bokfor that "
        "file unopened."
    )


def test_bench_generator_writes_the_seb_layout(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_seb", ROOT / "bench" / "gen_seb.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path / "big.csv"
    gen.write_seb(path, 500)
    out = read_all(path)
    assert sum(isinstance(r, Row) for r in out) == 500
    assert not [n for n in out if isinstance(n, Notice)]  # the balance adds up
    assert SOURCE.layout(path).name == "seb"
    assert list(itertools.islice((r.key for r in out), 1)) == list(
        itertools.islice((r.key for r in read_all(path)), 1)
    )


def test_a_booked_row_without_saldo_is_read_and_not_checked() -> None:
    path = FIXTURES / "nordea_gap.csv"
    out = read_all(path)
    assert [(r.date, r.amounts["amount"]) for r in out if isinstance(r, Row)] == [
        (dt.date(2026, 1, 30), -9500),
        (dt.date(2026, 1, 23), -2850000),
    ]
    assert not [n for n in out if isinstance(n, Notice)]


# --- exports from the wild (issue 20) ------------------------------------------------------


def test_old_nordea_csv_pending_prefix_dot_thousands_and_a_stray_cr() -> None:
    path = SAMPLES / "nordea_old.csv"
    out = read_all(path)
    rows = [r for r in out if isinstance(r, Row)]
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{path}:2: 2 pending rows (Reservation) left out: the bank has not booked them yet; "
        "export again later to book them"
    ]
    assert [r.origin.line for r in rows] == list(range(4, 16))
    assert (rows[1].amounts["amount"], rows[1].fields["text"]) == (-2850000, "Lön januari")
    assert rows[0].fields["text"] == "Månadsavgift"  # Kategori ("Bank") is the user's own


def test_old_nordea_xls_saved_as_xlsx_reads_with_the_csvs_rules() -> None:
    """bokfor refuses the binary .xls and says to save it as .xlsx: that file is read."""
    out = read_all(SAMPLES / "nordea_old.xlsx")
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{SAMPLES / 'nordea_old.xlsx'}:2: 2 pending rows (Reservation) left out: the bank has "
        "not booked them yet; export again later to book them"
    ]
    rows = [r for r in out if isinstance(r, Row)]
    assert (rows[1].amounts["amount"], rows[1].fields["text"]) == (-2850000, "Lön januari")
    assert rows[0].key.startswith("bank:nordea:")


def test_old_nordea_keys_do_not_depend_on_the_users_category(tmp_path: Path) -> None:
    data = (SAMPLES / "nordea_old.csv").read_bytes()
    path = write(tmp_path, "export.csv", data.replace(b",Bank,", b",Avgifter,"))
    assert [r.key for r in rows_of(path)] == [r.key for r in rows_of(SAMPLES / "nordea_old.csv")]


def test_nordea_finland_layouts_of_2020_and_2025_give_the_same_keys() -> None:
    """Columns Nordea added (Viesti, Viitenumero) are optional header cells; the text the
    key takes is the same in both, so a download in the new layout books nothing twice."""
    old, new = rows_of(SAMPLES / "nordea_fi.csv"), rows_of(FIXTURES / "nordea_fi_2025.csv")
    assert SOURCE.layout(FIXTURES / "nordea_fi_2025.csv").name == "nordea_fi"
    assert [r.key for r in new] == [r.key for r in old]
    assert all(r.key.startswith("bank:nordea:") for r in new)
    customer = next(r for r in new if r.fields["reference"])
    assert (customer.fields["reference"], customer.amounts["amount"]) == (
        "RF18539007547034",
        1250000,
    )
    assert {r.fields["currency"] for r in new} == {"EUR"}


def test_nordea_finland_txt_account_from_preamble_and_short_rows() -> None:
    for name in ("nordea_fi_txt.txt", "nordea_fi_txt_sv.txt"):
        rows = rows_of(SAMPLES / name)
        assert {r.fields["account"] for r in rows} == {"FI38 1470 3500 9194 88"}
        assert rows[0].key.startswith("bank:FI3814703500919488:")
        assert [r.origin.line for r in rows] == list(range(5, 28, 2))  # a blank line between
        stripe = rows[1]
        assert (stripe.fields["counterparty_account"], stripe.fields["transaction_code"]) == (
            "FI21 1234 5600 0007 85",
            "Insättning" if "_sv" in name else "Pano",
        )
        assert rows[0].fields["value_date"] == dt.date(2026, 1, 2)


def test_skandiabanken_balances_above_and_under_the_table_are_no_transactions() -> None:
    path = SAMPLES / "skandiabanken.csv"
    assert SOURCE.layout(path).name == "skandiabanken"
    out = read_all(path)
    rows = [r for r in out if isinstance(r, Row)]
    assert not [n for n in out if isinstance(n, Notice)]
    assert [r.origin.line for r in rows] == list(range(4, 16))
    assert (rows[0].amounts["amount"], rows[0].fields["transaction_code"]) == (-9500, "Giro")
    assert rows[-1].fields["value_date"] == dt.date(2025, 12, 31)


def test_a_row_without_a_date_amid_the_transactions_is_refused() -> None:
    path = FIXTURES / "skandiabanken_undated_row.csv"
    assert error(path) == (
        f"{path}:3: column 'BOKFØRINGSDATO': an empty date; the skandiabanken layout writes "
        f"dates as YYYY-MM-DD Fix: {REDOWNLOAD}"
    )


def test_rows_without_a_date_but_with_an_amount_under_the_table_are_never_dropped_silently(
    tmp_path: Path,
) -> None:
    """A card purchase the bank has not dated yet (or a total) under the transactions: left
    out, as it cannot be dated, but with a caution naming its lines and amounts (--strict
    stops on it); balances in the balance column alone are no amount."""
    text = (SAMPLES / "seb.csv").read_text(encoding="utf-8")
    path = write(
        tmp_path,
        "seb.csv",
        text + ";;5484400000;KORTKÖP PENDING;-500.000;\n"
        ";;;Utgående saldo;;38213.750\n;;5484400001;KORTKÖP PENDING;-20.000;\n",
    )
    rows, notices = cautions_of(path)
    assert len(rows) == 12
    assert notices == [
        f"{path}:14: 2 rows without a date left out although they hold an amount (line 14: "
        "-500.000; line 16: -20.000): if they are transactions the bank has not booked yet, "
        "export again later to book them"
    ]
    only = write(
        tmp_path, "only.csv", text.splitlines()[0] + "\n;;5484400000;KORTKÖP PENDING;-500.000;\n"
    )
    assert [str(n) for n in read_all(only)] == [
        f"{only}:1: no transactions in this file: only rows without a date; nothing to book "
        "from it",
        f"{only}:2: 1 row without a date left out although it holds an amount (line 2: "
        "-500.000): if it is a transaction the bank has not booked yet, export again later "
        "to book it",
    ]


def test_bank_norwegian_short_and_card_layouts() -> None:
    short = rows_of(SAMPLES / "banknorwegian.xlsx")
    assert (short[0].date, short[0].fields["value_date"], short[0].fields["transaction_code"]) == (
        dt.date(2026, 1, 2),
        dt.date(2026, 1, 2),
        "Osto",
    )
    card = rows_of(SAMPLES / "banknorwegian_card.xlsx")
    # The purchase in USD: its amount is the card's SEK, its currency the account's.
    press = [r for r in card if r.fields["text"] == "PRESSBYRAN NEWARK"]
    assert [(r.amounts["amount"], r.fields["currency"]) for r in press] == [(-3900, "SEK")] * 2
    assert {r.key.split(":")[1] for r in short + card} == {"banknorwegian"}


def test_a_file_that_names_no_account_in_several_currencies_is_refused(tmp_path: Path) -> None:
    """Revolut's statement of a EUR and a SEK account in one file: with `revolut: 1931` both
    would be booked to one ledger account, EUR at its rate and SEK at 1. Refused, naming the
    currencies and the first row of the second."""
    text = (SAMPLES / "revolut.csv").read_text(encoding="utf-8")
    path = write(
        tmp_path,
        "revolut.csv",
        text.replace(
            "Zettle Payout,3412.50,0.00,EUR,COMPLETED,62524.13",
            "Zettle Payout,3412.50,0.00,SEK,COMPLETED,3412.50",
        ),
    )
    assert error(path) == (
        f"{path}:5: the file names no bank account and holds rows in 2 currencies (EUR, SEK): "
        "they would be booked to one ledger account Fix: export each currency's account "
        "separately and convert each file with --bank-account NAME (its own name, under "
        "sources.bank.bank_accounts in the mapping)."
    )


def test_the_running_balance_is_checked_per_account_and_currency(tmp_path: Path) -> None:
    """Swedbank exports several accounts in one file, each with its own balance: the rows of
    a EUR account amid the SEK account's break neither's running balance."""
    lines = (SAMPLES / "swedbank.csv").read_text(encoding="cp1252").splitlines(keepends=True)
    euro = (
        '{n},"8105-9","934 567 891-2","Valutakonto","EUR",2026-01-{d},2026-01-{d},'
        '2026-01-{d},"Ränta","Ränta",{a},{b}\n'
    )
    path = write(
        tmp_path,
        "swedbank.csv",
        "".join(
            lines[:3]
            + [euro.format(n=20, d=23, a="10.00", b="1010.00")]
            + lines[3:6]
            + [euro.format(n=21, d=16, a="-50.00", b="1000.00")]
            + lines[6:]
        ).encode("cp1252"),
    )
    out = read_all(path)
    assert len([r for r in out if isinstance(r, Row)]) == 14
    assert [str(n) for n in out if isinstance(n, Notice)] == []
    broken = write(tmp_path, "broken.csv", path.read_bytes().replace(b",38308.75", b",38309.75"))
    assert [str(n) for n in read_all(broken) if isinstance(n, Notice)] == [
        f"{broken}:5: running balance does not follow: 38\u00a0309,75 where the row before and "
        "this row's amount give 38\u00a0308,75",
        f"{broken}:3: running balance does not follow: 38\u00a0213,75 where the row before and "
        "this row's amount give 38\u00a0214,75",
    ]


def test_revolut_fee_pending_and_rows_never_carried_out() -> None:
    path = SAMPLES / "revolut.csv"
    out = read_all(path)
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{path}:15: 1 pending row (PENDING) left out: the bank has not booked it yet; export "
        "again later to book it",
        f"{path}:2: 1 row (DECLINED) left out: the bank did not carry it out",
    ]
    rows = [r for r in out if isinstance(r, Row)]
    payment = next(r for r in rows if r.fields["text"] == "Mobilepay Anna Virtanen")
    assert payment.amounts["amount"] == -35000  # Amount -348.00 and Fee 2.00
    assert (payment.date, payment.fields["transaction_code"]) == (dt.date(2026, 1, 16), "TRANSFER")


def test_a_danish_export_without_a_header_row_is_found_by_its_rows(tmp_path: Path) -> None:
    path = SAMPLES / "bec_dk.csv"
    rows = rows_of(path)
    assert [r.origin.line for r in rows] == list(range(1, 13))
    assert (rows[0].fields["text"], rows[0].fields["format"]) == ("Køb CLAS OHLSON", "bec_dk")
    # Four fields of another shape are not claimed: ISO dates, a text amount.
    assert not SOURCE.detect(write(tmp_path, "iso.csv", "2026-01-02;Køb;-1249,00;10,00\n"))
    assert not SOURCE.detect(write(tmp_path, "words.csv", "02-01-2026;Køb;mange;10,00\n"))
    broken = write(
        tmp_path,
        "broken.csv",
        (SAMPLES / "bec_dk.csv").read_text("latin-1") + "31-01-2026;Rente\r\n",
    )
    assert error(broken) == (
        f"{broken}:13: the row has 2 fields but the layout has 4 Fix: a value containing the "
        f"delimiter ';' lost its quotes, or the row was cut; {REDOWNLOAD}"
    )


@pytest.mark.parametrize(
    ("name", "sample", "notice"),
    [
        (
            "swedbank_resaved_excel_sv.csv",
            "swedbank.csv",
            ":2: a spreadsheet re-saved this file "
            "(amounts like -1 234,50): read in that format, not the swedbank layout's own",
        ),
        (
            "nordea_resaved_excel_sv.csv",
            "nordea.csv",
            ":1: a spreadsheet re-saved this file "
            "(amounts like -1 234,50): read in that format, not the nordea layout's own",
        ),
        (
            "seb_resaved_excel_en.csv",
            "seb.csv",
            ":1: a spreadsheet re-saved this file (amounts "
            "like -1,234.50, dates MM/DD/YYYY): read in that format, not the seb layout's own",
        ),
    ],
)
def test_an_export_a_spreadsheet_re_saved_reads_as_its_bank_with_the_same_keys(
    name: str, sample: str, notice: str
) -> None:
    """Excel in a Swedish or English locale: another delimiter, cp1252, quotes added or
    dropped, its own decimal mark and thousands separators, its own date format."""
    path = FIXTURES / name
    assert SOURCE.layout(path).name == SAMPLE_PROFILE[sample]
    out = read_all(path)
    assert [str(n) for n in out if isinstance(n, Notice)][-1] == f"{path}{notice}"
    got, want = [r for r in out if isinstance(r, Row)], rows_of(SAMPLES / sample)
    assert [(r.key, r.former, r.date, r.amounts, r.fields) for r in got] == [
        (r.key, r.former, r.date, r.amounts, r.fields) for r in want
    ]


def test_dates_a_re_save_made_ambiguous_are_refused() -> None:
    path = FIXTURES / "nordea_resaved_ambiguous_dates.csv"
    assert error(path) == (
        f"{path}:2: the dates of this file read two ways ('01/02/2026'): a spreadsheet re-saved "
        f"it in a format bokfor cannot tell Fix: {REDOWNLOAD}"
    )


def test_the_header_under_a_preamble_is_shown_and_no_far_layout_named() -> None:
    path = FIXTURES / "far_header.csv"
    message = (
        f"{path}:4: the header matches no bank layout: found Dato, Tekst, Beløb Fix: "
        f"if this is a bank's export, {ADD_PROFILE}"
    )
    assert error(path) == message
    assert str(SOURCE.explain(path)) == message  # detection says the same


def test_a_stripe_export_is_not_explained_as_a_bank_file(tmp_path: Path) -> None:
    """Stripe balance-export columns chosen in the Dashboard (Type, Amount, Fee, Net,
    Currency, Description) share five cells with Revolut's header, half of it: detection must
    not tell the user it is a Revolut file that lacks columns (no date column a bank layout
    knows), while reading it as a bank file (--source netbank) may name the near layout."""
    rows = list(
        csv.DictReader(
            io.StringIO((ROOT / "samples" / "stripe" / "balance_history.csv").read_text("utf-8"))
        )
    )
    chosen = ["Type", "Amount", "Fee", "Net", "Currency", "Description"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chosen)
    writer.writerows([row[c] for c in chosen] for row in rows)
    path = write(tmp_path, "balance.csv", out.getvalue())
    assert SOURCE.explain(path) is None
    assert error(path).startswith(
        f"{path}:1: the header matches no bank layout: found "
        "Type, Amount, Fee, Net, Currency, Description; the closest "
        "is revolut"
    )


@pytest.mark.parametrize(
    ("name", "line", "what"),
    [
        ("seb_header_only.csv", 1, "no row under the header"),
        (
            "nordea_only_pending.csv",
            1,
            "only 2 pending rows (Reserverat) the bank has not booked "
            "yet; nothing to book from it; export again later to book the pending ones",
        ),
        ("skandiabanken_balances_only.csv", 3, "only rows without a date (a balance or a total)"),
    ],
)
def test_a_file_without_transactions_says_so(name: str, line: int, what: str) -> None:
    """A warning, not an error: a download of a day without payments is a normal input."""
    path = FIXTURES / name
    assert SOURCE.detect(path)
    got = read_all(path)
    if not what.endswith("ones"):
        what += "; nothing to book from it"
    assert [str(n) for n in got] == [f"{path}:{line}: no transactions in this file: {what}"]


def test_a_run_of_files_without_transactions_says_so_not_nothing_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bokfor.cli import main

    mapping = ROOT / "mappings" / "bank.yaml"
    files = [FIXTURES / "seb_header_only.csv", FIXTURES / "nordea_only_pending.csv"]
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "convert",
                *map(str, files),
                "-m",
                str(mapping),
                "-o",
                str(tmp_path / "o.si"),
                "--ledger",
                str(tmp_path / "l.sqlite"),
            ]
        )
    out, err = capsys.readouterr()
    assert exc.value.code == 3
    assert out.splitlines()[-1] == (
        f"Nothing to book: no transactions in {files[0]}, {files[1]}; nothing written."
    )
    assert "every row was exported before" not in out
    assert err.count("no transactions in this file") == 2
    assert not (tmp_path / "o.si").exists()


def test_a_binary_xls_is_refused_naming_the_format() -> None:
    path = FIXTURES / "export_biff.xls"
    message = (
        f"{path}: an Excel 97-2003 workbook (.xls: binary BIFF in an OLE2 compound "
        "file), which bokfor does not read Fix: open it in Excel or LibreOffice and save "
        "it as .xlsx, or export CSV from the bank, and give bokfor that file."
    )
    assert not SOURCE.detect(path)
    assert str(SOURCE.explain(path)) == message
    assert error(path) == message


def test_an_optional_column_a_profile_names_may_be_absent(tmp_path: Path) -> None:
    user = profile_from_model(
        "optional_test",
        model(
            header=["Datum", "Text", "Belopp"],
            optional=["Saldo", "Referens"],
            columns={
                "date": "Datum",
                "amount": "Belopp",
                "text": "Text",
                "balance": "Saldo",
                "reference": "Referens",
            },
        ),
    )
    source = netbank.NetbankSource([user])
    short = write(tmp_path, "short.csv", "Datum;Text;Belopp\n2026-01-30;Avgift;-95,00\n")
    full = write(
        tmp_path,
        "full.csv",
        "Referens;Datum;Saldo;Text;Belopp\n4000123456788;2026-01-30;10,00;Avgift;-95,00\n",
    )
    assert [r.key for r in rows_of(short, source)] == [r.key for r in rows_of(full, source)]
    assert rows_of(full, source)[0].fields["reference"] == "4000123456788"
    other = write(tmp_path, "other.csv", "Datum;Text;Belopp;Kategori\n2026-01-30;A;-1,00;B\n")
    assert not source.detect(other)  # a cell neither required nor optional


def test_nordea_finland_in_swedish_is_the_swedish_layout_with_its_dates() -> None:
    path = FIXTURES / "nordea_fi_sv.csv"
    out = read_all(path)
    assert [str(n) for n in out if isinstance(n, Notice)] == [
        f"{path}:2: 1 pending row (Reserverad) left out: the bank has not booked it yet; "
        "export again later to book it"
    ]  # no "re-saved": DD.MM.YYYY is Nordea's own
    rows = [r for r in out if isinstance(r, Row)]
    assert [
        (r.date, r.amounts["amount"], r.fields["currency"], r.fields["format"]) for r in rows
    ] == [
        (dt.date(2026, 1, 30), -9500, "EUR", "nordea"),
        (dt.date(2026, 1, 23), 285000, "EUR", "nordea"),
    ]


def test_nordea_finland_in_swedish_since_2021_has_a_reference_instead_of_saldo() -> None:
    rows = rows_of(FIXTURES / "nordea_fi_sv_2021.csv")
    assert [(r.fields["format"], r.fields["reference"], r.fields["text"]) for r in rows] == [
        ("nordea", None, "PALVELUMAKSU"),
        ("nordea", None, "ASIAKAS OY / 1232"),  # no valid reference: kept as text
        ("nordea", "RF18539007547034", "KAHVILA HELMI"),
    ]
    assert [r.fields["currency"] for r in rows] == ["EUR"] * 3


# --- read by columns (issue 22) ----------------------------------------------------------

_DATES = ["2026-01-05", "2026-01-06", " 2026-01-07 ", "", "Summa", "2026-02-30", "5.1.2026"]
_AMOUNTS = [
    "-95,00", "12,5", "100", "-0,01", "0,00", "1 234,50", "1,234", "12,50-", "+5,00", "",
    "abc", "\u0661\u0662,50", "007,10", "99999999999999999,00", "1\u00a0000,00",
]  # fmt: skip
_TEXT = st.lists(
    st.sampled_from(list('ab ÅÄé;"\t\n\u00a0\u2003\x1c/') + ["Swish", "ICA"]), max_size=8
).map("".join)


@st.composite
def _export(draw: st.DrawFn) -> tuple[ProfileModel, str]:
    """A user layout (one or two text columns, perhaps a value date and a balance) and a
    CSV of it with plain and awkward cells: what the row reader words and what it reads."""
    header, columns = ["Datum", "Text", "Belopp"], {"date": "Datum", "amount": "Belopp"}
    texts = ["Text", "Mottagare"] if draw(st.booleans()) else ["Text"]
    header[1:2] = texts
    columns["text"] = texts if len(texts) > 1 else texts[0]
    extra = (
        ("Valutadag", "value_date"),
        ("Saldo", "balance"),
        ("Motpart", "counterparty"),
        ("Kod", "transaction_code"),
        ("Valuta", "currency"),
    )
    for name, role in extra:
        if draw(st.booleans()):
            header.append(name)
            columns[role] = name
    if draw(st.booleans()):  # the other party's account: one column, or by the amount's sign
        for name, role in draw(
            st.sampled_from(
                [
                    [("Motkonto", "counterparty_account")],
                    [("Avsändare", "sender")],
                    [("Avsändare", "sender"), ("Mottagare konto", "receiver")],
                ]
            )
        ):
            header.append(name)
            columns[role] = name
    plain = draw(st.booleans())  # mostly cells the columns read, else anything
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        cells = {
            "Datum": draw(st.sampled_from(_DATES[:2] if plain else _DATES)),
            "Belopp": draw(st.sampled_from(_AMOUNTS[:5] if plain else _AMOUNTS)),
            "Valutadag": draw(st.sampled_from(["", "2026-01-06"] if plain else _DATES)),
            "Saldo": draw(st.sampled_from(["", *_AMOUNTS[:5]] if plain else _AMOUNTS)),
            "Valuta": draw(st.sampled_from(["SEK", "", " sek ", "EUR"] if plain else ["ß", "EUR"])),
        }
        for name in ("Motpart", "Kod", "Motkonto", "Avsändare", "Mottagare konto"):
            cells[name] = draw(_TEXT)
        cells.update({t: draw(_TEXT) for t in texts})
        rows.append([cells[h] for h in header])
    out = io.StringIO()
    end = draw(st.sampled_from(["\n", "\r\n"]))
    writer = csv.writer(out, delimiter=";", lineterminator=end)
    writer.writerow(header)
    if draw(st.booleans()):
        writer.writerows(rows)
    else:  # cells as a program writes them without a csv module: quotes left as they are
        out.write("".join(";".join(row) + end for row in rows))
    text = out.getvalue()
    if not plain and draw(st.booleans()):
        text += draw(st.sampled_from(["\n", ";;;\n", "2026-01-08;x\n", "Summa;;-1,00\n"]))
    return model(header=header, columns=columns), text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_export())
def test_a_table_read_by_columns_is_the_table_read_by_rows(export) -> None:
    """`read_frames` of a plain user layout reads it by columns (Polars); whatever it holds,
    the frame, its notices or the error are those of the row reader's frame."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from bokfor.sources import NotFramed

    layout, text = export
    source = SOURCE.with_profiles([profile_from_model("hypo", layout)])
    path = Path(tempfile.mkdtemp()) / "export.csv"
    path.write_text(text, encoding="utf-8", newline="")

    def read() -> list[object] | str:
        try:
            return list(source.read_frames(path, TZ))
        except (InputError, NotFramed) as exc:
            return f"{type(exc).__name__}: {exc}"

    by_columns = read()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(netbank._Reader, "by_columns", lambda self, data: None)
        by_rows = read()
    shutil.rmtree(path.parent)
    if isinstance(by_rows, str) or isinstance(by_columns, str):
        assert by_columns == by_rows
        return
    assert len(by_columns) == len(by_rows)
    for a, b in zip(by_columns, by_rows, strict=True):
        if isinstance(b, pl.DataFrame):
            assert_frame_equal(a, b)
        else:
            assert a == b


def test_a_plain_layout_is_read_by_columns(tmp_path: Path, monkeypatch) -> None:
    """The plain file is read by Polars, a file with a cell only the row reader reads (an
    amount with a trailing minus, which the layout does not write) by rows; either way the
    same rows."""
    user = profile_from_model("sparbanken_test", model())
    source = SOURCE.with_profiles([user])
    plain = "Datum;Text;Belopp;Saldo\n2026-01-30;Avgift;-95,00;38213,75\n"
    read: list[bool] = []
    real = netbank._Reader.by_columns

    def spy(self, data):
        table = real(self, data)
        read.append(table is not None)
        return table

    monkeypatch.setattr(netbank._Reader, "by_columns", spy)
    for text in (plain, plain + "2026-01-31;Lön;1 000,00;39213,75\n"):
        frame = list(source.read_frames(write(tmp_path, "e.csv", text), TZ))[0]
        assert frame["amount"].to_list()[:1] == [-9500]
    assert read == [True, True]  # "1 000,00" has a thousands space: parsed by the parser
    frame = list(source.read_frames(write(tmp_path, "e.csv", plain + "\n"), TZ))[0]
    assert read[-1] is False and frame.height == 1  # a blank line: by rows


def test_a_quote_inside_a_cell_loses_no_row(tmp_path: Path) -> None:
    """A quote inside an unquoted cell is a character (the csv module's reading). Polars
    read on from it to the next line's quote and made one row of two, with the second's
    amount (found by review); such a file is now read by rows, and both rows are there."""
    text = (
        "Datum;Text;Typ;Budgetgrupp;Belopp;Saldo\n"
        '2026-01-30;"ICA";PIZZA 12";Övrigt;-95,00 kr;\n'
        '2026-01-29;ICA;PIZZA 12";Övrigt;-39,00 kr;\n'
        "2026-01-15;Swish;Överföring;Övrigt;123,45 kr;\n"
    )
    import polars as pl

    path = write(tmp_path, "ica.csv", text)
    frame = pl.concat(f for f in SOURCE.read_frames(path, TZ) if isinstance(f, pl.DataFrame))
    assert frame["amount"].to_list() == [-9500, -3900, 12345]
    assert frame["transaction_code"].to_list()[:2] == ['PIZZA 12"', 'PIZZA 12"']
    assert [r.amounts["amount"] for r in rows_of(path)] == [-9500, -3900, 12345]


@given(st.from_regex(r"-?[0-9\u0660-\u0669]{1,17}([.,][0-9]{0,4})?", fullmatch=True))
def test_plain_amounts_are_the_parsers(text: str) -> None:
    import polars as pl

    parse = netbank.money_parser(profile_from_model("p", model()))
    values, refused = netbank.plain_amounts(pl.Series([text]), ",", parse)
    try:
        expected = parse(text)
    except AmountError:
        expected = None
    if expected is None or abs(expected) >= 1 << 62:  # refused: the row reader reads it
        assert refused.to_list() == [True]
    else:
        assert (values.to_list(), refused.to_list()) == ([expected], [False])
