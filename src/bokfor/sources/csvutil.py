"""CSV reading shared by the CSV sources: the header line, its delimiter, its columns, and
`Table`, the reader every table goes through so that its caps hold.

Detection reads only the first line (BOM removed) and never the file name: every source's
`detect` runs on every input, so it must be cheap and must not be fooled by a name.

A table's size is capped (`limits`: columns, line length, cell size) while it is read: a
line is read at most a cap at a time, never whole, so a 50 MB header of a million columns
costs 1 MiB, not 1.5 GB.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

from bokfor.errors import InputError
from bokfor.sources import limits

# The csv module's own cap on a field (process-wide; its default is 128 KiB): a cell over it
# ends the parse with csv.Error, which `Table` turns into the limit's message.
csv.field_size_limit(limits.MAX_CELL)

# Enough for any real header (dozens of metadata columns) without reading a large file.
_SNIFF_BYTES = 16 * 1024


def header_line(path: Path) -> str | None:
    """The first line of the file as text (BOM removed), or None if it cannot be text.

    Reads at most `_SNIFF_BYTES`; a NUL byte or invalid UTF-8 in that line means "not a
    CSV export". Later lines are not looked at: detection must not depend on the data.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    # The first line end: \n, \r\n, or a lone \r (old Mac files, mixed line ends).
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=-1)
    if end >= 0:
        head = head[:end]
        errors = "strict"
    else:
        errors = "replace"  # header longer than the sniff window: the tail may be a cut char
    if not head or b"\x00" in head:
        return None
    try:
        return head.decode("utf-8", errors).rstrip("\r")
    except UnicodeDecodeError:
        return None


def delimiter(header: str) -> str:
    """`;` when a spreadsheet re-saved the file with it, else `,`."""
    return ";" if header.count(";") > header.count(",") else ","


def split_header(header: str, delimiter: str) -> list[str]:
    """Column names of the header line (quotes honoured, as Reports quote every field)."""
    try:
        names = next(csv.reader([header], delimiter=delimiter), [])
    except csv.Error:
        return []
    return [name.strip() for name in names]


def header_names(path: Path) -> set[str]:
    """The column names of a CSV file's header; empty when it is no text file."""
    header = header_line(Path(path))
    return set(split_header(header, delimiter(header))) if header else set()


_T = TypeVar("_T")  # what a source's `rows` yields: rows, and notices among them


def read_csv(
    path: Path, rows: Callable[[TextIO, str, str], Iterator[_T]], *, redownload: str, not_utf8: str
) -> Iterator[_T]:
    """Open a CSV export and stream `rows(file_object, file_name, delimiter)`, with the checks
    every CSV source makes first: the file exists, is not empty, and is UTF-8 text."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("no such file", file=file)
    header = header_line(path)
    if header is None:
        if path.stat().st_size == 0:
            raise InputError("the file is empty", file=file, hint=redownload)
        raise InputError("not UTF-8 text", file=file, line=1, hint=not_utf8)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from rows(f, file, delimiter(header))
    except UnicodeDecodeError:
        # The decoder reads ahead of the csv reader in blocks: no trustworthy line.
        raise InputError("not UTF-8 text", file=file, hint=not_utf8) from None


class Table:
    """`csv.reader` with the table caps (`limits`): a line longer than MAX_LINE (or a record
    spanning lines, all its lines together), a record of more than MAX_COLUMNS fields, a
    field longer than MAX_CELL each end in one `LimitError` naming the file and the line.

    `source` is an open text file (read a line at a time, at most the cap: never a whole
    gigabyte line) or lines already in memory. `first_line` is the file's line number of the
    source's first line (a table that starts below a preamble); `line_num` counts physical
    lines read, as csv.reader's does. Iterating it is a generator's loop, not a method call
    a row: the Stripe reader's 1M rows pay a few per cent for the caps."""

    def __init__(
        self,
        source: Iterable[str],
        delimiter: str,
        file: str,
        *,
        hint: str = "",
        first_line: int = 1,
    ) -> None:
        self.file = file
        self.hint = hint
        self._offset = first_line - 1
        # Of the record being parsed: characters read, and the physical lines before it.
        self._pending = [0, 0]
        self._reader = csv.reader(self._feed(source), delimiter=delimiter)
        self._rows = self._records()

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self._rows

    def __next__(self) -> list[str]:
        return next(self._rows)

    def _records(self) -> Iterator[list[str]]:
        reader, pending, most = self._reader, self._pending, limits.MAX_COLUMNS
        try:
            for row in reader:
                if len(row) > most:
                    raise limits.too_many_columns(len(row), self.file, self._start(), self.hint)
                pending[0] = 0
                pending[1] = reader.line_num
                yield row
        except csv.Error as exc:  # csv.field_size_limit: the message is the csv module's own
            if "field larger than field limit" not in str(exc):
                raise
            raise limits.cell_too_large(self.file, self._start(), self.hint) from None

    def _start(self) -> int:
        """The file's line where the record being parsed starts."""
        return self._offset + self._pending[1] + 1

    def _feed(self, source: Iterable[str]) -> Iterator[str]:
        cap, pending = limits.MAX_LINE, self._pending
        readline = getattr(source, "readline", None)
        lines = iter(functools.partial(readline, cap + 1), "") if readline else iter(source)
        for line in lines:
            pending[0] += len(line)
            if pending[0] > cap:
                raise limits.line_too_long(self.file, self._start(), self.hint)
            yield line


def records(
    reader: Table, width: int, file: str, redownload: str
) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each record that is not blank, refusing a row with another number of
    fields than the header. `line` is the record's first physical line, even when a quoted
    value spans lines (the csv reader's own line_num is its last)."""
    prev = reader.line_num
    for row in reader:
        line = prev + 1
        prev = reader.line_num
        if len(row) != width:
            if not row:
                continue  # blank line
            raise InputError(
                f"the row has {len(row)} fields but the header has {width}",
                file=file,
                line=line,
                hint="a value containing the delimiter lost its quotes, or the row was cut; "
                + redownload,
            )
        if not any(row):
            continue  # a spreadsheet's trailing row of empty cells
        yield line, row


def column_index(header: list[str]) -> dict[str, int]:
    """Column name -> position (the first, should a name repeat)."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    return index


def missing_columns(
    kind: str, missing: list[str], required: Iterable[str], where: str, file: str
) -> InputError:
    """The error for a header that lacks columns: names them, and where to get the export."""
    return InputError(
        f"not a {kind}: missing column"
        + ("s " if len(missing) > 1 else " ")
        + ", ".join(repr(m) for m in missing),
        file=file,
        line=1,
        hint=f"{where}; the header must contain " + ", ".join(required) + ".",
    )
