"""Rows of spreadsheet-like bank exports: `.xlsx` workbooks and HTML tables saved as `.xls`.

The net-bank layouts (`netbank.py`) read CSV, xlsx and HTML the same way once each is a
sequence of (line, cells): the header row is found by content, columns by name. This
module turns the two non-CSV containers into that shape, and nothing more.

xlsx is untrusted input and a zip archive: a few KiB can inflate to gigabytes, so the
archive's own size table is checked before openpyxl opens it (total uncompressed size and
compression ratio), and the row count is capped. Cells are handed over without float
arithmetic: a number cell becomes `Decimal(repr(float))` (the shortest text that reads back
as the same float, i.e. what Excel shows), dates stay `datetime`, text stays `str`.
openpyxl runs in read-only mode with `reset_dimensions()`, because Handelsbanken's files
since 2026 declare their sheet as `A1:A1` and would otherwise read as one cell.

Handelsbanken's old `kontotransactionlist.xls` is an HTML page with tables; it is read with
the stdlib parser after the same decoding chain as the CSV exports (`bank.decode`).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Union

from bokfor.errors import InputError
from bokfor.sources import bank

Cell = Union[str, Decimal, int, dt.datetime, dt.date, None]

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes the whole archive may inflate to
MAX_RATIO = 200  # uncompressed / compressed, per member (real sheets: 5-20)
MAX_ROWS = 2_000_000

_XLSX_HINT = "download the export again (from the bank, Zettle…) and give bokfor that file unopened."


def is_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def check_archive(path: Path) -> None:
    """Refuse a zip bomb from the archive's size table, before anything is inflated."""
    file = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        # NotImplementedError: "zip file version 6.4", a member zipfile cannot unpack
        raise InputError(f"not a readable xlsx workbook ({exc})", file=file,
                         hint=_XLSX_HINT) from None
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED:
        raise InputError(
            f"the workbook inflates to {total // (1024 * 1024)} MiB, more than the "
            f"{MAX_UNCOMPRESSED // (1024 * 1024)} MiB a bank export can need (a zip bomb?)",
            file=file, hint=_XLSX_HINT)
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InputError(
                f"the workbook member {info.filename!r} is compressed "
                f"{info.file_size // max(info.compress_size, 1)}:1, far beyond a real "
                "spreadsheet (a zip bomb?)", file=file, hint=_XLSX_HINT)


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names (after the archive check)."""
    check_archive(path)
    wb = _open(path)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _open(path: Path):  # -> openpyxl Workbook
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Workbook contains no default style": harmless
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, zipfile errors...
        raise InputError(f"not a readable xlsx workbook ({type(exc).__name__}: {exc})",
                         file=str(path), hint=_XLSX_HINT) from None


def xlsx_rows(path: Path, sheet: str | None = None, *, max_rows: int = MAX_ROWS
              ) -> Iterator[tuple[int, list[Cell]]]:
    """(row number, cells) of one sheet (the first when `sheet` is None), every row,
    empty ones included (as an empty list), numbered from 1 as Excel does."""
    path = Path(path)
    file = str(path)
    check_archive(path)
    wb = _open(path)
    try:
        if sheet is None:
            if not wb.worksheets:  # a damaged file: openpyxl found no sheet in it
                raise InputError("the workbook has no worksheet", file=file, hint=_XLSX_HINT)
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise InputError(
                f"the workbook has no sheet {sheet!r} (it has "
                + ", ".join(repr(n) for n in wb.sheetnames) + ")",
                file=file, hint=_XLSX_HINT)
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # the declared size may be A1:A1
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if number > max_rows:
                    raise InputError(
                        f"the sheet has more than {max_rows:,} rows".replace(",", " "),
                        file=file, line=number,
                        hint="export a shorter period from the bank.")
                yield number, [_cell(v) for v in values]
        except InputError:
            raise
        except Exception as exc:  # damaged sheet XML
            raise InputError(f"the workbook's sheet cannot be read ({type(exc).__name__}: "
                             f"{exc})", file=file, hint=_XLSX_HINT) from None
    finally:
        wb.close()


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, (str, dt.date, Decimal)):
        return value  # datetime is a date subclass
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


# -- HTML tables ------------------------------------------------------------------------


class _Table(HTMLParser):
    """Collects the text of every <td>/<th> of every <tr>, with the <tr>'s line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[int, list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self._end_row()
            self._row = []
            self.rows.append((self.getpos()[0], self._row))
        elif tag in ("td", "th"):
            self._end_cell()
            if self._row is None:  # a cell outside any <tr>
                self._row = []
                self.rows.append((self.getpos()[0], self._row))
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "table"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _end_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        self._row = None


def looks_like_html(head: str) -> bool:
    start = head.lstrip()[:1024].lower()
    return start.startswith("<") and ("<table" in head.lower() or "<html" in start)


def html_rows(path: Path, text: str | None = None, *, max_rows: int = MAX_ROWS
              ) -> Iterator[tuple[int, list[str]]]:
    """(line of the <tr>, cell texts) of every table row in the file, tables in order.
    `text` is the already decoded file, if the caller has it."""
    path = Path(path)
    file = str(path)
    if text is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror})", file=file) from None
        text, _ = bank.decode(data, file, hint=_XLSX_HINT)
    parser = _Table()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is belt and braces
        raise InputError(f"not a readable HTML table ({exc})", file=file,
                         hint=_XLSX_HINT) from None
    if len(parser.rows) > max_rows:
        raise InputError(f"the table has more than {max_rows:,} rows".replace(",", " "),
                         file=file, hint="export a shorter period from the bank.")
    yield from parser.rows
