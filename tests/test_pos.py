"""POS day closes through the CLI: each authored sample (and the shared worked example) converts
with mappings/pos.yaml into its golden SIE, one verifikation per register and Z; an X report is
refused; the real Zettle exports in ../shared/pos-public convert when present.

Regenerate a golden file only after reading the diff: `BOKFOR_REGEN=1 pytest tests/test_pos.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.sie.reader import read
from bokfor.sources import detect_source

from .golden_sie import GOLDEN, assert_golden
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLES = REPO / "samples" / "pos"
MAPPING = REPO / "mappings" / "pos.yaml"
SHARED = REPO.parent / "shared"
EXAMPLE = SHARED / "examples" / "pos" / "authored_generic_z-dagrapport_K1_412.csv"

FORMATS = {
    "z-dagrapport_K1_1001.csv": "zreport",
    "z-dagrapport_K2_57.csv": "zreport",
    "x-dagrapport_K1.csv": "zreport",
    "zettle_receipts_sv.csv": "zettle_receipts",
    "zettle_statement_sv.csv": "zettle_statement",
    "kassa_sie_export.si": "pos_sie",
}


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def convert(paths: list[Path], tmp_path: Path, capsys, *extra: str, mapping: Path = MAPPING):
    out = tmp_path / "out.si"
    code, stdout, err = run_cli(
        [
            "convert",
            *map(str, paths),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            *extra,
        ],
        capsys,
    )
    return code, out, stdout, err


def test_every_sample_is_listed():
    assert {p.name for p in SAMPLES.iterdir()} == set(FORMATS)


@pytest.mark.parametrize("sample", sorted(FORMATS))
def test_sample_is_detected_as_its_format(sample):
    assert detect_source(SAMPLES / sample).name == FORMATS[sample]


@pytest.mark.parametrize("sample", sorted(set(FORMATS) - {"x-dagrapport_K1.csv"}))
def test_golden_sie(sample, tmp_path, capsys):
    code, out, _, err = convert([SAMPLES / sample], tmp_path, capsys)
    assert code == 0, err
    assert_golden(out, GOLDEN / "pos" / f"{sample}.si")
    assert all(v.balance == 0 for v in read(out).document.vouchers)
    code, _, _, _ = convert([SAMPLES / sample], tmp_path, capsys)
    assert code == 3  # the same day closes again: nothing new


def test_two_registers_one_run_keep_their_cost_centres(tmp_path, capsys):
    code, out, _, err = convert(
        [SAMPLES / "z-dagrapport_K1_1001.csv", SAMPLES / "z-dagrapport_K2_57.csv"], tmp_path, capsys
    )
    assert code == 0, err
    vouchers = read(out).document.vouchers
    texts = sorted(v.text for v in vouchers)
    assert texts == [
        "Dagskassa till bank Z 1001 K1",
        "Dagskassa till bank Z 57 K2",
        "Kassadifferens Z 1001 K1",
        "Z 1001 K1",
        "Z 57 K2",
    ]
    centres = {v.text: {o for line in v.lines for o in line.dimensions.values()} for v in vouchers}
    assert centres["Z 1001 K1"] == {"CAFE1"} and centres["Z 57 K2"] == {"BAR1"}


def test_an_x_report_is_refused(tmp_path, capsys):
    code, out, _, err = convert([SAMPLES / "x-dagrapport_K1.csv"], tmp_path, capsys)
    assert code == 2 and not out.exists()
    assert err == (
        f"bokfor: error: {SAMPLES / 'x-dagrapport_K1.csv'}:1: K1 2026-12-04: this is "
        "an X-dagrapport (a reading during the day), not a Z-dagrapport: it cannot be "
        "booked Fix: take the Z-dagrapport that closed the day and give bokfor that "
        "file.\n"
    )


# -- the shared worked example (../shared/examples/pos) -------------------------------------

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not present")


@needs_shared
def test_the_worked_example_is_exactly_its_readme_voucher(tmp_path, capsys):
    code, out, _, err = convert([EXAMPLE], tmp_path, capsys)
    assert code == 0, err
    assert_golden(out, GOLDEN / "pos" / "shared_example_K1_412.si")
    z, shortage, deposit = read(out).document.vouchers
    assert (z.series, z.date, z.text) == ("K", dt.date(2026, 11, 20), "Z 412 K1")
    lines = {(line.account, line.amount, tuple(line.dimensions.values())) for line in z.lines}
    assert lines == {
        ("1910", 291960, ()),
        ("1580", 930000, ()),
        ("1930", 210000, ()),
        ("2421", 40000, ()),
        ("3740", 40, ("CAFE1",)),
        ("3002", -800000, ("CAFE1",)),
        ("2621", -96000, ()),
        ("3001", -300000, ("CAFE1",)),
        ("2611", -75000, ()),
        ("3003", -100000, ("CAFE1",)),
        ("2631", -6000, ()),
        ("2421", -50000, ()),
        ("2829", -45000, ()),
    }
    assert z.debit == z.credit == 1472000
    assert [(l.account, l.amount) for l in shortage.lines] == [("6990", 1000), ("1910", -1000)]
    assert [(l.account, l.amount) for l in deposit.lines] == [("1930", 290960), ("1910", -290960)]


# -- the real Zettle exports (../shared/pos-public, read in place) --------------------------

PUBLIC = SHARED / "pos-public"


@needs_shared
def test_real_zettle_receipts_convert(tmp_path, capsys):
    """The public receipts report pays by 'Contactless' (English export) and is in DKK, which
    the file does not say: the mapping names the method and the books' currency decides."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8").replace(
            "    Chip: 1581\n",
            "    Chip: 1581\n    Contactless: 1581\n    Card: 1581\n"
            "    Cash: 1910\n    MobilePay: 1930\n",
            1,
        ),
        encoding="utf-8",
    )
    code, out, stdout, err = convert(
        [PUBLIC / "Zettle-Receipts-Report-20210101-20210910.xlsx"],
        tmp_path,
        capsys,
        mapping=mapping,
    )
    assert code == 0, err
    vouchers = read(out).document.vouchers
    assert vouchers and all(v.balance == 0 for v in vouchers)
    assert {line.account for v in vouchers for line in v.lines} >= {"1581"}


