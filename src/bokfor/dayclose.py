"""A POS day close (Z-dagrapport), normalised: one per register and Z number.

Every POS reader (a profile-driven Z report, Zettle receipts, …) fills a `DayClose`; the
booking (`posbook`) only ever sees this shape. It keeps apart what a bookkeeper books (sales
per VAT rate, payments per method, tips, öresavrundning, cash lines) from what a Z report
must show but nobody books (receipt copies, training receipts, grand totals: `statistics`).

Sign conventions, chosen to match what Z reports print:
- `payments` are what customers paid, per method; refunds are already netted in.
- `rounding` is the öresavrundning as the report writes it: the adjustment applied to what
  customers paid (−0,40 = they paid 0,40 less than the sales). Hence the identity
  Σ payments = Σ sales incl. VAT + gift cards sold apart + tips + rounding.
- `cash_difference` = counted − expected (negative = shortage).

VAT tolerance. A Z report computes VAT on each rate's total, so VAT = gross × r/(100+r)
rounded to the öre must hold exactly: the tolerance is 0 öre per rate. A source that only
gives VAT summed per receipt (Zettle) rounds once per receipt, so its sum may drift by up to
half an öre per receipt: such a reader sets `vat_tolerance[rate]` to ⌊(n+1)/2⌋ öre for n
receipts, the exact bound of that drift, and nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from types import MappingProxyType
from typing import Iterable, Mapping

from bokfor.domain import Notice, Origin
from bokfor.errors import InputError
from bokfor.money import format_sek, split_vat


def norm_rate(text: object) -> str:
    """A VAT rate as canonical text: '25', '25.0', '25,0 %' -> '25'; '12.5' stays.

    Text, not a number, so money.split_vat keeps the rate exact and mapping keys compare."""
    raw = str(text).strip().removesuffix("%").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a VAT rate") from None
    if not value.is_finite() or value < 0 or value >= 100:
        raise ValueError(f"{text!r} is not a VAT rate")
    out = format(value.normalize(), "f")
    return out


@dataclass(frozen=True, slots=True)
class RateTotal:
    """Sales at one VAT rate: ex VAT, VAT, incl. VAT (öre)."""

    net: int
    vat: int
    gross: int


@dataclass(frozen=True, slots=True)
class GroupTotal:
    """Sales of one product group (varugrupp). `rate` is None when the report gives none."""

    gross: int
    rate: str | None = None
    net: int | None = None
    vat: int | None = None


def _frozen(value: Mapping | None) -> Mapping:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class DayClose:
    """One day close of one register. Amounts in öre; mappings keep the report's order."""

    system: str
    register: str
    z_number: int | None
    business_day: dt.date
    origin: Origin
    sales_by_rate: Mapping[str, RateTotal]
    payments: Mapping[str, int]
    sales_by_group: Mapping[str, GroupTotal] = field(default_factory=dict)
    cost_centre: str | None = None
    tips: int = 0
    rounding: int = 0
    gift_cards_sold: int = 0  # sold apart from the VAT-rate sales (not a 0 % group)
    gift_cards_redeemed: int = 0  # redeemed apart from the payment methods
    float_in: int | None = None
    float_out: int | None = None
    deposits: int | None = None  # cash put into the till during the day
    withdrawals: int | None = None  # cash taken out during the day (not the bank deposit)
    expected_cash: int | None = None
    counted_cash: int | None = None
    cash_difference: int | None = None
    cash_to_bank: int | None = None  # dagskassa: the cash to deposit at the bank
    cash_method: str | None = None  # which payment method is the till's cash
    receipts: int | None = None
    payment_counts: Mapping[str, int] = field(default_factory=dict)
    open_sales: int = 0  # unfinished sales (warn when > 0)
    statistics: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    is_x_report: bool = False
    vat_tolerance: Mapping[str, int] = field(default_factory=dict)  # öre per rate; 0 if absent
    currency: str | None = None
    org_nr: str | None = None
    created_at: dt.datetime | None = None
    period_from: dt.datetime | None = None
    period_to: dt.datetime | None = None
    lines: Mapping[str, int] = field(default_factory=dict)  # "payments", "rate:25" -> line
    notes: tuple[str, ...] = ()  # the reader's warnings, surfaced by check()
    # The file's lines it adds up, when more than its own (a day of Zettle receipts): the
    # trail lists them under the day's verifikation.
    source_lines: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "sales_by_rate",
            "payments",
            "sales_by_group",
            "payment_counts",
            "statistics",
            "vat_tolerance",
            "lines",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def key(self) -> str:
        """The idempotency key: (system, register, Z number), the business day if no Z."""
        z = self.z_number if self.z_number is not None else self.business_day.isoformat()
        return f"pos:{self.system}:{self.register}:{z}"

    @property
    def label(self) -> str:
        """For messages: 'Z 412 K1' (or 'K1 2026-11-20' for a source without Z numbers)."""
        if self.z_number is not None:
            return f"Z {self.z_number} {self.register}"
        return f"{self.register} {self.business_day.isoformat()}"

    @property
    def sales_gross(self) -> int:
        return sum(r.gross for r in self.sales_by_rate.values())

    @property
    def payments_total(self) -> int:
        return sum(self.payments.values()) + self.gift_cards_redeemed

    def line_of(self, what: str) -> int:
        """The report line of a part ("payments", "rate:25"), else the report's first line."""
        return self.lines.get(what) or self.origin.line

    def error(self, message: str, what: str, hint: str | None = None) -> InputError:
        return InputError(
            message, file=self.origin.file, line=self.line_of(what), key=self.label, hint=hint
        )


