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


@pytest.mark.parametrize("share", [0, 1 << 40], ids=["looked-up", "scanned"])
@pytest.mark.parametrize("sample", ["bank/netbank/swedbank.csv", "bank/camt053_seb.xml"])
def test_rows_under_their_former_keys_are_found_by_columns_with_no_mark(
    old_ledger, sample, share, capsys, monkeypatch
):
    """A row exported under its former key is found however the ledger marks it: a
    correction re-records such a row without the `legacy` mark, and forgetting it loses the
    learned key. Read into frames and booked by columns, nothing is new: the keys looked up
    or joined to the ledger's rows read whole (Ledger.known_frame)."""
    from bokfor import ledger, plan

    monkeypatch.setattr(ledger, "_SCAN_SHARE", share)

    code, _, err = cli(capsys, "ledger", "list", "--ledger", old_ledger)  # migrates it
    assert code == 0, err
    with sqlite3.connect(old_ledger) as conn:
        conn.execute("UPDATE rows SET legacy = NULL")
        conn.execute("DELETE FROM renamed")
    monkeypatch.setattr(plan, "FRAMES_FROM", 0)
    mapping = old_ledger.with_name("bank.yaml")
    out = old_ledger.parent / "out.si"
    code, _, err = cli(capsys, "convert", SAMPLES / sample, "-m", mapping, "-o", out)
    assert code == 3, err
    assert not out.exists()


@pytest.mark.parametrize("sample,options", OLD_RUNS, ids=[s for s, _ in OLD_RUNS])
def test_a_ledger_of_the_previous_release_still_knows_every_row(
    old_ledger, sample, options, capsys
):
    """The key scheme changed (no value date, reference or balance in an id-less bank row's
    key); rows exported under the old keys are found by them (`Row.former`)."""
    mapping = old_ledger.with_name("bank.yaml")
    code, out, err = cli(
        capsys,
        "convert",
        SAMPLES / sample,
        "-m",
        mapping,
        "-o",
        old_ledger.parent / "out.si",
        *options,
    )
    assert code == 3, err
    assert "Nothing new" in out and not (old_ledger.parent / "out.si").exists()


def test_rows_added_to_a_file_exported_by_the_previous_release_are_the_only_new_ones(
    old_ledger, tmp_path, capsys
):
    lines = (SAMPLES / "bank/netbank/seb.csv").read_text(encoding="utf-8-sig").splitlines()
    # Two rows of February on top (SEB lists newest first), one the same as an old row.
    grown = [
        lines[0],
        "2026-02-03;2026-02-03;5484500001;AVGIFT FÖRETAGSPAKET;-95.000;38118.750",
        "2026-02-02;2026-02-02;5484500000;PRESSBYRÅN C/26-02-01;-39.000;38213.750",
        *lines[1:],
    ]
    path = tmp_path / "seb-feb.csv"
    path.write_text("\ufeff" + "\n".join(grown) + "\n", encoding="utf-8")
    code, out, err = cli(
        capsys, "convert", path, "-m", tmp_path / "bank.yaml", "-o", tmp_path / "feb.si"
    )
    assert code == 0, err
    assert [(v.date.isoformat(), v.text) for v in vouchers(tmp_path / "feb.si")] == [
        ("2026-02-02", "PRESSBYRÅN C/26-02-01"),
        ("2026-02-03", "AVGIFT FÖRETAGSPAKET"),
    ]


def test_a_profile_that_leaves_out_columns_keeps_the_keys(tmp_path, capsys):
    """Exported with a profile that reads the value date, reference and balance; read again
    with one that leaves them out: every row is the one exported (before the fix: 11 new)."""
    ledger = tmp_path / "l.sqlite"
    statement = IDENTITY / "sparbanken.csv"
    assert (
        cli(
            capsys,
            "convert",
            statement,
            "-m",
            IDENTITY / "bank_full.yaml",
            "--ledger",
            ledger,
            "-o",
            tmp_path / "a.si",
        )[0]
        == 0
    )
    code, out, _ = cli(
        capsys, "plan", statement, "-m", IDENTITY / "bank_lean.yaml", "--ledger", ledger
    )
    assert code == 3
    assert "Plan: 0 verifikationer to add (+), 11 already exported (=); 0 rows changed (~)" in out


def test_the_same_account_as_csv_and_as_xlsx_is_one_account(tmp_path, capsys):
    ledger = tmp_path / "l.sqlite"
    mapping = OLD / "bank.yaml"
    assert (
        cli(
            capsys,
            "convert",
            SAMPLES / "bank/netbank/seb.csv",
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "a.si",
        )[0]
        == 0
    )
    assert (
        cli(
            capsys,
            "convert",
            SAMPLES / "bank/netbank/seb.xlsx",
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "b.si",
        )[0]
        == 3
    )


# -- 3. overlapping downloads in one run ---------------------------------------------------


