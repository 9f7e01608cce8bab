"""Stripe payout lists: the Dashboard export (`payouts.csv`, Balance → Payouts → Export) and
the itemized payouts report (Reports → Balance → Payouts → Download → Itemized, API
`payouts.itemized.3`). Both describe the same payouts, so both give the same rows.

One row per payout, keyed "stripe-payout:" + po_ id, the same key from either file. It is
deliberately not the "stripe:" + txn_ key a balance export gives the payout's balance
transaction: booking a payout from this list and booking the payout row of a balance export
are two different bookings, and the mapping decides which export books payouts.

Amounts: "amount" is the money the payout moves from the Stripe balance to the bank,
positive for a payout; "fee" is what the payout itself cost (instant payouts), ≥ 0;
"total" = amount + fee is what left the Stripe balance. The Dashboard export has no fee
column, so its fee is 0.

The Reports file is a list of balance transactions (`reporting_category` `payout`, and
`payout_reversal` when a payout failed or was cancelled). Which sign Stripe writes on a
payout's gross there is not settled (balance-transaction style −1500.00, or positive as a
list of payouts), so the parser does not depend on it: whatever the sign, the balance lost
the larger of |gross| and |net| and the bank was sent the smaller, the difference being the
fee. The direction comes from `reporting_category`; a file whose rows use both sign
conventions was edited and is refused. A `payout_reversal` row (funds back on the balance)
gets its own key, "stripe-payout:<po_>:reversal", and negative amounts.

Dates: the voucher date is the day the money reaches the bank. The Dashboard's
`Arrival Date (UTC)` and the report's `payout_expected_arrival_date` are calendar dates
written as midnight, taken as they are (no zone shift); without an arrival date the report's
`effective_at_utc` gives the date in the company's zone. A reversal is dated when it
happened (`payout_reversed_at_utc`, else `effective_at_utc`).

Status: every row is kept, whatever its status (paid, in_transit, pending, failed,
canceled); the mapping decides with rules on `status`. Empty cells become None.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from bokfor.domain import FieldValue, Origin, Row
from bokfor.errors import InputError
from bokfor.money import AmountError, parse_amount
from bokfor.sources import DATE, DATETIME, TEXT, Schema
from bokfor.sources.csvutil import Table, column_index, header_names, read_csv, records
from bokfor.sources.stripe_common import missing_columns, payout_alias

NAME = "stripe_payouts"
TITLE = "Stripe payouts (Dashboard payouts.csv or Reports itemized payouts)"

# -- the two headers ---------------------------------------------------------------------

DASHBOARD_DETECT = frozenset({"id", "Amount", "Arrival Date (UTC)", "Status"})
DASHBOARD_REQUIRED = ("id", "Amount", "Created (UTC)", "Currency", "Arrival Date (UTC)",
                      "Status")  # fmt: skip
REPORT_DETECT = frozenset({"payout_id", "gross", "net", "payout_status"})
_REPORT_TIMES = ("effective_at_utc", "effective_at")  # either makes the header a report's
REPORT_REQUIRED = ("payout_id", "effective_at_utc", "currency", "gross", "net",
                   "reporting_category", "payout_status")  # fmt: skip

PAYOUT, REVERSAL = "payout", "payout_reversal"

_DASHBOARD_REDOWNLOAD = (
    "re-download the export from the Stripe Dashboard (Balance → Payouts → Export)."
)
_REPORT_REDOWNLOAD = (
    "re-download the itemized payouts report from the Stripe Dashboard (Reports → Balance →"
    " Payouts → Download → Itemized)."
)
_DASHBOARD_AMOUNT_HINT = (
    "Stripe writes amounts like 1234.50 (decimal point, no thousands separator);"
    " re-download the export from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
_REPORT_AMOUNT_HINT = (
    "Stripe reports write amounts like -1234.50 (or -1234,50 when downloaded with the decimal"
    " separator ','), no thousands separator; re-download the report from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
_DASHBOARD_DATE_HINT = (
    "Stripe writes times as YYYY-MM-DD HH:MM in UTC; re-download the export from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)
_REPORT_DATE_HINT = (
    "Stripe reports write times as YYYY-MM-DD HH:MM:SS in UTC in the _utc columns;"
    " re-download the report from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
_ARRIVAL_HINT = (
    "Stripe writes the day a payout reaches the bank as YYYY-MM-DD 00:00 (a calendar date);"
    " re-download the file from the Stripe Dashboard rather than re-saving it in a"
    " spreadsheet."
)
_REDOWNLOAD = "re-download the file from the Stripe Dashboard."
_UTF8_HINT = (
    "Stripe writes UTF-8, so a spreadsheet probably re-saved the file in another encoding; "
    + _REDOWNLOAD
)

SCHEMA = Schema(
    fields={
        "id": TEXT,
        "status": TEXT,
        "method": TEXT,
        "type": TEXT,
        "category": TEXT,
        "currency": TEXT,
        "created": DATETIME,
        "arrival_date": DATE,
        "reversed_at": DATETIME,
        "description": TEXT,
        "destination": TEXT,
        "failure_code": TEXT,
        "failure_message": TEXT,
        "failure_balance_transaction": TEXT,
        "balance_transaction": TEXT,
        "trace_id": TEXT,
    },
    # Basis amounts are amount (to the bank) and fee; total (off the Stripe balance) derived.
    amounts={"amount": {"amount": 1}, "fee": {"fee": 1}, "total": {"amount": 1, "fee": 1}},
    unmapped_fields=("status", "currency"),
    currency_field="currency",
    order_field="created",
    content_fields=("status", "currency"),
    snippet=(("bank", "debit", "amount"), ("clearing", "credit", "amount")),
)


class StripePayoutsSource:
    """The `Source` for both payout lists."""

    name = NAME
    section = NAME
    title = TITLE
    schema = SCHEMA

    def detect(self, path: Path) -> bool:
        """True for the Dashboard payouts export's or the itemized payouts report's header."""
        names = header_names(path)
        return _is_dashboard(names) or _is_report(names)

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row]:
        """Stream normalised rows; raise InputError naming file, line and column."""
        return read_csv(
            path,
            lambda f, file, delimiter: _rows(f, file, delimiter, tz),
            redownload=_REDOWNLOAD,
            not_utf8=_UTF8_HINT,
        )


def _is_dashboard(names: set[str]) -> bool:
    return DASHBOARD_DETECT <= names


def _is_report(names: set[str]) -> bool:
    return REPORT_DETECT <= names and any(name in names for name in _REPORT_TIMES)


def missing(
    names: set[str] | dict[str, int], file: str, report: bool | None = None
) -> InputError | None:
    """The error for a payout list whose user left out columns bokfor needs: the Dashboard
    export's or the itemized report's (`report`; None: whichever the header was meant to
    be)."""
    if _looks_like_report(set(names)) if report is None else report:
        local_only = "effective_at_utc" not in names and "effective_at" in names
        absent = [
            name
            for name in REPORT_REQUIRED
            if name not in names and not (name == "effective_at_utc" and local_only)
        ]
        return (
            missing_columns(
                "Stripe itemized payouts report",
                absent,
                REPORT_REQUIRED,
                "download the itemized payouts report from the Stripe Dashboard (Reports → Balance"
                " → Payouts → Download → Itemized)",
                file,
            )
            if absent
            else None
        )
    absent = [name for name in DASHBOARD_REQUIRED if name not in names]
    return (
        missing_columns(
            "Stripe payouts export",
            absent,
            DASHBOARD_REQUIRED,
            "export the payout list from the Stripe Dashboard (Balance → Payouts → Export)",
            file,
        )
        if absent
        else None
    )


def _looks_like_report(names: set[str]) -> bool:
    """Which header a file that is neither was meant to be (for the missing-column error)."""
    return bool(
        names & {"payout_id", "payout_status", "gross", "net", "effective_at_utc", "effective_at"}
    )


# -- shared per-row helpers --------------------------------------------------------------


class _Amounts:
    """Amounts of one file: parsed once per distinct text, one decimal mark per file.

    At most two decimals: Stripe never writes more, and refusing "1,230" keeps a thousands
    separator from being read as a decimal mark."""

    _TEXT = re.compile(r"-?\d+(?:[.,]\d{1,2})?")

    def __init__(self, file: str, hint: str) -> None:
        self.file, self.hint = file, hint
        self.mark: str | None = None  # decided by the first amount that has one
        self.mark_line = 0
        self.cache: dict[str, int] = {}

    def parse(self, text: str, column: str, line: int) -> int:
        value = self.cache.get(text)
        if value is not None:
            return value  # every cached text has passed the mark check
        if not self._TEXT.fullmatch(text):
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
                    hint="a file uses one decimal separator for all its amounts, so it was"
                    " edited or pieced together from two downloads; re-download it from the"
                    " Stripe Dashboard.",
                )
        try:
            value = parse_amount(text.replace(",", "."), ".")
        except AmountError:  # pragma: no cover - the pattern already excludes it
            raise self._bad(text, column, line) from None
        if len(self.cache) > _CACHE_LIMIT:
            self.cache.clear()
        self.cache[text] = value
        return value

    def _bad(self, text: str, column: str, line: int) -> InputError:
        return InputError(
            f"not an amount: {text!r}", file=self.file, line=line, column=column, hint=self.hint
        )


_CACHE_LIMIT = 1 << 16


def _utc(text: str, file: str, line: int, column: str, hint: str) -> dt.datetime:
    """Stripe's `YYYY-MM-DD HH:MM[:SS]` as an aware UTC datetime (no other shape)."""
    if len(text) in (16, 19) and text[4] == "-" and text[10] == " " and text[13] == ":":
        try:
            return dt.datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass
    raise InputError(
        f"not a Stripe date and time: {text!r}", file=file, line=line, column=column, hint=hint
    )


