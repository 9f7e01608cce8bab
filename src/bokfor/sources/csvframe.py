"""A CSV export read into columns by Polars, its columns declared once.

An export is a column map (`Column`: the name in the file, the field it fills, its kind,
whether the file must have it), like a beangulp importer's class attributes. `read_cells`
reads every cell as text with `pl.read_csv` and names the columns by field; `typed` turns
amounts into Int64 öre (`money.parse_amounts`) and times into UTC datetimes, each with the
mask of the cells that do not parse, so that a reader raises for its first bad row without
a loop over the rows.

Line numbers. Polars numbers records, people and error messages number lines: a quoted
value holding a line break makes them differ, so a record's line is the header's 1 plus the
lines of the records before it (one each, plus the line breaks in its values). That holds
when every byte of the file is a cell, a delimiter, a quote or a line end of the records
Polars parsed: `_accounted` checks it with a few counts over the file. A file it does not
hold for (a blank line, a short row, a lone CR, quotes Polars reads otherwise than the csv
module) or that may be over a table cap (`limits`) gets None: its source reads it with its
row reader, which words every error, with its line, as it always has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from bokfor.frames import LINE
from bokfor.money import parse_amounts
from bokfor.sources import AMOUNT, DATETIME, limits
from bokfor.sources.columns import LOWER, Export
from bokfor.sources.csvutil import column_index, delimiter, header_line, split_header

_CHUNK = 16 << 20  # bytes read at a time to count a file's line ends and quotes
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
    """The export's cells, or None when the file must be read by the row reader (see the
    module docstring): also every file with a problem the row reader words (not UTF-8, a
    missing column, a ragged row, a cap)."""
    file = str(path)
    header = header_line(path)
    if header is None:
        return None
    delim = delimiter(header)
    names = split_header(header, delim)
    index = column_index(names)
    if len(names) > limits.MAX_COLUMNS or any(n not in index for n in export.required):
        return None
    counts = _scan(path)
    if counts is None:
        return None
    raw = [f"c{i}" for i in range(len(names))]
    try:
        frame = pl.read_csv(
            path,
            has_header=True,
            new_columns=raw,
            separator=delim,
            quote_char='"',
            infer_schema=False,
            encoding="utf8",
        )
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if frame.width != len(names):
        return None
    breaks = _accounted(counts, header, frame)
    if breaks is None or not _within_caps(frame):
        return None
    line = pl.int_range(2, frame.height + 2, dtype=pl.Int64)
    if breaks:  # quoted line breaks: a record's line is 2 + the lines of those before it
        lines = 1 + pl.sum_horizontal(
            pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in breaks
        )
        line = 2 + lines.cum_sum() - lines
    frame = frame.with_columns(
        *(
            pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
            for c in raw
        ),
        line.cast(pl.Int64).alias(LINE),
    ).filter(pl.any_horizontal(pl.col(c).is_not_null() for c in raw))  # a row of empty cells
    fields = {
        c.field: (
            pl.col(f"c{index[c.header]}") if c.header in index else pl.lit(None, pl.String)
        ).alias(c.field)
        for c in export.columns
    }
    free: dict[str, pl.Expr] = {}
    if export.free_suffix:
        for i, name in enumerate(names):  # a name given twice: the later column, as per row
            if name.endswith(export.free_suffix):
                field = export.free_prefix + name[: -len(export.free_suffix)].strip()
                free[field] = pl.col(f"c{i}").alias(field)
    frame = frame.select(*fields.values(), *free.values(), LINE)
    return Cells(frame, file, delim, tuple(free))


@dataclass(frozen=True)
class _Bytes:
    """Counts over a file's bytes."""

    size: int
    lf: int
    cr: int
    quotes: int
    bom: bool
    ends_lf: bool


def _scan(path: Path) -> _Bytes | None:
    """The file's byte counts, read a line cap at a time; None when a line is longer than
    MAX_LINE (Polars would hold it whole: the row reader refuses it within the cap) or a CR
    is not followed by LF (a line end the csv module has and Polars has not)."""
    size = lf = cr = crlf = quotes = run = 0
    bom = False
    previous = b""
    with open(path, "rb") as f:
        # Chunks of the cap: a longer line has no LF in a chunk, or spans a boundary.
        while chunk := f.read(limits.MAX_LINE):
            if not size:
                bom = chunk.startswith(_BOM)
            size += len(chunk)
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
            else:
                if run + first + 1 > limits.MAX_LINE:
                    return None
                run = len(chunk) - chunk.rfind(b"\n") - 1
            if run > limits.MAX_LINE:
                return None
            lf += chunk.count(b"\n")
            crs = chunk.count(b"\r")
            if crs:  # most exports have no CR at all
                cr += crs
                crlf += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
            quotes += chunk.count(b'"')
            previous = chunk[-1:]
    if cr != crlf:
        return None
    return _Bytes(size, lf, cr, quotes, bom, previous == b"\n")


def _accounted(counts: _Bytes, header: str, frame: pl.DataFrame) -> list[str] | None:
    """The columns with line breaks in their values when the file's bytes are exactly the
    parsed records' cells, delimiters, quotes and line ends: then Polars read the records
    the csv module reads, none was blank or short, and a record has 1 line plus the line
    breaks in its values. None when they are not."""
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
    if ends != (records + counts.ends_lf if records else counts.ends_lf):  # none blank
        return None
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
