"""A CSV export read into columns by Polars, its columns declared once.

An export is a column map (`Column`: the name in the file, the field it fills, its kind,
whether the file must have it), like a beangulp importer's class attributes. `read_batches`
reads every cell as text with `pl.read_csv`, a batch of records (about 8 MiB of the file) at
a time so that a file larger than memory is read in the memory of one batch, and names the
columns by field (`read_cells`: the batches as one frame); `typed` turns
amounts into Int64 öre (`money.parse_amounts`) and times into UTC datetimes, each with the
mask of the cells that do not parse, so that a reader raises for its first bad row without
a loop over the rows.

Line numbers. Polars numbers records, people and error messages number lines: a quoted
value holding a line break makes them differ, so a record's line is the header's 1 plus the
lines of the records before it (one each, plus the line breaks in its values). Two checks
over each batch make sure Polars read the records the csv module (the row readers' parser)
reads: `_records_as_csv`, that every line is a record of the header's width and every quote
is around a value as the csv module quotes one; `_accounted`, with a few counts, that every
byte is a cell, a delimiter, a quote or a line end of the records Polars parsed. A file that
fails either (a blank line, a short row, a lone CR, a quote inside a cell) or that may be
over a table cap (`limits`) gets None, or NotFramed from the batch that shows it: its source
reads it with its row reader, which words every error, with its line, as it always has. A
batch ends where a record ends: after a line end with an even number of quotes before it (a
quoted value's line break has an odd number).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from bokfor.frames import LINE
from bokfor.money import parse_amounts
from bokfor.sources import AMOUNT, DATETIME, NotFramed, limits
from bokfor.sources.columns import LOWER, Export
from bokfor.sources.csvutil import column_index, delimiter, header_line, split_header

_BATCH = 8 << 20  # bytes of a file parsed at a time: what a batch of records holds
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Cells:
    """An export's cells as text: one String column a field (null when empty or when the
    file has no such column), `frames.LINE` the record's first physical line."""

    frame: pl.DataFrame
    file: str
    delimiter: str
    free: tuple[str, ...]  # the free-form fields, in header order


def read_cells(path: Path, export: Export) -> Cells | None:
    """The export's cells in one frame, or None when the file must be read by the row reader
    (see the module docstring): also every file with a problem the row reader words (not
    UTF-8, a missing column, a ragged row, a cap)."""
    batches = read_batches(path, export)
    if batches is None:
        return None
    try:
        parts = list(batches)
    except NotFramed:
        return None
    first = parts[0]
    if len(parts) == 1:
        return first
    return Cells(pl.concat([p.frame for p in parts]), first.file, first.delimiter, first.free)


def read_batches(path: Path, export: Export, size: int | None = None) -> Iterator[Cells] | None:
    """The export's cells a batch of records at a time (about `size` bytes of the file
    each: what a run holds at once), in file order. None when the header already says the
    row reader must read the file; a later batch the row reader must read raises NotFramed
    (one a file with a ragged row, a blank line, a long line, ... has)."""
    file = str(path)
    header = header_line(path)
    if header is None:
        return None
    delim = delimiter(header)
    names = split_header(header, delim)
    index = column_index(names)
    if len(names) > limits.MAX_COLUMNS or any(n not in index for n in export.required):
        return None
    raw = [f"c{i}" for i in range(len(names))]
    fields = [
        (pl.col(f"c{index[c.header]}") if c.header in index else pl.lit(None, pl.String)).alias(
            c.field
        )
        for c in export.columns
    ]
    free: dict[str, pl.Expr] = {}
    if export.free_suffix:
        for i, name in enumerate(names):  # a name given twice: the later column, as per row
            if name.endswith(export.free_suffix):
                field = export.free_prefix + name[: -len(export.free_suffix)].strip()
                free[field] = pl.col(f"c{i}").alias(field)

    def batches() -> Iterator[Cells]:
        before = 0  # line ends before the batch
        for i, data in enumerate(_records(path, size or _BATCH)):
            frame = _parse(data, None if i else header, raw, delim, before)
            before += data.count(b"\n")
            yield Cells(frame.select(*fields, *free.values(), LINE), file, delim, tuple(free))

    return batches()


def parse_table(data: bytes, header: str, width: int, delim: str) -> pl.DataFrame:
    """A whole file held in memory whose first line is `header` (a table of `width`
    columns): its records as String cells `c0`, `c1`, … (empty ones null, a record of empty
    cells left out) with `frames.LINE`. Raises NotFramed as a batch of `read_batches` does
    for a file its reader must read by rows."""
    return _parse(data, header, [f"c{i}" for i in range(width)], delim, 0)


def _records(path: Path, size: int) -> Iterator[bytes]:
    """The file's bytes in pieces of about `size` that end where a record ends: after a line
    end with an even number of quotes before it. Raises NotFramed when no record ends within
    2 * MAX_LINE bytes past `size` (the row reader refuses such a line)."""
    with open(path, "rb") as f:
        tail = b""
        while block := f.read(size):
            data = tail + block
            cut = _record_end(data)
            if cut is None:
                if len(data) > size + 2 * limits.MAX_LINE:
                    raise NotFramed
                tail = data
                continue
            tail = data[cut:]
            yield data[:cut]
        if tail or not f.tell():
            yield tail


