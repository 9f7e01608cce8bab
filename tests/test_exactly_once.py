"""Nothing lost, nothing booked twice, at the edges real runs hit (issue 18): row identity that
does not depend on how a file was read, overlapping downloads in one run, fiscal years, outputs
that are never replaced behind the ledger's back, paths through links, corrections that are
undone. Each test here failed on the code before its fix."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bokfor.sie.reader import read

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLES = REPO / "samples"
FIXTURES = Path(__file__).parent / "fixtures"
OLD = FIXTURES / "ledger_v3"  # ledgers written by bokfor at e2b5f00 (ledger schema 3)
IDENTITY = FIXTURES / "identity"


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli([str(a) for a in args], capsys)


def vouchers(path: Path) -> list:
    return read(path).document.vouchers


def keys(ledger: Path) -> list[str]:
    with sqlite3.connect(ledger) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM rows ORDER BY key")]


# -- 2. identity does not depend on how a file was read ------------------------------------

OLD_RUNS = [  # how the ledger in tests/fixtures/ledger_v3 was made, export by export
    ("bank/netbank/seb.csv", ()),
    ("bank/camt053_seb.xml", ()),
    ("bank/mt940_seb.sta", ()),
    ("bank/netbank/swedbank.csv", ()),
    ("bank/netbank/nordea.csv", ()),
    ("bank/netbank/seb.xlsx", ("--bank-account", "SE45 5000 0000 0583 9825 7466")),
]


@pytest.fixture
def old_ledger(tmp_path) -> Path:
    for name in ("bank.yaml", "bank.ledger.sqlite"):
        shutil.copy(OLD / name, tmp_path / name)
    return tmp_path / "bank.ledger.sqlite"


@pytest.mark.parametrize("sample,options", OLD_RUNS, ids=[s for s, _ in OLD_RUNS])
def test_a_ledger_of_the_previous_release_still_knows_every_row(old_ledger, sample, options,
                                                                 capsys):
    """The key scheme changed (no value date, reference or balance in an id-less bank row's
    key); rows exported under the old keys are found by them (`Row.former`)."""
    mapping = old_ledger.with_name("bank.yaml")
    code, out, err = cli(capsys, "convert", SAMPLES / sample, "-m", mapping, "-o",
                         old_ledger.parent / "out.si", *options)
    assert code == 3, err
    assert "Nothing new" in out and not (old_ledger.parent / "out.si").exists()


def test_rows_added_to_a_file_exported_by_the_previous_release_are_the_only_new_ones(
        old_ledger, tmp_path, capsys):
    lines = (SAMPLES / "bank/netbank/seb.csv").read_text(encoding="utf-8-sig").splitlines()
    # Two rows of February on top (SEB lists newest first), one the same as an old row.
    grown = [lines[0], "2026-02-03;2026-02-03;5484500001;AVGIFT FÖRETAGSPAKET;-95.000;38118.750",
             "2026-02-02;2026-02-02;5484500000;PRESSBYRÅN C/26-02-01;-39.000;38213.750",
             *lines[1:]]
    path = tmp_path / "seb-feb.csv"
    path.write_text("\ufeff" + "\n".join(grown) + "\n", encoding="utf-8")
    code, out, err = cli(capsys, "convert", path, "-m", tmp_path / "bank.yaml", "-o",
                         tmp_path / "feb.si")
    assert code == 0, err
    assert [(v.date.isoformat(), v.text) for v in vouchers(tmp_path / "feb.si")] == [
        ("2026-02-02", "PRESSBYRÅN C/26-02-01"), ("2026-02-03", "AVGIFT FÖRETAGSPAKET")]


def test_a_profile_that_leaves_out_columns_keeps_the_keys(tmp_path, capsys):
    """Exported with a profile that reads the value date, reference and balance; read again
    with one that leaves them out: every row is the one exported (before the fix: 11 new)."""
    ledger = tmp_path / "l.sqlite"
    statement = IDENTITY / "sparbanken.csv"
    assert cli(capsys, "convert", statement, "-m", IDENTITY / "bank_full.yaml", "--ledger",
               ledger, "-o", tmp_path / "a.si")[0] == 0
    code, out, _ = cli(capsys, "plan", statement, "-m", IDENTITY / "bank_lean.yaml",
                       "--ledger", ledger)
    assert code == 3
    assert "Plan: 0 to add (+), 11 already exported (=), 0 changed (~)" in out


def test_the_same_account_as_csv_and_as_xlsx_is_one_account(tmp_path, capsys):
    ledger = tmp_path / "l.sqlite"
    mapping = OLD / "bank.yaml"
    assert cli(capsys, "convert", SAMPLES / "bank/netbank/seb.csv", "-m", mapping, "--ledger",
               ledger, "-o", tmp_path / "a.si")[0] == 0
    assert cli(capsys, "convert", SAMPLES / "bank/netbank/seb.xlsx", "-m", mapping, "--ledger",
               ledger, "-o", tmp_path / "b.si")[0] == 3


# -- 3. overlapping downloads in one run ---------------------------------------------------


def _seb_window(tmp_path: Path, name: str, first: int, last: int) -> Path:
    """Rows first..last (1-based, file order: newest first) of the SEB sample as a file."""
    lines = (SAMPLES / "bank/netbank/seb.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / name
    path.write_text("\ufeff" + "\n".join([lines[0], *lines[first:last + 1]]) + "\n",
                    encoding="utf-8")
    return path


def test_overlapping_downloads_in_one_run_book_each_row_once(tmp_path, capsys):
    newer = _seb_window(tmp_path, "newer.csv", 1, 8)  # 30 Jan back to 12 Jan
    older = _seb_window(tmp_path, "older.csv", 5, 12)  # 16 Jan back to 2 Jan
    mapping = OLD / "bank.yaml"
    code, out, err = cli(capsys, "convert", older, newer, "-m", mapping, "--ledger",
                         tmp_path / "l.sqlite", "-o", tmp_path / "out.si")
    assert code == 0, err
    assert len(vouchers(tmp_path / "out.si")) == 12
    assert f"{newer}: netbank, 8 rows -> 4 new verifikationer (4 also in {older})" in out
    # Both again, in the other order, after the export: nothing new, nothing refused.
    assert cli(capsys, "convert", newer, older, "-m", mapping, "--ledger",
               tmp_path / "l.sqlite", "-o", tmp_path / "again.si")[0] == 3


def test_a_z_report_delivered_twice_is_booked_once(tmp_path, capsys):
    z = SAMPLES / "pos/z-dagrapport_K1_1001.csv"
    copy = tmp_path / "z-dagrapport_K1_1001_igen.csv"
    shutil.copy(z, copy)
    code, out, err = cli(capsys, "convert", z, copy, "-m", REPO / "mappings/pos.yaml",
                         "--ledger", tmp_path / "l.sqlite", "-o", tmp_path / "out.si")
    assert code == 0, err
    assert cli(capsys, "convert", z, "-m", REPO / "mappings/pos.yaml", "--ledger",
               tmp_path / "alone.sqlite", "-o", tmp_path / "alone.si")[0] == 0
    assert vouchers(tmp_path / "out.si") == vouchers(tmp_path / "alone.si")
    assert f"also in {z})" in out


# -- 7. a correction that is undone gives the row its earlier record back --------------------

STRIPE = SAMPLES / "stripe/balance_history.csv"
OLD_ROW, NEW_ROW = "1290.00,21.15,,,1268.85", "1390.00,21.15,,,1368.85"


@pytest.fixture
def changed(tmp_path) -> Path:
    """The Stripe sample with one charge's amount changed since it was exported."""
    path = tmp_path / "changed.csv"
    path.write_text(STRIPE.read_text(encoding="utf-8").replace(OLD_ROW, NEW_ROW),
                    encoding="utf-8")
    return path


