"""Every bank format through the one bank section: each authored sample in samples/bank/ is
detected as its own format only, and converts with mappings/bank.yaml into its golden SIE.

Regenerate a golden file only after reading the diff: `BOKFOR_REGEN=1 pytest tests/test_bank.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.domain import Origin, Row
from bokfor.errors import MappingError
from bokfor.mapping import BankAccounts
from bokfor.sie.reader import read
from bokfor.sources import all_sources, detect_source

from .golden_sie import GOLDEN, assert_golden
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLES = REPO / "samples" / "bank"
MAPPING = REPO / "mappings" / "bank.yaml"

# Sample (relative to samples/bank) -> the source that must read it.
FORMATS = {
    "bgmax_ocr.txt": "bgmax",
    "camt053_seb.xml": "camt",
    "camt054_bankgiro.xml": "camt",
    "mt940_seb.sta": "mt940",
    "nets_ocr_dnb.txt": "nets_ocr",
    **{
        f"netbank/{name}": "netbank"
        for name in (
            "danske.csv",
            "dnb.csv",
            "handelsbanken.xlsx",
            "handelsbanken_kontotransactionlist.xls",
            "ica.csv",
            "lansforsakringar.csv",
            "nordea.csv",
            "nordea_business.csv",
            "nordea_business_2025.csv",
            "seb.csv",
            "seb.xlsx",
            "skandia.xlsx",
            "sparebank1.csv",
            "swedbank.csv",
            "nordea_no.csv",
            "danske_dk.csv",
            "nordea_old.csv",
            "nordea_old.xlsx",
            "nordea_fi.csv",
            "nordea_en.csv",
            "nordea_fi_txt.txt",
            "nordea_fi_txt_sv.txt",
            "banknorwegian.xlsx",
            "banknorwegian_card.xlsx",
            "skandiabanken.csv",
            "revolut.csv",
            "bec_dk.csv",
        )
    },
}
# The net-bank samples are of accounts the example company does not have, and hold card
# purchases it has no rule for: the test books those accounts on 1940 and unknown rows on a
# suspense account, so that each sample's golden file shows every row.
OTHER_BANKS = (
    "danske",
    "dnb",
    "ica",
    "nordea",
    "nordea_business",
    "nordea_business_2025",
    "sparebank1",
    "nordea_no",
    "danske_dk",
    '"612 345 678"',
    '"9025 12 34567"',
    '"9150-123.456-7"',
    '"8105-9 934 567 890-1"',
    "nordea_old",
    "nordea_old_xlsx",
    "nordea_fi",
    "nordea_en",
    '"FI38 1470 3500 9194 88"',
    "banknorwegian",
    "banknorwegian_card",
    "skandiabanken",
    "revolut",
    "bec_dk",
)


@pytest.fixture(scope="module")
def mapping(tmp_path_factory) -> Path:
    text = MAPPING.read_text(encoding="utf-8")
    text = text.replace(
        "      seb: 1930 ",
        "".join(f"      {a}: 1940\n" for a in OTHER_BANKS) + "      seb: 1930 ",
        1,
    )
    text = text.replace(
        "  1930: Företagskonto\n",
        "  1930: Företagskonto\n  1940: Övriga bankkonton\n  2999: Ej utredda bankposter\n",
        1,
    )
    text += (
        "    fallback:\n      name: Ej utredd bankpost\n      post:\n"
        "        - {account: bank_account, debit: amount}\n"
        "        - {account: 2999, credit: amount}\n"
    )
    path = tmp_path_factory.mktemp("mapping") / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_sample_is_listed():
    """A sample added without a golden test would test nothing."""
    found = {
        str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.suffix != ".py"
    }
    assert found == set(FORMATS)


@pytest.mark.parametrize("sample", sorted(FORMATS))
def test_sample_is_detected_as_its_format_only(sample):
    path = SAMPLES / sample
    assert [s.name for s in all_sources() if s.detect(path)] == [FORMATS[sample]]
    assert detect_source(path).name == FORMATS[sample]


@pytest.mark.parametrize("sample", sorted(FORMATS))
def test_golden_sie(sample, mapping, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    out = tmp_path / "out.si"
    code, stdout, err = run_cli(
        [
            "convert",
            str(SAMPLES / sample),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    assert_golden(out, GOLDEN / "bank" / (sample.replace("/", "_") + ".si"))
    assert all(v.balance == 0 for v in read(out).document.vouchers)
    # Re-running the same file books nothing: every row has a stable key.
    code, _, _ = run_cli(
        [
            "convert",
            str(SAMPLES / sample),
            "-m",
            str(mapping),
            "-o",
            str(tmp_path / "again.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 3


# -- bank account -> ledger account --------------------------------------------------------


def row(account: str | None, fmt: str = "ica") -> Row:
    return Row(
        "bank",
        "k",
        dt.date(2026, 1, 5),
        {"amount": 100},
        {"account": account, "format": fmt},
        Origin("f.csv", 7),
    )


ACCOUNTS = BankAccounts(
    {"SE4550000000058398257466": "1930", "54026380": "1939"}, None, "sources.bank"
)


@pytest.mark.parametrize(
    "written",
    [
        "SE45 5000 0000 0583 9825 7466",
        "se4550000000058398257466",
        "5839-8257466",
        "5839 825 746 6",
        "5839.825.746-6",
    ],
)
def test_one_account_in_the_forms_files_write_it(written):
    """The IBAN's 17 account digits end with clearing number + account number."""
    assert ACCOUNTS.ledger_account(row(written), "m.yaml") == "1930"


