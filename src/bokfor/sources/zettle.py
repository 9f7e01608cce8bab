"""Zettle (iZettle, PayPal) exports: the receipts report and the account statement.

Receipts report ("Kvitton", `Zettle-Receipts-Report-…xlsx`, also saved as CSV): one row per
receipt under a localised header (Swedish, Danish, Norwegian, English, Spanish, Finnish
names, matched by pattern since `Moms (25%)` became `Moms (25.0%)` between versions), after a
preamble (title, period, payee) and before a footer note. Zettle has no Z report, so
`read_receipts` builds one `DayClose` per register and business day from the receipts:
sales per VAT rate from the `Moms (r%)` columns, payments per method as written
(`Contactless`, `Chip`, `Kontant`, `Swish`…: the mapping decides their accounts), tips from a
tip column when there is one (the total is taken to include the tip, as the card was charged
for it). Fees are not part of the day close: they come with the settlement.

Account statement (`Zettle-Account-Statement-Report-…xlsx`): the settlement ledger of card
payments, their fees, fee bonuses and payouts to the bank, newest first with a running
balance. `read_statement` returns plain `StatementRow`s (kind: card_payment, fee, fee_bonus,
refund, payout, other) and `payouts` groups them per payout, because the clearing voucher
is per payout: D bank (payout) + D fees / C card receivable (card payments).

VAT: Zettle sums VAT per receipt line, so the day's VAT per rate may differ from the
rate's total × r/(100+r) by half an öre per line; the day close carries that bound as its
`vat_tolerance`. A receipt with VAT at several rates has no gross per rate in this report:
its split is derived from the VAT amounts (exact to a few öre) and the day gets a warning.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

from bokfor.dayclose import DayClose, RateTotal, sek_text, norm_rate
from bokfor.domain import Notice, Origin
from bokfor.errors import InputError
from bokfor.money import AmountError, parse_amount
from bokfor.sources import OccurrenceKeys
from bokfor.sources import tables
from bokfor.sources.bank import decode
from bokfor.sources.csvutil import Table
from bokfor.sources.limits import LimitError

SYSTEM = "zettle"
_HINT = "export the report again from my.zettle.com and give bokfor that file unedited."
_HEADER_SCAN = 60  # the header is on row 17 in real files; allow for longer preambles

_RECEIPT_COLUMNS: dict[str, str] = {
    "date": r"dato|datum|date|fecha|päivämäärä|pvm",
    "time": r"tid|time|klokkeslett|hora|aika|kellonaika",
    "receipt": r"kvitteringsnummer|kvittonummer|kvittonr\.?|receipt ?(number|no\.?|#)"
    r"|número de recibo|kuittinumero",
    "total": r"total|totalt|summa|belopp|amount|importe|yhteensä",
    "fee": r"afgift|avgift|gebyr|fee|fees|comisión|tarifa|palkkio",
    "net": r"netto|net|neto",
    "method": r"betalingsmetode|betalningsmetod|betalingsmåte|betalingsmetode|payment method"
    r"|payment type|método de pago|maksutapa",
    "event": r"hændelsestype|händelsetyp|hendelsestype|event type|tipo de evento"
    r"|tapahtumatyyppi",
    "staff": r"personale|personal|staff|personell|henkilökunta|empleado",
    "description": r"beskrivelse|beskrivning|description|descripción|kuvaus",
    "sold_via": r"solgt via|såld via|sold via|vendido a través de|myyty kautta",
    "tip": r"drikkepenge|dricks|tips?|gratuity|propina|juomaraha",
    "register": r"enhed|enhet|device|kasse|kassa|register|laite|dispositivo",
}
_VAT_COLUMN = re.compile(
    r"(moms|mva|vat|tax|iva|alv|tva|mwst)\s*\(\s*(\d+(?:[.,]\d+)?)\s*%\s*\)", re.IGNORECASE
)
_REFUND = re.compile(r"retur|refus|refund|tilbage|återbet|devoluc|reembolso|hyvit", re.I)
_ITEM = re.compile(r"^\s*(\d+)\s*(?:[x×]\s+)?(.+?)\s*$")

_STATEMENT_COLUMNS: dict[str, str] = {
    "settled": r"afregningsdato|avräkningsdatum|avregningsdato|settlement date|fecha de liquidación"
    r"|bokföringsdatum|oppgjørsdato|selvityspäivä",
    "paid": r"betalingsdato|betalningsdatum|payment date|fecha de pago|maksupäivä",
    "reference": r"reference|referens|referanse|referencia|viite",
    "type": r"type|typ|tipo|tyyppi",
    "amount": r"netto|net|neto|belopp|amount|beløb|beløp|importe|summa",
    "balance": r"saldo|balance|balans",
}
_KINDS = (  # order matters: "Bonus fra betalingsgebyr" is a bonus, not a fee
    ("fee_bonus", re.compile(r"bonus", re.I)),
    ("refund", _REFUND),
    (
        "payout",
        re.compile(
            r"udbetal|utbetal|payout|pay-out|transfer to|overførsel|maksu tilille"
            r"|transferencia",
            re.I,
        ),
    ),
    ("fee", re.compile(r"gebyr|avgift|afgift|\bfees?\b|comisión|palkkio", re.I)),
    (
        "card_payment",
        re.compile(
            r"kortbetal|korttransak|card payment|card transaction"
            r"|pago con tarjeta|korttimaksu|betaling",
            re.I,
        ),
    ),
)


# -- shared table reading ---------------------------------------------------------------------


_DETECT_BYTES = 64 * 1024  # detection reads this much of a text file: the header is near the top


def _table(path: Path, *, head: bool = False) -> list[tuple[int, list[Any]]]:
    """(1-based row, cells) of the first sheet (xlsx) or of the CSV, blank rows included.
    `head`: only the first rows where a header can be, for `detect` (every input is
    offered to every source, so a detector must not read a 200 MB file)."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(_DETECT_BYTES) if head else f.read()
            cut = head and len(data) == _DETECT_BYTES
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=file) from None
    if data[:4] == b"PK\x03\x04":  # xlsx: with the size and zip-bomb checks of bank files
        rows = tables.xlsx_rows(path)
        return [
            (n, [c.strip() if isinstance(c, str) else c for c in cells])
            for n, cells in (itertools.islice(rows, _HEADER_SCAN + 1) if head else rows)
        ]
    if cut:
        data = data[: data.rfind(b"\n") + 1]  # whole lines only: no character cut in two
    text, _ = decode(data, file, hint=_HINT)
    lines = text.splitlines()
    sample = "\n".join(lines[:_HEADER_SCAN])
    delimiter = max(";,\t", key=sample.count)
    reader = Table(lines, delimiter, file, hint=_HINT)
    return [(n, [c.strip() for c in row]) for n, row in enumerate(reader, 1)]


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or c == "" for c in cells)