def _run(*args: str, **env: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "bokfor", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600", **env})


@pytest.mark.parametrize("point", ["after-ledger-pending", "before-rename"])
def test_a_correction_killed_before_its_file_leaves_the_row_changed(tmp_path, changed, point,
                                                                    capsys):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    assert cli(capsys, "convert", STRIPE, "-m", mapping, "--ledger", ledger, "-o",
               tmp_path / "1.si")[0] == 0
    killed = _run("convert", changed, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "2.si",
                  "--correct", BOKFOR_FAULT=point)
    assert killed.returncode == -9, killed.stderr
    # Before the fix the row came back new: booked at its new amount, the old one never
    # reversed. Now it is changed, as before the correction, and waits for --correct.
    code, _, err = cli(capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o",
                       tmp_path / "3.si")
    assert code == 2 and "1 row changed since it was exported" in err
    assert not (tmp_path / "3.si").exists()


def test_forgetting_a_correction_leaves_the_row_changed(tmp_path, changed, capsys):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    assert cli(capsys, "convert", STRIPE, "-m", mapping, "--ledger", ledger, "-o",
               tmp_path / "1.si")[0] == 0
    assert cli(capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o",
               tmp_path / "2.si", "--correct")[0] == 0
    assert cli(capsys, "ledger", "forget", "2", "--yes", "--ledger", ledger)[0] == 0
    code, out, _ = cli(capsys, "plan", changed, "-m", mapping, "--ledger", ledger)
    assert "0 to add (+)" in out and "1 changed (~)" in out
    # The correction again, then the original export forgotten too: nothing to restore.
    assert cli(capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o",
               tmp_path / "3.si", "--correct")[0] == 0
    assert cli(capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o",
               tmp_path / "4.si")[0] == 3


# -- 10. a file at the ledger path that is not a ledger ------------------------------------


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + bytes(84), b"hello"],
                         ids=["empty", "header-only", "text"])