def test_bankgiro_with_and_without_dash():
    assert ACCOUNTS.ledger_account(row("5402-6380"), "m.yaml") == "1939"


def test_unknown_account_names_the_key_to_add():
    with pytest.raises(MappingError) as exc:
        ACCOUNTS.ledger_account(row("1234-5678901"), "m.yaml")
    assert str(exc.value) == (
        "f.csv:7: sources.bank.bank_accounts: bank account 1234-5678901 is not in the mapping "
        'Fix: add `"1234-5678901": 1930` (its ledger account) under sources.bank.bank_accounts '
        "in m.yaml."
    )


def test_a_file_without_account_needs_the_default():
    with pytest.raises(MappingError) as exc:
        ACCOUNTS.ledger_account(row(None), "m.yaml")
    assert str(exc.value) == (
        "f.csv:7: sources.bank.bank_accounts: the file does not name its bank account (ica files "
        "do not) Fix: add `ica: 1930` (the ledger account of the bank account this file is "
        "from) under sources.bank.bank_accounts in m.yaml."
    )
    by_format = BankAccounts({}, "1940", "sources.bank", {"ica": "1941", "camt": "1942"})
    assert by_format.ledger_account(row(None), "m.yaml") == "1941"
    assert by_format.ledger_account(row(None, "camt.054"), "m.yaml") == "1942"
    assert by_format.ledger_account(row(None, "seb"), "m.yaml") == "1940"


def test_a_short_number_never_matches_by_its_digits():
    """Six digits could be the tail of many accounts: only an exact match counts."""
    with pytest.raises(MappingError):
        ACCOUNTS.ledger_account(row("257466"), "m.yaml")


def test_a_bank_described_in_the_mapping_is_read_without_code(tmp_path, capsys):
    """A user profile (sources.bank.profiles) makes bokfor read a bank it does not ship."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8").replace(
            "    bank_accounts:\n",
            """    profiles:
      sparbanken_syd:
        title: Sparbanken Syd (CSV)
        header: [Datum, Text, Belopp, Saldo]
        delimiter: ";"
        columns: {date: Datum, amount: Belopp, text: Text, balance: Saldo}
        date_format: "%d.%m.%Y"
        decimal_mark: ","
        thousands: [space]
    bank_accounts:
      sparbanken_syd: 1930