def _seb_window(tmp_path: Path, name: str, first: int, last: int) -> Path:
    """Rows first..last (1-based, file order: newest first) of the SEB sample as a file."""
    lines = (SAMPLES / "bank/netbank/seb.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / name
    path.write_text(
        "\ufeff" + "\n".join([lines[0], *lines[first : last + 1]]) + "\n", encoding="utf-8"
    )
    return path


def test_overlapping_downloads_in_one_run_book_each_row_once(tmp_path, capsys):
    newer = _seb_window(tmp_path, "newer.csv", 1, 8)  # 30 Jan back to 12 Jan
    older = _seb_window(tmp_path, "older.csv", 5, 12)  # 16 Jan back to 2 Jan
    mapping = OLD / "bank.yaml"
    code, out, err = cli(
        capsys,
        "convert",
        older,
        newer,
        "-m",
        mapping,
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "out.si",
    )
    assert code == 0, err
    assert len(vouchers(tmp_path / "out.si")) == 12
    # The same rows in both: read from the input given last (a tie of filled-in fields).
    assert f"{older}: netbank, 8 rows -> 4 new verifikationer (4 also in {newer})" in out
    # Both again, in the other order, after the export: nothing new, nothing refused.
    assert (
        cli(
            capsys,
            "convert",
            newer,
            older,
            "-m",
            mapping,
            "--ledger",
            tmp_path / "l.sqlite",
            "-o",
            tmp_path / "again.si",
        )[0]
        == 3
    )


def test_a_z_report_delivered_twice_is_booked_once(tmp_path, capsys):
    z = SAMPLES / "pos/z-dagrapport_K1_1001.csv"
    copy = tmp_path / "z-dagrapport_K1_1001_igen.csv"
    shutil.copy(z, copy)
    code, out, err = cli(
        capsys,
        "convert",
        z,
        copy,
        "-m",
        REPO / "mappings/pos.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "out.si",
    )
    assert code == 0, err
    assert (
        cli(
            capsys,
            "convert",
            z,
            "-m",
            REPO / "mappings/pos.yaml",
            "--ledger",
            tmp_path / "alone.sqlite",
            "-o",
            tmp_path / "alone.si",
        )[0]
        == 0
    )
    assert vouchers(tmp_path / "out.si") == vouchers(tmp_path / "alone.si")
    assert f"also in {copy})" in out


# -- 7. a correction that is undone gives the row its earlier record back --------------------

STRIPE = SAMPLES / "stripe/balance_history.csv"
OLD_ROW, NEW_ROW = "1290.00,21.15,,,1268.85", "1390.00,21.15,,,1368.85"


@pytest.fixture
def changed(tmp_path) -> Path:
    """The Stripe sample with one charge's amount changed since it was exported."""
    path = tmp_path / "changed.csv"
    path.write_text(STRIPE.read_text(encoding="utf-8").replace(OLD_ROW, NEW_ROW), encoding="utf-8")
    return path


def _run(*args: str, **env: str):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "bokfor", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600", **env},
    )


@pytest.mark.parametrize("point", ["after-ledger-pending", "before-rename"])
def test_a_correction_killed_before_its_file_leaves_the_row_changed(
    tmp_path, changed, point, capsys
):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    assert (
        cli(capsys, "convert", STRIPE, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "1.si")[
            0
        ]
        == 0
    )
    killed = _run(
        "convert",
        changed,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "-o",
        tmp_path / "2.si",
        "--correct",
        BOKFOR_FAULT=point,
    )
    assert killed.returncode == -9, killed.stderr
    # Before the fix the row came back new: booked at its new amount, the old one never
    # reversed. Now it is changed, as before the correction, and waits for --correct.
    code, _, err = cli(
        capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "3.si"
    )
    assert code == 2 and "1 row changed since it was exported" in err
    assert not (tmp_path / "3.si").exists()


def test_forgetting_a_correction_leaves_the_row_changed(tmp_path, changed, capsys):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    assert (
        cli(capsys, "convert", STRIPE, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "1.si")[
            0
        ]
        == 0
    )
    assert (
        cli(
            capsys,
            "convert",
            changed,
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "2.si",
            "--correct",
        )[0]
        == 0
    )
    assert cli(capsys, "ledger", "forget", "2", "--yes", "--ledger", ledger)[0] == 0
    code, out, _ = cli(capsys, "plan", changed, "-m", mapping, "--ledger", ledger)
    assert "0 verifikationer to add (+)" in out and "1 row changed (~)" in out
    # The correction again, then the original export forgotten too: nothing to restore.
    assert (
        cli(
            capsys,
            "convert",
            changed,
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "3.si",
            "--correct",
        )[0]
        == 0
    )
    assert (
        cli(capsys, "convert", changed, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "4.si")[
            0
        ]
        == 3
    )


# -- 10. a file at the ledger path that is not a ledger ------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 3\x00" + bytes(84), b"hello"],
    ids=["empty", "header-only", "text"],
)
def test_a_file_at_the_ledger_path_that_is_no_ledger_is_refused_and_kept(tmp_path, content, capsys):
    ledger = tmp_path / "l.sqlite"
    ledger.write_bytes(content)
    code, _, err = cli(
        capsys,
        "convert",
        STRIPE,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        ledger,
        "-o",
        tmp_path / "out.si",
    )
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
    (sub / "real.yaml").write_text(
        text + "\ncurrency_rates:\n  file: rates.csv\n", encoding="utf-8"
    )
    shutil.copy(FIXTURES / "fx/rates.csv", sub / "rates.csv")
    # A rate file of other rates beside the link: never read.
    (tmp_path / "rates.csv").write_text(
        "date;currency;rate\n2026-01-05;EUR;99,00\n2026-01-06;EUR;99,00\n", encoding="utf-8"
    )
    (tmp_path / "current.yaml").symlink_to(sub / "real.yaml")
    eur = FIXTURES / "fx/balance_eur.csv"
    assert cli(capsys, "convert", eur, "-m", sub / "real.yaml", "-o", tmp_path / "a.si")[0] == 0
    code, out, err = cli(
        capsys, "convert", eur, "-m", tmp_path / "current.yaml", "-o", tmp_path / "b.si"
    )
    assert code == 3, err
    assert (sub / "real.ledger.sqlite").exists()
    assert not list(tmp_path.glob("*.ledger.sqlite"))
    # Planned afresh through the link and directly: the same vouchers, at the real rates.
    through_link = cli(
        capsys,
        "plan",
        eur,
        "-m",
        tmp_path / "current.yaml",
        "--ledger",
        tmp_path / "fresh.sqlite",
        "--json",
    )[1]
    direct = cli(
        capsys,
        "plan",
        eur,
        "-m",
        sub / "real.yaml",
        "--ledger",
        tmp_path / "fresh2.sqlite",
        "--json",
    )[1]
    assert json.loads(through_link)["to_write"] == json.loads(direct)["to_write"] != []


