"""Stripe's balance summary (Reports → Balance → Balance summary → Download, API
`balance.summary.1`): control totals, not bookable rows, so this is a reader and not a
`Source` (it is not in `all_sources()` and `detect_source` never returns it).

The file is a handful of lines, one per `category`: `starting_balance`, `activity`,
`payouts` and `ending_balance` are what the report promises; real downloads add detail
lines (`activity_gross` "Account activity before fees", `activity_fee` "Less fees",
`payouts_gross`, `payouts_fee`, `starting_balance_available` …). Payouts are negative
(they leave the balance), so starting + activity + payouts = ending, which is checked, as
are the gross + fee = total pairs when both are present. Other detail lines are read as
amounts and otherwise ignored.

Money: major units, decimal point, or decimal comma when downloaded with decimal_separator
"," (usually with `;` between fields). One mark per file, at most two decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bokfor.errors import InputError
from bokfor.money import AmountError, format_sie, parse_amount
from bokfor.sources.csvutil import (
    Table,
    column_index,
    delimiter as sniff_delimiter,
    header_line,
    header_names,
)
from bokfor.sources.stripe_common import missing_columns

REQUIRED = ("category", "description", "net_amount", "currency")
LINES = ("starting_balance", "activity", "payouts", "ending_balance")
# Detail lines and the total each pair adds up to: (gross, fee) -> total.
_PAIRS = (("activity_gross", "activity_fee", "activity"),
          ("payouts_gross", "payouts_fee", "payouts"))  # fmt: skip
_AMOUNT_TEXT = re.compile(r"-?\d+(?:[.,]\d{1,2})?")
_DESCRIPTION_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)")

_REDOWNLOAD = (
    "re-download the balance summary from the Stripe Dashboard (Reports → Balance → Balance"
    " summary → Download)."
)
_AMOUNT_HINT = (
    "Stripe reports write amounts like -1234.50 (or -1234,50 when downloaded with the decimal"
    " separator ','), no thousands separator; re-download the report from the Stripe"
    " Dashboard rather than re-saving it in a spreadsheet."
)


@dataclass(frozen=True)
class BalanceSummary:
    """The balance summary's control totals, in öre. `payouts` is negative (money that left
    the balance for the bank), so `starting + activity + payouts == ending`.

    The detail lines and the period (from the descriptions "Starting balance (2026-01-01)",
    "Ending balance (2026-01-31)") are kept when the file has them; they take no part in
    equality."""

    currency: str
    starting: int
    activity: int
    payouts: int
    ending: int
    file: str
    start: dt.date | None = field(default=None, compare=False)
    end: dt.date | None = field(default=None, compare=False)  # last day, inclusive
    activity_gross: int | None = field(default=None, compare=False)
    activity_fee: int | None = field(default=None, compare=False)
    payouts_gross: int | None = field(default=None, compare=False)
    payouts_fee: int | None = field(default=None, compare=False)


def detect(path: Path) -> bool:
    """True when the header has the balance summary's columns."""
    names = header_names(path)
    return set(REQUIRED) <= names