def _arrival(text: str, file: str, line: int, column: str) -> dt.date:
    """An arrival date: `YYYY-MM-DD`, optionally with a midnight time (Stripe writes
    `YYYY-MM-DD 00:00`, a calendar date rather than an instant). Any other time is refused:
    it would mean the column holds an instant, whose day depends on a zone."""
    day, _, time = text.partition(" ")
    if len(day) == 10 and day[4] == "-" and day[7] == "-" and time in ("", "00:00", "00:00:00"):
        try:
            return dt.date.fromisoformat(day)
        except ValueError:
            pass
    raise InputError(
        f"not a Stripe arrival date: {text!r}",
        file=file,
        line=line,
        column=column,
        hint=_ARRIVAL_HINT,
    )


def _rows(f: Iterable[str], file: str, delimiter: str, tz: dt.tzinfo) -> Iterator[Row]:
    reader = Table(f, delimiter, file, hint=_REDOWNLOAD)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD) from None
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})", file=file, line=1, hint=_REDOWNLOAD
        ) from None
    header = [name.strip() for name in header]
    names = set(header)
    report = not _is_dashboard(names) and (_is_report(names) or _looks_like_report(names))
    redownload = _REPORT_REDOWNLOAD if report else _DASHBOARD_REDOWNLOAD
    try:
        if report:
            yield from _report_rows(reader, header, file, tz)
        else:
            yield from _dashboard_rows(reader, header, file)
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})",
            file=file,
            line=reader.line_num,
            hint=redownload,
        ) from None


