"""The row frame: source rows as Polars columns (issue 22, "a columnar core").

One column a field of the source's `Schema` (texts as String, dates as Date, timestamps as
Datetime in UTC), one Int64 column a named amount in öre, and the row's identity and origin in
columns whose names start with `_` (no field or amount name does). A null is "the row has no
such value", as `Row.value` gives None. Free-form fields (`metadata.*`) are String columns
of their own; `_detail` carries a structured source's whole record (a POS day close).

The frame is the contract between the stages: readers produce it, rules and booking consume
it. Until every stage is columnar, `from_rows` and `to_rows` convert at the seam, exactly:
a row made back from its frame gives the same key, date, amounts, values, origin, aliases
and former keys.

Vouchers have frames of their own, a voucher frame and a line frame (`VoucherFrames`): what
the SIE writer renders. Booking a voucher a row by columns keeps its vouchers so
(`FramedVouchers`); `voucher_frames` makes the frames from `Voucher` objects otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import polars as pl

from bokfor.domain import Line, Origin, Row, Voucher, VoucherColumns
from bokfor.sources import AMOUNT, DATE, DATETIME, NotFramed, Schema

KEY, DATE_COL, FILE, LINE = "_key", "_date", "_file", "_line"
ALIASES, FORMER, DETAIL = "_aliases", "_former", "_detail"

_ROW_COLUMNS: dict[str, Any] = {
    KEY: pl.String,
    DATE_COL: pl.Date,
    FILE: pl.String,
    LINE: pl.Int64,
    ALIASES: pl.List(pl.String),
    FORMER: pl.List(pl.String),
}
_KINDS: dict[str, Any] = {
    DATE: pl.Date,
    DATETIME: pl.Datetime("us", "UTC"),
    AMOUNT: pl.Int64,
}


def frame_schema(schema: Schema, extra: Iterable[str] = ()) -> dict[str, Any]:
    """The columns and types of a source's row frame; `extra` are free-form field names."""
    columns = dict(_ROW_COLUMNS)
    columns.update({name: _KINDS.get(kind, pl.String) for name, kind in schema.fields.items()})
    columns.update({name: pl.String for name in extra if name not in columns})
    columns.update({name: pl.Int64 for name in schema.amounts})
    return columns


def from_rows(rows: Iterable[Row], schema: Schema) -> pl.DataFrame:
    """Rows as a frame (the seam while readers still make `Row` objects)."""
    rows = list(rows)
    extra = sorted(
        {
            name
            for row in rows
            for name in row.fields
            if name not in schema.fields and name not in schema.amounts
        }
    )
    columns = frame_schema(schema, extra)
    lists = (ALIASES, FORMER)
    data: dict[str, list[Any]] = {name: [] for name in columns if name not in lists}
    fields = [n for n in columns if not n.startswith("_") and n not in schema.amounts]
    details = [row.detail for row in rows]
    for row in rows:
        data[KEY].append(row.key)
        data[DATE_COL].append(row.date)
        data[FILE].append(row.origin.file)
        data[LINE].append(row.origin.line)
        for name in schema.amounts:
            data[name].append(row.amounts.get(name))
        for name in fields:
            data[name].append(_utc(row.fields.get(name)))
    frame = (
        pl.DataFrame(data, schema={n: t for n, t in columns.items() if n not in lists})
        .with_columns(
            _string_lists(ALIASES, [row.aliases for row in rows]),
            _string_lists(FORMER, [row.former for row in rows]),
        )
        .select(list(columns))
    )
    if any(d is not None for d in details):
        frame = frame.with_columns(pl.Series(DETAIL, details, dtype=pl.Object))
    return frame


_FRAMED = 1 << 62  # öre: |amounts| `batched` frames


def batched(
    items: Iterable[Any], schema: Schema, size: int = 1 << 14
) -> Iterator[pl.DataFrame | Any]:
    """A row reader's rows (and notices) as row frames of up to `size` rows, each notice
    where it comes: a format whose rows are made one by one (camt.053's XML) is still
    booked by columns. An amount of 2^62 öre or more raises NotFramed (the plan reads the
    file by rows), as a net-bank frame's does: an Int64 does not hold it, or its posting
    negated (-2^63)."""
    rows: list[Row] = []
    for item in items:
        if not isinstance(item, Row):
            yield item
            continue
        if any(not -_FRAMED < v < _FRAMED for v in item.amounts.values()):
            raise NotFramed
        rows.append(item)
        if len(rows) == size:
            yield from_rows(rows, schema)
            rows = []
    if rows:
        yield from_rows(rows, schema)