def read_summary(path: Path) -> BalanceSummary:
    """Read and check a balance summary; InputError naming file, line and column otherwise."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("no such file", file=file)
    header_text = header_line(path)
    if header_text is None:
        if path.stat().st_size == 0:
            raise InputError("the file is empty", file=file, hint=_REDOWNLOAD)
        raise InputError("not UTF-8 text", file=file, line=1, hint=_utf8_hint())
    delimiter = sniff_delimiter(header_text)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return _read(Table(f, delimiter, file, hint=_REDOWNLOAD), file)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=file, hint=_utf8_hint()) from None
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})", file=file, hint=_REDOWNLOAD
        ) from None


def _utf8_hint() -> str:
    return (
        "Stripe writes UTF-8, so a spreadsheet probably re-saved the file in another"
        " encoding; " + _REDOWNLOAD
    )


def _read(reader: Any, file: str) -> BalanceSummary:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD) from None
    index = column_index(header)
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        raise missing_columns(
            "Stripe balance summary",
            missing,
            REQUIRED,
            "download the balance summary from the Stripe Dashboard (Reports → Balance →"
            " Balance summary → Download)",
            file,
        )
    width = len(header)
    i_category, i_desc = index["category"], index["description"]
    i_amount, i_currency = index["net_amount"], index["currency"]

    values: dict[str, int] = {}
    lines: dict[str, int] = {}
    texts: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    currency: tuple[str, int] | None = None
    mark: tuple[str, int] | None = None
    prev = reader.line_num
    for row in reader:
        line = prev + 1
        prev = reader.line_num
        if len(row) != width:
            if not row:
                continue
            raise InputError(
                f"the row has {len(row)} fields but the header has {width}",
                file=file,
                line=line,
                hint="a value containing the delimiter lost its quotes, or the row was cut; "
                + _REDOWNLOAD,
            )
        if not any(row):
            continue
        category = row[i_category].strip()
        if not category:
            raise InputError(
                "empty category",
                file=file,
                line=line,
                column="category",
                hint="every line of a balance summary names its category; " + _REDOWNLOAD,
            )
        if category in lines:
            raise InputError(
                f"the line {category!r} appears twice (also at line {lines[category]})",
                file=file,
                line=line,
                column="category",
                hint="a balance summary covers one period and one currency; " + _REDOWNLOAD,
            )
        text = row[i_amount].strip()
        if not _AMOUNT_TEXT.fullmatch(text):
            raise InputError(
                f"not an amount: {text!r}",
                file=file,
                line=line,
                column="net_amount",
                hint=_AMOUNT_HINT,
            )
        this_mark = "," if "," in text else "." if "." in text else None
        if this_mark is not None:
            if mark is None:
                mark = (this_mark, line)
            elif this_mark != mark[0]:
                raise InputError(
                    f"mixed decimal marks: {text!r} has {this_mark!r}, the file's first"
                    f" amount with a mark (line {mark[1]}) has {mark[0]!r}",
                    file=file,
                    line=line,
                    column="net_amount",
                    hint="a report uses one decimal separator for all its amounts, so the"
                    " file was edited or pieced together from two downloads; " + _REDOWNLOAD,
                )
        try:
            value = parse_amount(text.replace(",", "."), ".")
        except AmountError:  # pragma: no cover - the pattern already excludes it
            raise InputError(
                f"not an amount: {text!r}",
                file=file,
                line=line,
                column="net_amount",
                hint=_AMOUNT_HINT,
            ) from None
        code = row[i_currency].strip().lower()
        if currency is None:
            currency = (code, line)
        elif code != currency[0]:
            raise InputError(
                f"a second currency: {code!r}, line {currency[1]} has {currency[0]!r}",
                file=file,
                line=line,
                column="currency",
                hint="Stripe writes one balance summary per currency; download one for each"
                " currency and read them separately.",
            )
        values[category], lines[category], texts[category] = value, line, text
        descriptions[category] = row[i_desc]

    absent = [name for name in LINES if name not in values]
    if absent:
        raise InputError(
            "not a complete balance summary: no "
            + ", ".join(repr(a) for a in absent)
            + (" lines" if len(absent) > 1 else " line"),
            file=file,
            hint="a balance summary has the lines " + ", ".join(LINES) + "; " + _REDOWNLOAD,
        )
    assert currency is not None
    starting, activity = values["starting_balance"], values["activity"]
    payouts, ending = values["payouts"], values["ending_balance"]
    if starting + activity + payouts != ending:
        raise InputError(
            "the balance summary does not add up: starting_balance"
            f" {texts['starting_balance']} + activity {texts['activity']} + payouts"
            f" {texts['payouts']} = {format_sie(starting + activity + payouts)}, but"
            f" ending_balance is {texts['ending_balance']}",
            file=file,
            line=lines["ending_balance"],
            column="net_amount",
            hint="payouts are negative in a balance summary; a line was edited, or lines of"
            " two downloads were mixed; " + _REDOWNLOAD,
        )
    for gross, fee, total in _PAIRS:
        if gross in values and fee in values and values[gross] + values[fee] != values[total]:
            raise InputError(
                f"the balance summary does not add up: {gross} {texts[gross]} + {fee}"
                f" {texts[fee]} = {format_sie(values[gross] + values[fee])}, but {total} is"
                f" {texts[total]}",
                file=file,
                line=lines[total],
                column="net_amount",
                hint="a line was edited, or lines of two downloads were mixed; " + _REDOWNLOAD,
            )
    return BalanceSummary(
        currency=currency[0],
        starting=starting,
        activity=activity,
        payouts=payouts,
        ending=ending,
        file=file,
        start=_date_in(descriptions["starting_balance"]),
        end=_date_in(descriptions["ending_balance"]),
        activity_gross=values.get("activity_gross"),
        activity_fee=values.get("activity_fee"),
        payouts_gross=values.get("payouts_gross"),
        payouts_fee=values.get("payouts_fee"),
    )


def _date_in(description: str) -> dt.date | None:
    """The date in "Starting balance (2026-01-01)", if there is one."""
    match = _DESCRIPTION_DATE.search(description)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