# -- Dashboard payouts.csv ---------------------------------------------------------------


def _dashboard_rows(reader: Any, header: list[str], file: str) -> Iterator[Row]:
    index = column_index(header)
    error = missing(index, file, report=False)
    if error is not None:
        raise error
    width = len(header)
    get = index.get
    i_id, i_amount, i_created = index["id"], index["Amount"], index["Created (UTC)"]
    i_currency, i_arrival, i_status = (
        index["Currency"],
        index["Arrival Date (UTC)"],
        index["Status"],
    )
    i_live, i_method, i_type, i_desc, i_dest, i_txn, i_ftxn, i_fmsg, i_fcode, i_trace = (
        get(name, width) for name in (
            "Livemode", "Method", "Type", "Description", "Destination", "Balance Transaction",
            "Failure Balance Transaction", "Failure Message", "Failure Code", "Trace ID",
        )
    )  # fmt: skip
    amounts = _Amounts(file, _DASHBOARD_AMOUNT_HINT)
    for line, row in records(reader, width, file, _DASHBOARD_REDOWNLOAD):
        row.append("")  # target of absent optional columns (index == width)
        payout = row[i_id]
        if not payout:
            raise InputError(
                "empty id",
                file=file,
                line=line,
                column="id",
                hint="every payout has a po_ id; " + _DASHBOARD_REDOWNLOAD,
            )
        if row[i_live].strip().lower() == "false":
            raise InputError(
                f"a test-mode payout ({payout}, Livemode false)",
                file=file,
                line=line,
                column="Livemode",
                hint="test-mode payouts moved no money and must not be booked; export the"
                " payout list with the Dashboard in live mode.",
            )
        text = row[i_amount]
        amount = amounts.parse(text, "Amount", line)
        if amount < 0:
            raise InputError(
                f"negative payout amount: {text!r}",
                file=file,
                line=line,
                column="Amount",
                hint="Stripe writes every payout in this export as a positive amount (the"
                " money sent to the bank), so the file was edited; " + _DASHBOARD_REDOWNLOAD,
            )
        created = _utc(row[i_created], file, line, "Created (UTC)", _DASHBOARD_DATE_HINT)
        arrival = _arrival(row[i_arrival], file, line, "Arrival Date (UTC)")
        currency = row[i_currency]
        fields: dict[str, FieldValue] = {
            "id": payout,
            "status": row[i_status].lower() or None,
            "method": row[i_method].lower() or None,
            "type": row[i_type] or None,
            "category": PAYOUT,
            "currency": currency.lower() or None,
            "created": created,
            "arrival_date": arrival,
            "reversed_at": None,
            "description": row[i_desc] or None,
            "destination": row[i_dest] or None,
            "failure_code": row[i_fcode] or None,
            "failure_message": row[i_fmsg] or None,
            "failure_balance_transaction": row[i_ftxn] or None,
            "balance_transaction": row[i_txn] or None,
            "trace_id": row[i_trace] or None,
        }
        key = payout_alias(payout)[0]
        yield Row(
            NAME,
            key,
            arrival,
            {"amount": amount, "fee": 0, "total": amount},
            fields,
            Origin(file, line),
            (key,),
        )