def _string_lists(name: str, values: list[tuple[str, ...]]) -> pl.Series:
    """A List(String) column from tuples (mostly empty): Polars converts a list of Python
    lists one element at a time, so the strings go in flat with their row numbers."""
    flat = pl.DataFrame(
        {
            "row": pl.Series([i for i, v in enumerate(values) for _ in v], dtype=pl.UInt32),
            name: pl.Series([x for v in values for x in v], dtype=pl.String),
        }
    )
    rows = pl.DataFrame({"row": pl.int_range(len(values), eager=True, dtype=pl.UInt32)})
    return (
        rows.join(
            flat.group_by("row", maintain_order=True).agg(name),
            on="row",
            how="left",
            maintain_order="left",
        )
        .get_column(name)
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def to_rows(frame: pl.DataFrame, source: str, schema: Schema) -> Iterator[Row]:
    """A frame's rows as `Row` objects, in frame order (the seam towards per-row stages).
    Read a slice's columns at a time: Polars hands over a column as a list several times
    faster than a row as a dict, and a slice bounds what is held. A null is no field (as
    `Row.value` gives None for it); timestamps come back in UTC."""
    amounts = [n for n in schema.amounts if n in frame.columns]
    fields = [n for n in frame.columns if not n.startswith("_") and n not in schema.amounts]
    utc = {n for n in fields if frame.schema[n] == pl.Datetime("us", "UTC")}
    for start in range(0, frame.height, _SLICE):
        part = frame.slice(start, _SLICE)
        keys, dates, files, lines, aliases, former = (
            part.get_column(n).to_list() for n in (KEY, DATE_COL, FILE, LINE, ALIASES, FORMER)
        )
        details = (
            part.get_column(DETAIL).to_list() if DETAIL in part.columns else [None] * part.height
        )
        money = list(zip(*(part.get_column(n).to_list() for n in amounts), strict=True))
        values = list(
            zip(
                *(_utc_list(part[n]) if n in utc else part[n].to_list() for n in fields),
                strict=True,
            )
        )
        for i, key in enumerate(keys):
            yield Row(
                source,
                key,
                dates[i],
                {n: v for n, v in zip(amounts, money[i], strict=True) if v is not None}
                if amounts
                else {},
                {n: v for n, v in zip(fields, values[i], strict=True) if v is not None}
                if fields
                else {},
                Origin(files[i], lines[i]),
                tuple(aliases[i]) if aliases[i] else (),
                tuple(former[i]) if former[i] else (),
                details[i],
            )


def _utc_list(instants: pl.Series) -> list[dt.datetime | None]:
    """A UTC timestamp column as aware datetimes in `datetime.timezone.utc` (as the row
    readers give them; Polars' own list has the zone as a ZoneInfo)."""
    utc = dt.timezone.utc
    naive = instants.dt.replace_time_zone(None).to_list()
    aware = {v: v.replace(tzinfo=utc) for v in set(naive) if v is not None}  # exports repeat them
    aware[None] = None
    return [aware[v] for v in naive]


_SLICE = 10_000


def _utc(value: Any) -> Any:
    """An aware timestamp in UTC (Polars keeps one zone a column); others unchanged."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    return value


def map_distinct(
    texts: pl.Series,
    which: pl.Series,
    parse: Callable[[Any], Any],
    dtype: Any,
    refuse: tuple[type[Exception], ...] = (ValueError,),
) -> tuple[pl.Series, pl.Series]:
    """`parse` of the texts where `which` is set, called once per distinct text: the rare
    shapes an expression does not cover go through the one per-value parser, so the two
    can never disagree. Returns (values, refused) aligned with `texts`; a text `parse`
    raises one of `refuse` on is refused (its value null); elsewhere both are null/False."""
    parsed: dict[Any, Any] = {}  # a text, or another value (local_dates: an instant)
    refused: list[Any] = []
    for text in texts.filter(which).unique().to_list():
        try:
            parsed[text] = parse(text)
        except refuse:
            refused.append(text)
    if not parsed:
        values = pl.Series(texts.name, [None] * len(texts), dtype=dtype)
    else:  # only where `which` is set: a row outside it may hold the same text
        mapped = texts.replace_strict(parsed, default=None, return_dtype=dtype)
        values = pl.select(pl.when(which).then(mapped)).to_series().alias(texts.name)
    return values, which & texts.is_in(refused).fill_null(False)


def by_distinct(
    texts: pl.Series, parse: Callable[[pl.Series], tuple[pl.Series, pl.Series]]
) -> tuple[pl.Series, pl.Series]:
    """`parse` (a column parser giving values and a refused mask) run on the distinct
    non-null texts only and mapped back onto every row: exports repeat their prices, fees
    and minutes, so a million cells are often a few thousand texts."""
    distinct = texts.drop_nulls().unique()
    values, refused = parse(distinct)
    mapped = texts.replace_strict(distinct, values, default=None, return_dtype=values.dtype)
    return (
        mapped.alias(texts.name),
        texts.is_in(distinct.filter(refused).implode()).fill_null(False).alias(texts.name),
    )


def local_dates(instants: pl.Series, tz: dt.tzinfo) -> pl.Series:
    """The date in `tz` of each UTC instant, as `instant.astimezone(tz).date()` gives it:
    by Polars' zone database for a named zone, by the offset for a fixed one; any other
    zone object once per distinct instant."""
    key = getattr(tz, "key", None)
    if key is not None:
        try:
            return instants.dt.convert_time_zone(key).dt.date()
        except pl.exceptions.PolarsError:
            pass  # a zone Polars does not know: Python's own below
    if isinstance(tz, dt.timezone):
        offset = tz.utcoffset(None)
        return (instants.dt.replace_time_zone(None) + offset).dt.date()
    dates, _ = map_distinct(
        instants, instants.is_not_null(), lambda when: when.astimezone(tz).date(), pl.Date
    )
    return dates


# --- vouchers ----------------------------------------------------------------------------

VOUCHER = "_voucher"  # a voucher's place in the file (0, 1, ...), in both frames
VOUCHER_COLUMNS: dict[str, Any] = {
    VOUCHER: pl.Int64,
    "series": pl.String,
    "number": pl.Int64,
    "date": pl.Date,
    "text": pl.String,
    "reg_date": pl.Date,
}
# A line's objects as SIE lists them, sorted by dimension number (as `domain.make_dims`).
DIMS = pl.List(pl.Struct({"dim": pl.Int64, "object": pl.String}))
LINE_COLUMNS: dict[str, Any] = {
    VOUCHER: pl.Int64,
    "account": pl.String,
    "amount": pl.Int64,
    "dims": DIMS,
    "text": pl.String,
    "quantity": pl.String,
    "transdat": pl.Date,
}


@dataclass(frozen=True)
class VoucherFrames:
    """Vouchers as two frames: one row a voucher (`VOUCHER_COLUMNS`, in file order, `_voucher`
    0, 1, ...) and one row a voucher line (`LINE_COLUMNS`, grouped by voucher in that order,
    each voucher's lines in their order). Amounts are öre; `quantity` is the exact decimal
    as plain text (`format(q, "f")`: a Decimal's scale is kept, which a Decimal column's
    fixed scale would not); null `number`, `reg_date`, `quantity`, `transdat` are absent
    values. `described[i]` is voucher i as a `Voucher`, for the messages that name one
    (its source keys and origins are not columns)."""

    vouchers: pl.DataFrame
    lines: pl.DataFrame
    described: Sequence[Voucher]


def voucher_frames(vouchers: Sequence[Voucher]) -> VoucherFrames:
    """`vouchers` as frames (the seam while booking still makes `Voucher` objects), made a
    slice of about `_VOUCHER_SLICE` lines at a time so the Python lists on the way stay
    small.

    Raises OverflowError for an amount or number outside Int64 (no real books hold one)."""
    if isinstance(vouchers, FramedVouchers):
        return vouchers.frames()
    parts, start, size = [], 0, 0
    for end, v in enumerate(vouchers, 1):
        size += len(v.lines)
        if size >= _VOUCHER_SLICE or end == len(vouchers):
            parts.append(_voucher_slice(vouchers, start, end))
            start, size = end, 0
    if not parts:
        parts.append(_voucher_slice(vouchers, 0, 0))
    return VoucherFrames(
        pl.concat([p[0] for p in parts], rechunk=False),
        pl.concat([p[1] for p in parts], rechunk=False),
        vouchers,
    )


_VOUCHER_SLICE = 1 << 14


def _voucher_slice(
    vouchers: Sequence[Voucher], start: int, end: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The voucher and line frames of `vouchers[start:end]`. A column's Python list is
    made and turned into a Series one at a time; values that repeat (dates, object lists)
    are converted once each and gathered."""
    chosen = vouchers[start:end]
    lines = [line for v in chosen for line in v.lines]

    def field(i: int) -> list[Any]:
        return list(map(itemgetter(i), lines))

    try:
        line_frame = pl.DataFrame(
            {
                VOUCHER: pl.Series(
                    list(
                        chain.from_iterable(
                            repeat(i, len(v.lines)) for i, v in enumerate(chosen, start)
                        )
                    ),
                    dtype=pl.Int64,
                ),
                "account": pl.Series(field(0), dtype=pl.String),
                "amount": pl.Series(field(1), dtype=pl.Int64),
                "dims": _repeating(
                    field(2), DIMS, lambda d: [{"dim": k, "object": o} for k, o in d]
                ),
                "text": pl.Series(field(3), dtype=pl.String),
                "quantity": pl.Series(
                    [None if q is None else format(q, "f") for q in field(4)], dtype=pl.String
                ),
                "transdat": _repeating(field(5), pl.Date),
            },
            schema=LINE_COLUMNS,
        )
        voucher_frame = pl.DataFrame(
            {
                VOUCHER: pl.Series(range(start, end), dtype=pl.Int64),
                "series": pl.Series([v.series for v in chosen], dtype=pl.String),
                "number": pl.Series([v.number for v in chosen], dtype=pl.Int64),
                "date": _repeating([v.date for v in chosen], pl.Date),
                "text": pl.Series([v.text for v in chosen], dtype=pl.String),
                "reg_date": _repeating([v.reg_date for v in chosen], pl.Date),
            },
            schema=VOUCHER_COLUMNS,
        )
    except TypeError as exc:  # Polars: a value outside Int64
        raise OverflowError(str(exc)) from None
    return voucher_frame, line_frame


def _repeating(values: list[Any], dtype: Any, convert: Any = None) -> pl.Series:
    """`values` as a Series of `dtype`, each distinct value converted (by `convert`) once."""
    index: dict[Any, int] = {}
    codes = [index.setdefault(value, len(index)) for value in values]
    distinct = pl.Series(
        [convert(v) if convert and v is not None else v for v in index], dtype=dtype
    )
    return distinct.gather(pl.Series(codes, dtype=pl.UInt32))


# A voucher a row booked as columns (bokfor.postings): its frame has VOUCHER_COLUMNS and its
# row's key, origin and rule (HEAD_COLUMNS); its lines are (VOUCHER, slot, amount), a slot
# being an account, dimensions and text (SLOT_COLUMNS) with the text the ledger's JSON of
# such a line has before and after its amount.
HEAD_COLUMNS: dict[str, Any] = {
    **VOUCHER_COLUMNS,
    "key": pl.String,
    "file": pl.String,
    "line": pl.Int64,
    "rule": pl.String,
}
SLOT = "slot"
SLOT_LINES: dict[str, Any] = {VOUCHER: pl.Int64, SLOT: pl.Int32, "amount": pl.Int64}
SLOT_COLUMNS: dict[str, Any] = {
    SLOT: pl.Int32,
    "account": pl.String,
    "dims": DIMS,
    "text": pl.String,
    "before": pl.String,
    "after": pl.String,
}


class FramedVouchers(VoucherColumns):
    """Vouchers of one source row each, as a voucher frame (`HEAD_COLUMNS`, `_voucher` 0, 1,
    … in order), a line frame (`SLOT_LINES`, grouped by voucher in that order) and the
    slots its lines name (`SLOT_COLUMNS`, a few). A `Voucher` is made when one is asked
    for: as objects, 100k camt.053 vouchers took ~2 KB each while the run planned, and the
    SIE file, the ledger and the totals read the columns anyway."""

    __slots__ = ("heads", "lines", "slots", "_starts", "_slot_values")

    def __init__(self, heads: pl.DataFrame, lines: pl.DataFrame, slots: pl.DataFrame) -> None:
        assert heads.schema == HEAD_COLUMNS and lines.schema == SLOT_LINES, "columns"
        # A slot's number is its row: `_made` reads slot n at row n.
        assert slots[SLOT].to_list() == list(range(slots.height)), "slots 0, 1, …"
        self.heads, self.lines, self.slots = heads, lines, slots
        self._starts: list[int] | None = None
        self._slot_values: list[tuple[str, Any, str]] | None = None

    def __len__(self) -> int:
        return self.heads.height

    def __getitem__(self, i: Any) -> Any:  # a Voucher; a FramedVouchers for a slice
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError("voucher index out of range")
        i %= n
        return self._made(i, i + 1)[0]

    def __iter__(self) -> Iterator[Voucher]:
        for a in range(0, len(self), _SLICE):
            yield from self._made(a, min(a + _SLICE, len(self)))

    def __repr__(self) -> str:
        return f"FramedVouchers({len(self)} vouchers, {self.lines.height} lines)"

    def _lines_of(self, a: int, b: int) -> pl.DataFrame:
        """The lines of vouchers a..b-1."""
        if self._starts is None:  # where each voucher's lines begin, and their end last
            self._starts = (
                self.lines[VOUCHER]
                .search_sorted(pl.int_range(len(self) + 1, eager=True), side="left")
                .to_list()
            )
        return self.lines.slice(self._starts[a], self._starts[b] - self._starts[a])

    def _made(self, a: int, b: int) -> list[Voucher]:
        """Vouchers a..b-1 as objects."""
        if self._slot_values is None:
            self._slot_values = [
                (account, tuple((d["dim"], d["object"]) for d in dims), text)
                for account, dims, text in self.slots.select("account", "dims", "text").rows()
            ]
        slots, lines = self._slot_values, self._lines_of(a, b)
        made: list[list[Line]] = [[] for _ in range(b - a)]
        for voucher, slot, amount in zip(*(lines[c].to_list() for c in SLOT_LINES), strict=True):
            account, dims, text = slots[slot]
            made[voucher - a].append(Line(account, amount, dims, text))
        heads = self.heads.slice(a, b - a)
        names = ("series", "date", "text", "number", "reg_date", "key", "file", "line", "rule")
        return [
            Voucher(
                series,
                date,
                text,
                tuple(lines_of),
                (key,),
                number,
                reg_date,
                origins=(Origin(file, line),),
                rule=rule,
            )
            for lines_of, (series, date, text, number, reg_date, key, file, line, rule) in zip(
                made, zip(*(heads[c].to_list() for c in names), strict=True), strict=True
            )
        ]

    def frames(self) -> VoucherFrames:
        """The SIE writer's frames of these vouchers."""
        lines = self.lines.join(self.slots, on=SLOT, how="left", maintain_order="left")
        return VoucherFrames(
            self.heads.select(list(VOUCHER_COLUMNS)),
            lines.select(
                VOUCHER,
                "account",
                "amount",
                "dims",
                "text",
                pl.lit(None, pl.String).alias("quantity"),
                pl.lit(None, pl.Date).alias("transdat"),
            ),
            self,
        )

    def dates(self) -> list[dt.date]:
        return self.heads["date"].to_list()

    def take(self, indices: Sequence[int]) -> FramedVouchers:
        if len(indices) == len(self) and all(i == k for k, i in enumerate(indices)):
            return self
        at = pl.Series(indices, dtype=pl.Int64)
        place = pl.DataFrame(
            {
                VOUCHER: at + (at < 0).cast(pl.Int64) * len(self),  # -1: the last, as a list's
                "_new": pl.int_range(len(indices), eager=True, dtype=pl.Int64),
            }
        )
        heads = self.heads[place[VOUCHER]].with_columns(place["_new"].alias(VOUCHER))
        lines = (
            self.lines.with_row_index("_at")
            .join(place, on=VOUCHER, how="inner")
            .sort("_new", "_at")
            .select(pl.col("_new").alias(VOUCHER), SLOT, "amount")
        )
        return FramedVouchers(heads, lines, self.slots)

    def ledger_rows(self) -> Iterator[tuple[str, int | None, str, str, str]]:
        slots = self.slots
        piece = pl.concat_str(
            pl.col(SLOT).replace_strict(slots[SLOT], slots["before"]),
            pl.col("amount").cast(pl.String),
            pl.col(SLOT).replace_strict(slots[SLOT], slots["after"]),
        )
        for a in range(0, len(self), _SLICE):
            b = min(a + _SLICE, len(self))
            pieces = self._lines_of(a, b).select(piece).to_series().to_list()
            starts = self._starts
            assert starts is not None  # set by _lines_of
            at = [k - starts[a] for k in starts[a : b + 1]]
            heads = self.heads.slice(a, b - a).select(
                "series", "number", pl.col("date").dt.to_string("%Y-%m-%d"), "text"
            )
            for i, (series, number, date, text) in enumerate(heads.iter_rows()):
                yield series, number, date, text, "[" + ",".join(pieces[at[i] : at[i + 1]]) + "]"

    def totals(self) -> dict[str, tuple[int, int]]:
        debit: dict[str, int] = {}
        credit: dict[str, int] = {}
        sums = self.lines.group_by(SLOT).agg(
            pl.col("amount").filter(pl.col("amount") > 0).cast(pl.Int128).sum().alias("d"),
            pl.col("amount").filter(pl.col("amount") <= 0).cast(pl.Int128).sum().alias("c"),
        )
        accounts = dict(self.slots.select(SLOT, "account").iter_rows())
        for slot, d, c in sums.iter_rows():
            account = accounts[slot]
            debit[account] = debit.get(account, 0) + int(d)
            credit[account] = credit.get(account, 0) - int(c)
        return {a: (debit[a], credit[a]) for a in sorted(debit)}

    def line_count(self) -> int:
        return self.lines.height
