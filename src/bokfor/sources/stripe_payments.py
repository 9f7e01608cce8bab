"""Stripe Dashboard payments export (`unified_payments.csv`, Payments → Export).

Not a ledger but a list of charges (one row per charge or payment attempt, newest first),
which bokfor books as sales. Each input row gives up to two normalised rows:

1. the charge (`stripe-payment:<id>`), dated by `Created date (UTC)` in the company's zone:
   gross = `Converted Amount` (the settlement currency, what reached the Stripe balance),
   fee = `Fee` + `Taxes On Fee` (`Tax` in older exports) — everything Stripe kept, since
   `Fee` alone excludes the tax on it — and net = gross − fee;
2. its refund (`stripe-payment:<id>:refund`) when `Amount Refunded` > 0, dated by
   `Refunded date (UTC)`: gross = net = −`Converted Amount Refunded`, fee 0 (Stripe does not
   give the fee back).

Only charges that moved money are booked: Status `Paid` or `Refunded` (or the raw
payment-intent status `succeeded`) with `Captured` true. Failed attempts, incomplete
payment intents (`requires_payment_method`, `canceled`, …) and uncaptured authorisations
yield no row at all: no money reached the balance, so there is nothing to book, and a
released authorisation (which Stripe marks as refunded) must not book a refund either.
An unknown Status is refused rather than guessed.

Amounts: `Amount`/`Currency` are what the customer paid (presentment, kept as the text
fields `presentment_amount`/`presentment_currency`); `Converted Amount`/`Converted
Currency` are the same charge in the settlement currency. bokfor books the settlement
amounts and never converts: when `Converted Amount` is missing it falls back to `Amount`
only if the two currencies are the same (or the export has no converted columns at all),
otherwise the row is refused. Refunds are converted by Stripe at the refund's own day's
rate, so a proportional share of the charge's converted amount would be wrong: a foreign
currency refund without `Converted Amount Refunded` is refused too.

`Transfer` names the payout that carried the charge. The refund left the balance later, in
a payout this export does not name, so a refund row's `payout_id` is None, and this source
offers no `per_payout` grouping: without refunds, Stripe fees and disputes a payout cannot
be rebuilt from this export (the balance export or the payout reconciliation report can).
A refund row's `presentment_amount` is the `Amount Refunded` text.

`Amount Refunded` is cumulative: a second partial refund after an earlier export changes
the refund row's amount (and maybe its date) under the same key, so bokfor's ledger reports
that row as "changed" rather than new. Partial captures are not visible in this export (no
`Amount Captured` column): the released part shows as refunded; the balance export is exact.

Layouts: the default 23 columns, "all columns" (adds e.g. `Card Issue Country`, which
becomes `card_country`) and older exports with `Created (UTC)` and `Tax` (and no
`Refunded date (UTC)`, so their refunds are refused); `<key> (metadata)` columns become
`metadata.<key>`. Columns are found by name, never by position. Spreadsheet re-saves
(`;`, CRLF, BOM, `TRUE`/`FALSE`) are read; with `;` the amounts may use a decimal comma,
decided per file from the data — a file mixing `49,00` and `49.00` is refused.

Times are UTC `YYYY-MM-DD HH:MM:SS` (minutes only in older exports); `created` and
`refunded_at` keep the UTC instant while `Row.date` is the local date. Empty cells become
None in `fields`.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Iterable, Iterator

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.sources import DATETIME, TEXT, Schema
from bokfor.sources.csvutil import Table, column_index, header_names, read_csv, records
from bokfor.sources.stripe_common import charge_alias, missing_columns

NAME = "stripe_payments"
TITLE = "Stripe payments export (unified_payments.csv)"
KEY_PREFIX = "stripe-payment:"

_CREATED = ("Created date (UTC)", "Created (UTC)")  # current, older exports
# Needed to read a file (detection is looser, so that an incomplete export gets a precise
# "missing column" error instead of "matches no known format").
REQUIRED = ("id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
            "Fee", "Status")  # fmt: skip
_METADATA_SUFFIX = " (metadata)"

# Status values, compared in lower case.
_BOOKED = frozenset({"paid", "refunded", "succeeded"})
_NOT_BOOKED = frozenset({
    "failed", "canceled", "cancelled", "incomplete", "blocked", "uncaptured", "expired",
    "processing", "pending", "requires_payment_method", "requires_confirmation",
    "requires_action", "requires_capture",
})  # fmt: skip
_TRUE = frozenset({"true", "sant"})  # sant/falskt: Swedish spreadsheets' booleans
_FALSE = frozenset({"false", "falskt"})

# Stripe writes 2 decimals (none for zero-decimal currencies); a spreadsheet may drop
# trailing zeros. No thousands separators: "1.234" is refused, not guessed.
_AMOUNT = re.compile(r"-?(\d+)(?:([.,])(\d{1,2}))?")

_REDOWNLOAD_HINT = "re-download the export from the Stripe Dashboard (Payments → Export)."
_RESAVE = (
    "; re-download the export from the Stripe Dashboard (Payments → Export) rather than"
    " re-saving it in a spreadsheet."
)
_DATE_HINT = "Stripe writes times as YYYY-MM-DD HH:MM:SS in UTC" + _RESAVE
_AMOUNT_HINT = (
    "Stripe writes amounts like 1234.50 (a spreadsheet saving with ';' may write 1234,50),"
    " without thousands separators" + _RESAVE
)
_UTF8_HINT = (
    "Stripe writes UTF-8, so a spreadsheet probably re-saved the file in another encoding; "
    + _REDOWNLOAD_HINT
)
_CONVERTED_HINT = (
    "bokfor books the amount that reached the Stripe balance and never converts it itself;"
    " export the Converted Amount, Converted Amount Refunded and Converted Currency columns"
    " (Payments → Export), or use the balance export."
)
_REFUND_CONVERTED_HINT = (
    "Stripe converts each refund at its own day's rate, so bokfor does not scale the"
    " charge's converted amount; export the Converted Amount Refunded and Converted Currency"
    " columns (Payments → Export), or book refunds from the balance export."
)
_REFUND_DATE_HINT = (
    "a refund is booked on the day it was made; export a current Payments export, which has"
    " the Refunded date (UTC) column (older exports lack it), or book refunds from the"
    " balance export."
)
_STATUS_HINT = (
    "bokfor books Paid, Refunded and succeeded rows and skips Failed, canceled and requires_*"
    " ones; any other status needs support in bokfor before this file can be booked."
)

SCHEMA = Schema(
    fields={
        "id": TEXT,
        "kind": TEXT,  # "charge" or "refund"
        "status": TEXT,
        "currency": TEXT,  # settlement currency, lower case
        "presentment_amount": TEXT,
        "presentment_currency": TEXT,
        "description": TEXT,
        "customer_id": TEXT,
        "customer_email": TEXT,
        "customer_description": TEXT,
        "invoice_id": TEXT,
        "card_id": TEXT,
        "card_country": TEXT,
        "payout_id": TEXT,
        "created": DATETIME,
        "refunded_at": DATETIME,
    },
    # Basis amounts are fee and net; gross is derived so a template's balance can be proven.
    amounts={"fee": {"fee": 1}, "net": {"net": 1}, "gross": {"fee": 1, "net": 1}},
    unmapped_fields=("kind", "currency"),
    currency_field="currency",
    open_prefixes=("metadata.",),
    order_field="created",
    content_fields=("kind", "currency"),
    snippet=(
        ("clearing", "debit", "net"),
        ("fees", "debit", "fee"),
        ("<konto>", "credit", "gross"),
    ),
    money="net",  # + = into the Stripe balance
)


class StripePaymentsSource:
    """The `Source` for the Dashboard payments export."""

    name = NAME
    section = NAME
    title = TITLE
    schema = SCHEMA

    def detect(self, path: Path) -> bool:
        """True for a payments export's header (and never for the balance export's)."""
        names = header_names(path)
        return (
            {"id", "Amount", "Currency", "Status", "Fee"} <= names
            and any(name in names for name in _CREATED)
            and ("Converted Amount" in names or "Amount Refunded" in names)
            and not {"Type", "Net"} <= names
        )

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        """Stream normalised rows; raise InputError naming file, line and column."""
        return read_csv(
            path,
            lambda f, file, delimiter: _rows(f, file, delimiter, tz),
            redownload=_REDOWNLOAD_HINT,
            not_utf8=_UTF8_HINT,
        )


def missing(names: set[str] | dict[str, int], file: str) -> InputError | None:
    """The error for a payments export whose user left out columns bokfor needs."""
    absent = [
        name
        for name in REQUIRED
        if name not in names and not (name == "Created date (UTC)" and "Created (UTC)" in names)
    ]
    if not absent:
        return None
    return missing_columns(
        "Stripe payments export",
        absent,
        REQUIRED,
        "choose the columns under Payments → Export → Columns in the Stripe Dashboard",
        file,
    )


def _index(header: list[str], file: str) -> dict[str, int]:
    """Column name -> position, checking the columns needed to book are there."""
    index = column_index(header)
    error = missing(index, file)
    if error is not None:
        raise error
    if "Created date (UTC)" not in index:
        index["Created date (UTC)"] = index["Created (UTC)"]
    return index


class _Money:
    """Amount texts to öre, with one decimal mark per file.

    A `,`-delimited file uses the decimal point. A `;`-delimited one (a spreadsheet re-save)
    may use either; the first amount that has a mark decides, and the other mark is refused
    from then on, so a file is never read half one way and half the other.
    """

    def __init__(self, file: str, delimiter: str) -> None:
        self.file = file
        self.allowed = ".," if delimiter == ";" else "."
        self.mark: str | None = None
        self.mark_line = 0
        self.cache: dict[str, int] = {}

    def __call__(self, text: str, column: str, line: int) -> int:
        value = self.cache.get(text)
        if value is not None:
            return value
        match = _AMOUNT.fullmatch(text)
        if match is None or (match[2] is not None and match[2] not in self.allowed):
            raise InputError(
                f"not an amount: {text!r}",
                file=self.file,
                line=line,
                column=column,
                hint=_AMOUNT_HINT,
            )
        mark = match[2]
        if mark is not None:
            if self.mark is None:
                self.mark, self.mark_line = mark, line
            elif mark != self.mark:
                raise InputError(
                    f"decimal comma and decimal point mixed: {text!r} here, but line"
                    f" {self.mark_line} uses {self.mark!r}",
                    file=self.file,
                    line=line,
                    column=column,
                    hint="one file uses one decimal mark" + _RESAVE,
                )
        value = int(match[1]) * 100 + int(((match[3] or "") + "00")[:2])
        if text.startswith("-"):
            value = -value
        if len(self.cache) > _CACHE_LIMIT:
            self.cache.clear()
        self.cache[text] = value
        return value


_CACHE_LIMIT = 1 << 16  # distinct texts kept per cache; cleared (not evicted) when full


def _rows(f: Iterable[str], file: str, delimiter: str, tz: dt.tzinfo) -> Iterator[Row | Notice]:
    """One pass, constant work per row, no list of all rows; at the end a notice counting
    the rows not booked because no money moved."""
    reader = Table(f, delimiter, file, hint=_REDOWNLOAD_HINT)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD_HINT) from None
    header = [name.strip() for name in header]
    index = _index(header, file)
    width = len(header)
    created_column = header[index["Created date (UTC)"]]
    tax_column = next((n for n in ("Taxes On Fee", "Tax") if n in index), None)

    def col(name: str | None) -> int:
        # Absent optional columns get index `width`: each row gets an extra "" appended.
        return index.get(name, width) if name else width

    i_id, i_created, i_amount = col("id"), col("Created date (UTC)"), col("Amount")
    i_refunded, i_currency, i_captured = col("Amount Refunded"), col("Currency"), col("Captured")
    i_fee, i_status, i_tax = col("Fee"), col("Status"), col(tax_column)
    i_conv, i_conv_ref = col("Converted Amount"), col("Converted Amount Refunded")
    i_conv_cur, i_ref_date = col("Converted Currency"), col("Refunded date (UTC)")
    i_desc, i_cus, i_cus_desc = col("Description"), col("Customer ID"), col("Customer Description")
    i_email, i_invoice, i_card = col("Customer Email"), col("Invoice ID"), col("Card ID")
    i_country, i_transfer = col("Card Issue Country"), col("Transfer")
    has_conv = "Converted Amount" in index
    has_conv_ref = "Converted Amount Refunded" in index
    has_conv_cur = "Converted Currency" in index
    no_converted_columns = not (has_conv or has_conv_ref or has_conv_cur)
    has_ref_date = "Refunded date (UTC)" in index
    metadata = [
        ("metadata." + name[: -len(_METADATA_SUFFIX)].strip(), i)
        for i, name in enumerate(header)
        if name.endswith(_METADATA_SUFFIX)
    ]

    money = _Money(file, delimiter)
    instants: dict[str, dt.datetime] = {}
    skipped: dict[str, list[int]] = {}  # status -> lines of the rows no money moved in
    make_row, make_origin = Row, Origin
    booked, not_booked, true, false = _BOOKED, _NOT_BOOKED, _TRUE, _FALSE
    try:
        for line, row in records(reader, width, file, _REDOWNLOAD_HINT):
            row.append("")  # target of absent optional columns (index == width)

            status = row[i_status]
            state = status.lower()
            if state not in booked:
                if state in not_booked:
                    # No money moved: nothing to book (see the module docstring); counted.
                    skipped.setdefault(status or "(empty)", []).append(line)
                    continue
                raise InputError(
                    f"unknown Status {status!r}",
                    file=file,
                    line=line,
                    column="Status",
                    hint=_STATUS_HINT,
                )
            captured = row[i_captured].strip().lower()
            if captured in false:
                # An authorisation never captured: no money moved.
                skipped.setdefault(f"{status}, not captured", []).append(line)
                continue
            if captured not in true and not (captured == "" and state != "refunded"):
                # (Paid and succeeded mean captured; an empty cell cannot say whether a
                # Refunded row was a refund or a released authorisation.)
                raise InputError(
                    f"Captured is neither true nor false: {row[i_captured]!r}",
                    file=file,
                    line=line,
                    column="Captured",
                    hint=_REDOWNLOAD_HINT,
                )
            charge_id = row[i_id]
            if not charge_id:
                raise InputError(
                    "empty id",
                    file=file,
                    line=line,
                    column="id",
                    hint="every paid Stripe charge has a ch_ or py_ id; " + _REDOWNLOAD_HINT,
                )

            text = row[i_created]
            created = instants.get(text) or _instant(instants, text, file, line, created_column)
            text = row[i_ref_date]
            refunded_at = (
                instants.get(text) or _instant(instants, text, file, line, "Refunded date (UTC)")
                if text
                else None
            )

            presentment = row[i_currency].lower()
            amount_text = row[i_amount]
            amount = money(amount_text, "Amount", line)
            refunded_text = row[i_refunded]
            refunded = money(refunded_text, "Amount Refunded", line) if refunded_text else 0
            if refunded > amount:
                raise InputError(
                    f"Amount Refunded {refunded_text} is more than Amount {amount_text}",
                    file=file,
                    line=line,
                    column="Amount Refunded",
                    hint="the row was edited or damaged; " + _REDOWNLOAD_HINT,
                )

            # The settlement currency, and whether Amount is already in it.
            conv_cur = row[i_conv_cur].lower()
            if conv_cur:
                settlement = conv_cur
            elif no_converted_columns:
                settlement = presentment
            else:
                raise InputError(
                    "no settlement currency: "
                    + (
                        "Converted Currency is empty"
                        if has_conv_cur
                        else "the export has no Converted Currency column"
                    ),
                    file=file,
                    line=line,
                    column="Converted Currency",
                    hint=_CONVERTED_HINT,
                )
            same_currency = settlement == presentment

            text = row[i_conv]
            if text:
                gross = money(text, "Converted Amount", line)
            elif same_currency:
                gross = amount
            else:
                raise InputError(
                    f"no settlement amount for a charge in {presentment.upper()}: "
                    + (
                        "Converted Amount is empty"
                        if has_conv
                        else "the export has no Converted Amount column"
                    ),
                    file=file,
                    line=line,
                    column="Converted Amount",
                    hint=_CONVERTED_HINT,
                )
            fee = money(row[i_fee], "Fee", line)
            text = row[i_tax]
            if text:
                fee += money(text, tax_column or "Taxes On Fee", line)

            created_local = created.astimezone(tz).date()
            fields = {
                "id": charge_id,
                "kind": "charge",
                "status": status,
                "currency": settlement,
                "presentment_amount": amount_text or None,
                "presentment_currency": presentment or None,
                "description": row[i_desc] or None,
                "customer_id": row[i_cus] or None,
                "customer_email": row[i_email] or None,
                "customer_description": row[i_cus_desc] or None,
                "invoice_id": row[i_invoice] or None,
                "card_id": row[i_card] or None,
                "card_country": row[i_country] or None,
                "payout_id": row[i_transfer] or None,
                "created": created,
                "refunded_at": refunded_at,
            }
            for key, i in metadata:
                fields[key] = row[i] or None
            origin = make_origin(file, line)
            yield make_row(
                NAME,
                KEY_PREFIX + charge_id,
                created_local,
                {"gross": gross, "fee": fee, "net": gross - fee},
                fields,
                origin,
                charge_alias(charge_id),
            )
            if refunded <= 0:
                continue

            if refunded_at is None:
                raise InputError(
                    f"refunded {refunded_text} but "
                    + (
                        "Refunded date (UTC) is empty"
                        if has_ref_date
                        else "the export has no Refunded date (UTC) column"
                    ),
                    file=file,
                    line=line,
                    column="Refunded date (UTC)",
                    hint=_REFUND_DATE_HINT,
                )
            text = row[i_conv_ref]
            if text:
                back = money(text, "Converted Amount Refunded", line)
            elif same_currency:
                back = refunded
            else:
                raise InputError(
                    f"no settlement amount for a refund in {presentment.upper()}: "
                    + (
                        "Converted Amount Refunded is empty"
                        if has_conv_ref
                        else "the export has no Converted Amount Refunded column"
                    ),
                    file=file,
                    line=line,
                    column="Converted Amount Refunded",
                    hint=_REFUND_CONVERTED_HINT,
                )
            refund_fields = dict(fields)
            refund_fields["kind"] = "refund"
            refund_fields["presentment_amount"] = refunded_text
            refund_fields["payout_id"] = None  # Transfer is the charge's payout, not this one's
            yield make_row(
                NAME,
                KEY_PREFIX + charge_id + ":refund",
                refunded_at.astimezone(tz).date(),
                {"gross": -back, "fee": 0, "net": -back},
                refund_fields,
                origin,
            )
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})",
            file=file,
            line=reader.line_num,
            hint=_REDOWNLOAD_HINT,
        ) from None
    if skipped:
        yield _skipped_notice(skipped, file)


def _skipped_notice(skipped: dict[str, list[int]], file: str) -> Notice:
    """The rows of payments that moved no money (failed, blocked, incomplete, uncaptured):
    not booked, and counted here so that none is left out silently."""
    lines = sorted(n for found in skipped.values() for n in found)
    kinds = ", ".join(f"{status} {len(found)}" for status, found in skipped.items())
    shown = ", ".join(map(str, lines[:10])) + (", …" if len(lines) > 10 else "")
    return Notice(
        f"{len(lines)} row{'s' if len(lines) > 1 else ''} not booked: payments that "
        f"moved no money ({kinds}; line{'s' if len(lines) > 1 else ''} {shown})",
        file,
        lines[0],
    )


def _instant(
    cache: dict[str, dt.datetime], text: str, file: str, line: int, column: str
) -> dt.datetime:
    """Parse Stripe's `YYYY-MM-DD HH:MM[:SS]` (UTC) once per distinct text.

    Only these two shapes: fromisoformat alone would also take a bare date or an offset,
    which Stripe never writes, so they signal a re-saved or foreign file.
    """
    if len(text) in (16, 19) and text[4] == "-" and text[10] == " " and text[13] == ":":
        try:
            value = dt.datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass
        else:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            cache[text] = value
            return value
    raise InputError(
        f"not a Stripe date and time: {text!r}",
        file=file,
        line=line,
        column=column,
        hint=_DATE_HINT,
    )


SOURCE = StripePaymentsSource()