def sek_text(ore: int) -> str:
    return format_sek(ore).replace("\u00a0", " ")


def check(dc: DayClose) -> list[Notice]:
    """Refuse a day close that cannot be booked as it stands; return its warnings.

    Raises InputError for an X report, for payments that do not tie to sales, for a VAT
    rate whose net + VAT ≠ gross or whose VAT is not the rate's VAT, and for product groups
    that do not add up to the VAT-rate sales. Cash-section mismatches, unfinished sales and
    receipt-count mismatches are warnings: they do not change the sales voucher."""
    if dc.is_x_report:
        raise dc.error(
            "this is an X-dagrapport (a reading during the day), not a "
            "Z-dagrapport: it cannot be booked",
            "report_type",
            hint="take the Z-dagrapport that closed the day and give bokfor that file.",
        )
    _check_rates(dc)
    _check_groups(dc)
    _check_payments(dc)
    notices = [Notice(text, dc.origin.file, dc.origin.line) for text in dc.notes]
    notices += _cash_notices(dc)
    if dc.open_sales:
        notices.append(
            Notice(
                f"{dc.label}: {sek_text(dc.open_sales)} in unfinished sales on the report; they are "
                "not booked",
                dc.origin.file,
                dc.line_of("open_sales"),
            )
        )
    counted = sum(dc.payment_counts.values())
    if dc.receipts is not None and dc.payment_counts and counted != dc.receipts:
        notices.append(
            Notice(
                f"{dc.label}: {dc.receipts} receipts but {counted} payments counted per method",
                dc.origin.file,
                dc.line_of("receipts"),
            )
        )
    if dc.tips:
        notices.append(
            Notice(
                f"{dc.label}: tips of {sek_text(dc.tips)} booked as the mapping says; paying them to "
                "staff is a payroll matter outside bokfor",
                dc.origin.file,
                dc.line_of("tips"),
            )
        )
    return notices


def _check_rates(dc: DayClose) -> None:
    for rate, total in dc.sales_by_rate.items():
        where = f"rate:{rate}"
        if total.net + total.vat != total.gross:
            raise dc.error(
                f"VAT {rate} %: ex VAT {sek_text(total.net)} + VAT {sek_text(total.vat)} = "
                f"{sek_text(total.net + total.vat)}, not the {sek_text(total.gross)} incl. VAT the "
                "report states",
                where,
                hint="the report is damaged or was edited; export it again from the register.",
            )
        expected = split_vat(total.gross, rate)[1]
        tolerance = dc.vat_tolerance.get(rate, 0)
        if abs(total.vat - expected) > tolerance:
            allowed = f" (allowed: {tolerance} öre)" if tolerance else ""
            raise dc.error(
                f"VAT {rate} %: VAT {sek_text(total.vat)} is not {rate} % of "
                f"{sek_text(total.gross)} incl. VAT ({sek_text(expected)} rounded to the öre), "
                f"off by {sek_text(total.vat - expected)}{allowed}",
                where,
                hint="check that the rate is right; a report whose VAT is summed per "
                "receipt needs a tolerance in its profile (vat_tolerance).",
            )


def _check_groups(dc: DayClose) -> None:
    """Groups and rates describe the same sales twice: they must agree, per rate too."""
    if not dc.sales_by_group:
        return
    groups = sum(g.gross for g in dc.sales_by_group.values())
    if groups != dc.sales_gross:
        raise dc.error(
            f"the product groups add up to {sek_text(groups)} but the VAT-rate sales to "
            f"{sek_text(dc.sales_gross)} (difference {sek_text(groups - dc.sales_gross)})",
            "groups",
            hint="both sections describe the same sales; the report is damaged or was edited.",
        )
    per_rate: dict[str, int] = defaultdict(int)
    rated = [(g.rate, g.gross) for g in dc.sales_by_group.values() if g.rate is not None]
    if len(rated) == len(dc.sales_by_group):  # every group names its rate
        for group_rate, gross in rated:
            per_rate[group_rate] += gross
        for rate in sorted(set(per_rate) | set(dc.sales_by_rate), key=Decimal):
            have = dc.sales_by_rate.get(rate, RateTotal(0, 0, 0)).gross
            if per_rate.get(rate, 0) != have:
                raise dc.error(
                    f"VAT {rate} %: the product groups at this rate add up to "
                    f"{sek_text(per_rate.get(rate, 0))} but the VAT section says {sek_text(have)}",
                    f"rate:{rate}",
                    hint="the report is damaged or was edited.",
                )


