"""The profile-driven Z-report reader: the shared example field by field, detection, both
layouts, encodings, and the errors a damaged report or a wrong profile gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.dayclose import GroupTotal, RateTotal, check
from bokfor.errors import InputError, MappingError
from bokfor.sources import zreport
from bokfor.sources.zreport import detect, load_profile, read_dayclose

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "pos"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pos"
SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLE = SHARED / "examples" / "pos" / "authored_generic_z-dagrapport_K1_412.csv"
K1 = SAMPLES / "z-dagrapport_K1_1001.csv"


def shared_example() -> Path:
    if not EXAMPLE.is_file():
        pytest.skip("shared/ (the worked example) is not beside the repo")
    return EXAMPLE


def variant(tmp_path: Path, old: str, new: str, source: Path = K1, encoding="utf-8") -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / source.name
    path.write_text(text.replace(old, new), encoding=encoding)
    return path


def test_detect_the_shared_example() -> None:
    profile = detect(shared_example())
    assert profile is not None and profile.name == "generic_sectioned"


def test_detect_refuses_other_files(tmp_path: Path) -> None:
    other = tmp_path / "bank.csv"
    other.write_text("Bokföringsdag;Belopp\n2026-01-01;1,00\n", encoding="utf-8")
    assert detect(other) is None
    assert detect(tmp_path / "missing.csv") is None
    assert detect(SAMPLES / "zettle_receipts_sv.csv") is None


def test_shared_example_fields() -> None:
    dc = read_dayclose(shared_example(), "generic_sectioned")
    assert (dc.system, dc.register, dc.z_number, dc.business_day, dc.cost_centre) == (
        "generic",
        "K1",
        412,
        dt.date(2026, 11, 20),
        "CAFE1",
    )
    assert dc.key == "pos:generic:K1:412"
    assert dict(dc.sales_by_rate) == {
        "25": RateTotal(300000, 75000, 375000),
        "12": RateTotal(800000, 96000, 896000),
        "6": RateTotal(100000, 6000, 106000),
        "0": RateTotal(50000, 0, 50000),
    }
    assert dc.sales_by_group["Presentkort"] == GroupTotal(50000, "0", 50000, 0)
    assert dict(dc.payments) == {
        "Kort": 930000,
        "Swish": 210000,
        "Presentkort": 40000,
        "Kontant": 291960,
    }
    assert (dc.tips, dc.rounding) == (45000, -40)
    assert (
        dc.float_in,
        dc.expected_cash,
        dc.counted_cash,
        dc.cash_difference,
        dc.float_out,
        dc.cash_to_bank,
    ) == (200000, 491960, 490960, -1000, 200000, 290960)
    assert dc.receipts == 187 and sum(dc.payment_counts.values()) == 187
    assert (dc.org_nr, dc.currency) == ("556677-8899", "SEK")
    assert dc.period_from == dt.datetime(2026, 11, 19, 21, 58, 2)
    # Statistics are kept for audit, apart from anything bookable.
    assert dc.statistics["Statistik / Kvittokopior"] == {"count": "2", "gross": "310,00"}
    assert dc.statistics["Grand total / Grand total netto"] == {"gross": "4788889,50"}
    assert dc.statistics["Rabatt / Rabatter"]["gross"] == "-320,00"
    assert (dc.origin.line, dc.line_of("payments"), dc.line_of("rate:12")) == (1, 27, 21)


def test_windows_1252_file(tmp_path: Path) -> None:
    path = variant(tmp_path, "Kaffe och bakverk", "Kaffe och bakverk", encoding="cp1252")
    dc = read_dayclose(path, "generic_sectioned")
    assert dc.cash_to_bank == 150580 and "Vin" in dc.sales_by_group


def test_after_midnight_z_belongs_to_the_previous_day() -> None:
    dc = read_dayclose(SAMPLES / "z-dagrapport_K2_57.csv", "generic_sectioned")
    assert dc.created_at == dt.datetime(2026, 12, 5, 1, 40, 2)
    assert dc.business_day == dt.date(2026, 12, 4)


def test_heading_layout_profile_from_a_path() -> None:
    profile = load_profile(FIXTURES / "kassa2000.yaml")
    dc = read_dayclose(FIXTURES / "kassa2000_z88.txt", profile)
    assert (dc.system, dc.register, dc.z_number, dc.business_day) == (
        "kassa2000",
        "BAR",
        88,
        dt.date(2026, 12, 6),
    )
    assert dict(dc.sales_by_rate) == {
        "25": RateTotal(80000, 20000, 100000),
        "12": RateTotal(10000, 1200, 11200),
    }
    assert dict(dc.payments) == {"Kort": 90000, "Kontant": 26200}
    assert dc.tips == 5000 and dc.payment_counts == {"Kort": 12, "Kontant": 4}
    check(dc)


# --- bad input ------------------------------------------------------------------------------


def test_unknown_section(tmp_path: Path) -> None:
    path = variant(tmp_path, "Dricks;Dricks kort", "Presentkort sålda;Presentkort")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    e = err.value
    assert e.message == "section 'Presentkort sålda' is not in Z-report profile 'generic_sectioned'"
    assert (e.line, e.column) == (26, "Sektion")
    assert "'ignore' if it holds nothing to book" in e.hint


def test_bad_amount(tmp_path: Path) -> None:
    path = variant(tmp_path, "Swish;;12;;;900,00", "Swish;;12;;;9OO,00")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == "not an amount: '9OO,00' is not a number"
    assert (err.value.line, err.value.column) == (22, "Belopp inkl moms")


def test_payment_total_row_must_match(tmp_path: Path) -> None:
    path = variant(tmp_path, "Summa betalningar;;74;;;6399,80", "Summa betalningar;;74;;;6399,00")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == (
        "'Summa betalningar' says 6 399,00 but its rows add up to 6 399,80 (difference -0,80)"
    )
    assert err.value.line == 25


def test_sales_total_row_must_match(tmp_path: Path) -> None:
    path = variant(tmp_path, "5500,00;780,00;6280,00", "5500,00;780,00;6290,00")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == (
        "'Total försäljning' says 6 290,00 but its rows add up to 6 280,00 (difference 10,00)"
    )


def test_sums_that_do_not_tie(tmp_path: Path) -> None:
    path = variant(tmp_path, "Dricks;Dricks kort;;9;;;120,00", "Dricks;Dricks kort;;9;;;100,00")
    dc = read_dayclose(path, "generic_sectioned")
    with pytest.raises(InputError) as err:
        check(dc)
    e = err.value
    assert e.message == (
        "payments 6 399,80 ≠ sales incl. VAT 6 280,00 + tips 100,00 + rounding "
        "-0,20 = 6 379,80 (difference 20,00)"
    )
    assert (e.file, e.line, e.key) == (str(path), 21, "Z 1001 K1")


def test_unknown_cash_row(tmp_path: Path) -> None:
    path = variant(tmp_path, "Kassa;Uttag;", "Kassa;Kontantuttag;")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == "cash row 'Kontantuttag' is not in profile 'generic_sectioned'"


def test_missing_z_number(tmp_path: Path) -> None:
    path = variant(tmp_path, "Z-nummer;1001\n", "")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == "the report has no Z number"


def test_unknown_report_type(tmp_path: Path) -> None:
    path = variant(tmp_path, "Rapporttyp;Z-dagrapport", "Rapporttyp;Periodrapport")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == (
        "report type 'Periodrapport' is neither a Z nor an X report for profile 'generic_sectioned'"
    )
    assert (err.value.line, err.value.column) == (1, "Rapporttyp")


def test_vat_rate_twice(tmp_path: Path) -> None:
    path = variant(tmp_path, "Moms;Försäljning 0 %;0;", "Moms;Försäljning 25 % igen;25;")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert err.value.message == "VAT 25 % appears twice (first on line 16)"


def test_garbled_text_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "Räknat i kassa", "RÃ¤knat i kassa")
    with pytest.raises(InputError) as err:
        read_dayclose(path, "generic_sectioned")
    assert "the text is garbled" in err.value.message


# --- profiles -------------------------------------------------------------------------------


def test_unknown_profile_name() -> None:
    with pytest.raises(MappingError) as err:
        load_profile("nosuchpos")
    assert err.value.message == "no Z-report profile named 'nosuchpos'"
    assert "generic_sectioned" in err.value.hint


def test_profile_errors_name_the_line(tmp_path: Path) -> None:
    text = (FIXTURES / "kassa2000.yaml").read_text(encoding="utf-8")
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("  DRICKS: tips", "  DRICKS: tipps"), encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_profile(path)
    assert err.value.message == "section 'DRICKS' needs a kind"
    assert (err.value.line, err.value.key) == (22, "sections.DRICKS")


def test_profile_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\ntable: {columns: {gross: 1}}\nsections: {A: rates}\ncolour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as err:
        load_profile(path)
    assert (err.value.message, err.value.line) == ("unknown profile key 'colour'", 4)


def test_every_shipped_profile_loads() -> None:
    assert [load_profile(p).name for p in zreport.shipped_profiles()] == ["generic_sectioned"]