def _record_end(data: bytes) -> int | None:
    """Where the last whole record of `data` ends (it starts at a record's start), or None.
    Line ends are tried from the last one back, counting the quotes after each once."""
    end = data.rfind(b"\n")
    quotes_after = data.count(b'"', end + 1)  # in the record cut off at the end
    total = data.count(b'"')
    while end >= 0 and len(data) - end <= 2 * limits.MAX_LINE:
        if (total - quotes_after) % 2 == 0:
            return end + 1
        previous = data.rfind(b"\n", 0, end)
        quotes_after += data.count(b'"', previous + 1, end + 1)
        end = previous
    return None


def _parse(
    data: bytes, header: str | None, raw: list[str], delim: str, before: int
) -> pl.DataFrame:
    """A batch's records (the header's too with `header`) as String cells, empty ones null,
    with their lines (`before`: the line ends before the batch). Raises NotFramed when its
    bytes are not exactly the cells Polars parsed (`_accounted`) or are near a cap."""
    counts = _scan(data, header is not None)
    if counts is None or not _records_as_csv(data, delim, len(raw)):
        raise NotFramed
    try:
        frame = pl.read_csv(
            data,
            has_header=header is not None,
            new_columns=raw,
            separator=delim,
            quote_char='"',
            infer_schema=False,
            encoding="utf8",
        )
    except (pl.exceptions.PolarsError, OSError, ValueError):
        raise NotFramed from None
    if frame.width != len(raw):
        raise NotFramed
    breaks = _accounted(counts, header, frame)
    if breaks is None or not _within_caps(frame):
        raise NotFramed
    first = before + (2 if header is not None else 1)  # the line of the batch's first record
    line = pl.int_range(first, frame.height + first, dtype=pl.Int64)
    if breaks:  # quoted line breaks: a record's line is `first` + the lines of those before
        lines = 1 + pl.sum_horizontal(
            pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in breaks
        )
        line = first + lines.cum_sum() - lines
    return frame.with_columns(
        *(
            pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
            for c in raw
        ),
        line.cast(pl.Int64).alias(LINE),
    ).filter(pl.any_horizontal(pl.col(c).is_not_null() for c in raw))  # a row of empty cells


@dataclass(frozen=True)
class _Bytes:
    """Counts over a batch's bytes."""

    size: int
    lf: int
    cr: int
    quotes: int
    bom: bool
    ends_lf: bool


def _scan(data: bytes, first: bool) -> _Bytes | None:
    """A batch's byte counts; None when a line is longer than MAX_LINE (Polars would hold
    it whole: the row reader refuses it within the cap) or a CR is not followed by LF (a
    line end the csv module has and Polars has not). `first`: the file's first batch."""
    cap = limits.MAX_LINE
    run = 0  # bytes since the last line end
    for start in range(0, len(data), cap):  # windows of the cap: a longer line spans one
        window = data[start : start + cap]
        first_lf = window.find(b"\n")
        if first_lf < 0:
            run += len(window)
        else:
            if run + first_lf + 1 > cap:
                return None
            run = len(window) - window.rfind(b"\n") - 1
        if run > cap:
            return None
    cr = data.count(b"\r")
    if cr and cr != data.count(b"\r\n"):  # most exports have no CR at all
        return None
    return _Bytes(
        len(data),
        data.count(b"\n"),
        cr,
        data.count(b'"'),
        first and data.startswith(_BOM),
        data.endswith(b"\n"),
    )


def _records_as_csv(data: bytes, delim: str, width: int) -> bool:
    """Whether the csv module reads `data` (records from a record's start) as records of
    `width` cells, a line each but for line ends inside quoted values, with every quote in
    a value quoted as it reads one: opened right after a delimiter or a line end, `""`
    inside, closed right before one. Polars then reads what the csv module reads.

    Why not trust Polars' parse and count bytes (`_accounted`) alone: a quote anywhere else
    (inside an unquoted cell, after a closing quote, never closed) the csv module reads as a
    character or ends the value at, while Polars may read on across delimiters and line
    ends to the next quote and make one record of two of the same width; and a short
    record followed by a long one can add up to two of the right width. No count over the
    whole batch tells either from a good file.

    The well-formed quoted values are cut out by one regex (scanned in C from quote to
    quote); a quote left over is one of the others. Left to right, the first quote left over
    is outside any quoted value, so each value cut out before it started where the csv
    module starts a quoted value and ended where it ends one. What is left is a line a
    record: each must hold `width - 1` delimiters."""
    text = data.removeprefix(_BOM)
    if b'"' in text:
        quoted = _QUOTED.get(delim)
        if quoted is None:
            d = re.escape(delim.encode("utf-8"))
            quoted = _QUOTED[delim] = re.compile(
                rb'"(?:(?<=[' + d + rb'\n]")|(?<=^"))[^"]*(?:""[^"]*)*"(?=[' + d + rb"\r\n]|\Z)"
            )
        text = quoted.sub(b"", text)
        if b'"' in text:
            return False
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()
    # Counted by bytes.count over the lines (a C loop): as fast as Polars string
    # expressions here, without their copies of the batch (~10 MiB against ~80 a batch).
    return set(map(bytes.count, lines, itertools.repeat(delim.encode("utf-8")))) <= {width - 1}