def test_a_file_at_the_ledger_path_that_is_no_ledger_is_refused_and_kept(tmp_path, content,
                                                                         capsys):
    ledger = tmp_path / "l.sqlite"
    ledger.write_bytes(content)
    code, _, err = cli(capsys, "convert", STRIPE, "-m", REPO / "mappings/stripe.yaml",
                       "--ledger", ledger, "-o", tmp_path / "out.si")
    assert code == 2 and ("not a bokfor ledger" in err or "cannot be opened" in err)
    assert ledger.read_bytes() == content and not (tmp_path / "out.si").exists()


# -- 9. a mapping reached through a link ---------------------------------------------------


def test_a_mapping_through_a_link_shares_its_ledger_and_its_rate_file(tmp_path, capsys):
    """`-m sub/real.yaml`, then `-m current.yaml` linking to it: one ledger (before: a second
    one beside the link, and every row booked again), the rate file beside the real mapping
    (before: read beside the link, one EUR row booked at two amounts)."""
    sub = tmp_path / "sub"
    sub.mkdir()
    text = (REPO / "mappings/stripe.yaml").read_text(encoding="utf-8")
    (sub / "real.yaml").write_text(text + "\ncurrency_rates:\n  file: rates.csv\n",
                                   encoding="utf-8")
    shutil.copy(FIXTURES / "fx/rates.csv", sub / "rates.csv")
    # A rate file of other rates beside the link: never read.
    (tmp_path / "rates.csv").write_text("date;currency;rate\n2026-01-05;EUR;99,00\n"
                                        "2026-01-06;EUR;99,00\n", encoding="utf-8")
    (tmp_path / "current.yaml").symlink_to(sub / "real.yaml")
    eur = FIXTURES / "fx/balance_eur.csv"
    assert cli(capsys, "convert", eur, "-m", sub / "real.yaml", "-o", tmp_path / "a.si")[0] == 0
    code, out, err = cli(capsys, "convert", eur, "-m", tmp_path / "current.yaml", "-o",
                         tmp_path / "b.si")
    assert code == 3, err
    assert (sub / "real.ledger.sqlite").exists()
    assert not list(tmp_path.glob("*.ledger.sqlite"))
    # Planned afresh through the link and directly: the same vouchers, at the real rates.
    through_link = cli(capsys, "plan", eur, "-m", tmp_path / "current.yaml", "--ledger",
                       tmp_path / "fresh.sqlite", "--format", "json")[1]
    direct = cli(capsys, "plan", eur, "-m", sub / "real.yaml", "--ledger",
                 tmp_path / "fresh2.sqlite", "--format", "json")[1]
    assert json.loads(through_link)["to_write"] == json.loads(direct)["to_write"] != []