@needs_shared
def test_real_zettle_statement_books_its_fees(tmp_path, capsys):
    """Two years of statement: one fiscal year per run; only fees are booked."""
    code, out, _, err = convert(
        [PUBLIC / "Zettle-Account-Statement-Report-20230901-20250903.xlsx"],
        tmp_path,
        capsys,
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
    )
    assert code == 0, err
    vouchers = read(out).document.vouchers
    assert vouchers and {line.account for v in vouchers for line in v.lines} == {"1581", "6570"}
    assert all(v.date.year == 2024 for v in vouchers)


def test_a_gap_in_the_z_numbers_is_a_warning_naming_them(tmp_path, capsys):
    later = tmp_path / "z-dagrapport_K1_1004.csv"
    text = (SAMPLES / "z-dagrapport_K1_1001.csv").read_text(encoding="utf-8")
    later.write_text(
        text.replace("Z-nummer;1001", "Z-nummer;1004")
        .replace("2026-12-04", "2026-12-07")
        .replace("2026-12-03", "2026-12-06"),
        encoding="utf-8",
    )
    code, out, _, err = convert([SAMPLES / "z-dagrapport_K1_1001.csv", later], tmp_path, capsys)
    assert code == 0, err
    assert err == (
        f"bokfor: warning: {later}: register K1: Z 1002, 1003 missing between Z 1001 "
        f"and Z 1004 (in {SAMPLES / 'z-dagrapport_K1_1001.csv'}, {later}): 2 day "
        "close(s) without a voucher\n"
    )


