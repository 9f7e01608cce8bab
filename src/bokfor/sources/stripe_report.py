"""Stripe itemized reports: "Balance change from activity" and "Payout reconciliation".

Both are downloaded from Dashboard → Reports (or run through the Reports API:
`balance_change_from_activity.itemized.3`, `payout_reconciliation.itemized.5/.4`) and share
one pool of snake_case columns; the payout reconciliation adds `automatic_payout_id` and
`automatic_payout_effective_at(_utc)`. Which columns a file has depends on what was chosen
when the report was run, so columns are found by name, never by position.

One row per balance transaction. Its key is "stripe:" + balance_transaction_id, the same key
the Dashboard balance export gives the same transaction, so a transaction booked from both
exports is recognised as one by the ledger.

Times: `*_utc` columns are UTC `YYYY-MM-DD HH:MM:SS`. A report run with a timezone also has
local twins (`created`, `available_on`, …) in that zone, which the file states only in its
name. The name is never trusted, so the local twins are ignored, and a file that has only
the local `created` is refused: the report must be run with `created_utc`.

Money: major units, decimal point by default; a report downloaded with decimal_separator ","
writes a decimal comma (and usually `;` between fields). The mark is decided per file by the
first amount that has one, and a file mixing both marks is refused.

Empty cells become None in `fields`, so rules can test "is set" without caring about "".
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Iterable, Iterator, cast

from bokfor.domain import FieldValue, Origin, Row
from bokfor.errors import InputError
from bokfor.money import AmountError, parse_amount
from bokfor.sources import DATETIME, TEXT, Schema
from bokfor.sources.csvutil import Table, column_index, header_names, read_csv, records
from bokfor.sources import stripe_common
from bokfor.sources.stripe_common import charge_alias, missing_columns

NAME = "stripe_report"
TITLE = "Stripe itemized report (balance change from activity / payout reconciliation)"

# Required apart from the time column, in the order Stripe writes the default columns.
REQUIRED = (
    "balance_transaction_id", "created_utc", "currency", "gross", "fee", "net",
    "reporting_category",
)  # fmt: skip
_DETECT = frozenset(REQUIRED) - {"created_utc"}
_CREATED_COLUMNS = ("created_utc", "created")  # either makes the header a report's

# Field name -> column, for the optional text columns exposed as they are.
_TEXT_COLUMNS = (
    ("description", "description"),
    ("source_id", "source_id"),
    ("customer_facing_amount", "customer_facing_amount"),
    ("payout_id", "automatic_payout_id"),
    ("charge_id", "charge_id"),
    ("payment_intent_id", "payment_intent_id"),
    ("invoice_id", "invoice_id"),
    ("customer_email", "customer_email"),
    ("card_country", "card_country"),
    ("dispute_reason", "dispute_reason"),
)
_METADATA_COLUMN = re.compile(r"(?:payment|refund|transfer)_metadata\[(.+)\]")
_AMOUNT_TEXT = re.compile(r"-?\d+(?:[.,]\d+)?")

_REDOWNLOAD_HINT = "re-download the itemized report from the Stripe Dashboard (Reports)."
_DATE_HINT = (
    "Stripe reports write times as YYYY-MM-DD HH:MM:SS in UTC in the _utc columns;"
    " re-download the report from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
_AMOUNT_HINT = (
    "Stripe reports write amounts like -1234.50 (or -1234,50 when downloaded with the decimal"
    " separator ','), no thousands separator; re-download the report from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
_MIXED_HINT = (
    "a report uses one decimal separator for all its amounts, so the file was edited or"
    " pieced together from two downloads; " + _REDOWNLOAD_HINT
)
_LOCAL_ONLY_HINT = (
    "'created' is in the timezone chosen when the report was run, which the file does not"
    " state (bokfor never takes it from the file name); run the report again with the"
    " created_utc column added (Columns → created_utc) and download it again."
)
_UTF8_HINT = (
    "Stripe writes UTF-8, so a spreadsheet probably re-saved the file in another encoding; "
    + _REDOWNLOAD_HINT
)

SCHEMA = Schema(
    fields={
        "id": TEXT,
        "category": TEXT,
        "currency": TEXT,
        "created": DATETIME,
        "available_on": DATETIME,
        "description": TEXT,
        "source_id": TEXT,
        "customer_facing_amount": TEXT,
        "customer_facing_currency": TEXT,
        "payout_id": TEXT,
        "payout_date": DATETIME,
        "charge_id": TEXT,
        "payment_intent_id": TEXT,
        "invoice_id": TEXT,
        "customer_email": TEXT,
        "card_country": TEXT,
        "dispute_reason": TEXT,
    },
    # Basis amounts are fee and net; gross is derived so a template's balance can be proven.
    amounts={"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}},
    group_keys={"per_payout": "payout_id"},
    unmapped_fields=("category", "currency"),
    currency_field="currency",
    open_prefixes=("metadata.",),
    order_field="created",
    content_fields=("category", "currency"),
    snippet=(
        ("clearing", "debit", "net"),
        ("fees", "debit", "fee"),
        ("<konto>", "credit", "gross"),
    ),
    money="net",  # + = into the Stripe balance
)


class StripeReportSource:
    """The `Source` for both itemized reports."""

    name = NAME
    section = NAME
    title = TITLE
    schema = SCHEMA

    def detect(self, path: Path) -> bool:
        """True when the header has a report's identifying columns and a creation time."""
        names = header_names(path)
        return _DETECT <= names and any(name in names for name in _CREATED_COLUMNS)

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row]:
        """Stream normalised rows; raise InputError naming file, line and column."""
        return read_csv(
            path,
            lambda f, file, delimiter: _rows(f, file, delimiter, tz),
            redownload=_REDOWNLOAD_HINT,
            not_utf8=_UTF8_HINT,
        )


