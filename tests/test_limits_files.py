"""Tables and workbooks built to exhaust the machine (issue 19, items 3, 4 and 6): each ends
in one message naming the limit, the file and the line, with its exit code, within 10 s and
300 MiB (`tests/limits.py` runs the real CLI in a child and reads its own peak RSS). The
hostile inputs are generated here, never committed. Small cases whose cost is not in doubt
run in-process, for their exact messages across every table reader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bokfor.sources import tables

from .limits import run_limited
from .test_errors import run_cli
from .test_hostile import _ledger_connections

REPO = Path(__file__).parent.parent
SAMPLES = REPO / "samples"
MAPPINGS = REPO / "mappings"
BALANCE = SAMPLES / "stripe" / "balance_history.csv"

FIX = "Fix: no real export comes near this limit; "
STRIPE_BALANCE = "re-download the export from the Stripe Dashboard (Balance → Export)."
BANK = (
    "download the export from the bank again and give bokfor that file unopened (a "
    "spreadsheet that re-saves it changes dates, numbers and encoding)."
)
ZETTLE = "export the report again from my.zettle.com and give bokfor that file unedited."
ZREPORT = "export the Z-dagrapport again from the register, or fix the profile (docs/pos.md)."
XLSX = "download the export again (from the bank, Zettle…) and give bokfor that file unopened."
CSV_INSTEAD = (
    "Fix: no real export's workbook comes near it; if this is one, export it as CSV "
    "instead (the bank's or Zettle's CSV export, or the sheet saved as CSV UTF-8) "
    "and give bokfor that file."
)


def convert(path: Path, mapping: str, tmp_path: Path):
    return run_limited(
        [
            "convert",
            str(path),
            "-m",
            str(MAPPINGS / mapping),
            "-o",
            str(tmp_path / "out.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--dry-run",
            "--show",
            "0",
        ],
        cwd=tmp_path,
        timeout=30,
    )


def convert_in_process(path: Path, mapping: str, tmp_path: Path, capsys) -> tuple[int, str]:
    code, _, err = run_cli(
        [
            "convert",
            str(path),
            "-m",
            str(MAPPINGS / mapping),
            "-o",
            str(tmp_path / "out.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--dry-run",
            "--show",
            "0",
        ],
        capsys,
    )
    return code, err


# -- CSV: columns, lines, cells --------------------------------------------------------------

LINE_CAP = "the line is longer than 1 MiB, the longest line bokfor reads in a table"
CELL_CAP = "a field is longer than 64 KiB, the longest field bokfor reads in a table"


def refused_within_limits(
    path: Path, mapping: str, tmp_path: Path, where: str, message: str, fix: str
) -> None:
    """The real CLI in a child: exit 2, exactly `where: message Fix`, 10 s and 300 MiB."""
    got = convert(path, mapping, tmp_path)
    assert (got.code, got.err) == (2, f"bokfor: error: {where}: {message} {fix}\n")
    got.within_limits()


def test_a_million_metadata_columns_cost_one_mebibyte_not_gigabytes(tmp_path):
    """Issue 19: a Stripe balance export with 10⁶ `(metadata)` columns and 35 rows took
    1.47 GB. Its header line is read a cap at a time, never whole."""
    header, *rows = BALANCE.read_text(encoding="utf-8").splitlines()
    n = 1_000_000
    path = tmp_path / "balance.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "".join(f",k{i} (metadata)" for i in range(n)) + "\n")
        for row in rows[:35]:
            f.write(row + "," * n + "\n")
    refused_within_limits(
        path, "stripe.yaml", tmp_path, f"{path}:1", LINE_CAP, FIX + STRIPE_BALANCE
    )


def test_a_record_spanning_lines_is_capped_as_one_line(tmp_path):
    """Quoted line breaks join short lines into one record of ever more fields (each line
    under the cap, 60 of them 60 million fields): the record's lines count together."""
    header = BALANCE.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "balance.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + '\ntxn_1,charge,"a\n')
        for _ in range(60):
            f.write('"' + "," * 1_000_000 + '"b\n')
        f.write('"\n')
    refused_within_limits(
        path, "stripe.yaml", tmp_path, f"{path}:2", LINE_CAP, FIX + STRIPE_BALANCE
    )


def test_a_cell_over_its_cap_spanning_lines_is_one_message(tmp_path):
    """A quoted description of 40 000 short lines: each line under the line cap, the cell
    over its own; the message names the line where the record starts."""
    lines = BALANCE.read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[11] = '"' + cells[11] + "\nx" * 40_000 + '"'  # Description
    lines[5] = ",".join(cells)
    path = tmp_path / "balance.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused_within_limits(
        path, "stripe.yaml", tmp_path, f"{path}:6", CELL_CAP, FIX + STRIPE_BALANCE
    )