# -- 1. an earlier export's file is never written over --------------------------------------


def _stripe_part(tmp_path: Path, name: str, rows: slice) -> Path:
    lines = STRIPE.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / name
    path.write_text(lines[0] + "".join(lines[1:][rows]), encoding="utf-8")
    return path


def test_a_second_export_to_the_same_file_is_refused(tmp_path, capsys):
    """Before: both runs exit 0, out.si holds only the second, and the ledger lists both
    exports at one path: the first one's vouchers exist nowhere but in the ledger."""
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    first, second = (
        _stripe_part(tmp_path, "a.csv", slice(0, 18)),
        _stripe_part(tmp_path, "b.csv", slice(18, None)),
    )
    out = tmp_path / "out.si"
    assert cli(capsys, "convert", first, "-m", mapping, "--ledger", ledger, "-o", out)[0] == 0
    written = out.read_bytes()
    code, _, err = cli(capsys, "convert", second, "-m", mapping, "--ledger", ledger, "-o", out)
    assert code == 2
    assert err.startswith(f"bokfor: error: {out}: --out holds export 1 (")
    assert "Fix: give each run a file of its own, e.g. --out 'out/bokfor-{run}.si'" in err
    assert out.read_bytes() == written
    # A file of its own each run: the run's number, or the period.
    assert (
        cli(
            capsys,
            "convert",
            second,
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "bokfor-{run}.si",
        )[0]
        == 0
    )
    assert (tmp_path / "bokfor-2.si").exists()
    # Once the first export is forgotten (its import undone), its file is no export of the
    # ledger: like any file bokfor did not write (another ledger's export, a link to one of
    # the user's files), never written over. Moved away, its path is free again.
    assert cli(capsys, "ledger", "forget", "1", "--yes", "--ledger", ledger)[0] == 0
    code, _, err = cli(capsys, "convert", first, "-m", mapping, "--ledger", ledger, "-o", out)
    assert code == 2
    assert err.startswith(
        f"bokfor: error: {out}: --out names an existing file that no export of this ledger "
        "wrote: bokfor never writes over it Fix:"
    )
    assert out.read_bytes() == written
    out.rename(tmp_path / "undone.si")
    assert cli(capsys, "convert", first, "-m", mapping, "--ledger", ledger, "-o", out)[0] == 0


def test_an_output_never_replaces_another_ledger_s_export_or_a_linked_file(tmp_path, capsys):
    """Two jobs with ledgers of their own and one --out: before, the second replaced the
    first's file (exit 0), whose ledger still recorded its rows as exported. A link named as
    --out replaced the file it points at (any file of the user's)."""
    mapping, out = REPO / "mappings/stripe.yaml", tmp_path / "out.si"
    assert (
        cli(capsys, "convert", STRIPE, "-m", mapping, "--ledger", tmp_path / "a.sqlite", "-o", out)[
            0
        ]
        == 0
    )
    written = out.read_bytes()
    precious = tmp_path / "precious.txt"
    precious.write_text("mine", encoding="utf-8")
    link = tmp_path / "link.si"
    link.symlink_to(precious)
    for path in (out, link):
        code, _, err = cli(
            capsys, "convert", STRIPE, "-m", mapping, "--ledger", tmp_path / "b.sqlite", "-o", path
        )
        assert code == 2, err
        assert "--out names an existing file that no export of this ledger wrote" in err
    assert out.read_bytes() == written and precious.read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "b.sqlite").exists()  # nothing recorded as exported


def test_the_out_template_names_period_source_and_run(tmp_path, capsys):
    code, out, err = cli(
        capsys,
        "convert",
        STRIPE,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "{source}_{from}_{to}_{year}_{run}.si",
    )
    assert code == 0, err
    [path] = tmp_path.glob("*.si")
    assert path.name == "stripe_balance_2026-01-01_2026-02-01_2026_1.si"
    assert f"verifikationer to {path} (export 1 in" in out


# -- 4. a run across a year end: one file a fiscal year ------------------------------------

YEAR_END = FIXTURES / "years/stripe_year_end.csv"


def test_a_run_across_the_year_end_writes_one_file_a_year(tmp_path, capsys):
    """Before: "the vouchers span more than one fiscal year", exit 2, nothing planned."""
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    code, out, err = cli(
        capsys,
        "convert",
        YEAR_END,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "--dry-run",
        "-o",
        tmp_path / "out.si",
    )
    assert code == 0, err
    assert f"Would write 1 verifikationer to {tmp_path / 'out-2025.si'} (räkenskapsår 2025)" in out
    assert f"Would write 1 verifikationer to {tmp_path / 'out-2026.si'} (räkenskapsår 2026)" in out
    code, out, err = cli(
        capsys, "convert", YEAR_END, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "out.si"
    )
    assert code == 0, err
    assert not (tmp_path / "out.si").exists()
    for year in (2025, 2026):
        doc = read(tmp_path / f"out-{year}.si").document
        assert [(y.start.year, y.end.year) for y in doc.fiscal_years] == [(year, year)]
        assert [v.date.year for v in doc.vouchers] == [year]
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT run_id, target FROM exports ORDER BY id").fetchall() == [
            (1, str(tmp_path / "out-2025.si")),
            (1, str(tmp_path / "out-2026.si")),
        ]
    assert (
        cli(
            capsys,
            "convert",
            YEAR_END,
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "again.si",
        )[0]
        == 3
    )