""",
            1,
        ),
        encoding="utf-8",
    )
    bank = tmp_path / "export.csv"
    bank.write_text(
        "Datum;Text;Belopp;Saldo\n"
        "14.01.2026;STRIPE PAYMENTS EUROPE;4 392,62;10 392,62\n"
        "02.01.2026;Avgift kort;-25,00;6 000,00\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            str(bank),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    vouchers = read(out).document.vouchers
    assert [(v.date, [(l.account, l.amount) for l in v.lines]) for v in vouchers] == [
        (dt.date(2026, 1, 2), [("1930", -2500), ("6570", 2500)]),
        (dt.date(2026, 1, 14), [("1930", 439262), ("1580", -439262)]),
    ]
    # The running balance 6 000,00 + 4 392,62 is 10 392,62: no warning.
    assert "warning" not in err


def test_per_entry_never_joins_entries_of_two_accounts_or_days(tmp_path, capsys):
    """NtryRef 1 in two statements (two accounts, two days) is two entries, two vouchers."""

    def statement(iban: str, day: str, amount: str) -> str:
        return (
            f"<Stmt><Id>S-{iban}</Id><Acct><Id><IBAN>{iban}</IBAN></Id></Acct>"
            f'<Ntry><NtryRef>1</NtryRef><Amt Ccy="SEK">{amount}</Amt>'
            "<CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
            f"<BookgDt><Dt>{day}</Dt></BookgDt><AddtlNtryInf>STRIPE</AddtlNtryInf></Ntry></Stmt>"
        )

    camt = tmp_path / "two.xml"
    camt.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:'
        '20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId>'
        "</GrpHdr>"
        + statement("SE4550000000058398257466", "2026-01-02", "100.00")
        + statement("SE6750000000058398257555", "2026-01-20", "250.00")
        + "</BkToCstmrStmt></Document>",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8")
        .replace("grouping: per_row ", "grouping: per_entry ", 1)
        .replace('voucher_text: "{text}"', 'voucher_text: "Bank {entry}"', 1),
        encoding="utf-8",
    )
    out = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            str(camt),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    vouchers = read(out).document.vouchers
    assert [(v.date, [(l.account, l.amount) for l in v.lines]) for v in vouchers] == [
        (dt.date(2026, 1, 2), [("1580", -10000), ("1930", 10000)]),
        (dt.date(2026, 1, 20), [("1580", -25000), ("1931", 25000)]),
    ]


def test_two_accounts_whose_files_name_none_are_told_apart(tmp_path, capsys):
    """SEB's CSV names no account: --bank-account says which, and keeps the keys apart."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8")
        .replace(
            "  1930: Företagskonto\n",
            "  1930: Företagskonto\n  1940: Övriga bankkonton\n  2999: Ej utredda bankposter\n",
            1,
        )
        .replace("      seb: 1930 ", '      "5357-1234567": 1940\n      seb: 1930 ', 1)
        + "    fallback:\n      post:\n        - {account: bank_account, debit: amount}\n"
        "        - {account: 2999, credit: amount}\n",
        encoding="utf-8",
    )
    seb = SAMPLES / "netbank" / "seb.csv"
    ledger = tmp_path / "l.sqlite"

    def run(*extra: str) -> tuple[int, str]:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}.si"
        code, _, err = run_cli(
            [
                "convert",
                str(seb),
                "-m",
                str(mapping),
                "-o",
                str(out),
                "--ledger",
                str(ledger),
                *extra,
            ],
            capsys,
        )
        accounts = (
            {line.account for v in read(out).document.vouchers for line in v.lines}
            if code == 0
            else set()
        )
        return code, "1940" in accounts and "1930" not in accounts

    assert run()[0] == 0  # the company's main SEB account (seb: 1930)
    code, on_1940 = run("--bank-account", "5357-1234567")  # the same rows, another account
    assert code == 0 and on_1940
    assert run("--bank-account", "5357-1234567")[0] == 3  # and once only