def _find_header(
    rows: list[tuple[int, list[Any]]], patterns: dict[str, str], required: Sequence[str]
) -> tuple[int, dict[str, int], list[Any]] | None:
    """The first row (within the scan window) whose cells name every required column."""
    compiled = {name: re.compile(rf"(?:{p})", re.IGNORECASE) for name, p in patterns.items()}
    for position, (_, cells) in enumerate(rows[:_HEADER_SCAN]):
        index: dict[str, int] = {}
        for i, cell in enumerate(cells):
            if not isinstance(cell, str):
                continue
            for name, pattern in compiled.items():
                if name not in index and pattern.fullmatch(cell.strip()):
                    index[name] = i
                    break
        if all(name in index for name in required):
            return position, index, cells
    return None


def _ore(value: Any, file: str, line: int, column: str) -> int:
    """An amount cell as öre: xlsx numbers exactly via their shortest repr, text as money."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int):
        return value * 100
    if isinstance(value, (float, Decimal)):  # a number cell (tables hands over Decimals)
        if not value.is_finite() if isinstance(value, Decimal) else not math.isfinite(value):
            raise InputError(
                f"not an amount: {value!r}", file=file, line=line, column=column, hint=_HINT
            )
        exact = value if isinstance(value, Decimal) else Decimal(repr(value))
        ore = exact * 100
        if ore != ore.to_integral_value():
            raise InputError(
                f"{value!r} has more than 2 decimals; öre cannot hold it exactly",
                file=file,
                line=line,
                column=column,
                hint=_HINT,
            )
        return int(ore)
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError("no amount", file=file, line=line, column=column, hint=_HINT)
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise InputError(
            f"not an amount: {exc}", file=file, line=line, column=column, hint=_HINT
        ) from None


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%y")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H.%M.%S", "%H.%M", "%H:%M:%S.%f")


def _moment(date_cell: Any, time_cell: Any, file: str, line: int, column: str) -> dt.datetime:
    """A receipt's local time from a date cell and an optional time cell."""
    if isinstance(date_cell, dt.datetime):
        day, clock = date_cell.date(), date_cell.time()
    elif isinstance(date_cell, dt.date):
        day, clock = date_cell, dt.time(0)
    else:
        text = "" if date_cell is None else str(date_cell).strip()
        day, clock = _parse_date_text(text, file, line, column)
    if isinstance(time_cell, dt.datetime):
        clock = time_cell.time()
    elif isinstance(time_cell, dt.time):
        clock = time_cell
    elif isinstance(time_cell, str) and time_cell.strip():
        for fmt in _TIME_FORMATS:
            try:
                clock = dt.datetime.strptime(time_cell.strip(), fmt).time()
                break
            except ValueError:
                continue
        else:
            raise InputError(f"not a time: {time_cell!r}", file=file, line=line, hint=_HINT)
    return dt.datetime.combine(day, clock)