def test_a_fortnox_batch_across_the_year_end_is_one_batch_a_year(tmp_path, capsys):
    code, out, err = cli(
        capsys,
        "convert",
        YEAR_END,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "--format",
        "fortnox",
        "-o",
        tmp_path / "batch-{year}",
    )
    assert code == 0, err
    for year in (2025, 2026):
        manifest = json.loads((tmp_path / f"batch-{year}/manifest.json").read_text())
        assert manifest["count"] == 1
        assert [v.date.year for v in vouchers(tmp_path / f"batch-{year}/vouchers.si")] == [year]


# -- 8. --out through a link, and special files ---------------------------------------------


def test_out_through_a_link_writes_the_linked_file_and_a_crash_after_the_rename_settles(
    tmp_path, capsys
):
    """Before: the rename replaced the link while the ledger recorded its target; after a
    crash at after-rename, recovery hashed the target, dropped the export, and the retry
    booked every voucher again."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "current.si"
    link.symlink_to(real / "jan.si")
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    killed = _run(
        "convert",
        STRIPE,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "-o",
        link,
        BOKFOR_FAULT="after-rename",
    )
    assert killed.returncode == -9, killed.stderr
    assert link.is_symlink() and (real / "jan.si").is_file()
    code, _, err = cli(
        capsys, "convert", STRIPE, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "b.si"
    )
    assert code == 3, err  # settled as written: nothing booked twice
    assert "had written" in err
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT state, target FROM exports").fetchall() == [
            ("done", str(real / "jan.si"))
        ]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_out_that_is_no_regular_file_is_refused_and_left_alone(tmp_path, kind, capsys):
    import os
    import stat

    if kind == "fifo":
        out = tmp_path / "pipe"
        os.mkfifo(out)
    elif kind == "device":  # a null device of its own: never the system's /dev/null
        out = tmp_path / "null"
        try:
            os.mknod(out, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
    else:
        out = tmp_path / "dir.si"
        out.mkdir()
    code, _, err = cli(
        capsys,
        "convert",
        STRIPE,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        out,
    )
    assert code == 2 and "bokfor writes a regular file and replaces nothing else" in err
    assert {"fifo": out.is_fifo, "device": out.is_char_device, "directory": out.is_dir}[kind]()
    assert not list((tmp_path).glob("*.sqlite"))  # nothing recorded


# -- 12. a batch directory keeps what is not bokfor's -------------------------------------


def test_a_batch_never_goes_where_other_files_are(tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "20250-my-notes.json").write_text("{}")
    code, _, err = cli(
        capsys,
        "convert",
        STRIPE,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "--format",
        "fortnox",
        "-o",
        shared,
    )
    assert code == 2 and "is not empty; a batch needs a directory of its own" in err
    assert [p.name for p in shared.iterdir()] == ["20250-my-notes.json"]


def test_settling_an_interrupted_batch_removes_only_its_own_files(tmp_path, capsys):
    mapping, ledger, out = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite", tmp_path / "b"
    killed = _run(
        "convert",
        STRIPE,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "--format",
        "fortnox",
        "-o",
        out,
        BOKFOR_FAULT="before-rename:3",
    )
    assert killed.returncode == -9, killed.stderr
    assert (out / "vouchers.si").exists() and not (out / "manifest.json").exists()
    mine = [out / "20250-my-notes.json", out / ".my-draft.tmp"]
    for path in mine:
        path.write_text("mine")
    assert cli(capsys, "plan", STRIPE, "-m", mapping, "--ledger", ledger)[0] == 0
    assert sorted(out.iterdir()) == sorted(mine)


def test_a_written_file_deleted_or_changed_is_reported(tmp_path, capsys):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    jan, rest = (
        _stripe_part(tmp_path, "a.csv", slice(0, 18)),
        _stripe_part(tmp_path, "b.csv", slice(18, None)),
    )
    assert (
        cli(capsys, "convert", jan, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "1.si")[0]
        == 0
    )
    assert (
        cli(capsys, "convert", rest, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "2.si")[0]
        == 0
    )
    assert cli(capsys, "ledger", "verify", "--ledger", ledger) == (
        0,
        "2 written files checked: each is there with its sha256.\n",
        "",
    )
    (tmp_path / "1.si").unlink()
    data = (tmp_path / "2.si").read_bytes()
    (tmp_path / "2.si").write_bytes(data + b"\r\n")  # one more line: changed
    code, _, err = cli(capsys, "ledger", "verify", "--ledger", ledger)
    assert code == 2 and "2 of 2 written files are not as bokfor wrote them" in err
    assert f"export 1's file {tmp_path / '1.si'} (" in err and "was deleted after" in err
    assert "was changed after bokfor wrote it" in err
    # Every run says so too, without hashing what did not move; --strict stops.
    code, _, err = cli(capsys, "plan", jan, "-m", mapping, "--ledger", ledger)
    assert code == 3 and err.count("bokfor: warning: ") == 2
    assert "run `bokfor ledger forget 1 --yes` and convert again" in err
    code, _, err = cli(capsys, "plan", jan, "-m", mapping, "--ledger", ledger, "--strict")
    assert code == 2 and "--strict: 2 warnings that may mean rows booked twice or lost" in err
    # Imported, then archived: nothing more to say.
    code, out, _ = cli(capsys, "ledger", "imported", "1", "2", "--ledger", ledger)
    assert code == 0 and out.count("is imported: its file may be archived.") == 2
    assert cli(capsys, "ledger", "verify", "--ledger", ledger)[0] == 0
    code, _, err = cli(capsys, "plan", jan, "-m", mapping, "--ledger", ledger, "--strict")
    assert (code, err) == (3, "")


# -- 13. one statement in two formats ------------------------------------------------------


def test_the_same_statement_from_another_format_is_a_doubt(tmp_path, capsys):
    """Three transactions of the camt.053 sample, as SEB's CSV lists them: booked from the
    camt file, the CSV's rows are new by key (the formats share none) but each names the
    movement it shares. Before: booked twice without a word."""
    mapping, ledger = OLD / "bank.yaml", tmp_path / "l.sqlite"
    csv, camt = IDENTITY / "seb_same_as_camt.csv", SAMPLES / "bank/camt053_seb.xml"
    assert (
        cli(capsys, "convert", camt, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "a.si")[0]
        == 0
    )
    code, _, err = cli(capsys, "plan", csv, "-m", mapping, "--ledger", ledger)
    assert code == 0
    assert err.splitlines() == [
        f"bokfor: warning: {csv}:{line}: {shown} on 1930 may be booked already: "
        f"bank:SE4550000000058398257466:{key} was exported from camt (another format of the "
        "same bank account)"
        for line, shown, key in (
            (2, "2026-01-30, -125,00", "2026-01-30:2026013010000042"),
            (3, "2026-01-12, -18\u00a0500,00", "2026-01-12:2026011240000981"),
            (4, "2026-01-02, 12\u00a0345,67", "2026-01-02:2026010250001234"),
        )
    ]
    code, _, err = cli(
        capsys,
        "convert",
        csv,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "-o",
        tmp_path / "b.si",
        "--strict",
    )
    assert code == 2
    assert err.startswith(
        f"bokfor: error: {csv}: --strict: 3 warnings that may mean rows "
        "booked twice or lost; nothing was written"
    )
    assert not (tmp_path / "b.si").exists()
    # In one run, the two formats name each other.
    code, _, err = cli(
        capsys, "plan", camt, csv, "-m", mapping, "--ledger", tmp_path / "fresh.sqlite"
    )
    assert (
        f"{csv}:2: 2026-01-30, -125,00 on 1930 may be booked already: it is also at {camt}:" in err
        and "read as camt (another format of the same bank account)" in err
    )


def test_an_account_named_otherwise_stops_the_run(tmp_path, capsys):
    """Exported without --bank-account, read again with it: the same rows under another name
    of their account. Before the review, a warning only (12 rows booked again)."""
    mapping, ledger = OLD / "bank.yaml", tmp_path / "l.sqlite"
    csv = SAMPLES / "bank/netbank/seb.csv"
    assert (
        cli(capsys, "convert", csv, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "a.si")[0]
        == 0
    )
    args = [
        "convert",
        csv,
        "-m",
        mapping,
        "--ledger",
        ledger,
        "-o",
        tmp_path / "b.si",
        "--bank-account",
        "SE45 5000 0000 0583 9825 7466",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 2 and not (tmp_path / "b.si").exists()
    assert err.startswith(
        "bokfor: error: 12 rows were exported before under another name of "
        "their bank account; nothing was written Fix: run as that export "
        "was run"
    )
    assert "add --other-account.\n" in err
    assert err.count(" was exported as bank:seb:") == 12
    # Another account's rows that happen to be the same: the user says so.
    assert cli(capsys, *args, "--other-account")[0] == 0


def test_a_profile_of_ones_own_for_a_known_bank_keys_as_the_built_in(tmp_path, capsys):
    """A copy of the built-in SEB layout under another name, without the value date and the
    balance: its rows are the built-in's (before the review: booked again)."""
    text = (OLD / "bank.yaml").read_text(encoding="utf-8")
    own = text.replace(
        "    bank_accounts:\n",
        """    profiles:
      seb_own:
        title: SEB (my own)
        file: csv
        header: [Bokföringsdatum, Valutadatum, Verifikationsnummer, Text, Belopp, Saldo]
        delimiter: ";"
        columns: {date: Bokföringsdatum, amount: Belopp, text: Text}
        date_format: "%Y-%m-%d"
        decimal_mark: "."
        currency: SEK
        order: newest_first
    bank_accounts:
      seb_own: 1930
""",
        1,
    )
    (tmp_path / "own.yaml").write_text(own, encoding="utf-8")
    ledger, csv = tmp_path / "l.sqlite", SAMPLES / "bank/netbank/seb.csv"
    assert (
        cli(
            capsys,
            "convert",
            csv,
            "-m",
            OLD / "bank.yaml",
            "--ledger",
            ledger,
            "-o",
            tmp_path / "a.si",
        )[0]
        == 0
    )
    code, out, _ = cli(capsys, "plan", csv, "-m", tmp_path / "own.yaml", "--ledger", ledger)
    assert code == 3 and f"{csv}: netbank, 12 rows -> 0 new" in out


