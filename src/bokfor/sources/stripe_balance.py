"""Stripe Dashboard balance export (`balance_history.csv`, Balance → All activity → Export).

One row per balance transaction, newest first. Two header eras exist (legacy 14/15 columns,
current 17 columns with `Destination Platform Fee`), each optionally followed by
`<key> (metadata)` columns; columns are therefore found by name, never by position.

Money is major units with a decimal point ("-1234.50"), times are UTC `YYYY-MM-DD HH:MM`
(sometimes with seconds). A voucher is dated in the company's zone, so a sale at 23:30 UTC
on 31 January belongs to February in Sweden: `Row.date` is the local date while the
`created` field keeps the UTC instant.

Empty cells become None in `fields`, so rules can test "is set" without caring about "".

Two readers share the column map `COLUMNS`: `read_frame` (Polars, the row frame of
`bokfor.frames`; its checks are masks) and `read` (one row at a time, for the stages that
still take rows, and for the files `csvframe` leaves to it). They give the same rows and
the same first error, which tests/test_stripe_balance.py checks on every file it has.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from bokfor.domain import Origin, Row
from bokfor.errors import InputError
from bokfor.money import AmountError, parse_amount
from bokfor.domain import Notice
from bokfor.sources import AMOUNT, DATETIME, TEXT, Schema
from bokfor.sources import stripe_common
from bokfor.sources.columns import LOWER, Column, Export
from bokfor.sources.csvutil import Table, column_index, header_names, read_csv, records

if TYPE_CHECKING:  # Polars is imported by read_frame only: a small run never loads it
    import polars as pl

    from bokfor.sources import csvframe

from bokfor.sources.stripe_common import (
    CHARGE_ALIAS,
    PAYOUT_ALIAS,
    charge_alias,
    missing_columns,
    payout_alias,
)

NAME = "stripe_balance"
TITLE = "Stripe balance export (balance_history.csv)"

_METADATA_SUFFIX = " (metadata)"
# The export's columns, declared once: the frame reader types them by kind, the row
# reader finds them by name.
COLUMNS = Export(
    columns=(
        Column("id", "id", required=True),
        Column("Type", "type", required=True),
        Column("Source", "source_id", required=True),
        Column("Amount", "gross", AMOUNT, required=True),
        Column("Fee", "fee", AMOUNT, required=True),
        Column("Net", "net", AMOUNT, required=True),
        Column("Currency", "currency", LOWER, required=True),
        Column("Created (UTC)", "created", DATETIME, required=True),
        Column("Available On (UTC)", "available_on", DATETIME),
        Column("Description", "description"),
        Column("Customer Facing Amount", "customer_facing_amount"),
        Column("Customer Facing Currency", "customer_facing_currency", LOWER),
        Column("Transfer", "payout_id"),
        Column("Transfer Date (UTC)", "payout_date", DATETIME),
        Column("Transfer Group", "transfer_group"),
    ),
    free_suffix=_METADATA_SUFFIX,
    free_prefix="metadata.",
)
REQUIRED = COLUMNS.required
_OPTIONAL = tuple(c.header for c in COLUMNS.columns if not c.required)
_PAYOUT_TYPES = frozenset({"payout", "transfer"})  # a transfer is its own payout group too
_CHARGE_TYPES = frozenset({"charge", "payment"})
# Before Stripe's Payouts (April 2017) money to the bank was a `transfer` (tr_…) described
# "STRIPE TRANSFER", like a Connect transfer to another Stripe account today: such a row is
# booked as the payout it is (type payout), a Connect transfer keeps type transfer.
_LEGACY_PAYOUT = "STRIPE TRANSFER"

_DATE_HINT = (
    "Stripe writes times as YYYY-MM-DD HH:MM in UTC; re-download the export from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
_AMOUNT_HINT = (
    "Stripe writes amounts like -1234.50 (decimal point, no thousands separator);"
    " re-download the export from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
_REDOWNLOAD_HINT = "re-download the export from the Stripe Dashboard (Balance → Export)."
_UTF8_HINT = (
    "Stripe writes UTF-8, so a spreadsheet probably re-saved the file in another encoding; "
    + _REDOWNLOAD_HINT
)

SCHEMA = Schema(
    fields={
        "id": TEXT,
        "type": TEXT,
        "source_id": TEXT,
        "currency": TEXT,
        "created": DATETIME,
        "available_on": DATETIME,
        "description": TEXT,
        "customer_facing_amount": TEXT,
        "customer_facing_currency": TEXT,
        "payout_id": TEXT,
        "payout_date": DATETIME,
        "transfer_group": TEXT,
    },
    # Basis amounts are fee and net; gross is derived so a template's balance can be proven.
    amounts={"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}},
    group_keys={"per_payout": "payout_id"},
    unmapped_fields=("type", "currency"),
    currency_field="currency",
    open_prefixes=("metadata.",),
    order_field="created",
    content_fields=("type", "currency"),
    snippet=(
        ("clearing", "debit", "net"),
        ("fees", "debit", "fee"),
        ("<konto>", "credit", "gross"),
    ),
    money="net",  # + = into the Stripe balance
    payout_row=("type", "payout"),  # a Connect `transfer` is its own group, not a payout
    payout_column="Transfer",
)


class StripeBalanceSource:
    """The `Source` for the Dashboard balance export."""

    name = NAME
    section = NAME
    title = TITLE
    schema = SCHEMA

    def detect(self, path: Path) -> bool:
        """True when the header carries every column a balance export must have."""
        names = header_names(path)
        return all(name in names for name in REQUIRED)

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row]:
        """Stream normalised rows; raise InputError naming file, line and column."""
        return read_csv(
            path,
            lambda f, file, delimiter: _rows(f, file, delimiter, tz),
            redownload=_REDOWNLOAD_HINT,
            not_utf8=_UTF8_HINT,
        )

    def read_frame(self, path: Path, tz: dt.tzinfo) -> tuple[pl.DataFrame, list[Notice]]:
        """The rows as one row frame (`frames`), equal to `read`'s; the first bad row raises
        the error `read` raises for it."""
        import polars as pl

        from bokfor import frames
        from bokfor.sources.csvframe import NotFramed

        try:
            parts = list(self.read_frames(path, tz))
        except NotFramed:  # a file only the row reader reads exactly, or words the error of
            return frames.from_rows(self.read(path, tz), SCHEMA), []
        return pl.concat(parts) if len(parts) > 1 else parts[0], []

    def read_frames(self, path: Path, tz: dt.tzinfo) -> Iterator[pl.DataFrame]:
        """`read_frame` a batch of rows at a time, in file order (csvframe.read_batches);
        raises csvframe.NotFramed for a file only the row reader reads exactly (from the
        batch that shows it: the caller starts over with `read`)."""
        from bokfor.sources import csvframe

        batches = csvframe.read_batches(Path(path), COLUMNS)
        if batches is None:
            raise csvframe.NotFramed
        for cells in batches:
            yield _frame(cells, tz)

    def explain(self, path: Path) -> InputError | None:
        """A Stripe export of any kind that no Stripe source took: the columns its user left
        out, or what it is when bokfor does not book it (stripe_common.explain)."""
        return stripe_common.explain(path, header_names(path))


def missing(names: set[str] | dict[str, int], file: str) -> InputError | None:
    """The error for a balance export whose user left out columns bokfor needs."""
    absent = [name for name in REQUIRED if name not in names]
    if not absent:
        return None
    return missing_columns(
        "Stripe balance export",
        absent,
        REQUIRED,
        "choose the columns under Balance → Export → Columns in the Stripe Dashboard",
        file,
    )


def _index(header: list[str], file: str) -> dict[str, int]:
    """Column name -> position, checking the required columns are there."""
    index = column_index(header)
    error = missing(index, file)
    if error is not None:
        raise error
    return index


def _rows(f: Iterable[str], file: str, delimiter: str, tz: dt.tzinfo) -> Iterator[Row]:
    """The hot loop: one pass, constant work per row, no list of all rows."""
    reader = Table(f, delimiter, file, hint=_REDOWNLOAD_HINT)
    # Stripe writes "1234.50"; a spreadsheet that re-saved the file with ';' may have written
    # "1234,50". In such a file the text decides (an ambiguous "1,234" is still refused).
    mark = "." if delimiter == "," else None
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD_HINT) from None
    header = [name.strip() for name in header]
    index = _index(header, file)
    width = len(header)

    i_id, i_type, i_source = index["id"], index["Type"], index["Source"]
    i_amount, i_fee, i_net = index["Amount"], index["Fee"], index["Net"]
    i_currency, i_created = index["Currency"], index["Created (UTC)"]
    # Absent optional columns get index `width`: each row gets an extra "" appended there.
    i_avail, i_desc, i_cfa, i_cfc, i_transfer, i_tdate, i_group = (
        index.get(name, width) for name in _OPTIONAL
    )
    metadata = [
        ("metadata." + name[: -len(_METADATA_SUFFIX)].strip(), i)
        for i, name in enumerate(header)
        if name.endswith(_METADATA_SUFFIX)
    ]

    # Texts repeat a lot (prices, fees, Available On days, payout dates, busy minutes), so
    # parsing each distinct text once makes the per-row cost a few dict look-ups.
    money: dict[str, int] = {}
    times: dict[str, tuple[dt.datetime, dt.date]] = {}  # Created (UTC) -> (UTC, local date)
    instants: dict[str, dt.datetime] = {}  # Available On, Transfer Date
    payout_types = _PAYOUT_TYPES
    make_row, make_origin = Row, Origin
    try:
        for line, row in records(reader, width, file, _REDOWNLOAD_HINT):
            txn = row[i_id]
            if not txn:
                raise _empty_id(file, line)

            texts = row[i_amount], row[i_fee], row[i_net]
            gross, fee, net = money.get(texts[0]), money.get(texts[1]), money.get(texts[2])
            if gross is None or fee is None or net is None:
                gross, fee, net = _amounts(money, texts, file, line, mark)
            if gross - fee != net:
                raise _unbalanced(texts, file, line)

            text = row[i_created]
            when = times.get(text)
            if when is None:
                when = _created(times, text, tz, file, line)
            created, local_day = when
            row.append("")  # target of absent optional columns (index == width)
            kind = row[i_type]
            source_id = row[i_source] or None
            if kind == "transfer" and row[i_desc].strip().upper() == _LEGACY_PAYOUT:
                kind = "payout"  # a payout from before 2017: money to the bank, not Connect
            transfer = row[i_transfer] or None
            if transfer is None and kind in payout_types:
                transfer = source_id  # a payout belongs to its own payout group
            text = row[i_avail]
            available = (
                instants.get(text) or _instant(instants, text, file, line, "Available On (UTC)")
                if text
                else None
            )
            text = row[i_tdate]
            payout_date = (
                instants.get(text) or _instant(instants, text, file, line, "Transfer Date (UTC)")
                if text
                else None
            )
            currency = row[i_currency]
            cfc = row[i_cfc]
            fields = {
                "id": txn,
                "type": kind or None,
                "source_id": source_id,
                "currency": currency.lower() if currency else None,
                "created": created,
                "available_on": available,
                "description": row[i_desc] or None,
                "customer_facing_amount": row[i_cfa] or None,
                "customer_facing_currency": cfc.lower() if cfc else None,
                "payout_id": transfer,
                "payout_date": payout_date,
                "transfer_group": row[i_group] or None,
            }
            for key, i in metadata:
                fields[key] = row[i] or None
            yield make_row(
                NAME,
                "stripe:" + txn,
                local_day,
                {"gross": gross, "fee": fee, "net": net},
                fields,
                make_origin(file, line),
                charge_alias(source_id)
                if kind in _CHARGE_TYPES
                else payout_alias(source_id)
                if kind == "payout"
                else (),
            )
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})",
            file=file,
            line=reader.line_num,
            hint=_REDOWNLOAD_HINT,
        ) from None


def _frame(cells: csvframe.Cells, tz: dt.tzinfo) -> pl.DataFrame:
    """The row frame of a balance export's cells: the checks of `_rows` on masks (the first
    bad row raises what `_rows` raises for it), then its fields as expressions."""
    import polars as pl

    from bokfor import frames
    from bokfor.sources import csvframe

    mark = "." if cells.delimiter == "," else None
    frame, refused = csvframe.typed(cells, COLUMNS, mark, stripe_common.utc_column)
    file, lines, text = cells.file, frame[frames.LINE], cells.frame

    def texts(i: int, *fields: str) -> tuple[str, ...]:
        return tuple(text[f][i] or "" for f in fields)

    def bad_amount(i: int) -> None:
        gross, fee, net = texts(i, "gross", "fee", "net")
        _amounts({}, (gross, fee, net), file, lines[i], mark)  # raises for the first bad one
        # All three parse: one is beyond an Int64 of öre, which a frame cannot hold and the
        # row reader books.
        raise csvframe.NotFramed

    def bad_time(field: str, column: str) -> tuple[pl.Series, Callable[[int], object]]:
        return refused[field], lambda i: stripe_common.utc(
            texts(i, field)[0], file, lines[i], column, _DATE_HINT
        )

    def raise_(error: InputError) -> None:
        raise error

    csvframe.first_bad(
        [
            (frame["id"].is_null(), lambda i: raise_(_empty_id(file, lines[i]))),
            (refused["gross"] | refused["fee"] | refused["net"], bad_amount),
            (
                (frame["gross"] - frame["fee"] != frame["net"]).fill_null(False),
                lambda i: raise_(_unbalanced(texts(i, "gross", "fee", "net"), file, lines[i])),
            ),
            bad_time("created", "Created (UTC)"),
            bad_time("available_on", "Available On (UTC)"),
            bad_time("payout_date", "Transfer Date (UTC)"),
        ]
    )

    # Amounts so large (over 46 000 000 000 000 000 kr) that a sum of two, or a sign turned,
    # could pass an Int64: booked row by row, in Python's integers.
    if frame.select(
        pl.any_horizontal(
            (pl.col(a) >= _FRAMED) | (pl.col(a) <= -_FRAMED) for a in ("gross", "fee", "net")
        ).any()
    ).item():
        raise csvframe.NotFramed
    kind, desc = frame["type"], frame["description"]
    legacy, _ = frames.map_distinct(  # a payout from before 2017 (see _LEGACY_PAYOUT)
        desc,
        ((kind == "transfer") & desc.is_not_null()).fill_null(False),
        lambda d: d.strip().upper() == _LEGACY_PAYOUT,
        pl.Boolean,
    )
    kind = pl.select(
        pl.when(legacy.fill_null(False)).then(pl.lit("payout")).otherwise(kind)
    ).to_series()
    frame = frame.with_columns(
        kind.alias("type"),
        frames.local_dates(frame["created"], tz).alias(frames.DATE_COL),
        pl.lit(file).alias(frames.FILE),
    ).with_columns(
        (pl.lit("stripe:") + pl.col("id")).alias(frames.KEY),
        pl.when(pl.col("payout_id").is_null() & pl.col("type").is_in(list(_PAYOUT_TYPES)))
        .then(pl.col("source_id"))
        .otherwise(pl.col("payout_id"))
        .alias("payout_id"),
        pl.when(pl.col("source_id").is_null())
        .then(pl.lit([], pl.List(pl.String)))
        .when(pl.col("type").is_in(list(_CHARGE_TYPES)))
        .then(pl.concat_list(pl.lit(CHARGE_ALIAS) + pl.col("source_id")))
        .when(pl.col("type") == "payout")
        .then(pl.concat_list(pl.lit(PAYOUT_ALIAS) + pl.col("source_id")))
        .otherwise(pl.lit([], pl.List(pl.String)))
        .alias(frames.ALIASES),
        pl.lit([], pl.List(pl.String)).alias(frames.FORMER),
    )
    columns = frames.frame_schema(SCHEMA, sorted(cells.free))
    return frame.select(pl.col(name).cast(dtype) for name, dtype in columns.items())


_FRAMED = 1 << 62  # öre: the largest |amount| a frame books


def _empty_id(file: str, line: int) -> InputError:
    return InputError(
        "empty id",
        file=file,
        line=line,
        column="id",
        hint="every Stripe row has a txn_ id; " + _REDOWNLOAD_HINT,
    )


def _unbalanced(texts: tuple[str, ...], file: str, line: int) -> InputError:
    return InputError(
        f"Amount − Fee ≠ Net ({texts[0]} − {texts[1]} ≠ {texts[2]})",
        file=file,
        line=line,
        column="Net",
        hint="the row was edited or damaged; " + _REDOWNLOAD_HINT,
    )


def _amounts(
    cache: dict[str, int], texts: tuple[str, str, str], file: str, line: int, mark: str | None
) -> tuple[int, int, int]:
    """Parse Amount, Fee and Net (the cache missed one of them) and remember them."""
    if len(cache) > stripe_common.CACHE_LIMIT:
        cache.clear()
    values: list[int] = []
    for text, column in zip(texts, ("Amount", "Fee", "Net"), strict=True):
        try:
            value = parse_amount(text, mark)
        except AmountError:
            raise InputError(
                f"not an amount: {text!r}",
                file=file,
                line=line,
                column=column,
                hint=_AMOUNT_HINT,
            ) from None
        cache[text] = value
        values.append(value)
    return values[0], values[1], values[2]


def _created(
    cache: dict[str, tuple[dt.datetime, dt.date]], text: str, tz: dt.tzinfo, file: str, line: int
) -> tuple[dt.datetime, dt.date]:
    return stripe_common.created(cache, text, tz, file, line, "Created (UTC)", _DATE_HINT)


def _instant(
    cache: dict[str, dt.datetime], text: str, file: str, line: int, column: str
) -> dt.datetime:
    return stripe_common.instant(cache, text, file, line, column, _DATE_HINT)


SOURCE = StripeBalanceSource()