def _parse_date_text(text: str, file: str, line: int, column: str) -> tuple[dt.date, dt.time]:
    date_part, _, time_part = text.replace("T", " ").partition(" ")
    for fmt in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(date_part, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise InputError(
            f"not a date: {text!r}",
            file=file,
            line=line,
            column=column,
            hint="write dates as YYYY-MM-DD or DD.MM.YYYY; " + _HINT,
        )
    clock = dt.time(0)
    if time_part.strip():
        clock = _moment(day, time_part.strip(), file, line, column).time()
    return day, clock


def _is_date_like(value: Any) -> bool:
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and bool(re.match(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}", value))


# -- receipts report --------------------------------------------------------------------------


_RECEIPT_REQUIRED = ("date", "total", "method")


def head_over_limit(path: Path) -> LimitError | None:
    """Why a detector said no, when it is a cap the file's head exceeds (`limits`): the
    sources' `explain`, so that the user reads the limit, not "no format matches"."""
    try:
        _table(Path(path), head=True)
    except LimitError as exc:
        return exc
    except Exception:  # unreadable: not ours to explain
        return None
    return None


def detect_receipts(path: Path) -> bool:
    """True when the file has a receipts-report header (date, total, payment method, VAT)."""
    try:
        found = _find_header(_table(Path(path), head=True), _RECEIPT_COLUMNS, _RECEIPT_REQUIRED)
    except InputError:
        return False
    return found is not None and any(
        isinstance(c, str) and _VAT_COLUMN.fullmatch(c) for c in found[2]
    )


@dataclass
class _Day:
    """One register-day being added up."""

    first_line: int
    receipt_lines: list[int] = field(default_factory=list)
    gross: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    vat: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lines_per_rate: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    mixed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    payments: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tips: int = 0
    fees: int = 0
    receipts: int = 0
    refunds: int = 0
    refund_amount: int = 0
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    period_from: dt.datetime | None = None
    period_to: dt.datetime | None = None


def read_receipts(
    path: Path | str, *, register: str | None = None, day_starts_at: dt.time = dt.time(0)
) -> list[DayClose]:
    """One DayClose per register and business day, in date order.

    `register` names the register when the file has no device column (default 'zettle');
    `day_starts_at` moves receipts before that time to the previous business day (a bar
    selling past midnight). The closes have no Z number: their key is the business day."""
    path = Path(path)
    file = str(path)
    rows = _table(path)
    found = _find_header(rows, _RECEIPT_COLUMNS, _RECEIPT_REQUIRED)
    if found is None:
        raise InputError(
            "no Zettle receipts header (date, total and payment method columns) "
            f"in the first {_HEADER_SCAN} rows",
            file=file,
            hint="give bokfor the receipts report (Kvitton → Exportera); " + _HINT,
        )
    position, index, header = found
    vat_columns = [
        (i, norm_rate(m.group(2)), str(header[i]))
        for i, cell in enumerate(header)
        if isinstance(cell, str) and (m := _VAT_COLUMN.fullmatch(cell))
    ]
    if not vat_columns:
        raise InputError(
            "the receipts report has no VAT column such as 'Moms (25%)'",
            file=file,
            line=rows[position][0],
            hint=_HINT,
        )
    names = {name: str(header[i]) for name, i in index.items()}
    days: dict[tuple[str, dt.date], _Day] = {}
    ended_at: int | None = None
    for line, cells in rows[position + 1 :]:
        cells = list(cells) + [None] * (len(header) - len(cells))
        date_cell = cells[index["date"]]
        if ended_at is not None:
            if _is_date_like(date_cell):
                raise InputError(
                    f"a receipt row after the end of the table (line {ended_at})",
                    file=file,
                    line=line,
                    hint="remove the blank or footer row in the middle of the data; " + _HINT,
                )
            continue
        if date_cell is None or date_cell == "":
            ended_at = line  # blank rows, then the footer note
            continue
        when = _moment(
            date_cell, cells[index["time"]] if "time" in index else None, file, line, names["date"]
        )
        business_day = (
            when - dt.timedelta(hours=day_starts_at.hour, minutes=day_starts_at.minute)
        ).date()
        reg = register or "zettle"
        if "register" in index and cells[index["register"]] not in (None, ""):
            reg = str(cells[index["register"]]).strip()
        day = days.setdefault((reg, business_day), _Day(first_line=line))
        day.receipt_lines.append(line)
        _add_receipt(day, cells, index, names, vat_columns, when, file, line)
    return [
        _day_close(reg, business_day, day, file, vat_columns)
        for (reg, business_day), day in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _add_receipt(
    day: _Day,
    cells: list[Any],
    index: dict[str, int],
    names: dict[str, str],
    vat_columns: list[tuple[int, str, str]],
    when: dt.datetime,
    file: str,
    line: int,
) -> None:
    total = _ore(cells[index["total"]], file, line, names["total"])
    tip = (
        _ore(cells[index["tip"]], file, line, names["tip"])
        if ("tip" in index and cells[index["tip"]] not in (None, ""))
        else 0
    )
    method = cells[index["method"]]
    if method in (None, ""):
        raise InputError(
            "no payment method", file=file, line=line, column=names["method"], hint=_HINT
        )
    method = str(method).strip()
    vats: dict[str, int] = {}  # rate -> öre
    for i, rate, column in vat_columns:
        value = cells[i] if i < len(cells) else None
        amount = 0 if value in (None, "") else _ore(value, file, line, column)
        if amount:
            vats[rate] = vats.get(rate, 0) + amount
    gross = total - tip
    description = cells[index["description"]] if "description" in index else None
    item_lines = _items(day, description)
    if len(vats) <= 1:
        rate = next(iter(vats), "0")
        day.gross[rate] += gross
        day.vat[rate] += vats.get(rate, 0)
        day.lines_per_rate[rate] += max(item_lines, 1)
    else:
        for rate, part in _split_mixed(gross, vats).items():
            day.gross[rate] += part
            day.vat[rate] += vats.get(rate, 0)
            day.lines_per_rate[rate] += max(item_lines, 1)
            day.mixed[rate] += 1
    day.payments[method] = day.payments.get(method, 0) + total
    day.counts[method] += 1
    day.tips += tip
    if "fee" in index and cells[index["fee"]] not in (None, ""):
        day.fees += _ore(cells[index["fee"]], file, line, names["fee"])
    day.receipts += 1
    event = cells[index["event"]] if "event" in index else None
    if total < 0 or (isinstance(event, str) and _REFUND.search(event)):
        day.refunds += 1
        day.refund_amount += total
    day.period_from = min(day.period_from or when, when)
    day.period_to = max(day.period_to or when, when)


def _items(day: _Day, description: Any) -> int:
    """Count the 'N x Item, N x Item' lines of a receipt into the day's statistics."""
    if not isinstance(description, str) or not description.strip():
        return 0
    parts = [p for p in description.split(",") if p.strip()]
    for part in parts:
        found = _ITEM.match(part)
        if found:
            day.items[found.group(2)] += int(found.group(1))
        else:
            day.items[part.strip()] += 1
    return len(parts)


def _split_mixed(gross: int, vats: dict[str, int]) -> dict[str, int]:
    """Gross per rate of a receipt with VAT at several rates, derived from the VAT amounts.

    Each rate's gross is VAT × (100+r)/r; what is left over beyond their rounding slack is a
    VAT-free (0 %) part, and the rounding remainder goes to the largest part."""
    estimate: dict[str, int] = {}
    slack = 0
    for rate, vat in vats.items():
        r = Fraction(Decimal(rate))
        exact = Fraction(vat) * (100 + r) / r
        estimate[rate] = math.floor(exact + Fraction(1, 2))
        slack += math.ceil((100 + r) / (2 * r))
    rest = gross - sum(estimate.values())
    if abs(rest) > slack:
        estimate["0"] = estimate.get("0", 0) + rest
    else:
        largest = max(estimate, key=lambda k: (abs(estimate[k]), k))
        estimate[largest] += rest
    return estimate


def _day_close(
    register: str, day: dt.date, acc: _Day, file: str, vat_columns: list[tuple[int, str, str]]
) -> DayClose:
    order = [rate for _, rate, _ in vat_columns] + ["0"]
    rates = {
        rate: RateTotal(acc.gross[rate] - acc.vat[rate], acc.vat[rate], acc.gross[rate])
        for rate in dict.fromkeys(order)
        if rate in acc.gross
    }
    tolerance = {
        rate: (acc.lines_per_rate[rate] + 1) // 2 + 2 * acc.mixed.get(rate, 0) for rate in rates
    }
    notes = []
    mixed = max(acc.mixed.values(), default=0)
    if mixed:
        notes.append(
            f"{register} {day.isoformat()}: {mixed} receipt(s) with VAT at several "
            "rates; their sales per rate are derived from their VAT (exact to a few "
            "öre): compare with Zettle's VAT report"
        )
    stats: dict[str, dict[str, str]] = {
        "Zettle / receipts": {"count": str(acc.receipts)},
        "Zettle / fees": {"gross": str(acc.fees)},
        "Zettle / refunds": {"count": str(acc.refunds), "gross": str(acc.refund_amount)},
    }
    for name, qty in acc.items.items():
        stats[f"items / {name}"] = {"count": str(qty)}
    return DayClose(
        system=SYSTEM,
        register=register,
        z_number=None,
        business_day=day,
        origin=Origin(file, acc.first_line),
        source_lines=tuple(acc.receipt_lines),
        sales_by_rate=rates,
        payments=acc.payments,
        tips=acc.tips,
        receipts=acc.receipts,
        payment_counts=dict(acc.counts),
        statistics=stats,
        vat_tolerance=tolerance,
        period_from=acc.period_from,
        period_to=acc.period_to,
        lines={"payments": acc.first_line},
        notes=tuple(notes),
    )


# -- account statement ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One row of the Zettle account statement. `amount` in öre, + into the Zettle balance."""

    key: str
    settled: dt.datetime
    paid: dt.datetime | None  # when the card payment was made (None for payouts, bonuses)
    reference: str | None  # the receipt number a payment and its fee share
    type: str  # as written ("Kortbetaling", "Gebyr", …)
    kind: str  # card_payment, fee, fee_bonus, refund, payout, other
    amount: int
    balance: int | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class Payout:
    """The statement rows settled by one payout to the bank, oldest first.

    opening + card_payments + refunds + fees + fee_bonuses + other = payout (as a positive
    amount leaving Zettle): the clearing voucher is D bank payout, D fees, C card receivable."""

    date: dt.date
    amount: int  # paid to the bank (positive)
    opening: int  # Zettle balance before the first row of the group
    card_payments: int
    fees: int  # negative, as on the statement
    fee_bonuses: int
    refunds: int
    other: int
    rows: tuple[StatementRow, ...]


_STATEMENT_REQUIRED = ("settled", "type", "amount")


def detect_statement(path: Path) -> bool:
    try:
        found = _find_header(_table(Path(path), head=True), _STATEMENT_COLUMNS, _STATEMENT_REQUIRED)
    except InputError:
        return False
    return found is not None and "balance" in found[1] and "reference" in found[1]


def read_statement(path: Path | str) -> tuple[list[StatementRow], list[Notice]]:
    """The statement's rows in file order (newest first) and warnings for running-balance
    breaks (a row missing or altered) and for types bokfor does not know."""
    path = Path(path)
    file = str(path)
    rows = _table(path)
    found = _find_header(rows, _STATEMENT_COLUMNS, _STATEMENT_REQUIRED)
    if found is None or "reference" not in found[1]:
        raise InputError(
            "no Zettle account statement header (settlement date, reference, "
            "type, amount, balance)",
            file=file,
            hint=_HINT,
        )
    position, index, header = found
    names = {name: str(header[i]) for name, i in index.items()}
    keys = OccurrenceKeys("zettle-statement")
    out: list[StatementRow] = []
    notices: list[Notice] = []
    unknown: dict[str, int] = {}
    for line, cells in rows[position + 1 :]:
        if _blank(cells):
            continue
        cells = list(cells) + [None] * (len(header) - len(cells))
        settled = _moment(cells[index["settled"]], None, file, line, names["settled"])
        paid_cell = cells[index["paid"]] if "paid" in index else None
        paid = (
            None if paid_cell in (None, "") else _moment(paid_cell, None, file, line, names["paid"])
        )
        ref = cells[index["reference"]]
        reference = None if ref in (None, "") else str(ref).strip()
        type_ = str(cells[index["type"]] or "").strip()
        kind = next((k for k, pattern in _KINDS if pattern.search(type_)), "other")
        if kind == "other":
            unknown.setdefault(type_, line)
        amount = _ore(cells[index["amount"]], file, line, names["amount"])
        bal = cells[index["balance"]] if "balance" in index else None
        balance = None if bal in (None, "") else _ore(bal, file, line, names["balance"])
        out.append(
            StatementRow(
                keys.key(settled.isoformat(), reference, type_, amount),
                settled,
                paid,
                reference,
                type_,
                kind,
                amount,
                balance,
                Origin(file, line),
            )
        )
    for type_, line in unknown.items():
        notices.append(
            Notice(
                f"statement row type {type_!r} is not one bokfor knows; it is kept as 'other'",
                file,
                line,
            )
        )
    notices += _balance_breaks(out)
    return out, notices


def _balance_breaks(rows: list[StatementRow]) -> list[Notice]:
    """Newest first: each row's balance minus its amount is the next (older) row's balance."""
    notices = []
    for newer, older in itertools.pairwise(rows):
        if newer.balance is None or older.balance is None:
            continue
        if newer.balance - newer.amount != older.balance:
            notices.append(
                Notice(
                    f"running balance breaks: {sek_text(older.balance)} + {sek_text(newer.amount)} ≠ "
                    f"{sek_text(newer.balance)} (a row is missing or was changed)",
                    newer.origin.file,
                    newer.origin.line,
                )
            )
    return notices


def payouts(rows: Iterable[StatementRow]) -> list[Payout]:
    """Group the rows, oldest first, into one Payout per payout row. Rows after the last
    payout (not yet paid out) are left out: they belong to the next statement."""
    chronological = sorted(rows, key=lambda r: (r.settled, -r.origin.line))
    out: list[Payout] = []
    group: list[StatementRow] = []
    for row in chronological:
        if row.kind != "payout":
            group.append(row)
            continue
        first = group[0] if group else row
        opening = (first.balance - first.amount) if first.balance is not None else 0
        sums: dict[str, int] = defaultdict(int)
        for r in group:
            sums[r.kind] += r.amount
        out.append(
            Payout(
                date=row.settled.date(),
                amount=-row.amount,
                opening=opening,
                card_payments=sums["card_payment"],
                fees=sums["fee"],
                fee_bonuses=sums["fee_bonus"],
                refunds=sums["refund"],
                other=sums["other"],
                rows=tuple(group + [row]),
            )
        )
        group = []
    return out