def test_a_new_ledger_gets_the_mode_the_umask_gives(tmp_path, capsys):
    import os

    old = os.umask(0o027)
    try:
        assert (
            cli(
                capsys,
                "convert",
                STRIPE,
                "-m",
                REPO / "mappings/stripe.yaml",
                "--ledger",
                tmp_path / "l.sqlite",
                "-o",
                tmp_path / "out.si",
            )[0]
            == 0
        )
    finally:
        os.umask(old)
    assert (tmp_path / "l.sqlite").stat().st_mode & 0o777 == 0o640


def test_forgetting_corrections_in_any_order_never_makes_the_row_new(tmp_path, capsys):
    """Before: forget the first correction, then the second: the row came back new and its
    latest amount was booked on top of the first booking (review finding)."""
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    text = STRIPE.read_text(encoding="utf-8")
    versions = [STRIPE]
    for n, amount in enumerate(("1390.00,21.15,,,1368.85", "1490.00,21.15,,,1468.85"), 2):
        versions.append(tmp_path / f"v{n}.csv")
        versions[-1].write_text(text.replace(OLD_ROW, amount), encoding="utf-8")
    for n, version in enumerate(versions, 1):
        extra = ["--correct"] if n > 1 else []
        assert (
            cli(
                capsys,
                "convert",
                version,
                "-m",
                mapping,
                "--ledger",
                ledger,
                "-o",
                tmp_path / f"{n}.si",
                *extra,
            )[0]
            == 0
        )
    code, out, _ = cli(capsys, "ledger", "forget", "2", "--yes", "--ledger", ledger)
    assert out == (
        "Forgot export 2: a later correction holds its rows; forgetting that one "
        "too gives them back the booking they had before this export.\n"
    )
    assert cli(capsys, "ledger", "forget", "3", "--yes", "--ledger", ledger)[0] == 0
    code, out, _ = cli(capsys, "plan", versions[-1], "-m", mapping, "--ledger", ledger)
    assert "0 verifikationer to add (+)" in out and "1 row changed (~)" in out