# Every reader of a CSV-like table (its last line made hostile), with the file's own hint.
READERS = [
    ("stripe/balance_history.csv", "stripe.yaml", STRIPE_BALANCE),
    (
        "stripe/unified_payments.csv",
        "stripe.yaml",
        "re-download the export from the Stripe Dashboard (Payments → Export).",
    ),
    ("stripe/payouts.csv", "stripe.yaml", "re-download the file from the Stripe Dashboard."),
    (
        "stripe/Itemized_balance_change_from_activity_SEK_2026-01-01_to_2026-02-01_Europe-"
        "Stockholm.csv",
        "stripe.yaml",
        "re-download the itemized report from the Stripe Dashboard (Reports).",
    ),
    ("bank/netbank/seb.csv", "bank.yaml", BANK),
    ("bank/netbank/nordea.csv", "bank.yaml", BANK),
    ("pos/zettle_receipts_sv.csv", "pos.yaml", ZETTLE),
    ("pos/zettle_statement_sv.csv", "pos.yaml", ZETTLE),
    ("pos/z-dagrapport_K1_1001.csv", "pos.yaml", ZREPORT),
]
KINDS = {
    "line": (lambda d: "x" * (1 << 20), LINE_CAP),
    "columns": (
        lambda d: d * 1500,
        "the line has {n} fields, more than the 1 000 bokfor reads in a table",
    ),
    "cell": (lambda d: d + '"' + "y" * (65 << 10) + '"', CELL_CAP),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sample, mapping, hint", READERS, ids=[r[0] for r in READERS])
def test_every_table_reader_holds_the_caps(tmp_path, capsys, sample, mapping, hint, kind):
    source = SAMPLES / sample
    text = source.read_bytes().decode("utf-8-sig")
    lines = text.splitlines()
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    grow, message = KINDS[kind]
    lines[-1] += grow(delimiter)
    path = tmp_path / source.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fields = len(lines[-1].split(delimiter))  # no quoted delimiters in the samples' last lines
    code, err = convert_in_process(path, mapping, tmp_path, capsys)
    assert (code, err) == (
        2,
        f"bokfor: error: {path}:{len(lines)}: "
        f"{message.format(n=f'{fields:,}'.replace(',', ' '))} "
        f"{FIX}{hint}\n",
    )


def test_an_html_table_row_of_a_thousand_cells(tmp_path, capsys):
    source = SAMPLES / "bank" / "netbank" / "handelsbanken_kontotransactionlist.xls"
    text = source.read_bytes().decode("latin-1")
    end = text.rindex("</table>")
    line = text.count("\n", 0, end) + 2  # the row goes on a line of its own
    path = tmp_path / source.name
    path.write_bytes(
        (text[:end] + "\n<tr>" + "<td>1</td>" * 1001 + "</tr>\n" + text[end:]).encode("latin-1")
    )
    code, err = convert_in_process(path, "bank.yaml", tmp_path, capsys)
    assert (code, err) == (
        2,
        f"bokfor: error: {path}:{line}: the line has 1 001 fields, more "
        f"than the 1 000 bokfor reads in a table {FIX}{XLSX}\n",
    )


# -- xlsx: parts capped before parsing, a workbook opened once a run --------------------------


def workbook(path: Path, strings: list[str], sheet_xml: str) -> Path:
    """A minimal xlsx: one sheet, its shared strings (written here: openpyxl would write
    inline strings and a size declaration, and take minutes for these)."""
    ns = "http://schemas.openxmlformats.org/"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ns}package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        f'officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        f'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        f'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}officeDocument/2006/relationships/officeDocument" '
        f'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}spreadsheetml/2006/main" xmlns:r="{ns}officeDocument/2006/'
        f'relationships"><sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets>'
        f"</workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{ns}package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{ns}officeDocument/'
        f'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/sharedStrings.xml": f'<sst xmlns="{ns}spreadsheetml/2006/main">'
        + "".join(f"<si><t>{s}</t></si>" for s in strings)
        + "</sst>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{ns}spreadsheetml/2006/main"><sheetData>{sheet_xml}'
        f"</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def test_shared_strings_over_their_cap_are_not_parsed(tmp_path):
    """1 MB of workbook, 8.7 MiB of short shared strings: openpyxl took a minute and 300 MiB
    to parse them, and every detector parsed them again."""
    path = workbook(
        tmp_path / "strings.xlsx",
        [f"{i:x}" for i in range(440_000)],
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
    )
    refused_within_limits(
        path,
        "bank.yaml",
        tmp_path,
        str(path),
        "the workbook part "
        "'xl/sharedStrings.xml' inflates to 8.7 MiB, more than the 8 MiB of "
        "shared strings bokfor reads",
        CSV_INSTEAD,
    )


