"""Payout reconciliation: does every Stripe payout equal what it swept from the balance?

For each payout: gross sales, fees, refunds, disputes and other activity of the rows it swept,
their net, the payout amount, and the difference, which must be 0.00 — otherwise rows are
missing from the export (or it was edited), and booking it would leave money on the clearing
account. The itemized Reports list a payout's rows but not the payout itself: their payout
amounts come from a payouts export (`amounts`), or the difference is unknown. Works for any source whose rows carry a payout id (`Schema.group_keys["per_payout"]`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from bokfor.domain import Row
from bokfor.money import format_sek
from bokfor.sources import Schema

# Row kinds (Stripe `type` in Dashboard exports, `reporting_category` in Reports).
CHARGES = frozenset({"charge", "payment", "validation"})
REFUNDS = frozenset(
    {
        "refund",
        "payment_refund",
        "refund_failure",
        "partial_capture_reversal",
        "payment_failure_refund",
        "charge_failure",
    }
)
DISPUTES = frozenset({"adjustment", "dispute", "dispute_reversal"})
FEE_ROWS = frozenset({"stripe_fee", "fee", "tax", "network_cost", "stripe_fx_fee"})
# The payout itself. A failed, cancelled or reversed payout returns money to the balance,
# which a later payout sweeps: that row is activity of the later payout ("other").
PAYOUTS = frozenset({"payout", "transfer"})


@dataclass
class PayoutCheck:
    payout_id: str
    date: dt.date | None = None  # of the payout row, when the export has it
    charges: int = 0  # gross of sales
    fees: int = 0  # Stripe's fees: the fee column of every row + fee rows
    refunds: int = 0
    disputes: int = 0
    other: int = 0
    payout: int | None = None  # what left the balance for the bank; None: not in the export
    payout_fee: int = 0  # instant payout fee
    rows: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def net(self) -> int:
        """What the swept activity added to the balance."""
        return self.charges + self.refunds + self.disputes + self.other - self.fees

    @property
    def difference(self) -> int | None:
        if self.payout is None:
            return None
        return self.net - self.payout - self.payout_fee


@dataclass
class Reconciliation:
    payouts: list[PayoutCheck]
    unpaid: int = 0  # rows not yet in any payout
    unpaid_net: int = 0

    @property
    def off(self) -> list[PayoutCheck]:
        return [p for p in self.payouts if p.difference]

    @property
    def unchecked(self) -> list[PayoutCheck]:
        """Payouts whose amount the export does not hold (the itemized Reports)."""
        return [p for p in self.payouts if p.payout is None]


def reconcile(
    rows: Iterable[Row], schema: Schema, amounts: dict[str, tuple[int, int, dt.date]] | None = None
) -> Reconciliation:
    """`amounts`: payout id -> (amount, fee, date) from a payouts export, for payouts the rows'
    export does not hold."""
    key_field = schema.group_keys["per_payout"]
    kind_field = schema.unmapped_fields[0]
    checks: dict[str, PayoutCheck] = {}
    result = Reconciliation([])
    for row in rows:
        payout_id = row.fields.get(key_field)
        gross, fee = row.amounts["gross"], row.amounts["fee"]
        if not payout_id:
            result.unpaid += 1
            result.unpaid_net += gross - fee
            continue
        check = checks.setdefault(str(payout_id), PayoutCheck(str(payout_id)))
        check.rows += 1
        check.keys.append(row.key)
        kind = row.fields.get(kind_field)
        if kind in PAYOUTS:
            check.payout = (check.payout or 0) - gross
            check.payout_fee += fee
            check.date = row.date
            continue
        check.fees += fee
        if kind in CHARGES:
            check.charges += gross
        elif kind in REFUNDS:
            check.refunds += gross
        elif kind in DISPUTES:
            check.disputes += gross
        elif kind in FEE_ROWS:
            check.fees -= gross  # a fee row's gross is negative: a cost
        else:
            check.other += gross
    for payout_id, (amount, fee, day) in (amounts or {}).items():
        found = checks.get(payout_id)
        if found is not None and found.payout is None:
            found.payout, found.payout_fee, found.date = amount, fee, day
    result.payouts = sorted(checks.values(), key=lambda c: (c.date or dt.date.max, c.payout_id))
    return result


def payout_amounts(rows: Iterable[Row]) -> dict[str, tuple[int, int, dt.date]]:
    """From a payouts export (stripe_payouts rows): payout id -> (to the bank, fee, date), for
    payouts that were paid or are on their way."""
    out: dict[str, tuple[int, int, dt.date]] = {}
    for row in rows:
        if row.fields.get("status") in ("paid", "in_transit") and row.fields.get("id"):
            out[str(row.fields["id"])] = (row.amounts["amount"], row.amounts["fee"], row.date)
    return out


def summary_differences(
    result: Reconciliation,
    activity: int,
    payouts: int,
    amounts: dict[str, tuple[int, int, dt.date]] | None,
) -> list[str]:
    """Compare with the balance summary's activity and payouts (negative there). Payouts are
    summed from the payouts export when given (an instant payout sweeps no rows), else from
    the inputs' own payout rows."""
    ours_activity = sum(p.net for p in result.payouts) + result.unpaid_net
    if amounts is not None:
        ours_payouts: int | None = -sum(amount + fee for amount, fee, _ in amounts.values())
    elif any(p.payout is not None for p in result.payouts):
        ours_payouts = -sum((p.payout or 0) + p.payout_fee for p in result.payouts)
    else:
        ours_payouts = None
    out = []
    if ours_activity != activity:
        out.append(f"activity: rows {format_sek(ours_activity)}, summary {format_sek(activity)}")
    if ours_payouts is not None and ours_payouts != payouts:
        out.append(f"payouts: {format_sek(ours_payouts)}, summary {format_sek(payouts)}")
    return out