def test_an_earlier_exports_file_under_another_name_is_refused_too(tmp_path, capsys):
    """A hard link (or another spelling on a case-insensitive disk) is the same file."""
    import os

    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    first, second = (
        _stripe_part(tmp_path, "a.csv", slice(0, 18)),
        _stripe_part(tmp_path, "b.csv", slice(18, None)),
    )
    assert (
        cli(capsys, "convert", first, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "out.si")[
            0
        ]
        == 0
    )
    os.link(tmp_path / "out.si", tmp_path / "same.si")
    code, _, err = cli(
        capsys, "convert", second, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "same.si"
    )
    assert code == 2 and "--out holds export 1 (" in err


@pytest.mark.parametrize(
    "template, message",
    [
        ("o/{year!r}.si", "{year} takes no conversion or format"),
        ("o/{run:03}.si", "{run} takes no conversion or format"),
        ("o/{month}.si", "names {month}, which bokfor does not know"),
    ],
)
def test_an_out_template_is_checked_before_anything_is_read(tmp_path, capsys, template, message):
    code, _, err = cli(
        capsys,
        "convert",
        STRIPE,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / template,
    )
    assert code == 2 and message in err and not list(tmp_path.iterdir())


def test_an_escaped_brace_is_no_year_field(tmp_path, capsys):
    code, err = _convert_year_end(capsys, tmp_path, "{{year}}.si")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("*.si")) == ["{year}-2025.si", "{year}-2026.si"]


def test_after_the_upgrade_a_profile_edit_still_finds_the_old_rows(tmp_path, capsys):
    """Exported by the previous release with a profile that reads the reference and the
    balance (their former keys hold both). The first run after the upgrade finds the rows by
    their former keys and learns their new keys; the profile is then edited, and they are
    still found (before: 11 new, no warning)."""
    ledger = tmp_path / "l.sqlite"
    shutil.copy(OLD / "sparbanken.ledger.sqlite", ledger)
    statement = IDENTITY / "sparbanken.csv"
    code, out, _ = cli(
        capsys,
        "convert",
        statement,
        "-m",
        IDENTITY / "bank_full.yaml",
        "--ledger",
        ledger,
        "-o",
        tmp_path / "a.si",
    )
    assert code == 3 and "0 verifikationer to add (+), 11 already exported (=)" in out
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM renamed").fetchone() == (11,)
    code, out, _ = cli(
        capsys,
        "convert",
        statement,
        "-m",
        IDENTITY / "bank_lean.yaml",
        "--ledger",
        ledger,
        "-o",
        tmp_path / "b.si",
    )
    assert code == 3 and "0 verifikationer to add (+), 11 already exported (=)" in out