# -- Reports payouts.itemized ------------------------------------------------------------


def _report_rows(reader: Any, header: list[str], file: str, tz: dt.tzinfo) -> Iterator[Row]:
    index = column_index(header)
    local_only = "effective_at_utc" not in index and "effective_at" in index
    error = missing(index, file, report=True)
    if error is not None:
        raise error
    if local_only and "payout_expected_arrival_date" not in index:
        raise InputError(
            "the report has local times only: 'effective_at' but neither 'effective_at_utc'"
            " nor 'payout_expected_arrival_date'",
            file=file,
            line=1,
            hint="'effective_at' is in the timezone chosen when the report was run, which the"
            " file does not state (bokfor never takes it from the file name); run the report"
            " again with the effective_at_utc or payout_expected_arrival_date column added"
            " and download it again.",
        )
    width = len(header)
    get = index.get
    i_id, i_gross, i_net = index["payout_id"], index["gross"], index["net"]
    i_currency, i_category, i_status = (
        index["currency"],
        index["reporting_category"],
        index["payout_status"],
    )
    i_effective = get("effective_at_utc", width)
    i_fee, i_arrival, i_reversed, i_type, i_pdesc, i_desc, i_dest, i_txn, i_trace = (
        get(name, width) for name in (
            "fee", "payout_expected_arrival_date", "payout_reversed_at_utc", "payout_type",
            "payout_description", "description", "payout_destination_id",
            "balance_transaction_id", "trace_id",
        )
    )  # fmt: skip
    has_fee = "fee" in index
    amounts = _Amounts(file, _REPORT_AMOUNT_HINT)
    convention: tuple[int, int, str] | None = None  # (sign of a payout's gross, line, text)
    for line, row in records(reader, width, file, _REPORT_REDOWNLOAD):
        row.append("")  # target of absent optional columns (index == width)
        payout = row[i_id]
        if not payout:
            raise InputError(
                "empty payout_id",
                file=file,
                line=line,
                column="payout_id",
                hint="every row of an itemized payouts report has a po_ id; " + _REPORT_REDOWNLOAD,
            )
        category = row[i_category]
        if category not in (PAYOUT, REVERSAL):
            raise InputError(
                f"unexpected reporting_category {category!r} in a payouts report",
                file=file,
                line=line,
                column="reporting_category",
                hint="a payouts report holds 'payout' and 'payout_reversal' rows only; other"
                " balance changes belong in the balance change from activity report; "
                + _REPORT_REDOWNLOAD,
            )
        gross_text, net_text = row[i_gross], row[i_net]
        gross = amounts.parse(gross_text, "gross", line)
        net = amounts.parse(net_text, "net", line)
        if has_fee:
            fee_text = row[i_fee]
            fee = amounts.parse(fee_text, "fee", line)
            if gross - fee != net:
                raise InputError(
                    f"gross − fee ≠ net ({gross_text} − {fee_text} ≠ {net_text})",
                    file=file,
                    line=line,
                    column="net",
                    hint="the row was edited or damaged; " + _REPORT_REDOWNLOAD,
                )
        if (gross < 0 < net) or (net < 0 < gross):
            raise InputError(
                f"gross and net have opposite signs ({gross_text}, {net_text})",
                file=file,
                line=line,
                column="net",
                hint="a payout's gross and net move the balance the same way; the row was"
                " edited or damaged; " + _REPORT_REDOWNLOAD,
            )
        # The sign a payout's gross has in this file: -1 balance-transaction style, +1
        # payout-list style. A reversal has the opposite sign of a payout.
        signed = gross or net
        if signed:
            sign = (1 if signed > 0 else -1) * (1 if category == PAYOUT else -1)
            if convention is None:
                convention = (sign, line, f"{category} row with gross {gross_text}")
            elif sign != convention[0]:
                raise InputError(
                    f"mixed signs: a {category} row with gross {gross_text}, but line"
                    f" {convention[1]} has a {convention[2]}",
                    file=file,
                    line=line,
                    column="gross",
                    hint="a report writes all its payouts with one sign, so the file was"
                    " edited or pieced together from two downloads; " + _REPORT_REDOWNLOAD,
                )
        # To the bank: the smaller magnitude; the fee: what the balance lost on top.
        big, small = max(abs(gross), abs(net)), min(abs(gross), abs(net))
        direction = 1 if category == PAYOUT else -1
        amount, fee = direction * small, direction * (big - small)

        text = row[i_effective]
        effective = _utc(text, file, line, "effective_at_utc", _REPORT_DATE_HINT) if text else None
        text = row[i_arrival]
        arrival = _arrival(text, file, line, "payout_expected_arrival_date") if text else None
        text = row[i_reversed]
        reversed_at = (
            _utc(text, file, line, "payout_reversed_at_utc", _REPORT_DATE_HINT) if text else None
        )
        if category == PAYOUT:
            day = arrival or (effective.astimezone(tz).date() if effective else None)
            key = "stripe-payout:" + payout
        else:
            moment = reversed_at or effective
            day = moment.astimezone(tz).date() if moment else None
            key = "stripe-payout:" + payout + ":reversal"
        if day is None:
            column = (
                "effective_at_utc"
                if "effective_at_utc" in index
                else (
                    "payout_reversed_at_utc"
                    if category == REVERSAL
                    else "payout_expected_arrival_date"
                )
            )
            raise InputError(
                f"no date for the {category} {payout}",
                file=file,
                line=line,
                column=column,
                hint="a payout is dated by its arrival date and a reversal by when it happened"
                " (payout_reversed_at_utc or effective_at_utc); " + _REPORT_REDOWNLOAD,
            )
        currency = row[i_currency]
        status = row[i_status]
        fields: dict[str, FieldValue] = {
            "id": payout,
            "status": status.lower() or None,
            "method": None,
            "type": row[i_type] or None,
            "category": category,
            "currency": currency.lower() or None,
            "created": effective,
            "arrival_date": arrival,
            "reversed_at": reversed_at,
            "description": row[i_pdesc] or row[i_desc] or None,
            "destination": row[i_dest] or None,
            "failure_code": None,
            "failure_message": None,
            "failure_balance_transaction": None,
            "balance_transaction": row[i_txn] or None,
            "trace_id": row[i_trace] or None,
        }
        yield Row(
            NAME,
            key,
            day,
            {"amount": amount, "fee": fee, "total": amount + fee},
            fields,
            Origin(file, line),
            (key,),
        )


SOURCE = StripePayoutsSource()