# -- payouts against the bank -------------------------------------------------------------

# A payout reaches a Swedish bank account one to three bank days after Stripe sends it; a
# weekend or a holiday (midsommar, jul) adds up to four more.
BANK_DAYS_BEFORE, BANK_DAYS_AFTER = 1, 7


@dataclass
class BankMatch:
    """Which bank line received each payout. `missing` payouts should be in the bank file
    (their whole arrival window lies in its period) but are not; `outside` ones were sent
    too close to its start or end to tell; `unexplained` are bank lines from Stripe that
    match no payout (a payout of another period's export, or one missing from this one)."""

    matched: dict[str, Row] = field(default_factory=dict)  # payout id -> bank row
    missing: list[PayoutCheck] = field(default_factory=list)
    outside: list[PayoutCheck] = field(default_factory=list)
    unexplained: list[Row] = field(default_factory=list)
    first: dt.date | None = None  # the bank file's period
    last: dt.date | None = None


def match_bank(
    payouts: Iterable[PayoutCheck], bank_rows: Iterable[Row], pattern: str = r"(?i)stripe"
) -> BankMatch:
    """Match each payout to one bank line: the same amount (money into the account), booked
    from a day before to a week after the payout, whose text or counterparty names Stripe.
    The earliest fitting line wins; a line is used once. Amount and text must both fit: an
    amount alone may be a customer paying the same sum."""
    import re

    result = BankMatch()
    looks_like = re.compile(pattern)
    lines: list[Row] = []
    for row in bank_rows:
        result.first = row.date if result.first is None else min(result.first, row.date)
        result.last = row.date if result.last is None else max(result.last, row.date)
        said = f"{row.fields.get('text') or ''} {row.fields.get('counterparty') or ''}"
        if looks_like.search(said):
            lines.append(row)
    lines.sort(key=lambda r: (r.date, r.origin.line))
    used: set[int] = set()
    for payout in sorted(payouts, key=lambda p: (p.date or dt.date.max, p.payout_id)):
        if payout.payout is None or payout.date is None or payout.payout <= 0:
            continue  # unknown amount (a Report without --payouts), or a failed payout
        earliest = payout.date - dt.timedelta(days=BANK_DAYS_BEFORE)
        latest = payout.date + dt.timedelta(days=BANK_DAYS_AFTER)
        found = next(
            (
                i
                for i, r in enumerate(lines)
                if i not in used
                and r.amounts["amount"] == payout.payout
                and earliest <= r.date <= latest
            ),
            None,
        )
        if found is not None:
            used.add(found)
            result.matched[payout.payout_id] = lines[found]
        elif (
            result.first is not None
            and result.last is not None
            and result.first <= earliest
            and latest <= result.last
        ):
            result.missing.append(payout)
        else:
            result.outside.append(payout)
    result.unexplained = [r for i, r in enumerate(lines) if i not in used]
    return result