_QUOTED: dict[str, re.Pattern[bytes]] = {}  # delimiter -> a well-formed quoted value


def _accounted(counts: _Bytes, header: str | None, frame: pl.DataFrame) -> list[str] | None:
    """The columns with line breaks in their values when the batch's bytes are exactly the
    parsed records' cells, delimiters, quotes and line ends (and `header`'s, in the first
    batch): then Polars read the records the csv module reads, none was blank or short, and
    a record has 1 line plus the line breaks in its values. None when they are not."""
    cols = frame.columns
    # Only the columns holding a quote or a line break are counted in (few, if any).
    special = [
        c
        for c, has in zip(
            cols,
            frame.select(pl.col(c).str.contains('["\r\n]').any() for c in cols).row(0),
            strict=True,
        )
        if has
    ]
    inside = frame.select(
        pl.sum_horizontal(pl.col(c).str.len_bytes().sum() for c in cols).alias("bytes"),
        *(
            pl.sum_horizontal(
                [pl.lit(0, pl.Int64)]
                + [pl.col(c).str.count_matches(ch, literal=True).sum() for c in special]
            ).alias(name)
            for name, ch in (("lf", "\n"), ("cr", "\r"), ("quotes", '"'))
        ),
    ).row(0, named=True)
    inside = {k: v or 0 for k, v in inside.items()}
    records = frame.height
    ends = counts.lf - inside["lf"]  # line ends of the header and the records
    between = records if header is not None else records - 1  # before each record but one
    if ends != (between + counts.ends_lf if records else counts.ends_lf):  # none blank
        return None
    header = header or ""
    expected = (
        3 * counts.bom
        + len(header.encode("utf-8"))
        + inside["bytes"]
        + records * (len(cols) - 1)
        + counts.quotes
        - header.count('"')
        - inside["quotes"]  # enclosing, doubling
        + ends
        + (counts.cr - inside["cr"])
    )
    if expected != counts.size:
        return None
    return [c for c in special if inside["lf"]] if inside["lf"] else []


def _within_caps(frame: pl.DataFrame) -> bool:
    """Whether no cell is over MAX_CELL and no record can be over MAX_LINE (a bound: each
    cell quoted, each quote in it doubled, the line end CRLF); a file near a cap is left to
    the row reader, which finds the line exactly."""
    if not frame.height:
        return True
    most = frame.select(pl.col(c).str.len_bytes().max() for c in frame.columns).row(0)
    if max(n or 0 for n in most) > limits.MAX_CELL:  # bytes: over only if chars are
        chars = frame.select(pl.col(c).str.len_chars().max() for c in frame.columns).row(0)
        if max(n or 0 for n in chars) > limits.MAX_CELL:
            return False
    bound = 2 * sum(n or 0 for n in most) + 3 * frame.width + 2
    if bound <= limits.MAX_LINE:
        return True
    per_row = frame.select(
        pl.sum_horizontal(pl.col(c).str.len_bytes().fill_null(0) for c in frame.columns)
    ).to_series()
    return ((2 * per_row + 3 * frame.width + 2) <= limits.MAX_LINE).all()


def typed(
    cells: Cells,
    export: Export,
    decimal_mark: str | None,
    times: Callable[[pl.Series], tuple[pl.Series, pl.Series]],
) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
    """The cells with typed columns (AMOUNT: Int64 öre; DATETIME: by `times`; LOWER:
    lower-cased), and each typed column's mask of the cells that do not parse (an empty
    cell of a required column does not)."""
    from bokfor.frames import map_distinct

    frame = cells.frame
    columns: list[pl.Series] = []
    refused: dict[str, pl.Series] = {}
    for column in export.columns:
        texts = frame[column.field]
        if column.kind == AMOUNT:
            values, bad = parse_amounts(texts, decimal_mark)
        elif column.kind == DATETIME:
            values, bad = times(texts)
        elif column.kind == LOWER:
            values, _ = map_distinct(texts, texts.is_not_null(), str.lower, pl.String)
            bad = None
        else:
            continue
        if bad is not None:
            if column.required:
                bad = bad | texts.is_null()
            refused[column.field] = bad
        columns.append(values.alias(column.field))
    return frame.with_columns(columns), refused


def first_bad(checks: list[tuple[pl.Series, Callable[[int], Any]]]) -> None:
    """Call the check of the first row any mask marks (the first of its checks in order,
    which raises its error): the row a reader going row by row would have stopped at."""
    if not checks:
        return
    masks = [mask for mask, _ in checks]
    row = pl.select(pl.any_horizontal(masks).arg_true().first()).item()
    if row is None:
        return
    for mask, fail in checks:
        if mask[row]:
            fail(row)