def missing(names: set[str] | dict[str, int], file: str) -> InputError | None:
    """The error for an itemized report run without columns bokfor needs."""
    absent = [
        name for name in REQUIRED
        if name not in names and not (name == "created_utc" and "created" in names)
    ]  # fmt: skip
    if not absent:
        return None
    return missing_columns(
        "Stripe itemized report",
        absent,
        REQUIRED,
        "choose the columns when downloading the itemized report from the Stripe Dashboard"
        " (Reports → Balance summary or Payout reconciliation → Download → Itemized → "
        "Columns)",
        file,
    )


def _index(header: list[str], file: str) -> dict[str, int]:
    """Column name -> position, checking the required columns are there."""
    index = column_index(header)
    error = missing(index, file)
    if error is not None:
        raise error
    if "created_utc" not in index:
        raise InputError(
            "the report has local times only: 'created' but no 'created_utc'",
            file=file,
            line=1,
            hint=_LOCAL_ONLY_HINT,
        )
    return index


class _Amounts:
    """gross, fee and net of a file: parsed once per distinct text, one decimal mark."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.mark: str | None = None  # decided by the first amount that has one
        self.mark_line = 0
        self.cache: dict[str, int] = {}

    def parse(self, texts: tuple[str, str, str], line: int) -> tuple[int, int, int]:
        """Called when the cache missed one of the texts. Every cached text has passed the
        mark check, and the mark never changes once set, so a hit needs no check."""
        cache = self.cache
        if len(cache) > stripe_common.CACHE_LIMIT:
            cache.clear()
        values: list[int] = []
        for text, column in zip(texts, ("gross", "fee", "net"), strict=True):
            value = cache.get(text)
            if value is None:
                value = cache[text] = self._one(text, column, line)
            values.append(value)
        return values[0], values[1], values[2]

    def _one(self, text: str, column: str, line: int) -> int:
        if not _AMOUNT_TEXT.fullmatch(text):
            raise self._bad(text, column, line)
        mark = "," if "," in text else "." if "." in text else None
        if mark is not None:
            if self.mark is None:
                self.mark, self.mark_line = mark, line
            elif mark != self.mark:
                raise InputError(
                    f"mixed decimal marks: {text!r} has {mark!r}, the file's first amount"
                    f" with a mark (line {self.mark_line}) has {self.mark!r}",
                    file=self.file,
                    line=line,
                    column=column,
                    hint=_MIXED_HINT,
                )
        try:
            return parse_amount(text.replace(",", "."), ".")
        except AmountError:  # more than two decimals
            raise self._bad(text, column, line) from None

    def _bad(self, text: str, column: str, line: int) -> InputError:
        return InputError(
            f"not an amount: {text!r}",
            file=self.file,
            line=line,
            column=column,
            hint=_AMOUNT_HINT,
        )


def _rows(f: Iterable[str], file: str, delimiter: str, tz: dt.tzinfo) -> Iterator[Row]:
    """The hot loop: one pass, constant work per row, no list of all rows."""
    reader = Table(f, delimiter, file, hint=_REDOWNLOAD_HINT)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD_HINT) from None
    header = [name.strip() for name in header]
    index = _index(header, file)
    width = len(header)

    i_id, i_category = index["balance_transaction_id"], index["reporting_category"]
    i_gross, i_fee, i_net = index["gross"], index["fee"], index["net"]
    i_currency, i_created = index["currency"], index["created_utc"]
    # Absent optional columns get index `width`: each row gets an extra "" appended there.
    i_avail = index.get("available_on_utc", width)
    i_pdate = index.get("automatic_payout_effective_at_utc", width)
    i_cfc = index.get("customer_facing_currency", width)
    i_cfa = index.get("customer_facing_amount", width)
    texts_at = [(field, index.get(column, width)) for field, column in _TEXT_COLUMNS]
    metadata_columns: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        match = _METADATA_COLUMN.fullmatch(name)
        if match:
            metadata_columns.setdefault("metadata." + match.group(1).strip(), []).append(i)
    single = [(key, at[0]) for key, at in metadata_columns.items() if len(at) == 1]
    merged = [(key, at) for key, at in metadata_columns.items() if len(at) > 1]

    # Texts repeat a lot (prices, fees, available days, payout dates), so parsing each
    # distinct text once makes the per-row cost a few dict look-ups.
    amounts = _Amounts(file)
    money = amounts.cache
    times: dict[str, tuple[dt.datetime, dt.date]] = {}  # created_utc -> (UTC, local date)
    instants: dict[str, dt.datetime] = {}  # available_on_utc, automatic_payout_effective_at_utc
    make_row, make_origin = Row, Origin
    try:
        for line, row in records(reader, width, file, _REDOWNLOAD_HINT):
            txn = row[i_id]
            if not txn:
                raise InputError(
                    "empty balance_transaction_id",
                    file=file,
                    line=line,
                    column="balance_transaction_id",
                    hint="every row of an itemized report has a txn_ id; " + _REDOWNLOAD_HINT,
                )

            texts = row[i_gross], row[i_fee], row[i_net]
            gross, fee, net = money.get(texts[0]), money.get(texts[1]), money.get(texts[2])
            if gross is None or fee is None or net is None:
                gross, fee, net = amounts.parse(texts, line)
            if gross - fee != net:
                raise InputError(
                    f"gross − fee ≠ net ({texts[0]} − {texts[1]} ≠ {texts[2]})",
                    file=file,
                    line=line,
                    column="net",
                    hint="the row was edited or damaged; " + _REDOWNLOAD_HINT,
                )

            text = row[i_created]
            when = times.get(text)
            if when is None:
                when = _created(times, text, tz, file, line)
            created, local_day = when
            row.append("")  # target of absent optional columns (index == width)
            text = row[i_avail]
            available = (
                instants.get(text) or _instant(instants, text, file, line, "available_on_utc")
                if text
                else None
            )
            text = row[i_pdate]
            payout_date = (
                instants.get(text)
                or _instant(instants, text, file, line, "automatic_payout_effective_at_utc")
                if text
                else None
            )
            currency = row[i_currency]
            cfc = row[i_cfc]
            fields: dict[str, FieldValue] = {
                "id": txn,
                "category": row[i_category] or None,
                "currency": currency.lower() if currency else None,
                "created": created,
                "available_on": available,
                "customer_facing_currency": cfc.lower() if cfc else None,
            }
            for name, i in texts_at:
                fields[name] = row[i] or None
            cfa = row[i_cfa]
            if cfa and amounts.mark == ",":
                fields["customer_facing_amount"] = cfa.replace(",", ".")
            fields["payout_date"] = payout_date
            for key, i in single:
                fields[key] = row[i] or None
            for key, at in merged:
                fields[key] = next((row[i] for i in at if row[i]), None)
            yield make_row(
                NAME,
                "stripe:" + txn,
                local_day,
                {"gross": gross, "fee": fee, "net": net},
                fields,
                make_origin(file, line),
                charge_alias(
                    cast(
                        "str | None",  # both are text columns
                        fields.get("source_id") or fields.get("charge_id"),
                    )
                )
                if fields["category"] == "charge"
                else (),
            )
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})",
            file=file,
            line=reader.line_num,
            hint=_REDOWNLOAD_HINT,
        ) from None


def _created(
    cache: dict[str, tuple[dt.datetime, dt.date]], text: str, tz: dt.tzinfo, file: str, line: int
) -> tuple[dt.datetime, dt.date]:
    return stripe_common.created(cache, text, tz, file, line, "created_utc", _DATE_HINT)


def _instant(
    cache: dict[str, dt.datetime], text: str, file: str, line: int, column: str
) -> dt.datetime:
    return stripe_common.instant(cache, text, file, line, column, _DATE_HINT)


SOURCE = StripeReportSource()