def _check_payments(dc: DayClose) -> None:
    paid = dc.payments_total
    due = dc.sales_gross + dc.gift_cards_sold + dc.tips + dc.rounding
    if paid == due:
        return
    parts = [f"sales incl. VAT {sek_text(dc.sales_gross)}"]
    if dc.gift_cards_sold:
        parts.append(f"gift cards sold {sek_text(dc.gift_cards_sold)}")
    parts.append(f"tips {sek_text(dc.tips)}")
    parts.append(f"rounding {sek_text(dc.rounding)}")
    raise dc.error(
        f"payments {sek_text(paid)} ≠ {' + '.join(parts)} = {sek_text(due)} "
        f"(difference {sek_text(paid - due)})",
        "payments",
        hint="every payment must be a sale, a tip or the öresavrundning; a report that does "
        "not tie is damaged, or its profile misses a section (run with the right profile).",
    )


def cash_problems(dc: DayClose) -> list[str]:
    """Where the cash lines contradict each other (only lines the report has are checked)."""
    problems: list[str] = []
    cash = dc.payments.get(dc.cash_method) if dc.cash_method else None
    if dc.float_in is not None and cash is not None and dc.expected_cash is not None:
        expected = dc.float_in + cash + (dc.deposits or 0) - (dc.withdrawals or 0)
        if expected != dc.expected_cash:
            problems.append(
                f"float {sek_text(dc.float_in)} + cash sales {sek_text(cash)} + deposits "
                f"{sek_text(dc.deposits or 0)} − withdrawals {sek_text(dc.withdrawals or 0)} = "
                f"{sek_text(expected)}, but the report expects {sek_text(dc.expected_cash)} in the till"
            )
    if (
        dc.counted_cash is not None
        and dc.expected_cash is not None
        and dc.cash_difference is not None
    ):
        diff = dc.counted_cash - dc.expected_cash
        if diff != dc.cash_difference:
            problems.append(
                f"counted {sek_text(dc.counted_cash)} − expected {sek_text(dc.expected_cash)} = "
                f"{sek_text(diff)}, but the report's cash difference is {sek_text(dc.cash_difference)}"
            )
    if dc.counted_cash is not None and dc.cash_to_bank is not None and dc.float_out is not None:
        left = dc.counted_cash - dc.cash_to_bank
        if left != dc.float_out:
            problems.append(
                f"counted {sek_text(dc.counted_cash)} − to the bank {sek_text(dc.cash_to_bank)} = "
                f"{sek_text(left)}, but the float left in the till is {sek_text(dc.float_out)}"
            )
    return problems


def _cash_notices(dc: DayClose) -> list[Notice]:
    return [
        Notice(f"{dc.label}: cash lines do not agree: {p}", dc.origin.file, dc.line_of("cash"))
        for p in cash_problems(dc)
    ]


def z_gaps(closes: Iterable[DayClose]) -> list[Notice]:
    """Per system and register: a duplicate Z number is an error, a missing one a warning.

    A gap is a day close without a voucher (the Z series must be unbroken, SKVFS 2014:9
    7 kap 3 § c). Closes without a Z number (Zettle days) are not part of any series."""
    seen: dict[tuple[str, str], dict[int, DayClose]] = defaultdict(dict)
    for dc in closes:
        if dc.z_number is None:
            continue
        series = seen[(dc.system, dc.register)]
        first = series.get(dc.z_number)
        if first is not None:
            raise InputError(
                f"Z {dc.z_number} of register {dc.register} appears twice (first in "
                f"{first.origin})",
                file=dc.origin.file,
                line=dc.line_of("z_number"),
                key=dc.label,
                hint="give bokfor each Z-dagrapport once; a second export of the same Z is "
                "the same day close.",
            )
        series[dc.z_number] = dc
    notices: list[Notice] = []
    for (_system, register), series in sorted(seen.items()):
        numbers = sorted(series)
        missing = [n for a, b in pairwise(numbers) for n in range(a + 1, b)]
        if missing:
            shown = ", ".join(str(n) for n in missing[:20]) + (" …" if len(missing) > 20 else "")
            last = series[numbers[-1]]
            files = list(dict.fromkeys(series[n].origin.file for n in numbers))
            where = f" (in {', '.join(files)})" if len(files) > 1 else ""
            notices.append(
                Notice(
                    f"register {register}: Z {shown} missing between Z {numbers[0]} and "
                    f"Z {numbers[-1]}{where}: {len(missing)} day close(s) without a voucher",
                    last.origin.file,
                )
            )
    return notices