def test_a_sheet_over_its_cap_is_not_parsed(tmp_path):
    """A sheet without a size declaration is parsed whole when openpyxl opens the workbook
    (to find its size), by every detector: 33 MiB of rows."""
    row = (
        '<row><c t="s"><v>0</v></c><c><v>45000</v></c><c><v>-123.45</v></c>'
        "<c><v>98765.43</v></c></row>"
    )
    rows = row * ((33 << 20) // len(row))
    path = workbook(tmp_path / "sheet.xlsx", ["Datum"], rows)
    refused_within_limits(
        path,
        "bank.yaml",
        tmp_path,
        str(path),
        "the workbook part "
        "'xl/worksheets/sheet1.xml' inflates to 33.0 MiB, more than the "
        "32 MiB bokfor reads",
        CSV_INSTEAD,
    )


def test_a_zip_bomb_is_named_as_such_not_as_an_unknown_format(tmp_path, capsys):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 << 20))
    ratio = (4 << 20) // zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").compress_size
    code, err = convert_in_process(path, "bank.yaml", tmp_path, capsys)
    assert (code, err) == (
        2,
        f"bokfor: error: {path}: the workbook member "
        f"'xl/worksheets/sheet1.xml' is compressed {ratio}:1, far beyond "
        f"a real spreadsheet (a zip bomb?) Fix: {XLSX}\n",
    )


def test_a_sheet_row_of_a_thousand_columns(tmp_path, capsys):
    cells = "".join(f"<c><v>{i}</v></c>" for i in range(1001))
    path = workbook(tmp_path / "wide.xlsx", ["x"], f'<row r="1">{cells}</row>')
    code, err = convert_in_process(path, "bank.yaml", tmp_path, capsys)
    assert (code, err) == (
        2,
        f"bokfor: error: {path}:1: the line has 1 001 fields, more than "
        f"the 1 000 bokfor reads in a table {FIX}{XLSX}\n",
    )


@pytest.mark.parametrize(
    "name, mapping",
    [("bank/netbank/seb.xlsx", "bank.yaml"), ("bank/netbank/skandia.xlsx", "bank.yaml")],
)
def test_a_workbook_is_opened_once_a_run(tmp_path, capsys, monkeypatch, name, mapping):
    """Every net-bank xlsx profile and both Zettle reports look at an xlsx input: each used
    to open it (its shared strings parsed, its sheets sized) again."""
    opened: list[Path] = []
    real = tables._open
    monkeypatch.setattr(tables, "_open", lambda path: opened.append(path) or real(path))
    monkeypatch.setattr(tables, "_opened", type(tables._opened)())  # none left by other tests
    path = tmp_path / Path(name).name
    path.write_bytes((SAMPLES / name).read_bytes())
    convert_in_process(path, mapping, tmp_path, capsys)
    assert opened == [path]
    other = tmp_path / "other.xlsx"
    workbook(other, ["Hej"], '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    code, err = convert_in_process(other, mapping, tmp_path, capsys)
    assert code == 2 and "not a file bokfor can read" in err
    assert opened == [path, other]


def test_a_replaced_workbook_is_opened_anew(tmp_path):
    path = workbook(tmp_path / "w.xlsx", ["före"], '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    assert list(tables.xlsx_rows(path)) == [(1, ["före"])]
    workbook(
        tmp_path / "new.xlsx", ["efter!"], '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    ).replace(path)
    assert list(tables.xlsx_rows(path)) == [(1, ["efter!"])]


# -- the ledger: a hint that fits SQLite's error -------------------------------------------------


def test_a_read_only_ledger_is_not_told_to_free_disk_space(tmp_path, capsys, monkeypatch):
    """SQLite's own SQLITE_READONLY (`PRAGMA query_only`: as root a chmod would not stop the
    write): the fix is the file's permissions, not the disk's space."""

    def read_only(conn):
        conn.execute("PRAGMA query_only = 1")
        return conn

    _ledger_connections(monkeypatch, read_only)
    code, _, err = run_cli(
        [
            "convert",
            str(BALANCE),
            "-m",
            str(MAPPINGS / "stripe.yaml"),
            "-o",
            str(tmp_path / "x.si"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--quiet",
        ],
        capsys,
    )
    assert (code, err) == (
        1,
        (
            f"bokfor: error: {tmp_path / 'l.sqlite'}: the ledger could not be written: attempt to "
            "write a readonly database Fix: make the ledger file and its folder writable for the "
            "user bokfor runs as (or give --ledger another path), then run again: nothing was "
            "written or recorded as exported.\n"
        ),
    )
    assert not (tmp_path / "x.si").exists()


@pytest.mark.parametrize(
    "error, remedy",
    [
        (
            "disk I/O error",
            "check the disk that holds the ledger: SQLite could not read or write it "
            "(a failing disk, a network share gone; or give --ledger another path)",
        ),
        (
            "database or disk is full",
            "free space on the disk that holds the ledger (or give --ledger another path)",
        ),
    ],
)
def test_the_ledger_hint_names_what_sqlite_said(error, remedy):
    import sqlite3

    from bokfor.ledger import _FREE, _fit

    assert (
        _fit(_FREE + ", then run again.", sqlite3.OperationalError(error))
        == remedy + ", then run again."
    )


def test_a_child_s_peak_memory_is_its_own_not_its_parent_s(tmp_path):
    """Linux hands a parent's high-water RSS to the children it starts (`ru_maxrss`): after
    this process once held 400 MiB, `bokfor --help` must still measure as itself."""
    held = bytearray(400 << 20)
    del held
    got = run_limited(["--help"], cwd=tmp_path)
    assert got.code == 0
    assert got.peak_rss < 100 << 20, f"{got.peak_rss >> 20} MiB"
