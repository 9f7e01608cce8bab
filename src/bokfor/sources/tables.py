"""Rows of spreadsheet-like bank exports: `.xlsx` workbooks and HTML tables saved as `.xls`.

The net-bank layouts (`netbank.py`) read CSV, xlsx and HTML the same way once each is a
sequence of (line, cells): the header row is found by content, columns by name. This
module turns the two non-CSV containers into that shape, and nothing more.

xlsx is untrusted input and a zip archive: a few KiB can inflate to gigabytes, so the
archive's own size table is checked before openpyxl opens it (total uncompressed size,
compression ratio, and each part: the shared strings, which openpyxl parses whole at ~1 MB/s
and holds in memory, get the smallest cap), and the row count is capped (`limits`). A
workbook is opened once per run however many detectors look at it (`_workbook`: every
net-bank xlsx profile and both Zettle reports read its head). Cells are handed over without
float arithmetic: a number cell becomes `Decimal(repr(float))` (the shortest text that reads
back as the same float, i.e. what Excel shows), dates stay `datetime`, text stays `str`.
openpyxl runs in read-only mode with `reset_dimensions()`, because Handelsbanken's files
since 2026 declare their sheet as `A1:A1` and would otherwise read as one cell.

Handelsbanken's old `kontotransactionlist.xls` is an HTML page with tables; it is read with
the stdlib parser after the same decoding chain as the CSV exports (`bank.decode`).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import OrderedDict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator, Iterator, Union

from bokfor.errors import InputError
from bokfor.sources import bank, limits
from bokfor.sources.limits import LimitError

if TYPE_CHECKING:  # openpyxl itself is imported only when a workbook is read
    from openpyxl.workbook.workbook import Workbook

Cell = Union[str, Decimal, int, dt.datetime, dt.date, None]

_XLSX_HINT = (
    "download the export again (from the bank, Zettle…) and give bokfor that file unopened."
)
_CSV_INSTEAD = (
    "no real export's workbook comes near it; if this is one, export it as CSV "
    "instead (the bank's or Zettle's CSV export, or the sheet saved as CSV UTF-8) "
    "and give bokfor that file."
)
_OPEN_MAX = 1  # workbooks kept open: a run detects and reads its inputs one at a time
_opened: OrderedDict[tuple[Any, ...], Workbook] = OrderedDict()


def is_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def check_archive(path: Path) -> None:
    """Refuse a zip bomb, or a workbook too large to read, from the archive's size table,
    before anything is inflated: the whole, each member's ratio, each part, and the part
    openpyxl takes for the shared strings (named by `[Content_Types].xml`, as it finds it)."""
    file = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > limits.MAX_UNCOMPRESSED:
                raise LimitError(
                    f"the workbook inflates to {total // (1024 * 1024)} MiB, more than the "
                    f"{limits.MAX_UNCOMPRESSED // (1024 * 1024)} MiB a bank export can need "
                    "(a zip bomb?)",
                    file=file,
                    hint=_XLSX_HINT,
                )
            for info in infos:
                if info.file_size > 1024 * 1024 and info.file_size > limits.MAX_RATIO * max(
                    info.compress_size, 1
                ):
                    raise LimitError(
                        f"the workbook member {info.filename!r} is compressed "
                        f"{info.file_size // max(info.compress_size, 1)}:1, far beyond a real "
                        "spreadsheet (a zip bomb?)",
                        file=file,
                        hint=_XLSX_HINT,
                    )
            strings = _shared_strings_part(archive, file)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        # NotImplementedError: "zip file version 6.4", a member zipfile cannot unpack
        raise InputError(
            f"not a readable xlsx workbook ({exc})", file=file, hint=_XLSX_HINT
        ) from None
    for info in infos:
        if info.filename == strings:
            _check_part(info, limits.MAX_SHARED_STRINGS, " of shared strings", file)
        else:
            _check_part(info, limits.MAX_PART, "", file)


def _check_part(info: zipfile.ZipInfo, cap: int, what: str, file: str) -> None:
    if info.file_size > cap:
        raise LimitError(
            f"the workbook part {info.filename!r} inflates to "
            f"{info.file_size / (1 << 20):.1f} MiB, more than the {limits.size(cap)}{what} "
            "bokfor reads",
            file=file,
            hint=_CSV_INSTEAD,
        )


def _shared_strings_part(archive: zipfile.ZipFile, file: str) -> str | None:
    """The member openpyxl reads as the shared strings (None: none, or no readable
    `[Content_Types].xml`, which openpyxl then refuses itself)."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
    from openpyxl.xml.functions import fromstring

    try:
        _check_part(archive.getinfo(ARC_CONTENT_TYPES), limits.MAX_PART, "", file)
    except KeyError:
        return None
    try:
        # The stubs want a protocol ElementTree's Element does not meet; openpyxl passes one.
        manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))  # type: ignore[arg-type]
        part = manifest.find(SHARED_STRINGS) if manifest is not None else None
    except Exception:  # missing, damaged or hostile XML (defusedxml refuses entities)
        return None
    return part.PartName[1:] if part is not None else None


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names (after the archive check)."""
    return list(_workbook(Path(path)).sheetnames)


def _workbook(path: Path) -> Workbook:  # read-only
    """The workbook, checked every time (cheap: the zip directory) and opened once a run
    however many detectors look at it: opening parses every shared string and, for a sheet
    that declares no size, the whole sheet. Keyed by the file's identity, so a file replaced
    is opened anew. An evicted workbook is not closed here: a reader still iterating it keeps
    it alive, and the zip file closes when the last reference goes."""
    file = str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", file=file) from None
    check_archive(path)
    key = (file, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    wb = _opened.get(key)
    if wb is None:
        wb = _opened[key] = _open(path)
        while len(_opened) > _OPEN_MAX:
            _opened.popitem(last=False)
    else:
        _opened.move_to_end(key)
    return wb


def _open(path: Path) -> Workbook:
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Workbook contains no default style": harmless
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, zipfile errors...
        raise InputError(
            f"not a readable xlsx workbook ({type(exc).__name__}: {exc})",
            file=str(path),
            hint=_XLSX_HINT,
        ) from None


def xlsx_rows(
    path: Path, sheet: str | None = None, *, max_rows: int | None = None
) -> Generator[tuple[int, list[Cell]], None, None]:
    """(row number, cells) of one sheet (the first when `sheet` is None), every row,
    empty ones included (as an empty list), numbered from 1 as Excel does."""
    path = Path(path)
    file = str(path)
    max_rows = limits.MAX_ROWS if max_rows is None else max_rows
    wb = _workbook(path)
    if sheet is None:
        if not wb.worksheets:  # a damaged file: openpyxl found no sheet in it
            raise InputError("the workbook has no worksheet", file=file, hint=_XLSX_HINT)
        ws = wb.worksheets[0]
    elif sheet in wb.sheetnames:
        ws = wb[sheet]
    else:
        raise InputError(
            f"the workbook has no sheet {sheet!r} (it has "
            + ", ".join(repr(n) for n in wb.sheetnames)
            + ")",
            file=file,
            hint=_XLSX_HINT,
        )
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # the declared size may be A1:A1
    try:
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if number > max_rows:
                raise LimitError(
                    f"the sheet has more than {limits.count(max_rows)} rows",
                    file=file,
                    line=number,
                    hint="export a shorter period from the bank.",
                )
            if len(values) > limits.MAX_COLUMNS:
                raise limits.too_many_columns(len(values), file, number, _XLSX_HINT)
            yield number, [_cell(v) for v in values]
    except InputError:
        raise
    except Exception as exc:  # damaged sheet XML
        raise InputError(
            f"the workbook's sheet cannot be read ({type(exc).__name__}: {exc})",
            file=file,
            hint=_XLSX_HINT,
        ) from None


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
    """Collects the text of every <td>/<th> of every <tr>, with the <tr>'s line, within
    the table caps (`limits`: cells a row, characters a cell)."""

    def __init__(self, file: str) -> None:
        super().__init__(convert_charrefs=True)
        self.file = file
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
            if len(self._row) >= limits.MAX_COLUMNS:
                raise limits.too_many_columns(
                    len(self._row) + 1, self.file, self.rows[-1][0], _XLSX_HINT
                )
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
            text = "".join(self._cell)
            if len(text) > limits.MAX_CELL:
                raise limits.cell_too_large(self.file, self.rows[-1][0], _XLSX_HINT)
            self._row.append(" ".join(text.split()))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        self._row = None


def looks_like_html(head: str) -> bool:
    start = head.lstrip()[:1024].lower()
    return start.startswith("<") and ("<table" in head.lower() or "<html" in start)


def html_rows(
    path: Path, text: str | None = None, *, max_rows: int | None = None
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
    parser = _Table(file)
    try:
        parser.feed(text)
        parser.close()
    except LimitError:
        raise
    except Exception as exc:  # html.parser is lenient; this is belt and braces
        raise InputError(f"not a readable HTML table ({exc})", file=file, hint=_XLSX_HINT) from None
    max_rows = limits.MAX_ROWS if max_rows is None else max_rows
    if len(parser.rows) > max_rows:
        raise LimitError(
            f"the table has more than {limits.count(max_rows)} rows",
            file=file,
            hint="export a shorter period from the bank.",
        )
    yield from parser.rows