def test_a_pos_sie_file_is_remapped_and_imported_once(tmp_path, capsys):
    """The POS numbers its verifikationer: the same Z imported again is exported already,
    and a new file from the POS with Z 88 and Z 90 books only Z 90."""
    sie = SAMPLES / "kassa_sie_export.si"
    code, out, _, err = convert([sie], tmp_path, capsys)
    assert code == 0, err
    z88 = read(out).document.vouchers[0]
    assert (z88.series, z88.text) == ("K", "Dagsavslut Z88 KASSA1")
    assert [(l.account, l.amount, l.dimensions) for l in z88.lines] == [
        ("1580", 168000, {}),
        ("1910", 55980, {}),
        ("3002", -200000, {1: "CAFE1"}),
        ("2621", -24000, {}),
        ("3740", 20, {1: "CAFE1"}),
    ]
    later = tmp_path / "later.si"
    text = sie.read_text(encoding="cp437").replace("#VER Z 89 20261206", "#VER Z 90 20261207")
    later.write_text(text, encoding="cp437")
    code, stdout, err = run_cli(
        [
            "convert",
            str(later),
            "-m",
            str(MAPPING),
            "-o",
            str(tmp_path / "2.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    assert [v.date for v in read(tmp_path / "2.si").document.vouchers] == [dt.date(2026, 12, 7)]


def test_a_pos_account_the_mapping_lacks_is_named(tmp_path, capsys):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.read_text(encoding="utf-8").replace("accounts: {3051: 3002}", "accounts: {}"),
        "utf-8",
    )
    code, _, _, err = convert([SAMPLES / "kassa_sie_export.si"], tmp_path, capsys, mapping=mapping)
    assert code == 2
    assert err == (
        f"bokfor: error: {SAMPLES / 'kassa_sie_export.si'}:16: pos.sie.accounts: the "
        "POS's SIE file books on account 3051, which the mapping does not have Fix: "
        "map each to one of your accounts (or name it under accounts:):\n"
        "pos:\n  sie:\n    accounts:\n      3051: <konto>\n"
    )


def test_every_account_a_pos_sie_file_lacks_is_named_at_once(tmp_path, capsys):
    """One error for the whole file, not the first verifikation's accounts only."""
    sie = REPO / "tests" / "fixtures" / "pos" / "kassa_sie_unknown_accounts.si"
    code, _, _, err = convert([sie], tmp_path, capsys)
    assert code == 2
    assert err == (
        f"bokfor: error: {sie}:9: pos.sie.accounts: the POS's SIE file books on "
        "accounts 3053, 3052, 2622, which the mapping does not have Fix: map each "
        "to one of your accounts (or name it under accounts:):\n"
        "pos:\n  sie:\n    accounts:\n      3053: <konto>   # line 9\n"
        "      3052: <konto>   # line 15\n      2622: <konto>   # line 15\n"
    )


def test_methods_missing_in_two_reports_are_one_error_naming_both_files(tmp_path, capsys):
    k1, k2 = tmp_path / "k1.csv", tmp_path / "k2.csv"
    k1.write_text(
        (SAMPLES / "z-dagrapport_K1_1001.csv")
        .read_text(encoding="utf-8")
        .replace("Betalning;Swish;", "Betalning;Vipps;"),
        encoding="utf-8",
    )
    k2.write_text(
        (SAMPLES / "z-dagrapport_K2_57.csv")
        .read_text(encoding="utf-8")
        .replace("Betalning;Kort;", "Betalning;Bankkort;"),
        encoding="utf-8",
    )
    code, _, _, err = convert([k1, k2], tmp_path, capsys)
    assert code == 2
    assert err.splitlines()[0] == (
        f"bokfor: error: {k1}:1: pos: Z 1001 K1 and 1 more day closes (in {k1}, {k2}): the pos "
        "mapping has no account for 2 item(s): payment methods Vipps, Bankkort Fix: add these "
        "lines to the mapping (replace <konto> with the account):"
    )