def test_edited_at_the_upgrade_the_old_rows_are_doubts(tmp_path, capsys):
    """Upgraded and edited at once: neither key matches, but the movement an older ledger's
    row is given at the migration (account, day, amount) makes each row a doubt."""
    ledger = tmp_path / "l.sqlite"
    shutil.copy(OLD / "sparbanken.ledger.sqlite", ledger)
    # The file the fixture's export wrote, where it was written (under /tmp on the machine
    # that made it): there, so that the only warnings are the doubts on any machine.
    written = tmp_path / "sparbanken.si"
    written.touch()
    with sqlite3.connect(ledger) as conn:
        conn.execute("UPDATE exports SET target = ?", (str(written),))
    conn.close()
    code, out, err = cli(
        capsys,
        "plan",
        IDENTITY / "sparbanken.csv",
        "-m",
        IDENTITY / "bank_lean.yaml",
        "--ledger",
        ledger,
    )
    assert (
        err.count("may be booked already: an earlier bokfor exported bank:890123456789012:") == 11
    )
    code, _, err = cli(
        capsys,
        "convert",
        IDENTITY / "sparbanken.csv",
        "-m",
        IDENTITY / "bank_lean.yaml",
        "--ledger",
        ledger,
        "-o",
        tmp_path / "b.si",
        "--strict",
    )
    assert code == 2 and "--strict: 11 warnings that may mean rows booked twice" in err


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_overlapping_downloads_book_the_copy_that_names_its_payout(tmp_path, capsys, order):
    """An older download's charges do not name the payout yet; the newer one's do. Booked
    per payout, the copy that names it counts, whichever file is given first (before: the
    first file's copy, held back waiting for a payout it never got)."""
    import csv as csvmodule
    import io

    payout = "po_1Q3vubRb7qLmX2vT0ZpiL2PG"
    rows = list(csvmodule.reader(io.StringIO(STRIPE.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    at = header.index("Transfer")
    older = [
        r[:at] + ["", ""] + r[at + 2 :] if r[at] == payout else r for r in body if r[2] != payout
    ]
    paths = {}
    for name, data in (("older", older), ("newer", body)):
        out = io.StringIO()
        csvmodule.writer(out, lineterminator="\n").writerows([header, *data])
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(out.getvalue(), encoding="utf-8")
    mapping = tmp_path / "stripe.yaml"
    mapping.write_text(
        (REPO / "mappings/stripe.yaml")
        .read_text(encoding="utf-8")
        .replace("grouping: per_day", "grouping: per_payout", 1),
        encoding="utf-8",
    )
    inputs = (
        [paths["older"], paths["newer"]]
        if order == "older first"
        else [paths["newer"], paths["older"]]
    )
    code, out, err = cli(
        capsys,
        "convert",
        *inputs,
        "-m",
        mapping,
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "both.si",
    )
    assert code == 0, err
    assert (
        cli(
            capsys,
            "convert",
            paths["newer"],
            "-m",
            mapping,
            "--ledger",
            tmp_path / "alone.sqlite",
            "-o",
            tmp_path / "alone.si",
        )[0]
        == 0
    )
    assert vouchers(tmp_path / "both.si") == vouchers(tmp_path / "alone.si")


def test_two_copies_with_other_content_and_correct_book_the_last(tmp_path, capsys):
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    first = STRIPE
    second = tmp_path / "second.csv"
    second.write_text(
        STRIPE.read_text(encoding="utf-8").replace(OLD_ROW, NEW_ROW), encoding="utf-8"
    )
    code, _, err = cli(
        capsys, "convert", first, second, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "a.si"
    )
    assert code == 2 and "1 row of this run is in two files with other content" in err
    assert (
        cli(
            capsys,
            "convert",
            first,
            second,
            "-m",
            mapping,
            "--ledger",
            ledger,
            "-o",
            tmp_path / "a.si",
            "--correct",
        )[0]
        == 0
    )
    # The last copy counts: the second file alone has nothing new.
    assert (
        cli(capsys, "convert", second, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "b.si")[
            0
        ]
        == 3
    )


@pytest.mark.parametrize("point", ["before-rename:2", "after-rename"])
def test_a_crash_between_the_files_of_one_run_books_each_row_once(tmp_path, point, capsys):
    """A run across the year end writes two files; killed between them (the first renamed
    into place, the second not), or after both, the next run settles each by its own file
    and books what is missing, once. (Before any rename, a run is one file's case:
    tests/test_ledger.py.)"""
    mapping, ledger = REPO / "mappings/stripe.yaml", tmp_path / "l.sqlite"
    args = ("convert", YEAR_END, "-m", mapping, "--ledger", ledger, "-o", tmp_path / "out.si")
    killed = _run(*args, BOKFOR_FAULT=point)
    assert killed.returncode == -9, killed.stderr
    code, _, err = cli(capsys, *args[:-1], tmp_path / "again-{run}.si")  # in this process
    assert code in (0, 3), err
    booked = [v for path in sorted(tmp_path.glob("*.si")) for v in vouchers(path)]
    assert sorted(v.date.year for v in booked) == [2025, 2026]
    assert cli(capsys, *args[:-1], tmp_path / "third.si")[0] == 3
    assert not list(tmp_path.glob(".*.tmp"))


# -- 5. the export protocol under faults (a review of 5a86127) -----------------------------


def _convert_year_end(
    capsys, tmp_path: Path, out: str = "out.si", source: Path = YEAR_END
) -> tuple[int, str]:
    """convert the year-end sample (or `source`) into `tmp_path` (a file a fiscal year), with
    the shipped mapping and a ledger there: exit code, stderr."""
    code, _, err = cli(
        capsys,
        "convert",
        source,
        "-m",
        REPO / "mappings/stripe.yaml",
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / out,
    )
    return code, err


def _exported_keys(ledger: Path) -> int:
    with sqlite3.connect(ledger) as conn:
        return conn.execute(
            "SELECT count(*) FROM rows r JOIN vouchers v ON v.id = r.voucher_id JOIN exports e "
            "ON e.id = v.export_id WHERE e.state = 'done'"
        ).fetchone()[0]


def test_a_run_that_fails_recording_its_second_file_leaves_the_first_file_s_rows_new(
    tmp_path, capsys, monkeypatch
):
    """Before: the failure removed every temp file, the first part's too, whose export was
    already recorded pending; the next run read "temp file gone" as "put in place and
    moved away" and recorded its rows as exported, in no file."""
    from bokfor.ledger import Ledger, LedgerWriteError

    begin = Ledger.begin_export
    calls = []

    def second_fails(self, **kw):
        calls.append(kw["target"])
        if len(calls) == 2:
            raise LedgerWriteError("the ledger could not be written: disk I/O error")
        return begin(self, **kw)

    monkeypatch.setattr(Ledger, "begin_export", second_fails)
    code, err = _convert_year_end(capsys, tmp_path)
    monkeypatch.undo()
    assert code == 1 and "disk I/O error" in err, err
    assert not (tmp_path / "out-2025.si").exists() and not (tmp_path / "out-2026.si").exists()
    code, err = _convert_year_end(capsys, tmp_path)
    assert code == 0 and "never finished writing" in err, err
    assert [len(read(tmp_path / f"out-{y}.si").document.vouchers) for y in (2025, 2026)] == [1, 1]
    assert not list(tmp_path.glob(".out-*.tmp"))


@pytest.mark.parametrize("fault", ["temp-removed", "file-appeared"])
def test_a_file_that_cannot_be_put_in_place_leaves_its_rows_new(
    tmp_path, capsys, monkeypatch, fault
):
    """The temp file removed before the rename (by hand, or by another ledger's recovery
    before it removed only its own), or a file written at the target by another job after
    the checks: before, the second case replaced that file (exit 0, both ledgers recording
    it), the first was later recorded as exported in no file. Now the run fails, forgets the
    export at once, and leaves another's file alone."""
    from bokfor import fileio

    point = fileio.faults.point

    def interfere(name: str) -> None:
        if name == "before-rename":
            if fault == "temp-removed":
                for tmp in tmp_path.glob(".out-*.tmp"):
                    tmp.unlink()
            else:
                (tmp_path / "out-2025.si").write_text("another job's", encoding="utf-8")
        point(name)

    monkeypatch.setattr(fileio.faults, "point", interfere)
    code, err = _convert_year_end(capsys, tmp_path)
    monkeypatch.undo()
    assert code == 1, err
    if fault == "file-appeared":
        assert "another run wrote this file meanwhile: bokfor never writes over it" in err
        assert (tmp_path / "out-2025.si").read_text(encoding="utf-8") == "another job's"
        (tmp_path / "out-2025.si").unlink()
    assert _exported_keys(tmp_path / "l.sqlite") == 0
    assert not list(tmp_path.glob(".out-*.tmp"))
    code, err = _convert_year_end(capsys, tmp_path)
    assert code == 0, err
    assert _exported_keys(tmp_path / "l.sqlite") == 2


def test_a_recovery_removes_its_own_temp_file_only(tmp_path, capsys):
    """Two ledgers writing into one folder: settling one's interrupted export removed every
    `.out.si.*.tmp` there, another run's in-flight temp file too."""
    import os
    import subprocess
    import sys

    args = ["convert", str(STRIPE), "-m", str(REPO / "mappings/stripe.yaml")]
    killed = subprocess.run(
        [sys.executable, "-m", "bokfor", *args, "--ledger", str(tmp_path / "b.sqlite"),
         "-o", str(tmp_path / "out.si")],
        env={**os.environ, "BOKFOR_FAULT": "after-ledger-pending"},
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9
    (own,) = tmp_path.glob(".out.si.*.tmp")
    other = tmp_path / ".out.si.another-run.tmp"
    other.write_text("another run's", encoding="utf-8")
    code, _, err = cli(capsys, "plan", *args[1:], "--ledger", tmp_path / "b.sqlite")
    assert code == 0 and "never finished writing" in err, err
    assert not own.exists() and other.read_text(encoding="utf-8") == "another run's"


def _stripe_convert(capsys, tmp_path: Path, out: str = "out.si") -> tuple[int, str]:
    return _convert_year_end(capsys, tmp_path, out, source=STRIPE)


@pytest.mark.parametrize(
    "fault",
    [
        "killed-between-link-and-unlink",
        "link-says-exists-after-linking",
        "interrupted-as-recorded",
        "temp-gone-and-forget-fails",
    ],
)
def test_the_export_protocol_s_edges_neither_lose_nor_double(tmp_path, capsys, monkeypatch, fault):
    """A second review of the protocol: each of these once ended with 29 vouchers in two
    files, or 36 rows recorded as exported in no file. After each, the file written (if
    any) is taken away, as an import job would, and the next run books each row once."""
    from bokfor import fileio
    from bokfor.ledger import Ledger, LedgerWriteError

    real_link, real_unlink, real_begin = fileio.os.link, fileio.os.unlink, Ledger.begin_export
    if fault == "killed-between-link-and-unlink":

        def unlink(path, *a, **kw):
            if Path(path).name.startswith(".out.si."):
                raise KeyboardInterrupt  # as a kill there would stop it
            real_unlink(path, *a, **kw)

        monkeypatch.setattr(fileio.os, "unlink", unlink)
    elif fault == "link-says-exists-after-linking":  # a link retried by NFS

        def link(src, dst, *a, **kw):
            real_link(src, dst, *a, **kw)
            if str(dst).endswith(".si"):
                raise FileExistsError(17, "File exists")

        monkeypatch.setattr(fileio.os, "link", link)
    elif fault == "interrupted-as-recorded":

        def begin(self, **kw):
            real_begin(self, **kw)
            raise KeyboardInterrupt

        monkeypatch.setattr(Ledger, "begin_export", begin)
    else:
        point = fileio.faults.point

        def interfere(name):
            if name == "before-rename":
                for tmp in tmp_path.glob(".out.si.*.tmp"):
                    tmp.unlink()
            point(name)

        def busy(self, export_id):
            raise LedgerWriteError("the ledger could not be written: database is locked")

        monkeypatch.setattr(fileio.faults, "point", interfere)
        monkeypatch.setattr(Ledger, "forget", busy)
    _stripe_convert(capsys, tmp_path)
    monkeypatch.undo()
    written = [p for p in [tmp_path / "out.si"] if p.exists()]
    first = len(vouchers(written[0])) if written else 0
    if written:
        written[0].rename(tmp_path / "imported.si")
    code, err = _stripe_convert(capsys, tmp_path, "again.si")
    again = len(vouchers(tmp_path / "again.si")) if (tmp_path / "again.si").exists() else 0
    assert first + again == 29, (first, again, err)
    assert len(keys(tmp_path / "l.sqlite")) == 36
    code, err = _stripe_convert(capsys, tmp_path, "third.si")
    assert code == 3, err
